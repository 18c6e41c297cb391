// The engine's DownloadQueue (no Qt, its own thread) seen from the GUI thread: every update the queue
// reports on its thread is re-emitted as `updated` on the thread this object lives in, through a queued
// call, so widgets never touch download state from another thread.
#pragma once

#include <QObject>
#include <QString>

#include <memory>

#include "peregrine/download.h"

namespace peregrine::ui {

class DownloadBridge : public QObject {
    Q_OBJECT

public:
    explicit DownloadBridge(QObject* parent = nullptr);
    // Cancels what runs (its part file stays resumable) and waits for the queue thread to end.
    ~DownloadBridge() override;

    // `endpoint` empty: $PEREGRINE_HF_ENDPOINT, $HF_ENDPOINT or huggingface.co (peregrine::hf_endpoint).
    quint64 enqueue(const QString& repo, const QString& file, const QString& endpoint, const QString& folder);
    bool cancel(quint64 id);

signals:
    void updated(const peregrine::DownloadUpdate& update);

private:
    std::unique_ptr<DownloadQueue> queue_;
};

}  // namespace peregrine::ui

Q_DECLARE_METATYPE(peregrine::DownloadUpdate)
