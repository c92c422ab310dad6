#include "sampling/grammar/number_range.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace sglang::grammar {
namespace {

// Bounds beyond this are refused rather than rounded: a double loses integer precision past
// 2^53, and the rounding must never admit a number outside the range.
constexpr double kMaxBound = 9007199254740991.0;  // 2^53 - 1

std::string choice(const std::vector<std::string>& parts) {
  if (parts.size() == 1) return parts[0];
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " | ") + p;
  return "(" + out + ")";
}

std::string digit_class(char lo, char hi) {
  if (lo == hi) return std::string("\"") + lo + "\"";
  return std::string("[") + lo + "-" + hi + "]";
}

std::string any_digits(size_t n) {
  if (n == 0) return "";
  return n == 1 ? "[0-9]" : "[0-9]{" + std::to_string(n) + "}";
}

std::string seq(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + " " + b;
}

// Decimal strings a <= b of the same length (a may start with 0 only when it is one digit or
// is a suffix inside a longer number).
std::string same_length(const std::string& a, const std::string& b) {
  const size_t n = a.size();
  if (n == 0) return "";
  if (n == 1) return digit_class(a[0], b[0]);
  if (a[0] == b[0]) return seq(digit_class(a[0], a[0]), same_length(a.substr(1), b.substr(1)));
  const bool lo_full = a.find_first_not_of('0', 1) == std::string::npos;
  const bool hi_full = b.find_first_not_of('9', 1) == std::string::npos;
  std::vector<std::string> alts;
  const char first = lo_full ? a[0] : char(a[0] + 1);
  const char last = hi_full ? b[0] : char(b[0] - 1);
  if (!lo_full) {
    alts.push_back(seq(digit_class(a[0], a[0]), same_length(a.substr(1), std::string(n - 1, '9'))));
  }
  if (first <= last) alts.push_back(seq(digit_class(first, last), any_digits(n - 1)));
  if (!hi_full) {
    alts.push_back(seq(digit_class(b[0], b[0]), same_length(std::string(n - 1, '0'), b.substr(1))));
  }
  return choice(alts);
}

// Non-negative integers in [a, b]; b empty means unbounded.
std::string non_negative(uint64_t a, std::optional<uint64_t> b) {
  const std::string as = std::to_string(a);
  std::vector<std::string> alts;
  const size_t last_len = b ? std::to_string(*b).size() : as.size();
  for (size_t len = as.size(); len <= last_len; ++len) {
    const std::string lo = len == as.size() ? as : "1" + std::string(len - 1, '0');
    const std::string hi = b && len == last_len ? std::to_string(*b) : std::string(len, '9');
    alts.push_back(same_length(lo, hi));
  }
  if (!b) alts.push_back("[1-9] [0-9]{" + std::to_string(as.size()) + ",}");
  return choice(alts);
}

// Integers in [lo, hi] (either side open when empty).
std::string integers(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> alts;
  // Negative part: magnitudes in [max(1, -hi), -lo].
  if (!lo || *lo < 0) {
    const uint64_t mag_lo = hi && *hi < 0 ? static_cast<uint64_t>(-*hi) : 1;
    std::optional<uint64_t> mag_hi;
    if (lo) mag_hi = static_cast<uint64_t>(-*lo);
    if (!mag_hi || mag_lo <= *mag_hi) alts.push_back("\"-\" " + non_negative(mag_lo, mag_hi));
  }
  if (!hi || *hi >= 0) {
    const uint64_t from = lo && *lo > 0 ? static_cast<uint64_t>(*lo) : 0;
    std::optional<uint64_t> to;
    if (hi) to = static_cast<uint64_t>(*hi);
    if (!to || from <= *to) alts.push_back(non_negative(from, to));
  }
  return alts.empty() ? "" : choice(alts);
}

Error range_error(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, what);
}

Status check(const NumberBounds& b) {
  for (const auto& v : {b.lo, b.hi}) {
    if (v && (!std::isfinite(*v) || std::fabs(*v) > kMaxBound)) {
      return range_error("number bound " + std::to_string(*v) + " is outside +-(2^53-1)");
    }
  }
  return {};
}

// Smallest integer satisfying the lower bound, largest satisfying the upper bound.
std::optional<int64_t> int_lo(const NumberBounds& b) {
  if (!b.lo) return std::nullopt;
  const double f = std::floor(*b.lo);
  return static_cast<int64_t>(f == *b.lo && !b.lo_exclusive ? f : f + 1);
}

std::optional<int64_t> int_hi(const NumberBounds& b) {
  if (!b.hi) return std::nullopt;
  const double c = std::ceil(*b.hi);
  return static_cast<int64_t>(c == *b.hi && !b.hi_exclusive ? c : c - 1);
}

}  // namespace

Result<std::string> integer_range_ebnf(const NumberBounds& bounds) {
  SGLANG_RETURN_IF_ERROR(check(bounds));
  const auto lo = int_lo(bounds), hi = int_hi(bounds);
  if (lo && hi && *lo > *hi) return range_error("the integer range is empty");
  return integers(lo, hi);
}

Result<std::string> number_range_ebnf(const NumberBounds& bounds) {
  SGLANG_RETURN_IF_ERROR(check(bounds));
  std::vector<std::string> alts;
  const auto lo = int_lo(bounds), hi = int_hi(bounds);
  if (!lo || !hi || *lo <= *hi) alts.push_back(integers(lo, hi));
  const std::string fraction = "\".\" [0-9]+";
  // x = N.ddd >= 0 lies in [N, N+1): needs N >= lo (N > lo when exclusive) and N + 1 <= hi.
  {
    std::optional<int64_t> from = lo;
    if (!from || *from < 0) from = 0;
    std::optional<int64_t> to;
    if (bounds.hi) to = static_cast<int64_t>(std::floor(*bounds.hi)) - 1;
    if (!to || *from <= *to) alts.push_back(seq(integers(from, to), fraction));
  }
  // x = -M.ddd lies in (-(M+1), -M]: needs -(M+1) >= lo and -M <= hi (< hi when exclusive).
  {
    std::optional<int64_t> to;  // largest M
    if (bounds.lo) to = static_cast<int64_t>(std::floor(-*bounds.lo)) - 1;
    int64_t from = 0;  // smallest M
    if (bounds.hi) {
      const double m = -*bounds.hi;
      const double c = std::ceil(m);
      from = static_cast<int64_t>(c == m && bounds.hi_exclusive ? c + 1 : c);
      if (from < 0) from = 0;
    }
    if (!to || from <= *to) alts.push_back(seq("\"-\" " + integers(from, to), fraction));
  }
  if (alts.empty()) {
    return range_error(
        "the number range holds no integer and no whole unit interval (not "
        "supported)");
  }
  return choice(alts);
}

}  // namespace sglang::grammar
