#include "stats/stats_bar.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>

#include "stats/rate_chart.h"
#include "stats/system_memory.h"

namespace peregrine::ui {
namespace {

QString rate(double tokensPerSecond) {
    return tokensPerSecond > 0 ? QLocale().toString(tokensPerSecond, 'f', tokensPerSecond < 100 ? 1 : 0)
                               : QStringLiteral("–");
}

}  // namespace

StatsBar::StatsBar(QWidget* parent) : QWidget(parent) {
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(8, 2, 8, 2);
    layout->setSpacing(14);
    prefill_ = addField(tr("Prefill: prompt tokens processed per second (all prompt tokens go through the model "
                           "in batches; bound by compute)"));
    decode_ = addField(tr("Decode: new tokens per second (one forward pass per token; bound by memory "
                          "bandwidth, since every weight is read once per token)"));
    ttft_ = addField(tr("Time to first token: how long the prompt took before the reply started"));
    context_ = addField(tr("Tokens in the context / context length (prompt + reply so far)"));
    aggregate_ = addField(tr("All replies: generated tokens per second over every reply running now (the engine "
                             "batches them: one pass over the weights serves them all)"));
    kvToolTip_ = tr("KV cache: blocks in use / in the pool, and the prefix cache's hit rate (prompt tokens "
                    "reused from earlier turns instead of computed)");
    kvCache_ = addField(kvToolTip_);
    speculative_ = addField(tr("Speculative decoding: share of guessed tokens the model accepted (last "
                               "speculative reply)"));
    memory_ = addField(tr("Memory used by Peregrine (resident), and what the system still has available. "
                          "VRAM is shown when a GPU backend is in use."));
    notes_ = addField(QString());
    chart_ = new RateChart(this);
    layout->addWidget(chart_);
    layout->addStretch(1);
    prefill_->setObjectName("prefillRate");
    decode_->setObjectName("decodeRate");
    kvCache_->setObjectName("kvCache");
    aggregate_->setObjectName("aggregateRate");
    speculative_->setObjectName("speculativeAcceptance");
    connect(&memoryTimer_, &QTimer::timeout, this, &StatsBar::refreshMemory);
    memoryTimer_.start(1000);
    render();
    refreshMemory();
}

QLabel* StatsBar::addField(const QString& toolTip) {
    auto* label = new QLabel(this);
    label->setToolTip(toolTip);
    label->setTextFormat(Qt::PlainText);
    layout()->addWidget(label);
    return label;
}

void StatsBar::setModel(const ModelSummary& model) {
    model_ = model;
    hasModel_ = true;
    shown_ = {};
    shown_.contextLength = model.contextLength;
    shown_.kvBytesTotal = model.kvCacheBytes;
    engine_ = {};
    engine_.kvBlocksTotal = model.kvBlocksTotal;
    chart_->clear();
    render();
}

void StatsBar::clearModel() {
    hasModel_ = false;
    model_ = {};
    shown_ = {};
    engine_ = {};
    chart_->clear();
    render();
}

void StatsBar::replyStarted() {
    const LiveStats previous = shown_;
    shown_ = {};
    shown_.contextLength = previous.contextLength;
    shown_.kvBytesTotal = previous.kvBytesTotal;
    shown_.kvBlocksTotal = previous.kvBlocksTotal;
    chart_->clear();
    render();
}

void StatsBar::showLive(const LiveStats& stats) {
    shown_ = stats;
    chart_->addSample(stats.decodeTokensPerSecond);
    render();
}

void StatsBar::showFinal(const GenerationOutcome& outcome) {
    shown_ = outcome.live;
    render();
}

void StatsBar::showEngine(const EngineSnapshot& snapshot) {
    engine_ = snapshot;
    render();
}

QString StatsBar::kvText() const {
    if (engine_.kvBlocksTotal <= 0) return hasModel_ ? tr("KV %1").arg(formatBytes(model_.kvCacheBytes)) : tr("KV –");
    // Short: the bar is one row of many fields. The pool's memory is in the tooltip.
    return tr("KV %1/%2 blocks · prefix hits %3%")
        .arg(engine_.kvBlocksUsed)
        .arg(engine_.kvBlocksTotal)
        .arg(QLocale().toString(100 * engine_.prefixHitRate, 'f', 0));
}

QString StatsBar::aggregateText() const {
    if (engine_.running == 0) return tr("No reply running");
    const QString replies = engine_.running == 1 ? tr("1 reply") : tr("%1 replies").arg(engine_.running);
    return tr("%1 · %2 tok/s").arg(replies, rate(engine_.tokensPerSecond));
}

QString StatsBar::speculativeText() const {
    if (engine_.acceptanceRate < 0) return engine_.speculating ? tr("Spec accepted –") : QString();
    return tr("Spec accepted %1%").arg(QLocale().toString(100 * engine_.acceptanceRate, 'f', 0));
}

void StatsBar::render() {
    const QLocale locale;
    prefill_->setText(tr("Prefill %1 tok/s").arg(rate(shown_.prefillTokensPerSecond)));
    decode_->setText(tr("Decode %1 tok/s").arg(rate(shown_.decodeTokensPerSecond)));
    ttft_->setText(tr("TTFT %1").arg(shown_.timeToFirstTokenMs > 0
                                         ? locale.toString(shown_.timeToFirstTokenMs, 'f', 0) + " ms"
                                         : QStringLiteral("–")));
    QString context = tr("Context %1 / %2").arg(shown_.contextUsed).arg(shown_.contextLength);
    if (shown_.cachedPromptTokens > 0) context += tr(" (%1 cached)").arg(shown_.cachedPromptTokens);
    context_->setText(context);
    context_->setObjectName("context");
    aggregate_->setText(aggregateText());
    kvCache_->setText(kvText());
    kvCache_->setToolTip(kvToolTip_ + (hasModel_ ? tr("\nAllocated: %1").arg(formatBytes(model_.kvCacheBytes)) : QString()));
    const QString speculative = speculativeText();
    speculative_->setVisible(!speculative.isEmpty());
    speculative_->setText(speculative);
    notes_->setVisible(shown_.droppedMessages > 0);
    notes_->setText(tr("%n earliest message(s) left out to fit the context", nullptr, shown_.droppedMessages));
}

void StatsBar::refreshMemory() {
    memory_->setText(tr("RAM %1 (free %2) · VRAM –")
                         .arg(formatBytes(processResidentBytes()), formatBytes(systemAvailableBytes())));
}

}  // namespace peregrine::ui
