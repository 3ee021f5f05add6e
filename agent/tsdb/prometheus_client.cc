#include "agent/tsdb/prometheus_client.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "agent/flink/json_reader.h"

namespace flinkguard {
namespace {

// Prometheus writes sample values as strings, with "+Inf"/"-Inf"/"NaN" for the special ones.
std::optional<double> ParsePromValue(const rapidjson::Value& v) {
  if (!v.IsString()) return std::nullopt;
  const std::string_view s(v.GetString(), v.GetStringLength());
  if (s == "+Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  return ParseFlinkDouble(s);
}

// [<unix seconds as number>, "<value>"]
bool ReadSample(const rapidjson::Value& pair, double& ts, double& value) {
  if (!pair.IsArray() || pair.Size() != 2 || !pair[0].IsNumber()) return false;
  auto v = ParsePromValue(pair[1]);
  if (!v) return false;
  ts = pair[0].GetDouble();
  value = *v;
  return true;
}

std::string Truncated(std::string s) {
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}

}  // namespace

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

Result<SignalValues> ParsePromQueryResponse(std::string_view body, const std::string& job_label,
                                            const std::string& context) {
  auto doc = ParseJsonBody(body, context);
  if (!doc) return Fail(doc.error());
  if (!doc->IsObject()) return Fail(Error::Invalid(context + ": expected a JSON object"));
  JsonReader r(context);
  const std::string status = r.String(*doc, "status", "$", true).value_or("");
  if (status == "error") {
    const std::string type = r.String(*doc, "errorType", "$").value_or("unknown");
    const std::string msg = r.String(*doc, "error", "$").value_or("");
    // bad_data/execution errors are the query's fault and will not fix themselves.
    const bool query_fault = type == "bad_data" || type == "execution";
    Error e{query_fault ? ErrorKind::kInvalid : ErrorKind::kTransient,
            context + ": Prometheus error (" + type + "): " + Truncated(msg)};
    return Fail(std::move(e));
  }
  if (status != "success") {
    return Fail(Error::Invalid(context + ": $.status: expected success or error, found '" + status + "'"));
  }
  SignalValues out;
  if (const auto* w = r.Array(*doc, "warnings", "$")) {
    for (const auto& item : w->GetArray()) {
      if (item.IsString()) out.warnings.emplace_back(item.GetString());
    }
  }
  const auto* data = r.Object(*doc, "data", "$", true);
  if (data == nullptr) return Fail(r.ToError());
  const std::string type = r.String(*data, "resultType", "$.data", true).value_or("");
  const rapidjson::Value* result = JsonReader::Find(*data, "result");
  if (result == nullptr) return Fail(Error::Invalid(context + ": $.data.result: missing"));
  double ts = 0;
  if (type == "scalar") {
    double v = 0;
    if (!ReadSample(*result, ts, v)) {
      return Fail(Error::Invalid(context + ": $.data.result: expected [time, \"value\"]"));
    }
    out.is_scalar = true;
    out.scalar = v;
    out.evaluated_at_ms = static_cast<std::int64_t>(std::llround(ts * 1000));
    return out;
  }
  if (type != "vector") {
    return Fail(Error::Invalid(context + ": $.data.resultType: expected vector or scalar, found '" +
                               type + "' (use an instant query without a range selector)"));
  }
  if (!result->IsArray()) return Fail(Error::Invalid(context + ": $.data.result: expected an array"));
  std::map<std::string, int> seen;
  for (rapidjson::SizeType i = 0; i < result->Size(); ++i) {
    const std::string path = "$.data.result[" + std::to_string(i) + "]";
    const rapidjson::Value& series = (*result)[i];
    const rapidjson::Value* metric = JsonReader::Find(series, "metric");
    const rapidjson::Value* value = JsonReader::Find(series, "value");
    double v = 0;
    if (metric == nullptr || !metric->IsObject() || value == nullptr || !ReadSample(*value, ts, v)) {
      out.problems.push_back(path + ": expected {metric:{...}, value:[time, \"value\"]}");
      continue;
    }
    const rapidjson::Value* job = JsonReader::Find(*metric, job_label);
    if (job == nullptr || !job->IsString()) {
      out.problems.push_back(path + ": series has no '" + job_label + "' label");
      continue;
    }
    const std::string name = job->GetString();
    if (++seen[name] == 2) {
      out.problems.push_back(path + ": several series for " + job_label + "=\"" + name +
                             "\"; aggregate the query by " + job_label);
    }
    out.by_job[name] = v;
    out.evaluated_at_ms = static_cast<std::int64_t>(std::llround(ts * 1000));
  }
  for (const auto& [name, count] : seen) {
    if (count > 1) out.by_job.erase(name);
  }
  return out;
}

PrometheusClient::PrometheusClient(HttpTransport& transport, PrometheusClientOptions options)
    : transport_(transport), options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
}

HttpRequest PrometheusClient::BuildRequest(const std::string& promql) const {
  HttpRequest req;
  req.url = options_.base_url + "/api/v1/query?query=" + UrlEncode(promql);
  req.timeout = options_.timeout;
  // Ask Prometheus to stop evaluating before our own deadline, so we get its error, not ours.
  const auto server_timeout = std::max<std::int64_t>(options_.timeout.count() - 250, 100);
  req.url += "&timeout=" + std::to_string(server_timeout) + "ms";
  req.tls = options_.tls;
  req.headers = options_.headers;
  req.headers.emplace_back("Accept", "application/json");
  return req;
}

Result<SignalValues> PrometheusClient::HandleReply(const std::string& promql,
                                                   Result<HttpResponse> reply) const {
  const std::string context = "tsdb " + options_.base_url + " query '" + Truncated(promql) + "'";
  if (!reply) return Fail(Error{reply.error().kind, context + ": " + reply.error().message});
  // Prometheus answers errors with 400/422/503 and a JSON body that says why; parse it first.
  auto parsed = ParsePromQueryResponse(reply->body, options_.job_label, context);
  // A 5xx that is not one of Prometheus' own transient errors is still the server side: a proxy
  // page, or Prometheus before it is ready (503 "Service Unavailable" in plain text).
  if (!parsed && reply->status >= 500 && parsed.error().kind != ErrorKind::kTransient) {
    return Fail(Error::Transient(context + ": HTTP " + std::to_string(reply->status) + ": " +
                                 Truncated(reply->body.substr(0, reply->body.find('\n')))));
  }
  if (parsed && reply->status != 200) {
    return Fail(Error::Invalid(context + ": HTTP " + std::to_string(reply->status) +
                               " with a success body"));
  }
  return parsed;
}

Result<SignalValues> PrometheusClient::Query(const std::string& promql) {
  return HandleReply(promql, transport_.Send(BuildRequest(promql)));
}

}  // namespace flinkguard
