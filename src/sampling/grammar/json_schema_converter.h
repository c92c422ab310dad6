#pragma once
// JSON Schema (as SGLang's `sampling_params.json_schema` / OpenAI `response_format`) to EBNF text
// in xgrammar's dialect, with xgrammar's coverage and output shape (its json_schema_converter):
// properties in schema order, optional ones skippable, strict mode by default, the same
// whitespace policy.
//
// Supported: type (and type lists, so nullable is ["x","null"]), properties / required /
// additionalProperties, items / prefixItems / minItems / maxItems, enum, const, anyOf, oneOf
// (as anyOf, as xgrammar), allOf of one schema, $ref into the document ("#", "#/$defs/...",
// recursive refs become recursive rules), string pattern / format / minLength / maxLength,
// integer and number minimum / maximum / exclusiveMinimum / exclusiveMaximum, `true` and `{}`.
//
// Ignored, as xgrammar ignores them (it only warns): not, if/then/else, dependentRequired,
// dependentSchemas, uniqueItems, contains, multipleOf on numbers, unknown formats and
// annotations. Not yet here (ignored; xgrammar enforces them): patternProperties,
// propertyNames, minProperties, maxProperties, integer multipleOf. Errors where xgrammar would
// fall back to "any value" (we never answer unconstrained): allOf of several schemas, $ref to
// another document.
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sglang::grammar {

struct JsonSchemaOptions {
  bool any_whitespace = true;  // SGLang's default (xgrammar's any_whitespace)
  std::optional<int> indent;   // only when any_whitespace is false, as xgrammar
  bool strict_mode = true;     // xgrammar's default: no additional properties/items unless allowed
};

Result<std::string> json_schema_to_ebnf(std::string_view schema_json,
                                        const JsonSchemaOptions& options = {});

// The same, for embedding in a larger grammar (structural tags): the root rule is named
// `<rule_prefix>root` and every rule the schema needs is prefixed, except the shared basic_*
// rules, which are the same text in every schema converted with the same options (so a caller
// joining several may keep one copy of each line).
Result<std::string> json_schema_to_ebnf(std::string_view schema_json,
                                        const JsonSchemaOptions& options,
                                        std::string_view rule_prefix);

// Any JSON object or array: SGLang's "$$ANY$$" key for response_format {"type": "json_object"}
// compiles xgrammar's builtin JSON grammar, whose root is an object or an array.
std::string builtin_json_ebnf(bool any_whitespace = true);

}  // namespace sglang::grammar
