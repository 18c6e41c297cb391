#include "picker/ollama_manifests.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QObject>
#include <QRegularExpression>

namespace peregrine::ui {
namespace {

constexpr qint64 kMaxManifestBytes = 1 << 20;  // real manifests are ~1 KB

QString modelName(const QString& manifestsRoot, const QString& manifestPath) {
    // <registry>/<namespace>/<model>/<tag>
    const QStringList parts = QDir(manifestsRoot).relativeFilePath(manifestPath).split('/');
    if (parts.size() < 4) return parts.join('/');
    const QString& ns = parts[parts.size() - 3];
    const QString model = parts[parts.size() - 2] + ':' + parts.last();
    return ns == QLatin1String("library") ? model : ns + '/' + model;
}

OllamaModel readManifest(const QString& root, const QString& manifestsRoot, const QString& path) {
    OllamaModel model;
    model.name = modelName(manifestsRoot, path);
    QFile file(path);
    if (file.size() > kMaxManifestBytes || !file.open(QIODevice::ReadOnly)) {
        model.problem = QObject::tr("unreadable manifest %1").arg(path);
        return model;
    }
    QJsonParseError parseError;
    const QJsonDocument json = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (!json.isObject()) {
        model.problem = QObject::tr("manifest %1 is not JSON: %2").arg(path, parseError.errorString());
        return model;
    }
    for (const QJsonValue& layer : json.object().value("layers").toArray()) {
        const QJsonObject object = layer.toObject();
        if (object.value("mediaType").toString() != QLatin1String("application/vnd.ollama.image.model")) continue;
        const QString digest = object.value("digest").toString();
        // Digests are "sha256:<64 hex>"; anything else could walk out of the blobs folder.
        static const QRegularExpression valid(QStringLiteral("^sha256:[0-9a-f]{64}$"));
        if (!valid.match(digest).hasMatch()) {
            model.problem = QObject::tr("manifest %1 has an invalid digest '%2'").arg(path, digest.left(80));
            return model;
        }
        model.blobPath = root + QStringLiteral("/blobs/") + QString(digest).replace(':', '-');
        if (!QFileInfo::exists(model.blobPath)) {
            model.problem = QObject::tr("the model blob %1 named by %2 is missing").arg(model.blobPath, path);
        }
        return model;
    }
    model.problem = QObject::tr("manifest %1 has no model layer").arg(path);
    return model;
}

}  // namespace

QList<OllamaModel> findOllamaModels(const QString& root) {
    QList<OllamaModel> models;
    const QString manifestsRoot = root + QStringLiteral("/manifests");
    if (!QFileInfo(manifestsRoot).isDir()) return models;
    QDirIterator it(manifestsRoot, QDir::Files | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        models << readManifest(root, manifestsRoot, path);
    }
    return models;
}

}  // namespace peregrine::ui
