// Help ▸ About: version, backends compiled in, the device, Qt and SQLite versions, the loaded model, and
// where the log and the chat history live.
#pragma once

#include <QDialog>

namespace peregrine::ui {

struct ModelSummary;

class AboutDialog : public QDialog {
    Q_OBJECT

public:
    AboutDialog(const ModelSummary* model, QWidget* parent = nullptr);
    QString text() const { return text_; }

private:
    QString text_;
};

}  // namespace peregrine::ui
