#include "sampling/grammar/grammar_automaton.h"

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <optional>

namespace sglang::grammar {

namespace {

void encode(char32_t cp, int len, std::array<uint8_t, 4>& out) {
  if (len == 1) {
    out[0] = static_cast<uint8_t>(cp);
  } else if (len == 2) {
    out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  } else if (len == 3) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  } else {
    out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  }
}

// Splits [lo, hi] until each piece has one encoded length and differs only in a suffix of
// continuation bytes that spans the full 80-BF range, so each piece is one byte-range sequence.
void split_range(char32_t lo, char32_t hi,
                 std::vector<std::vector<std::pair<uint8_t, uint8_t>>>& out) {
  static constexpr char32_t kLengthEnds[] = {0x7F, 0x7FF, 0xFFFF};
  for (char32_t m : kLengthEnds) {
    if (lo <= m && hi > m) {
      split_range(lo, m, out);
      split_range(m + 1, hi, out);
      return;
    }
  }
  int len = hi < 0x80 ? 1 : hi < 0x800 ? 2 : hi < 0x10000 ? 3 : 4;
  for (int i = 1; i < len; ++i) {
    char32_t m = (char32_t{1} << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split_range(lo, lo | m, out);
        split_range((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        split_range(lo, (hi & ~m) - 1, out);
        split_range(hi & ~m, hi, out);
        return;
      }
    }
  }
  std::array<uint8_t, 4> a{}, b{};
  encode(lo, len, a);
  encode(hi, len, b);
  std::vector<std::pair<uint8_t, uint8_t>> seq;
  for (int i = 0; i < len; ++i)
    seq.emplace_back(a[static_cast<size_t>(i)], b[static_cast<size_t>(i)]);
  out.push_back(std::move(seq));
}

std::vector<CodepointRange> class_code_points(const Expr& e) {
  std::vector<CodepointRange> r;
  if (e.negated) {
    char32_t next = 0;
    for (auto x : e.ranges) {
      if (x.lo > next) r.push_back({next, x.lo - 1});
      next = x.hi + 1;
    }
    if (next <= 0x10FFFF) r.push_back({next, 0x10FFFF});
  } else {
    r = e.ranges;
  }
  return r;
}

}  // namespace

std::vector<std::vector<std::pair<uint8_t, uint8_t>>> utf8_byte_sequences(
    const std::vector<CodepointRange>& ranges) {
  std::vector<std::vector<std::pair<uint8_t, uint8_t>>> out;
  for (CodepointRange r : ranges) {
    char32_t hi = std::min<char32_t>(r.hi, 0x10FFFF);
    // Surrogates are no code points UTF-8 may encode.
    if (r.lo <= 0xDFFF && hi >= 0xD800) {
      if (r.lo < 0xD800) split_range(r.lo, 0xD7FF, out);
      if (hi > 0xDFFF) split_range(0xE000, hi, out);
    } else if (r.lo <= hi) {
      split_range(r.lo, hi, out);
    }
  }
  return out;
}

size_t GrammarAutomaton::num_kept_rules() const {
  return static_cast<size_t>(
      std::count_if(rule_start_.begin(), rule_start_.end(), [](int32_t s) { return s >= 0; }));
}

// Builds the automata: one Thompson NFA per kept rule, then subset construction.
class AutomatonBuilder {
 public:
  AutomatonBuilder(const Grammar& g, const AutomatonLimits& limits) : g_(g), limits_(limits) {}

  Result<GrammarAutomaton> run() {
    find_recursive_rules();
    out_.rule_start_.assign(g_.rules.size(), -1);
    for (const Rule& r : g_.rules) out_.rule_names_.push_back(r.name);
    out_.root_rule_ = g_.root;
    // Kept rules are compiled as they are first called (breadth first from the root).
    std::deque<int32_t> queue{g_.root};
    kept_.assign(g_.rules.size(), false);
    kept_[static_cast<size_t>(g_.root)] = true;
    queue_ = &queue;
    while (!queue.empty()) {
      int32_t rule = queue.front();
      queue.pop_front();
      SGLANG_RETURN_IF_ERROR(compile_rule(rule));
    }
    SGLANG_RETURN_IF_ERROR(check_left_recursion());
    return std::move(out_);
  }

 private:
  struct NfaState {
    std::vector<ByteEdge> bytes;
    std::vector<CallEdge> calls;
    std::vector<int32_t> eps;
  };

  Error too_large(const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument, "grammar too large: " + what);
  }

  // Tarjan's strongly connected components over rule references: a rule on a cycle (or calling
  // itself) must stay a rule; everything else can be inlined.
  void find_recursive_rules() {
    size_t n = g_.rules.size();
    refs_.assign(n, {});
    for (size_t r = 0; r < n; ++r) collect_refs(g_.rules[r].body, refs_[r]);
    recursive_.assign(n, false);
    std::vector<int32_t> index(n, -1), low(n, 0), stack;
    std::vector<bool> on_stack(n, false);
    int32_t counter = 0;
    // Iterative, so a long chain of rules cannot exhaust the stack.
    for (size_t root = 0; root < n; ++root) {
      if (index[root] >= 0) continue;
      std::vector<std::pair<size_t, size_t>> frames{{root, 0}};
      index[root] = low[root] = counter++;
      stack.push_back(static_cast<int32_t>(root));
      on_stack[root] = true;
      while (!frames.empty()) {
        auto& [v, next] = frames.back();
        if (next < refs_[v].size()) {
          auto w = static_cast<size_t>(refs_[v][next++]);
          if (index[w] < 0) {
            index[w] = low[w] = counter++;
            stack.push_back(static_cast<int32_t>(w));
            on_stack[w] = true;
            frames.emplace_back(w, 0);
          } else if (on_stack[w]) {
            low[v] = std::min(low[v], index[w]);
          }
          continue;
        }
        if (low[v] == index[v]) {
          std::vector<size_t> comp;
          while (true) {
            auto w = static_cast<size_t>(stack.back());
            stack.pop_back();
            on_stack[w] = false;
            comp.push_back(w);
            if (w == v) break;
          }
          bool self = std::find(refs_[v].begin(), refs_[v].end(), static_cast<int32_t>(v)) !=
                      refs_[v].end();
          if (comp.size() > 1 || self) {
            for (size_t w : comp) recursive_[w] = true;
          }
        }
        size_t done = v;
        frames.pop_back();
        if (!frames.empty()) {
          size_t parent = frames.back().first;
          low[parent] = std::min(low[parent], low[done]);
        }
      }
    }
  }

  void collect_refs(int32_t expr, std::vector<int32_t>& out) const {
    std::vector<int32_t> todo{expr};
    while (!todo.empty()) {
      const Expr& e = g_.exprs[static_cast<size_t>(todo.back())];
      todo.pop_back();
      if (e.kind == ExprKind::kRuleRef) out.push_back(e.index);
      if (e.kind == ExprKind::kTagDispatch) {
        for (const TagRule& t : g_.tag_dispatches[static_cast<size_t>(e.index)].tags) {
          out.push_back(t.rule);
        }
      }
      todo.insert(todo.end(), e.children.begin(), e.children.end());
    }
  }

  int32_t new_state() {
    nfa_.emplace_back();
    return static_cast<int32_t>(nfa_.size() - 1);
  }
  NfaState& at(int32_t s) { return nfa_[static_cast<size_t>(s)]; }

  // Thompson construction of `expr` starting at `from`; returns the end state (-1 on error).
  int32_t build(int32_t expr, int32_t from, int depth) {
    if (error_) return -1;
    if (depth > limits_.max_inline_depth) {
      error_ = too_large("rules nest deeper than " + std::to_string(limits_.max_inline_depth));
      return -1;
    }
    if (nfa_.size() > limits_.max_nfa_states) {
      error_ = too_large("rule \"" + g_.rules[static_cast<size_t>(current_rule_)].name +
                         "\" expands to more than " + std::to_string(limits_.max_nfa_states) +
                         " automaton states");
      return -1;
    }
    const Expr& e = g_.exprs[static_cast<size_t>(expr)];
    switch (e.kind) {
      case ExprKind::kEmpty:
        return from;
      case ExprKind::kBytes: {
        int32_t cur = from;
        for (char c : e.bytes) {
          int32_t next = new_state();
          auto b = static_cast<uint8_t>(c);
          at(cur).bytes.push_back({b, b, next});
          cur = next;
        }
        return cur;
      }
      case ExprKind::kCharClass: {
        int32_t to = new_state();
        for (const auto& seq : utf8_byte_sequences(class_code_points(e))) {
          int32_t cur = from;
          for (size_t i = 0; i < seq.size(); ++i) {
            int32_t next = i + 1 == seq.size() ? to : new_state();
            at(cur).bytes.push_back({seq[i].first, seq[i].second, next});
            cur = next;
          }
        }
        return to;
      }
      case ExprKind::kRuleRef:
        return reference(e.index, from, depth);
      case ExprKind::kSequence: {
        int32_t cur = from;
        for (int32_t c : e.children) {
          cur = build(c, cur, depth + 1);
          if (cur < 0) return -1;
        }
        return cur;
      }
      case ExprKind::kChoice: {
        int32_t to = new_state();
        for (int32_t c : e.children) {
          int32_t s = new_state();
          at(from).eps.push_back(s);
          int32_t end = build(c, s, depth + 1);
          if (end < 0) return -1;
          at(end).eps.push_back(to);
        }
        return to;
      }
      case ExprKind::kRepeat:
        return repeat(e, from, depth);
      case ExprKind::kTagDispatch:
        return tag_dispatch(g_.tag_dispatches[static_cast<size_t>(e.index)], from, depth);
    }
    return -1;
  }

  int32_t reference(int32_t rule, int32_t from, int depth) {
    if (recursive_[static_cast<size_t>(rule)] || rule == g_.root) {
      if (!kept_[static_cast<size_t>(rule)]) {
        kept_[static_cast<size_t>(rule)] = true;
        queue_->push_back(rule);
      }
      int32_t to = new_state();
      at(from).calls.push_back({rule, to});
      return to;
    }
    return build(g_.rules[static_cast<size_t>(rule)].body, from, depth + 1);
  }

  int32_t repeat(const Expr& e, int32_t from, int depth) {
    static constexpr int64_t kMaxRepeat = 100000;
    if (e.min > kMaxRepeat || e.max > kMaxRepeat) {
      error_ = too_large("repetition count " + std::to_string(std::max(e.min, e.max)) +
                         " is above " + std::to_string(kMaxRepeat));
      return -1;
    }
    int32_t child = e.children[0];
    int32_t cur = from;
    for (int64_t i = 0; i < e.min; ++i) {
      cur = build(child, cur, depth + 1);
      if (cur < 0) return -1;
    }
    if (e.max < 0) {
      // cur -> loop: body back to loop; exit from loop.
      int32_t loop = new_state();
      at(cur).eps.push_back(loop);
      int32_t body = new_state();
      at(loop).eps.push_back(body);
      int32_t end = build(child, body, depth + 1);
      if (end < 0) return -1;
      at(end).eps.push_back(loop);
      return loop;
    }
    int32_t to = new_state();
    at(cur).eps.push_back(to);
    for (int64_t i = e.min; i < e.max; ++i) {
      cur = build(child, cur, depth + 1);
      if (cur < 0) return -1;
      at(cur).eps.push_back(to);
    }
    return to;
  }

  // Free text scanned by an Aho-Corasick automaton over the tags, stop strings and excludes: the
  // first of them to appear decides (a tag: its rule follows; a stop string: the dispatch ends;
  // an exclude: no way on).
  int32_t tag_dispatch(const TagDispatch& td, int32_t from, int depth) {
    enum Kind : int8_t { kNone, kTag, kStop, kExclude };
    struct Node {
      std::array<int32_t, 256> next;
      int32_t fail = 0;
      Kind kind = kNone;
      int32_t tag = -1;
      Node() { next.fill(-1); }
    };
    std::vector<Node> trie(1);
    auto insert = [&](const std::string& s, Kind kind, int32_t tag) {
      int32_t cur = 0;
      for (char c : s) {
        auto b = static_cast<uint8_t>(c);
        if (trie[static_cast<size_t>(cur)].next[b] < 0) {
          trie[static_cast<size_t>(cur)].next[b] = static_cast<int32_t>(trie.size());
          trie.emplace_back();
        }
        cur = trie[static_cast<size_t>(cur)].next[b];
      }
      Node& n = trie[static_cast<size_t>(cur)];
      // Excludes win over stop strings, which win over tags, where the same string is several.
      if (n.kind == kNone || kind > n.kind) {
        n.kind = kind;
        n.tag = tag;
      }
    };
    for (size_t i = 0; i < td.tags.size(); ++i)
      insert(td.tags[i].tag, kTag, static_cast<int32_t>(i));
    for (const auto& s : td.stop_str) insert(s, kStop, -1);
    for (const auto& s : td.excludes) insert(s, kExclude, -1);
    // Failure links (breadth first) and the full goto function; a node whose suffix is a pattern
    // ends the scan as that pattern does.
    std::deque<int32_t> bfs;
    for (int b = 0; b < 256; ++b) {
      int32_t& nx = trie[0].next[static_cast<size_t>(b)];
      if (nx < 0) {
        nx = 0;
      } else {
        trie[static_cast<size_t>(nx)].fail = 0;
        bfs.push_back(nx);
      }
    }
    while (!bfs.empty()) {
      int32_t u = bfs.front();
      bfs.pop_front();
      Node& un = trie[static_cast<size_t>(u)];
      if (un.kind == kNone) {
        const Node& f = trie[static_cast<size_t>(un.fail)];
        un.kind = f.kind;
        un.tag = f.tag;
      }
      for (int b = 0; b < 256; ++b) {
        int32_t v = trie[static_cast<size_t>(u)].next[static_cast<size_t>(b)];
        int32_t via_fail = trie[static_cast<size_t>(trie[static_cast<size_t>(u)].fail)]
                               .next[static_cast<size_t>(b)];
        if (v < 0) {
          trie[static_cast<size_t>(u)].next[static_cast<size_t>(b)] = via_fail;
        } else {
          trie[static_cast<size_t>(v)].fail = via_fail;
          bfs.push_back(v);
        }
      }
    }
    int32_t to = new_state();
    std::vector<int32_t> ids(trie.size());
    for (auto& id : ids) id = new_state();
    at(from).eps.push_back(ids[0]);
    for (size_t u = 0; u < trie.size(); ++u) {
      const Node& n = trie[u];
      int32_t s = ids[u];
      if (n.kind == kExclude) continue;
      if (n.kind == kStop) {
        at(s).eps.push_back(to);
        continue;
      }
      if (n.kind == kTag) {
        int32_t end = reference(td.tags[static_cast<size_t>(n.tag)].rule, s, depth + 1);
        if (end < 0) return -1;
        at(end).eps.push_back(td.loop_after_dispatch ? ids[0] : to);
        continue;
      }
      if (td.stop_eos) at(s).eps.push_back(to);
      for (int b = 0; b < 256;) {
        int32_t target = n.next[static_cast<size_t>(b)];
        int e = b;
        while (e + 1 < 256 && n.next[static_cast<size_t>(e + 1)] == target) ++e;
        at(s).bytes.push_back(
            {static_cast<uint8_t>(b), static_cast<uint8_t>(e), ids[static_cast<size_t>(target)]});
        b = e + 1;
      }
    }
    return to;
  }

  // Epsilon closure of `seeds`, sorted.
  std::vector<int32_t> closure(std::vector<int32_t> seeds) {
    ++epoch_;
    if (mark_.size() < nfa_.size()) mark_.resize(nfa_.size(), 0);
    std::vector<int32_t> out;
    while (!seeds.empty()) {
      int32_t s = seeds.back();
      seeds.pop_back();
      if (mark_[static_cast<size_t>(s)] == epoch_) continue;
      mark_[static_cast<size_t>(s)] = epoch_;
      out.push_back(s);
      for (int32_t t : at(s).eps) seeds.push_back(t);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  struct Local {
    std::vector<ByteEdge> bytes;
    std::vector<CallEdge> calls;
    bool accepting = false;
  };

  // Outgoing edges of a set of NFA states, by byte interval and by callee, each a set of targets.
  void gather(const std::vector<int32_t>& set, int32_t final_state,
              std::vector<std::pair<std::pair<int, int>, std::vector<int32_t>>>& by_bytes,
              std::map<int32_t, std::vector<int32_t>>& by_rule, bool& accepting) {
    std::vector<int> points;
    accepting = false;
    for (int32_t s : set) {
      if (s == final_state) accepting = true;
      for (const ByteEdge& e : at(s).bytes) {
        points.push_back(e.lo);
        points.push_back(e.hi + 1);
      }
      for (const CallEdge& c : at(s).calls) by_rule[c.rule].push_back(c.target);
    }
    std::sort(points.begin(), points.end());
    points.erase(std::unique(points.begin(), points.end()), points.end());
    for (size_t i = 0; i + 1 < points.size(); ++i) {
      int lo = points[i], hi = points[i + 1] - 1;
      std::vector<int32_t> targets;
      for (int32_t s : set) {
        for (const ByteEdge& e : at(s).bytes) {
          if (e.lo <= lo && hi <= e.hi) targets.push_back(e.target);
        }
      }
      if (!targets.empty()) by_bytes.push_back({{lo, hi}, std::move(targets)});
    }
  }

  // Subset construction; nullopt when the DFA would exceed its bound.
  std::optional<std::vector<Local>> determinise(int32_t start, int32_t final_state) {
    std::map<std::vector<int32_t>, int32_t> ids;
    std::vector<std::vector<int32_t>> sets;
    std::vector<Local> dfa;
    auto id_of = [&](std::vector<int32_t> seeds) -> int32_t {
      auto set = closure(std::move(seeds));
      auto it = ids.find(set);
      if (it != ids.end()) return it->second;
      auto id = static_cast<int32_t>(sets.size());
      ids.emplace(set, id);
      sets.push_back(std::move(set));
      return id;
    };
    id_of({start});
    for (size_t i = 0; i < sets.size(); ++i) {
      if (sets.size() > limits_.max_dfa_states_per_rule) return std::nullopt;
      std::vector<std::pair<std::pair<int, int>, std::vector<int32_t>>> by_bytes;
      std::map<int32_t, std::vector<int32_t>> by_rule;
      Local local;
      gather(sets[i], final_state, by_bytes, by_rule, local.accepting);
      for (auto& [range, targets] : by_bytes) {
        int32_t t = id_of(std::move(targets));
        if (!local.bytes.empty() && local.bytes.back().target == t &&
            local.bytes.back().hi + 1 == range.first) {
          local.bytes.back().hi = static_cast<uint8_t>(range.second);
        } else {
          local.bytes.push_back(
              {static_cast<uint8_t>(range.first), static_cast<uint8_t>(range.second), t});
        }
      }
      for (auto& [rule, targets] : by_rule)
        local.calls.push_back({rule, id_of(std::move(targets))});
      dfa.push_back(std::move(local));
    }
    return dfa;
  }

  // The epsilon-free NFA: each reachable NFA state with its closure's edges.
  std::vector<Local> remove_epsilons(int32_t start, int32_t final_state) {
    std::vector<int32_t> ids(nfa_.size(), -1);
    std::vector<int32_t> order{start};
    ids[static_cast<size_t>(start)] = 0;
    std::vector<Local> out;
    for (size_t i = 0; i < order.size(); ++i) {
      Local local;
      for (int32_t s : closure({order[i]})) {
        if (s == final_state) local.accepting = true;
        for (ByteEdge e : at(s).bytes) local.bytes.push_back(e);
        for (CallEdge c : at(s).calls) local.calls.push_back(c);
      }
      auto renumber = [&](int32_t t) {
        if (ids[static_cast<size_t>(t)] < 0) {
          ids[static_cast<size_t>(t)] = static_cast<int32_t>(order.size());
          order.push_back(t);
        }
        return ids[static_cast<size_t>(t)];
      };
      for (auto& e : local.bytes) e.target = renumber(e.target);
      for (auto& c : local.calls) c.target = renumber(c.target);
      std::sort(local.bytes.begin(), local.bytes.end(),
                [](const ByteEdge& a, const ByteEdge& b) { return a.lo < b.lo; });
      out.push_back(std::move(local));
    }
    return out;
  }

  // Merges states no input can tell apart (Moore's partition refinement: a state's class is its
  // accepting flag, then its edges' ranges and target classes, until the classes stop splitting).
  // Fewer states are fewer positions whose masks the compile precomputes. State 0 stays the start.
  static std::vector<Local> minimise(std::vector<Local> states) {
    size_t n = states.size();
    std::vector<int32_t> cls(n);
    for (size_t i = 0; i < n; ++i) cls[i] = states[i].accepting ? 1 : 0;
    size_t count = 0;
    for (size_t round = 0; round < n + 1; ++round) {
      std::map<std::vector<int32_t>, int32_t> ids;
      std::vector<int32_t> next(n);
      for (size_t i = 0; i < n; ++i) {
        std::vector<int32_t> sig{cls[i]};
        int32_t last_target = -1, last_hi = -2;
        for (const ByteEdge& e : states[i].bytes) {
          int32_t t = cls[static_cast<size_t>(e.target)];
          if (t == last_target && e.lo == last_hi + 1 && sig.size() >= 3) {
            sig[sig.size() - 2] = e.hi;  // extend the previous range
          } else {
            sig.insert(sig.end(), {e.lo, e.hi, t});
          }
          last_target = t;
          last_hi = e.hi;
        }
        sig.push_back(-1);
        for (const CallEdge& c : states[i].calls) {
          sig.insert(sig.end(), {c.rule, cls[static_cast<size_t>(c.target)]});
        }
        auto it = ids.emplace(std::move(sig), static_cast<int32_t>(ids.size())).first;
        next[i] = it->second;
      }
      bool stable = ids.size() == count;
      count = ids.size();
      cls.swap(next);
      if (stable) break;
    }
    if (count == n) return states;
    // Renumber so the start's class is 0, then keep one representative per class.
    std::vector<int32_t> order(count, -1), rep(count, -1);
    int32_t k = 0;
    auto number = [&](size_t i) {
      auto c = static_cast<size_t>(cls[i]);
      if (order[c] < 0) {
        order[c] = k++;
        rep[static_cast<size_t>(order[c])] = static_cast<int32_t>(i);
      }
    };
    number(0);
    for (size_t i = 1; i < n; ++i) number(i);
    std::vector<Local> out(count);
    for (size_t c = 0; c < count; ++c) {
      Local l = states[static_cast<size_t>(rep[c])];
      std::vector<ByteEdge> merged;
      for (ByteEdge e : l.bytes) {
        e.target = order[static_cast<size_t>(cls[static_cast<size_t>(e.target)])];
        if (!merged.empty() && merged.back().target == e.target && merged.back().hi + 1 == e.lo) {
          merged.back().hi = e.hi;
        } else {
          merged.push_back(e);
        }
      }
      l.bytes = std::move(merged);
      for (auto& cedge : l.calls) {
        cedge.target = order[static_cast<size_t>(cls[static_cast<size_t>(cedge.target)])];
      }
      out[c] = std::move(l);
    }
    return out;
  }

  Status compile_rule(int32_t rule) {
    nfa_.clear();
    current_rule_ = rule;
    int32_t start = new_state();
    int32_t end = build(g_.rules[static_cast<size_t>(rule)].body, start, 0);
    if (error_) return *error_;
    int32_t final_state = new_state();
    at(end).eps.push_back(final_state);
    auto dfa = determinise(start, final_state);
    std::vector<Local> local =
        minimise(dfa ? std::move(*dfa) : remove_epsilons(start, final_state));
    auto base = static_cast<int32_t>(out_.states_.size());
    if (out_.states_.size() + local.size() > limits_.max_states) {
      return too_large("more than " + std::to_string(limits_.max_states) + " automaton states");
    }
    out_.rule_start_[static_cast<size_t>(rule)] = base;
    for (const Local& l : local) {
      AutomatonState st;
      st.rule = rule;
      st.accepting = l.accepting;
      st.bytes_begin = static_cast<uint32_t>(out_.byte_edges_.size());
      for (ByteEdge e : l.bytes) out_.byte_edges_.push_back({e.lo, e.hi, e.target + base});
      st.bytes_end = static_cast<uint32_t>(out_.byte_edges_.size());
      st.calls_begin = static_cast<uint32_t>(out_.call_edges_.size());
      for (CallEdge c : l.calls) out_.call_edges_.push_back({c.rule, c.target + base});
      st.calls_end = static_cast<uint32_t>(out_.call_edges_.size());
      out_.states_.push_back(st);
    }
    return {};
  }

  // The states of `rule` reachable from its start without consuming a byte (through calls of
  // rules that may match the empty string).
  std::vector<int32_t> empty_reach(int32_t rule, const std::vector<bool>& nullable) const {
    std::vector<int32_t> order{out_.rule_start(rule)};
    std::vector<bool> seen(out_.num_states(), false);
    seen[static_cast<size_t>(order[0])] = true;
    for (size_t i = 0; i < order.size(); ++i) {
      for (const CallEdge& c : out_.call_edges(order[i])) {
        if (nullable[static_cast<size_t>(c.rule)] && !seen[static_cast<size_t>(c.target)]) {
          seen[static_cast<size_t>(c.target)] = true;
          order.push_back(c.target);
        }
      }
    }
    return order;
  }

  // A rule that can call itself before consuming input would make the matcher's closure push
  // forever: refuse it, naming the cycle.
  Status check_left_recursion() {
    size_t n = g_.rules.size();
    std::vector<bool> nullable(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (out_.rule_start_[r] < 0 || nullable[r]) continue;
        for (int32_t s : empty_reach(static_cast<int32_t>(r), nullable)) {
          if (out_.state(s).accepting) {
            nullable[r] = changed = true;
            break;
          }
        }
      }
    }
    std::vector<std::vector<int32_t>> left(n);
    for (size_t r = 0; r < n; ++r) {
      if (out_.rule_start_[r] < 0) continue;
      for (int32_t s : empty_reach(static_cast<int32_t>(r), nullable)) {
        for (const CallEdge& c : out_.call_edges(s)) left[r].push_back(c.rule);
      }
    }
    // Depth-first search for a cycle (iterative: 0 unseen, 1 on the path, 2 done).
    std::vector<int> color(n, 0);
    for (size_t root = 0; root < n; ++root) {
      if (color[root] != 0 || out_.rule_start_[root] < 0) continue;
      std::vector<std::pair<size_t, size_t>> path{{root, 0}};
      color[root] = 1;
      while (!path.empty()) {
        auto& [v, i] = path.back();
        if (i < left[v].size()) {
          auto w = static_cast<size_t>(left[v][i++]);
          if (color[w] == 1) {
            std::string cycle;
            bool on = false;
            for (auto& [u, unused] : path) {
              (void)unused;
              if (u == w) on = true;
              if (on) cycle += g_.rules[u].name + " -> ";
            }
            cycle += g_.rules[w].name;
            return make_error(ErrorCode::kInvalidArgument,
                              "grammar is left-recursive (a rule reaches itself without consuming "
                              "input): " +
                                  cycle);
          }
          if (color[w] == 0) {
            color[w] = 1;
            path.emplace_back(w, 0);
          }
          continue;
        }
        color[v] = 2;
        path.pop_back();
      }
    }
    return {};
  }

  const Grammar& g_;
  AutomatonLimits limits_;
  GrammarAutomaton out_;
  std::vector<std::vector<int32_t>> refs_;
  std::vector<bool> recursive_;
  std::vector<bool> kept_;
  std::deque<int32_t>* queue_ = nullptr;
  std::vector<NfaState> nfa_;
  std::vector<uint32_t> mark_;
  uint32_t epoch_ = 0;
  int32_t current_rule_ = -1;
  std::optional<Error> error_;
};

Result<GrammarAutomaton> GrammarAutomaton::compile(const Grammar& grammar,
                                                   const AutomatonLimits& limits) {
  return AutomatonBuilder(grammar, limits).run();
}

}  // namespace sglang::grammar
