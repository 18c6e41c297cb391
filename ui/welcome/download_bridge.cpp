#include "welcome/download_bridge.h"

namespace peregrine::ui {

DownloadBridge::DownloadBridge(QObject* parent) : QObject(parent) {
    queue_ = std::make_unique<DownloadQueue>([this](const DownloadUpdate& update) {
        // Runs on the queue's thread. The call is queued to this object: Qt drops it if the object is
        // gone by then, and the destructor stops the queue before the object goes.
        QMetaObject::invokeMethod(this, [this, update] { emit updated(update); }, Qt::QueuedConnection);
    });
}

DownloadBridge::~DownloadBridge() { queue_.reset(); }

quint64 DownloadBridge::enqueue(const QString& repo, const QString& file, const QString& endpoint,
                                const QString& folder) {
    HubFileRef ref{.repo = repo.toStdString(), .file = file.toStdString(), .endpoint = endpoint.toStdString()};
    DownloadOptions options;
    options.dir = folder.toStdString();
    return queue_->enqueue(std::move(ref), std::move(options));
}

bool DownloadBridge::cancel(quint64 id) { return queue_->cancel(id); }

}  // namespace peregrine::ui
