#include "window/model_status.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>

#include "bridge/engine_controller.h"
#include "stats/system_memory.h"

namespace peregrine::ui {

ModelStatus::ModelStatus(EngineController& engine, QWidget* parent) : QWidget(parent), engine_(engine) {
    label_ = new QLabel(this);
    progress_ = new QProgressBar(this);
    progress_->setRange(0, 100);
    progress_->setMaximumWidth(220);
    progress_->setTextVisible(true);
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setToolTip(tr("Stop loading this model"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(label_);
    layout->addWidget(progress_);
    layout->addWidget(cancel_);

    connect(cancel_, &QPushButton::clicked, &engine_, &EngineController::cancelLoad);
    connect(&engine_, &EngineController::loadStarted, this, &ModelStatus::showLoading);
    connect(&engine_, &EngineController::loadProgress, this, [this](int percent, const QString& stage) {
        progress_->setValue(percent);
        progress_->setFormat(stage + QStringLiteral(" %p%"));
    });
    connect(&engine_, &EngineController::modelLoaded, this, &ModelStatus::showModel);
    connect(&engine_, &EngineController::loadFailed, this, &ModelStatus::showNoModel);
    connect(&engine_, &EngineController::modelUnloaded, this, &ModelStatus::showNoModel);
    showNoModel();
}

QString ModelStatus::text() const { return label_->text(); }

void ModelStatus::showLoading(const QString& path) {
    label_->setText(tr("Loading %1…").arg(path));
    progress_->setValue(0);
    progress_->show();
    cancel_->show();
}

void ModelStatus::showModel(const ModelSummary& model) {
    progress_->hide();
    cancel_->hide();
    const QLocale locale;
    label_->setText(tr("%1 · %2 · %3 · %4 params · ctx %5 · %6 threads")
                        .arg(model.fileName, model.architecture, model.fileType)
                        .arg(locale.toString(static_cast<double>(model.parameterCount) / 1e6, 'f', 1) + "M")
                        .arg(model.contextLength)
                        .arg(model.threads));
    label_->setToolTip(tr("%1\nWeights %2, KV cache %3, template %4, loaded in %5 ms")
                           .arg(model.path, formatBytes(model.weightBytes), formatBytes(model.kvCacheBytes),
                                model.templateFamily)
                           .arg(locale.toString(model.loadMs, 'f', 0)));
}

void ModelStatus::showNoModel() {
    progress_->hide();
    cancel_->hide();
    label_->setText(engine_.isLoading() ? tr("Loading…") : tr("No model loaded"));
    label_->setToolTip({});
    if (engine_.isLoading()) {
        progress_->show();
        cancel_->show();
    }
}

}  // namespace peregrine::ui
