// The status-bar part about the model: what is loaded (name, architecture, quantization, context) or a
// progress bar with Cancel while a model loads.
#pragma once

#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace peregrine::ui {

class EngineController;
struct ModelSummary;

class ModelStatus : public QWidget {
    Q_OBJECT

public:
    explicit ModelStatus(EngineController& engine, QWidget* parent = nullptr);

    QProgressBar* progressBar() const { return progress_; }
    QString text() const;

private:
    void showLoading(const QString& path);
    void showModel(const ModelSummary& model);
    void showNoModel();

    EngineController& engine_;
    QLabel* label_;
    QProgressBar* progress_;
    QPushButton* cancel_;
};

}  // namespace peregrine::ui
