// JSON schema -> grammar: the compiled grammar accepts JSON that satisfies the schema (in the compact
// form it generates) and refuses JSON that does not; invalid schemas name the JSON pointer of the
// offending part, and JSON syntax errors give line and column.
#include <QtTest>

#include "peregrine/grammar.h"
#include "peregrine/loaded_model.h"
#include "schema_validator.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

const char* kPerson =
    "{\"type\": \"object\", \"properties\": {"
    "  \"name\": {\"type\": \"string\", \"maxLength\": 12},"
    "  \"age\": {\"type\": \"integer\"},"
    "  \"mood\": {\"enum\": [\"happy\", \"sad\", \"sleepy\"]},"
    "  \"friends\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"maxItems\": 3},"
    "  \"pet\": {\"type\": \"object\", \"properties\": {\"kind\": {\"type\": \"string\"}, \"legs\": {\"type\": \"number\"}},"
    "            \"required\": [\"kind\"]}},"
    " \"required\": [\"name\", \"age\", \"mood\"]}";

const char* kTree =
    "{\"$defs\": {\"node\": {\"type\": \"object\", \"properties\": {\"v\": {\"type\": \"integer\"},"
    "  \"kids\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/node\"}}}, \"required\": [\"v\"]}},"
    " \"$ref\": \"#/$defs/node\"}";

}  // namespace

class TestJsonSchema : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<const GrammarVocabulary> vocab_;

private slots:
    void initTestCase() {
        vocab_ = std::make_shared<GrammarVocabulary>(*LoadedModel::load(test::model_path("stories260K-f32.gguf")).vocab);
    }

    void instances_data() {
        QTest::addColumn<QString>("schema");
        QTest::addColumn<QString>("instance");
        QTest::addColumn<bool>("valid");
        QTest::newRow("required only") << kPerson << "{\"name\":\"Al\",\"age\":3,\"mood\":\"sad\"}" << true;
        QTest::newRow("all properties") << kPerson
                                        << "{\"name\":\"Al\",\"age\":-30,\"mood\":\"happy\",\"friends\":[\"Bo\",\"\"],"
                                           "\"pet\":{\"kind\":\"cat\",\"legs\":4.5e0}}"
                                        << true;
        QTest::newRow("nested optional skipped") << kPerson
                                                 << "{\"name\":\"\",\"age\":0,\"mood\":\"sad\",\"pet\":{\"kind\":\"x\"}}"
                                                 << true;
        QTest::newRow("escaped string") << kPerson
                                        << "{\"name\":\"a\\\"b\\\\c\\u00e9\\n\\t\",\"age\":1,\"mood\":\"sad\"}" << true;
        QTest::newRow("unicode string") << kPerson << "{\"name\":\"\u00e9t\u00e9 \U0001F600\",\"age\":1,\"mood\":\"sad\"}"
                                        << true;
        QTest::newRow("missing required") << kPerson << "{\"name\":\"Al\",\"mood\":\"sad\"}" << false;
        QTest::newRow("string too long") << kPerson << "{\"name\":\"abcdefghijklm\",\"age\":1,\"mood\":\"sad\"}" << false;
        QTest::newRow("raw newline in string") << kPerson << "{\"name\":\"a\nb\",\"age\":1,\"mood\":\"sad\"}" << false;
        QTest::newRow("bad escape") << kPerson << "{\"name\":\"a\\x\",\"age\":1,\"mood\":\"sad\"}" << false;
        QTest::newRow("leading zero") << kPerson << "{\"name\":\"a\",\"age\":012,\"mood\":\"sad\"}" << false;
        QTest::newRow("fraction for integer") << kPerson << "{\"name\":\"a\",\"age\":1.5,\"mood\":\"sad\"}" << false;
        QTest::newRow("not in enum") << kPerson << "{\"name\":\"a\",\"age\":1,\"mood\":\"angry\"}" << false;
        QTest::newRow("too many items") << kPerson
                                        << "{\"name\":\"a\",\"age\":1,\"mood\":\"sad\",\"friends\":[\"a\",\"b\",\"c\",\"d\"]}"
                                        << false;
        QTest::newRow("unknown property") << kPerson << "{\"name\":\"a\",\"age\":1,\"mood\":\"sad\",\"x\":1}" << false;
        QTest::newRow("nested required missing") << kPerson
                                                 << "{\"name\":\"a\",\"age\":1,\"mood\":\"sad\",\"pet\":{\"legs\":4}}"
                                                 << false;
        QTest::newRow("recursive tree") << kTree << "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[]}]}" << true;
        QTest::newRow("recursive tree bad leaf") << kTree << "{\"v\":1,\"kids\":[{\"w\":2}]}" << false;
        const QString any_of = "{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"string\", \"maxLength\": 3}]}";
        QTest::newRow("anyOf first") << any_of << "12" << true;
        QTest::newRow("anyOf second") << any_of << "\"abc\"" << true;
        QTest::newRow("anyOf neither") << any_of << "true" << false;
        QTest::newRow("type list null") << "{\"type\": [\"string\", \"null\"]}" << "null" << true;
        QTest::newRow("type list number") << "{\"type\": [\"string\", \"null\"]}" << "1" << false;
        QTest::newRow("const") << "{\"const\": {\"a\": [1, 2]}}" << "{\"a\":[1,2]}" << true;
        QTest::newRow("any value") << "{}" << "[{\"a\":null},true,-1.5e-3,\"x\"]" << true;
        QTest::newRow("min items") << "{\"type\": \"array\", \"items\": {\"type\": \"boolean\"}, \"minItems\": 2}"
                                   << "[true]" << false;
        QTest::newRow("min items met") << "{\"type\": \"array\", \"items\": {\"type\": \"boolean\"}, \"minItems\": 2}"
                                       << "[true,false,true]" << true;
        QTest::newRow("min length") << "{\"type\": \"string\", \"minLength\": 2}" << "\"a\"" << false;
        QTest::newRow("closed empty object") << "{\"type\": \"object\", \"additionalProperties\": false}" << "{}" << true;
    }
    void instances() {
        QFETCH(QString, schema);
        QFETCH(QString, instance);
        QFETCH(bool, valid);
        const std::string text = instance.toStdString();
        // The independent validator agrees with the expectation wherever the text is JSON at all.
        const auto parsed = test::ordered_json::parse(text, nullptr, false);
        if (!parsed.is_discarded()) {
            const auto s = test::ordered_json::parse(schema.toStdString());
            QCOMPARE(test::validate_json(parsed, s, s).empty(), valid);
        }
        GrammarMatcher m(Grammar::from_json_schema(schema.toStdString()), vocab_);
        const bool accepted = m.accept_text(text) && m.can_end();
        QCOMPARE(accepted, valid);
    }

    void properties_keep_declaration_order() {
        // Compact JSON in schema order only: every key and separator is then fully determined.
        GrammarMatcher m(Grammar::from_json_schema(kPerson), vocab_);
        QVERIFY(!m.accept_text("{\"age\":"));
        QCOMPARE(m.forced_text(), std::string("{\"name\":\""));
        QVERIFY(m.accept_text("{\"name\":\"Al\""));
        QCOMPARE(m.forced_text(), std::string(",\"age\":"));
    }

    void generated_grammar_reads_like_the_schema() {
        const std::string g = json_schema_to_gbnf(kPerson);
        QVERIFY(g.rfind("root ::= root-2", 0) == 0 || g.rfind("root ::= root", 0) == 0);
        QVERIFY(g.find("root-pet") != std::string::npos);
        QVERIFY(g.find("\"\\\"age\\\":\"") != std::string::npos);  // the key literal "\"age\":"
        QVERIFY(g.find("char ::=") != std::string::npos);
        QVERIFY(g.find("boolean ::=") == std::string::npos);  // primitives only when used
        QVERIFY(Grammar::parse(g)->n_rules() > 5);
    }

    void schema_errors_name_the_pointer_data() {
        QTest::addColumn<QString>("schema");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown type") << "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integr\"}}}"
                                      << "json schema /properties/a/type: unknown type 'integr'";
        QTest::newRow("unsupported keyword") << "{\"type\": \"string\", \"pattern\": \"a+\"}"
                                             << "json schema /pattern: unsupported keyword 'pattern'";
        QTest::newRow("escaped pointer") << "{\"properties\": {\"a/b~c\": {\"type\": \"integer\", \"minimum\": 0}}}"
                                         << "json schema /properties/a~1b~0c/minimum: unsupported keyword 'minimum'";
        QTest::newRow("required not a property") << "{\"type\": \"object\", \"properties\": {\"a\": {}}, \"required\": [\"b\"]}"
                                                 << "json schema /required/0: required property 'b' is not in properties";
        QTest::newRow("dangling ref") << "{\"$ref\": \"#/$defs/missing\"}"
                                      << "json schema /$ref: '#/$defs/missing' does not name a part of this schema";
        QTest::newRow("remote ref") << "{\"$ref\": \"http://x/y.json\"}" << "json schema /$ref: only local references";
        QTest::newRow("items bounds") << "{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 1}"
                                      << "json schema /maxItems: is smaller than minItems";
        QTest::newRow("negative length") << "{\"type\": \"string\", \"maxLength\": -1}"
                                         << "json schema /maxLength: must be a non-negative integer";
        QTest::newRow("empty enum") << "{\"enum\": []}" << "json schema /enum: must be a non-empty array";
        QTest::newRow("false") << "false" << "json schema /: the schema false allows no value";
        QTest::newRow("nested in anyOf") << "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": 3}]}"
                                         << "json schema /anyOf/1/type: must be a type name";
        QTest::newRow("not a schema") << "{\"properties\": {\"a\": 5}}" << "json schema /properties/a: a schema must be";
    }
    void schema_errors_name_the_pointer() {
        QFETCH(QString, schema);
        QFETCH(QString, message);
        try {
            Grammar::from_json_schema(schema.toStdString());
            QFAIL("no error");
        } catch (const GrammarError& e) {
            QVERIFY2(QString(e.what()).startsWith(message), e.what());
            QCOMPARE(e.line(), 0);
        }
    }

    void json_syntax_errors_give_line_and_column() {
        try {
            Grammar::from_json_schema("{\n  \"type\": \"object\"\n  \"properties\": {}\n}");
            QFAIL("no error");
        } catch (const GrammarError& e) {
            qInfo("%s", e.what());
            QCOMPARE(e.line(), 3);
            QVERIFY(e.column() >= 3 && e.column() <= 15);
            QVERIFY(QString(e.what()).startsWith(QString("json schema:3:%1: invalid JSON").arg(e.column())));
        }
    }
};

QTEST_GUILESS_MAIN(TestJsonSchema)
#include "tst_json_schema.moc"
