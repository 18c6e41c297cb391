// download_file against a real HTTP server on loopback: verification, resume after a dropped
// connection (counting the bytes the server sent), wrong bytes, cancel, errors, redirects, proxies.
#include <QCryptographicHash>
#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <random>
#include <thread>

#include "loopback_http_server.h"
#include "peregrine/download.h"

using peregrine::DownloadError;
using peregrine::DownloadOptions;
using peregrine::DownloadProgress;
using peregrine::DownloadResult;
using peregrine::DownloadSource;
using peregrine::test::LoopbackHttpServer;
using peregrine::test::Resource;
using Kind = DownloadError::Kind;

namespace {

constexpr size_t kFileSize = 3 * 1024 * 1024 + 123;  // not a multiple of any chunk size

std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) c = char(rng());
    return s;
}

// Computed with Qt, not with the code under test.
std::string qt_sha256(const std::string& bytes) {
    return QCryptographicHash::hash(QByteArray::fromStdString(bytes), QCryptographicHash::Sha256).toHex().toStdString();
}

std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Names of the files in `dir`, sorted.
QStringList files_in(const QTemporaryDir& dir) {
    return QDir(dir.path()).entryList(QDir::Files | QDir::Hidden, QDir::Name);
}

// Runs `f`, which must throw DownloadError; returns it.
template <typename F>
DownloadError expect_error(F&& f) {
    try {
        f();
    } catch (const DownloadError& e) {
        return e;
    }
    throw std::runtime_error("expected a DownloadError, but the download succeeded");
}

}  // namespace

class TestFileDownload : public QObject {
    Q_OBJECT

    std::unique_ptr<LoopbackHttpServer> server_;
    std::unique_ptr<QTemporaryDir> dir_;
    std::string content_ = random_bytes(kFileSize, 42);
    std::string sha_ = qt_sha256(content_);

    DownloadSource source(const std::string& path, const std::string& name = "model-Q4_K_M.gguf") const {
        return {server_->url(path), name, sha_, content_.size()};
    }
    DownloadOptions options(int max_attempts = 1) const {
        DownloadOptions o;
        o.dir = dir_->path().toStdString();
        o.max_attempts = max_attempts;
        o.retry_delay_ms = 10;
        o.stall_timeout_s = 10;
        return o;
    }
    std::filesystem::path target(const std::string& name = "model-Q4_K_M.gguf") const {
        return std::filesystem::path(dir_->path().toStdString()) / name;
    }

private slots:
    void initTestCase() {
        // Loopback must not go through whatever proxy the machine running the tests uses.
        for (const char* var : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "HF_TOKEN"}) {
            qunsetenv(var);
        }
    }

    void init() {
        server_ = std::make_unique<LoopbackHttpServer>();
        dir_ = std::make_unique<QTemporaryDir>();
        QVERIFY(dir_->isValid());
    }

    void downloadsAndVerifies() {
        server_->put("/m.gguf", {.body = content_});
        std::vector<DownloadProgress> seen;
        DownloadOptions o = options();
        o.on_progress = [&](const DownloadProgress& p) { seen.push_back(p); };
        const DownloadResult r = peregrine::download_file(source("/m.gguf"), o);

        QCOMPARE(r.path, target());
        QVERIFY(r.verified);
        QCOMPARE(r.sha256, sha_);
        QCOMPARE(r.size, uint64_t(content_.size()));
        QCOMPARE(r.bytes_received, uint64_t(content_.size()));
        QVERIFY(read_all(r.path) == content_);
        QCOMPARE(files_in(*dir_), QStringList{"model-Q4_K_M.gguf"});  // no .part left behind
        QCOMPARE(server_->body_bytes_sent("/m.gguf"), uint64_t(content_.size()));
        QVERIFY(!seen.empty());
        QCOMPARE(seen.back().bytes_done, uint64_t(content_.size()));
        QCOMPARE(seen.back().bytes_total, uint64_t(content_.size()));
        for (size_t i = 1; i < seen.size(); ++i) QVERIFY(seen[i].bytes_done >= seen[i - 1].bytes_done);
    }

    void resumesAfterDroppedConnection_data() {
        QTest::addColumn<qint64>("dropAfter");
        QTest::newRow("after one byte") << qint64(1);
        QTest::newRow("after 1 MiB") << qint64(1 << 20);
        QTest::newRow("one byte short") << qint64(kFileSize - 1);
    }
    void resumesAfterDroppedConnection() {
        QFETCH(qint64, dropAfter);
        server_->put("/m.gguf", {.body = content_, .drop_after = dropAfter, .drops = 1});

        // First run: one attempt only, so the drop ends it and leaves the part file.
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/m.gguf"), options(1)); });
        QCOMPARE(e.kind(), Kind::Network);
        QVERIFY2(QString(e.what()).contains("resume"), e.what());
        QCOMPARE(files_in(*dir_), QStringList{"model-Q4_K_M.gguf.part"});
        QCOMPARE(std::filesystem::file_size(target().concat(".part")), uint64_t(dropAfter));

        // Second run resumes: the server sends only the rest, and the whole file verifies.
        std::vector<DownloadProgress> seen;
        DownloadOptions o = options(1);
        o.on_progress = [&](const DownloadProgress& p) { seen.push_back(p); };
        const DownloadResult r = peregrine::download_file(source("/m.gguf"), o);
        QVERIFY(r.verified);
        QCOMPARE(r.bytes_received, uint64_t(content_.size() - dropAfter));
        QVERIFY(read_all(r.path) == content_);
        QCOMPARE(files_in(*dir_), QStringList{"model-Q4_K_M.gguf"});
        const auto requests = server_->requests("/m.gguf");
        QCOMPARE(requests.size(), size_t(2));
        QCOMPARE(requests[1].headers.at("range"), "bytes=" + std::to_string(dropAfter) + "-");
        QCOMPARE(requests[1].status, 206);
        QCOMPARE(server_->body_bytes_sent("/m.gguf"), uint64_t(content_.size()));  // nothing fetched twice
        QVERIFY(!seen.empty());
        QCOMPARE(seen.back().resumed_from, uint64_t(dropAfter));
    }

    void retriesWithinOneCall() {
        server_->put("/m.gguf", {.body = content_, .drop_after = 700 * 1024, .drops = 2});
        const DownloadResult r = peregrine::download_file(source("/m.gguf"), options(4));
        QVERIFY(read_all(r.path) == content_);
        QCOMPARE(server_->requests("/m.gguf").size(), size_t(3));
        // Each attempt resumed where the previous one stopped: 700 KiB + 700 KiB + the rest.
        QCOMPARE(server_->body_bytes_sent("/m.gguf"), uint64_t(content_.size()));
    }

    void givesUpAfterMaxAttempts() {
        server_->put("/m.gguf", {.body = content_, .drop_after = 1000, .drops = 10});
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/m.gguf"), options(3)); });
        QCOMPARE(e.kind(), Kind::Network);
        QVERIFY2(QString(e.what()).contains("3 attempts"), e.what());
        QCOMPARE(std::filesystem::file_size(target().concat(".part")), uint64_t(3000));
    }

    void wrongBytesAreRejected() {
        server_->put("/m.gguf", {.body = content_, .corrupt = true});
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/m.gguf"), options()); });
        QCOMPARE(e.kind(), Kind::HashMismatch);
        QVERIFY2(QString(e.what()).contains("sha256") && QString(e.what()).contains("deleted"), e.what());
        QVERIFY2(QString(e.what()).contains(QString::fromStdString(sha_)), e.what());
        QCOMPARE(files_in(*dir_), QStringList{});  // neither a .gguf nor a part file
    }

    void wrongBytesAfterResumeAreRejected() {
        // The first half arrives intact, the resumed half is corrupt: the hash over both must fail.
        server_->put("/m.gguf", {.body = content_, .drop_after = 1 << 20, .drops = 1});
        expect_error([&] { peregrine::download_file(source("/m.gguf"), options(1)); });
        server_->put("/m.gguf", {.body = content_, .corrupt = true});
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/m.gguf"), options(1)); });
        QCOMPARE(e.kind(), Kind::HashMismatch);
        QCOMPARE(files_in(*dir_), QStringList{});
    }

    void sizeDifferentFromListingIsRejected() {
        server_->put("/m.gguf", {.body = content_.substr(0, 1000)});
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/m.gguf"), options()); });
        QCOMPARE(e.kind(), Kind::BadResponse);
        QVERIFY2(QString(e.what()).contains("1000 bytes"), e.what());
        for (const QString& f : files_in(*dir_)) QVERIFY(!f.endsWith(".gguf"));
    }

    void cancelKeepsResumablePart() {
        server_->put("/m.gguf", {.body = content_, .chunk_delay_ms = 20, .chunk_size = 32 * 1024});
        std::atomic<bool> cancel{false};
        DownloadOptions o = options();
        o.cancel = &cancel;
        o.on_progress = [&](const DownloadProgress& p) {
            if (p.bytes_done >= 256 * 1024) cancel = true;
        };
        const auto started = std::chrono::steady_clock::now();
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/m.gguf"), o); });
        QCOMPARE(e.kind(), Kind::Cancelled);
        QVERIFY(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));  // prompt, not at the end
        QCOMPARE(files_in(*dir_), QStringList{"model-Q4_K_M.gguf.part"});
        const uint64_t kept = std::filesystem::file_size(target().concat(".part"));
        QVERIFY(kept >= 256 * 1024 && kept < content_.size());
        QVERIFY(read_all(target().concat(".part")) == content_.substr(0, kept));

        server_->set_slow("/m.gguf", 0, 64 * 1024);
        const DownloadResult r = peregrine::download_file(source("/m.gguf"), options());
        QVERIFY(read_all(r.path) == content_);
        const auto requests = server_->requests("/m.gguf");
        QCOMPARE(requests.back().headers.at("range"), "bytes=" + std::to_string(kept) + "-");
        QCOMPARE(requests.back().body_bytes_sent, uint64_t(content_.size() - kept));
    }

    void notFoundIsClear() {
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/missing.gguf"), options(3)); });
        QCOMPARE(e.kind(), Kind::NotFound);
        QCOMPARE(e.http_status(), 404L);
        QVERIFY2(QString(e.what()).contains("model-Q4_K_M.gguf not found (HTTP 404"), e.what());
        QCOMPARE(server_->requests("/missing.gguf").size(), size_t(1));  // a 404 is not retried
        QCOMPARE(files_in(*dir_), QStringList{});
    }

    void serverErrorIsRetried() {
        server_->put("/m.gguf", {.body = "overloaded", .status = 500});
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/m.gguf"), options(2)); });
        QCOMPARE(e.kind(), Kind::Http);
        QCOMPARE(e.http_status(), 500L);
        QCOMPARE(server_->requests("/m.gguf").size(), size_t(2));
        QCOMPARE(files_in(*dir_), QStringList{});
    }

    void connectionRefusedIsClear() {
        const std::string url = server_->url("/m.gguf");
        server_.reset();  // nothing listens on that port any more
        const DownloadError e = expect_error([&] {
            peregrine::download_file({url, "model-Q4_K_M.gguf", sha_, content_.size()}, options(2));
        });
        QCOMPARE(e.kind(), Kind::Network);
        QVERIFY2(QString(e.what()).contains("2 attempts"), e.what());
        QCOMPARE(files_in(*dir_), QStringList{});
    }

    void serverWithoutRangeSupportStartsOver() {
        server_->put("/m.gguf", {.body = content_, .ranges = false});
        std::ofstream(target().concat(".part"), std::ios::binary) << "stale bytes from another file";
        const DownloadResult r = peregrine::download_file(source("/m.gguf"), options());
        QVERIFY(r.verified);
        QVERIFY(read_all(r.path) == content_);
        QCOMPARE(server_->requests("/m.gguf").size(), size_t(1));
    }

    void completePartIsVerifiedWithoutFetching() {
        server_->put("/m.gguf", {.body = content_});
        std::ofstream(target().concat(".part"), std::ios::binary) << content_;
        const DownloadResult r = peregrine::download_file(source("/m.gguf"), options());
        QVERIFY(r.verified);
        QCOMPARE(r.bytes_received, uint64_t(0));
        QCOMPARE(server_->requests().size(), size_t(0));
        QCOMPARE(files_in(*dir_), QStringList{"model-Q4_K_M.gguf"});
    }

    void partLargerThanFileStartsOver() {
        server_->put("/m.gguf", {.body = content_});
        std::ofstream(target().concat(".part"), std::ios::binary) << content_ << "trailing junk";
        const DownloadResult r = peregrine::download_file(source("/m.gguf"), options());
        QVERIFY(read_all(r.path) == content_);
        QCOMPARE(server_->requests("/m.gguf").at(0).headers.count("range"), size_t(0));
    }

    void unknownSizeUsesContentLength() {
        server_->put("/m.gguf", {.body = content_});
        DownloadSource s = source("/m.gguf");
        s.size = 0;
        s.sha256.clear();
        const DownloadResult r = peregrine::download_file(s, options());
        QVERIFY(!r.verified);
        QCOMPARE(r.sha256, sha_);  // still reported, so the user can check it
        QCOMPARE(r.size, uint64_t(content_.size()));
    }

    void alreadyPresentIsNotFetchedAgain() {
        server_->put("/m.gguf", {.body = content_});
        peregrine::download_file(source("/m.gguf"), options());
        const DownloadResult again = peregrine::download_file(source("/m.gguf"), options());
        QVERIFY(again.already_present);
        QCOMPARE(server_->requests("/m.gguf").size(), size_t(1));
    }

    void notEnoughDiskSpace() {
        server_->put("/m.gguf", {.body = content_});
        DownloadSource s = source("/m.gguf");
        s.size = uint64_t(1) << 55;  // 32 PiB
        const DownloadError e = expect_error([&] { peregrine::download_file(s, options()); });
        QCOMPARE(e.kind(), Kind::DiskFull);
        QVERIFY2(QString(e.what()).contains("not enough disk space"), e.what());
        QCOMPARE(server_->requests().size(), size_t(0));  // checked before asking the server
        QCOMPARE(files_in(*dir_), QStringList{});
    }

    void followsRedirectsWhenResuming() {
        // The Hub answers /resolve/ with a redirect to its CDN; the Range header must survive it.
        server_->put("/repo/resolve/main/m.gguf", {.redirect_to = "/cdn/blob"});
        server_->put("/cdn/blob", {.body = content_, .drop_after = 1 << 20, .drops = 1});
        expect_error([&] { peregrine::download_file(source("/repo/resolve/main/m.gguf"), options(1)); });
        const DownloadResult r = peregrine::download_file(source("/repo/resolve/main/m.gguf"), options(1));
        QVERIFY(read_all(r.path) == content_);
        QCOMPARE(server_->requests("/cdn/blob").back().headers.at("range"), std::string("bytes=1048576-"));
        QCOMPARE(server_->body_bytes_sent("/cdn/blob"), uint64_t(content_.size()));
    }

    void honoursProxyFromEnvironment() {
        // The test server doubles as the proxy: a request for a host that does not exist reaches it in
        // absolute form only if libcurl took http_proxy from the environment.
        server_->put("/models/m.gguf", {.body = content_});
        qputenv("http_proxy", QByteArray::fromStdString(server_->base_url()));
        DownloadSource s = source("/models/m.gguf");
        s.url = "http://models.peregrine.invalid/models/m.gguf";
        DownloadResult r;
        try {
            r = peregrine::download_file(s, options());
        } catch (...) {
            qunsetenv("http_proxy");
            throw;
        }
        qunsetenv("http_proxy");
        QVERIFY(r.verified);
        QCOMPARE(server_->requests("/models/m.gguf").at(0).target, s.url);
    }

    void reportsRateAndEta() {
        server_->put("/m.gguf", {.body = content_, .chunk_delay_ms = 20, .chunk_size = 64 * 1024});  // ~1 s
        std::vector<DownloadProgress> seen;
        DownloadOptions o = options();
        o.on_progress = [&](const DownloadProgress& p) { seen.push_back(p); };
        peregrine::download_file(source("/m.gguf"), o);
        const bool rate = std::any_of(seen.begin(), seen.end(), [](const DownloadProgress& p) {
            return p.bytes_per_second > 0 && p.eta_seconds >= 0 && p.bytes_done < p.bytes_total;
        });
        QVERIFY2(rate, "no progress report carried a rate and an ETA");
        QCOMPARE(seen.back().eta_seconds, 0.0);
    }

    void sameFileTwiceAtOnceIsRefused() {
        server_->put("/m.gguf", {.body = content_, .chunk_delay_ms = 20, .chunk_size = 64 * 1024});
        std::atomic<bool> cancel{false};
        std::atomic<bool> started{false};
        std::thread first([&] {
            DownloadOptions o = options();
            o.cancel = &cancel;
            o.on_progress = [&](const DownloadProgress&) { started = true; };
            try {
                peregrine::download_file(source("/m.gguf"), o);
            } catch (const DownloadError&) {
            }
        });
        while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const DownloadError e = expect_error([&] { peregrine::download_file(source("/m.gguf"), options()); });
        cancel = true;
        first.join();
        QCOMPARE(e.kind(), Kind::Filesystem);
        QVERIFY2(QString(e.what()).contains("being downloaded by another"), e.what());
    }

    void rejectsUnsafeNames_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("parent") << "../evil.gguf";
        QTest::newRow("subdir") << "a/b.gguf";
        QTest::newRow("hidden") << ".hidden.gguf";
        QTest::newRow("empty") << "";
    }
    void rejectsUnsafeNames() {
        QFETCH(QString, name);
        const DownloadError e = expect_error([&] {
            peregrine::download_file(source("/m.gguf", name.toStdString()), options());
        });
        QCOMPARE(e.kind(), Kind::Filesystem);
        QCOMPARE(server_->requests().size(), size_t(0));
    }
};

QTEST_GUILESS_MAIN(TestFileDownload)
#include "tst_file_download.moc"
