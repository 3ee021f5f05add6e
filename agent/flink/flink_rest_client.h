#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/flink/flink_parse.h"
#include "agent/http/http_transport.h"
#include "rules/error.h"

namespace flinkguard {

// How to reach one Flink cluster's REST endpoint.
struct FlinkEndpoint {
  std::string cluster;   // the configured name, used in every error message
  std::string base_url;  // http(s)://host:port, no trailing slash needed
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds connect_timeout{2000};
  std::shared_ptr<const TlsSettings> tls;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
};

// Builds requests for one Flink cluster and maps replies to values or Errors:
// 2xx → the parser's result; 404 → kNotFound (unknown or expired job, unknown route);
// 409 → kConflict; 400 → kInvalid; 503 (leader election) and other 5xx, 408, 429 → kTransient.
// Every Error names the cluster, the method and path, the status and the first line of Flink's
// `errors[0]` (whose full text is a Java stack trace).
// Requests are built here and run by the caller through an HttpTransport, so one transport Run
// can carry the requests of many clusters at once. Stateless apart from the endpoint.
class FlinkRestClient {
 public:
  explicit FlinkRestClient(FlinkEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

  // A request for `path` (starting with '/', query included).
  HttpRequest Request(const std::string& method, const std::string& path,
                      std::string body = "") const;

  // "cluster <name> <method> <path>".
  std::string Context(const std::string& method, const std::string& path) const;

  // Maps `reply` for `method path` through `parse(body, context)`.
  template <typename Parser>
  auto Handle(const std::string& method, const std::string& path, Result<HttpResponse> reply,
              Parser parse) const -> decltype(parse(std::string_view(), std::string())) {
    const std::string context = Context(method, path);
    if (!reply) return Fail(Error{reply.error().kind, context + ": " + reply.error().message});
    if (reply->status >= 200 && reply->status < 300) return parse(reply->body, context);
    return Fail(StatusError(context, *reply));
  }

  // The Error for a non-2xx reply (exposed for tests and for callers with custom parsing).
  static Error StatusError(const std::string& context, const HttpResponse& reply);

  const FlinkEndpoint& endpoint() const { return endpoint_; }

 private:
  FlinkEndpoint endpoint_;
};

}  // namespace flinkguard
