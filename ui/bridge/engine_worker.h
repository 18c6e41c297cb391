// The one object that owns the engine: the model and the batched peregrine::Engine (its own thread,
// many replies at once, paged KV cache with prefix reuse), plus the context for speculative replies. It
// lives in the engine-worker thread; the GUI talks to it only through queued signals (EngineController)
// and the shared CancelFlag, and gets back value types: load progress, batched text chunks with live
// stats, final outcomes, engine-wide snapshots, errors as text. The Engine calls back on its own thread;
// those callbacks only emit (queued) signals.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "bridge/engine_types.h"
#include "bridge/structured_output.h"
#include "peregrine/loaded_model.h"

namespace peregrine {
class Engine;
class Grammar;
}

namespace peregrine::ui {

class CancelFlag;
class SpeculativeReplies;

class EngineWorker : public QObject {
    Q_OBJECT

public:
    explicit EngineWorker(std::shared_ptr<const CancelFlag> cancel, QObject* parent = nullptr);
    ~EngineWorker() override;

public slots:
    void load(const peregrine::ui::LoadRequest& request);
    void generate(const peregrine::ui::GenerationRequest& request);
    void cancel(quint64 requestId);  // one reply; the others keep going
    void unload();

signals:
    void loadProgress(quint64 requestId, int percent, const QString& stage);
    void loaded(quint64 requestId, const peregrine::ui::ModelSummary& summary);
    void loadFailed(quint64 requestId, const QString& message, bool cancelled);
    void chunk(const peregrine::ui::StreamChunk& chunk);
    void finished(const peregrine::ui::GenerationOutcome& outcome);
    void engineStats(const peregrine::ui::EngineSnapshot& snapshot);

private:
    void loadOrThrow(const LoadRequest& request);
    void release();
    void submitToEngine(const GenerationRequest& request, const std::vector<int32_t>& prompt, const LiveStats& base,
                        std::shared_ptr<const Grammar> grammar);
    void sampleStats();
    void finishFailed(quint64 requestId, const QString& message);

    std::shared_ptr<const CancelFlag> cancel_;
    std::optional<LoadedModel> model_;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<SpeculativeReplies> speculative_;
    StructuredOutputGrammars grammars_;
    ModelSummary summary_;

    // Request id -> the Engine's id while it runs (worker thread only).
    std::map<quint64, uint64_t> engineIds_;

    // Snapshots: aggregate tokens/s over the last second from the engine's generated-token counter.
    QTimer statsTimer_;
    QElapsedTimer clock_;
    std::deque<std::pair<qint64, uint64_t>> generatedHistory_;  // (ms, generated tokens so far)
    bool speculating_ = false;
    double lastAcceptance_ = -1;
    EngineSnapshot lastSnapshot_;
};

}  // namespace peregrine::ui
