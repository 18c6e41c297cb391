#include "picker/model_locations.h"

#include <QStandardPaths>

namespace peregrine::ui {

QList<ScanRoot> modelScanRoots(const QString& home, const QString& appModels, const QStringList& userFolders) {
    QList<ScanRoot> roots;
    roots << ScanRoot{appModels, QStringLiteral("Peregrine")};
    for (const QString& folder : userFolders) roots << ScanRoot{folder, QStringLiteral("Added folder")};
    roots << ScanRoot{home + "/.cache/llama.cpp", QStringLiteral("llama.cpp")};
    roots << ScanRoot{home + "/.lmstudio/models", QStringLiteral("LM Studio")};
    roots << ScanRoot{home + "/.cache/lm-studio/models", QStringLiteral("LM Studio")};
    roots << ScanRoot{home + "/.local/share/nomic.ai/GPT4All", QStringLiteral("GPT4All")};
    roots << ScanRoot{home + "/.ollama/models", QStringLiteral("Ollama"), /*ollama=*/true};
    return roots;
}

QString defaultAppModelsFolder() {
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/models");
}

}  // namespace peregrine::ui
