#include "engine/request.h"

namespace sglang {

nlohmann::ordered_json to_json(const FinishReason& f) {
  using json = nlohmann::ordered_json;
  switch (f.kind) {
    case FinishReason::Kind::kStopToken:
      return {{"type", "stop"}, {"matched", f.matched_token}};
    case FinishReason::Kind::kStopString:
      return {{"type", "stop"}, {"matched", f.matched_string}};
    case FinishReason::Kind::kLength:
      return {{"type", "length"}, {"length", f.length}};
    case FinishReason::Kind::kAbort:
      return {{"type", "abort"},
              {"message", f.message},
              {"status_code", f.status_code ? json(f.status_code) : json(nullptr)},
              {"err_type", f.status_code == 400   ? json("BadRequestError")
                           : f.status_code == 500 ? json("InternalServerError")
                                                  : json(nullptr)}};
  }
  return nullptr;
}

}  // namespace sglang
