#include "bridge/request_stream.h"

#include "peregrine/engine.h"

namespace peregrine::ui {
namespace {

double msBetween(ChunkBatcher::Clock::time_point from, ChunkBatcher::Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

QString toQString(std::string_view text) {
    return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

}  // namespace

RequestStream::RequestStream(quint64 requestId, int samples, const LiveStats& base, QString modelName,
                             ChunkSink onChunk, OutcomeSink onOutcome)
    : requestId_(requestId),
      base_(base),
      modelName_(std::move(modelName)),
      onChunk_(std::move(onChunk)),
      onOutcome_(std::move(onOutcome)),
      samples_(static_cast<size_t>(std::max(1, samples))),
      start_(Clock::now()) {}

LiveStats RequestStream::liveOf(const Sample& sample) const {
    LiveStats live = base_;
    live.generatedTokens = sample.generated;
    live.contextUsed = base_.promptTokens + sample.generated;
    if (sample.pieces > 0) {
        live.timeToFirstTokenMs = msBetween(start_, sample.firstText);
        // Only the positions actually computed count for prefill speed: cached ones cost nothing.
        const int computed = base_.promptTokens - base_.cachedPromptTokens;
        live.prefillTokensPerSecond = live.timeToFirstTokenMs > 0 ? computed * 1000.0 / live.timeToFirstTokenMs : 0;
        const double decodeMs = msBetween(sample.firstText, sample.lastText);
        live.decodeTokensPerSecond = decodeMs > 0 ? (sample.generated - 1) * 1000.0 / decodeMs : 0;
    }
    return live;
}

void RequestStream::sendChunk(Sample& sample, Clock::time_point now) {
    onChunk_({requestId_, QString::fromStdString(sample.batcher.take(now)), liveOf(sample)});
}

void RequestStream::onUpdate(const RequestUpdate& update) {
    if (done_ || update.index < 0 || update.index >= static_cast<int>(samples_.size())) return;
    const auto now = Clock::now();
    Sample& sample = samples_[static_cast<size_t>(update.index)];
    base_.promptTokens = update.n_prompt_tokens;
    base_.cachedPromptTokens = update.n_cached_prompt_tokens;
    sample.generated = update.n_generated;
    if (!update.text.empty()) {
        if (sample.pieces++ == 0) sample.firstText = now;
        sample.lastText = now;
        sample.text += update.text;
        // Only the first sample streams to the screen; the others are shown once they are all done.
        if (update.index == 0 && sample.batcher.add(update.text, now)) sendChunk(sample, now);
    }
    if (update.finished && !sample.finished) {
        sample.finished = true;
        sample.stopReason = update.error.empty() ? toQString(stop_reason_name(update.stop_reason))
                                                 : QStringLiteral("error");
        sample.error = QString::fromStdString(update.error);
        if (update.index == 0 && sample.batcher.hasPending()) sendChunk(sample, now);
    }
    if (update.all_finished) finish();
}

void RequestStream::finish() {
    done_ = true;
    const Sample& first = samples_.front();
    GenerationOutcome outcome;
    outcome.requestId = requestId_;
    outcome.text = QString::fromStdString(first.text);
    if (samples_.size() > 1) {
        for (const Sample& sample : samples_) outcome.alternatives << QString::fromStdString(sample.text);
    }
    outcome.live = liveOf(first);
    outcome.cancelled = first.stopReason == QLatin1String("cancelled");
    for (const Sample& sample : samples_) {
        if (outcome.error.isEmpty()) outcome.error = sample.error;
    }
    MessageStats& stats = outcome.stats;
    stats.model = modelName_;
    stats.promptTokens = outcome.live.promptTokens;
    stats.cachedPromptTokens = outcome.live.cachedPromptTokens;
    stats.generatedTokens = first.generated;
    stats.prefillTokensPerSecond = outcome.live.prefillTokensPerSecond;
    stats.decodeTokensPerSecond = outcome.live.decodeTokensPerSecond;
    stats.timeToFirstTokenMs = outcome.live.timeToFirstTokenMs;
    stats.stopReason = first.stopReason.isEmpty() ? QStringLiteral("cancelled") : first.stopReason;
    onOutcome_(outcome);
}

}  // namespace peregrine::ui
