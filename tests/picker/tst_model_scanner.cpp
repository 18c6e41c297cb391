// The model picker's scan over a folder tree like a real machine's: GGUFs in the app folder, llama.cpp's
// cache, LM Studio's nested folders, a user folder and Ollama's manifest/blob store are found with the
// right facts; non-GGUF files are ignored; a truncated GGUF and a manifest with a missing blob are listed
// as broken with the reason; duplicates are listed once; the scan runs off the GUI thread.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QtTest>

#include "model_tree.h"
#include "picker/memory_fit.h"
#include "picker/model_probe.h"
#include "picker/model_scanner.h"
#include "picker/ollama_manifests.h"

using namespace peregrine::ui;

namespace {

QMap<QString, ModelCandidate> scanAll(const peregrine::test::ModelTree& tree) {
    ModelScanner scanner;
    QSignalSpy found(&scanner, &ModelScanner::modelFound);
    QSignalSpy finished(&scanner, &ModelScanner::finished);
    QElapsedTimer clock;
    clock.start();
    scanner.scan(modelScanRoots(tree.home(), tree.appModels(), {tree.userFolder()}));
    const qint64 callMs = clock.elapsed();
    if (callMs > 50) qWarning("scan() blocked the caller for %lld ms", callMs);
    if (!QTest::qWaitFor([&] { return !finished.isEmpty(); }, 20000)) return {};
    QMap<QString, ModelCandidate> byName;
    for (const auto& args : found) {
        const auto model = args[0].value<ModelCandidate>();
        byName.insert(model.displayName, model);
    }
    if (finished[0][0].toInt() != found.size()) qWarning("finished count differs from models reported");
    return byName;
}

}  // namespace

class TestModelScanner : public QObject {
    Q_OBJECT

    peregrine::test::ModelTree tree_;

private slots:
    void findsEveryModelWithItsFacts() {
        const QMap<QString, ModelCandidate> models = scanAll(tree_);
        QCOMPARE(QStringList(models.keys()),
                 QStringList({"broken", "handmade", "model-q4", "someone/ghost:7b", "stories", "stories:latest",
                              "tiny-random"}));

        const ModelCandidate& stories = models["stories"];
        QCOMPARE(stories.source, QString("Peregrine"));
        QVERIFY(!stories.broken);
        QCOMPARE(stories.architecture, QString("llama"));
        QCOMPARE(stories.quantization, QString("Q8_0"));
        QCOMPARE(stories.contextLength, 512);
        QCOMPARE(stories.layers, 5);
        QCOMPARE(stories.kvHeads, 4);
        QCOMPARE(stories.headDim, 8);
        QCOMPARE(stories.fileSize, qint64(379168));
        QVERIFY(stories.parameterCount > 250000 && stories.parameterCount < 350000);
        QCOMPARE(stories.templateFamily, QString("none"));

        QCOMPARE(models["model-q4"].source, QString("LM Studio"));  // found in nested folders
        QCOMPARE(models["model-q4"].quantization, QString("Q4_0"));
        QCOMPARE(models["tiny-random"].source, QString("llama.cpp"));

        const ModelCandidate& handmade = models["handmade"];
        QCOMPARE(handmade.source, QString("Added folder"));
        QCOMPARE(handmade.name, QString("Handmade"));
        QCOMPARE(handmade.contextLength, 4096);
        QCOMPARE(handmade.templateFamily, QString("chatml"));
        QCOMPARE(handmade.parameterCount, qint64(128));
        QCOMPARE(handmade.kvBytesPerToken(), qint64(2 * 2 * 2 * 16 * 2));  // K+V, layers, kv heads, head dim, f16

        const ModelCandidate& ollama = models["stories:latest"];
        QCOMPARE(ollama.source, QString("Ollama"));
        QCOMPARE(ollama.path, tree_.ollamaBlob());
        QVERIFY(!ollama.broken);
        QCOMPARE(ollama.quantization, QString("F16"));
    }

    void brokenFilesAreListedWithTheirReason() {
        const QMap<QString, ModelCandidate> models = scanAll(tree_);
        const ModelCandidate& truncated = models["broken"];
        QVERIFY(truncated.broken);
        QVERIFY2(truncated.problem.contains("broken.gguf") && truncated.problem.contains("outside the file"),
                 qPrintable(truncated.problem));
        const ModelCandidate& ghost = models["someone/ghost:7b"];
        QVERIFY(ghost.broken);
        QVERIFY2(ghost.problem.contains("missing"), qPrintable(ghost.problem));
    }

    void ollamaDigestsCannotEscapeTheBlobFolder() {
        QTemporaryDir dir;
        QDir().mkpath(dir.filePath("manifests/registry.ollama.ai/library/evil"));
        QFile manifest(dir.filePath("manifests/registry.ollama.ai/library/evil/latest"));
        QVERIFY(manifest.open(QIODevice::WriteOnly));
        manifest.write(R"({"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:../../../etc/passwd"}]})");
        manifest.close();
        const QList<OllamaModel> models = findOllamaModels(dir.path());
        QCOMPARE(models.size(), 1);
        QVERIFY(models[0].blobPath.isEmpty());
        QVERIFY(models[0].problem.contains("invalid digest"));
    }

    void aNewScanSupersedesTheRunningOne() {
        ModelScanner scanner;
        QSignalSpy finished(&scanner, &ModelScanner::finished);
        QSignalSpy found(&scanner, &ModelScanner::modelFound);
        scanner.scan(modelScanRoots(tree_.home(), tree_.appModels(), {tree_.userFolder()}));
        scanner.scan({ScanRoot{tree_.userFolder(), "Added folder"}});
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 20000);
        QTest::qWait(50);
        QCOMPARE(finished.size(), 1);  // only the second scan reports
        QCOMPARE(finished[0][0].toInt(), 1);
        QCOMPARE(found.size(), 1);
        QCOMPARE(found[0][0].value<ModelCandidate>().displayName, QString("handmade"));
    }

    void memoryEstimateSaysWhetherItFits_data() {
        QTest::addColumn<qint64>("available");
        QTest::addColumn<int>("expected");
        QTest::newRow("plenty") << qint64(1) * 1024 * 1024 * 1024 << static_cast<int>(Fit::Fits);
        QTest::newRow("just enough") << qint64(-1) << static_cast<int>(Fit::Tight);
        QTest::newRow("too little") << qint64(10 * 1024 * 1024) << static_cast<int>(Fit::WontFit);
    }

    void memoryEstimateSaysWhetherItFits() {
        QFETCH(qint64, available);
        QFETCH(int, expected);
        const ModelCandidate stories = probeModel(QString::fromStdString(peregrine::test::model_path("stories260K-q8_0.gguf")),
                                                  "stories", "test");
        const MemoryEstimate atTraining = estimateMemory(stories, 0, 1);
        QCOMPARE(atTraining.contextLength, 512);
        QCOMPARE(atTraining.kvCache, qint64(512) * 2 * 5 * 4 * 8 * 2);
        QCOMPARE(atTraining.weights, stories.weightBytes);
        QCOMPARE(atTraining.total, atTraining.weights + atTraining.kvCache + atTraining.workBuffers);
        if (available < 0) available = atTraining.total * 11 / 10;  // within 80..100%
        QCOMPARE(static_cast<int>(estimateMemory(stories, 0, available).fit), expected);
        // A longer context needs more KV cache.
        QCOMPARE(estimateMemory(stories, 4096, available).kvCache, atTraining.kvCache * 8);
    }
};

QTEST_GUILESS_MAIN(TestModelScanner)
#include "tst_model_scanner.moc"
