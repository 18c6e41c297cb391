// Hostile templates: chat templates come from downloaded model files, so every way to make a
// render hang, recurse without end or allocate without bound must end in an Error that names the
// limit, quickly. Each case must finish in under a second (in an optimized build).
#include <QtTest>

#include <string>
#include <vector>

#include "peregrine/chat_template.h"

using peregrine::ChatMessage;
using peregrine::ChatTemplate;
using peregrine::ChatTemplateLimits;

namespace {

// The bound is one second; sanitizer and debug builds run the same work many times slower.
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
constexpr qint64 kTimeBudgetMs = 30000;
#else
constexpr qint64 kTimeBudgetMs = 1000;
#endif

const std::vector<ChatMessage> kMessages = {{"user", "hello"}};

std::string nested(const std::string& open, const std::string& middle, const std::string& close, int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += open;
    s += middle;
    for (int i = 0; i < depth; ++i) s += close;
    return s;
}

std::string long_sum(int terms) {
    std::string s = "{{ 1";
    for (int i = 1; i < terms; ++i) s += " + 1";
    return s + " }}";
}

}  // namespace

class TestChatTemplateLimits : public QObject {
    Q_OBJECT

private slots:
    void hostile_renders_stop_at_a_limit_data() {
        QTest::addColumn<QByteArray>("source");
        QTest::addColumn<QString>("limit");
        QTest::newRow("huge range") << QByteArray("{% for i in range(10**9) %}x{% endfor %}") << "list size (range) limit (100000)";
        QTest::newRow("nested loops") << QByteArray("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
                                      << "loop iteration limit (100000)";
        QTest::newRow("macro recursion") << QByteArray("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}") << "macro recursion limit (64)";
        QTest::newRow("mutual macro recursion")
            << QByteArray("{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n) }}{% endmacro %}{{ a(0) }}")
            << "macro recursion limit";
        QTest::newRow("string multiplication") << QByteArray("{{ 'a' * 10**9 }}") << "string size limit (1048576)";
        QTest::newRow("string multiplication, huge unit") << QByteArray("{{ ('ab' * 600000) }}") << "string size limit";
        QTest::newRow("list multiplication") << QByteArray("{{ [1, 2] * 10**9 }}") << "list size limit";
        QTest::newRow("string doubling") << QByteArray(
            "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}")
                                         << "string size limit";
        QTest::newRow("list doubling") << QByteArray(
            "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}")
                                       << "list size limit";
        QTest::newRow("output size") << QByteArray("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}") << "output size limit (1048576)";
        QTest::newRow("total string bytes")
            << QByteArray("{% for i in range(100000) %}{% set s = 'y' * 1000 ~ i %}{% endfor %}") << "total string bytes limit";
        QTest::newRow("steps") << QByteArray(
            "{% for i in range(99000) %}{% if i + i + i + i + i + i + i + i + i + i + i > -1 %}{% endif %}{% endfor %}")
                               << "step limit (1000000)";
        QTest::newRow("repr of shared huge strings") << QByteArray("{% set s = 'x' * 1000000 %}{{ [s, s, s] }}") << "limit";
        QTest::newRow("tojson of shared huge strings") << QByteArray("{% set s = 'x' * 600000 %}{{ [s, s]|tojson }}") << "limit";
        QTest::newRow("join of shared huge strings") << QByteArray("{% set s = 'x' * 600000 %}{{ [s, s]|join }}") << "limit";
        QTest::newRow("deeply nested list value") << QByteArray(
            "{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = [ns.l] %}{% endfor %}")
                                                  << "value nesting limit (256)";
        // Macro recursion inside deeply nested blocks: the interpreter's own recursion bound (which
        // keeps the C++ stack small) trips before the macro limit does.
        QTest::newRow("deep recursion through nested blocks") << QByteArray::fromStdString(
            "{% macro f(n) %}" + nested("{% if true %}", "{{ f(n + 1) }}", "{% endif %}", 30) + "{% endmacro %}{{ f(0) }}")
                                                              << "recursion depth limit (768)";
        QTest::newRow("replace blow-up") << QByteArray("{{ ('a' * 100000)|replace('a', 'bbbbbbbbbbbbbbbbbbbb') }}") << "string size limit";
        QTest::newRow("split into too many parts") << QByteArray("{{ (',' * 200000).split(',')|length }}") << "list size limit";
    }

    void hostile_renders_stop_at_a_limit() {
        QFETCH(QByteArray, source);
        QFETCH(QString, limit);
        const auto tmpl = ChatTemplate::parse(source.toStdString());
        QElapsedTimer timer;
        timer.start();
        try {
            tmpl.render(kMessages, true, "<s>", "</s>");
            QFAIL("the render finished");
        } catch (const peregrine::Error& e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.startsWith("chat template: "), qPrintable(message));
            QVERIFY2(message.contains(limit), qPrintable(message));
        }
        QVERIFY2(timer.elapsed() < kTimeBudgetMs, qPrintable(QString("took %1 ms").arg(timer.elapsed())));
    }

    // Work that is large but within the limits completes, also quickly.
    void large_but_legal_work_completes_data() {
        QTest::addColumn<QByteArray>("source");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("substring search in long strings")
            << QByteArray("{% set a = 'a' * 400000 %}{{ (a ~ 'b') in (a ~ a) }}") << QByteArray("False");
        QTest::newRow("loop at the iteration limit") << QByteArray("{% for i in range(100000) %}{% endfor %}{{ 'done' }}") << QByteArray("done");
        QTest::newRow("string at the size limit") << QByteArray("{{ ('a' * 1048576)|length }}") << QByteArray("1048576");
        QTest::newRow("sorting") << QByteArray("{{ (range(20000)|reverse|sort|first) }}") << QByteArray("0");
        QTest::newRow("macro recursion within the limit")
            << QByteArray("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}bottom{% endif %}{% endmacro %}{{ f(60) }}")
            << QByteArray("bottom");
    }

    void large_but_legal_work_completes() {
        QFETCH(QByteArray, source);
        QFETCH(QByteArray, expected);
        QElapsedTimer timer;
        timer.start();
        const auto tmpl = ChatTemplate::parse(source.toStdString());
        QCOMPARE(QByteArray::fromStdString(tmpl.render(kMessages, true, "", "").text()), expected);
        QVERIFY2(timer.elapsed() < kTimeBudgetMs, qPrintable(QString("took %1 ms").arg(timer.elapsed())));
    }

    void hostile_sources_fail_to_parse_data() {
        QTest::addColumn<QByteArray>("source");
        QTest::addColumn<QString>("limit");
        QTest::newRow("nested parentheses") << QByteArray::fromStdString("{{ " + nested("(", "1", ")", 100000) + " }}") << "nesting limit (128)";
        QTest::newRow("nested lists") << QByteArray::fromStdString("{{ " + nested("[", "1", "]", 5000) + " }}") << "nesting limit";
        QTest::newRow("long operator chain") << QByteArray::fromStdString(long_sum(100000)) << "expression nesting limit (128)";
        QTest::newRow("long filter chain") << QByteArray::fromStdString("{{ 'a'" + nested("|upper", "", "", 5000) + " }}") << "expression nesting limit";
        QTest::newRow("nested ifs") << QByteArray::fromStdString(nested("{% if true %}", "x", "{% endif %}", 5000)) << "nesting limit";
        QTest::newRow("nested negation") << QByteArray::fromStdString("{{ " + nested("not ", "1", "", 100000) + " }}") << "nesting limit";
        QTest::newRow("nested unary minus") << QByteArray::fromStdString("{{ " + nested("-", "1", "", 100000) + " }}") << "nesting limit";
        QTest::newRow("chained conditionals") << QByteArray::fromStdString("{{ 1" + nested(" if 1 else 1", "", "", 5000) + " }}") << "nesting limit";
    }

    void hostile_sources_fail_to_parse() {
        QFETCH(QByteArray, source);
        QFETCH(QString, limit);
        QElapsedTimer timer;
        timer.start();
        try {
            ChatTemplate::parse(source.toStdString());
            QFAIL("parse succeeded");
        } catch (const peregrine::Error& e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.startsWith("chat template: syntax error at line 1:"), qPrintable(message));
            QVERIFY2(message.contains(limit), qPrintable(message));
        }
        QVERIFY2(timer.elapsed() < kTimeBudgetMs, qPrintable(QString("took %1 ms").arg(timer.elapsed())));
    }

    void template_size_is_bounded() {
        ChatTemplateLimits limits;
        limits.max_template_bytes = 1000;
        QVERIFY_THROWS_EXCEPTION(peregrine::Error, ChatTemplate::parse(std::string(1001, 'x'), limits));
        QCOMPARE(ChatTemplate::parse(std::string(1000, 'x'), limits).render({}, false, "", "").text(), std::string(1000, 'x'));
    }

    // A caller can tighten the limits; they apply per render, so a template can be rendered again.
    void custom_limits_apply_to_each_render() {
        ChatTemplateLimits limits;
        limits.max_output_bytes = 64;
        limits.max_loop_iterations = 10;
        const auto tmpl = ChatTemplate::parse("{% for m in messages %}{{ m.content }}{% endfor %}", limits);
        const std::vector<ChatMessage> ten(10, ChatMessage{"user", "12345"});
        QCOMPARE(tmpl.render(ten, false, "", "").text().size(), size_t(50));
        QCOMPARE(tmpl.render(ten, false, "", "").text().size(), size_t(50));
        const std::vector<ChatMessage> eleven(11, ChatMessage{"user", "1"});
        QVERIFY_THROWS_EXCEPTION(peregrine::Error, tmpl.render(eleven, false, "", ""));
        const std::vector<ChatMessage> big = {{"user", std::string(65, 'x')}};
        QVERIFY_THROWS_EXCEPTION(peregrine::Error, tmpl.render(big, false, "", ""));
    }

    // Arbitrary bytes must never crash the lexer or parser: every prefix of a real template either
    // parses or throws Error.
    void truncated_templates_never_crash() {
        const std::string source =
            "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content|trim }}"
            "{# note #}{% if loop.last and add_generation_prompt %}{{ 'x' if true else \"y\" }}{% endif %}"
            "{%- set ns = namespace(a=[1, 2.5, {'k': none}]) %}{% raw %}{{ }}{% endraw %}{% endfor %}";
        int parsed = 0;
        for (size_t n = 0; n <= source.size(); ++n) {
            try {
                const auto tmpl = ChatTemplate::parse(source.substr(0, n));
                tmpl.render(kMessages, true, "", "");
                ++parsed;
            } catch (const peregrine::Error&) {
            }
        }
        QVERIFY(parsed > 0);
    }

    void invalid_utf8_passes_through() {
        const std::string bad = "a\xff\xc3(b\xe2\x82";
        const auto tmpl = ChatTemplate::parse("[{{ messages[0].content|trim|upper }}][" + bad + "]{{ messages[0].content|length }}");
        const auto prompt = tmpl.render({{"user", bad}}, false, "", "");
        QCOMPARE(prompt.text(), "[A\xff\xc3(B\xe2\x82][" + bad + "]7");
    }
};

QTEST_GUILESS_MAIN(TestChatTemplateLimits)
#include "tst_chat_template_limits.moc"
