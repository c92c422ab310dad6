#include "server/response_store.h"

namespace sglang {

void ResponseStore::put(const std::string& id, Entry entry) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(id); it != entries_.end()) {
    order_.erase(it->second.position);
    entries_.erase(it);
  }
  order_.push_back(id);
  entries_.emplace(id, Slot{std::move(entry), std::prev(order_.end())});
  while (entries_.size() > capacity_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<ResponseStore::Entry> ResponseStore::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.entry;
}

bool ResponseStore::update(const std::string& id, const std::function<void(Entry&)>& fn) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  fn(it->second.entry);
  return true;
}

size_t ResponseStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace sglang
