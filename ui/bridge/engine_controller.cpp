#include "bridge/engine_controller.h"

#include <algorithm>

#include "bridge/cancel_flag.h"
#include "bridge/engine_worker.h"

namespace peregrine::ui {

EngineController::EngineController(QObject* parent)
    : QObject(parent), cancel_(std::make_shared<CancelFlag>()), worker_(new EngineWorker(cancel_)) {
    qRegisterMetaType<LoadRequest>();
    qRegisterMetaType<ModelSummary>();
    qRegisterMetaType<GenerationRequest>();
    qRegisterMetaType<StreamChunk>();
    qRegisterMetaType<GenerationOutcome>();
    qRegisterMetaType<LiveStats>();
    qRegisterMetaType<EngineSnapshot>();

    thread_.setObjectName(QStringLiteral("engine"));
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);

    connect(this, &EngineController::postLoad, worker_, &EngineWorker::load);
    connect(this, &EngineController::postGenerate, worker_, &EngineWorker::generate);
    connect(this, &EngineController::postUnload, worker_, &EngineWorker::unload);
    connect(this, &EngineController::postCancel, worker_, &EngineWorker::cancel);
    connect(worker_, &EngineWorker::engineStats, this, &EngineController::engineStats);

    connect(worker_, &EngineWorker::loadProgress, this, [this](quint64 id, int percent, const QString& stage) {
        if (id == loadId_) emit loadProgress(percent, stage);
    });
    connect(worker_, &EngineWorker::loaded, this, &EngineController::onLoaded);
    connect(worker_, &EngineWorker::loadFailed, this, &EngineController::onLoadFailed);
    connect(worker_, &EngineWorker::chunk, this, &EngineController::onChunk);
    connect(worker_, &EngineWorker::finished, this, &EngineController::onFinished);
    thread_.start();
}

EngineController::~EngineController() {
    // Everything issued so far is cancelled, so the worker returns from the engine at its next check.
    cancel_->cancelThrough(nextId_);
    thread_.quit();
    thread_.wait();
}

quint64 EngineController::loadModel(const QString& path, const LoadOptions& options) {
    // A new load supersedes a running one and any generation: both are cancelled.
    cancel_->cancelThrough(nextId_ - 1);
    hasModel_ = false;
    model_ = {};
    loadId_ = nextId_++;
    emit loadStarted(path);
    emit postLoad({loadId_, path, options});
    return loadId_;
}

void EngineController::cancelLoad() {
    if (loadId_ != 0) cancel_->cancelThrough(loadId_);
}

void EngineController::unloadModel() {
    cancel_->cancelThrough(nextId_ - 1);
    loadId_ = 0;
    hasModel_ = false;
    model_ = {};
    emit postUnload();
    emit modelUnloaded();
}

quint64 EngineController::generate(const QList<ChatTurn>& messages, const GenerationOptions& options,
                                   int alternatives) {
    const quint64 id = nextId_++;
    running_.insert(id);
    emit postGenerate({id, messages, options, std::max(1, alternatives)});
    return id;
}

void EngineController::stop(quint64 requestId) {
    if (!running_.contains(requestId)) return;
    cancel_->cancel(requestId);
    emit postCancel(requestId);
}

void EngineController::stopAll() {
    for (const quint64 id : running_) stop(id);
}

void EngineController::onLoaded(quint64 id, const ModelSummary& summary) {
    if (id != loadId_) return;
    loadId_ = 0;
    hasModel_ = true;
    model_ = summary;
    emit modelLoaded(summary);
}

void EngineController::onLoadFailed(quint64 id, const QString& message, bool cancelled) {
    if (id != loadId_) return;
    loadId_ = 0;
    emit loadFailed(message, cancelled);
}

// Generation results are always forwarded, also for cancelled or superseded requests: whoever asked
// for a reply (keyed by request id) must see it end, with the text produced until the cancel.
void EngineController::onChunk(const StreamChunk& chunk) { emit textArrived(chunk.requestId, chunk.text, chunk.stats); }

void EngineController::onFinished(const GenerationOutcome& outcome) {
    running_.remove(outcome.requestId);
    cancel_->forget(outcome.requestId);
    emit generationFinished(outcome);
}

}  // namespace peregrine::ui
