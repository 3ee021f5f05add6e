#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace flinkguard {

// A credential read from configuration (a password, a bearer token, a Slack webhook URL, a
// PagerDuty routing key). The value can only be read through Reveal(), so it is never printed
// by accident: formatting a Secret with fmt, spdlog or an ostream writes "***". Callers that
// reveal it must pass it straight to the place that needs it (a header, a request body) and never
// into a log line or an error message. Copyable value type; not thread-safe to mutate, safe to
// read from several threads.
class Secret {
 public:
  Secret() = default;
  // `value` is the credential; `origin` says where it came from without revealing it, e.g.
  // "file /etc/flinkguard/pagerduty.key" or "env FLINKGUARD_PD_KEY". The origin may be printed.
  explicit Secret(std::string value, std::string origin = {})
      : value_(std::move(value)), origin_(std::move(origin)) {}

  // The credential itself. Do not log it, do not put it in an Error.
  const std::string& Reveal() const { return value_; }
  // Where the credential came from ("file <path>", "env <NAME>", "inline"); safe to print.
  const std::string& origin() const { return origin_; }
  bool empty() const { return value_.empty(); }

  // Compares the credentials, not the origins (for tests and change detection on reload).
  friend bool operator==(const Secret& a, const Secret& b) { return a.value_ == b.value_; }

 private:
  std::string value_;
  std::string origin_;
};

// What every textual rendering of a Secret shows.
inline constexpr std::string_view kRedacted = "***";

// Writes "***", never the credential, so an accidental `os << secret` is harmless.
inline std::ostream& operator<<(std::ostream& os, const Secret&) { return os << kRedacted; }

}  // namespace flinkguard

// fmt (and so spdlog) renders a Secret as "***".
template <>
struct fmt::formatter<flinkguard::Secret> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const flinkguard::Secret&, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(flinkguard::kRedacted, ctx);
  }
};
