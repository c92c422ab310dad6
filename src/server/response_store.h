#pragma once
// The responses that /v1/responses keeps for GET /v1/responses/{id}, previous_response_id and
// cancel: SGLang's OpenAIServingResponses.response_store and msg_store (serving_responses.py)
// in one map, each response with the chat messages that produced it. SGLang's store grows
// without end; this one keeps the newest `capacity` responses and forgets the oldest. Thread-safe:
// routes on any I/O thread read and write it.
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

namespace sglang {

class ResponseStore {
 public:
  using json = nlohmann::ordered_json;
  static constexpr size_t kDefaultCapacity = 1024;
  struct Entry {
    json response;  // the ResponsesResponse body
    json messages;  // the conversation it answered (instructions, history, input)
  };

  explicit ResponseStore(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Stores `entry` as the newest (replacing one of the same id); the oldest beyond the capacity
  // are dropped.
  void put(const std::string& id, Entry entry);
  std::optional<Entry> get(const std::string& id) const;
  // Runs `fn` on the stored entry under the lock; false when there is none.
  bool update(const std::string& id, const std::function<void(Entry&)>& fn);
  size_t size() const;

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::string> order_;  // oldest first
  struct Slot {
    Entry entry;
    std::list<std::string>::iterator position;
  };
  std::unordered_map<std::string, Slot> entries_;
};

}  // namespace sglang
