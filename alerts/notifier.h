#pragma once

// The seam between the outbox and a receiver: a Notifier sends one notification and says
// whether it arrived, should be retried, or never will.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alerts/notification.h"
#include "rules/error.h"

namespace flinkguard {

// The result of one delivery attempt. `error` never holds a secret (no URL, no routing key).
struct SendOutcome {
  enum class Kind { kDelivered, kRetry, kPermanent };
  Kind kind = Kind::kDelivered;
  std::string error;                                // why not delivered
  std::optional<std::chrono::seconds> retry_after;  // the receiver asked to wait this long

  static SendOutcome Delivered() { return {}; }
  static SendOutcome Retry(std::string e, std::optional<std::chrono::seconds> after = {}) {
    return {Kind::kRetry, std::move(e), after};
  }
  static SendOutcome Permanent(std::string e) { return {Kind::kPermanent, std::move(e), {}}; }
};

// One receiver. `idempotency_key` is the same on every attempt of one notification to this
// receiver; receivers that accept one get it (header or field). Called from one thread at a time.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual SendOutcome Send(const Notification& n, const std::string& idempotency_key) = 0;
};

// Outgoing HTTP as the HTTP receivers need it: one POST, waited for. alerts/ defines its own
// narrow seam rather than linking libcurl itself so that every request of the agent goes through
// the one transport the shell configures (user agent, instance header, TLS, connection reuse);
// the shell adapts its transport to this interface.
struct AlertHttpRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // JSON
  std::chrono::milliseconds timeout{10000};
};

struct AlertHttpResponse {
  long status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
};

class AlertHttp {
 public:
  virtual ~AlertHttp() = default;
  // A transport failure (refused, timeout, TLS) is an Error; its message may name the URL, so
  // callers must not pass it on unredacted (URLs of receivers can carry tokens).
  virtual Result<AlertHttpResponse> Post(const AlertHttpRequest& request) = 0;
};

// Maps an HTTP reply to an outcome: 2xx delivered; 408, 429 and 5xx retried (with Retry-After);
// any other status permanent. `what` names the receiver in the error text.
SendOutcome OutcomeOfHttp(const std::string& what, const Result<AlertHttpResponse>& reply);

}  // namespace flinkguard
