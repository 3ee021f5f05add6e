#include "agent/alert_wiring.h"

#include <spdlog/spdlog.h>

#include <random>

#include "agent/cli_support.h"
#include "alerts/command_notifier.h"
#include "alerts/receivers.h"

namespace flinkguard {
namespace {

std::int64_t Ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

Result<AlertHttpResponse> TransportAlertHttp::Post(const AlertHttpRequest& request) {
  HttpRequest req;
  req.method = "POST";
  req.url = request.url;
  req.headers = request.headers;
  req.body = request.body;
  req.timeout = request.timeout;
  req.connect_timeout = std::min(request.timeout, std::chrono::milliseconds(5000));
  auto reply = transport_.Send(std::move(req));
  if (!reply) return Fail(reply.error());
  AlertHttpResponse out;
  out.status = reply->status;
  out.body = std::move(reply->body);
  out.retry_after = reply->retry_after;
  return out;
}

AlertPolicy AlertPolicyFrom(const Config& config) {
  AlertPolicy p;
  for (const AlertReceiverConfig& a : config.alerts) {
    ReceiverPolicy r;
    r.name = a.name;
    r.min_severity = a.min_severity;
    if (a.repeat_interval) {
      r.repeat_interval_ms = Ms(*a.repeat_interval);
    } else if (a.type == AlertReceiverType::kAlertmanager) {
      r.repeat_interval_ms = 60'000;
    } else {
      r.repeat_interval_ms = Ms(config.alert_routing.repeat_interval);
    }
    p.receivers.push_back(std::move(r));
  }
  for (const AlertRouteConfig& rc : config.alert_routing.routes) {
    p.routes.push_back(AlertRoute{rc.receivers, rc.min_severity, rc.rules, rc.jobs, rc.match});
  }
  p.group_interval_ms = Ms(config.alert_routing.group_interval);
  for (const ClusterConfig& c : config.clusters) p.cluster_urls[c.name] = c.url.ToString();
  p.instance = config.agent.instance_id;
  return p;
}

ReceiverSet::ReceiverSet(const Config& config, AlertHttp& http) {
  for (const AlertReceiverConfig& a : config.alerts) {
    HttpReceiverSettings s;
    s.name = a.name;
    if (a.url) s.url = a.url->Reveal();
    if (a.routing_key) s.routing_key = a.routing_key->Reveal();
    s.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(a.timeout);
    s.instance = config.agent.instance_id;
    std::unique_ptr<Notifier> n;
    switch (a.type) {
      case AlertReceiverType::kWebhook:
        n = std::make_unique<WebhookNotifier>(http, std::move(s));
        break;
      case AlertReceiverType::kAlertmanager:
        n = std::make_unique<AlertmanagerNotifier>(http, std::move(s));
        break;
      case AlertReceiverType::kSlack:
        n = std::make_unique<SlackNotifier>(http, std::move(s));
        break;
      case AlertReceiverType::kPagerDuty:
        n = std::make_unique<PagerDutyNotifier>(http, std::move(s));
        break;
      case AlertReceiverType::kCommand:
        n = std::make_unique<CommandNotifier>(CommandSettings{
            a.name, a.command, std::chrono::duration_cast<std::chrono::milliseconds>(a.timeout)});
        break;
    }
    by_name_[a.name] = n.get();
    owned_.push_back(std::move(n));
  }
}

OutboxDelivery::Notifiers ReceiverSet::ByName() const { return by_name_; }

Result<void> WriteAlerts(SqliteHistoryStore& store, AlertPlanner& planner, AlertBatch batch,
                         bool send) {
  if (!send) batch.entries.clear();
  if (!batch.entries.empty()) {
    auto ok = store.InTransaction([&]() -> Result<void> {
      for (const OutboxEntry& e : batch.entries) {
        if (auto r = store.Enqueue(e); !r) return Fail(r.error());
      }
      return {};
    });
    if (!ok) return ok;
  }
  planner.Commit(batch);
  return {};
}

RecoveryRecord StartedRecord(const RecoveryPlan& plan, const std::string& id, std::int64_t now_ms,
                             const std::string& trigger) {
  RecoveryRecord r;
  r.id = id;
  r.job = plan.job;
  r.cluster = plan.cluster;
  r.trigger = trigger;
  r.started_ms = now_ms;
  r.strategy = plan.strategy;
  if (plan.restore_point) r.restore_path = plan.restore_point->path;
  if (plan.restore_from_stop_savepoint) r.restore_path = "(the savepoint of the stop)";
  r.dry_run = plan.dry_run;
  r.reason = plan.reason;
  for (const std::string& rule : plan.rules) r.rules += (r.rules.empty() ? "" : ",") + rule;
  r.severity = plan.severity;
  return r;
}

Result<std::unique_ptr<AlertDelivery>> AlertDelivery::Start(const Config& config,
                                                            const std::string& history_path) {
  auto store = SqliteHistoryStore::Open(history_path);
  if (!store) return Fail(store.error());
  std::unique_ptr<AlertDelivery> d(new AlertDelivery());
  d->store_ = std::move(*store);
  d->transport_ = std::make_unique<CurlTransport>(TransportOptionsFor(config));
  d->http_ = std::make_unique<TransportAlertHttp>(*d->transport_);
  d->receivers_ = std::make_unique<ReceiverSet>(config, *d->http_);
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  DeliveryOptions options;
  options.on_failure = [](const OutboxEntry& e, const std::string& outcome,
                          const std::string& error) {
    if (outcome == "dead") {
      spdlog::error("notification {} to {} dead-lettered after {} attempts: {}", e.idempotency_key,
                    e.receiver, e.attempts + 1, error);
    } else {
      spdlog::warn("notification {} to {} not delivered (attempt {}), will retry: {}",
                   e.idempotency_key, e.receiver, e.attempts + 1, error);
    }
  };
  auto delivery = std::make_unique<OutboxDelivery>(
      *d->store_, d->receivers_->ByName(),
      [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); }, options);
  d->worker_ = std::make_unique<DeliveryWorker>(
      std::move(delivery), [] { return WallMs(); }, std::chrono::seconds(1),
      [](const Error& e) { spdlog::warn("notification outbox: {}", e.message); });
  return d;
}

AlertDelivery::~AlertDelivery() { worker_.reset(); }

void AlertDelivery::Wake() { worker_->Wake(); }

DeliveryCounts AlertDelivery::Counts() const { return worker_->Counts(); }

}  // namespace flinkguard
