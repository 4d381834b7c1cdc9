// src/util: errors as values across every seam: Error (with its Airbyte failure_type), Result<T>, Status.
// Both are [[nodiscard]]: a call whose Result or Error is dropped does not compile (werror).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sv {

//! What the user should do about an error; maps 1:1 to Airbyte's TRACE ERROR failure_type.
enum class FailureType {
  config_error,     //!< the user must fix the configuration, catalog, state or permissions
  transient_error,  //!< retrying later may succeed (network, server unavailable)
  system_error,     //!< a bug or an unexpected server answer
};

constexpr const char* to_string(FailureType t) {
  switch (t) {
    case FailureType::config_error: return "config_error";
    case FailureType::transient_error: return "transient_error";
    case FailureType::system_error: return "system_error";
  }
  return "system_error";
}

//! An error crossing a subsystem seam: a user-facing message, optional detail for logs.
//! Has constructors on purpose: GCC 12 destroys a braced *aggregate* temporary inside a
//! co_await expression twice (double free), so `co_await f(Error{...})` must not be an aggregate.
struct [[nodiscard]] Error {
  Error() = default;
  Error(FailureType failure_type, std::string user_message, std::string detail = {})
      : type(failure_type), message(std::move(user_message)), internal(std::move(detail)) {}

  FailureType type = FailureType::system_error;
  std::string message;   //!< user-facing; never contains secrets
  std::string internal;  //!< more detail for the log / internal_message
  bool operator==(const Error&) const = default;
};

inline Error config_error(std::string message, std::string internal = {}) {
  return {FailureType::config_error, std::move(message), std::move(internal)};
}
inline Error transient_error(std::string message, std::string internal = {}) {
  return {FailureType::transient_error, std::move(message), std::move(internal)};
}
inline Error system_error(std::string message, std::string internal = {}) {
  return {FailureType::system_error, std::move(message), std::move(internal)};
}

//! Either a T or an Error (std::expected is C++23; this is the small part of it we need).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

//! Result for operations that produce nothing but may fail.
struct Ok {
  bool operator==(const Ok&) const = default;
};
using Status = Result<Ok>;

}  // namespace sv
