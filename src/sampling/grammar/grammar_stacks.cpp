#include "sampling/grammar/grammar_stacks.h"

namespace sglang::grammar {

namespace {
size_t slot_of(uint64_t key, size_t mask) {
  key ^= key >> 31;
  key *= 0x9E3779B97F4A7C15ULL;
  key ^= key >> 29;
  return static_cast<size_t>(key) & mask;
}
}  // namespace

int32_t StackPool::Table::find(uint64_t key) const {
  if (keys.empty()) return -1;
  size_t mask = keys.size() - 1;
  for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
    if (keys[i] == key) return values[i];
    if (keys[i] == 0) return -1;
  }
}

void StackPool::Table::insert(uint64_t key, int32_t value) {
  if ((used.size() + 1) * 2 > keys.size()) {
    // Grow (power of two, at most half full) and re-insert what is there.
    std::vector<uint64_t> old_keys(std::max<size_t>(64, keys.size() * 2), 0);
    std::vector<int32_t> old_values(old_keys.size(), -1);
    old_keys.swap(keys);
    old_values.swap(values);
    std::vector<uint32_t> old_used;
    old_used.swap(used);
    used.reserve(old_used.size() * 2);
    for (uint32_t slot : old_used) insert(old_keys[slot], old_values[slot]);
  }
  size_t mask = keys.size() - 1;
  size_t i = slot_of(key, mask);
  while (keys[i] != 0) i = (i + 1) & mask;
  keys[i] = key;
  values[i] = value;
  used.push_back(static_cast<uint32_t>(i));
}

void StackPool::Table::reserve(size_t n) {
  size_t cap = 64;
  while (cap < 2 * n) cap *= 2;
  if (cap <= keys.size()) return;
  std::vector<uint64_t> old_keys(cap, 0);
  std::vector<int32_t> old_values(cap, -1);
  old_keys.swap(keys);
  old_values.swap(values);
  std::vector<uint32_t> old_used;
  old_used.swap(used);
  used.reserve(n);
  for (uint32_t slot : old_used) insert(old_keys[slot], old_values[slot]);
}

void StackPool::reserve(size_t n) {
  nodes_.reserve(n);
  table_.reserve(n);
  scratch_table_.reserve(n / 4);
}

void StackPool::Table::clear() {
  for (uint32_t slot : used) keys[slot] = 0;
  used.clear();
}

int32_t StackPool::intern(int32_t state, int32_t parent) {
  uint64_t key = key_of(state, parent);
  int32_t id = table_.find(key);
  if (id >= 0) return id;
  Table& table = scratch_ ? scratch_table_ : table_;
  if (scratch_) {
    id = scratch_table_.find(key);
    if (id >= 0) return id;
  }
  id = static_cast<int32_t>(nodes_.size());
  nodes_.push_back(
      {state, parent, parent < 0 ? parent : nodes_[static_cast<size_t>(parent)].bottom});
  table.insert(key, id);
  return id;
}

void StackPool::begin_scratch() {
  scratch_ = true;
  scratch_begin_ = nodes_.size();
}

void StackPool::end_scratch() {
  scratch_ = false;
  nodes_.resize(scratch_begin_);
  scratch_table_.clear();
}

void StackPool::commit_scratch() {
  scratch_ = false;
  for (uint32_t slot : scratch_table_.used) {
    table_.insert(scratch_table_.keys[slot], scratch_table_.values[slot]);
  }
  scratch_table_.clear();
}

void StackPool::clear() {
  nodes_.clear();
  table_.clear();
  scratch_table_.clear();
  scratch_ = false;
}

bool StackStepper::add(std::vector<int32_t>& set, int32_t node) {
  auto n = static_cast<size_t>(node);
  if (n >= mark_.size()) mark_.resize(std::max(n + 1, mark_.size() * 2), 0);
  if (mark_[n] == epoch_) return false;
  mark_[n] = epoch_;
  set.push_back(node);
  return true;
}

bool StackStepper::close(std::vector<int32_t>& set) {
  if (++epoch_ == 0) {
    std::fill(mark_.begin(), mark_.end(), 0);
    epoch_ = 1;
  }
  size_t initial = set.size();
  std::vector<int32_t>& s = set;
  // Re-add the initial members under this epoch (duplicates dropped).
  size_t kept = 0;
  for (size_t i = 0; i < initial; ++i) {
    int32_t id = s[i];
    auto n = static_cast<size_t>(id);
    if (n >= mark_.size()) mark_.resize(std::max(n + 1, mark_.size() * 2), 0);
    if (mark_[n] == epoch_) continue;
    mark_[n] = epoch_;
    s[kept++] = id;
  }
  s.resize(kept);
  bool ended = false;
  for (size_t i = 0; i < s.size(); ++i) {
    StackNode node = pool_.node(s[i]);
    const AutomatonState& st = a_.state(node.state);
    for (const CallEdge& c : a_.call_edges(node.state)) {
      int32_t ret = a_.is_tail(c.target) ? node.parent : pool_.intern(c.target, node.parent);
      add(s, pool_.intern(a_.rule_start(c.rule), ret));
    }
    if (st.accepting) {
      if (node.parent >= 0) {
        add(s, node.parent);
        continue;
      }
      ended = ended || node.parent == kBottom;
      if (returns_) {
        for (int32_t t : (*returns_)[static_cast<size_t>(st.rule)]) {
          add(s, pool_.intern(t, kAnyContext));
        }
      }
    }
  }
  return ended;
}

bool StackStepper::advance(std::span<const int32_t> from, uint8_t byte, std::vector<int32_t>& to) {
  to.clear();
  for (int32_t id : from) {
    StackNode node = pool_.node(id);
    for (const ByteEdge& e : a_.byte_edges(node.state)) {
      if (e.lo > byte) break;
      if (byte <= e.hi) to.push_back(pool_.intern(e.target, node.parent));
    }
  }
  if (to.empty()) return false;
  return close(to);
}

bool StackStepper::advance_all(std::vector<int32_t>& set, std::string_view bytes, bool& ended,
                               std::vector<int32_t>& scratch) {
  for (char c : bytes) {
    ended = advance(set, static_cast<uint8_t>(c), scratch);
    set.swap(scratch);
    if (set.empty()) return false;
  }
  return true;
}

}  // namespace sglang::grammar
