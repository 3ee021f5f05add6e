#include "agent/savepoints.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/executor.h"
#include "agent/flink/flink_parse.h"

namespace flinkguard {

struct SavepointDriver::Run {
  SavepointRecord record;
  std::string target_directory;
  bool stop = false;
  bool triggered = false;  // Flink accepted the trigger; now polling
  std::int64_t started_ms = 0;
  std::int64_t deadline_ms = 0;   // the whole savepoint
  std::int64_t grace_end_ms = 0;  // transient trigger errors are retried until then
  std::int64_t next_at_ms = 0;
  std::string last_error;
  bool ended = false;
};

namespace {

// The trigger id sent with the request: derived from the savepoint's row id, so a trigger that
// is retried (its reply lost) is the same operation to Flink rather than a second savepoint.
std::string TriggerIdFor(std::int64_t row_id, const std::string& job) {
  return Executor::DerivedJobId("savepoint/" + std::to_string(row_id) + "/" + job);
}

std::string TriggerBody(const SavepointDriver::Run& run) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (run.stop) {
    w.Key("drain");
    w.Bool(false);
    if (!run.target_directory.empty()) {
      w.Key("targetDirectory");
      w.String(run.target_directory.c_str());
    }
  } else {
    w.Key("cancel-job");
    w.Bool(false);
    if (!run.target_directory.empty()) {
      w.Key("target-directory");
      w.String(run.target_directory.c_str());
    }
  }
  w.Key("triggerId");
  w.String(run.record.trigger_id.c_str());
  w.EndObject();
  return buf.GetString();
}

std::string TriggerPath(const SavepointDriver::Run& run) {
  return "/jobs/" + run.record.job_id + (run.stop ? "/stop" : "/savepoints");
}

std::string StatusPath(const SavepointDriver::Run& run) {
  return "/jobs/" + run.record.job_id + "/savepoints/" + run.record.trigger_id;
}

}  // namespace

SavepointDriver::SavepointDriver(HttpTransport& transport, std::vector<FlinkEndpoint> clusters,
                                 EventLog& events, RestorePointCatalog& catalog,
                                 ActionFence* fence, SavepointOptions options)
    : transport_(transport),
      events_(events),
      catalog_(catalog),
      fence_(fence),
      options_(options) {
  for (FlinkEndpoint& e : clusters) {
    std::string name = e.cluster;
    clusters_.emplace(std::move(name), FlinkRestClient(std::move(e)));
  }
}

SavepointDriver::~SavepointDriver() = default;

Result<std::int64_t> SavepointDriver::Start(const SavepointRequest& request,
                                            std::int64_t now_ms) {
  if (clusters_.count(request.cluster) == 0) {
    return Fail(Error::Invalid("savepoint of " + request.job + ": unknown cluster '" +
                               request.cluster + "'"));
  }
  if (InFlight(request.job)) {
    return Fail(Error::Conflict("savepoint of " + request.job + ": one is already under way"));
  }
  auto run = std::make_unique<Run>();
  run->record.job = request.job;
  run->record.cluster = request.cluster;
  run->record.job_id = request.job_id;
  run->record.origin = request.origin;
  run->record.requested_ms = now_ms;
  run->record.status = "pending";
  run->target_directory = request.target_directory;
  run->stop = request.stop;
  // Recorded before the first request so that a crash between trigger and record cannot leave
  // a savepoint nobody knows about; the trigger id is derived from the row id.
  Result<std::int64_t> id = events_.RecordSavepoint(run->record);
  if (!id) {
    return Fail(Error{id.error().kind,
                      "savepoint of " + request.job + " not started: " + id.error().message});
  }
  run->record.id = *id;
  run->record.trigger_id = TriggerIdFor(*id, request.job);
  if (auto again = events_.RecordSavepoint(run->record); !again) {
    return Fail(Error{again.error().kind,
                      "savepoint of " + request.job + " not started: " + again.error().message});
  }
  run->started_ms = now_ms;
  run->deadline_ms = now_ms + request.timeout_ms;
  run->grace_end_ms = now_ms + options_.trigger_grace_ms;
  run->next_at_ms = now_ms;
  spdlog::info("{}: savepoint of {} on {} requested ({}{})", request.job, request.job_id,
               request.cluster, request.origin, request.stop ? ", stopping the job with it" : "");
  runs_.push_back(std::move(run));
  return *id;
}

Result<int> SavepointDriver::Resume(std::int64_t now_ms, std::int64_t max_age_ms) {
  auto pending = events_.Savepoints("", now_ms - 30LL * 24 * 3'600'000);
  if (!pending) return Fail(pending.error());
  int resumed = 0;
  for (SavepointRecord& rec : *pending) {
    if (rec.status != "pending") continue;
    if (InFlight(rec.job)) continue;
    const bool can_poll = !rec.trigger_id.empty() && clusters_.count(rec.cluster) != 0 &&
                          now_ms - rec.requested_ms <= max_age_ms;
    auto run = std::make_unique<Run>();
    run->record = rec;
    run->triggered = true;  // a trigger with its id may have reached Flink: ask for the result
    run->started_ms = rec.requested_ms;
    run->deadline_ms = std::max(now_ms, rec.requested_ms + max_age_ms);
    run->grace_end_ms = now_ms;
    run->next_at_ms = now_ms;
    if (!can_poll) {
      End(*run, "failed", "the agent restarted before the result was known", now_ms);
      continue;
    }
    runs_.push_back(std::move(run));
    ++resumed;
  }
  return resumed;
}

bool SavepointDriver::InFlight(const std::string& job) const {
  return std::any_of(runs_.begin(), runs_.end(),
                     [&](const auto& r) { return !r->ended && r->record.job == job; });
}

std::optional<std::int64_t> SavepointDriver::NextDue() const {
  std::optional<std::int64_t> due;
  for (const auto& r : runs_) {
    if (!r->ended) due = due ? std::min(*due, r->next_at_ms) : r->next_at_ms;
  }
  return due;
}

std::vector<SavepointRecord> SavepointDriver::TakeEnded() {
  std::vector<SavepointRecord> out;
  out.swap(ended_);
  return out;
}

void SavepointDriver::Tick(std::int64_t now_ms) {
  RequestBatch batch;
  std::vector<std::pair<Run*, std::shared_ptr<Result<HttpResponse>>>> sent;
  for (auto& run_ptr : runs_) {
    Run& run = *run_ptr;
    if (run.ended || run.next_at_ms > now_ms) continue;
    if (now_ms >= run.deadline_ms) {
      End(run, "failed",
          "no result within " + std::to_string((run.deadline_ms - run.started_ms) / 1000) + " s" +
              (run.last_error.empty() ? "" : " (last: " + run.last_error + ")"),
          now_ms);
      continue;
    }
    if (run.stop && !run.triggered && fence_ != nullptr) {
      if (auto ok = fence_->Check(run.record.job, "stop"); !ok) {
        End(run, "failed", "not stopped: " + ok.error().message, now_ms);
        continue;
      }
    }
    const FlinkRestClient& client = clusters_.at(run.record.cluster);
    HttpRequest req = run.triggered ? client.Request("GET", StatusPath(run))
                                    : client.Request("POST", TriggerPath(run), TriggerBody(run));
    auto reply = std::make_shared<Result<HttpResponse>>(Fail(Error::Transient("no reply")));
    batch.Add(std::move(req), [reply](Result<HttpResponse> r) { *reply = std::move(r); });
    sent.emplace_back(&run, reply);
  }
  if (!sent.empty()) transport_.Run(batch);
  for (auto& [run, reply] : sent) Handle(*run, std::move(*reply), now_ms);
  runs_.erase(std::remove_if(runs_.begin(), runs_.end(), [](const auto& r) { return r->ended; }),
              runs_.end());
}

void SavepointDriver::Handle(Run& run, Result<HttpResponse> reply, std::int64_t now_ms) {
  const FlinkRestClient& client = clusters_.at(run.record.cluster);
  const std::int64_t poll =
      now_ms - run.started_ms < 2'000 ? 250 : std::max<std::int64_t>(options_.poll_interval_ms, 1);
  if (!run.triggered) {
    const std::string path = TriggerPath(run);
    auto trigger = client.Handle("POST", path, std::move(reply), ParseTriggerId);
    if (trigger) {
      run.triggered = true;
      // Flink answers with its request id; ours was derived, but trust the answer.
      if (!trigger->empty() && *trigger != run.record.trigger_id) {
        run.record.trigger_id = *trigger;
        (void)events_.RecordSavepoint(run.record);
      }
      run.next_at_ms = now_ms + 250;
      return;
    }
    run.last_error = trigger.error().message;
    if (trigger.error().kind == ErrorKind::kTransient && now_ms < run.grace_end_ms) {
      run.next_at_ms = now_ms + poll;
      return;
    }
    End(run, "failed", "trigger refused: " + trigger.error().message, now_ms);
    return;
  }
  const std::string path = StatusPath(run);
  auto status = client.Handle("GET", path, std::move(reply), ParseSavepointStatus);
  if (!status) {
    run.last_error = status.error().message;
    if (status.error().kind == ErrorKind::kTransient) {
      run.next_at_ms = now_ms + poll;
      return;
    }
    End(run, "failed", "status unknown: " + status.error().message, now_ms);
    return;
  }
  if (status->in_progress) {
    run.next_at_ms = now_ms + poll;
    return;
  }
  if (status->failure_class || !status->location) {
    // Flink reports a failed savepoint as COMPLETED with a failure cause.
    End(run, "failed", status->failure_class.value_or("Flink returned no location"), now_ms);
    return;
  }
  End(run, "completed", *status->location, now_ms);
}

void SavepointDriver::End(Run& run, const std::string& status, const std::string& path_or_error,
                          std::int64_t now_ms) {
  run.ended = true;
  if (run.stop && fence_ != nullptr) fence_->Release(run.record.job);
  run.record.status = status;
  run.record.completed_ms = now_ms;
  if (status == "completed") {
    run.record.path = path_or_error;
    run.record.error.clear();
  } else {
    run.record.error = path_or_error;
  }
  if (auto r = events_.RecordSavepoint(run.record); !r) {
    spdlog::warn("{}: savepoint outcome not recorded: {}", run.record.job, r.error().message);
  }
  if (status == "completed") {
    KnownRestorePoint kp;
    kp.job = run.record.job;
    kp.cluster = run.record.cluster;
    kp.job_id = run.record.job_id;
    kp.point.kind = RestorePoint::Kind::kSavepoint;
    kp.point.path = run.record.path;
    kp.point.trigger_ms = run.record.requested_ms;
    kp.point.completed_ms = now_ms;
    if (auto r = catalog_.UpsertRestorePoint(kp, RestorePointOrigin::kTaken, now_ms); !r) {
      spdlog::warn("{}: savepoint {} not added to the restore-point catalog: {}", run.record.job,
                   run.record.path, r.error().message);
    }
    spdlog::info("{}: savepoint completed ({}): {}", run.record.job, run.record.origin,
                 run.record.path);
  } else {
    spdlog::warn("{}: savepoint of {} failed ({}): {}", run.record.job, run.record.job_id,
                 run.record.origin, run.record.error);
  }
  ended_.push_back(run.record);
}

}  // namespace flinkguard
