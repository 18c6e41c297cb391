#include "bridge/engine_worker.h"

#include <QFileInfo>

#include <atomic>
#include <chrono>
#include <thread>

#include "bridge/cancel_flag.h"
#include "bridge/conversation_fit.h"
#include "bridge/request_stream.h"
#include "bridge/speculative_reply.h"
#include "bridge/weight_prefetch.h"
#include "logging/ui_log.h"
#include "peregrine/engine.h"
#include "peregrine/error.h"
#include "peregrine/grammar.h"

namespace peregrine::ui {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kStatsIntervalMs = 100;  // Engine::stats() is a locked copy: cheap
constexpr qint64 kRateWindowMs = 1000;

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
    : QObject(parent), cancel_(std::move(cancel)), statsTimer_(this) {
    statsTimer_.setInterval(kStatsIntervalMs);
    connect(&statsTimer_, &QTimer::timeout, this, &EngineWorker::sampleStats);
    // Emitted on the Engine's thread, so this runs queued on the worker's: the id map has one owner.
    // A reply that ends is sampled at once too (short replies may start and end between two ticks); the
    // Engine publishes its numbers after the step that ended it, which the next tick then shows.
    connect(this, &EngineWorker::finished, this, [this](const GenerationOutcome& outcome) {
        engineIds_.erase(outcome.requestId);
        sampleStats();
    });
}

EngineWorker::~EngineWorker() { release(); }

// The Engine goes first: its destructor cancels what still runs, and the final (cancelled) outcomes
// reach the GUI before the model they came from is gone.
void EngineWorker::release() {
    statsTimer_.stop();
    engine_.reset();
    speculative_.reset();
    model_.reset();
    summary_ = {};
    generatedHistory_.clear();
    lastAcceptance_ = -1;
    engineIds_.clear();
}

void EngineWorker::unload() { release(); }

void EngineWorker::load(const LoadRequest& request) {
    // The old model goes first: holding two models at once could need twice the memory.
    release();
    try {
        loadOrThrow(request);
        emit loaded(request.id, summary_);
        clock_.start();
        statsTimer_.start();
        sampleStats();
    } catch (const LoadCancelled&) {
        release();
        emit loadFailed(request.id, tr("Loading was cancelled."), /*cancelled=*/true);
    } catch (const std::exception& error) {
        release();
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
    EngineParams engineParams;
    engineParams.context.n_ctx = request.options.contextLength;
    engineParams.context.n_threads = request.options.threads;
    engineParams.context.n_seq_max = std::max(1, request.options.maxSequences);
    engineParams.context.kv_pool_blocks = std::max(0, request.options.kvCacheBlocks);
    engineParams.context.prefix_cache = true;
    engine_ = std::make_unique<Engine>(*model_, engineParams);
    checkCancel();

    const EngineStats stats = engine_->stats();
    const ModelInfo& info = model_->model->info();
    summary_.path = request.path;
    summary_.fileName = QFileInfo(request.path).fileName();
    summary_.name = info.name.empty() ? summary_.fileName : QString::fromStdString(info.name);
    summary_.architecture = QString::fromStdString(info.architecture);
    summary_.fileType = QString::fromStdString(info.file_type);
    summary_.templateFamily = toQString(chat_template_family_name(model_->chat_template->family()));
    summary_.parameterCount = static_cast<qint64>(info.n_params);
    summary_.weightBytes = static_cast<qint64>(info.weight_bytes);
    summary_.contextLength = request.options.contextLength > 0 ? request.options.contextLength : info.n_ctx_train;
    summary_.kvCacheBytes = static_cast<qint64>(stats.kv.bytes_total);
    summary_.kvBlockSize = stats.kv.block_size;
    summary_.kvBlocksTotal = stats.kv.blocks_total;
    summary_.maxSequences = stats.max_sequences;
    summary_.trainingContextLength = info.n_ctx_train;

    ContextParams speculativeContext = engineParams.context;
    speculativeContext.n_ctx = summary_.contextLength;
    speculative_ = std::make_unique<SpeculativeReplies>(*model_, speculativeContext, summary_.fileName);
    summary_.threads = request.options.threads > 0 ? request.options.threads
                                                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    summary_.loadMs = msBetween(start, Clock::now());
    emit loadProgress(request.id, 100, tr("Ready"));
    uiLogger("engine")->info("loaded {} ({} params, ctx {}, {} sequences, {} KV blocks) in {:.0f} ms",
                             request.path.toStdString(), info.n_params, summary_.contextLength,
                             summary_.maxSequences, summary_.kvBlocksTotal, summary_.loadMs);
}

void EngineWorker::finishFailed(quint64 requestId, const QString& message) {
    GenerationOutcome outcome;
    outcome.requestId = requestId;
    outcome.error = message;
    outcome.stats.model = summary_.fileName;
    outcome.stats.stopReason = QStringLiteral("error");
    emit finished(outcome);
}

void EngineWorker::generate(const GenerationRequest& request) {
    if (cancel_->isCancelled(request.id)) {  // stopped before it started
        GenerationOutcome outcome;
        outcome.requestId = request.id;
        outcome.cancelled = true;
        outcome.stats.stopReason = QStringLiteral("cancelled");
        emit finished(outcome);
        return;
    }
    if (!model_ || !engine_) {
        finishFailed(request.id, tr("No model is loaded. Choose one with Model ▸ Open."));
        return;
    }
    try {
        const int contextLength = summary_.contextLength;
        const FittedPrompt prompt = fitConversation(
            *model_, request.messages, contextLength, replyReserve(contextLength, request.options.maxTokens));
        LiveStats base;
        base.promptTokens = static_cast<int>(prompt.tokens.size());
        base.contextLength = contextLength;
        base.kvBlocksTotal = summary_.kvBlocksTotal;
        base.kvBytesTotal = summary_.kvCacheBytes;
        base.droppedMessages = prompt.droppedMessages;
        std::shared_ptr<const Grammar> grammar = grammars_.grammarFor(request.options);

        if (request.options.speculation.isOn() && request.alternatives <= 1) {
            // Speculation runs here, one reply at a time, on the speculative context.
            speculating_ = true;
            sampleStats();
            const quint64 id = request.id;
            GenerationOutcome outcome = speculative_->run(
                request, prompt.tokens, base, std::move(grammar), [this, id] { return cancel_->isCancelled(id); },
                [this](const StreamChunk& chunk) { emit this->chunk(chunk); });
            speculating_ = false;
            if (outcome.stats.acceptanceRate >= 0) lastAcceptance_ = outcome.stats.acceptanceRate;
            sampleStats();
            emit finished(outcome);
            return;
        }
        submitToEngine(request, prompt.tokens, base, std::move(grammar));
    } catch (const std::exception& error) {
        uiLogger("engine")->error("generation {}: {}", request.id, error.what());
        finishFailed(request.id, QString::fromStdString(error.what()));
    }
}

void EngineWorker::submitToEngine(const GenerationRequest& request, const std::vector<int32_t>& prompt,
                                  const LiveStats& base, std::shared_ptr<const Grammar> grammar) {
    EngineRequest engineRequest;
    engineRequest.prompt = prompt;
    engineRequest.max_tokens = request.options.maxTokens;
    engineRequest.sampling = request.options.sampling;
    engineRequest.n = std::max(1, request.alternatives);
    engineRequest.grammar = std::move(grammar);

    // Owned by the callback, which lives as long as the request inside the Engine; runs on its thread.
    auto stream = std::make_shared<RequestStream>(
        request.id, engineRequest.n, base, summary_.fileName, [this](const StreamChunk& chunk) { emit this->chunk(chunk); },
        [this](const GenerationOutcome& outcome) { emit finished(outcome); });
    // The Engine's id, known once submit() returns (0 until then: the check after submit covers that gap).
    auto engineIdOf = std::make_shared<std::atomic<uint64_t>>(0);
    Engine* engine = engine_.get();  // outlives its callbacks: ~Engine ends every request before it returns
    // A stop seen at the next token, also when this worker's thread is busy (a load, a speculative reply)
    // and the queued cancel() cannot run yet: the Engine applies a cancel before its next step.
    const auto onUpdate = [stream, engineIdOf, engine, cancel = cancel_, id = request.id](const RequestUpdate& update) {
        stream->onUpdate(update);
        const uint64_t engineId = engineIdOf->load(std::memory_order_acquire);
        if (!stream->done() && engineId != 0 && cancel->isCancelled(id)) engine->cancel(engineId);
    };
    const uint64_t engineId = engine_->submit(engineRequest, onUpdate);
    engineIdOf->store(engineId, std::memory_order_release);
    engineIds_[request.id] = engineId;
    // A stop that arrived between the check in generate() and now.
    if (cancel_->isCancelled(request.id)) engine_->cancel(engineId);
}

void EngineWorker::cancel(quint64 requestId) {
    if (!engine_) return;
    if (auto it = engineIds_.find(requestId); it != engineIds_.end()) engine_->cancel(it->second);
}

void EngineWorker::sampleStats() {
    if (!engine_) return;
    const EngineStats stats = engine_->stats();
    const qint64 now = clock_.isValid() ? clock_.elapsed() : 0;
    generatedHistory_.emplace_back(now, stats.generated_tokens);
    while (generatedHistory_.size() > 2 && now - generatedHistory_.front().first > kRateWindowMs) {
        generatedHistory_.pop_front();
    }
    EngineSnapshot snapshot;
    snapshot.running = stats.n_running + (speculating_ ? 1 : 0);
    snapshot.waiting = stats.n_waiting;
    const auto& [oldMs, oldTokens] = generatedHistory_.front();
    if (now > oldMs && stats.n_running > 0) {
        snapshot.tokensPerSecond = double(stats.generated_tokens - oldTokens) * 1000.0 / double(now - oldMs);
    }
    snapshot.kvBlocksUsed = stats.kv.blocks_used;
    snapshot.kvBlocksTotal = stats.kv.blocks_total;
    snapshot.kvBlocksCached = stats.kv.blocks_cached;
    snapshot.prefixHitRate = stats.kv.prefix_hit_rate();
    snapshot.speculating = speculating_;
    snapshot.acceptanceRate = lastAcceptance_;
    if (snapshot == lastSnapshot_) return;
    lastSnapshot_ = snapshot;
    emit engineStats(snapshot);
}

}  // namespace peregrine::ui
