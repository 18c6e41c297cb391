#include "picker/model_scanner.h"

#include <QDirIterator>
#include <QFileInfo>
#include <QSet>

#include "logging/ui_log.h"
#include "picker/model_probe.h"
#include "picker/ollama_manifests.h"

namespace peregrine::ui {
namespace {

constexpr int kMaxFilesPerRoot = 10000;  // a home folder added by mistake must not scan forever

QString displayNameOf(const QFileInfo& file) {
    QString name = file.fileName();
    if (name.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) name.chop(5);
    return name;
}

}  // namespace

void ScanWorker::scan(quint64 scanId, const QList<ScanRoot>& roots) {
    QSet<QString> seen;
    int count = 0;
    const auto report = [&](const ModelCandidate& model) {
        ++count;
        emit found(scanId, model);
    };
    for (const ScanRoot& root : roots) {
        if (cancelled(scanId)) return;
        if (!QFileInfo(root.path).isDir()) continue;
        if (root.ollama) {
            for (const OllamaModel& model : findOllamaModels(root.path)) {
                if (cancelled(scanId)) return;
                const QString canonical = QFileInfo(model.blobPath).canonicalFilePath();
                if (!canonical.isEmpty()) {
                    if (seen.contains(canonical)) continue;
                    seen.insert(canonical);
                }
                if (!model.problem.isEmpty()) {
                    ModelCandidate broken;
                    broken.path = model.blobPath;
                    broken.displayName = model.name;
                    broken.source = root.source;
                    broken.broken = true;
                    broken.problem = model.problem;
                    report(broken);
                } else {
                    report(probeModel(model.blobPath, model.name, root.source));
                }
            }
            continue;
        }
        QDirIterator it(root.path, {QStringLiteral("*.gguf"), QStringLiteral("*.GGUF")}, QDir::Files,
                        QDirIterator::Subdirectories | QDirIterator::FollowSymlinks);
        int files = 0;
        while (it.hasNext() && files++ < kMaxFilesPerRoot) {
            if (cancelled(scanId)) return;
            const QFileInfo file(it.next());
            const QString canonical = file.canonicalFilePath();
            if (canonical.isEmpty() || seen.contains(canonical)) continue;  // dangling link or duplicate
            seen.insert(canonical);
            report(probeModel(file.absoluteFilePath(), displayNameOf(file), root.source));
        }
    }
    uiLogger("picker")->info("scan {} found {} models", scanId, count);
    emit finished(scanId, count);
}

ModelScanner::ModelScanner(QObject* parent) : QObject(parent) {
    qRegisterMetaType<ModelCandidate>();
    qRegisterMetaType<QList<ScanRoot>>();
    auto* worker = new ScanWorker(current_);
    worker->moveToThread(&thread_);
    thread_.setObjectName(QStringLiteral("model-scan"));
    connect(&thread_, &QThread::finished, worker, &QObject::deleteLater);
    connect(this, &ModelScanner::postScan, worker, &ScanWorker::scan);
    connect(worker, &ScanWorker::found, this, [this](quint64 id, const ModelCandidate& model) {
        if (id == current_->load()) emit modelFound(model);
    });
    connect(worker, &ScanWorker::finished, this, [this](quint64 id, int count) {
        if (id != current_->load()) return;
        scanning_ = false;
        emit finished(count);
    });
    thread_.start();
}

ModelScanner::~ModelScanner() {
    current_->store(0);  // the running scan stops at its next file
    thread_.quit();
    thread_.wait();
}

void ModelScanner::scan(const QList<ScanRoot>& roots) {
    const quint64 id = nextId_++;
    current_->store(id);
    scanning_ = true;
    emit scanStarted();
    emit postScan(id, roots);
}

}  // namespace peregrine::ui
