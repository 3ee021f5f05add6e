#pragma once

// The single seam for time in flinksim. Simulated time is epoch milliseconds; it starts at the
// wall clock when the process starts and runs `scale` times faster than real time, plus any
// explicit jumps. Everything in the model is driven from this value, so tests use
// ManualClock and never sleep.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace flinksim {

class SimClock {
 public:
  virtual ~SimClock() = default;
  // Current simulated time, epoch ms. Thread-safe; never decreases.
  virtual int64_t NowMs() const = 0;
  // Jumps simulated time forward by `ms` (>= 0). Thread-safe.
  virtual void Advance(int64_t ms) = 0;
  // Simulated milliseconds per real millisecond (1 for ManualClock).
  virtual double scale() const = 0;
};

// Test clock: time moves only through Advance()/Set().
class ManualClock final : public SimClock {
 public:
  explicit ManualClock(int64_t start_ms) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) override { now_.fetch_add(ms < 0 ? 0 : ms); }
  double scale() const override { return 1.0; }

 private:
  std::atomic<int64_t> now_;
};

// Real clock: simulated = start + (steady elapsed) * scale + jumps.
class ScaledClock final : public SimClock {
 public:
  // `scale` > 0; `start_ms` is the simulated time at construction.
  ScaledClock(double scale, int64_t start_ms);
  int64_t NowMs() const override;
  void Advance(int64_t ms) override { offset_.fetch_add(ms < 0 ? 0 : ms); }
  double scale() const override { return scale_; }

 private:
  double scale_;
  int64_t start_ms_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<int64_t> offset_{0};
};

}  // namespace flinksim
