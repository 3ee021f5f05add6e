#include "agent/config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "agent/config_reader.h"
#include "agent/config_values.h"
#include "agent/default_rules.h"

namespace flinkguard {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr Duration kPositive{1};  // DurationAtLeast(kPositive): "greater than 0s"

const std::vector<std::pair<std::string, RuleAction>> kRuleActions{
    {"alert", RuleAction::kAlert},
    {"recover", RuleAction::kRecover},
    {"savepoint", RuleAction::kSavepoint},
    {"failover", RuleAction::kFailover},
    {"none", RuleAction::kNone}};

const std::vector<std::pair<std::string, AlertReceiverType>> kReceiverTypes{
    {"webhook", AlertReceiverType::kWebhook},
    {"alertmanager", AlertReceiverType::kAlertmanager},
    {"slack", AlertReceiverType::kSlack},
    {"pagerduty", AlertReceiverType::kPagerDuty},
    {"command", AlertReceiverType::kCommand}};

bool HasControlChars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool IsPrometheusLabelName(std::string_view s) {
  if (s.empty()) return false;
  const auto word = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
  };
  if (!word(s.front(), true)) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) { return word(c, false); });
}

bool IsJavaClassName(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '.';
  });
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A name written in the file that must refer to something defined elsewhere in it; checked
// once everything is read.
struct Reference {
  YamlValue where;
  std::string name;
};

// Reads the schema of flinkguard.yaml out of a parsed document. One instance per load.
class SchemaLoader {
 public:
  explicit SchemaLoader(ConfigReader& reader) : r_(reader) {}

  Config Load(const YamlValue& root) {
    Config config;
    MapReader m(r_, root,
                {"region", "agent", "ha", "tsdb", "failover", "clusters", "jobs", "rules",
                 "alerts"});
    if (!m.ok()) return config;
    if (auto v = m.Required("region")) {
      if (auto s = r_.String(*v)) {
        if (HasControlChars(*s) || s->find_first_of(" /") != std::string::npos) {
          r_.Report(*v, "expected a region name without spaces or '/', such as us-east-1; found " +
                            QuotedScalar(v->node));
        } else {
          config.region = *s;
        }
      }
    }
    config.agent.instance_id = r_.env().hostname;
    if (auto v = m.Get("agent")) ReadAgent(*v, &config.agent);
    if (config.agent.instance_id.empty()) {
      r_.Report(ConfigReader::LocationOf(root), "agent.instance_id",
                "the host name is unknown; set agent.instance_id");
    }
    if (auto v = m.Get("ha")) config.ha = ReadHa(*v);
    if (auto v = m.Get("tsdb")) config.tsdb = ReadTsdb(*v);
    if (auto v = m.Get("failover")) ReadFailover(*v, &config.failover);
    if (auto v = m.Required("clusters")) ReadClusters(*v, &config.clusters);
    // Problems are sorted by position afterwards, so reading order only matters for what
    // later sections need: jobs check their signals against tsdb.
    if (auto v = m.Get("rules")) {
      ReadRules(*v, &config.rules);
    } else {
      UseDefaultRules(&config);
    }
    if (auto v = m.Get("jobs")) ReadJobs(*v, config.tsdb.has_value(), &config.jobs);
    if (auto v = m.Get("alerts")) ReadAlerts(*v, &config.alerts, &config.alert_routing);
    CheckReferences();
    CompileRules(config, CustomSignalNames(config));
    return config;
  }

  // Reads `key` from `m` with `read` into `*out` when present; leaves the default otherwise.
  template <typename T, typename Read>
  void Optional(const MapReader& m, std::string_view key, T* out, Read read) {
    if (auto v = m.Get(key)) {
      if (auto x = read(*v)) *out = static_cast<T>(*x);
    }
  }

  auto DurationReader(Duration min) {
    return [this, min](const YamlValue& v) { return r_.DurationAtLeast(v, min); };
  }
  auto BoolReader() {
    return [this](const YamlValue& v) { return r_.Bool(v); };
  }

  // A unique name of a cluster, rule or receiver; nullopt after reporting.
  std::optional<std::string> ResourceName(const YamlValue& v, const char* what,
                                          std::map<std::string, YAML::Mark>* seen) {
    auto s = r_.String(v);
    if (!s) return std::nullopt;
    if (!IsResourceName(*s)) {
      r_.Report(v, std::string("expected a ") + what +
                       " name made of lower-case letters, digits, '-' and '_'; found " +
                       QuotedScalar(v.node));
      return std::nullopt;
    }
    return UniqueName(v, *s, what, seen);
  }

  std::optional<std::string> UniqueName(const YamlValue& v, const std::string& name,
                                        const char* what, std::map<std::string, YAML::Mark>* seen) {
    if (auto it = seen->find(name); it != seen->end()) {
      r_.Report(v, std::string("duplicate ") + what + " name '" + QuoteForMessage(name) +
                       "' (first defined at line " + std::to_string(it->second.line + 1) + ")");
      return std::nullopt;
    }
    seen->emplace(name, v.node.Mark());
    return name;
  }

  std::optional<std::string> AbsolutePath(const YamlValue& v) {
    auto s = r_.String(v);
    if (!s) return std::nullopt;
    if (s->front() != '/' || HasControlChars(*s)) {
      r_.Report(v, "expected an absolute path (starting with '/'); found " + QuotedScalar(v.node));
      return std::nullopt;
    }
    return std::filesystem::path(*s).lexically_normal().string();
  }

  // An http(s) URL that is not a secret: quoted in messages unless it holds user info.
  std::optional<Url> PublicUrl(const YamlValue& v, const char* example) {
    auto s = r_.String(v);
    if (!s) return std::nullopt;
    auto url = ParseHttpUrl(*s);
    if (!url) {
      const std::string found = s->find('@') == std::string::npos
                                    ? QuotedScalar(v.node)
                                    : std::string("a URL with credentials (not shown)");
      r_.Report(v, std::string("expected an http(s) URL such as ") + example + "; found " + found +
                       ": " + url.error().message);
      return std::nullopt;
    }
    return *url;
  }

  std::optional<std::map<std::string, std::string>> Labels(const YamlValue& v) {
    auto entries = r_.Entries(v);
    if (!entries) return std::nullopt;
    std::map<std::string, std::string> out;
    for (auto& [key, value] : *entries) {
      if (!IsPrometheusLabelName(key)) {
        r_.Report(value, "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*); found '" +
                             QuoteForMessage(key) + "'");
        continue;
      }
      if (auto s = r_.String(value)) out.emplace(key, std::move(*s));
    }
    return out;
  }

  // Which of `keys` is present in `m`, when exactly one is. Several present is a problem
  // (reported at the second); none present is a problem when `required`, named `what`.
  std::optional<std::string> OneOf(const MapReader& m, const std::vector<std::string>& keys,
                                   bool required, const std::string& what) {
    std::optional<std::string> found;
    for (const auto& k : keys) {
      auto v = m.Get(k);
      if (!v) continue;
      if (found) {
        r_.Report(ConfigReader::ToLocation(v->key_mark), v->path,
                  "set only one of " + JoinNames(keys) + " (found " + *found + " too)");
        return std::nullopt;
      }
      found = k;
    }
    if (!found && required && m.ok()) {
      r_.Report(ConfigReader::LocationOf(m.value()), m.value().path,
                "missing " + what + ": set one of " + JoinNames(keys));
    }
    return found;
  }

  // Reports each key of `keys` present in `m` as not applying in this context.
  void NotApplicable(const MapReader& m, const std::vector<std::string>& keys,
                     const std::string& context) {
    for (const auto& k : keys) {
      if (auto v = m.Get(k)) {
        r_.Report(ConfigReader::ToLocation(v->key_mark), v->path,
                  "'" + k + "' does not apply to " + context);
      }
    }
  }

  // A secret from `<stem>_file` or `<stem>_env` (exactly one; `required` when it must be
  // there). nullopt when absent or after reporting.
  std::optional<Secret> ReadSecret(const MapReader& m, const std::string& stem, bool required,
                                   const std::string& what) {
    auto key = OneOf(m, {stem + "_file", stem + "_env"}, required, what);
    if (!key) return std::nullopt;
    const YamlValue v = *m.Get(*key);
    return key->ends_with("_file") ? r_.SecretFromFile(v) : r_.SecretFromEnv(v);
  }

  void ReadAgent(const YamlValue& value, AgentConfig* agent) {
    MapReader m(r_, value,
                {"poll_interval", "listen", "state_dir", "dry_run", "log_level", "instance_id",
                 "max_concurrent_recoveries", "admin_token_file"});
    Optional(m, "poll_interval", &agent->poll_interval, DurationReader(seconds{1}));
    if (auto v = m.Get("listen")) {
      if (auto s = r_.String(*v)) {
        auto hp = ParseHostPort(*s, /*allow_port_zero=*/true);
        if (hp) {
          agent->listen = *hp;
        } else {
          r_.Report(*v, "expected host:port such as 127.0.0.1:9310; found " +
                            QuotedScalar(v->node) + ": " + hp.error().message);
        }
      }
    }
    Optional(m, "state_dir", &agent->state_dir,
             [this](const YamlValue& v) { return AbsolutePath(v); });
    Optional(m, "dry_run", &agent->dry_run, BoolReader());
    Optional(m, "log_level", &agent->log_level, [this](const YamlValue& v) {
      return r_.Choice<LogLevel>(v, {{"trace", LogLevel::kTrace},
                                     {"debug", LogLevel::kDebug},
                                     {"info", LogLevel::kInfo},
                                     {"warn", LogLevel::kWarn},
                                     {"error", LogLevel::kError}});
    });
    if (auto v = m.Get("instance_id")) {
      if (auto s = r_.String(*v)) {
        const bool printable = std::all_of(s->begin(), s->end(), [](char c) {
          return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
        });
        if (!printable || s->size() > 128) {
          r_.Report(*v,
                    "expected up to 128 printable ASCII characters without spaces (it is sent "
                    "in an HTTP header); found " +
                        QuotedScalar(v->node));
        } else {
          agent->instance_id = *s;
        }
      }
    }
    Optional(m, "max_concurrent_recoveries", &agent->max_concurrent_recoveries,
             [this](const YamlValue& v) { return r_.Integer(v, 1, 10000); });
    if (auto v = m.Get("admin_token_file")) agent->admin_token = r_.SecretFromFile(*v);
  }

  std::optional<HaConfig> ReadHa(const YamlValue& value) {
    MapReader m(r_, value, {"zookeeper", "root", "session_timeout", "auth_file"});
    if (!m.ok()) return std::nullopt;
    HaConfig ha;
    if (auto v = m.Required("zookeeper")) {
      if (auto s = r_.String(*v)) {
        auto servers = ParseZooKeeperConnect(*s);
        if (servers) {
          ha.zookeeper = *servers;
          for (const auto& hp : ha.zookeeper) {
            ha.connect_string += (ha.connect_string.empty() ? "" : ",") + hp.ToString();
          }
        } else {
          r_.Report(*v, "expected a ZooKeeper connect string host:port[,host:port...]; found " +
                            QuotedScalar(v->node) + ": " + servers.error().message);
        }
      }
    }
    if (auto v = m.Required("root")) {
      if (auto s = r_.String(*v)) {
        if (auto ok = CheckZooKeeperPath(*s); ok) {
          ha.root = *s;
        } else {
          r_.Report(*v, "expected a ZooKeeper path such as /flinkguard/us-east-1; found " +
                            QuotedScalar(v->node) + ": it " + ok.error().message);
        }
      }
    }
    Optional(m, "session_timeout", &ha.session_timeout, DurationReader(seconds{1}));
    if (auto v = m.Get("auth_file")) {
      if (auto secret = r_.SecretFromFile(*v)) {
        if (secret->Reveal().find(':') == std::string::npos) {
          r_.Report(*v, "expected digest credentials 'user:password' in " + secret->origin() +
                            "; the content has no ':'");
        } else {
          ha.digest_auth = std::move(*secret);
        }
      }
    }
    return ha;
  }

  std::optional<TsdbConfig> ReadTsdb(const YamlValue& value) {
    MapReader m(r_, value, {"prometheus", "timeout", "job_label", "signals"});
    if (!m.ok()) return std::nullopt;
    TsdbConfig tsdb;
    if (auto v = m.Required("prometheus")) {
      if (auto url = PublicUrl(*v, "http://prometheus:9090")) tsdb.prometheus = *url;
    }
    Optional(m, "timeout", &tsdb.timeout, DurationReader(kPositive));
    if (auto v = m.Get("job_label")) {
      if (auto s = r_.String(*v)) {
        if (IsPrometheusLabelName(*s)) {
          tsdb.job_label = *s;
        } else {
          r_.Report(*v, "expected a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*); found " +
                            QuotedScalar(v->node));
        }
      }
    }
    if (auto v = m.Get("signals")) ReadSignals(*v, &tsdb.signals);
    return tsdb;
  }

  // A map signal name -> PromQL text (tsdb.signals, jobs[].signals).
  void ReadSignals(const YamlValue& value, std::map<std::string, SourceText>* out) {
    auto entries = r_.Entries(value);
    if (!entries) return;
    for (auto& [name, q] : *entries) {
      if (!IsIdentifier(name)) {
        r_.Report(ConfigReader::ToLocation(q.key_mark), q.path,
                  "expected a signal name ([a-z_][a-z0-9_]*); found '" + QuoteForMessage(name) + "'");
        continue;
      }
      if (auto text = r_.Text(q)) out->emplace(name, std::move(*text));
    }
  }

  void ReadClusters(const YamlValue& value, std::vector<ClusterConfig>* clusters) {
    auto items = r_.List(value);
    if (!items) return;
    if (items->empty()) {
      r_.Report(value, "expected at least one cluster; found an empty list");
      return;
    }
    for (const YamlValue& item : *items) {
      if (auto c = ReadCluster(item)) clusters->push_back(std::move(*c));
    }
  }

  std::optional<ClusterConfig> ReadCluster(const YamlValue& value) {
    MapReader m(r_, value,
                {"name", "url", "az", "timeout", "connect_timeout", "tls", "auth",
                 "metric_fetch_interval", "detail_every"});
    if (!m.ok()) return std::nullopt;
    const std::size_t before = r_.problem_count();
    ClusterConfig c;
    if (auto v = m.Required("name")) {
      if (auto n = ResourceName(*v, "cluster", &cluster_names_)) c.name = *n;
    }
    if (auto v = m.Required("url")) {
      if (auto url = PublicUrl(*v, "http://jobmanager:8081")) c.url = *url;
    }
    Optional(m, "az", &c.az, [this](const YamlValue& v) { return r_.String(v); });
    Optional(m, "timeout", &c.timeout, DurationReader(kPositive));
    Optional(m, "connect_timeout", &c.connect_timeout, DurationReader(kPositive));
    if (c.connect_timeout > c.timeout) {
      const YamlValue where = m.Has("connect_timeout") ? *m.Get("connect_timeout") : value;
      r_.Report(where, "connect_timeout (" + FormatDuration(c.connect_timeout) +
                           ") must not exceed timeout (" + FormatDuration(c.timeout) + ")");
    }
    if (auto v = m.Get("tls")) {
      c.tls = ReadTls(*v);
      if (c.tls && !c.url.scheme.empty() && c.url.scheme != "https") {
        r_.Report(*v, "tls settings need an https url; the url is http");
      }
    }
    if (auto v = m.Get("auth")) c.auth = ReadClusterAuth(*v);
    if (auto v = m.Get("metric_fetch_interval")) {
      c.metric_fetch_interval = DurationReader(kPositive)(*v);
    }
    if (auto v = m.Get("detail_every")) {
      if (auto n = r_.Integer(*v, 1, 100)) c.detail_every = static_cast<int>(*n);
    }
    if (r_.problem_count() != before) return std::nullopt;
    return c;
  }

  std::optional<TlsConfig> ReadTls(const YamlValue& value) {
    MapReader m(r_, value, {"ca_file", "cert_file", "key_file", "verify"});
    if (!m.ok()) return std::nullopt;
    TlsConfig tls;
    const auto file = [this](const YamlValue& v) { return r_.ReadableFile(v); };
    Optional(m, "ca_file", &tls.ca_file, file);
    Optional(m, "cert_file", &tls.cert_file, file);
    Optional(m, "key_file", &tls.key_file, file);
    Optional(m, "verify", &tls.verify, BoolReader());
    if (m.Has("cert_file") != m.Has("key_file")) {
      const bool has_cert = m.Has("cert_file");
      const YamlValue v = *m.Get(has_cert ? "cert_file" : "key_file");
      r_.Report(ConfigReader::ToLocation(v.key_mark), v.path,
                has_cert ? "cert_file needs key_file (the client certificate's private key)"
                         : "key_file needs cert_file (the client certificate)");
    }
    return tls;
  }

  std::optional<ClusterAuth> ReadClusterAuth(const YamlValue& value) {
    MapReader m(r_, value,
                {"type", "username", "password_file", "password_env", "token_file", "token_env"});
    if (!m.ok()) return std::nullopt;
    ClusterAuth auth;
    auto v = m.Required("type");
    if (!v) return std::nullopt;
    auto type = r_.Choice<ClusterAuthType>(
        *v, {{"basic", ClusterAuthType::kBasic}, {"bearer", ClusterAuthType::kBearer}});
    if (!type) return std::nullopt;
    auth.type = *type;
    if (auth.type == ClusterAuthType::kBasic) {
      NotApplicable(m, {"token_file", "token_env"}, "auth type basic");
      if (auto u = m.Required("username")) {
        if (auto s = r_.String(*u)) auth.username = *s;
      }
      if (auto p = ReadSecret(m, "password", true, "the password")) auth.password = *p;
    } else {
      NotApplicable(m, {"username", "password_file", "password_env"}, "auth type bearer");
      if (auto t = ReadSecret(m, "token", true, "the token")) auth.token = *t;
    }
    return auth;
  }

  void ReadJobs(const YamlValue& value, bool have_tsdb, std::vector<JobConfig>* jobs) {
    auto items = r_.List(value);
    if (!items) return;
    for (const YamlValue& item : *items) {
      if (auto j = ReadJob(item, have_tsdb)) jobs->push_back(std::move(*j));
    }
  }

  std::optional<JobConfig> ReadJob(const YamlValue& value, bool have_tsdb) {
    MapReader m(r_, value,
                {"name", "cluster", "failover", "jar", "entry_class", "args", "parallelism",
                 "savepoint_dir", "labels", "signals", "recovery", "savepoints", "rules"});
    if (!m.ok()) return std::nullopt;
    const std::size_t before = r_.problem_count();
    JobConfig j;
    if (auto v = m.Required("name")) {
      if (auto s = r_.String(*v)) {
        if (HasControlChars(*s)) {
          r_.Report(*v, "expected a Flink job name without control characters; found " +
                            QuotedScalar(v->node));
        } else if (auto n = UniqueName(*v, *s, "job", &job_names_)) {
          j.name = *n;
        }
      }
    }
    if (auto v = m.Required("cluster")) {
      if (auto s = r_.String(*v)) {
        j.cluster = *s;
        cluster_refs_.push_back({*v, *s});
      }
    }
    if (auto v = m.Get("failover")) {
      if (auto items = r_.List(*v)) {
        std::set<std::string> seen;
        for (const YamlValue& item : *items) {
          auto s = r_.String(item);
          if (!s) continue;
          if (*s == j.cluster) {
            r_.Report(item, "failover to the job's own cluster '" + QuoteForMessage(*s) +
                                "'; list other clusters");
            continue;
          }
          if (!seen.insert(*s).second) {
            r_.Report(item, "cluster '" + QuoteForMessage(*s) + "' is listed twice");
            continue;
          }
          j.failover.push_back(*s);
          cluster_refs_.push_back({item, *s});
        }
      }
    }
    if (auto v = m.Required("jar")) {
      // Relative paths are taken from the config file's directory, so a config and its jars
      // can be moved together.
      if (auto s = r_.String(*v)) j.jar = r_.ResolvePath(*s);
    }
    if (auto v = m.Get("entry_class")) {
      if (auto s = r_.String(*v)) {
        if (IsJavaClassName(*s)) {
          j.entry_class = *s;
        } else {
          r_.Report(*v, "expected a Java class name such as com.example.AdsSpend; found " +
                            QuotedScalar(v->node));
        }
      }
    }
    Optional(m, "args", &j.args,
             [this](const YamlValue& v) { return r_.StringList(v, /*allow_empty_items=*/true); });
    if (auto v = m.Get("parallelism")) {
      if (auto n = r_.Integer(*v, 1, 32768)) j.parallelism = static_cast<int>(*n);
    }
    if (auto v = m.Get("savepoint_dir")) {
      if (auto s = r_.String(*v)) {
        const std::size_t scheme = s->find("://");
        const bool uri = scheme != std::string::npos && scheme > 0 && scheme + 3 < s->size();
        if ((s->front() == '/' || uri) && !HasControlChars(*s)) {
          j.savepoint_dir = *s;
        } else {
          r_.Report(*v,
                    "expected a URI such as s3://bucket/savepoints/job or an absolute path; "
                    "found " +
                        QuotedScalar(v->node));
        }
      }
    }
    Optional(m, "labels", &j.labels, [this](const YamlValue& v) { return Labels(v); });
    if (auto v = m.Get("signals")) {
      if (!have_tsdb) {
        r_.Report(ConfigReader::ToLocation(v->key_mark), v->path,
                  "signals are PromQL queries and need a tsdb section with prometheus set");
      }
      ReadSignals(*v, &j.signals);
    }
    if (auto v = m.Get("recovery")) ReadRecovery(*v, &j.recovery);
    if (auto v = m.Get("savepoints")) ReadSavepoints(*v, &j.savepoints);
    if (auto v = m.Get("rules")) {
      if (auto entries = r_.Entries(*v)) {
        for (auto& [name, o] : *entries) {
          MapReader om(r_, o, {"enabled"});
          JobRuleOverride override_rule;
          if (auto e = om.Required("enabled")) {
            if (auto b = r_.Bool(*e)) override_rule.enabled = *b;
          }
          rule_refs_.push_back({YamlValue{o.node, o.path, o.key_mark}, name});
          j.rules.emplace(name, override_rule);
        }
      }
    }
    if (r_.problem_count() != before) return std::nullopt;
    return j;
  }

  void ReadRecovery(const YamlValue& value, RecoveryPolicyConfig* p) {
    MapReader m(r_, value,
                {"allow_fresh_state", "allow_non_restored_state", "max_recoveries", "window",
                 "max_checkpoint_age", "cooldown", "stable_after", "verify_timeout",
                 "verify_checkpoint", "stop_with_savepoint", "on_duplicate"});
    Optional(m, "allow_fresh_state", &p->allow_fresh_state, BoolReader());
    Optional(m, "allow_non_restored_state", &p->allow_non_restored_state, BoolReader());
    Optional(m, "max_recoveries", &p->max_recoveries,
             [this](const YamlValue& v) { return r_.Integer(v, 1, 1000); });
    Optional(m, "window", &p->window, DurationReader(kPositive));
    if (auto v = m.Get("max_checkpoint_age")) {
      if (auto d = r_.DurationAtLeast(*v, kPositive)) p->max_checkpoint_age = *d;
    }
    Optional(m, "cooldown", &p->cooldown, DurationReader(Duration{0}));
    Optional(m, "stable_after", &p->stable_after, DurationReader(Duration{0}));
    Optional(m, "verify_timeout", &p->verify_timeout, DurationReader(kPositive));
    Optional(m, "verify_checkpoint", &p->verify_checkpoint, BoolReader());
    Optional(m, "stop_with_savepoint", &p->stop_with_savepoint, BoolReader());
    if (auto v = m.Get("on_duplicate")) {
      if (auto s = r_.String(*v)) {
        if (*s == "alert") {
          p->on_duplicate = RecoveryPolicyConfig::OnDuplicate::kAlert;
        } else if (*s == "stop") {
          p->on_duplicate = RecoveryPolicyConfig::OnDuplicate::kStop;
        } else {
          r_.Report(*v, "expected alert or stop; found " + QuotedScalar(v->node));
        }
      }
    }
  }

  void ReadFailover(const YamlValue& value, FailoverConfig* f) {
    MapReader m(r_, value, {"down_after", "down_after_polls", "max_concurrent", "shared_schemes",
                            "failback", "failback_after"});
    Optional(m, "down_after", &f->down_after, DurationReader(std::chrono::seconds{1}));
    if (auto v = m.Get("failback")) {
      if (auto s = r_.String(*v)) {
        if (*s == "manual" || *s == "auto") {
          f->failback_auto = *s == "auto";
        } else {
          r_.Report(*v, "expected manual or auto; found " + QuotedScalar(v->node));
        }
      }
    }
    Optional(m, "failback_after", &f->failback_after, DurationReader(std::chrono::seconds{1}));
    Optional(m, "down_after_polls", &f->down_after_polls,
             [this](const YamlValue& v) { return r_.Integer(v, 1, 1000); });
    Optional(m, "max_concurrent", &f->max_concurrent,
             [this](const YamlValue& v) { return r_.Integer(v, 1, 10000); });
    if (auto v = m.Get("shared_schemes")) {
      if (auto list = r_.StringList(*v, /*allow_empty_items=*/false)) {
        std::vector<std::string> schemes;
        for (const std::string& s : *list) {
          const bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char ch) {
            return std::islower(ch) || std::isdigit(ch) || ch == '+' || ch == '-' || ch == '.';
          });
          if (!ok) {
            r_.Report(*v, "expected URI schemes in lower case such as s3 or hdfs; found '" +
                              QuoteForMessage(s) + "'");
            return;
          }
          schemes.push_back(s);
        }
        f->shared_schemes = std::move(schemes);
      }
    }
  }

  void ReadSavepoints(const YamlValue& value, SavepointsConfig* p) {
    MapReader m(r_, value, {"interval", "keep", "max_age", "timeout"});
    if (auto v = m.Get("interval")) {
      if (auto d = r_.DurationAtLeast(*v, std::chrono::minutes{1})) p->interval = *d;
    }
    Optional(m, "keep", &p->keep, [this](const YamlValue& v) { return r_.Integer(v, 1, 1000); });
    Optional(m, "max_age", &p->max_age, DurationReader(kPositive));
    Optional(m, "timeout", &p->timeout, DurationReader(kPositive));
  }

  // Reads a rules file: a mapping whose only key is `rules`, and compiles every rule with
  // `custom_signals`.
  std::vector<RuleConfig> LoadRulesOnly(const YamlValue& root,
                                        const std::set<std::string>& custom_signals) {
    std::vector<RuleConfig> rules;
    MapReader m(r_, root, {"rules"});
    if (!m.ok()) return rules;
    if (auto v = m.Required("rules")) ReadRules(*v, &rules);
    Config config;
    config.rules = rules;
    CompileRules(config, custom_signals);
    return rules;
  }

 private:
  // No `rules` key: the built-in table (packaging/rules/default-rules.yaml). It reads only
  // built-in signals, so it compiles before the jobs' custom signals are known. A problem in it
  // is a build defect, reported against the config so that it cannot go unnoticed.
  void UseDefaultRules(Config* config) {
    const std::string name = "default-rules.yaml (built in)";
    RulesLoadResult loaded = LoadRulesFromString(kDefaultRulesYaml, name, r_.env(), {});
    for (const ConfigProblem& p : loaded.problems) {
      r_.Report({}, "rules", "the built-in default rules do not load: " + FormatProblem(p));
    }
    if (!loaded.rules) return;
    config->rules = std::move(*loaded.rules);
    config->default_rules = true;
    rules_read_ = true;
    for (const RuleConfig& rule : config->rules) rule_names_.emplace(rule.name, YAML::Mark());
  }

  void ReadRules(const YamlValue& value, std::vector<RuleConfig>* rules) {
    auto items = r_.List(value);
    if (!items) return;
    rules_read_ = true;
    for (const YamlValue& item : *items) {
      if (auto rule = ReadRule(item)) rules->push_back(std::move(*rule));
    }
  }

  std::optional<RuleConfig> ReadRule(const YamlValue& value) {
    MapReader m(r_, value,
                {"name", "when", "for", "keep_firing_for", "severity", "action", "labels",
                 "annotations", "jobs"});
    if (!m.ok()) return std::nullopt;
    const std::size_t before = r_.problem_count();
    RuleConfig rule;
    if (auto v = m.Required("name")) {
      if (auto n = ResourceName(*v, "rule", &rule_names_)) rule.name = *n;
    }
    if (auto v = m.Required("when")) {
      if (auto t = r_.Text(*v)) rule.when = std::move(*t);
    }
    Optional(m, "for", &rule.for_duration, DurationReader(Duration{0}));
    Optional(m, "keep_firing_for", &rule.keep_firing_for, DurationReader(Duration{0}));
    Optional(m, "severity", &rule.severity,
             [this](const YamlValue& v) { return r_.SeverityValue(v); });
    Optional(m, "action", &rule.action,
             [this](const YamlValue& v) { return r_.Choice<RuleAction>(v, kRuleActions); });
    Optional(m, "labels", &rule.labels, [this](const YamlValue& v) { return Labels(v); });
    Optional(m, "annotations", &rule.annotations,
             [this](const YamlValue& v) { return r_.StringMap(v); });
    Optional(m, "jobs", &rule.jobs, [this](const YamlValue& v) { return r_.StringList(v); });
    if (r_.problem_count() != before) return std::nullopt;
    rule_sites_[rule.name] = value;
    return rule;
  }

  // `alerts:` is either the list of receivers, or a mapping {receivers, routes,
  // group_interval, repeat_interval}.
  void ReadAlerts(const YamlValue& value, std::vector<AlertReceiverConfig>* alerts,
                  AlertRoutingConfig* routing) {
    std::optional<YamlValue> receivers = value;
    std::optional<YamlValue> routes;
    if (value.node.IsMap()) {
      MapReader m(r_, value, {"receivers", "routes", "group_interval", "repeat_interval"});
      if (!m.ok()) return;
      receivers = m.Required("receivers");
      routes = m.Get("routes");
      Optional(m, "group_interval", &routing->group_interval, DurationReader(kPositive));
      Optional(m, "repeat_interval", &routing->repeat_interval, DurationReader(kPositive));
    }
    if (receivers) {
      if (auto items = r_.List(*receivers)) {
        for (std::size_t i = 0; i < items->size(); ++i) {
          if (auto a = ReadAlert((*items)[i], i)) alerts->push_back(std::move(*a));
        }
      }
    }
    if (!routes) return;
    auto items = r_.List(*routes);
    if (!items) return;
    for (const YamlValue& item : *items) {
      MapReader m(r_, item, {"receivers", "min_severity", "rules", "jobs", "match"});
      if (!m.ok()) continue;
      AlertRouteConfig route;
      if (auto v = m.Required("receivers")) {
        if (auto names = r_.StringList(*v)) {
          if (names->empty()) r_.Report(*v, "expected at least one receiver name");
          for (const std::string& n : *names) {
            if (alert_names_.count(n) != 0) continue;
            std::string message = "no alert receiver named '" + QuoteForMessage(n) + "'";
            std::vector<std::string> all;
            for (const auto& [name, mark] : alert_names_) all.push_back(name);
            if (auto close = ClosestMatch(n, all)) {
              message += "; did you mean '" + *close + "'?";
            } else if (!all.empty()) {
              message += "; configured receivers: " + JoinNames(all);
            }
            r_.Report(*v, std::move(message));
          }
          route.receivers = std::move(*names);
        }
      }
      Optional(m, "min_severity", &route.min_severity,
               [this](const YamlValue& v) { return r_.SeverityValue(v); });
      Optional(m, "rules", &route.rules, [this](const YamlValue& v) { return r_.StringList(v); });
      Optional(m, "jobs", &route.jobs, [this](const YamlValue& v) { return r_.StringList(v); });
      Optional(m, "match", &route.match, [this](const YamlValue& v) { return r_.StringMap(v); });
      routing->routes.push_back(std::move(route));
    }
  }

  std::optional<AlertReceiverConfig> ReadAlert(const YamlValue& value, std::size_t index) {
    MapReader m(r_, value,
                {"type", "name", "url", "url_file", "url_env", "routing_key_file",
                 "routing_key_env", "command", "timeout", "min_severity", "repeat_interval"});
    if (!m.ok()) return std::nullopt;
    const std::size_t before = r_.problem_count();
    AlertReceiverConfig a;
    auto tv = m.Required("type");
    if (!tv) return std::nullopt;
    auto type = r_.Choice<AlertReceiverType>(*tv, kReceiverTypes);
    if (!type) return std::nullopt;
    a.type = *type;
    const std::string type_name = AlertReceiverTypeName(a.type);
    const std::string context = "type " + type_name;
    if (auto v = m.Get("name")) {
      if (auto n = ResourceName(*v, "receiver", &alert_names_)) a.name = *n;
    } else {
      a.name = type_name + "-" + std::to_string(index);
      UniqueName(value, a.name, "receiver", &alert_names_);
    }
    switch (a.type) {
      case AlertReceiverType::kWebhook:
      case AlertReceiverType::kAlertmanager:
      case AlertReceiverType::kSlack:
        NotApplicable(m, {"routing_key_file", "routing_key_env", "command"}, context);
        a.url = ReadReceiverUrl(m, a.type == AlertReceiverType::kSlack);
        break;
      case AlertReceiverType::kPagerDuty:
        NotApplicable(m, {"command"}, context);
        a.routing_key = ReadSecret(m, "routing_key", true, "the PagerDuty routing key");
        // The Events API URL may be overridden (a proxy, a test receiver); default PagerDuty's.
        if (m.Has("url") || m.Has("url_file") || m.Has("url_env")) {
          a.url = ReadReceiverUrl(m, false);
        }
        break;
      case AlertReceiverType::kCommand:
        NotApplicable(m, {"url", "url_file", "url_env", "routing_key_file", "routing_key_env"},
                      context);
        if (auto v = m.Required("command")) {
          if (auto argv = r_.StringList(*v, /*allow_empty_items=*/true)) {
            if (argv->empty()) {
              r_.Report(*v,
                        "expected the command's argv, [\"/path/to/program\", args...]; found "
                        "an empty list");
            } else if (argv->front().empty() || argv->front().front() != '/') {
              r_.Report(*v, "expected the program as an absolute path in command[0]; found '" +
                                QuoteForMessage(argv->front()) + "'");
            } else {
              a.command = std::move(*argv);
            }
          }
        }
        break;
    }
    Optional(m, "timeout", &a.timeout, DurationReader(kPositive));
    Optional(m, "min_severity", &a.min_severity,
             [this](const YamlValue& v) { return r_.SeverityValue(v); });
    Optional(m, "repeat_interval", &a.repeat_interval, DurationReader(kPositive));
    if (r_.problem_count() != before) return std::nullopt;
    return a;
  }

  // The URL of a webhook, Alertmanager or Slack receiver, from `url`, `url_file` or `url_env`.
  // Never quoted in messages: such URLs can carry tokens. Slack URLs always do, so they must
  // come from a file or the environment.
  std::optional<Secret> ReadReceiverUrl(const MapReader& m, bool slack) {
    if (slack) {
      if (auto v = m.Get("url")) {
        r_.Report(*v,
                  "a Slack webhook URL carries a token; put it in a file (url_file) or an "
                  "environment variable (url_env) instead");
        return std::nullopt;
      }
    }
    auto key = OneOf(m,
                     slack ? std::vector<std::string>{"url_file", "url_env"}
                           : std::vector<std::string>{"url", "url_file", "url_env"},
                     true, "the receiver's URL");
    if (!key) return std::nullopt;
    const YamlValue v = *m.Get(*key);
    std::optional<Secret> url;
    if (*key == "url") {
      if (auto s = r_.String(v)) url = Secret(*s, "inline");
    } else {
      url = *key == "url_file" ? r_.SecretFromFile(v) : r_.SecretFromEnv(v);
    }
    if (!url) return std::nullopt;
    if (auto parsed = ParseHttpUrl(url->Reveal()); !parsed) {
      const std::string where = *key == "url" ? std::string("the value") : url->origin();
      r_.Report(v, "expected an http(s) URL in " + where +
                       " (not shown: it may hold a token): " + parsed.error().message);
      return std::nullopt;
    }
    return url;
  }

  // Compiles every rule once the whole file is read: its condition may use the custom signals
  // of tsdb.signals and of any job. An error points at its column inside `when`.
  void CompileRules(const Config& config, const std::set<std::string>& custom) {
    for (const RuleConfig& rule : config.rules) {
      auto site = rule_sites_.find(rule.name);
      if (site == rule_sites_.end()) continue;
      auto compiled = CompileRule(ToRuleSpec(rule, config.jobs), custom);
      if (compiled) continue;
      const RuleError& e = compiled.error();
      std::string message = "rule " + rule.name + ": " + e.message;
      if (e.field == "when") {
        r_.Report(rule.when.LocationOf(e.offset), site->second.path + ".when", std::move(message));
      } else {
        r_.Report(ConfigReader::LocationOf(site->second), site->second.path + "." + e.field,
                  std::move(message));
      }
    }
  }

  void CheckReferences() {
    // A reference to a cluster that was defined but had problems is not reported again.
    for (const Reference& ref : cluster_refs_) {
      if (cluster_names_.count(ref.name) != 0) continue;
      std::string message = "no cluster named '" + QuoteForMessage(ref.name) + "'";
      std::vector<std::string> all;
      for (const auto& [n, mark] : cluster_names_) all.push_back(n);
      if (auto s = ClosestMatch(ref.name, all)) {
        message += "; did you mean '" + *s + "'?";
      } else if (!all.empty()) {
        message += "; configured clusters: " + JoinNames(all);
      }
      r_.Report(ref.where, std::move(message));
    }
    std::vector<std::string> rules;
    for (const auto& [n, mark] : rule_names_) rules.push_back(n);
    for (const Reference& ref : rule_refs_) {
      if (rule_names_.count(ref.name) != 0) continue;
      std::string message = "no rule named '" + QuoteForMessage(ref.name) + "'";
      if (auto s = ClosestMatch(ref.name, rules)) {
        message += "; did you mean '" + *s + "'?";
      } else if (!rules_read_ || rules.empty()) {
        message += "; no rules are configured";
      }
      r_.Report(ConfigReader::ToLocation(ref.where.key_mark), ref.where.path, std::move(message));
    }
  }

  ConfigReader& r_;
  std::map<std::string, YAML::Mark> cluster_names_;
  std::map<std::string, YAML::Mark> job_names_;
  std::map<std::string, YAML::Mark> rule_names_;
  std::map<std::string, YAML::Mark> alert_names_;
  bool rules_read_ = false;
  std::vector<Reference> cluster_refs_;
  std::vector<Reference> rule_refs_;
  std::map<std::string, YamlValue> rule_sites_;  // rule name -> its mapping, for CompileRules
};

std::string CountOf(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

SourceLocation SourceText::LocationOf(std::size_t offset) const {
  if (!exact || offset > text.size()) return location;
  return {location.line, location.column + static_cast<int>(offset)};
}

std::string HostPort::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Url::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = scheme + "://" + (v6 ? "[" + host + "]" : host);
  if (explicit_port) out += ":" + std::to_string(port);
  return out + path;
}

const char* RuleActionName(RuleAction action) {
  for (const auto& [name, a] : kRuleActions) {
    if (a == action) return name.c_str();
  }
  return "alert";
}

const char* AlertReceiverTypeName(AlertReceiverType type) {
  for (const auto& [name, t] : kReceiverTypes) {
    if (t == type) return name.c_str();
  }
  return "webhook";
}

const ClusterConfig* Config::FindCluster(std::string_view name) const {
  for (const auto& c : clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const JobConfig* Config::FindJob(std::string_view name) const {
  for (const auto& j : jobs) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

const RuleConfig* Config::FindRule(std::string_view name) const {
  for (const auto& r : rules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string FormatProblem(const ConfigProblem& p) {
  std::string out = p.file;
  if (p.line > 0) out += ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
  out += ": ";
  if (!p.key.empty()) out += p.key + ": ";
  return out + p.message;
}

ConfigEnvironment SystemConfigEnvironment() {
  ConfigEnvironment env;
  env.get_env = [](const std::string& name) -> std::optional<std::string> {
    // The agent never modifies its environment, so reading it from any thread is safe.
    const char* v = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) == 0) env.hostname = host;
  return env;
}

ConfigLoadResult LoadConfigFromString(std::string_view text, const std::string& display_name,
                                      const std::string& base_dir, const ConfigEnvironment& env) {
  ConfigReader reader(display_name, base_dir, text, env);
  ConfigLoadResult result;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (docs.size() > 1) {
      reader.Report(ConfigReader::ToLocation(docs[1].Mark()), "",
                    "the file holds " + std::to_string(docs.size()) +
                        " YAML documents (separated by ---); expected one");
    }
    if (docs.empty() || docs[0].IsNull()) {
      reader.Report({1, 1}, "",
                    "the file has no settings; expected a mapping with at least region and "
                    "clusters");
    } else {
      SchemaLoader loader(reader);
      Config config = loader.Load(YamlValue{docs[0], "", docs[0].Mark()});
      config.source = display_name;
      if (reader.problem_count() == 0) result.config = std::move(config);
    }
  } catch (const YAML::Exception& e) {
    // yaml-cpp quotes the offending character raw, which may be any byte.
    reader.Report(ConfigReader::ToLocation(e.mark), "",
                  "YAML syntax error: " + QuoteForMessage(e.msg, 200));
  } catch (const std::exception& e) {
    // Not expected: the readers check types before converting. Reported, never thrown.
    reader.Report({}, "", std::string("could not read the configuration: ") + e.what());
  }
  result.problems = reader.TakeProblems();
  return result;
}

RulesLoadResult LoadRulesFromString(std::string_view text, const std::string& display_name,
                                    const ConfigEnvironment& env,
                                    const std::set<std::string>& custom_signals) {
  ConfigReader reader(display_name, "", text, env);
  RulesLoadResult result;
  try {
    YAML::Node doc = YAML::Load(std::string(text));
    if (!doc.IsDefined() || doc.IsNull()) {
      reader.Report({1, 1}, "", "the file has no rules; expected a mapping with a `rules` list");
    } else {
      SchemaLoader loader(reader);
      std::vector<RuleConfig> rules = loader.LoadRulesOnly(YamlValue{doc, "", doc.Mark()},
                                                           custom_signals);
      if (reader.problem_count() == 0) result.rules = std::move(rules);
    }
  } catch (const YAML::Exception& e) {
    reader.Report(ConfigReader::ToLocation(e.mark), "",
                  "YAML syntax error: " + QuoteForMessage(e.msg, 200));
  } catch (const std::exception& e) {
    reader.Report({}, "", std::string("could not read the rules: ") + e.what());
  }
  result.problems = reader.TakeProblems();
  return result;
}

RulesLoadResult LoadRulesFile(const std::string& path, const ConfigEnvironment& env,
                              const std::set<std::string>& custom_signals) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  if (!in || std::filesystem::is_directory(path, ec)) {
    return {std::nullopt, {{path, 0, 0, "", "cannot read the rules file"}}};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return LoadRulesFromString(text.str(), path, env, custom_signals);
}

std::string_view DefaultRulesText() { return kDefaultRulesYaml; }

ConfigLoadResult LoadConfig(const std::string& path, const ConfigEnvironment& env) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return {std::nullopt, {{path, 0, 0, "", "cannot read the config file: it is a directory"}}};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return {std::nullopt,
            {{path, 0, 0, "",
              "cannot read the config file: " +
                  std::error_code(err, std::generic_category()).message()}}};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return {std::nullopt, {{path, 0, 0, "", "cannot read the config file: read error"}}};
  }
  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  return LoadConfigFromString(text.str(), path, base_dir, env);
}

std::set<std::string> CustomSignalNames(const Config& config) {
  std::set<std::string> names;
  if (config.tsdb) {
    for (const auto& [name, query] : config.tsdb->signals) names.insert(name);
  }
  for (const JobConfig& job : config.jobs) {
    for (const auto& [name, query] : job.signals) names.insert(name);
  }
  return names;
}

RuleSpec ToRuleSpec(const RuleConfig& rule, const std::vector<JobConfig>& jobs) {
  RuleSpec spec;
  spec.name = rule.name;
  spec.when = rule.when.text;
  spec.for_duration = rule.for_duration;
  spec.keep_firing_for = rule.keep_firing_for;
  spec.severity = rule.severity;
  switch (rule.action) {
    case RuleAction::kAlert: spec.action = Action::kAlert; break;
    case RuleAction::kRecover: spec.action = Action::kRecover; break;
    case RuleAction::kSavepoint: spec.action = Action::kSavepoint; break;
    case RuleAction::kFailover: spec.action = Action::kFailover; break;
    case RuleAction::kNone: spec.action = Action::kNone; break;
  }
  spec.labels = rule.labels;
  spec.annotations = rule.annotations;
  spec.jobs = rule.jobs;
  for (const JobConfig& job : jobs) {
    auto o = job.rules.find(rule.name);
    if (o != job.rules.end() && !o->second.enabled) spec.disabled_for.insert(job.name);
  }
  return spec;
}

std::string SummarizeConfig(const Config& config) {
  return "region " + config.region + ", " + CountOf(config.clusters.size(), "cluster", "clusters") +
         ", " + CountOf(config.jobs.size(), "job", "jobs") + ", " +
         CountOf(config.rules.size(), "rule", "rules") +
         (config.default_rules ? " (the built-in defaults)" : "") + ", " +
         CountOf(config.alerts.size(), "alert receiver", "alert receivers");
}

}  // namespace flinkguard
