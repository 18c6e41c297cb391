// The one object that owns the engine (model, tokenizer, context). It lives in the engine thread; the
// GUI talks to it only through queued signals (EngineController) and the shared CancelFlag, and gets
// back value types: load progress, batched text chunks with live stats, final outcomes, errors as text.
#pragma once

#include <QObject>

#include <memory>
#include <optional>

#include "bridge/engine_types.h"
#include "peregrine/loaded_model.h"

namespace peregrine {
class Context;
}

namespace peregrine::ui {

class CancelFlag;

class EngineWorker : public QObject {
    Q_OBJECT

public:
    explicit EngineWorker(std::shared_ptr<const CancelFlag> cancel, QObject* parent = nullptr);
    ~EngineWorker() override;

public slots:
    void load(const peregrine::ui::LoadRequest& request);
    void generate(const peregrine::ui::GenerationRequest& request);
    void unload();

signals:
    void loadProgress(quint64 requestId, int percent, const QString& stage);
    void loaded(quint64 requestId, const peregrine::ui::ModelSummary& summary);
    void loadFailed(quint64 requestId, const QString& message, bool cancelled);
    void chunk(const peregrine::ui::StreamChunk& chunk);
    void finished(const peregrine::ui::GenerationOutcome& outcome);

private:
    void loadOrThrow(const LoadRequest& request);
    LiveStats contextStats(int promptTokens) const;

    std::shared_ptr<const CancelFlag> cancel_;
    std::optional<LoadedModel> model_;
    std::unique_ptr<Context> context_;
    ModelSummary summary_;
};

}  // namespace peregrine::ui
