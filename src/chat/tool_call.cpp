#include "chat/tool_call.h"

namespace sglang::chat {

Result<std::vector<Tool>> parse_tools(const nlohmann::ordered_json& tools) {
  std::vector<Tool> out;
  if (tools.is_null()) return out;
  if (!tools.is_array()) return make_error(ErrorCode::kInvalidArgument, "tools must be a list");
  for (size_t i = 0; i < tools.size(); ++i) {
    const auto& t = tools[i];
    const std::string where = "tools[" + std::to_string(i) + "]";
    if (!t.is_object())
      return make_error(ErrorCode::kInvalidArgument, where + " must be an object");
    if (t.contains("type") && !(t["type"].is_string() && t["type"] == "function")) {
      return make_error(ErrorCode::kInvalidArgument, where + ".type must be 'function'");
    }
    auto f = t.find("function");
    if (f == t.end() || !f->is_object()) {
      return make_error(ErrorCode::kInvalidArgument, where + ".function: Field required");
    }
    auto name = f->find("name");
    if (name == f->end() || !name->is_string()) {
      return make_error(ErrorCode::kInvalidArgument, where + ".function.name: Field required");
    }
    Tool tool;
    tool.name = name->get<std::string>();
    if (auto d = f->find("description"); d != f->end() && d->is_string()) {
      tool.description = d->get<std::string>();
    }
    if (auto p = f->find("parameters"); p != f->end()) tool.parameters = *p;
    if (auto s = f->find("strict"); s != f->end() && s->is_boolean()) tool.strict = s->get<bool>();
    out.push_back(std::move(tool));
  }
  return out;
}

}  // namespace sglang::chat
