#include "sampling/sampling_params.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sglang {
namespace {

std::string verify_message(const SamplingParams& p) {
  Status st = p.verify(1000);
  return st.ok() ? "" : st.error().message;
}

TEST(SamplingParams, DefaultsAreSGLangs) {
  SamplingParams p;
  p.apply_defaults();
  EXPECT_EQ(p.max_new_tokens, 128);
  EXPECT_EQ(p.temperature, 1.0);
  EXPECT_EQ(p.top_p, 1.0);
  EXPECT_EQ(p.top_k, kTopKAll);
  EXPECT_TRUE(p.skip_special_tokens);
  EXPECT_TRUE(p.spaces_between_special_tokens);
  EXPECT_TRUE(p.verify(1000).ok());
}

TEST(SamplingParams, ZeroTemperatureMeansGreedy) {
  SamplingParams p;
  p.temperature = 0;
  p.apply_defaults();
  EXPECT_EQ(p.temperature, 1.0);
  EXPECT_EQ(p.top_k, 1);
  EXPECT_TRUE(p.is_greedy());
  SamplingParams q;
  q.top_k = -1;
  q.apply_defaults();
  EXPECT_EQ(q.top_k, kTopKAll);
}

TEST(SamplingParams, ValidationMessagesMatchSGLang) {
  SamplingParams p;
  p.temperature = -0.5;
  EXPECT_EQ(verify_message(p), "temperature must be a non-negative finite number, got -0.5.");
  p = {};
  p.top_p = 0;
  EXPECT_EQ(verify_message(p), "top_p must be in (0, 1], got 0.0.");
  p = {};
  p.top_p = 1.5;
  EXPECT_EQ(verify_message(p), "top_p must be in (0, 1], got 1.5.");
  p = {};
  p.min_p = 2;
  EXPECT_EQ(verify_message(p), "min_p must be in [0, 1], got 2.0.");
  p = {};
  p.top_k = 0;
  EXPECT_EQ(verify_message(p), "top_k must be -1 (disable) or at least 1, got 0.");
  p = {};
  p.frequency_penalty = 3;
  EXPECT_EQ(verify_message(p), "frequency_penalty must be in [-2, 2], got 3.0.");
  p = {};
  p.presence_penalty = -2.5;
  EXPECT_EQ(verify_message(p), "presence_penalty must be in [-2, 2], got -2.5.");
  p = {};
  p.repetition_penalty = 0;
  EXPECT_EQ(verify_message(p), "repetition_penalty must be in (0, 2] (1.0 = no penalty), got 0.0.");
  p = {};
  p.max_new_tokens = -1;
  EXPECT_EQ(verify_message(p), "max_new_tokens must be at least 0, got -1.");
  p = {};
  p.min_new_tokens = 200;
  EXPECT_EQ(verify_message(p), "min_new_tokens must be in [0, max_new_tokens(128)], got 200.");
  p = {};
  p.logit_bias[1000] = 1.0;
  EXPECT_EQ(verify_message(p), "logit_bias must has keys in [0, 999], got 1000.");
  p = {};
  p.regex = "a+";
  p.json_schema = "{}";
  EXPECT_EQ(verify_message(p), "Only one of regex, json_schema, or ebnf can be set.");
}

TEST(SamplingParams, RefusesWhatIsNotImplementedInsteadOfIgnoringIt) {
  auto from = [](const char* text) {
    auto p = sampling_params_from_json(nlohmann::json::parse(text));
    EXPECT_TRUE(p.ok());
    return verify_message(*p);
  };
  EXPECT_EQ(from(R"({"stop_regex": "a"})"), "stop_regex is not supported yet.");
  EXPECT_EQ(from(R"({"custom_params": {"a": 1}})").substr(0, 30), "custom_params is not supported");
  // null is SGLang's default: accepted.
  EXPECT_EQ(from(R"({"regex": null, "structural_tag": null, "custom_params": null})"), "");
}

TEST(SamplingParams, OneConstraintAtMost) {
  auto parse = [](const char* text) {
    auto p = sampling_params_from_json(nlohmann::json::parse(text));
    EXPECT_TRUE(p.ok());
    return *p;
  };
  const SamplingParams regex = parse(R"({"regex": "[0-9]+"})");
  EXPECT_EQ(verify_message(regex), "");
  EXPECT_EQ(regex.regex, "[0-9]+");
  // A schema given as an object is kept as its JSON text.
  EXPECT_EQ(parse(R"({"json_schema": {"type": "object"}})").json_schema, R"({"type":"object"})");
  EXPECT_EQ(parse(R"({"structural_tag": "{}"})").structural_tag, "{}");
  EXPECT_EQ(verify_message(parse(R"({"regex": "a", "json_schema": "{}"})")),
            "Only one of regex, json_schema, or ebnf can be set.");
  EXPECT_EQ(verify_message(parse(R"({"ebnf": "root ::= \"a\"", "regex": "a"})")),
            "Only one of regex, json_schema, or ebnf can be set.");
}

TEST(SamplingParams, PythonFloatRepr) {
  EXPECT_EQ(python_float_repr(0.0), "0.0");
  EXPECT_EQ(python_float_repr(-0.5), "-0.5");
  EXPECT_EQ(python_float_repr(3.0), "3.0");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(1e-7), "1e-07");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(123456.75), "123456.75");
  EXPECT_EQ(python_float_repr(1.0 / 3), "0.3333333333333333");
}

}  // namespace
}  // namespace sglang
