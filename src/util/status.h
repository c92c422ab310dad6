#pragma once
// Errors are values inside the engine (design.md: "Fail loud, lose nothing"). A Result<T> holds
// either a T or an Error whose message is meant for a human: it names the file, field or tensor at
// fault.
#include <string>
#include <utility>
#include <variant>

namespace sglang {

enum class ErrorCode {
  kInvalidArgument,  // bad input from a user: flags, request fields
  kNotFound,         // a file, field or tensor that is not there
  kCorrupt,          // a file that is there but malformed or truncated
  kUnsupported,      // valid input we do not handle (an architecture, a dtype)
  kResourceExhausted,
  kInternal,
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const Error& error() const { return std::get<Error>(data_); }

 private:
  std::variant<T, Error> data_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace sglang

// Propagate an error from an expression yielding Status or Result<T>.
#define SGLANG_RETURN_IF_ERROR(expr)                         \
  do {                                                       \
    auto sglang_status_ = (expr);                            \
    if (!sglang_status_.ok()) return sglang_status_.error(); \
  } while (0)

#define SGLANG_CONCAT_INNER(a, b) a##b
#define SGLANG_CONCAT(a, b) SGLANG_CONCAT_INNER(a, b)
// `SGLANG_ASSIGN_OR_RETURN(auto x, make_x());`
#define SGLANG_ASSIGN_OR_RETURN(lhs, expr) \
  SGLANG_ASSIGN_OR_RETURN_IMPL(SGLANG_CONCAT(sglang_result_, __LINE__), lhs, expr)
#define SGLANG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.error();                 \
  lhs = std::move(tmp).value()
