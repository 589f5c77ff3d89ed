// Unit tests of the Jinja interpreter behind chat templates. Expected outputs were produced by
// jinja2 3.1 configured as transformers does (see render_template_oracle.py).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <string>
#include <utility>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/globals.h"
#include "tokenizer/jinja/parser.h"

namespace mint::tokenizer {
namespace {

Result<std::string> Render(const std::string& src,
                           nlohmann::ordered_json ctx = nlohmann::ordered_json::object()) {
  MINT_ASSIGN_OR_RETURN(auto t, ChatTemplate::Parse(src));
  ChatTemplateInputs in;
  in.extra_context = std::move(ctx);
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.now_unix_seconds = 1721995200;  // 2024-07-26 12:00:00 UTC
  return t->Render(in);
}

std::string R(const std::string& src) {
  auto r = Render(src);
  return r.ok() ? *r : "ERROR: " + r.status().message();
}

TEST(JinjaTest, MatchesJinja2) {
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 4 / 2 }}",
     "7|9|3.5|3|-4|2|1024|2.0"},
    {"{{ \"a\" ~ 1 ~ none ~ true }}|{{ \"ab\" * 3 }}|{{ [1] + [2] }}",
     "a1NoneTrue|ababab|[1, 2]"},
    {"{{ 1 < 2 < 3 }}|{{ \"b\" in \"abc\" }}|{{ 3 not in [1, 2] }}|{{ not true }}|{{ 1 if false else 2 }}|{{ none or \"x\" }}|{{ 0 and 1 }}",
     "True|True|True|False|2|x|0"},
    {"{{ \"hello\"[1:3] }}|{{ [1,2,3,4][::-1] }}|{{ \"héllo\"[1] }}|{{ [1,2,3][-1] }}|{{ \"abcdef\"[::2] }}",
     "el|[4, 3, 2, 1]|é|3|ace"},
    {"{{ [\"a\", 1, 2.5, none, true, {\"k\": (1,)}] }}|{{ 1e20 }}|{{ 0.1 + 0.2 }}|{{ 1.5e-7 }}",
     "['a', 1, 2.5, None, True, {'k': (1,)}]|1e+20|0.30000000000000004|1.5e-07"},
    {"{{ {\"b\": 1, \"a\": [1, \"x\"]} | tojson }}|{{ {\"a\": \"é\\n\"} | tojson(indent=2) }}|{{ [] | tojson(indent=2) }}|{{ {\"b\":1,\"a\":2} | tojson(sort_keys=true) }}",
     "{\"b\": 1, \"a\": [1, \"x\"]}|{\n  \"a\": \"é\\n\"\n}|[]|{\"a\": 2, \"b\": 1}"},
    {"{{ \"  x  \" | trim }}|{{ \"ab\" | upper }}|{{ \"hello world\" | title }}|{{ \"hELLO\" | capitalize }}|{{ [3,1,2] | sort | join(\",\") }}|{{ [1,2] | length }}|{{ x | default(\"d\") }}|{{ \"\" | default(\"d\", true) }}",
     "x|AB|Hello World|Hello|1,2,3|2|d|d"},
    {"{{ [{\"a\": 1}, {\"a\": 2}, {\"b\": 3}] | selectattr(\"a\") | map(attribute=\"a\") | list }}|{{ [1,2,3,4] | select(\"even\") | list }}|{{ [1,2,3,4] | reject(\"odd\") | list }}|{{ [{\"r\":\"u\"},{\"r\":\"s\"}] | selectattr(\"r\", \"equalto\", \"s\") | list }}",
     "[1, 2]|[2, 4]|[2, 4]|[{'r': 's'}]"},
    {"{{ {\"b\": 1, \"a\": 2} | dictsort }}|{{ {\"b\": 1} | items | list }}|{{ [\"a\",\"A\",\"b\"] | unique | list }}|{{ \"a\\nb\\n\\nc\" | indent(2) }}|{{ \"a\\nb\" | indent(2, first=true) }}|{{ 2.567 | round(2) }}|{{ \"42\" | int + 1 }}|{{ \"4.5\" | float }}|{{ -3 | abs }}",
     "[('a', 2), ('b', 1)]|[('b', 1)]|['a', 'b']|a\n  b\n\n  c|  a\n  b|2.57|43|4.5|3"},
    {"{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{% if not loop.first %}{{ loop.previtem }}{% endif %};{% endfor %}",
     "10TrueFalse33;21FalseFalse321;32FalseTrue312;"},
    {"{% for k, v in {\"a\": 1, \"b\": 2}.items() %}{{ k }}={{ v }},{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1,2,3,4] if x is even %}{{ x }}{% endfor %}|{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
     "a=1,b=2,|empty|24|13"},
    {"{% set ns = namespace(n=0) %}{% for x in [1,2,3] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}|{% set y = 1 %}{% for x in [1] %}{% set y = 2 %}{% endfor %}{{ y }}|{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set blk %}in{{ 1 }}{% endset %}{{ blk }}",
     "6|1|12|in1"},
    {"{% macro m(a, b=\"B\") %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 2) }}{{ m(b=3, a=4) }}|{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}body{% endcall %}|{% filter upper %}abc{% endfilter %}|{% raw %}{{ x }}{% endraw %}",
     "[1B][12][43]|<body>|ABC|{{ x }}"},
    {"{{ \" a b \".strip() }}|{{ \"xxaxx\".strip(\"x\") }}|{{ \"a,b,c\".split(\",\", 1) }}|{{ \"a b  c\".split() }}|{{ \"a,b,c\".rsplit(\",\", 1) }}|{{ \"abc\".startswith((\"x\", \"a\")) }}|{{ \"abc\".endswith(\"bc\") }}|{{ \"aaa\".replace(\"a\", \"b\", 2) }}|{{ \"hello world\".title() }}|{{ \"abcb\".find(\"b\") }}|{{ \"abcb\".rfind(\"b\") }}|{{ \"abcb\".count(\"b\") }}|{{ \"{}-{}\".format(1, \"x\") }}|{{ \"-\".join([\"a\", \"b\"]) }}",
     "a b|a|['a', 'b,c']|['a', 'b', 'c']|['a,b', 'c']|True|True|bba|Hello World|1|3|2|1-x|a-b"},
    {"{{ {\"a\": 1}.get(\"a\") }}|{{ {\"a\": 1}.get(\"b\", 5) }}|{{ {\"a\": 1}.keys() | list }}|{{ {\"a\": 1}.values() | list }}|{{ [1, 2, 1].index(2) }}|{{ [1, 2, 1].count(1) }}",
     "1|5|['a']|[1]|1|2"},
    {"{{ x is defined }}|{{ none is none }}|{{ \"s\" is string }}|{{ 1 is number }}|{{ 1 is integer }}|{{ 1.0 is float }}|{{ {} is mapping }}|{{ [] is iterable }}|{{ \"\" is sequence }}|{{ true is boolean }}|{{ 3 is odd }}|{{ 4 is divisibleby 2 }}|{{ 1 is in [1] }}|{{ \"ab\" is lower }}|{{ 2 is eq 2 }}|{{ 2 is ne 3 }}|{{ x is not defined }}",
     "False|True|True|True|True|True|True|True|True|True|True|True|True|True|True|True|True"},
    {"{{ \"%s is %d years\" % (\"Bob\", 42) }}|{{ range(3) | list }}|{{ range(1, 10, 3) | list }}|{{ strftime_now(\"%Y-%m-%d\") if strftime_now is defined else \"\" }}|{{ messages[5] }}|{{ none.x }}|{{ {\"a\": 1}.a }}",
     "Bob is 42 years|[0, 1, 2]|[1, 4, 7]|2024-07-26|||1"},
    {"a\n  {% if true %}\n  b\n  {% endif %}\nc\n",
     "a\n  b\nc"},
    {"a  {%- if true -%}  b  {%- endif -%}  c",
     "abc"},
    {"{{ 1 -}}  \n  {{- 2 }}  {# note #}\n{{ 3 }}",
     "12  3"},
    {"  {%+ if true %}x{% endif %}|{% if true +%}\ny{% endif %}",
     "  x|\ny"},
    {"line1\n    {# comment #}\nline2",
     "line1\nline2"},
    {"{% for m in [1,2] %}\n  - {{ m }}\n{% endfor %}\n",
     "  - 1\n  - 2\n"},
    {"{% raw -%}  {{ x }}  {%- endraw %}|",
     "{{ x }}|"}  };
  for (const auto& [src, want] : cases) EXPECT_EQ(R(src), want) << src;
}

TEST(JinjaTest, UndefinedSemantics) {
  EXPECT_EQ(R("[{{ nope }}]"), "[]");
  EXPECT_EQ(R("{{ nope is defined }}{{ nope | length }}{{ nope | default('d') }}"), "False0d");
  EXPECT_EQ(R("{% for x in nope %}x{% endfor %}ok"), "ok");
  auto r = Render("{{ nope.attr }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'nope' is undefined"), std::string::npos);
  EXPECT_FALSE(Render("{{ nope + 1 }}").ok());
}

TEST(JinjaTest, ContextVariables) {
  auto r = Render("{{ bos_token }}{{ flag }}{{ tools }}{{ add_generation_prompt }}",
                  {{"flag", false}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "<s>FalseNoneFalse");
}

TEST(JinjaTest, GeneratorsAreOneShotAndTruthy) {
  EXPECT_EQ(R("{% set g = [1, 2] | select('odd') %}{{ g | list }}{{ g | list }}"), "[1][]");
  EXPECT_EQ(R("{{ 'yes' if [] | select('odd') else 'no' }}"), "yes");
  EXPECT_FALSE(Render("{{ [1] | map('string') | tojson }}").ok());
  EXPECT_FALSE(Render("{{ [1] | select('odd') | length }}").ok());
}

TEST(JinjaTest, MarkupEscapesPlainOperand) {
  EXPECT_EQ(R("{{ '<a>' | safe + '<b>' }}|{{ '<a>' | safe ~ '<b>' }}|{{ '<x>' | escape }}"),
            "<a>&lt;b&gt;|<a><b>|&lt;x&gt;");
}

TEST(JinjaTest, ImmutableSandboxRejectsMutation) {
  auto r = Render("{% set ns = namespace(l=[]) %}{% set _ = ns.l.append(1) %}{{ ns.l }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unsafe"), std::string::npos);

  auto body = jinja::Parse("{% set l = [] %}{% set _ = l.append(1) %}{{ l }}{{ l.pop() }}{{ l }}");
  ASSERT_TRUE(body.ok());
  jinja::RenderOptions opts;
  opts.allow_mutation = true;
  jinja::Interpreter interp(opts);
  auto out = interp.Render(*body, jinja::MakeGlobals({}));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "[1]1[]");
}

TEST(JinjaTest, RaiseExceptionNamesMessageAndLine) {
  auto r = Render("a\n{{ raise_exception('Roles must alternate') }}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("Roles must alternate"), std::string::npos);
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos);
}

TEST(JinjaTest, ErrorsNameTheLine) {
  auto parse = ChatTemplate::Parse("ok\n\n{% if x %}\n{{ 1 + }}\n{% endif %}");
  ASSERT_FALSE(parse.ok());
  EXPECT_NE(parse.status().message().find("line 4"), std::string::npos) << parse.status().message();

  auto unclosed = ChatTemplate::Parse("{% for x in y %}\nbody");
  ASSERT_FALSE(unclosed.ok());
  EXPECT_NE(unclosed.status().message().find("endfor"), std::string::npos);

  auto render = Render("x\ny\n{{ 1 + 'a' }}");
  ASSERT_FALSE(render.ok());
  EXPECT_NE(render.status().message().find("line 3"), std::string::npos);
}

TEST(JinjaTest, UnsupportedFeaturesAreNamed) {
  for (const char* src : {"{% include 'x' %}", "{% extends 'base' %}", "{% import 'm' as m %}",
                          "{% for x in y recursive %}{% endfor %}", "{{ f(*args) }}"}) {
    auto t = ChatTemplate::Parse(src);
    ASSERT_FALSE(t.ok()) << src;
    EXPECT_EQ(t.status().code(), StatusCode::kUnsupported) << src;
    EXPECT_NE(t.status().message().find("line 1"), std::string::npos) << src;
  }
}

TEST(JinjaTest, UnknownFilterFailsAtParseUnlessConditional) {
  EXPECT_FALSE(ChatTemplate::Parse("{{ x | from_json }}").ok());
  auto t = ChatTemplate::Parse("{% if false %}{{ x | from_json }}{% endif %}ok");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(R("{% if false %}{{ x | from_json }}{% endif %}ok"), "ok");
  EXPECT_FALSE(Render("{% if true %}{{ x | from_json }}{% endif %}").ok());
}

TEST(JinjaTest, LimitsStopRunawayTemplates) {
  auto deep = Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(Render("{{ range(1000000) | length }}").ok());
  auto big = Render("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
}

TEST(JinjaTest, RenderIsThreadSafe) {
  auto t = ChatTemplate::Parse(
      "{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}{% endfor %}");
  ASSERT_TRUE(t.ok());
  ChatTemplateInputs in;
  in.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":" hi "}])");
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 200; ++k) {
        auto r = (*t)->Render(in);
        if (r.ok() && *r == "<user>hi") good.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 800);
}

}  // namespace
}  // namespace mint::tokenizer
