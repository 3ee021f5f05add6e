#pragma once

// The recent values of one job's signals as the rule engine records them: every tracked signal at
// the same instants (once per cycle). One ring of times is shared by all signals and each signal
// keeps only its values, in a ring of its own capacity, so a sample costs 8 bytes (its value)
// instead of SignalHistory's 16, and reading a signal needs no name lookup: signals are slots
// (small integers) that the owner assigns. Pure data: no clock, every time is passed in (epoch
// milliseconds).
//
// Each slot behaves exactly like a SignalHistory series of the same capacity that is recorded at
// the same instants: the same samples, the same why_unknown, cleared at the same clock jumps.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flinkguard {

class JobHistory {
 public:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  // The samples of one slot, oldest first: a view valid until the history is next modified.
  class Series {
   public:
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    // The i-th sample's time and value, 0 = oldest (NaN = unknown). Require i < size().
    std::int64_t time(std::size_t i) const { return times_[Wrap(t_first_ + i, t_cap_)]; }
    double value(std::size_t i) const { return values_[Wrap(v_first_ + i, v_cap_)]; }
    std::int64_t newest_time() const { return time(size_ - 1); }
    double newest_value() const { return value(size_ - 1); }
    // The number of samples with time <= t (times strictly increase, oldest first).
    std::size_t CountAtOrBefore(std::int64_t t) const;
    // The number of samples with time < t.
    std::size_t CountBefore(std::int64_t t) const;
    // True when no known sample after the i-th differs from the known sample before it (the
    // newest known one before it in the history, which for i's successors is at or after i) or
    // is infinite. Then increase, changes, min and max over samples i.. are trivial.
    bool Unchanged(std::size_t i) const { return last_change_ == kNone || last_change_ <= i; }
    // Calls f(value) for the samples from..size()-1, oldest first.
    template <typename F>
    void ForEachValue(std::size_t from, F&& f) const {
      if (from >= size_) return;
      std::size_t p = Wrap(v_first_ + from, v_cap_);
      std::size_t left = size_ - from;
      while (left > 0) {
        const std::size_t run = std::min(left, v_cap_ - p);
        for (const double* v = values_ + p; v != values_ + p + run; ++v) f(*v);
        left -= run;
        p = 0;
      }
    }

   private:
    friend class JobHistory;
    // i < 2 * cap always holds here, so one subtraction wraps.
    static std::size_t Wrap(std::size_t i, std::size_t cap) { return i >= cap ? i - cap : i; }

    const std::int64_t* times_ = nullptr;
    std::size_t t_cap_ = 1;
    std::size_t t_first_ = 0;  // physical index of the oldest sample's time
    const double* values_ = nullptr;
    std::size_t v_cap_ = 1;
    std::size_t v_first_ = 0;  // physical index of the oldest sample's value
    std::size_t size_ = 0;
    std::size_t last_change_ = kNone;  // logical index of the newest change; kNone: none
  };

  // `capacities[slot]` is how many samples the slot keeps; 0 means the slot is not tracked. All
  // memory is allocated here, once: 8 bytes per sample of every slot that keeps more than one
  // (a slot of one sample keeps it in its hot state) plus 8 per sample of the largest one.
  // Capacities must fit in 32 bits, as must their sum.
  explicit JobHistory(const std::vector<std::size_t>& capacities);
  // No slot tracked.
  JobHistory() : JobHistory(std::vector<std::size_t>{}) {}

  // Starts the instant `t_ms` for every tracked slot, with every value unknown ("unknown") until
  // Set(). An instant at the newest one's time replaces it (one value per instant). An instant
  // older than the newest means the wall clock went back: every ring is cleared and starts again
  // from this instant, so no window ever spans a clock jump.
  void BeginInstant(std::int64_t t_ms);
  // Sets a tracked slot's value at the newest instant: nullopt or NaN is unknown, with
  // `why_unknown` ("unknown" when empty). Requires BeginInstant() before; ignores untracked slots.
  void Set(std::size_t slot, std::optional<double> value, std::string_view why_unknown);

  std::size_t slot_count() const { return slots_.size(); }
  bool tracked(std::size_t slot) const { return slot < slots_.size() && slots_[slot].capacity > 0; }
  std::size_t capacity(std::size_t slot) const { return tracked(slot) ? slots_[slot].capacity : 0; }
  // The samples of a tracked slot. Requires tracked(slot).
  Series series(std::size_t slot) const;
  // The newest sample of a slot when it is at time `t_ms` and known; nullopt otherwise (also for
  // a slot not tracked). What series(slot) says of its newest sample, without building the view.
  std::optional<double> KnownAt(std::size_t slot, std::int64_t t_ms) const {
    if (!tracked(slot) || instants_ == 0 || newest_time_ != t_ms) return std::nullopt;
    const double v = slots_[slot].newest_value;
    if (std::isnan(v)) return std::nullopt;
    return v;
  }
  // Why the newest sample of a slot is unknown; "" when it is known or there is none.
  const std::string& why_unknown(std::size_t slot) const;

  // Hints to the processor, no effect on any result: Prefetch() asks for the memory that the next
  // BeginInstant() and Set() touch first (the hot state of every slot); PrefetchRings(), once that
  // has arrived, for where the next instant writes in each ring and where full windows start.
  // A pass over thousands of histories waits on memory, not on arithmetic, without them.
  // PrefetchSample(slot, back), also once the hot state has arrived, for the sample `back`
  // instants before the next one (where a window reaching that far back starts).
  void Prefetch() const;
  void PrefetchRings() const;
  void PrefetchSample(std::size_t slot, std::size_t back) const;

  // Samples held now, over every slot (what a SignalHistory would hold).
  std::size_t SampleCount() const;
  // Bytes of the rings of times and values (their full capacity).
  std::size_t RingBytes() const {
    return times_.size() * sizeof(std::int64_t) + values_.size() * sizeof(double);
  }

 private:
  // Hot per-instant state of a slot, kept small: every cycle touches every tracked slot.
  struct Slot {
    std::uint32_t offset = 0;  // of the slot's ring in values_ (capacity > 1)
    std::uint32_t capacity = 0;
    std::uint32_t newest = 0;  // physical index of the newest value in the ring
    bool has_why = false;      // why_[slot] is not empty
    bool why_default = false;  // unknown since BeginInstant, not Set: why is "unknown"
    // Change tracking (see Series::Unchanged). A sample is a change when it is known, a known
    // sample precedes it since the last clear, and it differs from that one or is infinite.
    bool has_known_before_newest = false;
    bool newest_changed = false;     // the newest sample is a change
    double known_before_newest = 0;  // the newest known value before the newest instant
    double newest_value = 0;  // = values_[offset + newest] (capacity > 1), or the only sample
    std::uint64_t change_before_newest = kNoInstant;  // instant of the newest earlier change
  };
  static constexpr std::uint64_t kNoInstant = static_cast<std::uint64_t>(-1);
  // Makes a slot's newest value unknown ("unknown").
  void SetUnknown(Slot& s);
  // Where the oldest of `size` samples is in a ring whose newest is at `newest`.
  static std::size_t First(std::size_t newest, std::size_t size, std::size_t capacity) {
    const std::size_t first = newest + 1 >= size ? newest + 1 - size : newest + 1 + capacity - size;
    return first == capacity ? 0 : first;
  }

  std::vector<Slot> slots_;
  std::vector<std::string> why_;     // by slot: why the newest value is unknown
  std::vector<std::int64_t> times_;  // ring of the largest capacity
  std::size_t times_newest_ = 0;     // physical index of the newest time
  std::int64_t newest_time_ = 0;     // = times_[times_newest_] once there is an instant
  std::vector<double> values_;       // every slot's ring, one after the other
  std::uint64_t instants_ = 0;       // instants since the last clear
};

}  // namespace flinkguard
