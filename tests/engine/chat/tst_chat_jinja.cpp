// Jinja semantics of the chat-template interpreter. The expected outputs of the data table were
// produced by Python Jinja2 3.1 with the environment transformers uses (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols, json.dumps-based tojson), so each row pins one behaviour
// real chat templates depend on to the reference implementation.
#include <QtTest>

#include <string>
#include <vector>

#include "peregrine/chat_template.h"

using peregrine::ChatMessage;
using peregrine::ChatTemplate;
using peregrine::PromptSegment;

namespace {

const std::vector<ChatMessage> kMessages = {
    {"system", "Be brief."},
    {"user", "  Hi there  "},
    {"assistant", "Hello"},
};

std::string render(const QByteArray& source, const std::vector<ChatMessage>& messages = kMessages) {
    return ChatTemplate::parse(source.toStdString()).render(messages, true, "<s>", "</s>").text();
}

// The error text of rendering `source`, or "" if it rendered.
QString render_error(const QByteArray& source) {
    try {
        render(source);
    } catch (const peregrine::Error& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

using Segments = std::vector<std::pair<std::string, bool>>;

Segments segments_of(const peregrine::RenderedPrompt& prompt) {
    Segments out;
    for (const PromptSegment& s : prompt.segments) out.emplace_back(s.text, s.from_message_content);
    return out;
}

}  // namespace

Q_DECLARE_METATYPE(Segments)

class TestChatJinja : public QObject {
    Q_OBJECT

private slots:
    void renders_like_jinja_data() {
        QTest::addColumn<QByteArray>("source");
        QTest::addColumn<QByteArray>("expected");
    QTest::newRow("trim_blocks") << QByteArray("{% if true %}\nA\n{% endif %}\nB") << QByteArray("A\nB");
    QTest::newRow("lstrip_blocks") << QByteArray("  {% if true %}\n  x\n  {% endif %}\n  y") << QByteArray("  x\n  y");
    QTest::newRow("lstrip_not_variables") << QByteArray("  {{ 'v' }}\n") << QByteArray("  v");
    QTest::newRow("minus_left") << QByteArray("a  \n  {{- 'b' }}") << QByteArray("ab");
    QTest::newRow("minus_right") << QByteArray("{{ 'a' -}}  \n  b") << QByteArray("ab");
    QTest::newRow("minus_block_both") << QByteArray("x\n  {%- if true -%}  \n  y  \n  {%- endif -%}\n z") << QByteArray("xyz");
    QTest::newRow("plus_disables_lstrip") << QByteArray("  {%+ if true %}x{% endif %}") << QByteArray("  x");
    QTest::newRow("plus_disables_trim") << QByteArray("{% if true +%}\nx{% endif %}") << QByteArray("\nx");
    QTest::newRow("comment_trimmed") << QByteArray("a{# note #}\nb\n  {# indented #}\nc") << QByteArray("ab\nc");
    QTest::newRow("comment_minus") << QByteArray("a  {#- note -#}  b") << QByteArray("ab");
    QTest::newRow("trailing_newline_dropped") << QByteArray("x\n") << QByteArray("x");
    QTest::newRow("only_one_trailing_newline") << QByteArray("x\n\n") << QByteArray("x\n");
    QTest::newRow("crlf_normalized") << QByteArray("a\r\nb\rc") << QByteArray("a\nb\nc");
    QTest::newRow("raw_block") << QByteArray("{% raw %}{{ not evaluated }}{% endraw %}") << QByteArray("{{ not evaluated }}");
    QTest::newRow("text_after_var_keeps_newline") << QByteArray("{{ 'a' }}\n{{ 'b' }}") << QByteArray("a\nb");
    QTest::newRow("print_none_bool") << QByteArray("{{ none }}|{{ true }}|{{ False }}|{{ None }}") << QByteArray("None|True|False|None");
    QTest::newRow("print_numbers") << QByteArray("{{ 1 }}|{{ 1.0 }}|{{ 1.5e3 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1e-5 }}|{{ 1_000 }}|{{ 0x1F }}|{{ 3 / 2 }}|{{ 4 / 2 }}") << QByteArray("1|1.0|1500.0|0.30000000000000004|1e+16|1e-05|1000|31|1.5|2.0");
    QTest::newRow("print_list_dict") << QByteArray("{{ [1, 'a', none, true, [2.5]] }}|{{ {'k': 'v', 'n': 1} }}|{{ (1, 2) }}") << QByteArray("[1, 'a', None, True, [2.5]]|{'k': 'v', 'n': 1}|(1, 2)");
    QTest::newRow("repr_quotes") << QByteArray("{{ [\"it's\", 'say \"x\"', 'tab\\there\\n'] }}") << QByteArray("[\"it's\", 'say \"x\"', 'tab\\there\\n']");
    QTest::newRow("string_escapes") << QByteArray("{{ 'a\\tb\\\\c\\x41\\u00e9\\'d' }}|{{ \"q\\\"\" }}|{{ 'keep\\d' }}") << QByteArray("a\tb\\cAé'd|q\"|keep\\d");
    QTest::newRow("adjacent_strings") << QByteArray("{{ 'a' 'b' \"c\" }}") << QByteArray("abc");
    QTest::newRow("arithmetic") << QByteArray("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 5 - 8 }} {{ 2 * 3.5 }} {{ 7.5 // 2 }}") << QByteArray("3 -4 2 -2 1024 -3 7.0 3.0");
    QTest::newRow("pow_left_assoc") << QByteArray("{{ 2 ** 3 ** 2 }}|{{ -2 ** 2 }}") << QByteArray("64|4");
    QTest::newRow("precedence") << QByteArray("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 2 * 3 ~ 4 }}|{{ '1' ~ '2' * 2 }}|{{ 10 - 2 - 3 }}|{{ not 1 == 2 }}|{{ 1 < 2 and 2 < 1 or 3 }}") << QByteArray("7|9|64|122|5|True|3");
    QTest::newRow("concat_tilde") << QByteArray("{{ 'a' ~ 1 ~ none ~ true ~ [1] }}|{{ x ~ 'y' }}") << QByteArray("a1NoneTrue[1]|y");
    QTest::newRow("string_plus_and_times") << QByteArray("{{ 'ab' + 'cd' }}|{{ 'ab' * 3 }}|{{ 2 * 'x' }}|{{ 'x' * 0 }}|{{ [1, 2] * 2 }}|{{ [1] + [2] }}") << QByteArray("abcd|ababab|xx||[1, 2, 1, 2]|[1, 2]");
    QTest::newRow("comparisons") << QByteArray("{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ 'abc' < 'abd' }}{{ [1, 2] < [1, 3] }}{{ true == 1 }}{{ none == none }}") << QByteArray("TrueFalseTrueTrueTrueTrueTrueTrue");
    QTest::newRow("membership") << QByteArray("{{ 'ell' in 'hello' }}{{ 2 in [1, 2] }}{{ 'k' in {'k': 1} }}{{ 'z' not in 'abc' }}{{ 3 not in [3] }}") << QByteArray("TrueTrueTrueTrueFalse");
    QTest::newRow("and_or_values") << QByteArray("{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ '' and 'b' }}|{{ none or [] }}|{{ not 0 }}|{{ not 'a' }}") << QByteArray("x|b||[]|True|False");
    QTest::newRow("conditional_expr") << QByteArray("{{ 'y' if 1 else 'n' }}|{{ 'y' if 0 else 'n' }}|{{ 'y' if 0 }}|{{ 'a' if false else 'b' if true else 'c' }}") << QByteArray("y|n||b");
    QTest::newRow("unary") << QByteArray("{{ -3 }}|{{ +3 }}|{{ -(1 + 2) }}|{{ - 1.5 }}") << QByteArray("-3|3|-3|-1.5");
    QTest::newRow("message_access") << QByteArray("{{ messages[0]['role'] }}|{{ messages[0].content }}|{{ messages[-1].role }}|{{ messages|length }}") << QByteArray("system|Be brief.|assistant|3");
    QTest::newRow("slicing") << QByteArray("{{ messages[1:]|length }}|{{ 'hello'[1:3] }}|{{ 'hello'[::-1] }}|{{ [1, 2, 3, 4][::2] }}|{{ 'hello'[-3:] }}|{{ 'héllo'[1:3] }}|{{ [1, 2, 3][5:] }}") << QByteArray("2|el|olleh|[1, 3]|llo|él|[]");
    QTest::newRow("index_out_of_range_is_undefined") << QByteArray("[{{ messages[10] }}]{{ messages[10] is defined }}|[{{ 'ab'[5] }}]") << QByteArray("[]False|[]");
    QTest::newRow("missing_key_is_undefined") << QByteArray("[{{ messages[0].tool_calls }}]{{ messages[0].tool_calls is defined }}{{ messages[0]['x'] is undefined }}") << QByteArray("[]FalseTrue");
    QTest::newRow("undefined_prints_empty") << QByteArray("[{{ nothing }}]{{ nothing is defined }}{{ nothing|length }}{{ nothing|default('d') }}") << QByteArray("[]False0d");
    QTest::newRow("undefined_iterates_empty") << QByteArray("{% for x in nothing %}x{% else %}empty{% endfor %}") << QByteArray("empty");
    QTest::newRow("trim_filters") << QByteArray("[{{ '  a b  '|trim }}][{{ 'xxaxx'|trim('x') }}][{{ messages[1].content|trim }}]") << QByteArray("[a b][a][Hi there]");
    QTest::newRow("case_filters") << QByteArray("{{ 'hello WORLD'|upper }}|{{ 'Hello'|lower }}|{{ 'hELLO wORLD'|capitalize }}|{{ \"they're bill's-friends (x)\"|title }}|{{ 'éa'|upper }}") << QByteArray("HELLO WORLD|hello|Hello world|They're Bill's-Friends (X)|ÉA");
    QTest::newRow("length_filters") << QByteArray("{{ 'héllo'|length }}|{{ [1, 2]|count }}|{{ {'a': 1}|length }}") << QByteArray("5|2|1");
    QTest::newRow("default_filter") << QByteArray("{{ none|default('x') }}|{{ undefined_var|default('x') }}|{{ ''|default('x') }}|{{ ''|default('x', true) }}|{{ 0|d('z', boolean=true) }}") << QByteArray("None|x||x|z");
    QTest::newRow("join_filter") << QByteArray("{{ [1, 'a', none]|join(', ') }}|{{ messages|join('|', attribute='role') }}|{{ 'abc'|join('-') }}") << QByteArray("1, a, None|system|user|assistant|a-b-c");
    QTest::newRow("replace_filter") << QByteArray("{{ 'aaa'|replace('a', 'b') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'abc'|replace('', '-') }}") << QByteArray("bbb|bba|-a-b-c-");
    QTest::newRow("tojson_filter") << QByteArray("{{ {'b': 1, 'a': [1, 'x\"y', none, true, 1.5], 'c': {}} | tojson }}|{{ 'é\\n' | tojson }}|{{ [] | tojson }}") << QByteArray("{\"b\": 1, \"a\": [1, \"x\\\"y\", null, true, 1.5], \"c\": {}}|\"é\\n\"|[]");
    QTest::newRow("tojson_indent") << QByteArray("{{ {'a': [1, {'b': none}], 'c': []} | tojson(indent=2) }}") << QByteArray("{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": []\n}");
    QTest::newRow("tojson_sort_keys") << QByteArray("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}") << QByteArray("{\"a\": 2, \"b\": 1}");
    QTest::newRow("first_last") << QByteArray("{{ [1, 2, 3]|first }}{{ [1, 2, 3]|last }}{{ 'abc'|first }}{{ 'abc'|last }}[{{ []|first }}]") << QByteArray("13ac[]");
    QTest::newRow("string_filter") << QByteArray("{{ 12|string + 'x' }}|{{ none|string }}|{{ [1]|string }}") << QByteArray("12x|None|[1]");
    QTest::newRow("int_float_filters") << QByteArray("{{ '42'|int + 1 }}|{{ '4.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(7) }}|{{ 3.9|int }}|{{ '2.5'|float }}|{{ 'x'|float }}|{{ 2|float }}|{{ 'ff'|int(base=16) }}") << QByteArray("43|4|0|7|3|2.5|0.0|2.0|255");
    QTest::newRow("list_items_filters") << QByteArray("{{ 'ab'|list }}|{{ {'k': 1, 'j': 2}|items|list }}|{{ {'a': 1}|list }}") << QByteArray("['a', 'b']|[('k', 1), ('j', 2)]|['a']");
    QTest::newRow("reverse_sort_unique") << QByteArray("{{ 'abc'|reverse }}|{{ [1, 3, 2]|reverse|list }}|{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'c']|sort }}|{{ [3, 1]|sort(reverse=true) }}|{{ ['a', 'A', 'b', 'a']|unique|list }}") << QByteArray("cba|[2, 3, 1]|[1, 2, 3]|['A', 'b', 'c']|[3, 1]|['a', 'b']");
    QTest::newRow("map_select") << QByteArray("{{ messages|map(attribute='role')|join(',') }}|{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|{{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }}|{{ [1, 2, 3, 4]|select('even')|list }}|{{ [0, 1, '', 'a']|select|list }}|{{ ['A', 'b']|map('lower')|list }}") << QByteArray("system,user,assistant|1|['system', 'assistant']|[2, 4]|[1, 'a']|['a', 'b']");
    QTest::newRow("numeric_filters") << QByteArray("{{ -3|abs }}|{{ 2.5|round }}|{{ 3.14159|round(2) }}|{{ 2.1|round(0, 'ceil') }}|{{ [1, 2, 3]|sum }}|{{ [3, 1, 2]|max }}|{{ [3, 1, 2]|min }}") << QByteArray("3|2.0|3.14|3.0|6|3|1");
    QTest::newRow("indent_filter") << QByteArray("{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}") << QByteArray("a\n  b\n\n  c|  a\n  b");
    QTest::newRow("escape_filter") << QByteArray("{{ '<a href=\"x\">&</a>'|e }}|{{ 'x'|safe }}") << QByteArray("&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;|x");
    QTest::newRow("dictsort_filter") << QByteArray("{{ {'b': 1, 'a': 2}|dictsort }}|{{ {'b': 1, 'a': 2}|dictsort(by='value') }}") << QByteArray("[('a', 2), ('b', 1)]|[('b', 1), ('a', 2)]");
    QTest::newRow("tests") << QByteArray("{{ none is none }}{{ 1 is none }}{{ 'a' is string }}{{ 1 is string }}{{ {} is mapping }}{{ [] is mapping }}{{ [] is iterable }}{{ 1 is iterable }}{{ 1 is number }}{{ 1.5 is number }}{{ 'a' is number }}{{ [] is sequence }}{{ 'a' is sequence }}{{ 1 is sequence }}") << QByteArray("TrueFalseTrueFalseTrueFalseTrueFalseTrueTrueFalseTrueTrueFalse");
    QTest::newRow("more_tests") << QByteArray("{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ false is false }}{{ 0 is false }}{{ true is true }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'a' is eq 'a' }}{{ 2 is gt 1 }}{{ 'a' is in 'cat' }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ x is not defined }}{{ none is not none }}") << QByteArray("TrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueFalse");
    QTest::newRow("string_methods") << QByteArray("[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}][{{ 'xyx'.strip('x') }}]{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.upper() }}{{ 'ABC'.lower() }}{{ 'hello world'.title() }}{{ 'hELLO'.capitalize() }}") << QByteArray("[x][x  ][  x][y]TrueTrueTrueABCabcHello WorldHello");
    QTest::newRow("split_methods") << QByteArray("{{ 'a b  c '.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ ' a b c '.split(none, 1) }}|{{ 'x</think>y'.split('</think>')[-1] }}") << QByteArray("['a', 'b', 'c']|['a', 'b', '', 'c']|['a', 'b,c']|['a', 'b c ']|y");
    QTest::newRow("other_string_methods") << QByteArray("{{ 'aXbX'.replace('X', '-') }}|{{ 'hello'.find('l') }}|{{ 'hello'.find('z') }}|{{ 'banana'.count('a') }}|{{ ', '.join(['a', 'b']) }}") << QByteArray("a-b-|2|-1|3|a, b");
    QTest::newRow("dict_methods") << QByteArray("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{{ {'a': 1}.keys()|list }}{{ {'a': 1}.values()|list }}{{ {'a': 1}.get('a') }}{{ {'a': 1}.get('b', 'dflt') }}{{ {'a': 1}.get('b') }}") << QByteArray("a=1;b=2;['a'][1]1dfltNone");
    QTest::newRow("loop_variables") << QByteArray("{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}") << QByteArray("1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
    QTest::newRow("loop_prev_next") << QByteArray("{% for x in [1, 2, 3] %}{{ loop.previtem|default('-') }}{{ x }}{{ loop.nextitem|default('-') }} {% endfor %}") << QByteArray("-12 123 23- ");
    QTest::newRow("loop_else") << QByteArray("{% for x in [] %}x{% else %}none{% endfor %}|{% for x in [1] %}x{% else %}none{% endfor %}") << QByteArray("none|x");
    QTest::newRow("loop_filter") << QByteArray("{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}:{{ m.role }} {% endfor %}") << QByteArray("1/2:user 2/2:assistant ");
    QTest::newRow("loop_break_continue") << QByteArray("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}") << QByteArray("0134");
    QTest::newRow("nested_loops") << QByteArray("{% for i in [1, 2] %}{% for j in 'ab' %}{{ i }}{{ j }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}") << QByteArray("1a1 1b2 1|2a1 2b2 2|");
    QTest::newRow("loop_over_dict_and_string") << QByteArray("{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}|{% for c in 'hé' %}[{{ c }}]{% endfor %}") << QByteArray("xy|[h][é]");
    QTest::newRow("tuple_unpacking") << QByteArray("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}{% set p, q = 'xy' %}{{ q }}{{ p }}") << QByteArray("3 7 yx");
    QTest::newRow("range_function") << QByteArray("{{ range(3)|list }}|{{ range(1, 4)|list }}|{{ range(10, 0, -3)|list }}|{{ range(0)|list }}") << QByteArray("[0, 1, 2]|[1, 2, 3]|[10, 7, 4, 1]|[]");
    QTest::newRow("set_does_not_leak_from_loop") << QByteArray("{% set count = 0 %}{% for i in range(3) %}{% set count = count + 1 %}{{ count }}{% endfor %}|{{ count }}") << QByteArray("111|0");
    QTest::newRow("loop_scope_fresh_each_iteration") << QByteArray("{% for i in range(3) %}{% if i == 1 %}{% set y = 5 %}{% endif %}[{{ y }}]{% endfor %}") << QByteArray("[][5][]");
    QTest::newRow("namespace_accumulates") << QByteArray("{% set ns = namespace(total=0, seen='') %}{% for m in messages %}{% set ns.total = ns.total + 1 %}{% set ns.seen = ns.seen ~ m.role[0] %}{% endfor %}{{ ns.total }}{{ ns.seen }}") << QByteArray("3sua");
    QTest::newRow("set_block") << QByteArray("{% set greeting %}Hi {{ messages[0].role }}!{% endset %}[{{ greeting }}]{% set loud | upper %}abc{% endset %}{{ loud }}") << QByteArray("[Hi system!]ABC");
    QTest::newRow("with_block") << QByteArray("{% set x = 1 %}{% with x = 2, y = 3 %}{{ x }}{{ y }}{% endwith %}{{ x }}[{{ y }}]") << QByteArray("231[]");
    QTest::newRow("if_elif_else") << QByteArray("{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}") << QByteArray("one two many ");
    QTest::newRow("macros") << QByteArray("{% macro tag(name, value='v', sep=':') %}<{{ name }}{{ sep }}{{ value }}>{% endmacro %}{{ tag('a') }}{{ tag('b', 2) }}{{ tag('c', sep='=') }}{{ tag(name='d', value='w') }}") << QByteArray("<a:v><b:2><c=v><d:w>");
    QTest::newRow("macro_sees_globals_not_loop") << QByteArray("{% macro who() %}{{ bos_token }}[{{ m }}]{% endmacro %}{% for m in [1] %}{{ who() }}{% endfor %}") << QByteArray("<s>[]");
    QTest::newRow("python_numeric_quirks") << QByteArray("{{ 2.5 is odd }}{{ 3.0 is odd }}{{ 4.0 is even }}{{ 7.5 is divisibleby 2.5 }}|{{ '' is lower }}{{ '1' is upper }}{{ 'a1' is lower }}|{{ 3|round }}{{ true|round }}|{{ (1, 'z') * 2 }}{{ (1,) + (2,) }}{{ (1,) }}|{{ 'a-b c_d 1'|wordcount }}") << QByteArray("FalseTrueTrueTrue|FalseFalseTrue|31|(1, 'z', 1, 'z')(1, 2)(1,)|4");
    QTest::newRow("recursive_macro") << QByteArray("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}") << QByteArray("120");

    }

    void renders_like_jinja() {
        QFETCH(QByteArray, source);
        QFETCH(QByteArray, expected);
        QCOMPARE(QByteArray::fromStdString(render(source)), expected);
    }

    // {% generation %} is transformers' AssistantTracker extension (not plain Jinja): body as is.
    void generation_block_renders_its_body() {
        QCOMPARE(render("a{% generation %}b{{ 1 }}{% endgeneration %}c"), std::string("ab1c"));
    }

    void strftime_now_formats_the_current_date() {
        const std::string year = render("{{ strftime_now('%Y') }}");
        QCOMPARE(year.size(), size_t(4));
        QVERIFY(year >= "2024");
    }

    void runtime_errors_data() {
        QTest::addColumn<QByteArray>("source");
        QTest::addColumn<QString>("message");
        QTest::newRow("attribute of undefined") << QByteArray("{{ x.y }}") << "line 1:4: 'x' is undefined";
        QTest::newRow("int plus string") << QByteArray("ab\n  {{ 1 + 'a' }}") << "line 2:8: unsupported operand type(s) for +: 'int' and 'str'";
        QTest::newRow("undefined plus") << QByteArray("{{ messages[0].tool_calls + 1 }}") << "'dict' object has no attribute 'tool_calls'";
        QTest::newRow("unknown method") << QByteArray("{{ messages[0].content.format() }}") << "'str' object has no attribute 'format'";
        QTest::newRow("call undefined") << QByteArray("{{ foo() }}") << "'foo' is undefined";
        QTest::newRow("call non-callable") << QByteArray("{{ bos_token() }}") << "'str' object is not callable";
        QTest::newRow("floor division by zero") << QByteArray("{{ 1 // 0 }}") << "division or modulo by zero";
        QTest::newRow("true division by zero") << QByteArray("{{ 1 / 0 }}") << "division by zero";
        QTest::newRow("integer overflow") << QByteArray("{{ 2 ** 100 }}") << "integer overflow";
        QTest::newRow("ordering mixed types") << QByteArray("{{ 'a' < 1 }}") << "'<' not supported between instances of 'str' and 'int'";
        QTest::newRow("tojson undefined") << QByteArray("{{ x | tojson }}") << "not JSON serializable";
        QTest::newRow("float of undefined") << QByteArray("{{ x | float }}") << "'x' is undefined";
        QTest::newRow("slicing a number") << QByteArray("{{ (messages|length)[1:] }}") << "'int' object cannot be sliced";
        QTest::newRow("not iterable") << QByteArray("{% for x in 5 %}{% endfor %}") << "'int' object is not iterable";
        QTest::newRow("assign attribute of non-namespace") << QByteArray("{% set ns = 1 %}{% set ns.a = 2 %}") << "non-namespace";
        QTest::newRow("namespace cycle") << QByteArray("{% set ns = namespace() %}{% set ns.me = ns %}") << "cannot hold another namespace";
        QTest::newRow("macro arity") << QByteArray("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}") << "takes not more than 1 argument";
        QTest::newRow("unknown macro keyword") << QByteArray("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}") << "no argument named 'b'";
        QTest::newRow("unpack mismatch") << QByteArray("{% for a, b in [[1, 2, 3]] %}{% endfor %}") << "cannot unpack 3 values into 2 names";
        QTest::newRow("string modulo") << QByteArray("{{ 'a %s' % 1 }}") << "not supported";
        QTest::newRow("slice step zero") << QByteArray("{{ 'abc'[::0] }}") << "slice step cannot be zero";
        QTest::newRow("dict keys") << QByteArray("{{ {1: 2} }}") << "dict keys must be strings";
        QTest::newRow("bad filter argument") << QByteArray("{{ 'a' | tojson(indent='x') }}") << "indent must be an integer or None";
        QTest::newRow("too many filter arguments") << QByteArray("{{ 'a' | upper(1) }}") << "too many positional arguments";
    }

    void runtime_errors() {
        QFETCH(QByteArray, source);
        QFETCH(QString, message);
        const QString error = render_error(source);
        QVERIFY2(error.startsWith("chat template: "), qPrintable(error));
        QVERIFY2(error.contains(message), qPrintable(error));
    }

    void raise_exception_is_an_invalid_request() {
        const auto tmpl = ChatTemplate::parse("{% if messages|length > 1 %}{{ raise_exception('Only one message, please') }}{% endif %}");
        QVERIFY_THROWS_EXCEPTION(peregrine::InvalidRequestError, tmpl.render(kMessages, true, "", ""));
        try {
            tmpl.render(kMessages, true, "", "");
        } catch (const peregrine::InvalidRequestError& e) {
            QVERIFY2(QString(e.what()).contains("Only one message, please"), e.what());
        }
        QCOMPARE(tmpl.render({kMessages[0]}, true, "", "").text(), std::string());
    }

    void syntax_errors_data() {
        QTest::addColumn<QByteArray>("source");
        QTest::addColumn<QString>("message");
        QTest::newRow("missing operand") << QByteArray("{{ 1 + }}") << "line 1:8: unexpected '}}', expected an expression";
        QTest::newRow("unclosed if") << QByteArray("{% if true %}no end") << "unexpected end of template, expected 'elif' or 'else' or 'endif'";
        QTest::newRow("mismatched end") << QByteArray("{% for x in y %}\n  {% endif %}") << "line 2:6: unexpected 'endif', expected 'endfor' or 'else'";
        QTest::newRow("unknown filter") << QByteArray("{{ x | nosuchfilter }}") << "line 1:8: no filter named 'nosuchfilter'";
        QTest::newRow("unknown test") << QByteArray("{{ x is nosuchtest }}") << "line 1:9: no test named 'nosuchtest'";
        QTest::newRow("unsupported tag") << QByteArray("{% include 'x.jinja' %}") << "the 'include' tag is not supported";
        QTest::newRow("unknown tag") << QByteArray("text\n{% frobnicate %}") << "line 2:4: unknown tag 'frobnicate'";
        QTest::newRow("unterminated string") << QByteArray("{{ 'abc }}") << "line 1:4: unterminated string literal";
        QTest::newRow("unterminated comment") << QByteArray("a {# never closed") << "line 1:3: missing end of comment tag";
        QTest::newRow("unbalanced bracket") << QByteArray("{{ (1 }}") << "unexpected '}', expected ')'";
        QTest::newRow("bad character") << QByteArray("{{ 1 ! 2 }}") << "line 1:6: unexpected char '!'";
        QTest::newRow("break outside loop") << QByteArray("{% break %}") << "'break' outside of a loop";
        QTest::newRow("unclosed variable") << QByteArray("{{ x ") << "expected '}}'";
        QTest::newRow("bad escape") << QByteArray("{{ '\\x4' }}") << "truncated \\x escape";
        QTest::newRow("huge integer") << QByteArray("{{ 99999999999999999999 }}") << "integer literal too large";
        QTest::newRow("stray endfor") << QByteArray("{% endfor %}") << "unexpected 'endfor'";
        QTest::newRow("set without value") << QByteArray("{% set a, b %}{% endset %}") << "expected '='";
        QTest::newRow("position after unicode") << QByteArray("héé {{ 1 + }}") << "line 1:12:";
    }

    void syntax_errors() {
        QFETCH(QByteArray, source);
        QFETCH(QString, message);
        try {
            ChatTemplate::parse(source.toStdString());
            QFAIL("parse succeeded");
        } catch (const peregrine::Error& e) {
            const QString error = QString::fromUtf8(e.what());
            QVERIFY2(error.startsWith("chat template: syntax error at line "), qPrintable(error));
            QVERIFY2(error.contains(message), qPrintable(error));
        }
    }

    // Taint: bytes from message content stay marked through the operations templates apply to them.
    void content_taint_follows_string_operations_data() {
        QTest::addColumn<QByteArray>("source");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<Segments>("expected");
        QTest::newRow("plain") << QByteArray("[{{ messages[0].content }}]") << QByteArray("hi")
                               << Segments{{"[", false}, {"hi", true}, {"]", false}};
        QTest::newRow("role is not content") << QByteArray("{{ messages[0].role }}:{{ messages[0]['content'] }}") << QByteArray("hi")
                                             << Segments{{"user:", false}, {"hi", true}};
        QTest::newRow("plus and tilde") << QByteArray("{{ '<' + messages[0].content ~ 1 }}") << QByteArray("x")
                                        << Segments{{"<", false}, {"x", true}, {"1", false}};
        QTest::newRow("trim keeps the middle") << QByteArray("{{ messages[0].content|trim }}") << QByteArray("  a b  ")
                                               << Segments{{"a b", true}};
        QTest::newRow("upper") << QByteArray("{{ messages[0].content|upper }}!") << QByteArray("évil")
                               << Segments{{"ÉVIL", true}, {"!", false}};
        QTest::newRow("replace inserts template text") << QByteArray("{{ messages[0].content|replace('-', '<br>') }}") << QByteArray("a-b")
                                                       << Segments{{"a", true}, {"<br>", false}, {"b", true}};
        QTest::newRow("replace keeps joined content") << QByteArray("{{ messages[0].content.replace('X', '') }}") << QByteArray("<|im_stXart|>")
                                                      << Segments{{"<|im_start|>", true}};
        QTest::newRow("slice") << QByteArray("{{ messages[0].content[1:-1] }}") << QByteArray("[x]")
                               << Segments{{"x", true}};
        QTest::newRow("split and index") << QByteArray("{{ messages[0].content.split('</think>')[-1].lstrip() }}") << QByteArray("t</think>\n answer")
                                         << Segments{{"answer", true}};
        QTest::newRow("tojson escapes inside the mark") << QByteArray("{{ messages[0].content|tojson }}") << QByteArray("a\"b")
                                                        << Segments{{"\"", false}, {"a\\\"b", true}, {"\"", false}};
        QTest::newRow("repr in a list") << QByteArray("{{ [messages[0].content] }}") << QByteArray("c")
                                        << Segments{{"['", false}, {"c", true}, {"']", false}};
        QTest::newRow("through set and namespace") << QByteArray("{% set ns = namespace(t='') %}{% set ns.t = ns.t ~ messages[0].content %}{% set x = ns.t %}{{ x }}")
                                                   << QByteArray("z") << Segments{{"z", true}};
        QTest::newRow("through a macro") << QByteArray("{% macro q(s) %}<{{ s }}>{% endmacro %}{{ q(messages[0].content) }}") << QByteArray("m")
                                         << Segments{{"<", false}, {"m", true}, {">", false}};
        QTest::newRow("through a set block") << QByteArray("{% set b %}[{{ messages[0].content }}]{% endset %}{{ b|upper }}") << QByteArray("k")
                                             << Segments{{"[", false}, {"K", true}, {"]", false}};
        QTest::newRow("iterating characters") << QByteArray("{% for c in messages[0].content %}{{ c }}.{% endfor %}") << QByteArray("ab")
                                              << Segments{{"a", true}, {".", false}, {"b", true}, {".", false}};
        QTest::newRow("join") << QByteArray("{{ [messages[0].content, 'lit']|join('+') }}") << QByteArray("c")
                              << Segments{{"c", true}, {"+lit", false}};
        QTest::newRow("length is a number") << QByteArray("{{ messages[0].content|length }}") << QByteArray("abc")
                                            << Segments{{"3", false}};
    }

    void content_taint_follows_string_operations() {
        QFETCH(QByteArray, source);
        QFETCH(QByteArray, content);
        QFETCH(Segments, expected);
        const auto prompt = ChatTemplate::parse(source.toStdString())
                                .render({ChatMessage{"user", content.toStdString()}}, false, "<s>", "</s>");
        QCOMPARE(segments_of(prompt), expected);
    }
};


QTEST_GUILESS_MAIN(TestChatJinja)
#include "tst_chat_jinja.moc"
