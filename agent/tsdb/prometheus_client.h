#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/http/http_transport.h"
#include "rules/error.h"

namespace flinkguard {

// One signal for every job, from one instant query.
struct SignalValues {
  std::map<std::string, double> by_job;  // value of the label (default job_name) -> value
  double scalar = 0;                     // for scalar results (no per-job mapping)
  bool is_scalar = false;
  std::int64_t evaluated_at_ms = 0;      // the query's evaluation time, epoch ms
  std::vector<std::string> warnings;     // from Prometheus' "warnings"
  std::vector<std::string> problems;     // series that could not be mapped (no label, duplicate)
};

// Maps a Prometheus `/api/v1/query` response body to SignalValues. `status:error` (whatever the
// HTTP status), a non-JSON body, or a result type other than vector/scalar is an Error naming
// `context`; series without `job_label`, or several series for one job (the query does not
// aggregate by job — taking any one would be a silent guess), are left out and listed in
// `problems`. Values "NaN", "+Inf", "-Inf" are parsed.
Result<SignalValues> ParsePromQueryResponse(std::string_view body, const std::string& job_label,
                                            const std::string& context);

// The seam for TSDB signals.
class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  // Evaluates `promql` now; one request returns the signal for every job.
  virtual Result<SignalValues> Query(const std::string& promql) = 0;
};

struct PrometheusClientOptions {
  std::string base_url;  // e.g. http://prometheus:9090 (no trailing path)
  std::string job_label = "job_name";
  std::chrono::milliseconds timeout{5000};
  std::shared_ptr<const TlsSettings> tls;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
};

// MetricsSource over the Prometheus HTTP API (instant queries, GET /api/v1/query).
// Uses `transport`, which must outlive it. Not thread-safe.
class PrometheusClient final : public MetricsSource {
 public:
  PrometheusClient(HttpTransport& transport, PrometheusClientOptions options);
  Result<SignalValues> Query(const std::string& promql) override;

  // The request Query would send, for batching several signals in one transport Run.
  HttpRequest BuildRequest(const std::string& promql) const;
  // Maps a reply (or transport error) for `promql` to SignalValues.
  Result<SignalValues> HandleReply(const std::string& promql, Result<HttpResponse> reply) const;

 private:
  HttpTransport& transport_;
  PrometheusClientOptions options_;
};

// Percent-encodes `s` for a URL query component (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);

}  // namespace flinkguard
