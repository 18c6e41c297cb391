// The curated catalogue: the shipped models/catalog.json is complete and consistent with the engine
// (architectures, chat templates, Hub file naming), broken catalogues fail with errors that say where,
// and the first-run recommendation follows the machine's memory.
#include <QCoreApplication>
#include <QDir>
#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>

#include "peregrine/chat_template.h"
#include "peregrine/download.h"
#include "peregrine/model_catalog.h"
#include "support/test_paths.h"

using nlohmann::json;
using peregrine::CatalogModel;
using peregrine::ModelCatalog;

namespace {

constexpr uint64_t kGiB = uint64_t(1) << 30;

QString source_catalog_path() { return QFINDTESTDATA("../../models/catalog.json"); }

ModelCatalog shipped() { return peregrine::load_model_catalog(source_catalog_path().toStdString()); }

}  // namespace

class TestModelCatalog : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY2(!source_catalog_path().isEmpty(), "models/catalog.json not found next to the tests");
        qunsetenv("PEREGRINE_CATALOG");
    }

    void containsTheCuratedModels() {
        const ModelCatalog catalog = shipped();
        for (const char* id : {"tinyllama-1.1b-chat", "qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct",
                               "llama-3.2-1b-instruct", "llama-3.2-3b-instruct", "smollm2-1.7b-instruct",
                               "mistral-7b-instruct-v0.3", "llama-3.1-8b-instruct"}) {
            QVERIFY2(catalog.find(id), id);
        }
        QVERIFY(catalog.find(catalog.recommended));
    }

    void everyEntryIsSomethingTheEngineRuns() {
        const std::vector<std::string> families = {"chatml", "llama2", "llama3", "mistral", "zephyr", "gemma", "phi3"};
        const QDir templates(QFileInfo(source_catalog_path()).dir().filePath("templates"));
        for (const CatalogModel& m : shipped().models) {
            const QString where = QString::fromStdString(m.id);
            QVERIFY2(m.architecture == "llama" || m.architecture == "qwen2", qPrintable(where));
            QVERIFY2(std::find(families.begin(), families.end(), m.chat_template) != families.end(), qPrintable(where));
            QVERIFY2(templates.exists(QString::fromStdString(m.chat_template + ".jinja")), qPrintable(where));
            QVERIFY2(m.repo.find('/') != std::string::npos && m.repo.size() > 3, qPrintable(where));
            QVERIFY2(!m.license.empty() && !m.description.empty(), qPrintable(where));
            QVERIFY2(m.context_length >= 2048 && m.head_dim >= 64 && m.n_head_kv >= 1, qPrintable(where));
            for (const auto& f : m.files) {
                // The quantization is the one the Hub listing will report for that file name.
                QCOMPARE(peregrine::quantization_from_file_name(f.file), f.quantization);
                // Within 10% of what the parameter count and bits per weight predict: catches a size typo.
                const double bits = f.quantization == "Q8_0" ? 8.5 : 4.85;
                const double predicted = double(m.parameters) * bits / 8;
                QVERIFY2(double(f.size) > 0.8 * predicted && double(f.size) < 1.35 * predicted,
                         qPrintable(where + " " + QString::fromStdString(f.file)));
            }
        }
    }

    void buildTreeAndInstallFindTheCatalogue() {
        // packaging.cmake mirrors share/peregrine/catalog.json in the build tree, next to bin/.
        const QString build_copy = QCoreApplication::applicationDirPath() + "/../share/peregrine/catalog.json";
        if (!QFile::exists(build_copy)) QSKIP("no share/ copy next to bin/ (packaging.cmake not included)");
        QCOMPARE(QFileInfo(build_copy).size(), QFileInfo(source_catalog_path()).size());

        qputenv("PEREGRINE_CATALOG", source_catalog_path().toUtf8());
        QCOMPARE(QString::fromStdString(peregrine::find_model_catalog().string()), source_catalog_path());
        qputenv("PEREGRINE_CATALOG", "/nonexistent/catalog.json");
        QVERIFY(peregrine::find_model_catalog().empty());
        qunsetenv("PEREGRINE_CATALOG");
    }

    void recommendationFollowsMemory() {
        const ModelCatalog catalog = shipped();
        const auto big = peregrine::recommend_model(catalog, 32 * kGiB);
        QVERIFY(big);
        QCOMPARE(big->model->id, catalog.recommended);
        QCOMPARE(big->file->quantization, big->model->default_quantization);

        // 1 GiB: the recommended 1.5B model does not fit; the largest that does is offered instead.
        const auto small = peregrine::recommend_model(catalog, kGiB);
        QVERIFY(small);
        QVERIFY(peregrine::estimate_run_bytes(*small->model, *small->file, 4096) <= kGiB);
        for (const CatalogModel& m : catalog.models) {
            if (peregrine::estimate_run_bytes(m, m.default_file(), 4096) <= kGiB) {
                QVERIFY(m.default_file().size <= small->file->size);
            }
        }
        QVERIFY(!peregrine::recommend_model(catalog, 100u << 20));  // nothing fits in 100 MiB
    }

    void estimateCountsTheKvCache() {
        const ModelCatalog catalog = shipped();
        const CatalogModel& m = *catalog.find("llama-3.1-8b-instruct");
        const uint64_t at_4k = peregrine::estimate_run_bytes(m, m.default_file(), 4096);
        const uint64_t at_8k = peregrine::estimate_run_bytes(m, m.default_file(), 8192);
        // K and V, f16: 2 * 32 layers * 8 heads * 128 dims * 2 bytes = 128 KiB per token.
        QCOMPARE(at_8k - at_4k, uint64_t(4096) * 128 * 1024);
        // Past the training context the estimate stops growing: the engine cannot use more.
        QCOMPARE(peregrine::estimate_run_bytes(m, m.default_file(), 1 << 30),
                 peregrine::estimate_run_bytes(m, m.default_file(), m.context_length));
    }

    void brokenCataloguesSayWhere_data() {
        QTest::addColumn<QString>("edit");     // a JSON pointer and a replacement, applied to the shipped file
        QTest::addColumn<QString>("message");  // expected in the error
        QTest::newRow("not json") << "" << "not valid JSON";
        QTest::newRow("format") << "/format=2" << "field 'format' is 2";
        QTest::newRow("no models") << "/models=[]" << "field 'models' must be a non-empty array";
        QTest::newRow("recommended") << "/recommended=\"gone\"" << "names 'gone', which is not in models";
        QTest::newRow("missing repo") << "/models/0/repo=null" << "model 'qwen2.5-0.5b-instruct': field 'repo'";
        QTest::newRow("bad size") << "/models/1/files/0/size=-5" << "model 'tinyllama-1.1b-chat': files[0]: field 'size'";
        QTest::newRow("not gguf") << "/models/1/files/0/file=\"x.bin\"" << "'x.bin' is not a .gguf file";
        QTest::newRow("default missing") << "/models/2/default_quantization=\"Q2_K\""
                                         << "field 'default_quantization' 'Q2_K' has no entry in files";
        QTest::newRow("duplicate id") << "/models/1/id=\"qwen2.5-0.5b-instruct\"" << "'qwen2.5-0.5b-instruct' is used twice";
    }
    void brokenCataloguesSayWhere() {
        QFETCH(QString, edit);
        QFETCH(QString, message);
        std::string text;
        if (!edit.isEmpty()) {
            json doc = json::parse(peregrine::test::read_file(source_catalog_path().toStdString()));
            const int eq = edit.indexOf('=');
            doc[json::json_pointer(edit.left(eq).toStdString())] = json::parse(edit.mid(eq + 1).toStdString());
            text = doc.dump();
        } else {
            text = "{\"format\": 1, ";
        }
        try {
            peregrine::parse_model_catalog(text, "test-catalog.json");
            QFAIL("the broken catalogue was accepted");
        } catch (const peregrine::Error& e) {
            QVERIFY2(QString(e.what()).startsWith("test-catalog.json: "), e.what());
            QVERIFY2(QString(e.what()).contains(message), e.what());
        }
    }

    void unreadableFileIsAnError() {
        QVERIFY_THROWS_EXCEPTION(peregrine::Error, peregrine::load_model_catalog("/nonexistent/catalog.json"));
    }
};

QTEST_GUILESS_MAIN(TestModelCatalog)
#include "tst_model_catalog.moc"
