// Chat templates against Python jinja2 configured as transformers does: the reference
// (make_template_reference.py, a CTest fixture) holds every template, context and jinja2's output
// or exception; each pair must render byte-identical here, or fail where jinja2 raised.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace sglang::chat {
namespace {

TEST(TemplateConformance, MatchesJinja2) {
  std::ifstream in(SGLANG_TEMPLATE_REFERENCE);
  ASSERT_TRUE(in) << "missing " << SGLANG_TEMPLATE_REFERENCE
                  << " (made by the template_reference CTest fixture)";
  std::stringstream buf;
  buf << in.rdbuf();
  auto ref = nlohmann::ordered_json::parse(buf.str());
  set_clock_for_testing(ref["now"].get<std::time_t>());
  const auto& templates = ref["templates"];
  std::vector<std::optional<ChatTemplate>> parsed;
  std::vector<std::string> parse_errors;
  for (const auto& t : templates) {
    auto r = ChatTemplate::parse(t["source"].get<std::string>());
    parse_errors.push_back(r.ok() ? "" : r.error().message);
    parsed.push_back(r.ok() ? std::optional<ChatTemplate>(std::move(r.value())) : std::nullopt);
  }
  std::vector<nlohmann::ordered_json> contexts;
  for (auto c : ref["contexts"]) {
    c.erase("_name");
    contexts.push_back(std::move(c));
  }
  size_t pairs = 0, identical = 0, raised_both = 0;
  std::map<std::string, int> failures_per_template;
  for (const auto& c : ref["cases"]) {
    size_t ti = c["template"].get<size_t>(), ci = c["context"].get<size_t>();
    std::string name = templates[ti]["name"].get<std::string>();
    std::string where = name + " / " + ref["contexts"][ci]["_name"].get<std::string>();
    ++pairs;
    bool expect_error = c.contains("error");
    if (!parsed[ti]) {
      if (expect_error) {
        ++raised_both;
      } else {
        ++failures_per_template[name];
        ADD_FAILURE() << where << ": parse error: " << parse_errors[ti];
      }
      continue;
    }
    auto r = parsed[ti]->render(contexts[ci]);
    if (expect_error) {
      if (!r.ok()) {
        ++raised_both;
      } else {
        ++failures_per_template[name];
        ADD_FAILURE() << where << ": jinja2 raised " << c["error_type"].get<std::string>() << ": "
                      << c["error"].get<std::string>() << ", we rendered:\n"
                      << r.value();
      }
      continue;
    }
    std::string expected = c["output"].get<std::string>();
    if (!r.ok()) {
      ++failures_per_template[name];
      ADD_FAILURE() << where << ": error " << r.error().message;
    } else if (r.value() != expected) {
      ++failures_per_template[name];
      ADD_FAILURE() << where << ": output differs\n--- expected\n"
                    << expected << "\n--- got\n"
                    << r.value();
    } else {
      ++identical;
    }
  }
  set_clock_for_testing(std::nullopt);
  std::printf("template conformance: %zu templates, %zu pairs, %zu identical, %zu raised both\n",
              templates.size(), pairs, identical, raised_both);
  for (const auto& [name, n] : failures_per_template) {
    std::printf("  failing: %s (%d pairs)\n", name.c_str(), n);
  }
  EXPECT_GT(pairs, 0u);
}

}  // namespace
}  // namespace sglang::chat
