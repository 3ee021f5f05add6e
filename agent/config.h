#pragma once

// The agent's configuration: typed structs for every section of flinkguard.yaml, and the loader
// that fills them, validating everything before anything starts. The README's "Configuration
// reference" documents each key, its default and its constraints; keep the two in step.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/logging.h"
#include "agent/secret.h"
#include "rules/duration.h"
#include "rules/rule_engine.h"
#include "rules/severity.h"

namespace flinkguard {

// A place in the config file, 1-based. line == 0 means "no position" (e.g. the file is missing).
struct SourceLocation {
  int line = 0;
  int column = 0;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

// A piece of text from the config that a later parser reads (a rule's `when` expression, a
// PromQL query), with where it sits in the file so that parser can report positions in file
// terms.
struct SourceText {
  std::string text;
  // Where the value starts in the file: its first character when `exact` is true, otherwise
  // the start of the YAML scalar (its quote or block indicator).
  SourceLocation location;
  // True when the file holds `text` verbatim on one line starting at `location` (a plain or
  // quoted scalar without escapes or folding), so offset i of `text` is column
  // location.column + i of that line.
  bool exact = false;

  // The file position of byte `offset` of `text`: exact when `exact` is true, otherwise the
  // start of the value (the best that can be said for folded or escaped text).
  SourceLocation LocationOf(std::size_t offset) const;
};

// host:port, as in `agent.listen` and the ZooKeeper connect string.
struct HostPort {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
  // "host:port", with brackets around an IPv6 host.
  std::string ToString() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// An http or https URL without user info (credentials go in `auth`, never in the URL).
struct Url {
  std::string scheme;      // "http" or "https"
  std::string host;        // IPv6 addresses without brackets
  std::uint16_t port = 0;  // the explicit port, or 80/443 from the scheme
  bool explicit_port = false;
  std::string path;  // "" or starting with '/', no trailing '/'; may carry a query
  // The normalised URL: scheme://host[:port]path.
  std::string ToString() const;
};

// `agent:` — how this agent runs.
struct AgentConfig {
  Duration poll_interval =
      std::chrono::seconds{10};        // one observe-decide-act cycle per interval; >= 1s
  HostPort listen{"127.0.0.1", 9310};  // admin HTTP endpoint (/metrics, /healthz, API)
  std::string state_dir = "/var/lib/flinkguard";  // absolute; holds the SQLite history
  bool dry_run = false;  // decide and alert, but take no action on any cluster
  LogLevel log_level = LogLevel::kInfo;
  std::string instance_id;  // defaults to the host name; sent to Flink in a request header
  int max_concurrent_recoveries = 5;  // cap on jobs in recovery at once (blast radius); >= 1
  // The bearer token of the admin API's mutating endpoints, from `admin_token_file`. Absent:
  // those endpoints are off.
  std::optional<Secret> admin_token;
};

// `ha:` — leader election through ZooKeeper. Absent: a single instance that always leads.
struct HaConfig {
  std::vector<HostPort> zookeeper;  // the ensemble, in the order written
  std::string connect_string;       // the same as "h1:p1,h2:p2", for zookeeper_init
  std::string root;                 // the agent's znode subtree, e.g. /flinkguard/us-east-1
  Duration session_timeout = std::chrono::seconds{10};
  std::optional<Secret> digest_auth;  // "user:password" from `auth_file`; absent = no auth
};

// `tsdb:` — the Prometheus HTTP API that holds the jobs' signals.
struct TsdbConfig {
  Url prometheus;
  Duration timeout = std::chrono::seconds{5};
  std::string job_label = "job_name";  // the label that carries the Flink job name
  // Signal name -> PromQL returning that signal for every job, one series per job told apart by
  // `job_label` (e.g. sum by (job_name) (...)): one query per signal per cycle, not one per job.
  // A job's own `signals` entry of the same name replaces it for that job.
  std::map<std::string, SourceText> signals;
};

struct TlsConfig {
  std::string ca_file;    // absolute path; "" = the system trust store
  std::string cert_file;  // client certificate (absolute path); set together with key_file
  std::string key_file;
  bool verify = true;  // verify the server's certificate and host name
};

enum class ClusterAuthType { kBasic, kBearer };

struct ClusterAuth {
  ClusterAuthType type = ClusterAuthType::kBasic;
  std::string username;  // kBasic only
  Secret password;       // kBasic only
  Secret token;          // kBearer only
};

// One Flink cluster (a session cluster's JobManager REST endpoint).
struct ClusterConfig {
  std::string name;  // [a-z0-9_-]+, unique
  Url url;
  std::string az;                                      // availability zone, "" when not given
  Duration timeout = std::chrono::seconds{5};          // whole-request timeout
  Duration connect_timeout = std::chrono::seconds{2};  // <= timeout
  std::optional<TlsConfig> tls;                        // only with an https URL
  std::optional<ClusterAuth> auth;
  // The observer's cadence for this cluster; unset = the agent-wide value (ObserverOptions):
  // the cluster's `metrics.fetcher.update-interval` (10 s by default in Flink) and how many
  // cycles an unchanged job's details (vertices, throughput, lag, backpressure) may go unread.
  std::optional<Duration> metric_fetch_interval;  // > 0
  std::optional<int> detail_every;                // 1..100
};

// `jobs[].recovery:` — the job's recovery policy.
struct RecoveryPolicyConfig {
  bool allow_fresh_state = false;         // may restart from empty state as a last resort
  bool allow_non_restored_state = false;  // submit with allowNonRestoredState
  int max_recoveries = 3;                 // per `window`, then give up and page; >= 1
  Duration window = std::chrono::hours{1};
  std::optional<Duration> max_checkpoint_age;       // skip restore points older than this
  Duration cooldown = std::chrono::minutes{1};      // no new recovery this soon after the last one
  Duration stable_after = std::chrono::minutes{5};  // a recovery "stuck" once the job ran this long
  Duration verify_timeout =
      std::chrono::minutes{5};       // deadline for all tasks RUNNING after a submit
  bool verify_checkpoint = false;    // a recovery also waits for one completed checkpoint
  bool stop_with_savepoint = false;  // stop (not cancel) a live broken instance
  // Several live instances of the job seen while observing: `alert` only (the default), or
  // `stop` every instance but the newest, each with a savepoint.
  enum class OnDuplicate { kAlert, kStop };
  OnDuplicate on_duplicate = OnDuplicate::kAlert;
};

// `jobs[].savepoints:` — periodic savepoints and how many the restore-point catalog keeps.
struct SavepointsConfig {
  std::optional<Duration> interval;  // take one this often while the job runs; absent = never
  int keep = 10;                     // savepoints of the job kept in the catalog, newest first
  Duration max_age = std::chrono::hours{24 * 7};  // older ones leave the catalog (the newest
                                                  // usable one always stays)
  Duration timeout = std::chrono::minutes{10};    // a savepoint not done by then counts failed
};

// `jobs[].rules.<name>:` — a per-job override of a configured rule.
struct JobRuleOverride {
  bool enabled = true;
};

// One catalog job: a job flinkguard may (re)submit.
struct JobConfig {
  std::string name;                   // the Flink job name; unique
  std::string cluster;                // a configured cluster
  std::vector<std::string> failover;  // configured clusters, not `cluster`, in order of preference
  std::string jar;                    // absolute path of the job's jar
  std::string entry_class;            // "" = the jar manifest's
  std::vector<std::string> args;
  std::optional<int> parallelism;  // absent = the cluster default
  std::string savepoint_dir;       // URI or absolute path; "" = the cluster's state.savepoints.dir
  std::map<std::string, std::string> labels;
  std::map<std::string, SourceText> signals;  // signal name -> PromQL
  RecoveryPolicyConfig recovery;
  SavepointsConfig savepoints;
  std::map<std::string, JobRuleOverride> rules;  // rule name -> override
};

// What a rule does when it fires.
enum class RuleAction { kAlert, kRecover, kSavepoint, kFailover, kNone };

// "alert", "recover", "savepoint", "failover" or "none".
const char* RuleActionName(RuleAction action);

// One row of the rule table.
struct RuleConfig {
  std::string name;             // [a-z0-9_-]+, unique
  SourceText when;              // the condition, parsed later by the rule engine
  Duration for_duration{0};     // `for:` — how long `when` must hold before firing
  Duration keep_firing_for{0};  // how long it keeps firing after `when` stops holding
  Severity severity = Severity::kWarning;
  RuleAction action = RuleAction::kAlert;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> jobs;  // job name globs (* and ?); empty = every job
};

enum class AlertReceiverType { kWebhook, kAlertmanager, kSlack, kPagerDuty, kCommand };

// "webhook", "alertmanager", "slack", "pagerduty" or "command".
const char* AlertReceiverTypeName(AlertReceiverType type);

// One alert receiver.
struct AlertReceiverConfig {
  AlertReceiverType type = AlertReceiverType::kWebhook;
  std::string name;  // unique; defaults to "<type>-<index in alerts>"
  // webhook, alertmanager, slack: an http(s) URL (checked at load). A Secret because it can carry
  // a token; its origin() is "inline" when written in the file.
  std::optional<Secret> url;
  std::optional<Secret> routing_key;  // pagerduty
  std::vector<std::string> command;   // command: argv, command[0] an absolute path
  Duration timeout = std::chrono::seconds{10};
  Severity min_severity = Severity::kInfo;
  // Re-send a firing alert this often. Absent: alerts.repeat_interval, except Alertmanager
  // receivers, which default to 1m (Alertmanager resolves alerts not re-sent in 5m).
  std::optional<Duration> repeat_interval;
};

// `alerts.routes[]`: which receivers get which notifications. Every condition given must hold.
struct AlertRouteConfig {
  std::vector<std::string> receivers;  // receiver names (checked at load)
  std::optional<Severity> min_severity;
  std::vector<std::string> rules;            // alert name globs (rule names, flinkguard_*)
  std::vector<std::string> jobs;             // job name globs
  std::map<std::string, std::string> match;  // labels that must have these values
};

// The `alerts:` mapping besides its receivers. When `alerts` is a plain list of receivers, these
// keep their defaults.
struct AlertRoutingConfig {
  std::vector<AlertRouteConfig> routes;  // empty: every receiver gets everything >= min_severity
  Duration group_interval = std::chrono::minutes{5};  // flapping alerts notify at most this often
  Duration repeat_interval = std::chrono::hours{4};   // default re-send of firing alerts
};

// `failover:` — moving the jobs of a cluster that stays down to their backup clusters.
struct FailoverConfig {
  // A cluster is down after this long without an answer AND `down_after_polls` failed polls in
  // a row (one blip or one slow poll is not an outage).
  Duration down_after = std::chrono::minutes{1};
  int down_after_polls = 3;
  int max_concurrent = 5;  // failovers at once, region-wide (blast radius)
  // Failback: manual (`flinkguard move`), or automatic once the home cluster has answered every
  // poll for `failback_after` and the job has lived on its backup as long.
  bool failback_auto = false;
  Duration failback_after = std::chrono::minutes{30};
  // URI schemes every cluster can read. A restore point elsewhere (file: on a cluster's own
  // disk) is not used to start a job on another cluster; add "file" when it is a shared mount.
  std::vector<std::string> shared_schemes = {"s3",   "s3a",   "s3n",  "s3p",   "hdfs",
                                             "viewfs", "gs",  "oss",  "abfs",  "abfss",
                                             "wasb", "wasbs", "cos",  "obs"};
};

// A loaded, fully validated configuration.
struct Config {
  std::string source;  // the file it came from, as given to the loader
  std::string region;
  AgentConfig agent;
  std::optional<HaConfig> ha;
  std::optional<TsdbConfig> tsdb;
  FailoverConfig failover;
  std::vector<ClusterConfig> clusters;  // at least one
  std::vector<JobConfig> jobs;
  std::vector<RuleConfig> rules;
  // True when the file has no `rules` key and `rules` holds the built-in default table
  // (packaging/rules/default-rules.yaml, compiled into the binary).
  bool default_rules = false;
  std::vector<AlertReceiverConfig> alerts;
  AlertRoutingConfig alert_routing;

  // The cluster, job or rule with that name, or nullptr. Pointers are valid while the Config
  // lives and is not modified.
  const ClusterConfig* FindCluster(std::string_view name) const;
  const JobConfig* FindJob(std::string_view name) const;
  const RuleConfig* FindRule(std::string_view name) const;
};

// One thing wrong with a config file.
struct ConfigProblem {
  std::string file;     // as given to the loader
  int line = 0;         // 1-based; 0 when the problem has no position (e.g. unreadable file)
  int column = 0;       // 1-based
  std::string key;      // the key path, e.g. "clusters[1].url"; "" for the file as a whole
  std::string message;  // what was expected and what was found; never a secret's content
};

// "file:line:column: key: message", leaving out the parts that are unknown or empty.
std::string FormatProblem(const ConfigProblem& problem);

// The outcome of loading: a config when there is no problem at all, otherwise every problem
// found, ordered by position.
struct ConfigLoadResult {
  std::optional<Config> config;
  std::vector<ConfigProblem> problems;
  bool ok() const { return config.has_value(); }
};

// What the loader asks of the machine besides files: environment variables (for `*_env` keys)
// and the host name (the default `agent.instance_id`). Tests pass fakes.
struct ConfigEnvironment {
  // Value of an environment variable, or nullopt when it is unset.
  std::function<std::optional<std::string>(const std::string& name)> get_env;
  std::string hostname;
};

// The process environment and gethostname().
ConfigEnvironment SystemConfigEnvironment();

// Reads and validates the YAML file at `path`. Relative paths inside it (secret files, TLS
// files) are resolved against the file's directory. `*_file` secrets and TLS files are read or
// checked now. Never throws; every problem is in the result.
ConfigLoadResult LoadConfig(const std::string& path, const ConfigEnvironment& env);

// The same for YAML text held in memory. `display_name` names it in problems; relative paths
// are resolved against `base_dir` ("" = the current directory).
ConfigLoadResult LoadConfigFromString(std::string_view text, const std::string& display_name,
                                      const std::string& base_dir, const ConfigEnvironment& env);

// The outcome of loading a rules file (a YAML mapping whose only key is `rules`, in the format of
// the config's `rules:`): the rules when there is no problem, otherwise every problem, with the
// file, line and column (a condition's error points at its column and names the rule).
struct RulesLoadResult {
  std::optional<std::vector<RuleConfig>> rules;
  std::vector<ConfigProblem> problems;
  bool ok() const { return rules.has_value(); }
};

// Reads and compiles a rules document held in memory; `display_name` names it in problems.
// Conditions may read the built-in signals and `custom_signals`. Never throws.
RulesLoadResult LoadRulesFromString(std::string_view text, const std::string& display_name,
                                    const ConfigEnvironment& env,
                                    const std::set<std::string>& custom_signals);
// The same for a file.
RulesLoadResult LoadRulesFile(const std::string& path, const ConfigEnvironment& env,
                              const std::set<std::string>& custom_signals);

// The built-in default rule table's YAML text (packaging/rules/default-rules.yaml).
std::string_view DefaultRulesText();

// "region us-east-1, 2 clusters, 3 jobs, 4 rules, 2 alert receivers".
std::string SummarizeConfig(const Config& config);

// The custom TSDB signal names rules may read: the keys of tsdb.signals and of every
// jobs[].signals.
std::set<std::string> CustomSignalNames(const Config& config);

// A rule as the rule engine takes it: its action mapped, and the jobs whose
// `rules.<name>.enabled` is false as its disabled_for. The loader has already compiled it with
// CompileRule and CustomSignalNames, so compiling it again succeeds.
RuleSpec ToRuleSpec(const RuleConfig& rule, const std::vector<JobConfig>& jobs);

// The effective configuration (defaults filled in) as YAML, for people to read. Secrets are
// shown as "***" with their origin in a comment; their content never appears.
std::string FormatConfig(const Config& config);

}  // namespace flinkguard
