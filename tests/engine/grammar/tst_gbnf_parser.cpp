// GBNF parsing and matching: which texts a grammar accepts (fully, or as a prefix that can still be
// completed), UTF-8 received a byte at a time, and errors that name the line and column.
#include <QtTest>

#include "peregrine/grammar.h"
#include "peregrine/loaded_model.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

// llama.cpp's grammars/json.gbnf, written from its documented structure.
const char* kJsonGbnf = "# JSON, with optional whitespace\n"
    "root   ::= object\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "\n"
    "object ::=\n"
    "  \"{\" ws (\n"
    "            string \":\" ws value\n"
    "    (\",\" ws string \":\" ws value)*\n"
    "  )? \"}\" ws\n"
    "\n"
    "array  ::=\n"
    "  \"[\" ws (\n"
    "            value\n"
    "    (\",\" ws value)*\n"
    "  )? \"]\" ws\n"
    "\n"
    "string ::=\n"
    "  \"\\\"\" (\n"
    "    [^\"\\\\\\x7F\\x00-\\x1F] |\n"
    "    \"\\\\\" ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4}) # escapes\n"
    "  )* \"\\\"\" ws\n"
    "\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
    "\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n"
    "";

}  // namespace

class TestGbnfParser : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<const GrammarVocabulary> vocab_;

    GrammarMatcher matcher(const std::string& gbnf) { return GrammarMatcher(Grammar::parse(gbnf), vocab_); }

private slots:
    void initTestCase() {
        vocab_ = std::make_shared<GrammarVocabulary>(*LoadedModel::load(test::model_path("stories260K-f32.gguf")).vocab);
    }

    void matches_data() {
        QTest::addColumn<QString>("grammar");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("accepted");  // accept_text: the text is a valid prefix
        QTest::addColumn<bool>("complete");  // and the grammar may end after it
        const QString alt = "root ::= \"ab\" | \"cd\"";
        QTest::newRow("alternative") << alt << "ab" << true << true;
        QTest::newRow("alternative prefix") << alt << "c" << true << false;
        QTest::newRow("alternative wrong") << alt << "ac" << false << false;
        QTest::newRow("class plus") << "root ::= [a-c]+" << "abcabc" << true << true;
        QTest::newRow("class plus empty") << "root ::= [a-c]+" << "" << true << false;
        QTest::newRow("class outside") << "root ::= [a-c]+" << "abd" << false << false;
        QTest::newRow("negated class") << "root ::= [^x]* \"x\"" << "hello x" << true << true;
        QTest::newRow("after the end") << "root ::= [^x]* \"x\"" << "ax!" << false << false;
        QTest::newRow("count too few") << "root ::= \"a\"{2,3}" << "a" << true << false;
        QTest::newRow("count min") << "root ::= \"a\"{2,3}" << "aa" << true << true;
        QTest::newRow("count max") << "root ::= \"a\"{2,3}" << "aaa" << true << true;
        QTest::newRow("count over") << "root ::= \"a\"{2,3}" << "aaaa" << false << false;
        QTest::newRow("count open") << "root ::= \"ab\"{2,}" << "ababab" << true << true;
        QTest::newRow("count exact") << "root ::= [0-9]{3} \"!\"" << "123!" << true << true;
        QTest::newRow("optional absent") << "root ::= \"a\"? \"b\"" << "b" << true << true;
        QTest::newRow("optional present") << "root ::= \"a\"? \"b\"" << "ab" << true << true;
        QTest::newRow("nested groups") << "root ::= (\"x\" (\"y\" | \"z\"))+" << "xyxz" << true << true;
        QTest::newRow("nested groups wrong") << "root ::= (\"x\" (\"y\" | \"z\"))+" << "xx" << false << false;
        const QString parens = "root ::= \"(\" root \")\" | \"\"";
        QTest::newRow("recursion") << parens << "(())" << true << true;
        QTest::newRow("recursion open") << parens << "(()" << true << false;
        QTest::newRow("recursion closed too often") << parens << "())" << false << false;
        QTest::newRow("multi-line rule") << "root ::=\n  \"a\"\n  | \"b\"  # comment\nother ::= \"c\"" << "b" << true
                                         << true;
        QTest::newRow("escapes") << "root ::= \"\\n\" [\\t] \"\\x41\" \"\\u00e9\" \"\\\"\"" << "\n\tA\u00e9\"" << true << true;
        QTest::newRow("unicode class") << "root ::= [\u03b1-\u03c9]+" << "\u03b1\u03b2\u03b3" << true << true;
        QTest::newRow("unicode class wrong") << "root ::= [\u03b1-\u03c9]+" << "abc" << false << false;
        QTest::newRow("any character") << "root ::= . ." << "\u00e9!" << true << true;
        QTest::newRow("emoji") << "root ::= [^a]{2}" << "\U0001F600\U0001F600" << true << true;
        QTest::newRow("json object") << kJsonGbnf << "{\"a\": [1, -2.5e3, \"x\\n\\u00e9\"], \"b\": {\"c\": null}}" << true
                                     << true;
        QTest::newRow("json unclosed") << kJsonGbnf << "{\"a\": [1, 2" << true << false;
        QTest::newRow("json bad") << kJsonGbnf << "{\"a\": [1, 2}]" << false << false;
        QTest::newRow("json bad escape") << kJsonGbnf << "{\"a\\q\": 1}" << false << false;
        QTest::newRow("rule names") << "root ::= a_b-1\na_b-1 ::= \"z\"" << "z" << true << true;
    }
    void matches() {
        QFETCH(QString, grammar);
        QFETCH(QString, text);
        QFETCH(bool, accepted);
        QFETCH(bool, complete);
        GrammarMatcher m = matcher(grammar.toStdString());
        QCOMPARE(m.accept_text(text.toStdString()), accepted);
        if (accepted) QCOMPARE(m.can_end(), complete);
    }

    void refused_text_leaves_state_unchanged() {
        GrammarMatcher m = matcher("root ::= \"abc\" | \"abd\"");
        QVERIFY(m.accept_text("ab"));
        QVERIFY(!m.accept_text("x"));
        QVERIFY(!m.accept_text("cx"));  // the "c" of a refused text is not kept either
        QVERIFY(m.accept_text("d"));
        QVERIFY(m.finished());
    }

    void utf8_one_byte_at_a_time() {
        GrammarMatcher m = matcher("root ::= [\u03b1-\u03c9] \"!\"");
        QVERIFY(m.accept_text("\xce"));  // first byte of U+03B1..U+03C9 (CE B1..CF 89)
        QVERIFY(!m.can_end());
        QVERIFY(!GrammarMatcher(m).accept_text("!"));  // the character is not finished
        QVERIFY(m.accept_text("\xb1!"));
        QVERIFY(m.finished());
        GrammarMatcher ascii = matcher("root ::= [a-z]");
        QVERIFY(!ascii.accept_text("\xce"));  // no character starting with CE is in [a-z]
        // Overlong forms, surrogates and stray continuation bytes are refused even where any character
        // is allowed: F0 80 81 BB would decode to "{".
        GrammarMatcher any = matcher("root ::= .*");
        QVERIFY(!GrammarMatcher(any).accept_text("\xf0\x80"));
        QVERIFY(!GrammarMatcher(any).accept_text("\xc0\xbb"));
        QVERIFY(!GrammarMatcher(any).accept_text("\xed\xa0\x80"));
        QVERIFY(!GrammarMatcher(any).accept_text("\x80"));
        QVERIFY(GrammarMatcher(any).accept_text("\xf0\x9f\x98\x80"));
    }

    void forced_text() {
        GrammarMatcher m = matcher("root ::= \"{\\\"name\\\":\" [a-z]+ \"}\" | \"{\\\"nap\\\"\"");
        QCOMPARE(m.forced_text(), std::string("{\"na"));
        QVERIFY(m.accept_text("{\"nam"));
        QCOMPARE(m.forced_text(), std::string("e\":"));
        QCOMPARE(m.forced_text(2), std::string("e\""));
        QVERIFY(m.accept_text("e\":"));
        QCOMPARE(m.forced_text(), std::string());  // [a-z]+: a choice
        GrammarMatcher end = matcher("root ::= \"a\" \"b\"?");
        QVERIFY(end.accept_text("a"));
        QCOMPARE(end.forced_text(), std::string());  // "b" or the end: a choice
    }

    void errors_point_at_the_position_data() {
        QTest::addColumn<QString>("grammar");
        QTest::addColumn<int>("line");
        QTest::addColumn<int>("column");
        QTest::addColumn<QString>("message");
        QTest::newRow("undefined rule") << "root ::= \"a\" foo" << 1 << 14 << "undefined rule 'foo'";
        QTest::newRow("defined twice") << "root ::= \"a\"\nroot ::= \"b\"" << 2 << 1 << "defined twice (first at 1:1)";
        QTest::newRow("unclosed group") << "root ::= (\"a\" | \"b\"" << 1 << 20 << "expected ')' to close the group opened at 1:10";
        QTest::newRow("unterminated literal") << "root ::= \"abc\nx ::= \"y\"" << 1 << 10 << "unterminated string literal";
        QTest::newRow("unterminated class") << "root ::= [a-" << 1 << 10 << "unterminated character class";
        QTest::newRow("backwards range") << "root ::=\n  [z-a]" << 2 << 4 << "backwards";
        QTest::newRow("unknown escape") << "root ::= \"\\q\"" << 1 << 11 << "unknown escape '\\q'";
        QTest::newRow("bad hex") << "root ::= \"\\x4\"" << 1 << 14 << "hex digits";
        QTest::newRow("bad repetition") << "root ::= \"a\"{3,1}" << 1 << 13 << "n < m";
        QTest::newRow("repetition too large") << "root ::= \"a\"{1001}" << 1 << 14 << "above 1000";
        QTest::newRow("repeat nothing") << "root ::= * \"a\"" << 1 << 10 << "must follow something to repeat";
        QTest::newRow("no ::=") << "root = \"a\"" << 1 << 6 << "expected '::=' after the rule name 'root'";
        QTest::newRow("no root") << "x ::= \"a\"" << 1 << 1 << "no rule named 'root'";
        QTest::newRow("left recursion") << "root ::= a\na ::= a \"x\" | \"y\"" << 2 << 1 << "left-recursive: a -> a";
        QTest::newRow("left recursion via empty") << "root ::= b\nb ::= c \"x\"\nc ::= \"\" b | \"y\"" << 2 << 1
                                                  << "left-recursive: b -> c -> b";
        QTest::newRow("repeating the empty") << "root ::= \"a\" (\"\")*" << 1 << 18 << "left-recursive";
        QTest::newRow("stray character") << "root ::= \"a\" @" << 1 << 14 << "unexpected character '@'";
        QTest::newRow("unicode columns") << "root ::= \"\u00e9\u00e9\" )" << 1 << 15 << "unexpected character ')'";
    }
    void errors_point_at_the_position() {
        QFETCH(QString, grammar);
        QFETCH(int, line);
        QFETCH(int, column);
        QFETCH(QString, message);
        try {
            Grammar::parse(grammar.toStdString());
            QFAIL("no error");
        } catch (const GrammarError& e) {
            const QString what = QString::fromStdString(e.what());
            QVERIFY2(what.contains(message), qPrintable(what));
            QVERIFY2(what.startsWith(QString("grammar:%1:%2: ").arg(line).arg(column)), qPrintable(what));
            QCOMPARE(e.line(), line);
            QCOMPARE(e.column(), column);
        }
    }

    void helper_rules_are_counted() {
        QCOMPARE(Grammar::parse("root ::= \"a\"")->n_rules(), size_t(1));
        // (group), + becomes X R with R ::= X R | (empty), {0,2} becomes two nested optionals.
        QVERIFY(Grammar::parse("root ::= (\"a\" | \"b\")+ \"c\"{0,2}")->n_rules() >= 5);
    }

    void alternate_root_name() {
        auto g = Grammar::parse("start ::= \"x\"", "start");
        GrammarMatcher m(g, vocab_);
        QVERIFY(m.accept_text("x"));
        QVERIFY(m.finished());
    }
};

QTEST_GUILESS_MAIN(TestGbnfParser)
#include "tst_gbnf_parser.moc"
