#include "agent/flink/flink_parse.h"

#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <sstream>

#include "agent/flink/json_reader.h"

namespace flinkguard {
namespace {


// Turns Flink's -1 "not set" sentinel into std::nullopt.
std::optional<std::int64_t> Sentinel(std::optional<std::int64_t> v) {
  if (v && *v < 0) return std::nullopt;
  return v;
}

int ToInt(std::optional<std::int64_t> v) {
  if (!v) return 0;
  if (*v > INT32_MAX) return INT32_MAX;
  if (*v < INT32_MIN) return INT32_MIN;
  return static_cast<int>(*v);
}

std::string Index(const std::string& path, rapidjson::SizeType i) {
  return path + "[" + std::to_string(i) + "]";
}

Result<rapidjson::Document> ParseObjectBody(std::string_view body, const std::string& context) {
  auto doc = ParseJsonBody(body, context);
  if (!doc) return doc;
  if (!doc->IsObject()) {
    return Fail(Error::Invalid(context + ": expected a JSON object, found " +
                               JsonTypeName(*doc)));
  }
  return doc;
}

Result<rapidjson::Document> ParseArrayBody(std::string_view body, const std::string& context) {
  auto doc = ParseJsonBody(body, context);
  if (!doc) return doc;
  if (!doc->IsArray()) {
    return Fail(Error::Invalid(context + ": expected a JSON array, found " +
                               JsonTypeName(*doc)));
  }
  return doc;
}

std::map<std::string, int> ReadCounts(JsonReader& r, const rapidjson::Value* obj,
                                      const std::string& path) {
  std::map<std::string, int> out;
  if (obj == nullptr) return out;
  for (auto it = obj->MemberBegin(); it != obj->MemberEnd(); ++it) {
    const std::string key(it->name.GetString(), it->name.GetStringLength());
    if (it->value.IsInt64()) {
      out[key] = ToInt(it->value.GetInt64());
    } else {
      r.Problem(path + "." + key, std::string("expected an integer, found ") +
                                      JsonTypeName(it->value));
    }
  }
  return out;
}

std::optional<JobStatus> ReadState(JsonReader& r, const rapidjson::Value& obj,
                                   std::string_view key, const std::string& path,
                                   std::string& text_out) {
  auto text = r.String(obj, key, path, /*required=*/true);
  if (!text) return std::nullopt;
  text_out = *text;
  auto s = ParseJobStatus(*text);
  // An unknown state is kept as text and reported by the caller's logic, not here: a newer
  // Flink may add states, and that must not make the whole job unreadable.
  return s;
}

CheckpointEntry ReadCheckpointEntry(JsonReader& r, const rapidjson::Value& v,
                                    const std::string& path) {
  CheckpointEntry e;
  if (auto k = r.String(v, "className", path)) {
    e.kind = *k;
  } else if (auto k2 = r.String(v, "@class", path)) {
    e.kind = *k2;  // Flink before 1.15
  }
  e.id = r.Int(v, "id", path, true).value_or(0);
  e.status = r.String(v, "status", path).value_or("");
  e.is_savepoint = r.Bool(v, "is_savepoint", path).value_or(false);
  e.checkpoint_type = r.String(v, "checkpoint_type", path).value_or("");
  e.trigger_timestamp = r.Int(v, "trigger_timestamp", path).value_or(0);
  e.latest_ack_timestamp = Sentinel(r.Int(v, "latest_ack_timestamp", path));
  e.end_to_end_duration = Sentinel(r.Int(v, "end_to_end_duration", path));
  e.external_path = r.String(v, "external_path", path).value_or("");
  e.discarded = r.Bool(v, "discarded", path).value_or(false);
  e.failure_timestamp = Sentinel(r.Int(v, "failure_timestamp", path));
  e.failure_message = r.String(v, "failure_message", path).value_or("");
  if (e.kind.empty()) {
    // No discriminator: infer from status, as a lenient reader of odd proxies must.
    if (e.status == "COMPLETED") e.kind = "completed";
    else if (e.status == "FAILED") e.kind = "failed";
    else if (e.status == "IN_PROGRESS") e.kind = "in_progress";
  }
  return e;
}

}  // namespace

std::optional<FlinkVersion> ParseFlinkVersion(const std::string& text) {
  FlinkVersion v;
  v.text = text;
  const char* p = text.data();
  const char* end = p + text.size();
  auto r1 = std::from_chars(p, end, v.major);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '.') return std::nullopt;
  auto r2 = std::from_chars(r1.ptr + 1, end, v.minor);
  if (r2.ec != std::errc()) return std::nullopt;
  return v;
}

bool JobOverview::AllTasksRunning() const {
  auto get = [this](const char* k) {
    auto it = tasks.find(k);
    return it == tasks.end() ? 0 : it->second;
  };
  const int total = get("total");
  return total > 0 && get("running") + get("finished") == total;
}

bool CheckpointEntry::ExternallyAddressable() const {
  return !external_path.empty() && external_path != kNotAddressablePath;
}

std::optional<double> MetricEntry::AsDouble() const {
  if (!value) return std::nullopt;
  return ParseFlinkDouble(*value);
}

std::string RootException::FirstLines(int n) const {
  std::istringstream in(stacktrace);
  std::string line;
  std::string out;
  for (int i = 0; i < n && std::getline(in, line); ++i) {
    if (i > 0) out += '\n';
    out += line;
  }
  return out;
}

Result<DashboardConfig> ParseDashboardConfig(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  DashboardConfig c;
  if (auto v = r.String(*doc, "flink-version", "$", true)) {
    c.version = ParseFlinkVersion(*v);
    if (!c.version) r.Problem("$.flink-version", "expected major.minor[...], found '" + *v + "'");
  }
  c.revision = r.String(*doc, "flink-revision", "$").value_or("");
  c.refresh_interval_ms = r.Int(*doc, "refresh-interval", "$").value_or(0);
  if (const auto* f = r.Object(*doc, "features", "$")) {
    c.web_submit = r.Bool(*f, "web-submit", "$.features").value_or(false);
    c.web_cancel = r.Bool(*f, "web-cancel", "$.features");
  }
  if (!r.ok()) return Fail(r.ToError());
  return c;
}

Result<ClusterOverview> ParseClusterOverview(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  ClusterOverview o;
  o.taskmanagers = ToInt(r.Int(*doc, "taskmanagers", "$", true));
  o.slots_total = ToInt(r.Int(*doc, "slots-total", "$", true));
  o.slots_available = ToInt(r.Int(*doc, "slots-available", "$", true));
  o.jobs_running = ToInt(r.Int(*doc, "jobs-running", "$"));
  o.jobs_finished = ToInt(r.Int(*doc, "jobs-finished", "$"));
  o.jobs_cancelled = ToInt(r.Int(*doc, "jobs-cancelled", "$"));
  o.jobs_failed = ToInt(r.Int(*doc, "jobs-failed", "$"));
  o.flink_version = r.String(*doc, "flink-version", "$").value_or("");
  if (!r.ok()) return Fail(r.ToError());
  return o;
}

Result<Parsed<JobOverview>> ParseJobsOverview(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader top(context);
  const rapidjson::Value* jobs = top.Array(*doc, "jobs", "$", true);
  if (jobs == nullptr) return Fail(top.ToError());
  Parsed<JobOverview> out;
  for (rapidjson::SizeType i = 0; i < jobs->Size(); ++i) {
    const std::string path = Index("$.jobs", i);
    const rapidjson::Value& j = (*jobs)[i];
    JsonReader r(context);
    if (!j.IsObject()) {
      out.problems.push_back(path + ": expected an object, found " + JsonTypeName(j));
      continue;
    }
    JobOverview o;
    o.id = r.String(j, "jid", path, true).value_or("");
    o.name = r.String(j, "name", path, true).value_or("");
    o.state = ReadState(r, j, "state", path, o.state_text);
    o.start_time = r.Int(j, "start-time", path).value_or(0);
    o.end_time = Sentinel(r.Int(j, "end-time", path));
    o.duration = r.Int(j, "duration", path).value_or(0);
    o.last_modification = r.Int(j, "last-modification", path).value_or(0);
    o.tasks = ReadCounts(r, r.Object(j, "tasks", path), path + ".tasks");
    if (!r.ok()) {
      for (const std::string& p : r.problems()) out.problems.push_back(p);
      if (o.id.empty() || o.state_text.empty()) continue;  // unusable without id and state
    }
    out.items.push_back(std::move(o));
  }
  return out;
}

Result<JobDetails> ParseJobDetails(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  JobDetails d;
  d.id = r.String(*doc, "jid", "$", true).value_or("");
  d.name = r.String(*doc, "name", "$", true).value_or("");
  d.state = ReadState(r, *doc, "state", "$", d.state_text);
  d.start_time = r.Int(*doc, "start-time", "$").value_or(0);
  d.end_time = Sentinel(r.Int(*doc, "end-time", "$"));
  d.duration = r.Int(*doc, "duration", "$").value_or(0);
  d.now = r.Int(*doc, "now", "$").value_or(0);
  d.job_type = r.String(*doc, "job-type", "$");
  if (const auto* ts = r.Object(*doc, "timestamps", "$")) {
    for (auto it = ts->MemberBegin(); it != ts->MemberEnd(); ++it) {
      if (it->value.IsInt64()) d.timestamps[it->name.GetString()] = it->value.GetInt64();
    }
  }
  if (const auto* vs = r.Array(*doc, "vertices", "$")) {
    for (rapidjson::SizeType i = 0; i < vs->Size(); ++i) {
      const std::string path = Index("$.vertices", i);
      const rapidjson::Value& v = (*vs)[i];
      if (!v.IsObject()) {
        r.Problem(path, std::string("expected an object, found ") + JsonTypeName(v));
        continue;
      }
      VertexInfo vi;
      vi.id = r.String(v, "id", path, true).value_or("");
      vi.name = r.String(v, "name", path).value_or("");
      vi.parallelism = ToInt(r.Int(v, "parallelism", path));
      vi.status = r.String(v, "status", path).value_or("");
      vi.tasks = ReadCounts(r, r.Object(v, "tasks", path), path + ".tasks");
      if (const auto* m = r.Object(v, "metrics", path)) {
        const std::string mp = path + ".metrics";
        vi.read_records = r.Int(*m, "read-records", mp);
        vi.write_records = r.Int(*m, "write-records", mp);
        vi.accumulated_backpressured_ms = r.Int(*m, "accumulated-backpressured-time", mp);
        vi.accumulated_busy_ms = r.Number(*m, "accumulated-busy-time", mp);
      }
      d.vertices.push_back(std::move(vi));
    }
  }
  if (!r.ok()) return Fail(r.ToError());
  return d;
}

Result<CheckpointStats> ParseCheckpointStats(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  CheckpointStats s;
  if (const auto* c = r.Object(*doc, "counts", "$", true)) {
    s.restored = r.Int(*c, "restored", "$.counts").value_or(0);
    s.total = r.Int(*c, "total", "$.counts").value_or(0);
    s.in_progress = r.Int(*c, "in_progress", "$.counts").value_or(0);
    s.completed = r.Int(*c, "completed", "$.counts").value_or(0);
    s.failed = r.Int(*c, "failed", "$.counts").value_or(0);
  }
  if (const auto* latest = r.Object(*doc, "latest", "$")) {
    if (const auto* v = r.Object(*latest, "completed", "$.latest")) {
      s.latest_completed = ReadCheckpointEntry(r, *v, "$.latest.completed");
    }
    if (const auto* v = r.Object(*latest, "savepoint", "$.latest")) {
      s.latest_savepoint = ReadCheckpointEntry(r, *v, "$.latest.savepoint");
    }
    if (const auto* v = r.Object(*latest, "failed", "$.latest")) {
      s.latest_failed = ReadCheckpointEntry(r, *v, "$.latest.failed");
    }
    if (const auto* v = r.Object(*latest, "restored", "$.latest")) {
      RestoredCheckpoint rc;
      rc.id = r.Int(*v, "id", "$.latest.restored").value_or(0);
      rc.restore_timestamp = r.Int(*v, "restore_timestamp", "$.latest.restored").value_or(0);
      rc.is_savepoint = r.Bool(*v, "is_savepoint", "$.latest.restored").value_or(false);
      rc.external_path = r.String(*v, "external_path", "$.latest.restored").value_or("");
      s.latest_restored = rc;
    }
  }
  if (!r.ok()) return Fail(r.ToError());
  // History problems do not invalidate the latest.* facts the agent relies on.
  if (const rapidjson::Value* h = JsonReader::Find(*doc, "history"); h && h->IsArray()) {
    for (rapidjson::SizeType i = 0; i < h->Size(); ++i) {
      const std::string path = Index("$.history", i);
      JsonReader hr(context);
      if (!(*h)[i].IsObject()) {
        s.problems.push_back(path + ": expected an object");
        continue;
      }
      CheckpointEntry e = ReadCheckpointEntry(hr, (*h)[i], path);
      for (const std::string& p : hr.problems()) s.problems.push_back(p);
      if (hr.ok()) s.history.push_back(std::move(e));
    }
  }
  return s;
}

Result<CheckpointConfigInfo> ParseCheckpointConfig(std::string_view body,
                                                   const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  CheckpointConfigInfo c;
  c.mode = r.String(*doc, "mode", "$").value_or("");
  c.interval_ms = r.Int(*doc, "interval", "$", true).value_or(0);
  c.timeout_ms = r.Int(*doc, "timeout", "$", true).value_or(0);
  c.min_pause_ms = r.Int(*doc, "min_pause", "$").value_or(0);
  c.max_concurrent = r.Int(*doc, "max_concurrent", "$").value_or(0);
  if (const auto* e = r.Object(*doc, "externalization", "$")) {
    c.externalization_enabled = r.Bool(*e, "enabled", "$.externalization").value_or(false);
    c.delete_on_cancellation =
        r.Bool(*e, "delete_on_cancellation", "$.externalization").value_or(true);
  }
  c.tolerable_failed_checkpoints = r.Int(*doc, "tolerable_failed_checkpoints", "$").value_or(0);
  c.state_backend = r.String(*doc, "state_backend", "$").value_or("");
  if (!r.ok()) return Fail(r.ToError());
  return c;
}

Result<std::vector<MetricEntry>> ParseMetricList(std::string_view body,
                                                 const std::string& context) {
  auto doc = ParseArrayBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  std::vector<MetricEntry> out;
  out.reserve(doc->Size());
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    const std::string path = Index("$", i);
    const rapidjson::Value& m = (*doc)[i];
    auto id = r.String(m, "id", path, true);
    if (!id) continue;
    out.push_back({*id, r.String(m, "value", path)});
  }
  if (!r.ok()) return Fail(r.ToError());
  return out;
}

Result<std::vector<AggregatedMetric>> ParseAggregatedMetrics(std::string_view body,
                                                             const std::string& context) {
  auto doc = ParseArrayBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  std::vector<AggregatedMetric> out;
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    const std::string path = Index("$", i);
    const rapidjson::Value& m = (*doc)[i];
    auto id = r.String(m, "id", path, true);
    if (!id) continue;
    AggregatedMetric a;
    a.id = *id;
    a.min = r.Number(m, "min", path);
    a.max = r.Number(m, "max", path);
    a.avg = r.Number(m, "avg", path);
    a.sum = r.Number(m, "sum", path);
    a.skew = r.Number(m, "skew", path);
    out.push_back(std::move(a));
  }
  if (!r.ok()) return Fail(r.ToError());
  return out;
}

namespace {

// SAX handlers for a bare array of flat objects ({"id": ..., ...}). Each accepts only the shape
// the agent expects — the array, objects in it, the wanted keys with the wanted types (the first
// occurrence of a key wins, as FindMember does) — and stops at anything else, so the caller can
// fall back to the document parser for the exact result or Error.
template <typename Derived>
class FlatObjectArrayHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Derived> {
 public:
  bool Default() { return depth_ == 2 ? !Wanted() : depth_ > 2; }
  bool Null() {
    if (depth_ != 2) return depth_ > 2;
    return static_cast<Derived*>(this)->OnNull();
  }
  bool String(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (depth_ != 2) return depth_ > 2;
    return static_cast<Derived*>(this)->OnString(std::string_view(s, n));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (depth_ == 2) key_ = static_cast<Derived*>(this)->KeyIndex(std::string_view(s, n));
    return true;
  }
  bool StartObject() {
    if (depth_ == 0 || (depth_ == 2 && Wanted())) return false;
    if (depth_ == 1) static_cast<Derived*>(this)->BeginEntry();
    ++depth_;
    return true;
  }
  bool EndObject(rapidjson::SizeType /*members*/) {
    --depth_;
    return depth_ != 1 || static_cast<Derived*>(this)->EndEntry();
  }
  bool StartArray() {
    if (depth_ == 1 || (depth_ == 2 && Wanted())) return false;
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType /*elements*/) {
    --depth_;
    return true;
  }
  bool Number(double v) {
    if (depth_ != 2) return depth_ > 2;
    return static_cast<Derived*>(this)->OnNumber(v);
  }
  bool Int(int v) { return Number(static_cast<double>(v)); }
  bool Uint(unsigned v) { return Number(static_cast<double>(v)); }
  bool Int64(std::int64_t v) { return Number(static_cast<double>(v)); }
  bool Uint64(std::uint64_t v) { return Number(static_cast<double>(v)); }
  bool Double(double v) { return Number(v); }

 protected:
  bool Wanted() const { return key_ >= 0; }
  int key_ = -1;  // index of the current key among the wanted ones; -1: not wanted

 private:
  int depth_ = 0;  // 1: in the top-level array, 2: in one of its objects, 3+: nested deeper
};

class MetricListHandler : public FlatObjectArrayHandler<MetricListHandler> {
 public:
  std::vector<MetricEntry> out;

  int KeyIndex(std::string_view k) const { return k == "id" ? 0 : (k == "value" ? 1 : -1); }
  void BeginEntry() {
    entry_ = MetricEntry{};
    seen_id_ = seen_value_ = false;
  }
  bool EndEntry() {
    if (!seen_id_) return false;
    out.push_back(std::move(entry_));
    return true;
  }
  bool OnNull() {
    if (key_ == 0) return false;  // a null id is missing: the document parser says so
    if (key_ == 1) seen_value_ = true;
    return true;
  }
  bool OnString(std::string_view v) {
    if (key_ == 0 && !seen_id_) {
      entry_.id.assign(v);
      seen_id_ = true;
    } else if (key_ == 1 && !seen_value_) {
      entry_.value = std::string(v);
      seen_value_ = true;
    }
    return true;
  }
  bool OnNumber(double /*v*/) { return !Wanted(); }  // values are strings on the wire

 private:
  MetricEntry entry_;
  bool seen_id_ = false;
  bool seen_value_ = false;
};

class AggregatedHandler : public FlatObjectArrayHandler<AggregatedHandler> {
 public:
  std::vector<AggregatedMetric> out;

  int KeyIndex(std::string_view k) const {
    static constexpr std::string_view kKeys[] = {"id", "min", "max", "avg", "sum", "skew"};
    for (int i = 0; i < 6; ++i) {
      if (k == kKeys[i]) return i;
    }
    return -1;
  }
  void BeginEntry() {
    entry_ = AggregatedMetric{};
    seen_ = 0;
  }
  bool EndEntry() {
    if ((seen_ & 1U) == 0) return false;
    out.push_back(std::move(entry_));
    return true;
  }
  bool OnNull() {
    if (key_ == 0) return false;
    if (key_ > 0) seen_ |= 1U << key_;
    return true;
  }
  bool OnString(std::string_view v) {
    if (key_ == 0) {
      if ((seen_ & 1U) == 0) entry_.id.assign(v);
      seen_ |= 1U;
      return true;
    }
    return !Wanted();  // "NaN" and friends as strings: left to the document parser
  }
  bool OnNumber(double v) {
    if (key_ == 0) return false;
    if (key_ > 0 && (seen_ & (1U << key_)) == 0) {
      std::optional<double>* fields[] = {nullptr,     &entry_.min, &entry_.max,
                                         &entry_.avg, &entry_.sum, &entry_.skew};
      *fields[key_] = v;
      seen_ |= 1U << key_;
    }
    return true;
  }

 private:
  AggregatedMetric entry_;
  unsigned seen_ = 0;  // bit per key index: its first occurrence was read
};

template <typename Handler>
bool Scan(std::string_view body, Handler& handler) {
  rapidjson::MemoryStream ms(body.data(), body.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  rapidjson::Reader reader;
  return !reader.Parse<rapidjson::kParseNanAndInfFlag>(is, handler).IsError();
}

}  // namespace

Result<std::vector<MetricEntry>> ScanMetricList(std::string_view body, const std::string& context) {
  MetricListHandler h;
  if (!body.empty() && Scan(body, h)) return std::move(h.out);
  return ParseMetricList(body, context);
}

Result<std::vector<AggregatedMetric>> ScanAggregatedMetrics(std::string_view body,
                                                            const std::string& context) {
  AggregatedHandler h;
  if (!body.empty() && Scan(body, h)) return std::move(h.out);
  return ParseAggregatedMetrics(body, context);
}

Result<std::optional<RootException>> ParseRootException(std::string_view body,
                                                        const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  // exceptionHistory.entries[0] is the newest root cause on every version since 1.13.
  if (const auto* hist = r.Object(*doc, "exceptionHistory", "$")) {
    if (const auto* entries = r.Array(*hist, "entries", "$.exceptionHistory")) {
      if (entries->Size() > 0) {
        const rapidjson::Value& e = (*entries)[0];
        const std::string path = "$.exceptionHistory.entries[0]";
        RootException x;
        x.exception_name = r.String(e, "exceptionName", path).value_or("");
        x.stacktrace = r.String(e, "stacktrace", path).value_or("");
        x.timestamp = Sentinel(r.Int(e, "timestamp", path));
        x.task_name = r.String(e, "taskName", path).value_or("");
        x.endpoint = r.String(e, "endpoint", path).value_or("");
        if (x.endpoint.empty()) x.endpoint = r.String(e, "location", path).value_or("");
        if (const auto* labels = r.Object(e, "failureLabels", path)) {
          for (auto it = labels->MemberBegin(); it != labels->MemberEnd(); ++it) {
            if (it->value.IsString()) {
              x.failure_labels[it->name.GetString()] = it->value.GetString();
            }
          }
        }
        if (!r.ok()) return Fail(r.ToError());
        return std::optional<RootException>(std::move(x));
      }
    }
  }
  // Before 2.0 the legacy field may hold a root cause that the history does not (yet).
  if (auto legacy = r.String(*doc, "root-exception", "$")) {
    RootException x;
    x.stacktrace = *legacy;
    x.exception_name = legacy->substr(0, legacy->find_first_of(":\n"));
    x.timestamp = Sentinel(r.Int(*doc, "timestamp", "$"));
    if (!r.ok()) return Fail(r.ToError());
    return std::optional<RootException>(std::move(x));
  }
  if (!r.ok()) return Fail(r.ToError());
  return std::optional<RootException>();
}

Result<SavepointStatus> ParseSavepointStatus(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  SavepointStatus s;
  std::string id;
  if (const auto* st = r.Object(*doc, "status", "$", true)) {
    id = r.String(*st, "id", "$.status", true).value_or("");
  }
  if (!r.ok()) return Fail(r.ToError());
  if (id == "IN_PROGRESS") {
    s.in_progress = true;
    return s;
  }
  if (id != "COMPLETED") {
    return Fail(Error::Invalid(context + ": $.status.id: expected IN_PROGRESS or COMPLETED, found '" +
                               id + "'"));
  }
  // COMPLETED also means "failed": Flink reports a failure as COMPLETED + failure-cause.
  const rapidjson::Value* op = r.Object(*doc, "operation", "$", true);
  if (op != nullptr) {
    if (const auto* cause = r.Object(*op, "failure-cause", "$.operation")) {
      s.failure_class = r.String(*cause, "class", "$.operation.failure-cause").value_or("unknown");
      s.failure_stacktrace = r.String(*cause, "stack-trace", "$.operation.failure-cause").value_or("");
    } else {
      s.location = r.String(*op, "location", "$.operation", true);
    }
  }
  if (!r.ok()) return Fail(r.ToError());
  return s;
}

Result<std::string> ParseTriggerId(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  auto id = r.String(*doc, "request-id", "$", true);
  if (!id) return Fail(r.ToError());
  return *id;
}

Result<std::string> ParseJarRunJobId(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  auto id = r.String(*doc, "jobid", "$", true);
  if (!id) return Fail(r.ToError());
  return *id;
}

Result<std::string> ParseJarUploadId(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  auto status = r.String(*doc, "status", "$");
  auto filename = r.String(*doc, "filename", "$", true);
  if (!r.ok()) return Fail(r.ToError());
  if (status && *status != "success") {
    return Fail(Error::Invalid(context + ": upload status is '" + *status + "', not success"));
  }
  const auto slash = filename->find_last_of('/');
  std::string id = slash == std::string::npos ? *filename : filename->substr(slash + 1);
  if (id.empty()) return Fail(Error::Invalid(context + ": $.filename has no file name"));
  return id;
}

Result<Parsed<JarInfo>> ParseJars(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader top(context);
  const auto* files = top.Array(*doc, "files", "$", true);
  if (files == nullptr) return Fail(top.ToError());
  Parsed<JarInfo> out;
  for (rapidjson::SizeType i = 0; i < files->Size(); ++i) {
    const std::string path = Index("$.files", i);
    JsonReader r(context);
    const rapidjson::Value& f = (*files)[i];
    JarInfo j;
    j.id = r.String(f, "id", path, true).value_or("");
    j.name = r.String(f, "name", path).value_or("");
    j.uploaded = r.Int(f, "uploaded", path).value_or(0);
    if (const auto* entries = r.Array(f, "entry", path)) {
      for (rapidjson::SizeType k = 0; k < entries->Size(); ++k) {
        if (auto n = r.String((*entries)[k], "name", Index(path + ".entry", k))) {
          j.entry_classes.push_back(*n);
        }
      }
    }
    for (const std::string& p : r.problems()) out.problems.push_back(p);
    if (!j.id.empty()) out.items.push_back(std::move(j));
  }
  return out;
}

Result<Parsed<TaskManagerInfo>> ParseTaskManagers(std::string_view body,
                                                  const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader top(context);
  const auto* tms = top.Array(*doc, "taskmanagers", "$", true);
  if (tms == nullptr) return Fail(top.ToError());
  Parsed<TaskManagerInfo> out;
  for (rapidjson::SizeType i = 0; i < tms->Size(); ++i) {
    const std::string path = Index("$.taskmanagers", i);
    JsonReader r(context);
    const rapidjson::Value& t = (*tms)[i];
    TaskManagerInfo tm;
    tm.id = r.String(t, "id", path, true).value_or("");
    tm.slots = ToInt(r.Int(t, "slotsNumber", path));
    tm.free_slots = ToInt(r.Int(t, "freeSlots", path));
    tm.last_heartbeat = r.Int(t, "timeSinceLastHeartbeat", path).value_or(0);
    for (const std::string& p : r.problems()) out.problems.push_back(p);
    if (!tm.id.empty()) out.items.push_back(std::move(tm));
  }
  return out;
}

Result<std::vector<std::string>> ParseErrorBody(std::string_view body, const std::string& context) {
  auto doc = ParseObjectBody(body, context);
  if (!doc) return Fail(doc.error());
  JsonReader r(context);
  const auto* errors = r.Array(*doc, "errors", "$", true);
  if (errors == nullptr) return Fail(r.ToError());
  std::vector<std::string> out;
  for (rapidjson::SizeType i = 0; i < errors->Size(); ++i) {
    if ((*errors)[i].IsString()) out.emplace_back((*errors)[i].GetString());
  }
  return out;
}

}  // namespace flinkguard
