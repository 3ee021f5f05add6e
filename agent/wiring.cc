#include "agent/wiring.h"

#include <memory>

namespace flinkguard {

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16) |
                       (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8) |
                       static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::vector<FlinkEndpoint> FlinkEndpointsFrom(const Config& config) {
  std::vector<FlinkEndpoint> out;
  for (ObservedCluster& c : ObservedClustersFrom(config)) out.push_back(std::move(c.endpoint));
  return out;
}

std::map<std::string, JobSubmission> JobSubmissionsFrom(const Config& config) {
  std::map<std::string, JobSubmission> out;
  for (const JobConfig& j : config.jobs) {
    JobSubmission s;
    s.job = j.name;
    s.jar = j.jar;
    s.entry_class = j.entry_class;
    s.args = j.args;
    s.parallelism = j.parallelism;
    s.savepoint_dir = j.savepoint_dir;
    s.verify_timeout_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(j.recovery.verify_timeout).count();
    s.verify_checkpoint = j.recovery.verify_checkpoint;
    out.emplace(j.name, std::move(s));
  }
  return out;
}

std::vector<ObservedCluster> ObservedClustersFrom(const Config& config) {
  std::vector<ObservedCluster> out;
  for (const ClusterConfig& c : config.clusters) {
    ObservedCluster oc;
    oc.az = c.az;
    oc.endpoint.cluster = c.name;
    oc.endpoint.base_url = c.url.ToString();
    oc.endpoint.timeout = c.timeout;
    oc.endpoint.connect_timeout = c.connect_timeout;
    if (c.metric_fetch_interval) oc.metric_fetch_interval_ms = c.metric_fetch_interval->count();
    oc.detail_every = c.detail_every;
    if (c.tls) {
      auto tls = std::make_shared<TlsSettings>();
      tls->ca_file = c.tls->ca_file;
      tls->cert_file = c.tls->cert_file;
      tls->key_file = c.tls->key_file;
      tls->verify = c.tls->verify;
      oc.endpoint.tls = std::move(tls);
    }
    if (c.auth) {
      if (c.auth->type == ClusterAuthType::kBasic) {
        oc.endpoint.headers.emplace_back(
            "Authorization", "Basic " + Base64(c.auth->username + ":" + c.auth->password.Reveal()));
      } else {
        oc.endpoint.headers.emplace_back("Authorization", "Bearer " + c.auth->token.Reveal());
      }
    }
    out.push_back(std::move(oc));
  }
  return out;
}

std::vector<SignalQuery> SignalQueriesFrom(const Config& config) {
  std::vector<SignalQuery> out;
  if (!config.tsdb) return out;
  for (const auto& [name, q] : config.tsdb->signals) out.push_back({name, q.text, ""});
  for (const JobConfig& j : config.jobs) {
    for (const auto& [name, q] : j.signals) out.push_back({name, q.text, j.name});
  }
  return out;
}

PrometheusClientOptions PrometheusOptionsFrom(const Config& config) {
  PrometheusClientOptions o;
  if (!config.tsdb) return o;
  o.base_url = config.tsdb->prometheus.ToString();
  o.job_label = config.tsdb->job_label;
  o.timeout = config.tsdb->timeout;
  return o;
}

}  // namespace flinkguard
