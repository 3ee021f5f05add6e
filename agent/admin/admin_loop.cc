#include "agent/admin/admin_loop.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "agent/manual.h"
#include "rules/job_status.h"

namespace flinkguard {
namespace {

AdminReply Accepted(const char* what, const std::string& id, const std::string& job,
                    const std::string& detail) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("status");
  w.String("started");
  w.Key(what);
  w.String(id.c_str());
  w.Key("job");
  w.String(job.c_str());
  w.Key("detail");
  w.String(detail.c_str());
  w.EndObject();
  return AdminReply{202, std::string(buf.GetString(), buf.GetSize())};
}

}  // namespace

AdminLoop::AdminLoop(std::string_view version, std::string_view revision)
    : metrics_(version, revision) {}

void AdminLoop::Declare(const Config& config) {
  std::vector<std::string> receivers;
  for (const AlertReceiverConfig& r : config.alerts) receivers.push_back(r.name);
  std::vector<std::string> signals;
  if (config.tsdb) {
    for (const auto& [name, query] : config.tsdb->signals) signals.push_back(name);
  }
  metrics_.Declare(receivers, signals);
}

bool AdminLoop::StartServer(const Config& config, const std::string& history_path) {
  Declare(config);
  AdminServer::Options o;
  o.listen = config.agent.listen;
  o.token = config.agent.admin_token;
  o.history_path = history_path;
  auto server = AdminServer::Start(std::move(o), metrics_);
  if (!server) {
    spdlog::error("{}; running without /metrics, health checks and the admin API",
                  server.error().message);
    return false;
  }
  server_ = std::move(*server);
  HostPort bound = config.agent.listen;
  bound.port = static_cast<std::uint16_t>(server_->port());
  spdlog::info("admin HTTP listening on {} (/metrics, /healthz, /readyz, /api/v1/); mutating "
               "endpoints {}",
               bound.ToString(),
               config.agent.admin_token ? "on (bearer token from " +
                                              config.agent.admin_token->origin() + ")"
                                        : std::string("off (no agent.admin_token_file)"));
  return true;
}

void AdminLoop::Reconfigure(const Config& config) {
  Declare(config);
  if (server_) server_->SetToken(config.agent.admin_token);
}

void AdminLoop::AfterCycle(const Config& config, const CycleReport& report,
                           const std::vector<RequestSample>& requests, const Executor* executor,
                           SqliteHistoryStore* store, double cycle_seconds) {
  std::vector<std::string> catalog;
  catalog.reserve(config.jobs.size());
  for (const JobConfig& j : config.jobs) catalog.push_back(j.name);
  metrics_.ObserveCycle(report.observation, report.evaluation, report.decisions, requests,
                        catalog, cycle_seconds);
  if (!report.recorded && store != nullptr) metrics_.CountHistoryWriteError();
  if (!config.agent.dry_run && !report.started.empty()) {
    for (const auto& [trigger, n] : report.started_by_trigger) metrics_.RecoveryStarted(trigger, n);
  }
  if (store != nullptr) {
    if (auto unfinished = store->UnfinishedRecoveries(); unfinished) {
      metrics_.SetJournalDepth(static_cast<std::int64_t>(unfinished->size()));
    }
    if (auto depth = store->PendingDepth(); depth) {
      metrics_.SetOutboxDepth(depth->pending, depth->pending > 0
                                                  ? static_cast<double>(report.observation.at_ms -
                                                                        depth->oldest_created_ms) /
                                                        1000.0
                                                  : 0.0);
    }
  }

  for (const RuleTransition& t : report.evaluation.transitions) {
    const std::pair<std::string, std::string> key{t.rule, t.job};
    if (t.to == RuleState::kInactive) {
      rule_states_.erase(key);
      continue;
    }
    rule_states_[key] = AdminRuleState{t.rule, t.job, t.cluster, RuleStateName(t.to), t.at_ms,
                                       t.reason};
  }
  // A firing pair's reason follows the latest evaluation.
  for (const Finding& f : report.evaluation.findings) {
    if (auto it = rule_states_.find({f.rule, f.job}); it != rule_states_.end()) {
      it->second.reason = f.reason;
      it->second.cluster = f.cluster;
    }
  }
  std::set<std::string> observed;
  for (const JobSnapshot& s : report.observation.jobs) observed.insert(s.name);
  observed.insert(catalog.begin(), catalog.end());
  std::erase_if(rule_states_, [&](const auto& kv) { return !observed.contains(kv.first.second); });

  auto view = std::make_shared<AdminView>();
  if (store == nullptr) {
    view->not_ready = "the history store is not available (state_dir not usable or the file "
                      "cannot be opened): the agent observes but does not act";
  } else if (!report.recorded) {
    view->not_ready = "the last cycle could not write the history store";
  }
  view->observation = report.observation;
  view->catalog = std::move(catalog);
  view->rules = config.rules;
  view->rule_states.reserve(rule_states_.size());
  for (const auto& [key, st] : rule_states_) view->rule_states.push_back(st);
  std::sort(view->rule_states.begin(), view->rule_states.end(),
            [](const AdminRuleState& a, const AdminRuleState& b) {
              return std::tie(a.job, a.rule) < std::tie(b.job, b.rule);
            });
  if (executor != nullptr) view->in_recovery = executor->InProgress();
  last_ = std::make_shared<const Observation>(report.observation);
  if (server_) server_->Publish(std::move(view));
}

void AdminLoop::NotificationCounts(
    const std::map<std::pair<std::string, std::string>, std::int64_t>& now) {
  for (const auto& [key, count] : now) {
    std::int64_t& seen = notification_counts_[key];
    const std::int64_t delta = count >= seen ? count - seen : count;  // (a missed restart)
    metrics_.CountNotification(key.first, key.second, delta);
    seen = count;
  }
}

void AdminLoop::RecoveryEnded(const EndedRecovery& ended) {
  metrics_.RecoveryEnded(ended.record);
  if (!ended.record.dry_run) {
    recovery_ended_ms_[ended.record.job] =
        ended.record.ended_ms.value_or(ended.record.started_ms);
  }
}

void AdminLoop::ServeCommands(const Acting& acting, std::int64_t now_ms) {
  if (!server_) return;
  server_->ServeCommands(
      [&](const AdminCommand& c) { return Run(c, acting, now_ms); });
}

AdminReply AdminLoop::Run(const AdminCommand& c, const Acting& acting, std::int64_t now_ms) {
  const Config& config = *acting.config;
  const char* what = c.kind == AdminCommand::Kind::kRecover ? "recover" : "savepoint";
  if (config.FindJob(c.job) == nullptr) {
    return JsonError(404, "job '" + c.job + "' is not in the catalog (jobs:)");
  }
  if (config.agent.dry_run) {
    return JsonError(409, "agent.dry_run is on: flinkguard takes no action");
  }
  if (acting.executor == nullptr || acting.store == nullptr) {
    return JsonError(503, "the history store is not available, and flinkguard does not act "
                          "without its journal");
  }
  if (last_ == nullptr) return JsonError(503, "the first cycle has not completed yet");
  const auto in_progress = acting.executor->InProgress();
  if (std::find(in_progress.begin(), in_progress.end(), c.job) != in_progress.end()) {
    return JsonError(409, "a recovery of " + c.job + " is under way; see /api/v1/jobs/" + c.job);
  }
  if (auto it = recovery_ended_ms_.find(c.job);
      it != recovery_ended_ms_.end() && it->second >= last_->at_ms) {
    return JsonError(409, "a recovery of " + c.job +
                              " just ended and its new instance has not been observed yet; "
                              "retry after the next cycle");
  }
  if (c.kind == AdminCommand::Kind::kRecover) {
    ManualDecision d = PlanManualRecovery(config, *last_, *acting.store, c.job, c.from);
    if (!d.plan) {
      return JsonError(409, "not recovering " + c.job + " (" +
                                (d.refusal ? RefusalCauseName(d.refusal->cause) : "no plan") +
                                "): " + (d.refusal ? d.refusal->reason : ""));
    }
    auto id = acting.executor->Start(*d.plan, "api", now_ms);
    if (!id) return JsonError(409, "recovery of " + c.job + " not started: " + id.error().message);
    metrics_.RecoveryStarted("api");
    spdlog::info("{}: recovery {} started through the admin API: {}", c.job, *id, d.plan->reason);
    return Accepted("recovery_id", *id, c.job, d.plan->reason);
  }
  // A savepoint of the running instance.
  const JobSnapshot* live = nullptr;
  for (const JobSnapshot& s : last_->jobs) {
    if (s.name == c.job && s.status.value == JobStatus::kRunning &&
        (live == nullptr || s.start_time_ms > live->start_time_ms)) {
      live = &s;
    }
  }
  if (live == nullptr) {
    return JsonError(409, c.job + " has no RUNNING instance to take a savepoint of");
  }
  if (!acting.start_savepoint) {
    return JsonError(503, std::string(what) + " is not available in this agent");
  }
  auto id = acting.start_savepoint(c.job, live->cluster, live->job_id);
  if (!id) return JsonError(409, "savepoint of " + c.job + " not started: " + id.error().message);
  spdlog::info("{}: savepoint {} of {} on {} started through the admin API", c.job, *id,
               live->job_id, live->cluster);
  return Accepted("savepoint_id", *id, c.job, "savepoint of " + live->job_id + " on " +
                                                  live->cluster);
}

}  // namespace flinkguard
