// Unit tests of the Jinja2 engine: each construct, filters, whitespace control, printing of
// values, undefined behaviour, sandbox refusals and errors. Expected texts are jinja2 3.1.4's.
#include <gtest/gtest.h>

#include "chat/chat_template.h"

namespace sglang::chat {
namespace {

std::string render(const std::string& source, const nlohmann::ordered_json& ctx = {}) {
  auto t = ChatTemplate::parse(source);
  if (!t.ok()) return "PARSE ERROR: " + t.error().message;
  auto r = t->render(ctx.is_null() ? nlohmann::ordered_json::object() : ctx);
  if (!r.ok()) return "ERROR: " + r.error().message;
  return r.value();
}

TEST(Jinja, PrintsValuesAsPython) {
  EXPECT_EQ(render("{{ [1,'a',None,1.0,True] }}"), "[1, 'a', None, 1.0, True]");
  EXPECT_EQ(render("{{ {'a': (1,), 'b': \"it's\"} }}"), "{'a': (1,), 'b': \"it's\"}");
  EXPECT_EQ(render("{{ 1e20 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 3/2 }}"),
            "1e+20 1e+16 1000000000000000.0 0.0001 1e-05 1.5");
  EXPECT_EQ(render("{{ 7//-2 }} {{ -7 % 3 }} {{ 2**10 }} {{ 'ab' * 3 }} {{ 'abc'[::-1] }}"),
            "-4 2 1024 ababab cba");
  EXPECT_EQ(render("{{ range(3) }} {{ {}.items() }}"), "range(0, 3) dict_items([])");
  EXPECT_EQ(render("{{ '%s-%5.2f|%d' % ('a', 3.14159, 7) }}"), "a- 3.14|7");
}

TEST(Jinja, EndlessRecursionIsRecursionError) {
  const std::string out = render("{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}");
  EXPECT_NE(out.find("ERROR"), std::string::npos) << out;
  EXPECT_NE(out.find("recursion"), std::string::npos) << out;
  // Nesting that real templates use (a tool schema a few levels deep) still renders.
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}({{ f(n - 1) }}){% endif %}{% endmacro %}"
                   "{{ f(20) }}"),
            std::string(20, '(') + std::string(20, ')'));
}

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc\n"), "a\n  b\nc");
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(render("a {{- ' b ' -}} c"), "a b c");
  EXPECT_EQ(render("{# comment #}\nx{% raw %}{{ y }}{% endraw %}"), "x{{ y }}");
}

TEST(Jinja, LoopsAndScopes) {
  EXPECT_EQ(render("{% for x in [1,2,3] if x != 2 %}{{ loop.index }}/{{ loop.length }}"
                   "{{ ',' if not loop.last }}{% endfor %}"),
            "1/2,2/2");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"),
            "a=1;b=2;");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in range(5) %}{% if x == 3 %}{% break %}{% endif %}"
                   "{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}"),
            "02");
  EXPECT_EQ(render("{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = i %}{{ x }};"
                   "{% endfor %}{{ x }}"),
            "00;01;02;0");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }}"),
            "3");
  EXPECT_EQ(render("{% for x in 'ab' %}{{ loop.cycle('x', 'y') }}{% endfor %}"), "xy");
}

TEST(Jinja, MacrosCallFilterBlocksSetBlocks) {
  EXPECT_EQ(render("{% macro m(a, b=2) %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}"
                   "{{ m(1, 3, 4, c=5) }}"),
            "13(4,){'c': 5}");
  EXPECT_EQ(render("{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}in{% endcall %}"),
            "[in]");
  EXPECT_EQ(render("{% filter upper %}abc{% endfilter %}"), "ABC");
  EXPECT_EQ(render("{% set x | trim %}  y  {% endset %}[{{ x }}]"), "[y]");
}

TEST(Jinja, FiltersAndTests) {
  nlohmann::ordered_json ctx = {{"xs", {{{"n", "a"}, {"v", 2}}, {{"n", "b"}, {"v", 1}}}}};
  EXPECT_EQ(render("{{ xs | map(attribute='n') | join(',') }}", ctx), "a,b");
  EXPECT_EQ(render("{{ xs | selectattr('v', 'equalto', 1) | map(attribute='n') | list }}", ctx),
            "['b']");
  EXPECT_EQ(render("{{ (xs | sort(attribute='v') | first).n }}", ctx), "b");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | dictsort }}"), "[('a', 2), ('b', 1)]");
  EXPECT_EQ(render("{{ none | default('d') }}|{{ '' | default('d', true) }}|{{ u | d('x') }}"),
            "None|d|x");
  EXPECT_EQ(render("{{ {'a': [1, 'é']} | tojson }}|{{ {'a': 1} | tojson(indent=2) }}"),
            "{\"a\": [1, \"é\"]}|{\n  \"a\": 1\n}");
  EXPECT_EQ(render("{{ ' x ' | trim }}{{ 'ab' | upper }}{{ 'a b c' | wordcount }}{{ -3 | abs }}"),
            "xAB33");
  EXPECT_EQ(render("{{ 'a\nb' | indent(2) }}|{{ 3 is odd }}{{ 4 is divisibleby 2 }}"
                   "{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}"),
            "a\n  b|TrueTrueFalseTrueTrueTrue");
  EXPECT_EQ(render("{{ [3, 1, 3] | unique | list }} {{ [1, 2] | reverse | list }}"),
            "[3, 1] [2, 1]");
}

TEST(Jinja, StringMethods) {
  EXPECT_EQ(render("{{ ' a,b ,c '.strip().split(',') }}"), "['a', 'b ', 'c']");
  EXPECT_EQ(render("{{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }}"),
            "['a', 'b c'] ['a b', 'c']");
  EXPECT_EQ(render("{{ 'xxhixx'.lstrip('x') }} {{ 'hi'.startswith('h') }} {{ 'abc'.find('c') }}"),
            "hixx True 2");
  EXPECT_EQ(render("{{ '{} and {x}'.format(1, x=2) }} {{ {'a': 1}.get('b', 3) }}"), "1 and 2 3");
  EXPECT_EQ(render("{{ 'héllo'[1] }}{{ 'héllo' | length }}"), "é5");
}

TEST(Jinja, Undefined) {
  EXPECT_EQ(render("[{{ missing }}]{{ missing is defined }}{% for x in missing %}x{% endfor %}"),
            "[]False");
  EXPECT_EQ(render("{{ {'a': 1}.b }}|{{ [1][5] }}|{{ missing | length }}"), "||0");
  EXPECT_EQ(render("{{ missing.attr }}"), "ERROR: UndefinedError: 'missing' is undefined");
  EXPECT_EQ(render("{{ {}.a.b }}"), "ERROR: UndefinedError: 'dict object' has no attribute 'a'");
  EXPECT_EQ(render("{{ missing + 1 }}"), "ERROR: UndefinedError: 'missing' is undefined");
  // An empty subscript is the empty tuple, as in Jinja2 (CI's fuzz_chat_template found it).
  EXPECT_EQ(render("[{{ a[] }}]", {{"a", {1, 2}}}), "[]");
  EXPECT_EQ(render("{{ a[].x }}", {{"a", {1, 2}}}),
            "ERROR: UndefinedError: list object has no element ()");
  // jinja2 quotes the type for a missing attribute, not for a missing element.
  EXPECT_EQ(render("{{ none.x.y }}"), "ERROR: UndefinedError: 'None' has no attribute 'x'");
  EXPECT_EQ(render("{{ none[1].y }}"), "ERROR: UndefinedError: None has no element 1");
  EXPECT_EQ(render("{{ {}[\"it's\"].y }}"),
            "ERROR: UndefinedError: 'dict object' has no attribute \"it's\"");
  EXPECT_EQ(render("{{ 'ab'[9].y }}"), "ERROR: UndefinedError: str object has no element 9");
}

TEST(Jinja, BoundsNestingCyclesAndSizes) {
  // Past the parser's bound (jinja2 itself stops near 80 parentheses) a syntax error, not a crash.
  const std::string parens = std::string(300, '(') + "1" + std::string(300, ')');
  EXPECT_NE(render("{{ " + parens + " }}").find("nested too deeply"), std::string::npos);
  EXPECT_EQ(render("{{ " + std::string(50, '(') + "1" + std::string(50, ')') + " }}"), "1");
  std::string chain = "{{ 1";
  for (int i = 0; i < 2000; ++i) chain += " + 1";
  EXPECT_NE(render(chain + " }}").find("ERROR: RecursionError"), std::string::npos);
  // A namespace cannot come to hold itself, nor nest without bound; sharing is fine.
  EXPECT_EQ(render("{% set ns = namespace(x=0) %}{% set ns.x = [ns] %}"),
            "ERROR: ValueError: a namespace attribute cannot hold the namespace itself");
  EXPECT_NE(render("{% set ns = namespace(x=0) %}{% for i in range(1000) %}{% set ns.x = [ns.x] "
                   "%}{% endfor %}")
                .find("ERROR: RecursionError: namespace value nested too deeply"),
            std::string::npos);
  EXPECT_EQ(render("{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, "
                   "ns.x] %}{% endfor %}{{ ns.x | length }}"),
            "2");
  // Repetition and concatenation stay bounded.
  EXPECT_EQ(render("{{ 'ab' * 1000000000000 }}"),
            "ERROR: MemoryError: the result would be too long");
  EXPECT_EQ(render("[{{ '' * 1000000000000000000 }}]"), "[]");
  EXPECT_EQ(render("{{ ('ab' * 3) ~ ([1] * 2) }}"), "ababab[1, 1]");
  // Numbers past int64 or double (fuzz_chat_template: `m.666…` threw out of std::stoll).
  EXPECT_EQ(render("[{{ [1].99999999999999999999 }}]"), "[]");
  EXPECT_EQ(render("{{ 1e999 }}|{{ 1e-400 }}"), "inf|0.0");
  EXPECT_NE(render("{{ '{99999999999999999999999}'.format(1) }}").find("ERROR: "),
            std::string::npos);
}

TEST(Jinja, ErrorsAndSandbox) {
  EXPECT_EQ(render("{{ raise_exception('bad role') }}"), "ERROR: TemplateError: bad role");
  EXPECT_EQ(render("{% set xs = [] %}{{ xs.append(1) }}"),
            "ERROR: SecurityError: access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_EQ(render("{{ 'a' + 1 }}"),
            "ERROR: TypeError: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(render("{{ x | nofilter }}"),
            "PARSE ERROR: template syntax error: No filter named 'nofilter'. (line 1)");
  EXPECT_EQ(render("{% if false %}{{ x | nofilter }}{% endif %}ok"), "ok");
  EXPECT_EQ(render("{% do x %}"),
            "PARSE ERROR: template syntax error: Encountered unknown tag 'do'. (line 1)");
  EXPECT_EQ(render("{% if x %}"),
            "PARSE ERROR: template syntax error: Unexpected end of template. Jinja was looking "
            "for the following tags: 'elif'. (line 1)");
  EXPECT_EQ(render("{{ 1 +* 2 }}").substr(0, 40), "PARSE ERROR: template syntax error: expe");
}

TEST(Jinja, MarkupConcatenationEscapes) {
  EXPECT_EQ(render("{{ 'a'|safe + '<b>' }}"), "a&lt;b&gt;");
}

TEST(Jinja, StrftimeNowUsesTheTestClock) {
  set_clock_for_testing(86400 * 365);
  EXPECT_EQ(render("{{ strftime_now('%Y') }}").size(), 4u);
  set_clock_for_testing(std::nullopt);
}

TEST(ChatTemplate, ContentFormatAndPrepareMessages) {
  auto t = ChatTemplate::parse(
      "{% for m in messages %}{% for p in m.content %}{{ p.text }}"
      "{% endfor %}{% endfor %}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->content_format(), "openai");
  auto s = ChatTemplate::parse("{% for m in messages %}{{ m.content }}{% endfor %}");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->content_format(), "string");
  nlohmann::ordered_json msgs = nlohmann::ordered_json::parse(R"([
    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    {"role": "assistant", "content": "", "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]}])");
  auto p = prepare_messages(msgs, "string");
  EXPECT_EQ(p[0]["content"], "a b");
  EXPECT_EQ(p[1]["tool_calls"][0]["function"]["arguments"]["x"], 1);
  EXPECT_EQ(prepare_messages(msgs, "openai")[0]["content"].size(), 2u);
}

}  // namespace
}  // namespace sglang::chat
