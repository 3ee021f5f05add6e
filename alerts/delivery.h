#pragma once

// Durable delivery: reads due entries from the outbox, sends each through its receiver's
// Notifier, and records the outcome. At-least-once: an entry is marked delivered only after its
// receiver accepted it, so a crash between the two sends it again (with the same idempotency
// key). Retries back off exponentially with jitter and honour Retry-After; permanent failures,
// entries for receivers no longer configured and entries older than give_up_after go to the
// dead-letter state with the error.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "alerts/notifier.h"
#include "storage/history_store.h"

namespace flinkguard {

struct DeliveryOptions {
  std::int64_t initial_backoff_ms = 2'000;
  std::int64_t max_backoff_ms = 5 * 60'000;
  std::int64_t give_up_after_ms = 24 * 3'600'000;  // a transient failure this old: dead
  int batch = 50;                                  // entries per DeliverDue call
  // Called for every attempt that did not deliver (outcome "retry" or "dead") with the error
  // (never holding a secret), e.g. to log it. Optional.
  std::function<void(const OutboxEntry& entry, const std::string& outcome,
                     const std::string& error)>
      on_failure;
};

// Counts of delivery attempts, for the exported metrics
// (flinkguard_notifications_total{receiver,outcome}) and outbox depth/oldest age.
struct DeliveryCounts {
  // (receiver, outcome) -> attempts; outcome is "delivered", "retry" or "dead".
  std::map<std::pair<std::string, std::string>, std::int64_t> attempts;
  std::int64_t pending = 0;            // entries waiting, as of the last pass
  std::int64_t oldest_created_ms = 0;  // creation time of the oldest pending entry; 0 = none
};

// One delivery pass at a time; not thread-safe (DeliveryWorker runs it on its own thread).
class OutboxDelivery {
 public:
  using Notifiers = std::map<std::string, Notifier*>;  // receiver name -> its notifier
  // `outbox` and the notifiers must outlive this. `random` returns uniform values in [0, 1).
  OutboxDelivery(Outbox& outbox, Notifiers notifiers, std::function<double()> random,
                 DeliveryOptions options = {});

  // Sends every entry due at `now_ms` (at most options.batch). Returns how many were attempted;
  // an Error when the outbox itself could not be read or written (the pass stops there).
  Result<int> DeliverDue(std::int64_t now_ms);

  // The delay before attempt number `attempts + 1` (attempts made so far >= 1), jitter included:
  // initial * 2^(attempts-1), capped, times a factor in [0.5, 1.0).
  std::int64_t Backoff(int attempts) const;

  DeliveryCounts Counts() const;

 private:
  Outbox& outbox_;
  Notifiers notifiers_;
  std::function<double()> random_;
  DeliveryOptions options_;
  mutable std::mutex mu_;  // guards counts_ (read from the metrics thread)
  DeliveryCounts counts_;
};

// Runs OutboxDelivery on its own thread with its own outbox (e.g. a second SqliteHistoryStore
// on the agent's file: WAL and the busy timeout let it write beside the loop's connection).
// It delivers at once after start (what an earlier run left pending), then every `interval`
// and whenever Wake() is called. The destructor stops the thread (an attempt in progress
// finishes first: at most one receiver timeout).
class DeliveryWorker {
 public:
  // `wall_ms` gives the wall clock (epoch ms). `on_error` is called (on the worker thread) with
  // outbox errors, e.g. to log them; it must not throw.
  DeliveryWorker(std::unique_ptr<OutboxDelivery> delivery, std::function<std::int64_t()> wall_ms,
                 std::chrono::milliseconds interval, std::function<void(const Error&)> on_error);
  ~DeliveryWorker();
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  // Asks for a pass now (new entries were enqueued). Thread-safe.
  void Wake();
  // Thread-safe.
  DeliveryCounts Counts() const { return delivery_->Counts(); }

 private:
  void Run();
  std::unique_ptr<OutboxDelivery> delivery_;
  std::function<std::int64_t()> wall_ms_;
  std::chrono::milliseconds interval_;
  std::function<void(const Error&)> on_error_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace flinkguard
