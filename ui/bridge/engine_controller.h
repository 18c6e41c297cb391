// The GUI-side handle on the engine: owns the engine QThread and the EngineWorker moved into it.
// Requests go out as queued signals; several replies may run at once (the worker's batched Engine), each
// stopped on its own: stop(id) marks it in the shared CancelFlag (seen at the next token even while the
// worker is busy in a speculative reply or a load) and queues a cancel that frees its KV blocks at once.
// Results of superseded loads are dropped here; generation results carry their request id and always
// arrive (a cancelled reply still ends, with its partial text), so their consumer matches them to what
// it asked for.
// Destruction cancels whatever runs and waits for the thread (quit(); wait()).
#pragma once

#include <QObject>
#include <QSet>
#include <QThread>

#include <memory>

#include "bridge/engine_types.h"

namespace peregrine::ui {

class CancelFlag;
class EngineWorker;

class EngineController : public QObject {
    Q_OBJECT

public:
    explicit EngineController(QObject* parent = nullptr);
    ~EngineController() override;

    quint64 loadModel(const QString& path, const LoadOptions& options);
    void cancelLoad();
    void unloadModel();
    // `alternatives` > 1 samples that many replies in one batch (GenerationOutcome::alternatives).
    quint64 generate(const QList<ChatTurn>& messages, const GenerationOptions& options, int alternatives = 1);
    void stop(quint64 requestId);  // that reply ends after its current token; its text is kept
    void stopAll();

    bool isLoading() const { return loadId_ != 0; }
    bool isGenerating() const { return !running_.isEmpty(); }
    bool isGenerating(quint64 requestId) const { return running_.contains(requestId); }
    bool hasModel() const { return hasModel_; }
    const ModelSummary& model() const { return model_; }

signals:
    void loadStarted(const QString& path);
    void loadProgress(int percent, const QString& stage);
    void modelLoaded(const peregrine::ui::ModelSummary& summary);
    void loadFailed(const QString& message, bool cancelled);
    void modelUnloaded();
    void textArrived(quint64 requestId, const QString& text, const peregrine::ui::LiveStats& stats);
    void generationFinished(const peregrine::ui::GenerationOutcome& outcome);
    void engineStats(const peregrine::ui::EngineSnapshot& snapshot);

    // Queued into the worker; not for other objects to connect to.
    void postLoad(const peregrine::ui::LoadRequest& request);
    void postGenerate(const peregrine::ui::GenerationRequest& request);
    void postUnload();
    void postCancel(quint64 requestId);

private:
    void onLoaded(quint64 id, const ModelSummary& summary);
    void onLoadFailed(quint64 id, const QString& message, bool cancelled);
    void onChunk(const StreamChunk& chunk);
    void onFinished(const GenerationOutcome& outcome);

    QThread thread_;
    std::shared_ptr<CancelFlag> cancel_;
    EngineWorker* worker_;  // lives in thread_, deleted when it finishes
    quint64 nextId_ = 1;
    quint64 loadId_ = 0;        // 0: none running
    QSet<quint64> running_;     // replies asked for and not finished yet
    bool hasModel_ = false;
    ModelSummary model_;
};

}  // namespace peregrine::ui
