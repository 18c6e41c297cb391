// DownloadQueue: one worker thread taking jobs in order, so the app can queue several models and show
// each one's progress without blocking its GUI thread.
#include "peregrine/download.h"
#include "peregrine/log.h"

#include <type_traits>
#include <vector>

namespace peregrine {

DownloadQueue::DownloadQueue(Listener listener) : listener_(std::move(listener)) {
    worker_ = std::thread([this] { run(); });
}

DownloadQueue::~DownloadQueue() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        queued_.clear();
        if (running_cancel_) running_cancel_->store(true);
    }
    changed_.notify_all();
    worker_.join();
}

uint64_t DownloadQueue::enqueue(DownloadSource source, DownloadOptions options) {
    std::lock_guard lock(mutex_);
    const uint64_t id = next_id_++;
    queued_.push_back({id, std::move(source), std::move(options), std::make_shared<std::atomic<bool>>(false)});
    changed_.notify_all();
    return id;
}

uint64_t DownloadQueue::enqueue(HubFileRef ref, DownloadOptions options) {
    std::lock_guard lock(mutex_);
    const uint64_t id = next_id_++;
    queued_.push_back({id, std::move(ref), std::move(options), std::make_shared<std::atomic<bool>>(false)});
    changed_.notify_all();
    return id;
}

bool DownloadQueue::cancel(uint64_t id) {
    std::optional<Job> dropped;
    {
        std::lock_guard lock(mutex_);
        if (id == running_id_ && running_cancel_) {
            running_cancel_->store(true);
            return true;
        }
        for (auto it = queued_.begin(); it != queued_.end(); ++it) {
            if (it->id == id) {
                dropped = std::move(*it);
                queued_.erase(it);
                break;
            }
        }
    }
    if (!dropped) return false;
    DownloadUpdate update;
    update.id = id;
    update.state = DownloadState::Cancelled;
    update.error = "cancelled before it started";
    update.error_kind = DownloadError::Kind::Cancelled;
    notify(update);
    changed_.notify_all();
    return true;
}

void DownloadQueue::cancel_all() {
    std::vector<uint64_t> ids;
    {
        std::lock_guard lock(mutex_);
        for (const Job& job : queued_) ids.push_back(job.id);
        if (running_cancel_) ids.push_back(running_id_);
    }
    for (const uint64_t id : ids) cancel(id);
}

void DownloadQueue::wait_idle() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return queued_.empty() && running_id_ == 0; });
}

void DownloadQueue::notify(const DownloadUpdate& update) {
    // One call at a time, so a listener needs no locking of its own; recursive so that a listener may
    // call cancel() from inside.
    std::lock_guard lock(listener_mutex_);
    listener_(update);
}

void DownloadQueue::run() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
            if (stopping_) return;
            job = std::move(queued_.front());
            queued_.pop_front();
            running_id_ = job.id;
            running_cancel_ = job.cancel;
        }
        run_job(job);
        {
            std::lock_guard lock(mutex_);
            running_id_ = 0;
            running_cancel_.reset();
        }
        changed_.notify_all();
    }
}

void DownloadQueue::run_job(Job& job) {
    DownloadUpdate update;
    update.id = job.id;
    const auto name_of = [](const auto& what) {
        if constexpr (std::is_same_v<std::decay_t<decltype(what)>, DownloadSource>) {
            return what.file_name;
        } else {
            return what.repo + (what.file.empty() ? "" : ":" + what.file);
        }
    };
    update.name = std::visit(name_of, job.what);
    update.state = DownloadState::Running;
    notify(update);
    try {
        DownloadSource source;
        if (const auto* ref = std::get_if<HubFileRef>(&job.what)) {
            source = resolve_hub_file(*ref, job.options.token);
            update.name = source.file_name;
        } else {
            source = std::get<DownloadSource>(job.what);
        }
        DownloadOptions options = job.options;
        options.cancel = job.cancel.get();
        options.on_progress = [&](const DownloadProgress& progress) {
            update.progress = progress;
            notify(update);
        };
        if (job.cancel->load()) {
            throw DownloadError(DownloadError::Kind::Cancelled, "download cancelled before it started");
        }
        const DownloadResult result = download_file(source, options);
        update.state = DownloadState::Finished;
        update.path = result.path;
    } catch (const DownloadError& e) {
        update.state = e.kind() == DownloadError::Kind::Cancelled ? DownloadState::Cancelled : DownloadState::Failed;
        update.error = e.what();
        update.error_kind = e.kind();
    } catch (const std::exception& e) {
        update.state = DownloadState::Failed;
        update.error = e.what();
    }
    if (update.state == DownloadState::Failed) log_warn("download {} failed: {}", update.name, update.error);
    notify(update);
}

}  // namespace peregrine
