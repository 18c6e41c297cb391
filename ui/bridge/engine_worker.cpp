#include "bridge/engine_worker.h"

#include <QFileInfo>

#include <chrono>

#include "bridge/cancel_flag.h"
#include "bridge/chunk_batcher.h"
#include "bridge/conversation_fit.h"
#include "bridge/weight_prefetch.h"
#include "logging/ui_log.h"
#include "peregrine/context.h"
#include "peregrine/error.h"
#include "peregrine/generation.h"

namespace peregrine::ui {
namespace {

using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

QString toQString(std::string_view text) {
    return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

// Thrown inside load() when the user cancels; never leaves the worker.
struct LoadCancelled {};

}  // namespace

EngineWorker::EngineWorker(std::shared_ptr<const CancelFlag> cancel, QObject* parent)
    : QObject(parent), cancel_(std::move(cancel)) {}

EngineWorker::~EngineWorker() = default;

void EngineWorker::unload() {
    context_.reset();
    model_.reset();
    summary_ = {};
}

void EngineWorker::load(const LoadRequest& request) {
    // The old model goes first: holding two models at once could need twice the memory.
    context_.reset();
    model_.reset();
    summary_ = {};
    try {
        loadOrThrow(request);
        emit loaded(request.id, summary_);
    } catch (const LoadCancelled&) {
        context_.reset();
        model_.reset();
        emit loadFailed(request.id, tr("Loading was cancelled."), /*cancelled=*/true);
    } catch (const std::exception& error) {
        context_.reset();
        model_.reset();
        uiLogger("engine")->error("loading {}: {}", request.path.toStdString(), error.what());
        emit loadFailed(request.id, QString::fromStdString(error.what()), /*cancelled=*/false);
    }
}

void EngineWorker::loadOrThrow(const LoadRequest& request) {
    const auto start = Clock::now();
    const auto checkCancel = [&] {
        if (cancel_->isCancelled(request.id)) throw LoadCancelled{};
    };
    checkCancel();
    emit loadProgress(request.id, 0, tr("Reading the model file"));
    ModelParams modelParams;
    modelParams.use_mmap = request.options.useMmap;
    model_ = LoadedModel::load(request.path.toStdString(), modelParams);
    checkCancel();

    if (request.options.prefetchWeights) {
        int lastPercent = -1;
        const bool completed = prefetchWeights(model_->model->gguf(), [&](double fraction) {
            // Weights are 5..90% of the bar: they are the part whose time grows with the model.
            const int percent = 5 + static_cast<int>(fraction * 85);
            if (percent != lastPercent) {
                lastPercent = percent;
                emit loadProgress(request.id, percent, tr("Reading weights"));
            }
            return !cancel_->isCancelled(request.id);
        });
        if (!completed) throw LoadCancelled{};
    }

    emit loadProgress(request.id, 92, tr("Allocating the KV cache"));
    ContextParams contextParams;
    contextParams.n_ctx = request.options.contextLength;
    contextParams.n_threads = request.options.threads;
    contextParams.n_seq_max = 1;  // one conversation at a time
    context_ = std::make_unique<Context>(model_->model, contextParams);
    checkCancel();

    const ModelInfo& info = model_->model->info();
    summary_.path = request.path;
    summary_.fileName = QFileInfo(request.path).fileName();
    summary_.name = info.name.empty() ? summary_.fileName : QString::fromStdString(info.name);
    summary_.architecture = QString::fromStdString(info.architecture);
    summary_.fileType = QString::fromStdString(info.file_type);
    summary_.templateFamily =
        toQString(chat_template_family_name(model_->chat_template->family()));
    summary_.parameterCount = static_cast<qint64>(info.n_params);
    summary_.weightBytes = static_cast<qint64>(info.weight_bytes);
    summary_.contextLength = context_->n_ctx();
    summary_.kvCacheBytes = static_cast<qint64>(context_->kv_stats().bytes_total);
    summary_.trainingContextLength = info.n_ctx_train;
    summary_.threads = context_->n_threads();
    summary_.loadMs = msBetween(start, Clock::now());
    emit loadProgress(request.id, 100, tr("Ready"));
    uiLogger("engine")->info("loaded {} ({} params, ctx {}, {} threads) in {:.0f} ms",
                             request.path.toStdString(), info.n_params, summary_.contextLength,
                             summary_.threads, summary_.loadMs);
}

LiveStats EngineWorker::contextStats(int promptTokens) const {
    LiveStats stats;
    stats.promptTokens = promptTokens;
    stats.contextLength = context_->n_ctx();
    const KvCacheStats kv = context_->kv_stats();
    stats.kvBlocksUsed = kv.blocks_used;
    stats.kvBlocksTotal = kv.blocks_total;
    stats.kvBytesTotal = static_cast<qint64>(kv.bytes_total);
    return stats;
}

void EngineWorker::generate(const GenerationRequest& request) {
    GenerationOutcome outcome;
    outcome.requestId = request.id;
    if (cancel_->isCancelled(request.id)) {  // stopped before it started
        outcome.cancelled = true;
        outcome.stats.stopReason = QStringLiteral("cancelled");
        emit finished(outcome);
        return;
    }
    if (!model_ || !context_) {
        outcome.error = tr("No model is loaded. Choose one with Model ▸ Open.");
        emit finished(outcome);
        return;
    }

    std::string streamed;  // everything sent so far, kept if generation throws half-way
    LiveStats live;
    try {
        const int contextLength = context_->n_ctx();
        const FittedPrompt prompt = fitConversation(
            *model_, request.messages, contextLength, replyReserve(contextLength, request.options.maxTokens));
        const int promptTokens = static_cast<int>(prompt.tokens.size());
        live = contextStats(promptTokens);
        live.droppedMessages = prompt.droppedMessages;

        GenerationParams params;
        params.n_predict = request.options.maxTokens;
        params.sampling = request.options.sampling;
        params.n_batch = request.options.batchSize;

        ChunkBatcher batcher;
        const auto start = Clock::now();
        Clock::time_point firstText;
        // While generating, the chunk also samples the KV cache; the final flush runs after generate()
        // has already released the sequence, so it keeps the last sample.
        const auto send = [&](Clock::time_point now, bool sampleKv) {
            if (sampleKv) live.kvBlocksUsed = context_->kv_stats().blocks_used;
            live.contextUsed = promptTokens + live.generatedTokens;
            const double decodeMs = msBetween(firstText, now);
            live.decodeTokensPerSecond = decodeMs > 0 ? (live.generatedTokens - 1) * 1000.0 / decodeMs : 0;
            emit chunk({request.id, QString::fromStdString(batcher.take(now)), live});
        };
        const TextCallback onText = [&](std::string_view delta) {
            const auto now = Clock::now();
            if (live.generatedTokens++ == 0) {
                firstText = now;
                live.timeToFirstTokenMs = msBetween(start, now);
                live.prefillTokensPerSecond =
                    live.timeToFirstTokenMs > 0 ? promptTokens * 1000.0 / live.timeToFirstTokenMs : 0;
            }
            streamed += delta;
            if (batcher.add(delta, now)) send(now, /*sampleKv=*/true);
            // Checked after the text is out, so a stop takes effect before the next decode step.
            return !cancel_->isCancelled(request.id);
        };
        const GenerationResult result = peregrine::generate(*context_, *model_->vocab, prompt.tokens, params, onText);
        if (batcher.hasPending()) send(Clock::now(), /*sampleKv=*/false);

        outcome.text = QString::fromStdString(result.text);
        outcome.cancelled = result.stop_reason == StopReason::Cancelled;
        const GenerationStats& s = result.stats;
        outcome.stats.model = summary_.fileName;
        outcome.stats.promptTokens = s.n_prompt_tokens;
        outcome.stats.generatedTokens = s.n_generated;
        outcome.stats.prefillTokensPerSecond = s.prefill_tokens_per_second();
        outcome.stats.decodeTokensPerSecond = s.decode_tokens_per_second();
        outcome.stats.timeToFirstTokenMs = s.time_to_first_token_ms;
        outcome.stats.stopReason = toQString(stop_reason_name(result.stop_reason));
        live.generatedTokens = s.n_generated;
        live.contextUsed = s.n_prompt_tokens + s.n_generated;
        live.prefillTokensPerSecond = outcome.stats.prefillTokensPerSecond;
        live.decodeTokensPerSecond = outcome.stats.decodeTokensPerSecond;
        live.timeToFirstTokenMs = s.time_to_first_token_ms;
    } catch (const std::exception& error) {
        uiLogger("engine")->error("generation {}: {}", request.id, error.what());
        outcome.text = QString::fromStdString(streamed);
        outcome.error = QString::fromStdString(error.what());
        outcome.stats.model = summary_.fileName;
        outcome.stats.stopReason = QStringLiteral("error");
    }
    outcome.live = live;
    emit finished(outcome);
}

}  // namespace peregrine::ui
