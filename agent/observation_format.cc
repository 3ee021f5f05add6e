#include "agent/observation_format.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <tuple>

namespace flinkguard {
namespace {

template <typename W>
void Str(W& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

template <typename W>
void Value(W& w, std::int64_t v) {
  w.Int64(v);
}
template <typename W>
void Value(W& w, bool v) {
  w.Bool(v);
}
template <typename W>
void Value(W& w, double v) {
  if (std::isfinite(v)) {
    w.Double(v);
  } else {
    w.Null();  // JSON has no NaN/Infinity
  }
}
template <typename W>
void Value(W& w, JobStatus v) {
  w.String(JobStatusName(v));
}
template <typename W>
void Value(W& w, const RestorePoint& p) {
  w.StartObject();
  w.Key("kind");
  w.String(p.kind == RestorePoint::Kind::kSavepoint ? "savepoint" : "checkpoint");
  w.Key("id");
  w.Int64(p.id);
  w.Key("path");
  Str(w, p.path);
  w.Key("trigger_ms");
  w.Int64(p.trigger_ms);
  w.Key("completed_ms");
  w.Int64(p.completed_ms);
  w.Key("discarded");
  w.Bool(p.discarded);
  w.Key("addressable");
  w.Bool(p.addressable);
  w.EndObject();
}
template <typename W>
void Value(W& w, const std::string& s) {
  Str(w, s);
}
template <typename W>
void Value(W& w, const ClusterCapacity& c) {
  w.StartObject();
  w.Key("taskmanagers");
  w.Int(c.taskmanagers);
  w.Key("slots_total");
  w.Int(c.slots_total);
  w.Key("slots_available");
  w.Int(c.slots_available);
  w.EndObject();
}
template <typename W>
void Value(W& w, const CheckpointSettings& c) {
  w.StartObject();
  w.Key("interval_ms");
  w.Int64(c.interval_ms);
  w.Key("timeout_ms");
  w.Int64(c.timeout_ms);
  w.Key("tolerable_failures");
  w.Int64(c.tolerable_failures);
  w.Key("retained_on_cancel");
  w.Bool(c.retained_on_cancel);
  w.EndObject();
}

template <typename W, typename T>
void Field(W& w, const char* name, const Observed<T>& f) {
  w.Key(name);
  w.StartObject();
  w.Key("value");
  if (f.value) {
    Value(w, *f.value);
  } else {
    w.Null();
  }
  w.Key("freshness");
  w.String(FreshnessName(f.freshness));
  if (f.observed_at_ms > 0) {
    w.Key("observed_at_ms");
    w.Int64(f.observed_at_ms);
  }
  if (!f.why.empty()) {
    w.Key("why");
    Str(w, f.why);
  }
  w.EndObject();
}

template <typename W>
void Write(W& w, const Observation& o) {
  w.StartObject();
  w.Key("at_ms");
  w.Int64(o.at_ms);
  w.Key("duration_ms");
  w.Double(static_cast<double>(o.duration_us) / 1000.0);
  w.Key("requests");
  w.Int64(o.requests);
  w.Key("retries");
  w.Int64(o.retries);
  w.Key("clusters");
  w.StartArray();
  for (const ClusterSnapshot& c : o.clusters) {
    w.StartObject();
    w.Key("name");
    Str(w, c.name);
    w.Key("az");
    Str(w, c.az);
    w.Key("reachable");
    w.Bool(c.reachable);
    if (!c.error.empty()) {
      w.Key("error");
      Str(w, c.error);
    }
    w.Key("consecutive_failures");
    w.Int(c.consecutive_failures);
    w.Key("last_ok_ms");
    w.Int64(c.last_ok_ms);
    Field(w, "flink_version", c.flink_version);
    Field(w, "capacity", c.capacity);
    w.Key("jobs");
    w.Int(c.jobs_seen);
    w.EndObject();
  }
  w.EndArray();
  w.Key("jobs");
  w.StartArray();
  for (const JobSnapshot& j : o.jobs) {
    w.StartObject();
    w.Key("cluster");
    Str(w, j.cluster);
    w.Key("name");
    Str(w, j.name);
    w.Key("job_id");
    Str(w, j.job_id);
    w.Key("status_text");
    Str(w, j.status_text);
    w.Key("start_time_ms");
    w.Int64(j.start_time_ms);
    if (j.end_time_ms) {
      w.Key("end_time_ms");
      w.Int64(*j.end_time_ms);
    }
    Field(w, "status", j.status);
    Field(w, "all_tasks_running", j.all_tasks_running);
    Field(w, "tasks_total", j.tasks_total);
    Field(w, "restarts", j.restarts);
    Field(w, "uptime_ms", j.uptime_ms);
    Field(w, "last_checkpoint", j.last_checkpoint);
    Field(w, "last_savepoint", j.last_savepoint);
    Field(w, "checkpoint_age_ms", j.checkpoint_age_ms);
    if (j.checkpoint_age_upper_bound) {
      // A newer checkpoint completed since last_checkpoint was read: the age is at most this.
      w.Key("checkpoint_age_is_upper_bound");
      w.Bool(true);
    }
    Field(w, "checkpoints_completed", j.checkpoints_completed);
    Field(w, "checkpoints_failed", j.checkpoints_failed);
    Field(w, "checkpoint_duration_ms", j.checkpoint_duration_ms);
    Field(w, "checkpoint_settings", j.checkpoint_settings);
    Field(w, "qps", j.qps);
    Field(w, "backpressure", j.backpressure);
    Field(w, "lag", j.lag);
    w.Key("signals");
    w.StartObject();
    for (const auto& [name, f] : j.signals) Field(w, name.c_str(), f);
    w.EndObject();
    if (!j.backpressured_vertex.empty()) {
      w.Key("backpressured_vertex");
      Str(w, j.backpressured_vertex);
    }
    if (!j.root_exception.empty()) {
      w.Key("root_exception");
      Str(w, j.root_exception);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("problems");
  w.StartArray();
  for (const std::string& p : o.problems) Str(w, p);
  w.EndArray();
  w.EndObject();
}

// A short cell: the value, marked '~' when stale and '?' when unknown.
template <typename T, typename F>
std::string Cell(const Observed<T>& f, F format) {
  if (f.freshness == Freshness::kUnknown) return "?";
  std::string s = f.value ? format(*f.value) : "-";
  if (f.freshness == Freshness::kStale) s = "~" + s;
  return s;
}

std::string Seconds(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), v >= 100 ? "%.0f" : "%.2f", v);
  return buf;
}

}  // namespace

std::string ObservationToJson(const Observation& o, bool pretty) {
  rapidjson::StringBuffer buf;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    Write(w, o);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    Write(w, o);
  }
  return std::string(buf.GetString(), buf.GetSize());
}

std::string ObservationToTable(const Observation& o) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof(line), "%-14s %-10s %-9s %-9s %5s %-9s %s\n", "CLUSTER", "AZ",
                "REACHABLE", "VERSION", "JOBS", "SLOTS", "ERROR");
  out << line;
  for (const ClusterSnapshot& c : o.clusters) {
    const std::string version = Cell(c.flink_version, [](const std::string& v) { return v; });
    // Free of total, e.g. "12/32"; "~12/32" from the last answer when /overview failed.
    const std::string slots = Cell(c.capacity, [](const ClusterCapacity& k) {
      return std::to_string(k.slots_available) + "/" + std::to_string(k.slots_total);
    });
    // A row longer than the buffer is cut, but its newline is never lost (see the job rows).
    std::snprintf(line, sizeof(line), "%-14s %-10s %-9s %-9s %5d %-9s %s", c.name.c_str(),
                  c.az.c_str(), c.reachable ? "yes" : "NO", version.c_str(), c.jobs_seen,
                  slots.c_str(), c.error.substr(0, 100).c_str());
    out << line << '\n';
  }
  out << "\n";
  std::snprintf(line, sizeof(line), "%-14s %-24s %-9s %-12s %-6s %-8s %-8s %-8s %-6s %s\n",
                "CLUSTER", "JOB", "ID", "STATUS", "TASKS", "RESTARTS", "CP AGE", "QPS", "BP",
                "LAST CHECKPOINT");
  out << line;
  std::vector<const JobSnapshot*> jobs;
  for (const JobSnapshot& j : o.jobs) jobs.push_back(&j);
  std::sort(jobs.begin(), jobs.end(), [](const JobSnapshot* a, const JobSnapshot* b) {
    return std::tie(a->cluster, a->name, a->start_time_ms) <
           std::tie(b->cluster, b->name, b->start_time_ms);
  });
  for (const JobSnapshot* j : jobs) {
    const std::string status =
        j->status.freshness == Freshness::kStale ? "~" + j->status_text : j->status_text;
    const std::string tasks =
        Cell(j->all_tasks_running, [](bool b) { return std::string(b ? "all" : "no"); });
    const std::string restarts =
        Cell(j->restarts, [](std::int64_t v) { return std::to_string(v); });
    const std::string age =
        (j->checkpoint_age_upper_bound ? "<=" : "") + Cell(j->checkpoint_age_ms, Seconds);
    const std::string qps = Cell(j->qps, Num);
    const std::string bp = Cell(j->backpressure, Num);
    const std::string cp = Cell(j->last_checkpoint, [](const RestorePoint& p) { return p.path; });
    // Job names can be hundreds of characters (Flink SQL names jobs after their statement):
    // snprintf cuts such a row, so the newline is added after it, or two rows would run together.
    std::snprintf(line, sizeof(line), "%-14s %-24s %-9s %-12s %-6s %-8s %-8s %-8s %-6s %s",
                  j->cluster.c_str(), j->name.c_str(), j->job_id.substr(0, 8).c_str(),
                  status.c_str(), tasks.c_str(), restarts.c_str(), age.c_str(), qps.c_str(),
                  bp.c_str(), cp.c_str());
    out << line << '\n';
  }
  if (!o.problems.empty()) {
    out << "\n" << o.problems.size() << " problem(s):\n";
    for (const std::string& p : o.problems) out << "  " << p << "\n";
  }
  out << "\n~ stale (last known value), ? unknown; " << o.requests << " requests in "
      << Num(static_cast<double>(o.duration_us) / 1000.0) << " ms\n";
  return out.str();
}

}  // namespace flinkguard
