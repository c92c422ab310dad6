#pragma once
// SGLang's `sampling_params.structural_tag` to EBNF text in xgrammar's dialect.
//
// Two shapes, as xgrammar's compile_structural_tag takes them:
//  - the legacy one SGLang's xgrammar backend builds StructuralTagItems from:
//    {"structures": [{"begin", "schema", "end"}, ...], "triggers": [...]}: free text until a
//    trigger, then one structure whose begin starts with it (its JSON schema, then its end), then
//    free text again; the output ends at EOS.
//  - the newer {"type": "structural_tag", "format": {...}} with the string-level formats
//    const_string, json_schema (style "json"), regex, any_text, sequence, or, optional, plus,
//    star, repeat, tag, triggered_tags and tags_with_separator. Token-level formats, `grammar`,
//    `dispatch` and the XML styles are an error that names them (not yet here).
#include <string>
#include <string_view>

#include "util/status.h"

namespace sglang::grammar {

Result<std::string> structural_tag_to_ebnf(std::string_view structural_tag_json);

}  // namespace sglang::grammar
