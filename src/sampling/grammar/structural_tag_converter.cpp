#include "sampling/grammar/structural_tag_converter.h"

#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/grammar/ebnf_text.h"
#include "sampling/grammar/json_schema_converter.h"
#include "sampling/grammar/regex_converter.h"
#include "util/json_nesting.h"

namespace sglang::grammar {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxDepth = 64;

Error tag_error(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "invalid structural_tag: " + what);
}

std::string dispatch_string_tuple(const std::vector<std::string>& items) {
  std::string out = "(";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + ebnf_literal(items[i]);
  return out + ")";
}

class Builder {
 public:
  // A new rule holding `body`; returns its name.
  std::string rule(const std::string& body) {
    const std::string name = "st_" + std::to_string(rules_.size());
    rules_.push_back(name + " ::= " + body);
    return name;
  }

  // A JSON schema's rules (prefixed); returns its root rule's name.
  Result<std::string> schema(const Json& schema) {
    const std::string prefix = "s" + std::to_string(schemas_++) + "_";
    // Structural tags carry their schema as JSON; SGLang's legacy path json.dumps it.
    SGLANG_ASSIGN_OR_RETURN(std::string text,
                            json_schema_to_ebnf(schema.dump(), JsonSchemaOptions{}, prefix));
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      if (!line.empty() && shared_lines_.insert(line).second) rules_.push_back(line);
      start = end + 1;
    }
    return prefix + "root";
  }

  // root last: every rule a TagDispatch names is defined before it.
  std::string finish(const std::string& root_body) const {
    std::string out;
    for (const auto& r : rules_) out += r + "\n";
    return out + "root ::= " + root_body + "\n";
  }

 private:
  std::vector<std::string> rules_;
  std::set<std::string> shared_lines_;
  int schemas_ = 0;
};

Result<std::string> string_field(const Json& obj, const char* key, const char* where) {
  if (!obj.is_object() || !obj.contains(key) || !obj.at(key).is_string()) {
    return tag_error(std::string(where) + " needs a string \"" + key + "\"");
  }
  return obj.at(key).get<std::string>();
}

Result<std::vector<std::string>> string_list(const Json& obj, const char* key, bool required) {
  std::vector<std::string> out;
  if (!obj.contains(key)) {
    if (required) return tag_error(std::string("missing \"") + key + "\"");
    return out;
  }
  const Json& v = obj.at(key);
  if (!v.is_array()) return tag_error(std::string("\"") + key + "\" must be an array of strings");
  for (const auto& s : v) {
    if (!s.is_string() || s.get<std::string>().empty()) {
      return tag_error(std::string("\"") + key + "\" must hold non-empty strings");
    }
    out.push_back(s.get<std::string>());
  }
  return out;
}

// The legacy {"structures", "triggers"} form, as xgrammar's StructuralTagItem list.
Result<std::string> legacy(const Json& tag) {
  if (!tag.at("structures").is_array()) return tag_error("\"structures\" must be an array");
  SGLANG_ASSIGN_OR_RETURN(std::vector<std::string> triggers, string_list(tag, "triggers", true));
  Builder b;
  std::vector<std::vector<std::string>> per_trigger(triggers.size());
  for (const auto& s : tag.at("structures")) {
    SGLANG_ASSIGN_OR_RETURN(std::string begin, string_field(s, "begin", "a structure"));
    SGLANG_ASSIGN_OR_RETURN(std::string end, string_field(s, "end", "a structure"));
    if (!s.contains("schema")) return tag_error("a structure needs a \"schema\"");
    SGLANG_ASSIGN_OR_RETURN(std::string schema_rule, b.schema(s.at("schema")));
    bool matched = false;
    for (size_t i = 0; i < triggers.size() && !matched; ++i) {
      if (begin.compare(0, triggers[i].size(), triggers[i]) != 0) continue;
      per_trigger[i].push_back(ebnf_literal(begin.substr(triggers[i].size())) + " " + schema_rule +
                               " " + ebnf_literal(end));
      matched = true;
    }
    if (!matched) return tag_error("structure begin \"" + begin + "\" starts with no trigger");
  }
  std::string dispatch = "TagDispatch(";
  bool first = true;
  for (size_t i = 0; i < triggers.size(); ++i) {
    if (per_trigger[i].empty()) continue;
    std::string body;
    for (const auto& alt : per_trigger[i]) body += (body.empty() ? "" : " | ") + alt;
    dispatch += (first ? "" : ", ") + std::string("(") + ebnf_literal(triggers[i]) + ", " +
                b.rule(body) + ")";
    first = false;
  }
  if (first) return tag_error("no structure matches any trigger");
  dispatch += ", stop_eos=true, stop_str=(), loop_after_dispatch=true)";
  return b.finish(dispatch);
}

// The newer format tree. `end` is the enclosing tag's end strings, which an unbounded format
// inside it stops at (xgrammar: "the compiler uses the enclosing end marker").
class FormatConverter {
 public:
  explicit FormatConverter(Builder& b) : b_(b) {}

  Result<std::string> convert(const Json& f, const std::vector<std::string>& end, int depth) {
    if (depth > kMaxDepth) return tag_error("formats nested too deeply");
    if (!f.is_object()) return tag_error("a format must be an object");
    SGLANG_ASSIGN_OR_RETURN(std::string type, string_field(f, "type", "a format"));
    if (type == "const_string") {
      SGLANG_ASSIGN_OR_RETURN(std::string value, string_field(f, "value", "const_string"));
      return ebnf_literal(value);
    }
    if (type == "json_schema") {
      if (!f.contains("json_schema")) return tag_error("json_schema needs \"json_schema\"");
      if (f.contains("style") && f.at("style") != "json") {
        return tag_error("json_schema style " + f.at("style").dump() + " is not supported");
      }
      return b_.schema(f.at("json_schema"));
    }
    if (type == "regex") {
      SGLANG_ASSIGN_OR_RETURN(std::string pattern, string_field(f, "pattern", "regex"));
      auto expr = regex_to_ebnf_expr(pattern);
      if (!expr.ok()) return tag_error("regex " + pattern + ": " + expr.error().message);
      return b_.rule(*expr);
    }
    if (type == "any_text") {
      SGLANG_ASSIGN_OR_RETURN(std::vector<std::string> excludes, string_list(f, "excludes", false));
      if (f.contains("max_tokens") || f.contains("max_chars")) {
        return tag_error("any_text max_tokens / max_chars are not supported");
      }
      return b_.rule(text_until(end, excludes, {}, false));
    }
    if (type == "sequence" || type == "or") {
      if (!f.contains("elements") || !f.at("elements").is_array() || f.at("elements").empty()) {
        return tag_error(type + " needs a non-empty \"elements\" array");
      }
      std::vector<std::string> parts;
      const Json& elements = f.at("elements");
      for (size_t i = 0; i < elements.size(); ++i) {
        // Only the last element of a sequence sits right before the enclosing end.
        const bool last = type == "or" || i + 1 == elements.size();
        SGLANG_ASSIGN_OR_RETURN(
            std::string p,
            convert(elements[i], last ? end : std::vector<std::string>{}, depth + 1));
        parts.push_back(p);
      }
      std::string body;
      for (const auto& p : parts) body += (body.empty() ? "" : type == "or" ? " | " : " ") + p;
      return b_.rule(body);
    }
    if (type == "optional" || type == "plus" || type == "star" || type == "repeat") {
      if (!f.contains("content")) return tag_error(type + " needs \"content\"");
      SGLANG_ASSIGN_OR_RETURN(std::string inner, convert(f.at("content"), {}, depth + 1));
      if (type == "optional") return b_.rule(inner + "?");
      if (type == "plus") return b_.rule(inner + "+");
      if (type == "star") return b_.rule(inner + "*");
      if (!f.contains("min") || !f.contains("max") || !f.at("min").is_number_integer() ||
          !f.at("max").is_number_integer()) {
        return tag_error("repeat needs integer \"min\" and \"max\"");
      }
      const long lo = f.at("min").get<long>(), hi = f.at("max").get<long>();
      if (lo < 0 || (hi != -1 && hi < lo)) return tag_error("repeat needs 0 <= min <= max");
      return b_.rule(inner + "{" + std::to_string(lo) +
                     (hi == -1 ? ",}" : "," + std::to_string(hi) + "}"));
    }
    if (type == "tag") return tag(f, depth);
    if (type == "triggered_tags") return triggered_tags(f, end, depth);
    if (type == "tags_with_separator") return tags_with_separator(f, end, depth);
    return tag_error("format type \"" + type + "\" is not supported");
  }

 private:
  // Free text until one of `end` (consumed), or EOS when `end` is empty; `tags` dispatch.
  static std::string text_until(const std::vector<std::string>& end,
                                const std::vector<std::string>& excludes,
                                const std::vector<std::pair<std::string, std::string>>& tags,
                                bool loop) {
    std::string out = "TagDispatch(";
    for (const auto& [trigger, rule] : tags)
      out += "(" + ebnf_literal(trigger) + ", " + rule + "), ";
    out += std::string("stop_eos=") + (end.empty() ? "true" : "false") +
           ", stop_str=" + dispatch_string_tuple(end) +
           ", loop_after_dispatch=" + (loop ? "true" : "false");
    if (!excludes.empty()) out += ", excludes=" + dispatch_string_tuple(excludes);
    return out + ")";
  }

  struct Tag {
    std::string begin;
    std::vector<std::string> end;
    std::string content_rule;
  };

  Result<Tag> parse_tag(const Json& f, int depth) {
    if (!f.is_object() || f.value("type", "") != "tag") return tag_error("expected a tag format");
    Tag t;
    if (!f.contains("begin") || !f.at("begin").is_string()) {
      return tag_error("a tag needs a string \"begin\" (token begins are not supported)");
    }
    t.begin = f.at("begin").get<std::string>();
    if (!f.contains("end")) return tag_error("a tag needs \"end\"");
    if (f.at("end").is_string()) {
      t.end.push_back(f.at("end").get<std::string>());
    } else if (f.at("end").is_array() && !f.at("end").empty()) {
      for (const auto& e : f.at("end")) {
        if (!e.is_string()) return tag_error("a tag's end must be strings");
        t.end.push_back(e.get<std::string>());
      }
    } else {
      return tag_error("a tag's end must be a string or a non-empty array of strings");
    }
    if (!f.contains("content")) return tag_error("a tag needs \"content\"");
    const Json& content = f.at("content");
    const std::string ctype = content.is_object() ? content.value("type", "") : "";
    // An unbounded content ends at the tag's end, which its TagDispatch consumes.
    const bool unbounded = ctype == "any_text" || ctype == "triggered_tags";
    const bool empty_end = t.end.size() == 1 && t.end[0].empty();
    SGLANG_ASSIGN_OR_RETURN(
        t.content_rule,
        convert(content, unbounded && !empty_end ? t.end : std::vector<std::string>{}, depth + 1));
    if (unbounded && !empty_end) t.end.clear();
    return t;
  }

  std::string tag_body(const Tag& t, size_t begin_skip) {
    std::string ends;
    for (const auto& e : t.end) ends += (ends.empty() ? "" : " | ") + ebnf_literal(e);
    std::string body = ebnf_literal(t.begin.substr(begin_skip)) + " " + t.content_rule;
    if (!ends.empty()) body += " (" + ends + ")";
    return body;
  }

  Result<std::string> tag(const Json& f, int depth) {
    SGLANG_ASSIGN_OR_RETURN(Tag t, parse_tag(f, depth));
    return b_.rule(tag_body(t, 0));
  }

  Result<std::vector<Tag>> tags_of(const Json& f, int depth) {
    if (!f.contains("tags") || !f.at("tags").is_array() || f.at("tags").empty()) {
      return tag_error("\"tags\" must be a non-empty array of tag formats");
    }
    std::vector<Tag> out;
    for (const auto& t : f.at("tags")) {
      SGLANG_ASSIGN_OR_RETURN(Tag parsed, parse_tag(t, depth + 1));
      out.push_back(std::move(parsed));
    }
    return out;
  }

  Result<std::string> triggered_tags(const Json& f, const std::vector<std::string>& end,
                                     int depth) {
    SGLANG_ASSIGN_OR_RETURN(std::vector<std::string> triggers, string_list(f, "triggers", true));
    if (triggers.empty()) return tag_error("triggered_tags needs triggers");
    SGLANG_ASSIGN_OR_RETURN(std::vector<std::string> excludes, string_list(f, "excludes", false));
    SGLANG_ASSIGN_OR_RETURN(std::vector<Tag> tags, tags_of(f, depth));
    if (f.value("at_least_one", false)) {
      return tag_error("triggered_tags at_least_one is not supported");
    }
    std::vector<std::pair<std::string, std::string>> dispatch;
    for (const auto& trigger : triggers) {
      std::string body;
      for (const auto& t : tags) {
        if (t.begin.compare(0, trigger.size(), trigger) != 0) continue;
        body += (body.empty() ? "" : " | ") + tag_body(t, trigger.size());
      }
      if (body.empty()) continue;
      dispatch.emplace_back(trigger, b_.rule(body));
    }
    for (const auto& t : tags) {
      bool ok = false;
      for (const auto& trigger : triggers) ok |= t.begin.compare(0, trigger.size(), trigger) == 0;
      if (!ok) return tag_error("tag begin \"" + t.begin + "\" starts with no trigger");
    }
    return b_.rule(text_until(end, excludes, dispatch, !f.value("stop_after_first", false)));
  }

  Result<std::string> tags_with_separator(const Json& f, const std::vector<std::string>& end,
                                          int depth) {
    (void)end;
    SGLANG_ASSIGN_OR_RETURN(std::string separator,
                            string_field(f, "separator", "tags_with_separator"));
    SGLANG_ASSIGN_OR_RETURN(std::vector<Tag> tags, tags_of(f, depth));
    std::string one;
    for (const auto& t : tags) one += (one.empty() ? "" : " | ") + tag_body(t, 0);
    const std::string item = b_.rule(one);
    const bool at_least_one = f.value("at_least_one", false);
    if (f.value("stop_after_first", false)) return b_.rule(at_least_one ? item : item + "?");
    const std::string list = item + " (" + ebnf_literal(separator) + " " + item + ")*";
    return b_.rule(at_least_one ? list : "(" + list + ")?");
  }

  Builder& b_;
};

}  // namespace

Result<std::string> structural_tag_to_ebnf(std::string_view structural_tag_json) {
  if (!json_nesting_within(structural_tag_json)) return tag_error("formats nested too deeply");
  Json tag = Json::parse(structural_tag_json, nullptr, /*allow_exceptions=*/false);
  if (tag.is_discarded()) return tag_error("not valid JSON");
  if (!tag.is_object()) return tag_error("must be a JSON object");
  try {
    if (tag.contains("structures")) return legacy(tag);
    if (tag.value("type", "") == "structural_tag" && tag.contains("format")) {
      Builder b;
      FormatConverter converter(b);
      SGLANG_ASSIGN_OR_RETURN(std::string root, converter.convert(tag.at("format"), {}, 0));
      return b.finish(root);
    }
  } catch (const nlohmann::json::exception& e) {
    return tag_error(e.what());  // a field of the wrong JSON type
  }
  return tag_error(
      "expected {\"structures\": [...], \"triggers\": [...]} or {\"type\": "
      "\"structural_tag\", \"format\": {...}}");
}

}  // namespace sglang::grammar
