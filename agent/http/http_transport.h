#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/error.h"

namespace flinkguard {

// TLS settings for one endpoint (one Flink cluster, the TSDB, a receiver). Empty paths mean
// "not used"; verification is on unless explicitly turned off.
struct TlsSettings {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool verify = true;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};          // whole request, connect included
  std::chrono::milliseconds connect_timeout{2000};
  std::shared_ptr<const TlsSettings> tls;            // nullptr: defaults (verify on)
  // Start no sooner than this after the request is handed to the transport (retry backoff).
  std::chrono::milliseconds delay{0};
};

// An HTTP reply of any status: 4xx/5xx are responses, not Errors, so callers can read Flink's
// `{"errors":[...]}` bodies and decide.
struct HttpResponse {
  long status = 0;
  std::string body;
  std::string content_type;
  std::optional<std::chrono::seconds> retry_after;  // from a Retry-After header in seconds
  std::chrono::microseconds elapsed{0};
};

// A set of requests run together by HttpTransport::Run. Each request has a callback, called
// on the thread that called Run, once, when the request finished; a callback may Add more
// requests (e.g. per-job details after /jobs/overview) and they run in the same Run call.
// Not thread-safe: owned by one thread.
class RequestBatch {
 public:
  using Callback = std::function<void(Result<HttpResponse>)>;

  void Add(HttpRequest request, Callback done) {
    pending_.push_back({std::move(request), std::move(done)});
  }
  bool empty() const { return pending_.empty(); }

  // For transports: takes the requests added so far.
  std::vector<std::pair<HttpRequest, Callback>> TakePending() {
    std::vector<std::pair<HttpRequest, Callback>> out;
    out.swap(pending_);
    return out;
  }

 private:
  std::vector<std::pair<HttpRequest, Callback>> pending_;
};

// The one seam for all outgoing HTTP. Transport failures (connection refused, timeout, TLS,
// DNS) are Errors of kind kTransient whose message names method and URL.
// Implementations must be usable from one thread at a time (callers serialise).
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // Runs every request of `batch`, including those its callbacks add, concurrently within the
  // implementation's limits, and returns when all callbacks have run.
  virtual void Run(RequestBatch& batch) = 0;

  // One request, waited for.
  Result<HttpResponse> Send(HttpRequest request);
};

}  // namespace flinkguard
