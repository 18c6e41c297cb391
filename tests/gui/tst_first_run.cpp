// The first run, in the real app window (offscreen): with every model folder empty (HOME and the XDG
// folders point at a temp tree) the welcome page replaces the chat and offers a test catalogue whose
// models a Hub-like loopback server serves (tree listing with LFS sha256, /resolve/ with the bytes of the
// real stories260K model). Downloading one shows progress, verifies it, loads it and opens the chat, where
// a reply streams. Also: "Add folder" with a model in it leaves the welcome page; a 404 and wrong bytes
// show errors with Retry and leave no .gguf behind; Cancel keeps the part file and Resume continues it.
#include <QCheckBox>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "bridge/engine_controller.h"
#include "chat/chat_input.h"
#include "chat/chat_session.h"
#include "chat/message_list_model.h"
#include "download/loopback_http_server.h"
#include "peregrine/model_catalog.h"
#include "store/chat_store.h"
#include "support/test_paths.h"
#include "welcome/catalog_entries.h"
#include "welcome/catalog_row.h"
#include "welcome/download_bridge.h"
#include "welcome/welcome_page.h"
#include "window/chat_panel.h"
#include "window/main_window.h"
#include "window/notice_bar.h"

using nlohmann::json;
using peregrine::test::LoopbackHttpServer;
using peregrine::test::Resource;
using namespace peregrine::ui;

namespace {

// From shared/models/README.md: an independent record of the bytes the server hands out.
constexpr const char* kModelSha = "b902b9e3e81cb6f2dc3e354ca1769c9fc26693daeabe228a3e7190ea10f04f7f";

json catalogModel(const std::string& id, const std::string& repo, const std::string& file, uint64_t size) {
    // stories260K's shape: 5 layers, 4 KV heads of 8, trained at 512 tokens.
    return {{"id", id}, {"name", id + " model"}, {"description", "A test model."}, {"repo", repo},
            {"architecture", "llama"}, {"parameters", 260000}, {"context_length", 512}, {"n_layer", 5},
            {"n_head_kv", 4}, {"head_dim", 8}, {"chat_template", "none"}, {"license", "mit"},
            {"default_quantization", "Q8_0"},
            {"files", json::array({{{"quantization", "Q8_0"}, {"file", file}, {"size", size}}})}};
}

json lfsEntry(const std::string& path, uint64_t size, const std::string& sha256) {
    return json::array({{{"type", "file"}, {"oid", "0123abcd"}, {"size", size}, {"path", path},
                         {"lfs", {{"oid", sha256}, {"size", size}, {"pointerSize", 134}}}}});
}

QString shaOfFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(&f);
    return hash.result().toHex();
}

QStringList filesIn(const QString& folder) { return QDir(folder).entryList(QDir::Files); }

}  // namespace

class TestFirstRun : public QObject {
    Q_OBJECT

    const std::string model_ = peregrine::test::read_file(peregrine::test::model_path("stories260K-q8_0.gguf"));
    std::unique_ptr<QTemporaryDir> home_;
    std::unique_ptr<LoopbackHttpServer> server_;

    QString catalogPath() const { return home_->filePath("catalog.json"); }
    std::unique_ptr<QSettings> settings() const {
        return std::make_unique<QSettings>(home_->filePath("settings.ini"), QSettings::IniFormat);
    }
    std::string repoPath(const std::string& repo, const std::string& file) const {
        return "/" + repo + "/resolve/main/" + file;
    }
    // A repository as the Hub lists it; `bytes` served at /resolve/ unless `serve` is false (a 404).
    void putRepo(const std::string& repo, const std::string& file, Resource bytes, bool serve = true) {
        server_->put("/api/models/" + repo + "/tree/main", {.body = lfsEntry(file, model_.size(), kModelSha).dump()});
        if (serve) server_->put(repoPath(repo, file), std::move(bytes));
    }

    // A window on the temp home that has gone through the start-up check and shows the welcome page.
    std::unique_ptr<MainWindow> openFirstRun(std::unique_ptr<QSettings> settings) {
        auto window = std::make_unique<MainWindow>(ChatStore::openInMemory(), std::move(settings));
        window->show();
        if (!QTest::qWaitForWindowExposed(window.get())) return nullptr;
        if (window->welcomePage()->isVisible()) return nullptr;  // not before the scan said so
        window->loadLastModel();
        if (!QTest::qWaitFor([&] { return window->welcomePage()->isVisible(); }, 10000)) return nullptr;
        return window;
    }

    void chatWorks(MainWindow& window, const QString& expectedPath) {
        QTRY_VERIFY_WITH_TIMEOUT(window.engine().hasModel(), 30000);
        QCOMPARE(window.engine().model().path, expectedPath);
        QVERIFY(!window.welcomePage()->isVisible());
        QVERIFY(window.chatPanel()->isVisible());
        ChatSession& session = window.session();
        QSignalSpy finished(&session, &ChatSession::replyFinished);
        QSignalSpy live(&session, &ChatSession::liveStats);
        ChatInput* input = window.chatPanel()->input();
        input->setFocus();
        QTest::keyClicks(input, "Once upon a time");
        QTest::keyClick(input, Qt::Key_Return);
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 30000);
        QVERIFY(!live.isEmpty());  // the reply streamed in pieces
        QCOMPARE(session.messages()->rowCount(), 2);
        QVERIFY(!session.messages()->at(1).content.trimmed().isEmpty());
        QCOMPARE(session.messages()->at(1).state, MessageState::Complete);
    }

private slots:
    void initTestCase() {
        QCOMPARE(QCryptographicHash::hash(QByteArray::fromStdString(model_), QCryptographicHash::Sha256).toHex(),
                 QByteArray(kModelSha));
    }

    void init() {
        // Nothing of the real machine's: no models, settings, proxies or endpoint from outside.
        home_ = std::make_unique<QTemporaryDir>();
        QVERIFY(home_->isValid());
        qputenv("HOME", home_->path().toUtf8());
        for (const char* xdg : {"XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"}) {
            qputenv(xdg, home_->filePath(QString(xdg).toLower()).toUtf8());
        }
        for (const char* var : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "HF_TOKEN",
                                "PEREGRINE_HF_ENDPOINT", "HF_ENDPOINT"}) {
            qunsetenv(var);
        }
        server_ = std::make_unique<LoopbackHttpServer>();
        json catalog = {{"format", 1}, {"recommended", "stories"}, {"models", json::array()}};
        catalog["models"].push_back(
            catalogModel("stories", "test/stories260K-GGUF", "stories260K-Q8_0.gguf", model_.size()));
        catalog["models"].push_back(catalogModel("flaky", "test/flaky-GGUF", "flaky-Q8_0.gguf", model_.size()));
        catalog["models"].push_back(catalogModel("damaged", "test/damaged-GGUF", "damaged-Q8_0.gguf", model_.size()));
        catalog["models"].push_back(catalogModel("huge", "test/huge-GGUF", "huge-Q8_0.gguf", uint64_t(1) << 44));
        QFile file(catalogPath());
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray::fromStdString(catalog.dump(2)));
        file.close();
        qputenv("PEREGRINE_CATALOG", catalogPath().toUtf8());
    }

    void cleanup() { server_.reset(); }

    void fitMarksAndRecommendation() {
        const peregrine::ModelCatalog catalog = peregrine::load_model_catalog(catalogPath().toStdString());
        const qint64 gib = qint64(1) << 30;
        const QList<CatalogEntry> roomy = catalogEntries(catalog, 0, 8 * gib);
        QCOMPARE(roomy.size(), 4);
        QCOMPARE(roomy[0].id, QString("stories"));
        QCOMPARE(roomy[0].fit, Fit::Fits);
        QVERIFY(roomy[0].recommended);
        QCOMPARE(roomy[0].contextLength, 512);  // setting 0: the model's own context
        QCOMPARE(roomy[3].fit, Fit::WontFit);
        const auto recommended = [](const CatalogEntry& e) { return e.recommended; };
        QCOMPARE(int(std::count_if(roomy.begin(), roomy.end(), recommended)), 1);

        // Between 80% and 100% of what is available: tight, and not comfortable enough to recommend.
        const qint64 needed = roomy[0].runBytes;
        const QList<CatalogEntry> tight = catalogEntries(catalog, 0, needed * 100 / 90);
        QCOMPARE(tight[0].fit, Fit::Tight);
        QVERIFY(!tight[0].recommended);
        const QList<CatalogEntry> unknown = catalogEntries(catalog, 0, 0);  // memory unreadable
        QCOMPARE(unknown[3].fit, Fit::Tight);
        QVERIFY(std::none_of(unknown.begin(), unknown.end(), recommended));
        // A context setting smaller than the model's changes the estimate and is what is shown.
        const QList<CatalogEntry> shortContext = catalogEntries(catalog, 128, 8 * gib);
        QCOMPARE(shortContext[0].contextLength, 128);
        QVERIFY(shortContext[0].runBytes < needed);
    }

    void firstRunDownloadsLoadsAndChats() {
        putRepo("test/stories260K-GGUF", "stories260K-Q8_0.gguf",
                {.body = model_, .chunk_delay_ms = 25, .chunk_size = 8 * 1024});  // about 1.2 s
        auto settings = this->settings();
        settings->setValue("download/endpoint", QString::fromStdString(server_->base_url()));  // from settings
        auto window = openFirstRun(std::move(settings));
        QVERIFY(window);
        WelcomePage* welcome = window->welcomePage();
        QVERIFY(!window->chatPanel()->isVisible());
        QVERIFY(welcome->catalogProblem().isEmpty());
        QCOMPARE(welcome->endpoint(), QString::fromStdString(server_->base_url()));
        QCOMPARE(welcome->recommendedId(), QString("stories"));
        QVERIFY(welcome->row("stories")->isVisible());
        QVERIFY(!welcome->row("huge")->isVisible());  // needs more memory than there is: hidden...
        auto* showAll = welcome->findChild<QCheckBox*>();
        QVERIFY(showAll && showAll->isVisible());
        showAll->click();                              // ...until asked for
        QVERIFY(welcome->row("huge")->isVisible());
        QVERIFY(welcome->row("huge")->findChild<QLabel*>("details")->text().contains("won't fit"));
        // The folders it searched, the app's own (where the download goes) first.
        QVERIFY(welcome->modelsFolder().startsWith(home_->path() + "/xdg_data_home/"));
        const QString appFolder = "~" + welcome->modelsFolder().mid(home_->path().size());  // shown from the home
        QVERIFY2(welcome->foldersText().startsWith("Peregrine: " + appFolder + " (not present)\n"),
                 qPrintable(welcome->foldersText()));
        QVERIFY(welcome->foldersText().contains("Ollama: ~/.ollama/models (not present)"));

        CatalogRow* row = welcome->row("stories");
        QStringList progressTexts;
        QList<int> bars;
        connect(welcome->downloads(), &DownloadBridge::updated, this, [&](const peregrine::DownloadUpdate& u) {
            if (u.state != peregrine::DownloadState::Running) return;
            if (u.progress.bytes_done == 0 || u.progress.bytes_done >= u.progress.bytes_total) return;
            progressTexts << row->statusText();  // the page updated the row before this runs
            bars << row->progressBar()->value();
            QVERIFY(row->cancelButton()->isVisible());
        });
        QSignalSpy downloaded(welcome, &WelcomePage::modelDownloaded);
        QTest::mouseClick(row->downloadButton(), Qt::LeftButton);
        QVERIFY(row->progressBar()->isVisible());
        QTRY_COMPARE_WITH_TIMEOUT(downloaded.size(), 1, 30000);
        const QString path = welcome->modelsFolder() + "/stories260K-Q8_0.gguf";
        QCOMPARE(downloaded[0][0].toString(), path);
        QCOMPARE(shaOfFile(path), QString(kModelSha));
        QCOMPARE(filesIn(welcome->modelsFolder()), QStringList{"stories260K-Q8_0.gguf"});  // no .part left

        // Progress was shown while it ran: bytes of the total, then rate and time left.
        QVERIFY2(progressTexts.size() >= 2, qPrintable(progressTexts.join(" | ")));
        QVERIFY2(progressTexts.first().contains(QRegularExpression(R"(^[\d.]+ [KM]?i?B of 370\.3 KiB)")),
                 qPrintable(progressTexts.first()));
        QVERIFY2(progressTexts.last().contains(QRegularExpression(R"(/s · about \d+ s left)")),
                 qPrintable(progressTexts.join(" | ")));
        QVERIFY(bars.first() > 0 && bars.last() < 1000 && bars.first() <= bars.last());

        chatWorks(*window, path);
        QVERIFY(window->noticeBar()->text().isEmpty());
    }

    void addFolderWithAModelLeavesTheWelcomePage() {
        auto window = openFirstRun(settings());
        QVERIFY(window);
        WelcomePage* welcome = window->welcomePage();
        const QString folder = home_->filePath("my models");
        QVERIFY(QDir().mkpath(folder));

        welcome->addFolder(home_->filePath("empty"));  // nothing there: the welcome page stays
        QTRY_VERIFY(!welcome->isScanning());
        QVERIFY(welcome->isVisible());

        QVERIFY(QFile::copy(QString::fromStdString(peregrine::test::model_path("stories260K-q8_0.gguf")),
                            folder + "/stories.gguf"));
        welcome->addFolder(folder);
        QTRY_VERIFY_WITH_TIMEOUT(!welcome->isVisible(), 10000);
        QVERIFY(window->chatPanel()->isVisible());
        QVERIFY2(window->noticeBar()->text().contains("1 model(s) found"), qPrintable(window->noticeBar()->text()));
        // Remembered for the picker, which scans the same folders.
        const QList<ScanRoot> roots = welcome->scanRoots();
        QVERIFY(std::any_of(roots.begin(), roots.end(),
                            [&](const ScanRoot& r) { return r.path == folder && r.source == "Added folder"; }));
        QVERIFY(welcome->foldersText().contains("Added folder: ~/my models\n"));
    }

    void failuresShowErrorsAndRetryRecovers() {
        qputenv("PEREGRINE_HF_ENDPOINT", server_->base_url().c_str());  // from the environment this time
        putRepo("test/damaged-GGUF", "damaged-Q8_0.gguf", {.body = model_, .corrupt = true});
        putRepo("test/flaky-GGUF", "flaky-Q8_0.gguf", {}, /*serve=*/false);
        auto window = openFirstRun(settings());
        QVERIFY(window);
        WelcomePage* welcome = window->welcomePage();
        QCOMPARE(welcome->endpoint(), QString::fromStdString(server_->base_url()));

        // Wrong bytes: rejected, deleted, said so.
        CatalogRow* damaged = welcome->row("damaged");
        QTest::mouseClick(damaged->downloadButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(damaged->downloadButton()->isVisible(), 20000);
        QCOMPARE(damaged->downloadButton()->text(), QString("Retry"));
        QVERIFY2(damaged->statusText().contains("did not match its checksum"), qPrintable(damaged->statusText()));
        QVERIFY2(damaged->statusText().contains(kModelSha), qPrintable(damaged->statusText()));  // the details too
        QVERIFY(!damaged->progressBar()->isVisible());
        QCOMPARE(filesIn(welcome->modelsFolder()), QStringList());

        // A 404: a clear error, no file.
        CatalogRow* flaky = welcome->row("flaky");
        QTest::mouseClick(flaky->downloadButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(flaky->downloadButton()->isVisible(), 20000);
        QCOMPARE(flaky->downloadButton()->text(), QString("Retry"));
        QVERIFY2(flaky->statusText().contains("not found on the server (HTTP 404)"), qPrintable(flaky->statusText()));
        QVERIFY(filesIn(welcome->modelsFolder()).filter(".gguf").isEmpty());
        QVERIFY(welcome->isVisible());
        QVERIFY(window->noticeBar()->text().isEmpty());

        // The file appears on the server; Retry downloads it, it loads and the chat works.
        server_->put(repoPath("test/flaky-GGUF", "flaky-Q8_0.gguf"), {.body = model_});
        QTest::mouseClick(flaky->downloadButton(), Qt::LeftButton);
        chatWorks(*window, welcome->modelsFolder() + "/flaky-Q8_0.gguf");
        QCOMPARE(shaOfFile(welcome->modelsFolder() + "/flaky-Q8_0.gguf"), QString(kModelSha));
    }

    void cancelKeepsThePartAndResumeContinues() {
        const std::string file = "stories260K-Q8_0.gguf";
        putRepo("test/stories260K-GGUF", file, {.body = model_, .chunk_delay_ms = 60, .chunk_size = 8 * 1024});
        auto settings = this->settings();
        settings->setValue("download/endpoint", QString::fromStdString(server_->base_url()));
        auto window = openFirstRun(std::move(settings));
        QVERIFY(window);
        WelcomePage* welcome = window->welcomePage();
        CatalogRow* row = welcome->row("stories");
        QSignalSpy updates(welcome->downloads(), &DownloadBridge::updated);
        QTest::mouseClick(row->downloadButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(row->progressBar()->value() > 0, 20000);
        QTest::mouseClick(row->cancelButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(row->downloadButton()->isVisible(), 20000);
        QCOMPARE(row->downloadButton()->text(), QString("Resume"));
        QVERIFY2(row->statusText().contains("Cancelled"), qPrintable(row->statusText()));
        const QString part = welcome->modelsFolder() + "/" + QString::fromStdString(file) + ".part";
        QCOMPARE(filesIn(welcome->modelsFolder()), QStringList{QFileInfo(part).fileName()});
        const qint64 kept = QFileInfo(part).size();
        QVERIFY(kept > 0 && kept < qint64(model_.size()));

        server_->set_slow(repoPath("test/stories260K-GGUF", file), 0, 64 * 1024);
        QTest::mouseClick(row->downloadButton(), Qt::LeftButton);
        chatWorks(*window, welcome->modelsFolder() + "/" + QString::fromStdString(file));
        const auto requests = server_->requests(repoPath("test/stories260K-GGUF", file));
        QCOMPARE(requests.back().headers.at("range"), "bytes=" + std::to_string(kept) + "-");
        QCOMPARE(shaOfFile(welcome->modelsFolder() + "/" + QString::fromStdString(file)), QString(kModelSha));
    }
};

QTEST_MAIN(TestFirstRun)
#include "tst_first_run.moc"
