// The "structured output" setting on real models: set in the window's settings, it reaches the next
// reply's request and the saved reply parses as JSON — exactly what a JSON schema allows (stories260K,
// which knows nothing of JSON; greedy and sampled, batched and speculative), or any JSON object — and ends
// because the grammar is complete, not at the length limit; a broken schema is an error message naming
// the problem, and the chat stays usable.
//
// Strings in the schema have a maxLength: unbounded, a story model fills a string until the context is
// full (the grammar allows any text there). "Any JSON object" has no bounds at all, so it runs on the
// random-weight llama-2-tiny-random, whose sampled strings end by chance long before its 4096 positions
// (for seeds 1 and 2; with others a string can also run to the end of the context, as it would on any
// model that never closes it).
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "bridge/engine_controller.h"
#include "chat/chat_session.h"
#include "settings/engine_settings.h"
#include "store/chat_store.h"
#include "support/test_paths.h"
#include "window/main_window.h"

using namespace peregrine::ui;

namespace {

constexpr const char* kPersonSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 24},
    "age": {"type": "integer"},
    "pet": {"enum": ["cat", "dog", "bird"]},
    "friends": {"type": "array", "items": {"type": "string", "maxLength": 16}, "maxItems": 3}
  },
  "required": ["name", "age", "pet", "friends"]
})";

QJsonObject parseObject(const QString& text, QString* error) {
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(text.toUtf8(), &parseError);
    if (parseError.error != QJsonParseError::NoError || !document.isObject()) {
        *error = QStringLiteral("not a JSON object (%1 at %2): %3")
                     .arg(parseError.errorString())
                     .arg(parseError.offset)
                     .arg(text);
        return {};
    }
    return document.object();
}

}  // namespace

class TestStructuredOutput : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<MainWindow> window_;

    ChatSession& session() { return window_->session(); }

    GenerationOutcome reply(StructuredOutput structured, const QString& schema, float temperature, uint64_t seed,
                            SpeculativeMode speculative = SpeculativeMode::Off) {
        EngineSettings settings = window_->engineSettings();
        settings.structured = structured;
        settings.jsonSchema = schema;
        settings.sampling.temperature = temperature;
        settings.sampling.seed = seed;
        settings.maxTokens = -1;  // the grammar ends the reply when the JSON is complete
        settings.speculative = speculative;
        window_->applyEngineSettings(settings);
        QSignalSpy finished(&session(), &ChatSession::replyFinished);
        session().newConversation();
        if (!session().send("Tell me about a girl and her pet.")) return {};
        if (!QTest::qWaitFor([&] { return !finished.isEmpty(); }, 60000)) return {};
        return finished[0][0].value<GenerationOutcome>();
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        window_ = std::make_unique<MainWindow>(
            ChatStore::open(dir_.filePath("chats.sqlite")),
            std::make_unique<QSettings>(dir_.filePath("settings.ini"), QSettings::IniFormat));
        window_->show();
        QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
        QSignalSpy loaded(&window_->engine(), &EngineController::modelLoaded);
        window_->loadModel(QString::fromStdString(peregrine::test::model_path("stories260K-q8_0.gguf")));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 20000);
    }

    void cleanupTestCase() { window_.reset(); }

    void offRepliesAreFreeText() {
        const GenerationOutcome outcome = reply(StructuredOutput::Off, {}, 0.0f, 1);
        QVERIFY2(outcome.error.isEmpty(), qPrintable(outcome.error));
        QString error;
        parseObject(outcome.text, &error);
        QVERIFY2(!error.isEmpty(), "a story model wrote a JSON object unasked: the test below would prove nothing");
    }

    void jsonSchema_data() {
        QTest::addColumn<float>("temperature");
        QTest::addColumn<int>("seed");
        QTest::addColumn<int>("speculative");
        QTest::newRow("greedy") << 0.0f << 1 << static_cast<int>(SpeculativeMode::Off);
        QTest::newRow("sampled") << 0.8f << 4 << static_cast<int>(SpeculativeMode::Off);
        QTest::newRow("greedy, prompt lookup") << 0.0f << 1 << static_cast<int>(SpeculativeMode::PromptLookup);
    }

    void jsonSchema() {
        QFETCH(float, temperature);
        QFETCH(int, seed);
        QFETCH(int, speculative);
        const GenerationOutcome outcome = reply(StructuredOutput::JsonSchema, kPersonSchema, temperature,
                                                static_cast<uint64_t>(seed), static_cast<SpeculativeMode>(speculative));
        QVERIFY2(outcome.error.isEmpty(), qPrintable(outcome.error));
        QCOMPARE(outcome.stats.stopReason, QString("eog"));  // ended by the grammar, not by length
        QString error;
        const QJsonObject object = parseObject(outcome.text, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QVERIFY2(object.value("name").isString(), qPrintable(outcome.text));
        const QJsonValue age = object.value("age");
        QVERIFY2(age.isDouble() && age.toDouble() == std::floor(age.toDouble()), qPrintable(outcome.text));
        QVERIFY2(QStringList({"cat", "dog", "bird"}).contains(object.value("pet").toString()), qPrintable(outcome.text));
        QVERIFY2(object.value("friends").isArray(), qPrintable(outcome.text));
        for (const QJsonValue& friendName : object.value("friends").toArray()) QVERIFY(friendName.isString());
        if (speculative != static_cast<int>(SpeculativeMode::Off)) QVERIFY(outcome.stats.acceptanceRate >= 0);
    }

    void brokenSchemaIsAnErrorAndTheChatGoesOn() {
        QSignalSpy errors(&session(), &ChatSession::errorOccurred);
        const GenerationOutcome broken = reply(StructuredOutput::JsonSchema, R"({"type": "object", "properties": )", 0, 1);
        QVERIFY(!broken.error.isEmpty());
        QVERIFY2(broken.error.contains("schema"), qPrintable(broken.error));
        QVERIFY2(broken.error.contains("1:34"), qPrintable(broken.error));  // line:column where the text ends
        QCOMPARE(errors.size(), 1);
        QCOMPARE(window_->store().messages().list(session().conversationId()).last().state, MessageState::Failed);
        const GenerationOutcome fine = reply(StructuredOutput::Off, {}, 0.0f, 1);
        QVERIFY2(fine.error.isEmpty(), qPrintable(fine.error));
        QVERIFY(!fine.text.isEmpty());
    }

    void anyJsonObject_data() {
        QTest::addColumn<float>("temperature");
        QTest::addColumn<int>("seed");
        QTest::newRow("sampled, seed 1") << 1.0f << 1;
        QTest::newRow("sampled, seed 2") << 1.0f << 2;
    }

    void anyJsonObject() {
        QFETCH(float, temperature);
        QFETCH(int, seed);
        if (!window_->engine().model().fileName.startsWith("llama-2-tiny-random")) {
            QSignalSpy loaded(&window_->engine(), &EngineController::modelLoaded);
            window_->loadModel(QString::fromStdString(peregrine::test::model_path("llama-2-tiny-random.gguf")));
            QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 20000);
        }
        const GenerationOutcome outcome =
            reply(StructuredOutput::AnyJsonObject, {}, temperature, static_cast<uint64_t>(seed));
        QVERIFY2(outcome.error.isEmpty(), qPrintable(outcome.error));
        QCOMPARE(outcome.stats.stopReason, QString("eog"));  // ended by the grammar, not by length
        QString error;
        parseObject(outcome.text, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        // What was saved is what parsed.
        QCOMPARE(window_->store().messages().list(session().conversationId()).last().content, outcome.text);
    }
};

QTEST_MAIN(TestStructuredOutput)
#include "tst_structured_output.moc"
