// Where the picker looks for models: the app's own models folder, folders the user added, and the places
// other local-LLM apps keep GGUF files. `home` and `appData` are parameters so tests can use a temp tree.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

namespace peregrine::ui {

struct ScanRoot {
    QString path;
    QString source;       // shown in the picker's Source column
    bool ollama = false;  // manifests + blobs instead of *.gguf files
};

// appModels: <XDG data>/peregrine/models. Existing and missing folders are both listed (the picker
// says which ones it found nothing in).
QList<ScanRoot> modelScanRoots(const QString& home, const QString& appModels, const QStringList& userFolders);

QString defaultAppModelsFolder();  // QStandardPaths AppDataLocation + "/models"

}  // namespace peregrine::ui
