// Replies with speculative decoding (prompt lookup or a draft model), run by the engine worker one at a
// time through generate_speculative on a context of their own, beside the batched Engine (which has no
// speculation). Streams through a ChunkBatcher like the Engine's replies and reports the acceptance rate.
#pragma once

#include <QString>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "bridge/engine_types.h"
#include "peregrine/context.h"
#include "peregrine/loaded_model.h"

namespace peregrine {
class Grammar;
}

namespace peregrine::ui {

class SpeculativeReplies {
public:
    using ChunkSink = std::function<void(const StreamChunk&)>;
    using IsCancelled = std::function<bool()>;

    // `context` sizes the context created on the first speculative reply (one sequence).
    SpeculativeReplies(const LoadedModel& model, const ContextParams& context, QString modelName);
    ~SpeculativeReplies();

    // Runs one reply to its end on the calling thread. Errors (a draft model that does not load or does
    // not share the vocabulary, a bad request) come back in the outcome, never as exceptions.
    GenerationOutcome run(const GenerationRequest& request, const std::vector<int32_t>& prompt, const LiveStats& base,
                          std::shared_ptr<const Grammar> grammar, const IsCancelled& isCancelled,
                          const ChunkSink& onChunk);

private:
    const LoadedModel& draftModel(const QString& path);

    const LoadedModel& model_;
    ContextParams contextParams_;
    QString modelName_;
    std::unique_ptr<Context> context_;
    std::optional<LoadedModel> draft_;
    QString draftPath_;
};

}  // namespace peregrine::ui
