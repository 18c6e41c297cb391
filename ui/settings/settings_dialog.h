// Settings ▸ Speed trade-offs: every knob that changes speed, memory or quality, each with a one-line
// note saying what it trades, and "(reload)" on the ones that only apply after reloading the model.
// Knobs the engine does not support yet are shown greyed out with the reason; knobs that only matter in
// some mode (the draft model, the JSON schema) are greyed out while that mode is off.
#pragma once

#include <QDialog>

#include "settings/engine_settings.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace peregrine::ui {

class SettingsDialog : public QDialog {
    Q_OBJECT

public:
    explicit SettingsDialog(const EngineSettings& current, QWidget* parent = nullptr);

    EngineSettings settings() const;
    void setSettings(const EngineSettings& settings);
    // One-line notes by field name ("threads", "contextLength"...), for tests and tooltips.
    QString noteFor(const QString& field) const;

private:
    void addRow(QFormLayout* form, const QString& field, const QString& label, QWidget* editor, const QString& note);
    void updateEnabled();
    void chooseDraftModel();

    QComboBox* backend_;
    QSpinBox* gpuLayers_;
    QSpinBox* threads_;
    QSpinBox* contextLength_;
    QSpinBox* batchSize_;
    QComboBox* kvCacheType_;
    QCheckBox* useMmap_;
    QSpinBox* maxSequences_;
    QSpinBox* kvCacheBlocks_;
    QComboBox* speculative_;
    QLineEdit* draftModel_;
    QPushButton* browseDraft_;
    QSpinBox* draftTokens_;
    QComboBox* structured_;
    QPlainTextEdit* jsonSchema_;
    QDoubleSpinBox* temperature_;
    QSpinBox* topK_;
    QDoubleSpinBox* topP_;
    QDoubleSpinBox* minP_;
    QDoubleSpinBox* repeatPenalty_;
    QSpinBox* seed_;
    QSpinBox* maxTokens_;
    QMap<QString, QString> notes_;
    EngineSettings base_;  // fields without an editor (repeat window...) pass through unchanged
};

}  // namespace peregrine::ui
