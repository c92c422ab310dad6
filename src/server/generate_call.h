#pragma once
// One generation call: SGLang's GenerateReqInput (the body of /generate, or what an OpenAI route
// builds from its request, as SGLang's serving_chat / serving_completions do) parsed into
// scheduler requests, submitted together, and their outputs gathered per item (text through the
// incremental detokenizer, ids, logprobs, counters). How the call answers is its Output: the native
// dicts of /generate (generate_route.cpp) or an OpenAI route's objects (openai_*_route.cpp). Lives
// until the last request finishes; all its methods run serialized on the connection's I/O strand.
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/request.h"
#include "server/http_server.h"
#include "tokenizer/incremental_detokenizer.h"

namespace sglang {

class ApiServer;

// Backpressure on a streamed call (issue 16): while more than kStreamBufferHighBytes the client
// has not read are buffered on its connection, the call leaves its requests' outputs in their
// streams (token ids, a few bytes each; the scheduler never waits) and resumes once the buffer is
// down to kStreamBufferLowBytes, sending everything that came meanwhile as one update per item,
// as SGLang's streaming coalesces the outputs that arrived while a client was slow. Nothing is
// dropped: a native chunk carries the whole text so far, an OpenAI one the delta since the last.
inline constexpr size_t kStreamBufferHighBytes = 128 << 10;
inline constexpr size_t kStreamBufferLowBytes = 32 << 10;

class GenerateCall : public std::enable_shared_from_this<GenerateCall> {
 public:
  using json = nlohmann::ordered_json;
  struct Item {
    std::unique_ptr<Request> request;  // until submitted
    std::string rid;
    size_t index = 0;         // position among all items (prompts x n)
    size_t prompt_index = 0;  // which prompt of a batch
    std::shared_ptr<RequestStream> stream;
    SamplingParams params;
    LogprobOptions logprob;
    std::optional<IncrementalDetokenizer> detok;
    std::string text;  // decoded so far (a matched stop string still in it)
    std::vector<int32_t> output_ids;
    // [logprob, token id, text or null] entries, as SGLang's meta_info.
    json output_token_logprobs = json::array(), output_top_logprobs = json::array();
    json input_token_logprobs = json::array(), input_top_logprobs = json::array();
    // token_ids_logprob: per position, the asked ids' entries (null where a position has none).
    json input_token_ids_logprobs = json::array(), output_token_ids_logprobs = json::array();
    // --incremental-streaming-output: how much of the text and of the output positions the
    // stream has sent already.
    size_t sent_text = 0, sent_outputs = 0;
    bool finished = false;
    std::optional<FinishReason> finish;
    int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
    std::chrono::steady_clock::time_point last_token_time;
    bool got_first_token = false;
  };

  // How the call answers.
  class Output {
   public:
    virtual ~Output() = default;
    // Streaming only: `item` got new output (or finished).
    virtual void on_update(GenerateCall& call, Item& item) = 0;
    // Every item has finished (after the last on_update when streaming).
    virtual void on_done(GenerateCall& call) = 0;
  };

  GenerateCall(ApiServer& server, std::shared_ptr<http::Exchange> ex);

  // Parses a GenerateReqInput into items; an error is the message of SGLang's 400 response.
  Status parse(const nlohmann::json& body);
  // Sends every item to the scheduler; answers through `output`. `detached`: the client has had
  // its answer already (a background /v1/responses request), so its disconnect aborts nothing and
  // no stream is started; the exchange only serializes the call's work.
  void submit(std::unique_ptr<Output> output, bool detached = false);

  // The text as the response gives it: SGLang's trim_matched_stop cuts a matched stop string.
  std::string final_text(const Item& it) const;
  // The abort of an item that SGLang raises as an HTTP error (status 400/500/503), if any.
  const Item* error_item() const;

  std::vector<Item>& items() { return items_; }
  const std::vector<Item>& items() const { return items_; }
  bool stream() const { return stream_; }
  bool batch() const { return batch_; }  // the native response is a list
  // --incremental-streaming-output on a streamed call: each chunk carries only what is new.
  bool incremental() const { return incremental_; }
  const std::string& weight_version() const { return weight_version_; }
  std::chrono::steady_clock::time_point start_time() const { return start_; }
  http::Exchange& exchange() { return *ex_; }
  ApiServer& server() { return server_; }

 private:
  json token_logprob_entry(int32_t token, std::optional<float> logprob) const;
  json top_entry(const std::vector<TokenLogprob>& top) const;
  // SGLang's token_ids_logprob, once for all prompts or per prompt; empty: none asked.
  Result<std::vector<std::vector<int32_t>>> parse_token_ids_logprob(const nlohmann::json& body,
                                                                    size_t num_prompts,
                                                                    int64_t n) const;
  void drain();
  void absorb(Item& it, StepOutput& out);

  ApiServer& server_;
  std::shared_ptr<http::Exchange> ex_;
  std::unique_ptr<Output> output_;
  std::chrono::steady_clock::time_point start_;
  std::vector<Item> items_;
  bool batch_ = false;
  bool stream_ = false;
  bool return_text_in_logprobs_ = false;
  bool incremental_ = false;
  std::optional<int64_t> data_parallel_rank_;  // a replica named by the request (--dp-size)
  bool done_ = false;
  bool waiting_for_client_ = false;  // paused by backpressure until the buffer drains
  std::string weight_version_;
};

// /generate's answer: SGLang's output dicts (one, or a list for a batch or n > 1), as one JSON
// body or as SSE events ("data: {...}\n\n" ... "data: [DONE]\n\n").
std::unique_ptr<GenerateCall::Output> make_native_generate_output();

}  // namespace sglang
