// The live stats bar under the chat: where the speed comes from. For the reply on screen: prefill and
// decode tokens/s, time to first token, tokens in context / context size (and how many came from the
// prefix cache). For the engine as a whole: tokens/s over every running reply, KV cache blocks in use /
// total with the prefix cache's hit rate, the speculative acceptance rate; then the process's RAM (VRAM
// when a GPU backend is in use) and a chart of decode tokens/s over the current reply. Each field has a
// tooltip saying what it measures.
#pragma once

#include <QTimer>
#include <QWidget>

#include "bridge/engine_types.h"

class QLabel;

namespace peregrine::ui {

class RateChart;

class StatsBar : public QWidget {
    Q_OBJECT

public:
    explicit StatsBar(QWidget* parent = nullptr);

    void setModel(const ModelSummary& model);
    void clearModel();
    void replyStarted();
    void showLive(const LiveStats& stats);
    void showFinal(const GenerationOutcome& outcome);
    void showEngine(const EngineSnapshot& snapshot);

    // The last values shown (tests read these).
    const LiveStats& shown() const { return shown_; }
    const EngineSnapshot& engineShown() const { return engine_; }
    QString kvText() const;
    QString aggregateText() const;
    QString speculativeText() const;
    const RateChart* chart() const { return chart_; }

private:
    void render();
    void refreshMemory();
    QLabel* addField(const QString& toolTip);

    LiveStats shown_;
    EngineSnapshot engine_;
    ModelSummary model_;
    bool hasModel_ = false;
    QLabel* prefill_;
    QLabel* decode_;
    QLabel* ttft_;
    QLabel* context_;
    QLabel* kvCache_;
    QString kvToolTip_;
    QLabel* aggregate_;
    QLabel* speculative_;
    QLabel* memory_;
    QLabel* notes_;
    RateChart* chart_;
    QTimer memoryTimer_;
};

}  // namespace peregrine::ui
