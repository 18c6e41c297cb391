// Scans the model folders in a background thread and reports each model as its header is read, so the
// picker fills in while the UI stays responsive. A new scan (or destruction) cancels the running one
// between files. Duplicates (the same file reached through two folders or a symlink) are reported once.
#pragma once

#include <QList>
#include <QObject>
#include <QThread>

#include <atomic>
#include <memory>

#include "picker/model_candidate.h"
#include "picker/model_locations.h"

namespace peregrine::ui {

class ScanWorker : public QObject {
    Q_OBJECT

public:
    explicit ScanWorker(std::shared_ptr<std::atomic<quint64>> current) : current_(std::move(current)) {}

public slots:
    void scan(quint64 scanId, const QList<peregrine::ui::ScanRoot>& roots);

signals:
    void found(quint64 scanId, const peregrine::ui::ModelCandidate& model);
    void finished(quint64 scanId, int count);

private:
    bool cancelled(quint64 scanId) const { return current_->load() != scanId; }
    std::shared_ptr<std::atomic<quint64>> current_;  // the scan the GUI still wants
};

class ModelScanner : public QObject {
    Q_OBJECT

public:
    explicit ModelScanner(QObject* parent = nullptr);
    ~ModelScanner() override;

    void scan(const QList<ScanRoot>& roots);
    bool isScanning() const { return scanning_; }

signals:
    void scanStarted();
    void modelFound(const peregrine::ui::ModelCandidate& model);
    void finished(int count);
    void postScan(quint64 scanId, const QList<peregrine::ui::ScanRoot>& roots);  // into the worker

private:
    QThread thread_;
    std::shared_ptr<std::atomic<quint64>> current_ = std::make_shared<std::atomic<quint64>>(0);
    quint64 nextId_ = 1;
    bool scanning_ = false;
};

}  // namespace peregrine::ui

Q_DECLARE_METATYPE(peregrine::ui::ScanRoot)
