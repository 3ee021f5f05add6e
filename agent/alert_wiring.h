#pragma once

// The agent's side of alerts/: the HTTP seam over CurlTransport, the receivers and routes built
// from the config, the outbox writes of notifications, and the delivery worker of the daemon.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/http/curl_transport.h"
#include "alerts/alert_planner.h"
#include "alerts/delivery.h"
#include "alerts/notifier.h"
#include "storage/history_store.h"

namespace flinkguard {

// AlertHttp over an HttpTransport (one request, waited for). Not thread-safe: one thread.
class TransportAlertHttp final : public AlertHttp {
 public:
  explicit TransportAlertHttp(HttpTransport& transport) : transport_(transport) {}
  Result<AlertHttpResponse> Post(const AlertHttpRequest& request) override;

 private:
  HttpTransport& transport_;
};

// Routing, lifecycle intervals and Flink UI links from the config.
AlertPolicy AlertPolicyFrom(const Config& config);

// The configured receivers as Notifiers over `http`, by receiver name. Secrets are revealed
// here, into the notifiers only.
class ReceiverSet {
 public:
  ReceiverSet(const Config& config, AlertHttp& http);
  OutboxDelivery::Notifiers ByName() const;

 private:
  std::vector<std::unique_ptr<Notifier>> owned_;
  OutboxDelivery::Notifiers by_name_;
};

// Writes `batch` in one transaction of `store` and, once committed, keeps its state in
// `planner`. `send` false (a standby replica): the state is kept, nothing is enqueued (the
// leader notifies). An error leaves the planner as it was.
[[nodiscard]] Result<void> WriteAlerts(SqliteHistoryStore& store, AlertPlanner& planner,
                                       AlertBatch batch, bool send = true);

// A recovery as the planner sees it when it starts: from the plan the executor took.
RecoveryRecord StartedRecord(const RecoveryPlan& plan, const std::string& id, std::int64_t now_ms,
                             const std::string& trigger);

// The daemon's delivery side: its own connection to the history file (WAL and the busy timeout
// let it write beside the loop's), its own transport and receivers, and a DeliveryWorker thread
// that sends what the outbox holds, including what an earlier run left pending.
class AlertDelivery {
 public:
  // kPermanent/kTransient when the history file cannot be opened.
  static Result<std::unique_ptr<AlertDelivery>> Start(const Config& config,
                                                      const std::string& history_path);
  ~AlertDelivery();
  // Asks for a delivery pass now. Thread-safe.
  void Wake();
  // Attempts per (receiver, outcome) since start, and the outbox depth and oldest pending entry
  // as of the last pass: for flinkguard_notifications_total{receiver,outcome},
  // the outbox depth and oldest-age gauges. Thread-safe.
  DeliveryCounts Counts() const;

 private:
  AlertDelivery() = default;
  std::unique_ptr<SqliteHistoryStore> store_;
  std::unique_ptr<CurlTransport> transport_;
  std::unique_ptr<TransportAlertHttp> http_;
  std::unique_ptr<ReceiverSet> receivers_;
  std::unique_ptr<DeliveryWorker> worker_;  // declared last: stopped first
};

}  // namespace flinkguard
