#pragma once

// The recent values of a job's signals, kept in bounded ring buffers so that windowed rule
// functions (increase, rate, changes, avg/min/max_over_time) can look back in time. Pure data:
// no clock, every time is passed in (epoch milliseconds).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/duration.h"

namespace flinkguard {

// One observation of a signal. Every type is stored as a double: numbers and counters as they
// are, durations in milliseconds, booleans as 0/1, job statuses as the JobStatus enumerator.
// A NaN value means "unknown at that time" (stale, not observed, or observed absent).
struct Sample {
  std::int64_t t_ms = 0;
  double value = std::numeric_limits<double>::quiet_NaN();

  bool known() const { return !std::isnan(value); }
};

// A fixed-capacity ring of samples, oldest first. Memory grows with the samples pushed, up to
// `capacity` samples (16 bytes each); beyond that every push drops the oldest sample.
class SampleRing {
 public:
  // `capacity` is clamped to at least 1.
  explicit SampleRing(std::size_t capacity = 1);

  // Appends `s`, dropping the oldest sample when the ring is full.
  void Push(Sample s);
  // Replaces the newest sample. Requires size() > 0.
  void ReplaceNewest(Sample s);
  // Forgets every sample; the capacity stays.
  void Clear();
  // Raises the capacity to `capacity` when larger, keeping every sample.
  void Grow(std::size_t capacity);

  std::size_t size() const { return samples_.size(); }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return samples_.empty(); }
  // The i-th sample, 0 = oldest. Requires i < size().
  const Sample& at(std::size_t i) const;
  // The newest sample. Requires size() > 0.
  const Sample& newest() const { return at(samples_.size() - 1); }

 private:
  std::vector<Sample> samples_;  // grows to capacity_, then used circularly from head_
  std::size_t head_ = 0;         // index of the oldest sample once full
  std::size_t capacity_;
};

// One signal's samples and why its newest one is unknown.
struct SignalSeries {
  SampleRing samples;
  std::string why_unknown;  // for an unknown newest sample: why ("stale: cluster unreachable")
};

// The histories of one job's signals, by signal name. Only tracked signals are recorded; each is
// bounded by its own capacity, so memory is at most 16 bytes × Σ capacities plus the names.
// Not thread-safe; owned by one rule engine.
class SignalHistory {
 public:
  // Records `signal` from now on, keeping at least `capacity` samples (>= 1). Tracking a signal
  // again keeps the larger capacity.
  void Track(const std::string& signal, std::size_t capacity);

  // Appends the value of a tracked signal at `t_ms` (nullopt = unknown, with `why_unknown`); a
  // NaN value is recorded as unknown. A sample at the newest sample's time replaces it (one value
  // per instant). A sample older than the newest means the wall clock went back: the series is
  // cleared and starts again from this sample, so no window ever spans a clock jump. Untracked
  // signals are ignored.
  void Record(std::string_view signal, std::int64_t t_ms, std::optional<double> value,
              std::string why_unknown);

  // The series of a tracked signal, or nullptr. Valid until the next Track().
  const SignalSeries* Find(std::string_view signal) const;

  // The names of the tracked signals, sorted.
  std::vector<std::string> Signals() const;

  // Samples held now, over every signal (for memory accounting).
  std::size_t SampleCount() const;

 private:
  std::map<std::string, SignalSeries, std::less<>> series_;
};

// How many samples a ring needs so that a window of `window` is always covered when a sample is
// recorded every `interval`: window/interval rounded up, plus one for the sample at the window's
// start and one of slack for jitter in the sampling times. `interval` <= 0 counts as 1 ms.
std::size_t SamplesToCover(Duration window, Duration interval);

}  // namespace flinkguard
