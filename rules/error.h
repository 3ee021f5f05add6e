#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace flinkguard {

// What kind of failure an Error is; callers branch on this, never on message text.
enum class ErrorKind {
  kTransient,  // Worth retrying: network, timeout, 5xx, 503 leader election, SQLITE_BUSY.
  kNotFound,   // The thing asked for does not exist (404, expired job, missing file).
  kConflict,   // The request clashes with current state (409, duplicate job id, lock held).
  kInvalid,    // Bad input: config, malformed body, bad argument. Retrying will not help.
  kPermanent,  // Anything else that will not fix itself.
};

// Returns "transient", "not-found", ... for logs and JSON.
const char* ErrorKindName(ErrorKind kind);

// An expected failure, carried as a value. `message` says where and what, in words a person
// reading a log can act on (e.g. "cluster yarn-a GET /jobs/overview: body is not JSON at 17").
struct Error {
  ErrorKind kind = ErrorKind::kPermanent;
  std::string message;

  static Error Transient(std::string m) { return {ErrorKind::kTransient, std::move(m)}; }
  static Error NotFound(std::string m) { return {ErrorKind::kNotFound, std::move(m)}; }
  static Error Conflict(std::string m) { return {ErrorKind::kConflict, std::move(m)}; }
  static Error Invalid(std::string m) { return {ErrorKind::kInvalid, std::move(m)}; }
  static Error Permanent(std::string m) { return {ErrorKind::kPermanent, std::move(m)}; }
};

// Result<T> holds a T or an Error. Functions that can fail in expected ways return it.
template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for `return Fail(Error::Invalid("..."));` in functions returning Result<T>.
inline tl::unexpected<Error> Fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

}  // namespace flinkguard
