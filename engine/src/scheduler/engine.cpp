// Engine: an EngineCore stepped by a thread of its own. Callers never touch the core: submissions and
// cancellations go through queues under a mutex, and the thread applies them between steps, so a
// step (and the callbacks it fires) never runs while another thread changes the scheduler.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "peregrine/engine.h"
#include "peregrine/error.h"
#include "peregrine/log.h"

namespace peregrine {

struct Engine::Impl {
    struct Submission {
        uint64_t id;
        EngineRequest request;
        UpdateCallback on_update;
    };

    EngineCore core;
    mutable std::mutex mutex;
    std::condition_variable wake;
    std::vector<Submission> submissions;  // guarded by mutex
    std::vector<uint64_t> cancellations;  // guarded by mutex
    bool stopping = false;                // guarded by mutex
    bool core_busy = false;               // guarded by mutex: the core had work after its last step
    EngineStats snapshot;                 // guarded by mutex
    std::atomic<uint64_t> next_id{1};
    std::thread thread;

    Impl(const LoadedModel& model, const EngineParams& params) : core(model, params) {
        snapshot = core.stats();
        thread = std::thread([this] { run(); });
    }

    // Statistics for other threads: the core as it is between steps.
    void publish_stats() {
        const EngineStats stats = core.stats();
        std::lock_guard lock(mutex);
        core_busy = core.has_work();
        snapshot = stats;
    }

    void run() {
        for (;;) {
            std::vector<Submission> new_requests;
            std::vector<uint64_t> cancels;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return stopping || core_busy || !submissions.empty() || !cancellations.empty(); });
                if (stopping) break;
                new_requests.swap(submissions);
                cancels.swap(cancellations);
            }
            for (Submission& s : new_requests) {
                try {
                    core.submit(s.id, s.request, s.on_update);
                } catch (const std::exception& e) {
                    // Validated in submit() already; a failure here is reported like a failed step.
                    RequestUpdate update;
                    update.request_id = s.id;
                    update.finished = update.all_finished = true;
                    update.stop_reason = StopReason::Cancelled;
                    update.error = e.what();
                    if (s.on_update) s.on_update(update);
                }
            }
            for (uint64_t id : cancels) core.cancel(id);
            if (!new_requests.empty() || !cancels.empty()) publish_stats();
            if (core.has_work()) core.step();
            publish_stats();
        }
        core.cancel_all();
        // Requests submitted after the last step never reached the core; they end here.
        std::vector<Submission> left;
        {
            std::lock_guard lock(mutex);
            left.swap(submissions);
        }
        for (Submission& s : left) {
            RequestUpdate update;
            update.request_id = s.id;
            update.finished = update.all_finished = true;
            update.stop_reason = StopReason::Cancelled;
            if (s.on_update) s.on_update(update);
        }
    }
};

Engine::Engine(const LoadedModel& model, const EngineParams& params) : impl_(std::make_unique<Impl>(model, params)) {}

Engine::~Engine() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    impl_->thread.join();
}

uint64_t Engine::submit(const EngineRequest& request, UpdateCallback on_update) {
    impl_->core.validate(request);
    const uint64_t id = impl_->next_id.fetch_add(1);
    {
        std::lock_guard lock(impl_->mutex);
        impl_->submissions.push_back({id, request, std::move(on_update)});
    }
    impl_->wake.notify_all();
    return id;
}

void Engine::cancel(uint64_t request_id) {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->cancellations.push_back(request_id);
    }
    impl_->wake.notify_all();
}

EngineStats Engine::stats() const {
    std::lock_guard lock(impl_->mutex);
    EngineStats s = impl_->snapshot;
    s.n_waiting += static_cast<int>(impl_->submissions.size());  // queued here, not in the core yet
    return s;
}

const LoadedModel& Engine::model() const { return impl_->core.model(); }

}  // namespace peregrine
