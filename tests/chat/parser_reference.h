#pragma once
// tests/chat/data/parser_reference.json: what SGLang 0.5.5's own parsers return for a set of
// model outputs (made by tools/make_parser_reference.py).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace sglang::chat::testing {

inline const nlohmann::ordered_json& parser_reference() {
  static const nlohmann::ordered_json kReference = [] {
    auto path = std::filesystem::path(SGLANG_CHAT_TEST_DATA_DIR) / "parser_reference.json";
    std::ifstream in(path);
    return nlohmann::ordered_json::parse(in);
  }();
  return kReference;
}

}  // namespace sglang::chat::testing
