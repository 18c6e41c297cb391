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
    kvCache_ = addField(tr("KV cache: blocks in use / allocated, and the memory allocated for it"));
    memory_ = addField(tr("Memory used by Peregrine (resident), and what the system still has available. "
                          "VRAM is shown when a GPU backend is in use."));
    notes_ = addField(QString());
    chart_ = new RateChart(this);
    layout->addWidget(chart_);
    layout->addStretch(1);
    prefill_->setObjectName("prefillRate");
    decode_->setObjectName("decodeRate");
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
    chart_->clear();
    render();
}

void StatsBar::clearModel() {
    hasModel_ = false;
    model_ = {};
    shown_ = {};
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

void StatsBar::render() {
    const QLocale locale;
    prefill_->setText(tr("Prefill %1 tok/s").arg(rate(shown_.prefillTokensPerSecond)));
    decode_->setText(tr("Decode %1 tok/s").arg(rate(shown_.decodeTokensPerSecond)));
    ttft_->setText(tr("TTFT %1").arg(shown_.timeToFirstTokenMs > 0
                                         ? locale.toString(shown_.timeToFirstTokenMs, 'f', 0) + " ms"
                                         : QStringLiteral("–")));
    context_->setText(tr("Context %1 / %2").arg(shown_.contextUsed).arg(shown_.contextLength));
    if (shown_.kvBlocksTotal > 0) {
        kvCache_->setText(tr("KV %1% of %2")
                              .arg(100 * shown_.kvBlocksUsed / shown_.kvBlocksTotal)
                              .arg(formatBytes(shown_.kvBytesTotal)));
    } else {
        kvCache_->setText(hasModel_ ? tr("KV %1").arg(formatBytes(shown_.kvBytesTotal)) : tr("KV –"));
    }
    notes_->setVisible(shown_.droppedMessages > 0);
    notes_->setText(tr("%n earliest message(s) left out to fit the context", nullptr, shown_.droppedMessages));
}

void StatsBar::refreshMemory() {
    memory_->setText(tr("RAM %1 (free %2) · VRAM –")
                         .arg(formatBytes(processResidentBytes()), formatBytes(systemAvailableBytes())));
}

}  // namespace peregrine::ui
