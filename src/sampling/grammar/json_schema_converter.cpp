#include "sampling/grammar/json_schema_converter.h"

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/grammar/ebnf_text.h"
#include "sampling/grammar/number_range.h"
#include "sampling/grammar/regex_converter.h"
#include "util/json_nesting.h"

namespace sglang::grammar {
namespace {

using Json = nlohmann::ordered_json;  // ordered: properties are generated in schema order

// Deeper than any real schema; keeps a hostile one from exhausting the stack.
constexpr int kMaxDepth = 128;

Error schema_error(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "invalid json_schema: " + what);
}

// Keywords that carry no constraint (xgrammar's annotation keys): a schema made only of these
// and "type" is the plain type.
bool is_annotation(const std::string& key) {
  static const std::set<std::string> kKeys = {
      "title",     "default",  "description", "examples", "deprecated", "readOnly",
      "writeOnly", "$comment", "$schema",     "$id",      "$defs",      "definitions"};
  return kKeys.count(key) != 0;
}

// The JSON Schema formats xgrammar knows (its JSONFormatToRegexPattern), as regexes over the
// *decoded* string value (the regex converter's JSON-string mode writes the escapes).
const std::map<std::string, std::string>& format_regexes() {
  static const std::map<std::string, std::string> kFormats = [] {
    std::map<std::string, std::string> m;
    const std::string atext = "[\\w!#$%&'*+/=?^`{|}~-]";
    const std::string dot_string = "(" + atext + "+(\\." + atext + "+)*)";
    const std::string quoted_string = "\"(\\\\[\\x20-\\x7E]|[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E])*\"";
    const std::string domain =
        "([A-Za-z0-9]([\\-A-Za-z0-9]*[A-Za-z0-9])?)((\\.[A-Za-z0-9][\\-A-Za-z0-9]*[A-Za-z0-9])*)";
    m["email"] = "(" + dot_string + "|" + quoted_string + ")@" + domain;
    const std::string date = "\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[1-2]\\d|3[01])";
    const std::string time =
        "([01]\\d|2[0-3]):[0-5]\\d:([0-5]\\d|60)(\\.\\d+)?(Z|[+-]([01]\\d|2[0-3]):[0-5]\\d)";
    m["date"] = date;
    m["time"] = time;
    m["date-time"] = date + "T" + time;
    m["duration"] =
        "P((\\d+D|\\d+M(\\d+D)?|\\d+Y(\\d+M(\\d+D)?)?)(T(\\d+S|\\d+M(\\d+S)?|\\d+H(\\d+M(\\d+S)?)?)"
        ")?"
        "|T(\\d+S|\\d+M(\\d+S)?|\\d+H(\\d+M(\\d+S)?)?)|\\d+W)";
    // xgrammar's byte is (25[0-5]|2[0-4]\d|[0-1]?\d?\d), which admits leading zeros ("01")
    // that Python's ipaddress (and so jsonschema's ipv4 check) rejects; this one does not.
    const std::string decbyte = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
    m["ipv4"] = "(" + decbyte + "\\.){3}" + decbyte;
    const std::string h16 = "[0-9a-fA-F]{1,4}";
    const std::string v4 =
        "((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\\.){3,3}"
        "(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])";
    m["ipv6"] = "((" + h16 + ":){7,7}" + h16 + "|(" + h16 + ":){1,7}:|(" + h16 + ":){1,6}:" + h16 +
                "|(" + h16 + ":){1,5}(:" + h16 + "){1,2}|(" + h16 + ":){1,4}(:" + h16 + "){1,3}|(" +
                h16 + ":){1,3}(:" + h16 + "){1,4}|(" + h16 + ":){1,2}(:" + h16 + "){1,5}|" + h16 +
                ":((:" + h16 + "){1,6})|:((:" + h16 + "){1,7}|:)|::(ffff(:0{1,4}){0,1}:){0,1}" +
                v4 + "|(" + h16 + ":){1,4}:" + v4 + ")";
    m["hostname"] = "([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*";
    m["uuid"] = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}";
    const std::string pchar = "([\\w\\.~!$&'()*+,;=:@-]|%[0-9A-Fa-f][0-9A-Fa-f])";
    const std::string qf_char = "([\\w\\.~!$&'()*+,;=:@/\\?-]|%[0-9A-Fa-f][0-9A-Fa-f])*";
    const std::string query = "(\\?" + qf_char + ")?";
    const std::string fragment = "(#" + qf_char + ")?";
    const std::string path_abempty = "(/" + pchar + "*)*";
    const std::string userinfo = "([\\w\\.~!$&'()*+,;=:-]|%[0-9A-Fa-f][0-9A-Fa-f])*";
    const std::string host = "([\\w\\.~!$&'()*+,;=-]|%[0-9A-Fa-f][0-9A-Fa-f])*";
    const std::string authority = "(" + userinfo + "@)?" + host + "(:\\d*)?";
    m["uri"] = "[a-zA-Z][a-zA-Z+\\.-]*:(//" + authority + path_abempty + "|/?(" + pchar + "+(/" +
               pchar + "*)*)?)" + query + fragment;
    const std::string segment_nz_nc = "([\\w\\.~!$&'()*+,;=@-]|%[0-9A-Fa-f][0-9A-Fa-f])+";
    m["uri-reference"] = "(//" + authority + path_abempty + "|/(" + pchar + "+(/" + pchar +
                         "*)*)?|" + segment_nz_nc + "(/" + pchar + "*)*)?" + query + fragment;
    return m;
  }();
  return kFormats;
}

// The shared rules (xgrammar's basic_* rules), emitted only when referenced.
struct BasicRule {
  const char* name;
  const char* body;  // `%W` is the whitespace, `%C` the colon, `%M` the comma separator
  std::vector<const char*> uses;
};

const std::vector<BasicRule>& basic_rules() {
  static const std::vector<BasicRule> kRules = {
      {"basic_escape", "[\"\\\\/bfnrt] | \"u\" [A-Fa-f0-9]{4}", {}},
      {"basic_char", "[^\"\\\\\\u0000-\\u001F] | \"\\\\\" basic_escape", {"basic_escape"}},
      // One code point per repetition, for minLength / maxLength: no surrogate escapes, since
      // Python's json joins a \uD83D\uDE00 pair into one character.
      {"basic_counted_char",
       "[^\"\\\\\\u0000-\\u001F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9A-Ca-c] [A-Fa-f0-9]{3} | "
       "[Dd] [0-7] [A-Fa-f0-9]{2} | [E-Fe-f] [A-Fa-f0-9]{3}))",
       {}},
      {"basic_string", "\"\\\"\" basic_char* \"\\\"\"", {"basic_char"}},
      {"basic_integer", "\"0\" | \"-\"? [1-9] [0-9]*", {}},
      {"basic_number", "\"-\"? (\"0\" | [1-9] [0-9]*) (\".\" [0-9]+)? ([eE] [+\\-]? [0-9]+)?", {}},
      {"basic_boolean", "\"true\" | \"false\"", {}},
      {"basic_null", "\"null\"", {}},
      {"basic_array",
       "\"[\" %W basic_any (%M basic_any)* %W \"]\" | \"[\" %W \"]\"",
       {"basic_any"}},
      {"basic_object",
       "\"{\" %W basic_string %C basic_any (%M basic_string %C basic_any)* %W \"}\" | \"{\" %W "
       "\"}\"",
       {"basic_string", "basic_any"}},
      {"basic_any",
       "basic_number | basic_string | basic_boolean | basic_null | basic_array | basic_object",
       {"basic_number", "basic_string", "basic_boolean", "basic_null", "basic_array",
        "basic_object"}},
  };
  return kRules;
}

std::string join_sequence(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += " ";
    out += p;
  }
  return out.empty() ? "\"\"" : out;
}

std::string join_choice(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " | ") + p;
  return out;
}

std::string repeat(const std::string& item, long lo, long hi) {
  if (hi == 0) return "";
  const std::string base = "(" + item + ")";
  if (lo == 0 && hi == -1) return base + "*";
  if (lo == 1 && hi == -1) return base + "+";
  if (lo == 0 && hi == 1) return base + "?";
  if (lo == hi) return lo == 1 ? item : base + "{" + std::to_string(lo) + "}";
  if (hi == -1) return base + "{" + std::to_string(lo) + ",}";
  return base + "{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
}

std::string sanitize(const std::string& hint) {
  std::string out;
  for (char c : hint) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || !((out[0] >= 'a' && out[0] <= 'z') || (out[0] >= 'A' && out[0] <= 'Z'))) {
    out = "r_" + out;
  }
  return out.substr(0, 64);
}

Result<long> non_negative_int(const Json& schema, const char* key, long fallback) {
  if (!schema.contains(key)) return fallback;
  const Json& v = schema.at(key);
  if (!v.is_number_integer() || v.get<long long>() < 0) {
    return schema_error(std::string(key) + " must be a non-negative integer");
  }
  return static_cast<long>(std::min<long long>(v.get<long long>(), 1 << 30));
}

class Converter {
 public:
  Converter(const Json& root, const JsonSchemaOptions& options, std::string prefix)
      : root_(root), options_(options), prefix_(std::move(prefix)), root_name_(prefix_ + "root") {}

  Result<std::string> run() {
    used_names_.insert(root_name_);
    for (const auto& rule : basic_rules()) used_names_.insert(rule.name);
    ref_rules_[{"#", 0}] = root_name_;
    rules_.emplace_back(root_name_, "");
    if (auto basic = plain_type(root_)) {
      rules_[0].second = use(*basic);
    } else {
      SGLANG_ASSIGN_OR_RETURN(std::string body, body_for(root_, root_name_, 0, 0));
      rules_[0].second = body;
    }
    std::string out;
    for (const auto& [name, rule_body] : rules_) out += name + " ::= " + rule_body + "\n";
    emit_basic_rules(out);
    return out;
  }

 private:
  std::string ws() const { return options_.any_whitespace ? "[ \\n\\t]*" : ""; }

  std::string colon() const { return options_.any_whitespace ? ws() + " \":\" " + ws() : "\": \""; }

  struct Separators {
    std::string start, middle, end, empty;
  };

  // Between the members of a container at nesting `level` (0: the outermost), as xgrammar's
  // IndentManager: any whitespace, or `, ` on one line, or a newline and indent per member.
  Separators separators(int level) const {
    if (options_.any_whitespace) {
      return {ws(), ws() + " \",\" " + ws(), ws(), ws()};
    }
    if (!options_.indent) return {"", "\", \"", "", ""};
    const std::string inner(static_cast<size_t>(*options_.indent) * (level + 1), ' ');
    const std::string outer(static_cast<size_t>(*options_.indent) * level, ' ');
    return {ebnf_literal("\n" + inner), ebnf_literal(",\n" + inner), ebnf_literal("\n" + outer),
            ""};
  }

  std::string use(const std::string& basic) {
    used_basic_.insert(basic);
    return basic;
  }

  std::string fresh(const std::string& hint) {
    std::string base = sanitize(hint.rfind(prefix_, 0) == 0 ? hint : prefix_ + hint), name = base;
    for (int i = 1; used_names_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_names_.insert(name);
    return name;
  }

  void emit_basic_rules(std::string& out) {
    // Close over the uses, then print in table order.
    bool grew = true;
    while (grew) {
      grew = false;
      for (const auto& rule : basic_rules()) {
        if (!used_basic_.count(rule.name)) continue;
        for (const char* dep : rule.uses) grew |= used_basic_.insert(dep).second;
      }
    }
    // Basic rules are always compact (xgrammar builds them with no indent).
    const std::string w = ws();
    const std::string comma = options_.any_whitespace ? w + " \",\" " + w : "\", \"";
    for (const auto& rule : basic_rules()) {
      if (!used_basic_.count(rule.name)) continue;
      std::string body = rule.body, expanded;
      for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '%' && i + 1 < body.size()) {
          const char k = body[++i];
          expanded += k == 'W' ? w : k == 'C' ? colon() : comma;
        } else {
          expanded.push_back(body[i]);
        }
      }
      // An empty whitespace leaves double spaces; harmless, but keep the text tidy.
      std::string tidy;
      for (char c : expanded) {
        if (c == ' ' && !tidy.empty() && tidy.back() == ' ') continue;
        tidy.push_back(c);
      }
      out += std::string(rule.name) + " ::= " + tidy + "\n";
    }
  }

  // The basic rule for a schema that is only a type (plus annotations): xgrammar maps these to
  // its basic_* rules, so {"type": "object"} is any object even in strict mode.
  static std::optional<std::string> plain_type(const Json& schema) {
    if (!schema.is_object()) return std::nullopt;
    for (const auto& [key, value] : schema.items()) {
      if (key != "type" && !is_annotation(key)) return std::nullopt;
    }
    if (!schema.contains("type")) return "basic_any";
    const Json& type = schema.at("type");
    static const std::set<std::string> kTypes = {"integer", "number", "string", "boolean",
                                                 "null",    "array",  "object"};
    if (type.is_string() && kTypes.count(type.get<std::string>())) {
      return "basic_" + type.get<std::string>();
    }
    return std::nullopt;
  }

  // A rule name for `schema`: a basic rule for a plain type, else a new rule.
  Result<std::string> rule_for(const Json& schema, const std::string& hint, int level, int depth) {
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) return schema_error("schema 'false' accepts no value");
      return use("basic_any");
    }
    if (!schema.is_object()) return schema_error("a schema must be an object or a boolean");
    if (auto basic = plain_type(schema)) return use(*basic);
    if (schema.contains("$ref")) return ref_rule(schema.at("$ref"), level, depth);
    const std::string name = fresh(hint);
    const size_t index = rules_.size();
    rules_.emplace_back(name, "");
    SGLANG_ASSIGN_OR_RETURN(std::string body, body_for(schema, name, level, depth + 1));
    rules_[index].second = body;
    return name;
  }

  Result<std::string> ref_rule(const Json& ref, int level, int depth) {
    if (!ref.is_string()) return schema_error("$ref must be a string");
    const std::string uri = ref.get<std::string>();
    const int key_level = options_.indent ? level : 0;
    if (auto it = ref_rules_.find({uri, key_level}); it != ref_rules_.end()) return it->second;
    if (uri.empty() || uri[0] != '#') {
      return schema_error("$ref " + uri + ": only references into the same document are supported");
    }
    const Json* target = &root_;
    if (uri.size() > 1) {
      if (uri[1] != '/') return schema_error("$ref " + uri + " is not a JSON pointer");
      try {
        target = &root_.at(Json::json_pointer(uri.substr(1)));
      } catch (const std::exception&) {
        return schema_error("$ref " + uri + " does not resolve in the schema");
      }
    }
    std::string hint = uri.substr(uri.rfind('/') + 1);
    const std::string name = fresh(hint.empty() ? "ref" : hint);
    ref_rules_[{uri, key_level}] = name;
    const size_t index = rules_.size();
    rules_.emplace_back(name, "");
    SGLANG_ASSIGN_OR_RETURN(std::string body, body_for(*target, name, level, depth + 1));
    rules_[index].second = body;
    return name;
  }

  Result<std::string> body_for(const Json& schema, const std::string& name, int level, int depth) {
    if (depth > kMaxDepth) return schema_error("schema nested too deeply");
    if (schema.is_boolean()) return rule_for(schema, name, level, depth);
    if (!schema.is_object()) return schema_error("a schema must be an object or a boolean");
    // Constraints xgrammar enforces and this converter does not yet: refused, never accepted and
    // silently left unenforced.
    for (const char* key :
         {"patternProperties", "propertyNames", "minProperties", "maxProperties", "multipleOf"}) {
      if (schema.contains(key)) return schema_error(std::string(key) + " is not supported yet");
    }
    // xgrammar's order of precedence among the keywords that decide a schema's shape.
    if (schema.contains("$ref")) return ref_rule(schema.at("$ref"), level, depth);
    if (schema.contains("const")) return ebnf_literal(schema.at("const").dump());
    if (schema.contains("enum")) {
      const Json& values = schema.at("enum");
      if (!values.is_array()) return schema_error("enum must be an array");
      if (values.empty()) return schema_error("enum must not be empty");
      std::vector<std::string> choices;
      for (const auto& v : values) choices.push_back(ebnf_literal(v.dump()));
      return join_choice(choices);
    }
    // oneOf is anyOf: exclusivity cannot be expressed (xgrammar does the same, with a warning).
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!schema.contains(key)) continue;
      const Json& options = schema.at(key);
      if (!options.is_array() || options.empty()) {
        return schema_error(std::string(key) + " must be a non-empty array");
      }
      std::vector<std::string> choices;
      for (size_t i = 0; i < options.size(); ++i) {
        SGLANG_ASSIGN_OR_RETURN(
            std::string rule,
            rule_for(options[i], name + "_case_" + std::to_string(i), level, depth));
        choices.push_back(rule);
      }
      return join_choice(choices);
    }
    if (schema.contains("allOf")) {
      const Json& all = schema.at("allOf");
      if (!all.is_array()) return schema_error("allOf must be an array");
      if (all.size() != 1) {
        return schema_error("allOf with " + std::to_string(all.size()) +
                            " schemas is not supported (only one)");
      }
      return rule_for(all[0], name + "_all", level, depth);
    }
    if (schema.contains("type")) {
      const Json& type = schema.at("type");
      if (type.is_array()) {
        if (type.empty()) return schema_error("type must not be an empty array");
        std::vector<std::string> choices;
        for (const auto& t : type) {
          if (!t.is_string()) return schema_error("type must be a string or an array of strings");
          Json copy = schema;
          copy["type"] = t;
          SGLANG_ASSIGN_OR_RETURN(std::string rule,
                                  rule_for(copy, name + "_" + t.get<std::string>(), level, depth));
          choices.push_back(rule);
        }
        return join_choice(choices);
      }
      if (!type.is_string()) return schema_error("type must be a string or an array of strings");
      return typed_body(schema, type.get<std::string>(), name, level, depth);
    }
    if (schema.contains("properties") || schema.contains("additionalProperties")) {
      return typed_body(schema, "object", name, level, depth);
    }
    if (schema.contains("items") || schema.contains("prefixItems")) {
      return typed_body(schema, "array", name, level, depth);
    }
    return use("basic_any");
  }

  Result<std::string> typed_body(const Json& schema, const std::string& type,
                                 const std::string& name, int level, int depth) {
    if (type == "object") return object_body(schema, name, level, depth);
    if (type == "array") return array_body(schema, name, level, depth);
    if (type == "string") return string_body(schema, name);
    if (type == "integer") return integer_body(schema);
    if (type == "number") return number_body(schema);
    if (type == "boolean") return use("basic_boolean");
    if (type == "null") return use("basic_null");
    return schema_error("unsupported type \"" + type + "\"");
  }

  Result<std::string> object_body(const Json& schema, const std::string& name, int level,
                                  int depth) {
    struct Property {
      std::string text;
      bool required;
    };
    std::vector<Property> properties;
    std::set<std::string> required;
    if (schema.contains("required")) {
      const Json& req = schema.at("required");
      if (!req.is_array()) return schema_error("required must be an array");
      for (const auto& r : req) {
        if (!r.is_string()) return schema_error("required must be an array of strings");
        required.insert(r.get<std::string>());
      }
    }
    if (schema.contains("properties")) {
      const Json& props = schema.at("properties");
      if (!props.is_object()) return schema_error("properties must be an object");
      size_t i = 0;
      for (const auto& [key, value] : props.items()) {
        SGLANG_ASSIGN_OR_RETURN(
            std::string rule,
            rule_for(value, name + "_prop_" + std::to_string(i++), level + 1, depth));
        properties.push_back({join_sequence({ebnf_literal(Json(key).dump()), colon(), rule}),
                              required.count(key) > 0});
      }
    }
    // Additional properties: explicit, else any value unless strict (xgrammar's strict_mode).
    std::optional<std::string> additional;
    const Json* add =
        schema.contains("additionalProperties") ? &schema.at("additionalProperties") : nullptr;
    if (add && !(add->is_boolean() && !add->get<bool>())) {
      SGLANG_ASSIGN_OR_RETURN(std::string rule, rule_for(*add, name + "_addl", level + 1, depth));
      additional = join_sequence({use("basic_string"), colon(), rule});
    } else if (!add && !options_.strict_mode) {
      additional = join_sequence({use("basic_string"), colon(), use("basic_any")});
    }
    const Separators sep = separators(level);
    const std::string empty_object = join_sequence({"\"{\"", sep.empty, "\"}\""});
    if (properties.empty() && !additional) return empty_object;
    std::string content;
    if (properties.empty()) {
      content =
          join_sequence({*additional, repeat(join_sequence({sep.middle, *additional}), 0, -1)});
    } else {
      // tail[i]: what may follow once property i is placed or skipped. Properties keep schema
      // order; an optional one may be left out; additional ones come last (as xgrammar).
      const size_t n = properties.size();
      std::vector<std::string> tail(n);
      tail[n - 1] = additional ? repeat(join_sequence({sep.middle, *additional}), 0, -1) : "";
      if (!tail[n - 1].empty()) {
        const std::string rule = fresh(name + "_part_" + std::to_string(n - 1));
        rules_.emplace_back(rule, tail[n - 1]);
        tail[n - 1] = rule;
      }
      for (size_t i = n - 1; i-- > 0;) {
        const std::string with_next =
            join_sequence({sep.middle, properties[i + 1].text, tail[i + 1]});
        const std::string body =
            properties[i + 1].required
                ? with_next
                : join_choice({with_next, tail[i + 1].empty() ? "\"\"" : tail[i + 1]});
        const std::string rule = fresh(name + "_part_" + std::to_string(i));
        rules_.emplace_back(rule, body);
        tail[i] = rule;
      }
      std::vector<std::string> firsts;
      bool any_required = false;
      for (size_t i = 0; i < n; ++i) {
        firsts.push_back(join_sequence({properties[i].text, tail[i]}));
        if (properties[i].required) {
          any_required = true;
          break;
        }
      }
      if (additional && !any_required) {
        firsts.push_back(
            join_sequence({*additional, repeat(join_sequence({sep.middle, *additional}), 0, -1)}));
      }
      content = firsts.size() == 1 ? firsts[0] : "(" + join_choice(firsts) + ")";
      if (any_required) {
        return join_sequence({"\"{\"", sep.start, content, sep.end, "\"}\""});
      }
    }
    const std::string full = join_sequence({"\"{\"", sep.start, content, sep.end, "\"}\""});
    return join_choice({full, empty_object});
  }

  Result<std::string> array_body(const Json& schema, const std::string& name, int level,
                                 int depth) {
    std::vector<std::string> prefix;
    if (schema.contains("prefixItems")) {
      const Json& items = schema.at("prefixItems");
      if (!items.is_array()) return schema_error("prefixItems must be an array");
      for (size_t i = 0; i < items.size(); ++i) {
        SGLANG_ASSIGN_OR_RETURN(
            std::string rule,
            rule_for(items[i], name + "_item_" + std::to_string(i), level + 1, depth));
        prefix.push_back(rule);
      }
    }
    std::optional<std::string> additional;
    if (schema.contains("items")) {
      const Json& items = schema.at("items");
      if (!items.is_boolean() && !items.is_object()) {
        return schema_error("items must be a boolean or an object");
      }
      if (!(items.is_boolean() && !items.get<bool>())) {
        SGLANG_ASSIGN_OR_RETURN(std::string rule,
                                rule_for(items, name + "_additional", level + 1, depth));
        additional = rule;
      }
    } else if (!options_.strict_mode) {
      additional = use("basic_any");
    }
    SGLANG_ASSIGN_OR_RETURN(long min_items, non_negative_int(schema, "minItems", 0));
    SGLANG_ASSIGN_OR_RETURN(long max_items, non_negative_int(schema, "maxItems", -1));
    const long n = static_cast<long>(prefix.size());
    if (max_items != -1 && min_items > max_items) {
      return schema_error("minItems is greater than maxItems");
    }
    if (max_items != -1 && max_items < n) {
      return schema_error("maxItems is less than the number of prefixItems");
    }
    if (!additional && min_items > n) {
      return schema_error(
          "minItems is greater than the number of prefixItems, but additional items are not "
          "allowed");
    }
    const Separators sep = separators(level);
    const std::string empty_array = join_sequence({"\"[\"", sep.empty, "\"]\""});
    if (prefix.empty()) {
      if (!additional || max_items == 0) return empty_array;
      const std::string tail =
          repeat(join_sequence({sep.middle, *additional}), min_items == 0 ? 0 : min_items - 1,
                 max_items == -1 ? -1 : max_items - 1);
      const std::string nonempty =
          join_sequence({"\"[\"", sep.start, *additional, tail, sep.end, "\"]\""});
      return min_items == 0 ? join_choice({nonempty, empty_array}) : nonempty;
    }
    std::vector<std::string> parts = {"\"[\"", sep.start};
    for (long i = 0; i < n; ++i) {
      if (i > 0) parts.push_back(sep.middle);
      parts.push_back(prefix[i]);
    }
    if (additional) {
      parts.push_back(repeat(join_sequence({sep.middle, *additional}), std::max(0L, min_items - n),
                             max_items == -1 ? -1 : max_items - n));
    }
    parts.push_back(sep.end);
    parts.push_back("\"]\"");
    return join_sequence(parts);
  }

  Result<std::string> string_body(const Json& schema, const std::string& name) {
    const auto as_string = [&](const char* key) -> Result<std::optional<std::string>> {
      if (!schema.contains(key)) return std::optional<std::string>();
      if (!schema.at(key).is_string()) return schema_error(std::string(key) + " must be a string");
      return std::optional<std::string>(schema.at(key).get<std::string>());
    };
    SGLANG_ASSIGN_OR_RETURN(std::optional<std::string> format, as_string("format"));
    SGLANG_ASSIGN_OR_RETURN(std::optional<std::string> pattern, as_string("pattern"));
    // xgrammar's precedence: a known format, then pattern, then the length bounds.
    if (format) {
      if (auto it = format_regexes().find(*format); it != format_regexes().end()) {
        auto expr = regex_to_ebnf_expr(it->second, RegexOptions{/*json_string=*/true});
        if (!expr.ok()) return expr.error();
        return "\"\\\"\" (" + *expr + ") \"\\\"\"";
      }
    }
    if (pattern) {
      auto expr = regex_to_ebnf_expr(*pattern, RegexOptions{/*json_string=*/true});
      if (!expr.ok()) return schema_error("pattern " + *pattern + ": " + expr.error().message);
      return "\"\\\"\" (" + *expr + ") \"\\\"\"";
    }
    SGLANG_ASSIGN_OR_RETURN(long min_length, non_negative_int(schema, "minLength", 0));
    SGLANG_ASSIGN_OR_RETURN(long max_length, non_negative_int(schema, "maxLength", -1));
    if (max_length != -1 && min_length > max_length) {
      return schema_error("minLength " + std::to_string(min_length) +
                          " is greater than maxLength " + std::to_string(max_length));
    }
    if (min_length == 0 && max_length == -1) return use("basic_string");
    (void)name;
    return join_sequence(
        {"\"\\\"\"", repeat(use("basic_counted_char"), min_length, max_length), "\"\\\"\""});
  }

  static Result<std::optional<double>> bound(const Json& schema, const char* key) {
    if (!schema.contains(key)) return std::optional<double>();
    const Json& v = schema.at(key);
    if (!v.is_number()) return schema_error(std::string(key) + " must be a number");
    return std::optional<double>(v.get<double>());
  }

  Result<std::string> integer_body(const Json& schema) {
    SGLANG_ASSIGN_OR_RETURN(NumberBounds b, bounds(schema));
    if (!b.lo && !b.hi) return use("basic_integer");
    auto expr = integer_range_ebnf(b);
    if (!expr.ok()) return schema_error(expr.error().message);
    return *expr;
  }

  Result<std::string> number_body(const Json& schema) {
    SGLANG_ASSIGN_OR_RETURN(NumberBounds b, bounds(schema));
    if (!b.lo && !b.hi) return use("basic_number");
    auto expr = number_range_ebnf(b);
    if (!expr.ok()) return schema_error(expr.error().message);
    return *expr;
  }

  static Result<NumberBounds> bounds(const Json& schema) {
    NumberBounds b;
    SGLANG_ASSIGN_OR_RETURN(std::optional<double> minimum, bound(schema, "minimum"));
    SGLANG_ASSIGN_OR_RETURN(std::optional<double> maximum, bound(schema, "maximum"));
    SGLANG_ASSIGN_OR_RETURN(std::optional<double> ex_min, bound(schema, "exclusiveMinimum"));
    SGLANG_ASSIGN_OR_RETURN(std::optional<double> ex_max, bound(schema, "exclusiveMaximum"));
    // The stricter of an inclusive and an exclusive bound wins (as xgrammar).
    b.lo = minimum;
    if (ex_min && (!b.lo || *ex_min >= *b.lo)) {
      b.lo = ex_min;
      b.lo_exclusive = true;
    }
    b.hi = maximum;
    if (ex_max && (!b.hi || *ex_max <= *b.hi)) {
      b.hi = ex_max;
      b.hi_exclusive = true;
    }
    return b;
  }

  const Json& root_;
  JsonSchemaOptions options_;
  std::string prefix_;
  std::string root_name_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::set<std::string> used_names_;
  std::set<std::string> used_basic_;
  std::map<std::pair<std::string, int>, std::string> ref_rules_;
};

}  // namespace

Result<std::string> json_schema_to_ebnf(std::string_view schema_json,
                                        const JsonSchemaOptions& options) {
  return json_schema_to_ebnf(schema_json, options, "");
}

Result<std::string> json_schema_to_ebnf(std::string_view schema_json,
                                        const JsonSchemaOptions& options,
                                        std::string_view rule_prefix) {
  if (!json_nesting_within(schema_json)) return schema_error("schema nested too deeply");
  Json schema = Json::parse(schema_json, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) return schema_error("not valid JSON");
  if (options.indent && *options.indent < 0) return schema_error("indent must be non-negative");
  JsonSchemaOptions effective = options;
  if (effective.any_whitespace) effective.indent.reset();  // xgrammar: indent only without it
  return Converter(schema, effective, std::string(rule_prefix)).run();
}

std::string builtin_json_ebnf(bool any_whitespace) {
  JsonSchemaOptions options;
  options.any_whitespace = any_whitespace;
  // {"anyOf": [{"type": "object"}, {"type": "array"}]}: the basic object and array rules.
  auto text = json_schema_to_ebnf(R"({"anyOf": [{"type": "object"}, {"type": "array"}]})", options);
  return text.ok() ? *text : std::string();
}

}  // namespace sglang::grammar
