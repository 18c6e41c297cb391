// A small line chart of decode tokens/s over the current reply, painted with QPainter (one point per
// streamed chunk). Cleared when a new reply starts.
#pragma once

#include <QList>
#include <QWidget>

namespace peregrine::ui {

class RateChart : public QWidget {
    Q_OBJECT

public:
    explicit RateChart(QWidget* parent = nullptr);

    void clear();
    void addSample(double tokensPerSecond);
    const QList<double>& samples() const { return samples_; }
    QSize sizeHint() const override { return {160, 36}; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QList<double> samples_;
    static constexpr int kMaxSamples = 240;  // ~4 s at 60 chunks/s, then older points are merged
};

}  // namespace peregrine::ui
