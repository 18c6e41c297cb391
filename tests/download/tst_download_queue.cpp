// DownloadQueue, the app's way to download: jobs run one at a time in order on the queue's thread,
// updates reach a listener, cancel works on queued and running jobs, Hub references are resolved there.
#include <QCryptographicHash>
#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <mutex>
#include <nlohmann/json.hpp>

#include "loopback_http_server.h"
#include "peregrine/download.h"

using peregrine::DownloadOptions;
using peregrine::DownloadQueue;
using peregrine::DownloadSource;
using peregrine::DownloadState;
using peregrine::DownloadUpdate;
using peregrine::test::LoopbackHttpServer;
using peregrine::test::Resource;

namespace {

std::string bytes(size_t n, char seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = char(seed + i * 13 + i / 97);
    return s;
}

std::string sha(const std::string& s) {
    return QCryptographicHash::hash(QByteArray::fromStdString(s), QCryptographicHash::Sha256).toHex().toStdString();
}

// Collects updates from the queue's thread.
class Recorder {
public:
    void operator()(const DownloadUpdate& u) {
        std::lock_guard lock(mutex_);
        updates_.push_back(u);
    }
    std::vector<DownloadUpdate> updates() {
        std::lock_guard lock(mutex_);
        return updates_;
    }
    // The last state reported for job `id`.
    std::optional<DownloadUpdate> last(uint64_t id) {
        std::lock_guard lock(mutex_);
        for (auto it = updates_.rbegin(); it != updates_.rend(); ++it) {
            if (it->id == id) return *it;
        }
        return std::nullopt;
    }
    // Order in which jobs first reported Running.
    std::vector<uint64_t> start_order() {
        std::lock_guard lock(mutex_);
        std::vector<uint64_t> order;
        for (const DownloadUpdate& u : updates_) {
            if (u.state == DownloadState::Running && std::find(order.begin(), order.end(), u.id) == order.end()) {
                order.push_back(u.id);
            }
        }
        return order;
    }

private:
    std::mutex mutex_;
    std::vector<DownloadUpdate> updates_;
};

}  // namespace

class TestDownloadQueue : public QObject {
    Q_OBJECT

    std::unique_ptr<LoopbackHttpServer> server_;
    std::unique_ptr<QTemporaryDir> dir_;
    std::vector<std::string> contents_ = {bytes(300000, 1), bytes(200000, 2), bytes(100000, 3)};

    DownloadSource source(int i) const {
        const std::string name = "m" + std::to_string(i) + ".gguf";
        return {server_->url("/" + name), name, sha(contents_[i]), contents_[i].size()};
    }
    DownloadOptions options() const {
        DownloadOptions o;
        o.dir = dir_->path().toStdString();
        o.max_attempts = 1;
        return o;
    }
    bool wait_for(Recorder& r, uint64_t id, DownloadState state, int timeout_ms = 10000) {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeout_ms) {
            const auto u = r.last(id);
            if (u && u->state == state) return true;
            QThread::msleep(5);
        }
        return false;
    }

    bool wait_for_bytes(Recorder& r, uint64_t id, int timeout_ms = 10000) {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeout_ms) {
            const auto u = r.last(id);
            if (u && u->state == DownloadState::Running && u->progress.bytes_done > 0) return true;
            QThread::msleep(5);
        }
        return false;
    }

private slots:
    void initTestCase() {
        for (const char* var : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "HF_TOKEN",
                                "PEREGRINE_HF_ENDPOINT", "HF_ENDPOINT"}) {
            qunsetenv(var);
        }
    }
    void init() {
        server_ = std::make_unique<LoopbackHttpServer>();
        dir_ = std::make_unique<QTemporaryDir>();
        for (int i = 0; i < 3; ++i) {
            server_->put("/m" + std::to_string(i) + ".gguf", {.body = contents_[i]});
        }
    }

    void runsJobsInOrder() {
        Recorder r;
        DownloadQueue queue(std::ref(r));
        const uint64_t a = queue.enqueue(source(0), options());
        const uint64_t b = queue.enqueue(source(1), options());
        const uint64_t c = queue.enqueue(source(2), options());
        queue.wait_idle();
        QCOMPARE(r.start_order(), (std::vector<uint64_t>{a, b, c}));
        for (const uint64_t id : {a, b, c}) {
            const auto u = r.last(id);
            QVERIFY(u);
            QCOMPARE(u->state, DownloadState::Finished);
            QVERIFY(std::filesystem::exists(u->path));
        }
        QCOMPARE(r.last(a)->name, std::string("m0.gguf"));
        // Progress arrived while running, with the file's size as the total.
        const auto updates = r.updates();
        QVERIFY(std::any_of(updates.begin(), updates.end(), [&](const DownloadUpdate& u) {
            return u.id == a && u.state == DownloadState::Running && u.progress.bytes_total == contents_[0].size();
        }));
    }

    void cancelsQueuedAndRunningJobs() {
        server_->put("/m0.gguf", {.body = contents_[0], .chunk_delay_ms = 30, .chunk_size = 8 * 1024});
        Recorder r;
        DownloadQueue queue(std::ref(r));
        const uint64_t slow = queue.enqueue(source(0), options());
        const uint64_t waiting = queue.enqueue(source(1), options());
        const uint64_t after = queue.enqueue(source(2), options());
        // Cancel only once bytes have landed: a part file that never got a byte is removed on purpose.
        QVERIFY(wait_for_bytes(r, slow));
        QVERIFY(queue.cancel(waiting));
        QVERIFY(queue.cancel(slow));
        queue.wait_idle();
        QCOMPARE(r.last(slow)->state, DownloadState::Cancelled);
        QCOMPARE(r.last(waiting)->state, DownloadState::Cancelled);
        QCOMPARE(r.last(after)->state, DownloadState::Finished);  // the queue goes on after a cancel
        QCOMPARE(server_->requests("/m1.gguf").size(), size_t(0));  // never started
        QVERIFY(std::filesystem::exists(std::filesystem::path(dir_->path().toStdString()) / "m0.gguf.part"));
        QVERIFY(!queue.cancel(after));  // already done
        QVERIFY(!queue.cancel(12345));
    }

    void reportsFailures() {
        Recorder r;
        DownloadQueue queue(std::ref(r));
        DownloadSource missing = source(0);
        missing.url = server_->url("/nothing.gguf");
        const uint64_t id = queue.enqueue(missing, options());
        queue.wait_idle();
        const auto u = r.last(id);
        QCOMPARE(u->state, DownloadState::Failed);
        QCOMPARE(u->error_kind, std::optional(peregrine::DownloadError::Kind::NotFound));
        QVERIFY2(QString::fromStdString(u->error).contains("404"), u->error.c_str());
    }

    void resolvesHubReferencesOnItsThread() {
        const nlohmann::json tree = nlohmann::json::array(
            {{{"type", "file"}, {"path", "m-Q4_K_M.gguf"}, {"size", contents_[1].size()}, {"oid", "1"},
              {"lfs", {{"oid", sha(contents_[1])}, {"size", contents_[1].size()}}}}});
        server_->put("/api/models/o/r/tree/main", {.body = tree.dump()});
        server_->put("/o/r/resolve/main/m-Q4_K_M.gguf", {.body = contents_[1]});
        Recorder r;
        DownloadQueue queue(std::ref(r));
        const uint64_t id = queue.enqueue(peregrine::HubFileRef{"o/r", "Q4_K_M", server_->base_url()}, options());
        queue.wait_idle();
        const auto u = r.last(id);
        QCOMPARE(u->state, DownloadState::Finished);
        QCOMPARE(u->name, std::string("m-Q4_K_M.gguf"));
        QCOMPARE(u->path.filename().string(), std::string("m-Q4_K_M.gguf"));
    }

    void destructionCancelsWithoutHanging() {
        server_->put("/m0.gguf", {.body = contents_[0], .chunk_delay_ms = 50, .chunk_size = 4 * 1024});
        Recorder r;
        QElapsedTimer t;
        uint64_t id = 0;
        {
            DownloadQueue queue(std::ref(r));
            id = queue.enqueue(source(0), options());
            queue.enqueue(source(1), options());
            QVERIFY(wait_for(r, id, DownloadState::Running));
            t.start();
        }
        QVERIFY(t.elapsed() < 3000);
        QCOMPARE(r.last(id)->state, DownloadState::Cancelled);
    }
};

QTEST_GUILESS_MAIN(TestDownloadQueue)
#include "tst_download_queue.moc"
