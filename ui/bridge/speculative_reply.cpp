#include "bridge/speculative_reply.h"

#include <chrono>

#include "bridge/chunk_batcher.h"
#include "logging/ui_log.h"
#include "peregrine/generation.h"
#include "peregrine/grammar.h"
#include "peregrine/speculative.h"

namespace peregrine::ui {
namespace {

using Clock = std::chrono::steady_clock;

// Adaptive K chooses up to this many guesses per pass.
constexpr int kAutoMaxDraftTokens = 8;

double msBetween(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

QString toQString(std::string_view text) { return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size())); }

}  // namespace

SpeculativeReplies::SpeculativeReplies(const LoadedModel& model, const ContextParams& context, QString modelName)
    : model_(model), contextParams_(context), modelName_(std::move(modelName)) {
    contextParams_.n_seq_max = 1;
    contextParams_.kv_pool_blocks = 0;
}

SpeculativeReplies::~SpeculativeReplies() = default;

const LoadedModel& SpeculativeReplies::draftModel(const QString& path) {
    if (!draft_ || draftPath_ != path) {
        draft_.reset();
        if (path.isEmpty()) throw InvalidRequestError("speculative decoding: no draft model is chosen in the settings");
        draft_ = LoadedModel::load(path.toStdString());
        draftPath_ = path;
        check_draft_vocabulary(*model_.vocab, *draft_->vocab);
    }
    return *draft_;
}

GenerationOutcome SpeculativeReplies::run(const GenerationRequest& request, const std::vector<int32_t>& prompt,
                                          const LiveStats& base, std::shared_ptr<const Grammar> grammar,
                                          const IsCancelled& isCancelled, const ChunkSink& onChunk) {
    GenerationOutcome outcome;
    outcome.requestId = request.id;
    outcome.stats.model = modelName_;
    LiveStats live = base;
    std::string streamed;
    try {
        if (!context_) context_ = std::make_unique<Context>(model_.model, contextParams_);
        const SpeculationOptions& spec = request.options.speculation;
        std::unique_ptr<DraftSource> source;
        if (spec.mode == SpeculativeMode::DraftModel) {
            source = make_draft_model_source(draftModel(spec.draftModelPath).model);
        } else {
            source = make_prompt_lookup_source();
        }
        SpeculativeOptions options;
        options.draft = source.get();
        options.adaptive_k = spec.draftTokens <= 0;
        options.draft_k = spec.draftTokens <= 0 ? kAutoMaxDraftTokens : spec.draftTokens;
        options.grammar = std::move(grammar);

        GenerationParams params;
        params.n_predict = request.options.maxTokens;
        params.sampling = request.options.sampling;
        params.n_batch = request.options.batchSize;

        ChunkBatcher batcher;
        const auto start = Clock::now();
        Clock::time_point firstText;
        const auto send = [&](Clock::time_point now) {
            live.contextUsed = live.promptTokens + live.generatedTokens;
            const double decodeMs = msBetween(firstText, now);
            live.decodeTokensPerSecond = decodeMs > 0 ? (live.generatedTokens - 1) * 1000.0 / decodeMs : 0;
            onChunk({request.id, QString::fromStdString(batcher.take(now)), live});
        };
        const TextCallback onText = [&](std::string_view delta) {
            const auto now = Clock::now();
            if (live.generatedTokens++ == 0) {
                firstText = now;
                live.timeToFirstTokenMs = msBetween(start, now);
                live.prefillTokensPerSecond =
                    live.timeToFirstTokenMs > 0 ? live.promptTokens * 1000.0 / live.timeToFirstTokenMs : 0;
            }
            streamed += delta;
            if (batcher.add(delta, now)) send(now);
            return !isCancelled();
        };
        const SpeculativeResult result =
            generate_speculative(*context_, *model_.vocab, prompt, params, options, onText);
        if (batcher.hasPending()) send(Clock::now());

        const GenerationStats& s = result.generation.stats;
        outcome.text = QString::fromStdString(result.generation.text);
        outcome.cancelled = result.generation.stop_reason == StopReason::Cancelled;
        outcome.stats.promptTokens = s.n_prompt_tokens;
        outcome.stats.generatedTokens = s.n_generated;
        outcome.stats.prefillTokensPerSecond = s.prefill_tokens_per_second();
        outcome.stats.decodeTokensPerSecond = s.decode_tokens_per_second();
        outcome.stats.timeToFirstTokenMs = s.time_to_first_token_ms;
        outcome.stats.stopReason = toQString(stop_reason_name(result.generation.stop_reason));
        outcome.stats.acceptanceRate = result.speculative.acceptance_rate();
        live.generatedTokens = s.n_generated;
        live.contextUsed = s.n_prompt_tokens + s.n_generated;
        live.prefillTokensPerSecond = outcome.stats.prefillTokensPerSecond;
        live.decodeTokensPerSecond = outcome.stats.decodeTokensPerSecond;
        live.timeToFirstTokenMs = s.time_to_first_token_ms;
        live.acceptanceRate = outcome.stats.acceptanceRate;
        uiLogger("engine")->info("speculative reply {}: {} drafted, {} accepted, {:.2f} tokens per verify pass",
                                 request.id, result.speculative.n_drafted, result.speculative.n_accepted,
                                 result.speculative.tokens_per_verify_pass());
    } catch (const std::exception& error) {
        uiLogger("engine")->error("speculative reply {}: {}", request.id, error.what());
        outcome.text = QString::fromStdString(streamed);
        outcome.error = QString::fromStdString(error.what());
        outcome.stats.stopReason = QStringLiteral("error");
    }
    outcome.live = live;
    return outcome;
}

}  // namespace peregrine::ui
