#include "sampling/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

namespace sglang {
namespace {

// SGLang clamps log(0) to torch.finfo(float32).min.
constexpr float kMinLogprob = std::numeric_limits<float>::lowest();

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The first index of the largest value (torch.argmax's tie rule), greedy decoding's whole cost
// per token: the maximum in independent lanes (element-wise, so the compiler vectorises it), then
// the first position holding it. NaNs are passed over, as the comparison loop did.
int32_t argmax_first(std::span<const float> x) {
  constexpr size_t kLanes = 16;
  const size_t n = x.size();
  std::array<float, kLanes> lane;
  lane.fill(-std::numeric_limits<float>::infinity());
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t l = 0; l < kLanes; ++l) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
  }
  float mx = -std::numeric_limits<float>::infinity();
  for (float v : lane) mx = v > mx ? v : mx;
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  for (size_t j = 0; j < n; ++j) {
    if (x[j] == mx) return static_cast<int32_t>(j);
  }
  return 0;  // all NaN
}

// Indices of the `k` largest values, largest first (ties: lower index first).
std::vector<int32_t> top_indices(std::span<const float> x, int64_t k) {
  k = std::min<int64_t>(k, static_cast<int64_t>(x.size()));
  std::vector<int32_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto greater = [&](int32_t a, int32_t b) {
    return x[static_cast<size_t>(a)] > x[static_cast<size_t>(b)] ||
           (x[static_cast<size_t>(a)] == x[static_cast<size_t>(b)] && a < b);
  };
  if (k < static_cast<int64_t>(x.size())) {
    std::nth_element(idx.begin(), idx.begin() + k, idx.end(), greater);
    idx.resize(static_cast<size_t>(k));
  }
  std::sort(idx.begin(), idx.end(), greater);
  return idx;
}

// In place: x <- softmax(x / temperature). Returns nothing; x holds probabilities after.
void softmax_with_temperature(std::span<float> x, double temperature) {
  const float inv_t = static_cast<float>(1.0 / temperature);
  float mx = -std::numeric_limits<float>::infinity();
  for (float& v : x) {
    v *= inv_t;
    mx = std::max(mx, v);
  }
  double sum = 0;
  for (float& v : x) {
    v = std::exp(v - mx);
    sum += v;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (float& v : x) v *= inv;
}

// The descending-probability prefix that top_k and top_p can reach: grown until it covers the
// top_k limit and the point where the exclusive cumulative sum passes top_p.
std::vector<int32_t> sorted_prefix(std::span<const float> probs, int64_t top_k, double top_p) {
  const int64_t vocab = static_cast<int64_t>(probs.size());
  int64_t k = std::min<int64_t>(vocab, top_k < vocab ? top_k : 256);
  while (true) {
    std::vector<int32_t> idx = top_indices(probs, k);
    if (k == vocab) return idx;
    double cum = 0;
    bool top_p_reached = false;
    for (int32_t i : idx) {
      if (top_p < 1.0 && cum > top_p) {
        top_p_reached = true;
        break;
      }
      cum += probs[static_cast<size_t>(i)];
    }
    const bool top_k_covered = top_k <= k;
    if (top_k_covered || top_p_reached) return idx;
    k = std::min<int64_t>(vocab, k * 4);
  }
}

// Sum of the probabilities in the top_p set of the sorted prefix (SGLang's top_p_normalize).
double top_p_mass(std::span<const float> probs, const std::vector<int32_t>& sorted, double top_p) {
  double cum = 0;
  for (int32_t i : sorted) {
    if (cum > top_p) break;
    cum += probs[static_cast<size_t>(i)];
  }
  return cum;
}

}  // namespace

double uniform_draw(uint64_t seed, int64_t position) {
  const uint64_t bits = splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(position));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

void apply_logit_processors(std::span<float> logits, const SamplingParams& p,
                            const PenaltyState& state, int64_t num_output_tokens,
                            std::span<const int64_t> stop_token_ids) {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  auto at = [&](int64_t token) -> float* {
    return token >= 0 && token < vocab ? &logits[static_cast<size_t>(token)] : nullptr;
  };
  if (p.frequency_penalty != 0.0) {
    for (const auto& [token, count] : state.output_counts) {
      if (float* l = at(token)) *l -= static_cast<float>(p.frequency_penalty * count);
    }
  }
  if (num_output_tokens < p.min_new_tokens) {
    for (int64_t token : stop_token_ids) {
      if (float* l = at(token)) *l = -std::numeric_limits<float>::infinity();
    }
  }
  if (p.presence_penalty != 0.0) {
    for (const auto& [token, count] : state.output_counts) {
      if (float* l = at(token)) *l -= static_cast<float>(p.presence_penalty);
    }
  }
  if (p.repetition_penalty != 1.0) {
    const float r = static_cast<float>(p.repetition_penalty);
    for (const auto& [token, count] : state.output_counts) {
      if (float* l = at(token)) *l = *l < 0 ? *l * r : *l / r;
    }
  }
  for (const auto& [token, bias] : p.logit_bias) {
    if (float* l = at(token)) *l += static_cast<float>(bias);
  }
}

namespace {

SampleResult greedy_logprobs(std::span<const float> logits, int32_t token, bool want_logprob,
                             int64_t top_n, std::span<const int32_t> ids) {
  SampleResult r;
  r.token_id = token;
  if (!want_logprob && top_n <= 0 && ids.empty()) return r;
  float mx = -std::numeric_limits<float>::infinity();
  for (float v : logits) mx = std::max(mx, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - mx));
  const float log_z = mx + static_cast<float>(std::log(sum));
  r.logprob = logits[static_cast<size_t>(token)] - log_z;
  if (top_n > 0) {
    for (int32_t i : top_indices(logits, top_n)) {
      r.top.push_back({i, logits[static_cast<size_t>(i)] - log_z});
    }
  }
  for (int32_t i : ids) r.ids.push_back({i, logits[static_cast<size_t>(i)] - log_z});
  return r;
}

// Logprobs from temperature-scaled probabilities, renormalised over the top_p set.
void sampled_logprobs(std::span<const float> probs, const std::vector<int32_t>& sorted,
                      double top_p, bool want_logprob, int64_t top_n, std::span<const int32_t> ids,
                      SampleResult& r) {
  if (!want_logprob && top_n <= 0 && ids.empty()) return;
  // Which tokens are in the top_p set: the first `in_set` of `sorted`.
  size_t in_set = sorted.size();
  double mass = 1.0;
  if (top_p < 1.0) {
    double cum = 0;
    in_set = 0;
    for (int32_t i : sorted) {
      if (cum > top_p) break;
      cum += probs[static_cast<size_t>(i)];
      ++in_set;
    }
    mass = top_p_mass(probs, sorted, top_p);
  }
  auto logprob = [&](int32_t token) {
    if (top_p < 1.0) {
      const auto end = sorted.begin() + static_cast<std::ptrdiff_t>(in_set);
      if (std::find(sorted.begin(), end, token) == end) return kMinLogprob;
    }
    const double p = probs[static_cast<size_t>(token)] / mass;
    return p > 0 ? static_cast<float>(std::log(p)) : kMinLogprob;
  };
  r.logprob = logprob(r.token_id);
  if (top_n > 0) {
    const std::vector<int32_t> top =
        static_cast<int64_t>(sorted.size()) >= top_n
            ? std::vector<int32_t>(sorted.begin(), sorted.begin() + top_n)
            : top_indices(probs, top_n);
    for (int32_t i : top) r.top.push_back({i, logprob(i)});
  }
  for (int32_t i : ids) r.ids.push_back({i, logprob(i)});
}

}  // namespace

SampleResult sample_from_logits(std::span<float> logits, const SamplingParams& p, uint64_t seed,
                                int64_t position, bool want_logprob, int64_t top_n,
                                std::span<const int32_t> ids) {
  if (p.is_greedy()) {
    return greedy_logprobs(logits, argmax_first(logits), want_logprob, top_n, ids);
  }
  const int64_t vocab = static_cast<int64_t>(logits.size());
  softmax_with_temperature(logits, p.temperature);
  std::span<const float> probs = logits;
  const double u = uniform_draw(seed, position);
  SampleResult r;
  std::vector<int32_t> sorted;
  if (p.top_k >= vocab && p.top_p >= 1.0) {
    // Everything is a candidate: no sort needed, only min_p's threshold.
    float pmax = 0;
    for (float v : probs) pmax = std::max(pmax, v);
    const float threshold = static_cast<float>(p.min_p) * pmax;
    double total = 0;
    for (float v : probs) total += v >= threshold ? v : 0.0f;
    double target = u * total, cum = 0;
    r.token_id = static_cast<int32_t>(vocab - 1);
    for (int64_t i = 0; i < vocab; ++i) {
      const float v = probs[static_cast<size_t>(i)];
      if (v < threshold || v <= 0) continue;
      cum += v;
      if (cum > target) {
        r.token_id = static_cast<int32_t>(i);
        break;
      }
    }
    if (want_logprob || top_n > 0 || !ids.empty()) {
      sorted = top_indices(probs, std::max<int64_t>(top_n, 1));
    }
  } else {
    sorted = sorted_prefix(probs, p.top_k, p.top_p);
    // The kept set: sorted position < top_k, exclusive cumulative sum <= top_p, p >= min_p * max.
    const float threshold = static_cast<float>(p.min_p) * probs[static_cast<size_t>(sorted[0])];
    std::vector<float> kept;
    double cum = 0, total = 0;
    for (size_t j = 0; j < sorted.size(); ++j) {
      const float v = probs[static_cast<size_t>(sorted[j])];
      const bool keep = static_cast<int64_t>(j) < p.top_k && cum <= p.top_p && v >= threshold;
      cum += v;
      kept.push_back(keep ? v : 0.0f);
      total += kept.back();
    }
    const double target = u * total;
    double acc = 0;
    r.token_id = sorted[0];
    for (size_t j = 0; j < sorted.size(); ++j) {
      if (kept[j] <= 0) continue;
      acc += kept[j];
      r.token_id = sorted[j];
      if (acc > target) break;
    }
  }
  sampled_logprobs(probs, sorted, p.top_p, want_logprob, top_n, ids, r);
  return r;
}

SampleResult logprob_of(std::span<float> logits, const SamplingParams& p, int32_t token_id,
                        int64_t top_n, std::span<const int32_t> ids) {
  if (p.is_greedy() || (p.temperature == 1.0 && p.top_p >= 1.0)) {
    return greedy_logprobs(logits, token_id, true, top_n, ids);
  }
  softmax_with_temperature(logits, p.temperature);
  SampleResult r;
  r.token_id = token_id;
  const std::vector<int32_t> sorted = p.top_p < 1.0
                                          ? sorted_prefix(logits, kTopKAll, p.top_p)
                                          : top_indices(logits, std::max<int64_t>(top_n, 1));
  sampled_logprobs(logits, sorted, p.top_p, true, top_n, ids, r);
  return r;
}

}  // namespace sglang
