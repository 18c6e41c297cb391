#include "window/about_dialog.h"

#include <QDialogButtonBox>
#include <QLabel>
#include <QVBoxLayout>

#include <sqlite3.h>

#include "app_info.h"
#include "bridge/engine_types.h"
#include "logging/app_log.h"
#include "store/chat_store.h"

namespace peregrine::ui {

AboutDialog::AboutDialog(const ModelSummary* model, QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("About Peregrine"));
    QStringList lines;
    lines << tr("<h3>Peregrine %1</h3>").arg(peregrineVersion());
    lines << tr("A local LLM chat app with its own C++ inference engine.");
    lines << tr("<b>Backends:</b> %1").arg(availableBackends());
    lines << tr("<b>Device:</b> %1").arg(cpuDescription().toHtmlEscaped());
    if (model) {
        lines << tr("<b>Model:</b> %1 (%2, %3, context %4)")
                     .arg(model->fileName.toHtmlEscaped(), model->architecture, model->fileType)
                     .arg(model->contextLength);
    }
    lines << tr("<b>Qt:</b> %1 · <b>SQLite:</b> %2").arg(qVersion(), sqlite3_libversion());
    lines << tr("<b>Log:</b> %1").arg(AppLog::filePath().toHtmlEscaped());
    lines << tr("<b>Chat history:</b> %1").arg(ChatStore::defaultPath().toHtmlEscaped());
    text_ = lines.join("<br>");
    auto* label = new QLabel(text_, this);
    label->setTextFormat(Qt::RichText);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(label);
    layout->addWidget(buttons);
}

}  // namespace peregrine::ui
