// FormatConfig: the effective configuration as YAML, with secrets redacted.
#include <yaml-cpp/yaml.h>

#include "agent/config.h"

namespace flinkguard {
namespace {

void Secretive(YAML::Emitter& out, const char* key, const Secret& secret) {
  // Only the origin is shown; the credential itself never reaches the emitter.
  out << YAML::Key << key << YAML::Value << std::string(kRedacted)
      << YAML::Comment(secret.origin().empty() ? std::string("secret") : secret.origin());
}

void StringMap(YAML::Emitter& out, const char* key, const std::map<std::string, std::string>& m) {
  if (m.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : m) out << YAML::Key << k << YAML::Value << v;
  out << YAML::EndMap;
}

void StringList(YAML::Emitter& out, const char* key, const std::vector<std::string>& v,
                bool flow = true) {
  if (v.empty()) return;
  out << YAML::Key << key << YAML::Value;
  if (flow) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const auto& s : v) out << s;
  out << YAML::EndSeq;
}

void Dur(YAML::Emitter& out, const char* key, Duration d) {
  out << YAML::Key << key << YAML::Value << FormatDuration(d);
}

void Bool(YAML::Emitter& out, const char* key, bool b) {
  out << YAML::Key << key << YAML::Value << (b ? "true" : "false");
}

void Agent(YAML::Emitter& out, const AgentConfig& a) {
  out << YAML::Key << "agent" << YAML::Value << YAML::BeginMap;
  Dur(out, "poll_interval", a.poll_interval);
  out << YAML::Key << "listen" << YAML::Value << a.listen.ToString();
  out << YAML::Key << "state_dir" << YAML::Value << a.state_dir;
  Bool(out, "dry_run", a.dry_run);
  out << YAML::Key << "log_level" << YAML::Value << LogLevelName(a.log_level);
  out << YAML::Key << "instance_id" << YAML::Value << a.instance_id;
  out << YAML::Key << "max_concurrent_recoveries" << YAML::Value << a.max_concurrent_recoveries;
  if (a.admin_token) Secretive(out, "admin_token", *a.admin_token);
  out << YAML::EndMap;
}

void Cluster(YAML::Emitter& out, const ClusterConfig& c) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.name;
  out << YAML::Key << "url" << YAML::Value << c.url.ToString();
  if (!c.az.empty()) out << YAML::Key << "az" << YAML::Value << c.az;
  Dur(out, "timeout", c.timeout);
  Dur(out, "connect_timeout", c.connect_timeout);
  if (c.metric_fetch_interval) Dur(out, "metric_fetch_interval", *c.metric_fetch_interval);
  if (c.detail_every) out << YAML::Key << "detail_every" << YAML::Value << *c.detail_every;
  if (c.tls) {
    out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
    if (!c.tls->ca_file.empty()) out << YAML::Key << "ca_file" << YAML::Value << c.tls->ca_file;
    if (!c.tls->cert_file.empty()) {
      out << YAML::Key << "cert_file" << YAML::Value << c.tls->cert_file;
      out << YAML::Key << "key_file" << YAML::Value << c.tls->key_file;
    }
    Bool(out, "verify", c.tls->verify);
    out << YAML::EndMap;
  }
  if (c.auth) {
    out << YAML::Key << "auth" << YAML::Value << YAML::BeginMap;
    if (c.auth->type == ClusterAuthType::kBasic) {
      out << YAML::Key << "type" << YAML::Value << "basic";
      out << YAML::Key << "username" << YAML::Value << c.auth->username;
      Secretive(out, "password", c.auth->password);
    } else {
      out << YAML::Key << "type" << YAML::Value << "bearer";
      Secretive(out, "token", c.auth->token);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void Job(YAML::Emitter& out, const JobConfig& j) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << j.name;
  out << YAML::Key << "cluster" << YAML::Value << j.cluster;
  StringList(out, "failover", j.failover);
  out << YAML::Key << "jar" << YAML::Value << j.jar;
  if (!j.entry_class.empty()) out << YAML::Key << "entry_class" << YAML::Value << j.entry_class;
  StringList(out, "args", j.args);
  if (j.parallelism) out << YAML::Key << "parallelism" << YAML::Value << *j.parallelism;
  if (!j.savepoint_dir.empty()) {
    out << YAML::Key << "savepoint_dir" << YAML::Value << j.savepoint_dir;
  }
  StringMap(out, "labels", j.labels);
  if (!j.signals.empty()) {
    out << YAML::Key << "signals" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, q] : j.signals) {
      out << YAML::Key << name << YAML::Value << YAML::SingleQuoted << q.text;
    }
    out << YAML::EndMap;
  }
  const RecoveryPolicyConfig& r = j.recovery;
  out << YAML::Key << "recovery" << YAML::Value << YAML::BeginMap;
  Bool(out, "allow_fresh_state", r.allow_fresh_state);
  Bool(out, "allow_non_restored_state", r.allow_non_restored_state);
  out << YAML::Key << "max_recoveries" << YAML::Value << r.max_recoveries;
  Dur(out, "window", r.window);
  if (r.max_checkpoint_age) Dur(out, "max_checkpoint_age", *r.max_checkpoint_age);
  Dur(out, "cooldown", r.cooldown);
  Dur(out, "stable_after", r.stable_after);
  Dur(out, "verify_timeout", r.verify_timeout);
  Bool(out, "verify_checkpoint", r.verify_checkpoint);
  Bool(out, "stop_with_savepoint", r.stop_with_savepoint);
  out << YAML::Key << "on_duplicate" << YAML::Value
      << (r.on_duplicate == RecoveryPolicyConfig::OnDuplicate::kStop ? "stop" : "alert");
  out << YAML::EndMap;
  const SavepointsConfig& sp = j.savepoints;
  out << YAML::Key << "savepoints" << YAML::Value << YAML::BeginMap;
  if (sp.interval) Dur(out, "interval", *sp.interval);
  out << YAML::Key << "keep" << YAML::Value << sp.keep;
  Dur(out, "max_age", sp.max_age);
  Dur(out, "timeout", sp.timeout);
  out << YAML::EndMap;
  if (!j.rules.empty()) {
    out << YAML::Key << "rules" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, o] : j.rules) {
      out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
      Bool(out, "enabled", o.enabled);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void Rule(YAML::Emitter& out, const RuleConfig& r) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << r.name;
  out << YAML::Key << "when" << YAML::Value << YAML::DoubleQuoted << r.when.text;
  Dur(out, "for", r.for_duration);
  Dur(out, "keep_firing_for", r.keep_firing_for);
  out << YAML::Key << "severity" << YAML::Value << SeverityName(r.severity);
  out << YAML::Key << "action" << YAML::Value << RuleActionName(r.action);
  StringMap(out, "labels", r.labels);
  StringMap(out, "annotations", r.annotations);
  StringList(out, "jobs", r.jobs);
  out << YAML::EndMap;
}

void Receiver(YAML::Emitter& out, const AlertReceiverConfig& a) {
  out << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << AlertReceiverTypeName(a.type);
  out << YAML::Key << "name" << YAML::Value << a.name;
  if (a.url) Secretive(out, "url", *a.url);
  if (a.routing_key) Secretive(out, "routing_key", *a.routing_key);
  StringList(out, "command", a.command);
  Dur(out, "timeout", a.timeout);
  out << YAML::Key << "min_severity" << YAML::Value << SeverityName(a.min_severity);
  if (a.repeat_interval) Dur(out, "repeat_interval", *a.repeat_interval);
  out << YAML::EndMap;
}

void Route(YAML::Emitter& out, const AlertRouteConfig& r) {
  out << YAML::BeginMap;
  StringList(out, "receivers", r.receivers);
  if (r.min_severity) {
    out << YAML::Key << "min_severity" << YAML::Value << SeverityName(*r.min_severity);
  }
  StringList(out, "rules", r.rules);
  StringList(out, "jobs", r.jobs);
  StringMap(out, "match", r.match);
  out << YAML::EndMap;
}

}  // namespace

std::string FormatConfig(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "region" << YAML::Value << config.region;
  Agent(out, config.agent);
  if (config.ha) {
    const HaConfig& ha = *config.ha;
    out << YAML::Key << "ha" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "zookeeper" << YAML::Value << ha.connect_string;
    out << YAML::Key << "root" << YAML::Value << ha.root;
    Dur(out, "session_timeout", ha.session_timeout);
    if (ha.digest_auth) Secretive(out, "auth", *ha.digest_auth);
    out << YAML::EndMap;
  }
  if (config.tsdb) {
    out << YAML::Key << "tsdb" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "prometheus" << YAML::Value << config.tsdb->prometheus.ToString();
    Dur(out, "timeout", config.tsdb->timeout);
    out << YAML::Key << "job_label" << YAML::Value << config.tsdb->job_label;
    if (!config.tsdb->signals.empty()) {
      out << YAML::Key << "signals" << YAML::Value << YAML::BeginMap;
      for (const auto& [name, q] : config.tsdb->signals) {
        out << YAML::Key << name << YAML::Value << YAML::SingleQuoted << q.text;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "failover" << YAML::Value << YAML::BeginMap;
  Dur(out, "down_after", config.failover.down_after);
  out << YAML::Key << "down_after_polls" << YAML::Value << config.failover.down_after_polls;
  out << YAML::Key << "max_concurrent" << YAML::Value << config.failover.max_concurrent;
  out << YAML::Key << "failback" << YAML::Value
      << (config.failover.failback_auto ? "auto" : "manual");
  Dur(out, "failback_after", config.failover.failback_after);
  out << YAML::Key << "shared_schemes" << YAML::Value << YAML::Flow
      << config.failover.shared_schemes;
  out << YAML::EndMap;
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : config.clusters) Cluster(out, c);
  out << YAML::EndSeq;
  out << YAML::Key << "jobs" << YAML::Value << YAML::BeginSeq;
  for (const auto& j : config.jobs) Job(out, j);
  out << YAML::EndSeq;
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const auto& r : config.rules) Rule(out, r);
  out << YAML::EndSeq;
  // The mapping form of `alerts` only when something besides the receivers is set.
  const AlertRoutingConfig defaults;
  const AlertRoutingConfig& routing = config.alert_routing;
  const bool mapping = !routing.routes.empty() ||
                       routing.group_interval != defaults.group_interval ||
                       routing.repeat_interval != defaults.repeat_interval;
  out << YAML::Key << "alerts" << YAML::Value;
  if (mapping) {
    out << YAML::BeginMap;
    Dur(out, "group_interval", routing.group_interval);
    Dur(out, "repeat_interval", routing.repeat_interval);
    out << YAML::Key << "receivers" << YAML::Value;
  }
  out << YAML::BeginSeq;
  for (const auto& a : config.alerts) Receiver(out, a);
  out << YAML::EndSeq;
  if (mapping) {
    out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
    for (const auto& r : routing.routes) Route(out, r);
    out << YAML::EndSeq;
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace flinkguard
