#pragma once
// Integer and number ranges (JSON schema minimum / maximum / exclusive*) as EBNF over JSON
// number text. Every string the expression admits is a number inside the range; for numbers
// with a fraction the admitted set is the integers in range plus, for each integer part N,
// N.ddd when all of [N, N+1) is inside the range.
#include <optional>
#include <string>

#include "util/status.h"

namespace sglang::grammar {

struct NumberBounds {
  std::optional<double> lo, hi;
  bool lo_exclusive = false;
  bool hi_exclusive = false;
};

// Integers in range, written as JSON integers (no leading zeros, no "-0").
Result<std::string> integer_range_ebnf(const NumberBounds& bounds);

// JSON numbers in range (integers, and decimals as above; no exponents).
Result<std::string> number_range_ebnf(const NumberBounds& bounds);

}  // namespace sglang::grammar
