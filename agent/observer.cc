#include "agent/observer.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <functional>
#include <set>
#include <string_view>

namespace flinkguard {
namespace {

constexpr int kMaxRetries = 2;
constexpr std::chrono::milliseconds kRetryBackoff{250};

constexpr const char* kJobMetrics = kObservedJobMetrics;

// The id of a checkpoint from its path when the path is a checkpoint directory of `job_id`
// (`<checkpoint dir>/<job id>/chk-<id>`, the layout of every Flink checkpoint storage);
// std::nullopt for savepoints (`savepoint-<...>`) and anything else.
std::optional<std::int64_t> CheckpointIdOfPath(std::string_view path, std::string_view job_id) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view last = path.substr(slash + 1);
  std::string_view parent = path.substr(0, slash);
  parent = parent.substr(parent.rfind('/') == std::string_view::npos ? 0 : parent.rfind('/') + 1);
  if (parent != job_id || last.size() < 5 || last.size() > 22 || last.substr(0, 4) != "chk-") {
    return std::nullopt;
  }
  std::int64_t id = 0;
  for (const char ch : last.substr(4)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    id = id * 10 + (ch - '0');
  }
  return id;
}

std::int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

RestorePoint ToRestorePoint(const CheckpointEntry& e) {
  RestorePoint p;
  p.kind = e.is_savepoint ? RestorePoint::Kind::kSavepoint : RestorePoint::Kind::kCheckpoint;
  p.id = e.id;
  p.path = e.external_path;
  p.trigger_ms = e.trigger_timestamp;
  if (e.latest_ack_timestamp) {
    p.completed_ms = *e.latest_ack_timestamp;
  } else if (e.end_to_end_duration) {
    p.completed_ms = e.trigger_timestamp + *e.end_to_end_duration;
  }
  p.discarded = e.discarded;
  p.addressable = e.ExternallyAddressable();
  return p;
}

// A source vertex without a lag metric in its list is listed again after this many cycles:
// Flink registers the FLIP-33 metrics only once the reader has splits assigned.
constexpr std::int64_t kLagRelistCycles = 30;

// The id of a source-lag metric in a source vertex's aggregated subtask metric list, "" when
// there is none: FLIP-33's `<operator>.pendingRecords` (records not fetched yet, summed over the
// subtasks it is the job's backlog), else the Kafka client's `records-lag-max` as the legacy
// FlinkKafkaConsumer (`<operator>.KafkaConsumer.records-lag-max`) or KafkaSource
// (`...KafkaSourceReader.KafkaConsumer.records-lag-max`) forward it — the largest partition lag
// per subtask, so its sum is a lower bound of the backlog.
std::string LagMetricId(const std::vector<MetricEntry>& listed) {
  auto ends_with = [](std::string_view id, std::string_view suffix) {
    return id.size() >= suffix.size() && id.substr(id.size() - suffix.size()) == suffix &&
           (id.size() == suffix.size() || id[id.size() - suffix.size() - 1] == '.');
  };
  for (const MetricEntry& e : listed) {
    if (ends_with(e.id, "pendingRecords")) return e.id;
  }
  for (const MetricEntry& e : listed) {
    if (ends_with(e.id, "KafkaConsumer.records-lag-max")) return e.id;
  }
  return "";
}

// `text` percent-encoded for a query value (operator names in metric ids may hold '=', '&', ...).
std::string QueryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '.' || ch == '_' || ch == '-' || ch == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

bool IsSourceVertex(const VertexInfo& v) {
  // Flink names source operators "Source: ..." (DataStream API and SQL alike); a chained
  // source vertex keeps that prefix.
  return v.name.rfind("Source", 0) == 0;
}

}  // namespace

std::string PrometheusSafeName(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == ':' || c == '_')) c = '_';
  }
  return out;
}

// What the observer remembers of one job instance between cycles.
struct Observer::JobState {
  JobSnapshot snap;
  std::int64_t last_modification = -1;
  std::int64_t last_detail_cycle = -1;
  std::int64_t detail_phase = 0;  // which cycle (mod detail_every) reads details when unchanged
  bool terminal_captured = false;
  bool settings_known = false;
  bool checkpoints_read = false;  // /checkpoints answered at least once
  // counts.completed of the last /checkpoints answer (what last_checkpoint is the newest of),
  // and numberOfFailedCheckpoints from the metrics of that cycle.
  std::optional<std::int64_t> read_completed;
  std::optional<std::int64_t> read_failed;
  // numberOfCompletedCheckpoints is above read_completed: a newer checkpoint (or savepoint)
  // completed since last_checkpoint was read.
  bool newer_checkpoint = false;
  // While newer_checkpoint: the newest one completed after this moment (agent wall ms), when known.
  std::optional<std::int64_t> newer_after_ms;
  // last_checkpoint came from the checkpoint gauges without a completion time (before 2.0):
  // it completed after this moment (agent wall ms), which bounds its age.
  std::optional<std::int64_t> completed_after_ms;
  // The last two successful metric reads (agent cycle times) and the completed counter then.
  std::optional<std::int64_t> sample_ms;
  std::optional<std::int64_t> prev_sample_ms;
  std::optional<std::int64_t> sample_completed;
  std::optional<std::int64_t> restarts_for_exception;  // numRestarts when the exception was read
  bool exception_due = false;  // the last read of the root cause failed: read it again
  std::optional<std::int64_t> running_since_ms;  // timestamps.RUNNING (server clock)
  std::vector<VertexInfo> vertices;
  // For backpressure: accumulated backpressured ms per vertex at the previous details, with the
  // server time of that sample.
  std::map<std::string, std::int64_t> bp_accumulated;
  std::int64_t bp_sample_server_ms = 0;
  // Per source vertex id, the id of its lag metric (LagMetricId; "" = it lists none), from its
  // metric list read in cycle `lag_listed_cycle`. A vertex not in the map is listed first.
  std::map<std::string, std::string> lag_ids;
  std::int64_t lag_listed_cycle = -1;
  bool seen_this_cycle = false;
};

struct Observer::ClusterState {
  FlinkRestClient client;
  std::string az;
  std::string version;
  std::int64_t version_read_ms = 0;      // when /config last told the version
  std::int64_t version_seen_ms = 0;      // when /config or /overview last told it
  Observed<ClusterCapacity> capacity;    // kept across cycles: stale when /overview fails
  std::string overview_error;            // this cycle's /overview failure, "" when it answered
  int consecutive_failures = 0;
  std::int64_t last_ok_ms = 0;
  std::optional<std::int64_t> skew_ms;  // server clock - agent clock, from job details' `now`
  std::map<std::string, std::unique_ptr<JobState>> jobs;  // by job id
  std::int64_t detail_every = 1;               // >= 1
  std::int64_t metric_fetch_interval_ms = 0;

  ClusterState(ObservedCluster c, const ObserverOptions& options)
      : client(std::move(c.endpoint)),
        az(std::move(c.az)),
        detail_every(std::max(1, c.detail_every.value_or(options.detail_every))),
        metric_fetch_interval_ms(
            c.metric_fetch_interval_ms.value_or(options.metric_fetch_interval_ms)) {}
};

// One RunCycle: the batch, its callbacks, and the observation they fill.
class Observer::Cycle {
 public:
  Cycle(Observer& o, std::int64_t now_ms) : o_(o), now_ms_(now_ms) { obs_.at_ms = now_ms; }

  Observation Run() {
    const std::int64_t start_us = SteadyMicros();
    clusters_out_.resize(o_.clusters_.size());
    for (std::size_t i = 0; i < o_.clusters_.size(); ++i) StartCluster(i);
    StartSignals();
    o_.transport_.Run(batch_);
    for (std::size_t i = 0; i < o_.clusters_.size(); ++i) FinishCluster(i);
    ApplySignals();
    // Copies out last, so the kept state and the observation say the same.
    for (auto& c : o_.clusters_) {
      for (auto& [id, js] : c->jobs) obs_.jobs.push_back(js->snap);
    }
    obs_.duration_us = SteadyMicros() - start_us;
    return std::move(obs_);
  }

 private:
  using Callback = RequestBatch::Callback;

  // A GET for this cycle. A 503 (Flink answers it while a JobManager leader election is under
  // way) is retried twice within the cycle, after 250 ms and 500 ms, as long as that stays
  // within the cluster's request timeout; other failures wait for the next cycle, so a dead or
  // slow cluster never costs more than its own timeout.
  void Get(ClusterState& c, const std::string& path, Callback done, int attempt = 0) {
    ++obs_.requests;
    HttpRequest req = c.client.Request("GET", path);
    req.delay = attempt == 0 ? std::chrono::milliseconds(0) : kRetryBackoff * (1 << (attempt - 1));
    batch_.Add(std::move(req),
               [this, &c, path, attempt, done = std::move(done)](Result<HttpResponse> r) mutable {
                 Sample(c.client.endpoint().cluster, EndpointLabel(path), r);
                 const auto next_delay = kRetryBackoff * (1 << attempt);
                 if (r && r->status == 503 && attempt < kMaxRetries &&
                     next_delay < c.client.endpoint().timeout) {
                   ++obs_.retries;
                   Get(c, path, std::move(done), attempt + 1);
                   return;
                 }
                 done(std::move(r));
               });
  }

  void Problem(const std::string& line) { obs_.problems.push_back(line); }

  void Sample(const std::string& cluster, std::string endpoint, const Result<HttpResponse>& r) {
    RequestSample s;
    s.cluster = cluster;
    s.endpoint = std::move(endpoint);
    if (r) s.seconds = std::chrono::duration<double>(r->elapsed).count();
    s.failed = !r || (r->status >= 400 && r->status != 404);
    o_.last_requests_.push_back(std::move(s));
  }

  // The path without its query, with every segment that is an id (32 hex digits: job and
  // vertex ids, trigger ids) or a number replaced by "{id}", so the label set stays bounded.
  static std::string EndpointLabel(std::string_view path) {
    path = path.substr(0, path.find('?'));
    std::string out;
    std::size_t i = 0;
    while (i < path.size()) {
      const std::size_t next = path.find('/', i + 1);
      const std::string_view seg =
          path.substr(i + 1, (next == std::string_view::npos ? path.size() : next) - i - 1);
      const bool id = seg.size() >= 8 && std::all_of(seg.begin(), seg.end(), [](char ch) {
                        return std::isxdigit(static_cast<unsigned char>(ch)) != 0 || ch == '-';
                      });
      const bool number = !seg.empty() && std::all_of(seg.begin(), seg.end(), [](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch)) != 0;
      });
      out += '/';
      out += (id || number) ? std::string_view("{id}") : seg;
      if (next == std::string_view::npos) break;
      i = next;
    }
    return out;
  }

  // Server time now, estimated from the cluster's clock skew.
  std::int64_t ServerNow(const ClusterState& c) const { return now_ms_ + c.skew_ms.value_or(0); }

  void StartCluster(std::size_t i) {
    ClusterState& c = *o_.clusters_[i];
    ClusterSnapshot& cs = clusters_out_[i];
    cs.name = c.client.endpoint().cluster;
    cs.az = c.az;
    cs.observed_at_ms = now_ms_;
    for (auto& [id, job] : c.jobs) job->seen_this_cycle = false;
    const bool config_due = c.version.empty() || c.consecutive_failures > 0 ||
                            now_ms_ - c.version_read_ms >= o_.options_.config_every_ms;
    if (config_due) {
      Get(c, "/config", [this, &c](Result<HttpResponse> r) {
        auto cfg = c.client.Handle("GET", "/config", std::move(r), ParseDashboardConfig);
        if (!cfg) return Problem(cfg.error().message);
        if (cfg->version) {
          c.version = cfg->version->text;
          c.version_read_ms = now_ms_;
          c.version_seen_ms = now_ms_;
        }
      });
    }
    c.overview_error = "/overview not answered yet";
    Get(c, "/overview", [this, &c](Result<HttpResponse> r) {
      auto ov = c.client.Handle("GET", "/overview", std::move(r), ParseClusterOverview);
      if (!ov) {
        c.overview_error = ov.error().message;
        return Problem(ov.error().message);
      }
      c.overview_error.clear();
      c.capacity.SetFresh(ClusterCapacity{.taskmanagers = ov->taskmanagers,
                                          .slots_total = ov->slots_total,
                                          .slots_available = ov->slots_available},
                          now_ms_);
      if (!ov->flink_version.empty()) {
        if (c.version.empty()) c.version = ov->flink_version;
        if (c.version == ov->flink_version) c.version_seen_ms = now_ms_;
      }
    });
    Get(c, "/jobs/overview", [this, &c, &cs](Result<HttpResponse> r) {
      auto jobs = c.client.Handle("GET", "/jobs/overview", std::move(r), ParseJobsOverview);
      if (!jobs) {
        cs.reachable = false;
        cs.error = jobs.error().message;
        return Problem(jobs.error().message);
      }
      cs.reachable = true;
      cs.job_list_complete = jobs->problems.empty();
      for (const std::string& p : jobs->problems) {
        Problem(c.client.Context("GET", "/jobs/overview") + ": " + p);
      }
      cs.jobs_seen = static_cast<int>(jobs->items.size());
      for (const JobOverview& j : jobs->items) ObserveJob(c, j);
    });
  }

  void ObserveJob(ClusterState& c, const JobOverview& j) {
    auto& slot = c.jobs[j.id];
    if (!slot) {
      slot = std::make_unique<JobState>();
      slot->snap.cluster = c.client.endpoint().cluster;
      slot->snap.job_id = j.id;
      // Spread the periodic detail reads of unchanged jobs evenly over the cycles, so that no
      // cycle carries every job's details at once.
      slot->detail_phase = static_cast<std::int64_t>(std::hash<std::string>{}(j.id) %
                                                     static_cast<std::size_t>(c.detail_every));
    }
    JobState& js = *slot;
    js.seen_this_cycle = true;
    JobSnapshot& s = js.snap;
    s.name = j.name;
    s.observed_at_ms = now_ms_;
    s.start_time_ms = j.start_time;
    s.end_time_ms = j.end_time;
    s.status_text = j.state_text;
    if (j.state) {
      s.status.SetFresh(*j.state, now_ms_);
    } else {
      s.status.SetUnknown("Flink reported a state this build does not know: " + j.state_text);
    }
    s.all_tasks_running.SetFresh(j.AllTasksRunning(), now_ms_);
    auto total = j.tasks.find("total");
    s.tasks_total.SetFresh(total == j.tasks.end() ? 0 : total->second, now_ms_);
    // Checkpoint settings are fixed for the life of a job id: once read, they are what Flink
    // would answer now. (Only the unreachable path marks them stale; this makes them fresh again.)
    if (js.settings_known) s.checkpoint_settings.SetFresh(*s.checkpoint_settings.value, now_ms_);
    const bool changed = j.last_modification != js.last_modification;
    js.last_modification = j.last_modification;

    const std::string base = "/jobs/" + j.id;
    const bool terminal = j.state && IsGloballyTerminal(*j.state);
    if (terminal) {
      // Metrics stop with the job; what is left to read is read once. The checkpoint settings
      // too, for a job first seen terminal (Flink keeps them with the archived job): whether
      // its checkpoints are retained decides what a recovery can restore from.
      s.uptime_ms.SetFresh(0, now_ms_);
      if (!js.settings_known) FetchSettings(c, js);
      if (!js.terminal_captured) {
        FetchCheckpoints(c, js);
        if (*j.state == JobStatus::kFailed) FetchException(c, js);
        js.terminal_captured = true;
      } else {
        RestampCheckpointFields(c, js);
        if (js.exception_due) FetchException(c, js);
      }
      StaleMetrics(js, "job is terminal; Flink no longer reports its metrics");
      return;
    }
    js.terminal_captured = false;
    // Details are also read the cycle after a first backpressure sample, so the rate is known
    // from the second cycle on rather than after `detail_every` more.
    const bool awaiting_second_sample = !js.bp_accumulated.empty() && !s.backpressure.known();
    const std::int64_t every = c.detail_every;
    const bool in_phase = (o_.cycle_ + js.detail_phase) % every == 0;
    const bool details_due = changed || js.last_detail_cycle < 0 || awaiting_second_sample ||
                             (in_phase && o_.cycle_ > js.last_detail_cycle) ||
                             o_.cycle_ - js.last_detail_cycle >= every;
    // Throughput and source lag are read with the details (they need the vertex ids), so for
    // unchanged jobs they are measured every `detail_every` cycles, like backpressure: one
    // request per job and cycle fewer, which is what a region of 10,000 jobs needs.
    if (details_due) FetchDetails(c, js);
    if (!js.settings_known) FetchSettings(c, js);
    FetchMetrics(c, js, details_due);
    UpdateUptime(c, js);
  }

  void FetchDetails(ClusterState& c, JobState& js) {
    const std::string path = "/jobs/" + js.snap.job_id;
    Get(c, path, [this, &c, &js, path](Result<HttpResponse> r) {
      const std::int64_t received = now_ms_;
      auto d = c.client.Handle("GET", path, std::move(r), ParseJobDetails);
      if (!d) {
        Problem(d.error().message);
        js.snap.backpressure.MarkStale(d.error().message);
        if (!OwnedByTsdb(js.snap.name, "qps")) js.snap.qps.MarkStale(d.error().message);
        if (!OwnedByTsdb(js.snap.name, "lag")) js.snap.lag.MarkStale(d.error().message);
        return;
      }
      js.last_detail_cycle = o_.cycle_;
      if (d->now > 0) c.skew_ms = d->now - received;
      if (auto it = d->timestamps.find("RUNNING"); it != d->timestamps.end() && it->second > 0) {
        js.running_since_ms = it->second;
      }
      js.vertices = d->vertices;
      UpdateBackpressure(js, *d);
      UpdateUptime(c, js);
      FetchSourceMetrics(c, js);
    });
  }

  // Backpressure from the change of each vertex's accumulated backpressured time (Flink 1.16+)
  // between two detail samples: ms backpressured per ms of wall time, per subtask.
  void UpdateBackpressure(JobState& js, const JobDetails& d) {
    JobSnapshot& s = js.snap;
    std::map<std::string, std::int64_t> now_acc;
    for (const VertexInfo& v : d.vertices) {
      if (v.accumulated_backpressured_ms) now_acc[v.id] = *v.accumulated_backpressured_ms;
    }
    if (now_acc.empty()) {
      s.backpressure.SetUnknown("Flink reports no accumulated backpressure (before 1.16)");
      return;
    }
    const std::int64_t dt = d.now - js.bp_sample_server_ms;
    if (js.bp_accumulated.empty() || js.bp_sample_server_ms <= 0 || dt <= 0) {
      js.bp_accumulated = std::move(now_acc);
      js.bp_sample_server_ms = d.now;
      s.backpressure.MarkStale("needs a second sample");
      return;
    }
    double worst = 0;
    std::string worst_name;
    for (const VertexInfo& v : d.vertices) {
      auto prev = js.bp_accumulated.find(v.id);
      auto cur = now_acc.find(v.id);
      if (prev == js.bp_accumulated.end() || cur == now_acc.end()) continue;
      const std::int64_t delta = cur->second - prev->second;
      if (delta < 0 || v.parallelism <= 0) continue;  // counters reset with a new attempt
      const double ratio = static_cast<double>(delta) /
                           (static_cast<double>(dt) * static_cast<double>(v.parallelism));
      if (ratio > worst || worst_name.empty()) {
        worst = ratio;
        worst_name = v.name;
      }
    }
    js.bp_accumulated = std::move(now_acc);
    js.bp_sample_server_ms = d.now;
    if (worst_name.empty()) {
      s.backpressure.MarkStale("counters restarted; needs another sample");
      return;
    }
    s.backpressure.SetFresh(std::min(worst, 1.0), now_ms_);
    s.backpressured_vertex = worst > 0 ? worst_name : "";
  }

  void UpdateUptime(ClusterState& c, JobState& js) {
    JobSnapshot& s = js.snap;
    if (s.status.value != JobStatus::kRunning) {
      s.uptime_ms.SetFresh(0, now_ms_);
    } else if (js.running_since_ms) {
      s.uptime_ms.SetFresh(std::max<std::int64_t>(0, ServerNow(c) - *js.running_since_ms), now_ms_);
    }
    UpdateCheckpointAge(c, js);
  }

  void UpdateCheckpointAge(ClusterState& c, JobState& js) {
    JobSnapshot& s = js.snap;
    s.checkpoint_age_upper_bound = false;
    if (js.settings_known && s.checkpoint_settings.value &&
        s.checkpoint_settings.value->interval_ms <= 0) {
      s.checkpoint_age_ms.SetUnknown("checkpointing is disabled");
      return;
    }
    if (s.status.value && IsGloballyTerminal(*s.status.value)) {
      // A job that will not run again does not checkpoint; its age is not a health signal.
      s.checkpoint_age_ms.SetUnknown("job is terminal");
      return;
    }
    if (!s.last_checkpoint.fresh() && js.newer_checkpoint &&
        s.checkpoints_completed.observed_at_ms == now_ms_ && s.checkpoints_completed.fresh()) {
      if (const std::optional<std::int64_t> bound = AgeBound(c, js)) {
        s.checkpoint_age_ms.SetFresh(*bound, now_ms_);
        s.checkpoint_age_upper_bound = true;
        return;
      }
    }
    if (!s.last_checkpoint.fresh()) {
      // An age from checkpoint facts not confirmed this cycle would pass for a current one.
      s.checkpoint_age_ms.MarkStale(s.last_checkpoint.why.empty()
                                        ? "checkpoint statistics not read yet"
                                        : s.last_checkpoint.why);
      return;
    }
    if (s.last_checkpoint.value && s.last_checkpoint.value->completed_ms <= 0 &&
        js.completed_after_ms) {
      // From the gauges, before 2.0: it completed after completed_after_ms.
      s.checkpoint_age_ms.SetFresh(std::max<std::int64_t>(0, now_ms_ - *js.completed_after_ms),
                                   now_ms_);
      s.checkpoint_age_upper_bound = true;
      return;
    }
    const std::int64_t server_now = ServerNow(c);
    // Age of the newest completed checkpoint of this run; a run with none yet counts from the
    // moment it started RUNNING, so a job that never checkpoints still ages.
    std::optional<std::int64_t> since;
    if (s.last_checkpoint.value && s.last_checkpoint.value->completed_ms > 0) {
      since = s.last_checkpoint.value->completed_ms;
    } else if (s.status.value == JobStatus::kRunning) {
      since = js.running_since_ms;
    }
    if (!since) {
      s.checkpoint_age_ms.MarkStale("no completed checkpoint and no RUNNING time known yet");
      return;
    }
    s.checkpoint_age_ms.SetFresh(std::max<std::int64_t>(0, server_now - *since), now_ms_);
  }

  // An upper bound on the age of the newest checkpoint while it is newer than last_checkpoint
  // (not read yet): it completed after last_checkpoint did, and after the metrics sample that
  // still counted fewer. std::nullopt when neither is known.
  std::optional<std::int64_t> AgeBound(const ClusterState& c, const JobState& js) const {
    const JobSnapshot& s = js.snap;
    std::optional<std::int64_t> bound;
    if (js.newer_after_ms) bound = now_ms_ - *js.newer_after_ms;
    if (s.last_checkpoint.value && s.last_checkpoint.value->completed_ms > 0) {
      const std::int64_t older = ServerNow(c) - s.last_checkpoint.value->completed_ms;
      bound = bound ? std::min(*bound, older) : older;
    }
    if (bound) bound = std::max<std::int64_t>(0, *bound);
    return bound;
  }

  // Called with each answered metrics read: tracks when numberOfCompletedCheckpoints rose and
  // whether a checkpoint newer than the last /checkpoints answer exists.
  void NoteCompletedSample(const ClusterState& c, JobState& js) {
    const JobSnapshot& s = js.snap;
    const std::optional<std::int64_t> count =
        s.checkpoints_completed.fresh() ? s.checkpoints_completed.value : std::nullopt;
    if (count) {
      if (js.sample_completed && *count > *js.sample_completed) {
        // It rose since the previous read, whose value came from Flink's metric store. That
        // store answers with the fetch before the one a request triggers, and fetches at most
        // every metrics.fetcher.update-interval: the previous read reflected the job no earlier
        // than the read before it, less that interval. The newest checkpoint completed later.
        js.newer_after_ms.reset();
        if (js.prev_sample_ms) {
          js.newer_after_ms = *js.prev_sample_ms - c.metric_fetch_interval_ms;
        }
      } else if (js.sample_completed && *count < *js.sample_completed) {
        js.newer_after_ms.reset();  // the counts started over (a JobManager failover)
      }
      js.prev_sample_ms = js.sample_ms;
      js.sample_ms = now_ms_;
      js.sample_completed = count;
    }
    js.newer_checkpoint = count && js.read_completed && *count > *js.read_completed;
  }

  void FetchSettings(ClusterState& c, JobState& js) {
    const std::string path = "/jobs/" + js.snap.job_id + "/checkpoints/config";
    Get(c, path, [this, &c, &js, path](Result<HttpResponse> r) {
      auto cfg = c.client.Handle("GET", path, std::move(r), ParseCheckpointConfig);
      if (!cfg) {
        if (cfg.error().kind == ErrorKind::kNotFound) {
          // Flink answers 404 when checkpointing is off for the job.
          js.snap.checkpoint_settings.SetFresh(CheckpointSettings{}, now_ms_);
          js.settings_known = true;
          UpdateCheckpointAge(c, js);
          return;
        }
        js.snap.checkpoint_settings.MarkStale(cfg.error().message);
        return Problem(cfg.error().message);
      }
      CheckpointSettings st;
      st.interval_ms = cfg->interval_ms;
      st.timeout_ms = cfg->timeout_ms;
      st.tolerable_failures = cfg->tolerable_failed_checkpoints;
      st.retained_on_cancel = cfg->externalization_enabled && !cfg->delete_on_cancellation;
      js.snap.checkpoint_settings.SetFresh(st, now_ms_);
      js.settings_known = true;
    });
  }

  // `with_details`: the job details are read this cycle, and the checkpoint statistics with them.
  void FetchMetrics(ClusterState& c, JobState& js, bool with_details) {
    const std::string path = "/jobs/" + js.snap.job_id + "/metrics?get=" + kJobMetrics;
    Get(c, path, [this, &c, &js, path, with_details](Result<HttpResponse> r) {
      auto m = c.client.Handle("GET", path, std::move(r), ScanMetricList);
      JobSnapshot& s = js.snap;
      if (!m) {
        Problem(m.error().message);
        StaleMetrics(js, m.error().message);
        // Without the counters, whether a checkpoint completed since the last read is unknown.
        s.last_checkpoint.MarkStale(m.error().message);
        s.last_savepoint.MarkStale(m.error().message);
        UpdateCheckpointAge(c, js);
        return;
      }
      // A handful of entries: a scan beats building a map for every job on every cycle.
      auto value_of = [&](std::string_view id) -> std::optional<double> {
        std::optional<double> found;
        for (const MetricEntry& e : *m) {
          if (e.id != id) continue;
          if (auto d = e.AsDouble(); d && std::isfinite(*d)) found = *d;  // the last one wins
        }
        return found;
      };
      auto set = [&](Observed<std::int64_t>& field, const char* id) {
        if (auto v = value_of(id); v && *v >= 0) {
          field.SetFresh(static_cast<std::int64_t>(*v), now_ms_);
        } else {
          // Missing is not zero: right after a (re)start the metric store may not have it yet.
          field.MarkStale(std::string(id) + " not reported yet");
        }
      };
      const std::optional<std::int64_t> restarts_before = s.restarts.value;
      set(s.restarts, "numRestarts");
      set(s.checkpoints_completed, "numberOfCompletedCheckpoints");
      set(s.checkpoints_failed, "numberOfFailedCheckpoints");
      set(s.checkpoint_duration_ms, "lastCheckpointDuration");
      NoteCompletedSample(c, js);
      const bool restarted =
          s.restarts.value && restarts_before && *s.restarts.value > *restarts_before;
      const bool counters_known = s.checkpoints_completed.fresh() && s.checkpoints_failed.fresh();
      const bool failed_moved =
          counters_known && js.read_failed && *s.checkpoints_failed.value != *js.read_failed;
      // /checkpoints is the one place with a checkpoint's id, path and times, but reading it
      // for every job on every cycle would be a request per job and cycle (a checkpoint usually
      // completes every interval). A newer checkpoint is read with the details, and at once
      // when something went wrong: a failed checkpoint, a restart, counters that cannot be
      // compared. Unmoved counters mean Flink would answer what it answered last time.
      // A newer checkpoint is taken from the checkpoint gauges of this very answer when they
      // describe it without doubt (AdoptGaugeCheckpoint), so a steadily checkpointing job needs
      // no /checkpoints read at all.
      if (!js.checkpoints_read || restarted || failed_moved || !counters_known) {
        FetchCheckpoints(c, js);
      } else if (js.newer_checkpoint && AdoptGaugeCheckpoint(c, js, *m)) {
        // last_checkpoint is the newest one now.
      } else if (js.newer_checkpoint && with_details) {
        FetchCheckpoints(c, js);
      } else if (js.newer_checkpoint) {
        const std::string why =
            "numberOfCompletedCheckpoints is " + std::to_string(*s.checkpoints_completed.value) +
            ", " + std::to_string(js.read_completed.value_or(0)) +
            " when the checkpoint statistics were read: a newer checkpoint or savepoint has "
            "completed, to be read with the next job details";
        s.last_checkpoint.MarkStale(why);
        s.last_savepoint.MarkStale(why);
        UpdateCheckpointAge(c, js);
      } else {
        RestampCheckpointFields(c, js);
      }
      const bool failing =
          s.status.value == JobStatus::kRestarting || s.status.value == JobStatus::kFailing;
      if ((restarted || failing || js.exception_due) &&
          js.restarts_for_exception != s.restarts.value) {
        FetchException(c, js);
      }
    });
  }

  // The newest checkpoint from the checkpoint gauges of a job metrics answer, taken only when
  // they leave no doubt: exactly one checkpoint or savepoint completed since the last known
  // newest (so no savepoint can hide behind it), the path is a checkpoint directory of this job
  // (`.../<job id>/chk-<id>`, so the one that completed is not a savepoint), the id agrees with
  // lastCompletedCheckpointId where Flink reports it and is above the last known one. The
  // completion time is the gauge's (2.0+); before 2.0 it is not known, and the age is bounded by
  // the metrics sample that still counted fewer. Otherwise false: /checkpoints will tell.
  bool AdoptGaugeCheckpoint(ClusterState& c, JobState& js,
                            const std::vector<MetricEntry>& m) {
    JobSnapshot& s = js.snap;
    if (!js.read_completed || !s.checkpoints_completed.value ||
        *s.checkpoints_completed.value != *js.read_completed + 1) {
      return false;
    }
    auto last_entry = [&](std::string_view id) -> const MetricEntry* {
      const MetricEntry* found = nullptr;
      for (const MetricEntry& e : m) {
        if (e.id == id && e.value) found = &e;
      }
      return found;
    };
    auto number = [&](std::string_view id) -> std::optional<std::int64_t> {
      const MetricEntry* e = last_entry(id);
      const std::optional<double> d = e ? e->AsDouble() : std::nullopt;
      if (!d || !std::isfinite(*d) || *d < 0) return std::nullopt;  // -1: none yet
      return static_cast<std::int64_t>(*d);
    };
    const MetricEntry* path_entry = last_entry("lastCheckpointExternalPath");
    if (!path_entry) return false;
    const std::string* path = &*path_entry->value;
    const std::optional<std::int64_t> reported_id = number("lastCompletedCheckpointId");
    RestorePoint p;
    p.kind = RestorePoint::Kind::kCheckpoint;
    p.path = *path;
    if (*path == kNotAddressablePath) {
      // Only checkpoints go unaddressable (savepoints always have a path); the id must come
      // from the gauge.
      if (!reported_id) return false;
      p.id = *reported_id;
      p.addressable = false;
    } else {
      const std::optional<std::int64_t> id = CheckpointIdOfPath(*path, s.job_id);
      if (!id || (reported_id && *reported_id != *id)) return false;
      p.id = *id;
      p.addressable = true;
    }
    if (s.last_checkpoint.value && s.last_checkpoint.value->id >= p.id) return false;
    const std::int64_t duration =
        s.checkpoint_duration_ms.fresh() ? std::max<std::int64_t>(0, *s.checkpoint_duration_ms.value)
                                         : 0;
    if (const std::optional<std::int64_t> completed = number("lastCheckpointCompletedTimestamp");
        completed && *completed > 0) {
      p.completed_ms = *completed;
      p.trigger_ms = *completed - duration;
      js.completed_after_ms.reset();
    } else {
      if (!js.newer_after_ms) return false;  // nothing bounds when it completed
      // The latest moment it can have been triggered; the exact one comes with the next
      // /checkpoints read (a restart, a failed checkpoint, a savepoint).
      p.trigger_ms = ServerNow(c) - duration;
      if (s.last_checkpoint.value) {
        p.trigger_ms = std::max(p.trigger_ms, s.last_checkpoint.value->trigger_ms + 1);
      }
      js.completed_after_ms = js.newer_after_ms;
    }
    s.last_checkpoint.SetFresh(p, now_ms_);
    if (s.last_savepoint.value) {
      s.last_savepoint.SetFresh(*s.last_savepoint.value, now_ms_);
    } else {
      s.last_savepoint.SetAbsent(now_ms_);
    }
    js.read_completed = s.checkpoints_completed.value;
    js.read_failed = s.checkpoints_failed.value;
    js.newer_checkpoint = false;
    UpdateCheckpointAge(c, js);
    return true;
  }

  // The checkpoint facts did not change since they were read (the counters say so): they are
  // still what Flink would answer now.
  void RestampCheckpointFields(ClusterState& c, JobState& js) {
    JobSnapshot& s = js.snap;
    if (js.checkpoints_read) {
      auto restamp = [this](Observed<RestorePoint>& f) {
        if (f.value) {
          f.SetFresh(*f.value, now_ms_);
        } else {
          f.SetAbsent(now_ms_);
        }
      };
      restamp(s.last_checkpoint);
      restamp(s.last_savepoint);
    }
    UpdateCheckpointAge(c, js);
  }

  void FetchCheckpoints(ClusterState& c, JobState& js) {
    const std::string path = "/jobs/" + js.snap.job_id + "/checkpoints";
    Get(c, path, [this, &c, &js, path](Result<HttpResponse> r) {
      auto st = c.client.Handle("GET", path, std::move(r), ParseCheckpointStats);
      JobSnapshot& s = js.snap;
      if (!st) {
        if (st.error().kind != ErrorKind::kNotFound) Problem(st.error().message);
        s.last_checkpoint.MarkStale(st.error().message);
        s.last_savepoint.MarkStale(st.error().message);
        s.checkpoint_age_ms.MarkStale(st.error().message);
        js.terminal_captured = false;  // try again next cycle
        return;
      }
      for (const std::string& p : st->problems) Problem(c.client.Context("GET", path) + ": " + p);
      js.checkpoints_read = true;
      js.completed_after_ms.reset();
      js.read_completed = st->completed;
      js.read_failed =
          s.checkpoints_failed.fresh() ? s.checkpoints_failed.value : std::optional(st->failed);
      js.newer_checkpoint = false;
      if (st->latest_completed) {
        s.last_checkpoint.SetFresh(ToRestorePoint(*st->latest_completed), now_ms_);
      } else {
        s.last_checkpoint.SetAbsent(now_ms_);
      }
      if (st->latest_savepoint) {
        s.last_savepoint.SetFresh(ToRestorePoint(*st->latest_savepoint), now_ms_);
      } else {
        s.last_savepoint.SetAbsent(now_ms_);
      }
      if (!s.checkpoints_completed.fresh())
        s.checkpoints_completed.SetFresh(st->completed, now_ms_);
      if (!s.checkpoints_failed.fresh()) s.checkpoints_failed.SetFresh(st->failed, now_ms_);
      UpdateCheckpointAge(c, js);
    });
  }

  void FetchException(ClusterState& c, JobState& js) {
    const std::string path = "/jobs/" + js.snap.job_id + "/exceptions?maxExceptions=1";
    Get(c, path, [this, &c, &js, path](Result<HttpResponse> r) {
      auto x = c.client.Handle("GET", path, std::move(r), ParseRootException);
      // The moment that triggered this read (a restart, a failure) has passed by next cycle;
      // without the flag a failed read would lose the root cause for good.
      js.exception_due = !x;
      if (!x) return Problem(x.error().message);
      js.restarts_for_exception = js.snap.restarts.value;
      if (*x) {
        js.snap.root_exception = (*x)->FirstLines(3);
        js.snap.root_exception_ms = (*x)->timestamp;
      }
    });
  }

  // What the source vertices of one job answered, summed as their requests come back.
  struct SourceSums {
    bool want_qps = false;
    bool want_lag = false;
    std::size_t pending = 0;  // vertices still to answer
    double qps = 0;
    double lag = 0;
    std::string qps_failed;   // why qps is not known this time ("" = it is)
    std::string lag_failed;   // why lag is not known this time ("" = it is)
    bool lag_absent = false;  // a source lists no lag metric: lag is unknown, not stale
  };

  // Throughput (numRecordsOutPerSecond) and source lag (LagMetricId) of the source vertices, in
  // one aggregated subtask-metrics request per source vertex. The lag metric's id holds the
  // operator name, so a vertex's metric list is read once first (and again every
  // kLagRelistCycles while it lists none).
  void FetchSourceMetrics(ClusterState& c, JobState& js) {
    JobSnapshot& s = js.snap;
    auto sums = std::make_shared<SourceSums>();
    sums->want_qps = !OwnedByTsdb(s.name, "qps");
    sums->want_lag = !OwnedByTsdb(s.name, "lag");
    if (!sums->want_qps && !sums->want_lag) return;
    std::vector<const VertexInfo*> sources;
    for (const VertexInfo& v : js.vertices) {
      if (IsSourceVertex(v)) sources.push_back(&v);
    }
    if (sources.empty()) {
      const char* why =
          js.vertices.empty() ? "job vertices not known yet" : "no source vertex found";
      if (sums->want_qps) s.qps.MarkStale(why);
      if (sums->want_lag) s.lag.MarkStale(why);
      return;
    }
    if (s.status.value != JobStatus::kRunning) {
      if (sums->want_qps) s.qps.SetFresh(0, now_ms_);
      if (sums->want_lag) s.lag.MarkStale("job is not running: Flink reports no source metrics");
      return;
    }
    sums->pending = sources.size();
    const bool relist =
        js.lag_listed_cycle < 0 || o_.cycle_ - js.lag_listed_cycle >= kLagRelistCycles;
    for (const VertexInfo* v : sources) {
      auto known = js.lag_ids.find(v->id);
      const bool list =
          sums->want_lag && (known == js.lag_ids.end() || (known->second.empty() && relist));
      if (list) {
        ListSourceMetrics(c, js, v->id, v->name, sums);
      } else {
        ReadSourceMetrics(c, js, v->id, v->name, sums);
      }
    }
  }

  void ListSourceMetrics(ClusterState& c, JobState& js, const std::string& vid,
                         const std::string& vname, const std::shared_ptr<SourceSums>& sums) {
    const std::string path = "/jobs/" + js.snap.job_id + "/vertices/" + vid + "/subtasks/metrics";
    Get(c, path, [this, &c, &js, path, vid, vname, sums](Result<HttpResponse> r) {
      auto m = c.client.Handle("GET", path, std::move(r), ScanMetricList);
      if (!m) {
        Problem(m.error().message);  // listed again with the next details
      } else {
        js.lag_ids[vid] = LagMetricId(*m);
        js.lag_listed_cycle = o_.cycle_;
      }
      ReadSourceMetrics(c, js, vid, vname, sums);
    });
  }

  void ReadSourceMetrics(ClusterState& c, JobState& js, const std::string& vid,
                         const std::string& vname, const std::shared_ptr<SourceSums>& sums,
                         bool qps_only = false) {
    std::string lag_id;
    if (sums->want_lag && !qps_only) {
      auto known = js.lag_ids.find(vid);
      if (known == js.lag_ids.end()) {
        sums->lag_failed = "the metric list of source vertex '" + vname + "' could not be read";
      } else if (known->second.empty()) {
        sums->lag_failed = "source vertex '" + vname +
                           "' reports no lag metric (pendingRecords or records-lag-max)";
        sums->lag_absent = true;
      } else {
        lag_id = known->second;
      }
    }
    std::string get;
    if (sums->want_qps) get = "numRecordsOutPerSecond";
    if (!lag_id.empty()) get += (get.empty() ? "" : ",") + QueryEscape(lag_id);
    if (get.empty()) return FinishSource(js, sums);
    const std::string path = "/jobs/" + js.snap.job_id + "/vertices/" + vid +
                             "/subtasks/metrics?get=" + get + "&agg=sum";
    Get(c, path, [this, &c, &js, path, vid, vname, lag_id, sums](Result<HttpResponse> r) {
      auto m = c.client.Handle("GET", path, std::move(r), ScanAggregatedMetrics);
      if (!m) {
        if (sums->want_qps) sums->qps_failed = m.error().message;
        if (!lag_id.empty()) sums->lag_failed = m.error().message;
        return FinishSource(js, sums);
      }
      auto sum_of = [&](const std::string& id) -> std::optional<double> {
        for (const AggregatedMetric& a : *m) {
          if (a.id == id && a.sum && std::isfinite(*a.sum)) return a.sum;
        }
        return std::nullopt;
      };
      if (m->empty() && !lag_id.empty()) {
        // Flink answers [] when any requested id has no value: the lag metric may be gone (a
        // restarted reader without splits yet). List the vertex again next time; read the
        // throughput alone now.
        js.lag_ids.erase(vid);
        sums->lag_failed = lag_id + " not reported";
        if (sums->want_qps) return ReadSourceMetrics(c, js, vid, vname, sums, true);
        return FinishSource(js, sums);
      }
      if (sums->want_qps) {
        if (auto v = sum_of("numRecordsOutPerSecond")) {
          sums->qps += *v;
        } else {
          sums->qps_failed = "numRecordsOutPerSecond not reported yet";
        }
      }
      if (!lag_id.empty()) {
        if (auto v = sum_of(lag_id)) {
          sums->lag += *v;
        } else {
          sums->lag_failed = lag_id + " not reported";
        }
      }
      FinishSource(js, sums);
    });
  }

  // One source vertex is done; after the last one the sums become the job's qps and lag.
  void FinishSource(JobState& js, const std::shared_ptr<SourceSums>& sums) {
    if (--sums->pending > 0) return;
    JobSnapshot& s = js.snap;
    if (sums->want_qps) {
      if (sums->qps_failed.empty()) {
        s.qps.SetFresh(sums->qps, now_ms_);
      } else {
        s.qps.MarkStale(sums->qps_failed);
      }
    }
    if (sums->want_lag) {
      if (sums->lag_failed.empty()) {
        s.lag.SetFresh(sums->lag, now_ms_);
      } else if (sums->lag_absent) {
        s.lag.SetUnknown(sums->lag_failed);
      } else {
        s.lag.MarkStale(sums->lag_failed);
      }
    }
  }

  void StaleMetrics(JobState& js, const std::string& why) {
    JobSnapshot& s = js.snap;
    s.restarts.MarkStale(why);
    s.checkpoints_completed.MarkStale(why);
    s.checkpoints_failed.MarkStale(why);
    s.checkpoint_duration_ms.MarkStale(why);
    if (!OwnedByTsdb(s.name, "qps")) s.qps.MarkStale(why);
    if (!OwnedByTsdb(s.name, "lag")) s.lag.MarkStale(why);
  }

  bool OwnedByTsdb(const std::string& job, const std::string& signal) const {
    for (const SignalQuery& q : o_.signals_) {
      if (q.signal == signal && (q.only_job.empty() || q.only_job == job))
        return o_.tsdb_ != nullptr;
    }
    return false;
  }

  void FinishCluster(std::size_t i) {
    ClusterState& c = *o_.clusters_[i];
    ClusterSnapshot& cs = clusters_out_[i];
    if (!c.overview_error.empty()) c.capacity.MarkStale(c.overview_error);
    cs.capacity = c.capacity;
    if (c.version.empty()) {
      cs.flink_version.SetUnknown("neither /config nor /overview has told it yet");
    } else {
      cs.flink_version.SetFresh(c.version, c.version_seen_ms);
      if (c.version_seen_ms != now_ms_) {
        cs.flink_version.MarkStale("neither /config nor /overview answered this cycle");
      }
    }
    if (cs.reachable) {
      c.consecutive_failures = 0;
      c.last_ok_ms = now_ms_;
      // Jobs that left /jobs/overview expired from Flink's job store: forget them here — but
      // only when the list was read whole; an entry that did not parse may be one of them.
      for (auto it = c.jobs.begin(); it != c.jobs.end();) {
        if (it->second->seen_this_cycle) {
          ++it;
        } else if (cs.job_list_complete) {
          it = c.jobs.erase(it);
        } else {
          MarkAllStale(it->second->snap,
                       "cluster " + cs.name + ": its entry in /jobs/overview could not be read");
          ++it;
        }
      }
    } else {
      ++c.consecutive_failures;
      for (auto& [id, js] : c.jobs)
        MarkAllStale(js->snap, "cluster " + cs.name + " unreachable: " + cs.error);
    }
    cs.consecutive_failures = c.consecutive_failures;
    cs.last_ok_ms = c.last_ok_ms;
    obs_.clusters.push_back(cs);
  }

  static void MarkAllStale(JobSnapshot& s, const std::string& why) {
    s.status.MarkStale(why);
    s.all_tasks_running.MarkStale(why);
    s.tasks_total.MarkStale(why);
    s.restarts.MarkStale(why);
    s.uptime_ms.MarkStale(why);
    s.last_checkpoint.MarkStale(why);
    s.last_savepoint.MarkStale(why);
    s.checkpoint_age_ms.MarkStale(why);
    s.checkpoints_completed.MarkStale(why);
    s.checkpoints_failed.MarkStale(why);
    s.checkpoint_duration_ms.MarkStale(why);
    s.checkpoint_settings.MarkStale(why);
    s.qps.MarkStale(why);
    s.lag.MarkStale(why);
    s.backpressure.MarkStale(why);
  }

  void StartSignals() {
    if (o_.tsdb_ == nullptr) return;
    signal_results_.resize(o_.signals_.size());
    for (std::size_t i = 0; i < o_.signals_.size(); ++i) {
      ++obs_.requests;
      batch_.Add(o_.tsdb_->BuildRequest(o_.signals_[i].promql), [this, i](Result<HttpResponse> r) {
        const double seconds = r ? std::chrono::duration<double>(r->elapsed).count() : 0;
        signal_results_[i] = o_.tsdb_->HandleReply(o_.signals_[i].promql, std::move(r));
        if (!signal_results_[i]) Problem(signal_results_[i].error().message);
        o_.last_requests_.push_back(RequestSample{"", "signal:" + o_.signals_[i].signal, seconds,
                                                  !signal_results_[i].has_value()});
      });
    }
  }

  void ApplySignals() {
    if (o_.tsdb_ == nullptr) return;
    for (std::size_t i = 0; i < o_.signals_.size(); ++i) {
      const SignalQuery& q = o_.signals_[i];
      const Result<SignalValues>& r = signal_results_[i];
      for (auto& c : o_.clusters_) {
        for (auto& [id, js] : c->jobs) {
          JobSnapshot& s = js->snap;
          if (!q.only_job.empty() && q.only_job != s.name) continue;
          // A job-specific query replaces the global one for that job.
          if (q.only_job.empty() && HasOverride(s.name, q.signal)) continue;
          Observed<double>& field = SignalField(s, q.signal);
          if (!r) {
            field.MarkStale(r.error().message);
            continue;
          }
          std::optional<double> v;
          if (r->is_scalar) {
            v = r->scalar;
          } else if (auto it = r->by_job.find(s.name); it != r->by_job.end()) {
            v = it->second;
          } else if (auto it2 = r->by_job.find(PrometheusSafeName(s.name));
                     it2 != r->by_job.end()) {
            v = it2->second;
          }
          if (v) {
            field.SetFresh(*v, now_ms_);
          } else if (s.status.value == JobStatus::kRunning) {
            field.MarkStale("no series for this job in the TSDB answer");
          } else {
            field.SetUnknown("job is not running");
          }
        }
      }
    }
  }

  bool HasOverride(const std::string& job, const std::string& signal) const {
    for (const SignalQuery& q : o_.signals_) {
      if (q.signal == signal && q.only_job == job) return true;
    }
    return false;
  }

  static Observed<double>& SignalField(JobSnapshot& s, const std::string& signal) {
    if (signal == "qps") return s.qps;
    if (signal == "lag") return s.lag;
    if (signal == "backpressure") return s.backpressure;
    return s.signals[signal];
  }

  Observer& o_;
  std::int64_t now_ms_;
  Observation obs_;
  RequestBatch batch_;
  std::vector<ClusterSnapshot> clusters_out_;
  std::vector<Result<SignalValues>> signal_results_;
};

Observer::Observer(HttpTransport& transport, std::vector<ObservedCluster> clusters,
                   PrometheusClient* tsdb, std::vector<SignalQuery> signals,
                   ObserverOptions options)
    : transport_(transport), tsdb_(tsdb), signals_(std::move(signals)), options_(options) {
  for (ObservedCluster& c : clusters) {
    clusters_.push_back(std::make_unique<ClusterState>(std::move(c), options_));
  }
}

Observer::~Observer() = default;

Observation Observer::RunCycle(std::int64_t now_ms) {
  last_requests_.clear();
  Observation o = Cycle(*this, now_ms).Run();
  CountLiveInstances(o.jobs, now_ms);
  ++cycle_;
  return o;
}

}  // namespace flinkguard
