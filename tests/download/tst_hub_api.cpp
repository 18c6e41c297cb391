// The Hub side of downloads: listing a repository's GGUF files from the tree API (as the Hub answers
// it, LFS metadata included), choosing a file, endpoints and URLs, and the Hub's error statuses.
#include <QCryptographicHash>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>

#include "loopback_http_server.h"
#include "peregrine/download.h"

using peregrine::DownloadError;
using peregrine::HubFile;
using peregrine::test::LoopbackHttpServer;
using peregrine::test::Resource;
using Kind = DownloadError::Kind;
using nlohmann::json;

namespace {

constexpr const char* kRepo = "TheOwner/Tiny-Chat-GGUF";
const std::string kTree = std::string("/api/models/") + kRepo + "/tree/main";

// One tree entry the way the Hub writes it: oid is the git blob id; lfs.oid the content's sha256.
json lfs_entry(const std::string& path, uint64_t size, const std::string& sha256) {
    return {{"type", "file"},
            {"oid", "2f1c6bd9a4c3ef1d8f0a5e0d7cfd9f4e2b1a0c9d"},
            {"size", size},
            {"path", path},
            {"lfs", {{"oid", sha256}, {"size", size}, {"pointerSize", 135}}}};
}

const std::string kShaA(64, 'a');
const std::string kShaB(64, 'b');
const std::string kShaC(64, 'c');

json tree_page() {
    return json::array({
        {{"type", "file"}, {"oid", "1234"}, {"size", 1519}, {"path", ".gitattributes"}},
        {{"type", "file"}, {"oid", "5678"}, {"size", 4021}, {"path", "README.md"}},
        {{"type", "directory"}, {"oid", "9abc"}, {"size", 0}, {"path", "split"}},
        lfs_entry("tiny-chat.Q8_0.gguf", 1170000000, kShaB),
        lfs_entry("tiny-chat.Q4_K_M.gguf", 668788096, kShaA),
        lfs_entry("split/tiny-chat-F16-00001-of-00002.gguf", 1000, kShaC),
        lfs_entry("split/tiny-chat-F16-00002-of-00002.gguf", 1000, kShaC),
        lfs_entry("mmproj-tiny-f16.gguf", 500, kShaC),
        lfs_entry("extra/tiny-chat-IQ4_XS.gguf", 600000000, kShaC),
    });
}

template <typename F>
DownloadError expect_error(F&& f) {
    try {
        f();
    } catch (const DownloadError& e) {
        return e;
    }
    throw std::runtime_error("expected a DownloadError");
}

}  // namespace

class TestHubApi : public QObject {
    Q_OBJECT

    std::unique_ptr<LoopbackHttpServer> server_;

private slots:
    void initTestCase() {
        for (const char* var : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "HF_TOKEN",
                                "PEREGRINE_HF_ENDPOINT", "HF_ENDPOINT"}) {
            qunsetenv(var);
        }
    }
    void init() { server_ = std::make_unique<LoopbackHttpServer>(); }

    void listsGgufFilesWithSizesHashesAndQuantizations() {
        server_->put(kTree, {.body = tree_page().dump(), .content_type = "application/json"});
        const std::vector<HubFile> files = peregrine::list_hub_gguf_files(kRepo, server_->base_url());
        QCOMPARE(files.size(), size_t(3));  // README, folders, split parts and the projector left out
        QCOMPARE(files[0].path, std::string("extra/tiny-chat-IQ4_XS.gguf"));
        QCOMPARE(files[0].quantization, std::string("IQ4_XS"));
        QCOMPARE(files[1].path, std::string("tiny-chat.Q4_K_M.gguf"));
        QCOMPARE(files[1].size, uint64_t(668788096));
        QCOMPARE(files[1].sha256, kShaA);
        QCOMPARE(files[1].quantization, std::string("Q4_K_M"));
        QCOMPARE(files[2].quantization, std::string("Q8_0"));
        QCOMPARE(files[2].sha256, kShaB);
        const auto requests = server_->requests(kTree);
        QCOMPARE(requests.size(), size_t(1));
        QCOMPARE(requests[0].target, kTree + "?recursive=true");
    }

    void followsPagination() {
        const std::string page2 = kTree + "?recursive=true&cursor=abc";
        server_->put(kTree + "?recursive=true",
                     {.body = json::array({lfs_entry("b-Q8_0.gguf", 20, kShaB)}).dump(),
                      .headers = {{"Link", "<" + server_->url(page2) + ">; rel=\"next\""}}});
        server_->put(page2, {.body = json::array({lfs_entry("a-Q4_0.gguf", 10, kShaA)}).dump()});
        const auto files = peregrine::list_hub_gguf_files(kRepo, server_->base_url());
        QCOMPARE(files.size(), size_t(2));
        QCOMPARE(files[0].path, std::string("a-Q4_0.gguf"));
        QCOMPARE(files[1].path, std::string("b-Q8_0.gguf"));
    }

    void quantizationFromFileName_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("quantization");
        QTest::newRow("TheBloke") << "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf" << "Q4_K_M";
        QTest::newRow("lower case") << "qwen2.5-0.5b-instruct-q4_k_m.gguf" << "Q4_K_M";
        QTest::newRow("bartowski") << "Meta-Llama-3.1-8B-Instruct-Q8_0.gguf" << "Q8_0";
        QTest::newRow("i-quant") << "Llama-3.2-3B-Instruct-IQ3_XXS.gguf" << "IQ3_XXS";
        QTest::newRow("fp16") << "qwen2.5-0.5b-instruct-fp16.gguf" << "F16";
        QTest::newRow("bf16") << "SmolLM2-1.7B-Instruct-bf16.gguf" << "BF16";
        QTest::newRow("k-quant small") << "model.Q3_K_S.gguf" << "Q3_K_S";
        QTest::newRow("in a folder") << "Q4_K_M/model-q6_k.gguf" << "Q6_K";
        QTest::newRow("none") << "stories260K.gguf" << "";
        QTest::newRow("not inside a word") << "aq4_k_mx.gguf" << "";
    }
    void quantizationFromFileName() {
        QFETCH(QString, name);
        QFETCH(QString, quantization);
        QCOMPARE(QString::fromStdString(peregrine::quantization_from_file_name(name.toStdString())), quantization);
    }

    void choosesFiles() {
        const std::vector<HubFile> files = {
            {"m-Q2_K.gguf", 1, "", "Q2_K"}, {"m-Q4_K_M.gguf", 2, "", "Q4_K_M"}, {"sub/m-Q8_0.gguf", 3, "", "Q8_0"}};
        QCOMPARE(peregrine::choose_hub_file(files, "").path, std::string("m-Q4_K_M.gguf"));
        QCOMPARE(peregrine::choose_hub_file(files, "q8_0").path, std::string("sub/m-Q8_0.gguf"));
        QCOMPARE(peregrine::choose_hub_file(files, "sub/m-Q8_0.gguf").path, std::string("sub/m-Q8_0.gguf"));
        QCOMPARE(peregrine::choose_hub_file(files, "m-Q8_0.gguf").path, std::string("sub/m-Q8_0.gguf"));
        const std::vector<HubFile> no_q4 = {files[0], files[2]};
        QCOMPARE(peregrine::choose_hub_file(no_q4, "").path, std::string("m-Q2_K.gguf"));

        const DownloadError e = expect_error([&] { peregrine::choose_hub_file(files, "Q5_K_M", "o/r"); });
        QCOMPARE(e.kind(), Kind::NotFound);
        QVERIFY2(QString(e.what()).contains("o/r has no GGUF file matching 'Q5_K_M'"), e.what());
        QVERIFY2(QString(e.what()).contains("m-Q2_K.gguf (Q2_K"), e.what());  // says what there is
    }

    void repositoryNotFound() {
        // The Hub answers an unknown repository with 404 and an X-Error-Message header.
        server_->put(kTree, {.body = R"({"error":"Repository not found"})",
                             .status = 404,
                             .headers = {{"X-Error-Code", "RepoNotFound"}, {"X-Error-Message", "Repository not found"}}});
        const DownloadError e = expect_error([&] { peregrine::list_hub_gguf_files(kRepo, server_->base_url()); });
        QCOMPARE(e.kind(), Kind::NotFound);
        QVERIFY2(QString(e.what()).contains(QString("repository %1 (revision main) not found").arg(kRepo)), e.what());
        QVERIFY2(QString(e.what()).contains("Repository not found"), e.what());
    }

    void gatedRepositoryAsksForToken() {
        server_->put(kTree, {.body = "{}", .status = 401});
        const DownloadError e = expect_error([&] { peregrine::list_hub_gguf_files(kRepo, server_->base_url()); });
        QCOMPARE(e.kind(), Kind::AccessDenied);
        QVERIFY2(QString(e.what()).contains("HF_TOKEN"), e.what());
    }

    void sendsTokenFromEnvironment() {
        server_->put(kTree, {.body = "[]"});
        qputenv("HF_TOKEN", "hf_test_token");
        const auto files = peregrine::list_hub_gguf_files(kRepo, server_->base_url());
        qunsetenv("HF_TOKEN");
        QVERIFY(files.empty());
        QCOMPARE(server_->requests(kTree).at(0).headers.at("authorization"), std::string("Bearer hf_test_token"));
    }

    void badListingIsReported_data() {
        QTest::addColumn<QString>("body");
        QTest::newRow("not json") << "<html>rate limited</html>";
        QTest::newRow("object") << R"({"files": []})";
    }
    void badListingIsReported() {
        QFETCH(QString, body);
        server_->put(kTree, {.body = body.toStdString()});
        const DownloadError e = expect_error([&] { peregrine::list_hub_gguf_files(kRepo, server_->base_url()); });
        QCOMPARE(e.kind(), Kind::BadResponse);
        QVERIFY2(QString(e.what()).contains("listing"), e.what());
    }

    void rejectsBadRepositoryIds_data() {
        QTest::addColumn<QString>("repo");
        QTest::newRow("no owner") << "tiny-GGUF";
        QTest::newRow("path escape") << "../../etc/passwd";
        QTest::newRow("query") << "a/b?x=1";
    }
    void rejectsBadRepositoryIds() {
        QFETCH(QString, repo);
        const DownloadError e =
            expect_error([&] { peregrine::list_hub_gguf_files(repo.toStdString(), server_->base_url()); });
        QVERIFY2(QString(e.what()).contains("not a Hugging Face repository id"), e.what());
        QCOMPARE(server_->requests().size(), size_t(0));
    }

    void endpointComesFromParameterThenEnvironment() {
        QCOMPARE(peregrine::hf_endpoint(), std::string("https://huggingface.co"));
        qputenv("HF_ENDPOINT", "https://hf-mirror.example/");
        QCOMPARE(peregrine::hf_endpoint(), std::string("https://hf-mirror.example"));
        qputenv("PEREGRINE_HF_ENDPOINT", "http://127.0.0.1:9");
        QCOMPARE(peregrine::hf_endpoint(), std::string("http://127.0.0.1:9"));
        QCOMPARE(peregrine::hf_endpoint("http://mirror.local//"), std::string("http://mirror.local"));
        qunsetenv("PEREGRINE_HF_ENDPOINT");
        qunsetenv("HF_ENDPOINT");
    }

    void fileUrlsAreEncoded() {
        QCOMPARE(peregrine::hub_file_url({"o/r", "dir/my model+1.gguf", "http://h", "main"}),
                 std::string("http://h/o/r/resolve/main/dir/my%20model%2B1.gguf"));
        QCOMPARE(peregrine::hub_file_url({"o/r", "m.gguf", "http://h", "refs/pr/1"}),
                 std::string("http://h/o/r/resolve/refs%2Fpr%2F1/m.gguf"));
    }

    void resolvesAndDownloadsThroughTheCdnRedirect() {
        // The whole Hub flow: listing (sha256, size) → /resolve/ → 302 to the CDN → verified file.
        std::string content(200000, '\0');
        for (size_t i = 0; i < content.size(); ++i) content[i] = char(i * 7 + i / 251);
        const std::string sha = QCryptographicHash::hash(QByteArray::fromStdString(content), QCryptographicHash::Sha256)
                                    .toHex()
                                    .toStdString();
        server_->put(kTree, {.body = json::array({lfs_entry("tiny-chat.Q4_K_M.gguf", content.size(), sha)}).dump()});
        server_->put(std::string("/") + kRepo + "/resolve/main/tiny-chat.Q4_K_M.gguf", {.redirect_to = "/cdn/xyz"});
        server_->put("/cdn/xyz", {.body = content});
        qputenv("PEREGRINE_HF_ENDPOINT", QByteArray::fromStdString(server_->base_url()));
        const peregrine::DownloadSource source = peregrine::resolve_hub_file({kRepo, "Q4_K_M"});
        qunsetenv("PEREGRINE_HF_ENDPOINT");
        QCOMPARE(source.file_name, std::string("tiny-chat.Q4_K_M.gguf"));
        QCOMPARE(source.sha256, sha);
        QCOMPARE(source.size, uint64_t(content.size()));
        QCOMPARE(source.url, server_->url(std::string("/") + kRepo + "/resolve/main/tiny-chat.Q4_K_M.gguf"));

        QTemporaryDir dir;
        peregrine::DownloadOptions options;
        options.dir = dir.path().toStdString();
        const auto result = peregrine::download_file(source, options);
        QVERIFY(result.verified);
        QCOMPARE(server_->body_bytes_sent("/cdn/xyz"), uint64_t(content.size()));
    }

    void defaultModelsDirFollowsXdg() {
        const QByteArray saved = qgetenv("XDG_DATA_HOME");
        qputenv("XDG_DATA_HOME", "/data/share");
        QCOMPARE(peregrine::default_models_dir(), std::filesystem::path("/data/share/peregrine/models"));
        qunsetenv("XDG_DATA_HOME");
        QCOMPARE(peregrine::default_models_dir(),
                 std::filesystem::path(qgetenv("HOME").toStdString()) / ".local/share/peregrine/models");
        if (!saved.isEmpty()) qputenv("XDG_DATA_HOME", saved);
    }
};

QTEST_GUILESS_MAIN(TestHubApi)
#include "tst_hub_api.moc"
