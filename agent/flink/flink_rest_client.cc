#include "agent/flink/flink_rest_client.h"

namespace flinkguard {

HttpRequest FlinkRestClient::Request(const std::string& method, const std::string& path,
                                     std::string body) const {
  HttpRequest req;
  req.method = method;
  std::string base = endpoint_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + path;
  req.body = std::move(body);
  req.timeout = endpoint_.timeout;
  req.connect_timeout = endpoint_.connect_timeout;
  req.tls = endpoint_.tls;
  req.headers = endpoint_.headers;
  req.headers.emplace_back("Accept", "application/json");
  if (!req.body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  return req;
}

std::string FlinkRestClient::Context(const std::string& method, const std::string& path) const {
  return "cluster " + endpoint_.cluster + " " + method + " " + path;
}

Error FlinkRestClient::StatusError(const std::string& context, const HttpResponse& reply) {
  std::string detail;
  if (auto errors = ParseErrorBody(reply.body, context); errors && !errors->empty()) {
    // Flink puts a whole Java stack trace in one string; its first line says what happened.
    for (const std::string& e : *errors) {
      if (e == "Internal server error.") continue;
      detail = e.substr(0, e.find('\n'));
      break;
    }
    if (detail.empty()) detail = (*errors)[0];
  } else if (!reply.body.empty()) {
    detail = "non-JSON error body";
  }
  if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
  std::string msg = context + ": HTTP " + std::to_string(reply.status);
  if (!detail.empty()) msg += ": " + detail;
  const long s = reply.status;
  if (s == 404) return Error::NotFound(msg);
  if (s == 409) return Error::Conflict(msg);
  if (s == 408 || s == 429 || s >= 500) return Error::Transient(msg);
  if (s == 400) return Error::Invalid(msg);
  return Error::Permanent(msg);
}

}  // namespace flinkguard
