#include "stats/rate_chart.h"

#include <QPainter>
#include <QPainterPath>

#include <algorithm>

namespace peregrine::ui {

RateChart::RateChart(QWidget* parent) : QWidget(parent) {
    setMinimumSize(100, 28);
    setToolTip(tr("Decode speed (tokens/s) over the current reply"));
}

void RateChart::clear() {
    samples_.clear();
    update();
}

void RateChart::addSample(double tokensPerSecond) {
    if (tokensPerSecond <= 0) return;
    if (samples_.size() >= kMaxSamples) {
        // Halve the resolution instead of dropping the start: the whole reply stays visible.
        QList<double> merged;
        merged.reserve(samples_.size() / 2 + 1);
        for (qsizetype i = 0; i + 1 < samples_.size(); i += 2) merged << (samples_[i] + samples_[i + 1]) / 2;
        samples_ = merged;
    }
    samples_ << tokensPerSecond;
    update();
}

void RateChart::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    const QRectF area = QRectF(rect()).adjusted(1, 1, -1, -1);
    painter.setPen(palette().color(QPalette::Mid));
    painter.setBrush(palette().color(QPalette::Base));
    painter.drawRoundedRect(area, 3, 3);
    if (samples_.size() < 2) return;

    const double peak = *std::max_element(samples_.begin(), samples_.end()) * 1.1;
    const QRectF plot = area.adjusted(3, 3, -3, -3);
    QPainterPath line;
    for (qsizetype i = 0; i < samples_.size(); ++i) {
        const double x = plot.left() + plot.width() * i / (samples_.size() - 1);
        const double y = plot.bottom() - plot.height() * samples_[i] / peak;
        i == 0 ? line.moveTo(x, y) : line.lineTo(x, y);
    }
    QPainterPath fill = line;
    fill.lineTo(plot.right(), plot.bottom());
    fill.lineTo(plot.left(), plot.bottom());
    QColor accent = palette().color(QPalette::Highlight);
    QColor shade = accent;
    shade.setAlpha(50);
    painter.fillPath(fill, shade);
    painter.setPen(QPen(accent, 1.5));
    painter.setBrush(Qt::NoBrush);
    painter.drawPath(line);
}

}  // namespace peregrine::ui
