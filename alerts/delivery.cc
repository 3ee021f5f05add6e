#include "alerts/delivery.h"

#include <algorithm>

namespace flinkguard {

OutboxDelivery::OutboxDelivery(Outbox& outbox, Notifiers notifiers, std::function<double()> random,
                               DeliveryOptions options)
    : outbox_(outbox),
      notifiers_(std::move(notifiers)),
      random_(std::move(random)),
      options_(options) {}

std::int64_t OutboxDelivery::Backoff(int attempts) const {
  std::int64_t d = options_.initial_backoff_ms;
  for (int i = 1; i < attempts && d < options_.max_backoff_ms; ++i) d *= 2;
  d = std::min(d, options_.max_backoff_ms);
  // Jitter spreads the retries of many entries (and of several agents) after an outage.
  const double f = 0.5 + 0.5 * std::clamp(random_(), 0.0, 1.0);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(d) * f));
}

DeliveryCounts OutboxDelivery::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

Result<int> OutboxDelivery::DeliverDue(std::int64_t now_ms) {
  auto due = outbox_.Due(now_ms, options_.batch);
  if (!due) return Fail(due.error());
  int attempted = 0;
  auto count = [&](const std::string& receiver, const char* outcome) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_.attempts[{receiver, outcome}];
  };
  for (const OutboxEntry& e : *due) {
    ++attempted;
    auto it = notifiers_.find(e.receiver);
    if (it == notifiers_.end()) {
      const std::string why = "receiver " + e.receiver + " is not configured";
      if (auto ok = outbox_.MarkDead(e.id, why); !ok) return Fail(ok.error());
      count(e.receiver, "dead");
      if (options_.on_failure) options_.on_failure(e, "dead", why);
      continue;
    }
    auto n = NotificationFromJson(e.payload);
    if (!n) {
      if (auto ok = outbox_.MarkDead(e.id, n.error().message); !ok) return Fail(ok.error());
      count(e.receiver, "dead");
      if (options_.on_failure) options_.on_failure(e, "dead", n.error().message);
      continue;
    }
    const SendOutcome out = it->second->Send(*n, e.idempotency_key);
    Result<void> ok;
    const char* outcome = "delivered";
    std::string error = out.error;
    switch (out.kind) {
      case SendOutcome::Kind::kDelivered: ok = outbox_.MarkDelivered(e.id, now_ms); break;
      case SendOutcome::Kind::kPermanent:
        ok = outbox_.MarkDead(e.id, out.error);
        outcome = "dead";
        break;
      case SendOutcome::Kind::kRetry: {
        if (now_ms - e.created_ms >= options_.give_up_after_ms) {
          error = "gave up after " + std::to_string(e.attempts + 1) + " attempts: " + out.error;
          ok = outbox_.MarkDead(e.id, error);
          outcome = "dead";
          break;
        }
        std::int64_t delay = Backoff(e.attempts + 1);
        if (out.retry_after) {
          delay = std::max<std::int64_t>(delay, out.retry_after->count() * 1000);
        }
        ok = outbox_.MarkRetry(e.id, now_ms + delay, out.error);
        outcome = "retry";
        break;
      }
    }
    if (!ok) return Fail(ok.error());
    count(e.receiver, outcome);
    if (out.kind != SendOutcome::Kind::kDelivered && options_.on_failure) {
      options_.on_failure(e, outcome, error);
    }
  }
  if (auto depth = outbox_.PendingDepth(); depth) {
    std::lock_guard<std::mutex> lock(mu_);
    counts_.pending = depth->pending;
    counts_.oldest_created_ms = depth->oldest_created_ms;
  } else {
    return Fail(depth.error());
  }
  return attempted;
}

DeliveryWorker::DeliveryWorker(std::unique_ptr<OutboxDelivery> delivery,
                               std::function<std::int64_t()> wall_ms,
                               std::chrono::milliseconds interval,
                               std::function<void(const Error&)> on_error)
    : delivery_(std::move(delivery)),
      wall_ms_(std::move(wall_ms)),
      interval_(interval),
      on_error_(std::move(on_error)),
      thread_([this] { Run(); }) {}

DeliveryWorker::~DeliveryWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DeliveryWorker::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void DeliveryWorker::Run() {
  for (;;) {
    // Passes repeat while they fill a whole batch, so a backlog drains without waiting.
    for (int pass = 0; pass < 100; ++pass) {
      auto r = delivery_->DeliverDue(wall_ms_());
      if (!r) {
        on_error_(r.error());
        break;
      }
      if (*r == 0) break;
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, interval_, [this] { return stop_ || wake_; });
    if (stop_) return;
    wake_ = false;
  }
}

}  // namespace flinkguard
