#include "rules/job_history.h"

#include <cmath>
#include <limits>

namespace flinkguard {
namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

}  // namespace

namespace {

// The number of samples of `s` whose time is at or before `t` (`strict`: before `t`): a first
// probe where evenly spaced samples would put `t` (the engine samples at a steady interval), then
// a binary search in what is left.
std::size_t CountUpTo(const JobHistory::Series& s, std::int64_t t, bool strict) {
  const auto in = [&](std::size_t i) { return strict ? s.time(i) < t : s.time(i) <= t; };
  const std::size_t n = s.size();
  if (n == 0 || !in(0)) return 0;
  if (in(n - 1)) return n;
  // Now n >= 2, in(0) and !in(n - 1): the answer is in [1, n - 1].
  std::size_t lo = 1;      // every index below lo is in
  std::size_t hi = n - 1;  // every index from hi is out
  const double span = static_cast<double>(s.time(n - 1) - s.time(0));
  const double guess = static_cast<double>(t - s.time(0)) / span * static_cast<double>(n - 1);
  const std::size_t i =
      std::min(n - 2, static_cast<std::size_t>(std::max(0.0, std::min(guess, 1e18))));
  if (in(i)) {
    if (!in(i + 1)) return i + 1;
    lo = i + 2;
  } else {
    hi = i;
  }
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (in(mid)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace

std::size_t JobHistory::Series::CountAtOrBefore(std::int64_t t) const {
  return CountUpTo(*this, t, false);
}

std::size_t JobHistory::Series::CountBefore(std::int64_t t) const {
  return CountUpTo(*this, t, true);
}

JobHistory::JobHistory(const std::vector<std::size_t>& capacities) {
  slots_.resize(capacities.size());
  why_.resize(capacities.size());
  std::size_t total = 0;
  std::size_t longest = 1;
  for (std::size_t i = 0; i < capacities.size(); ++i) {
    slots_[i].offset = static_cast<std::uint32_t>(total);
    slots_[i].capacity = static_cast<std::uint32_t>(capacities[i]);
    // A slot of one sample keeps it in Slot::newest_value only: no ring to touch each instant.
    if (capacities[i] > 1) total += capacities[i];
    longest = std::max(longest, capacities[i]);
  }
  values_.assign(total, kUnknown);
  times_.assign(longest, 0);
  // The first instant then goes to index 0 of every ring.
  times_newest_ = longest - 1;
  for (Slot& s : slots_) s.newest = s.capacity > 0 ? s.capacity - 1 : 0;
}

void JobHistory::SetUnknown(Slot& s) {
  if (s.capacity > 1) values_[s.offset + s.newest] = kUnknown;
  s.newest_value = kUnknown;
  s.newest_changed = false;
  s.why_default = true;
}

const std::string& JobHistory::why_unknown(std::size_t slot) const {
  static const std::string kDefault = "unknown";
  return slots_[slot].why_default ? kDefault : why_[slot];
}

void JobHistory::BeginInstant(std::int64_t t_ms) {
  if (instants_ > 0) {
    const std::int64_t newest = newest_time_;
    if (newest == t_ms) {
      for (Slot& s : slots_) {
        if (s.capacity > 0) SetUnknown(s);
      }
      return;
    }
    // The clock went back: start again rather than let a window span the jump. The rings keep
    // their positions; only the count of samples restarts.
    if (newest > t_ms) {
      instants_ = 0;
      for (Slot& s : slots_) {
        s.has_known_before_newest = false;
        s.newest_changed = false;
        s.change_before_newest = kNoInstant;
      }
    }
  }
  const std::uint64_t previous = instants_ - 1;  // the newest instant's index, when there is one
  for (Slot& s : slots_) {
    if (s.capacity == 0) continue;
    if (instants_ > 0) {
      const double v = s.newest_value;
      if (!std::isnan(v)) {
        s.known_before_newest = v;
        s.has_known_before_newest = true;
      }
      if (s.newest_changed) s.change_before_newest = previous;
    }
    s.newest = s.newest + 1 == s.capacity ? 0 : s.newest + 1;
    SetUnknown(s);
  }
  ++instants_;
  times_newest_ = times_newest_ + 1 == times_.size() ? 0 : times_newest_ + 1;
  times_[times_newest_] = t_ms;
  newest_time_ = t_ms;
}

void JobHistory::Set(std::size_t slot, std::optional<double> value, std::string_view why_unknown) {
  if (!tracked(slot) || instants_ == 0) return;
  Slot& s = slots_[slot];
  const double v = value.value_or(kUnknown);
  if (s.capacity > 1) values_[s.offset + s.newest] = v;
  s.newest_value = v;
  s.why_default = false;
  s.newest_changed = !std::isnan(v) && s.has_known_before_newest &&
                     (v != s.known_before_newest || !std::isfinite(v));
  if (std::isnan(v)) {
    why_[slot] = why_unknown.empty() ? std::string_view("unknown") : why_unknown;
    s.has_why = true;
  } else if (s.has_why) {
    why_[slot].clear();
    s.has_why = false;
  }
}

JobHistory::Series JobHistory::series(std::size_t slot) const {
  const Slot& s = slots_[slot];
  Series out;
  out.size_ = static_cast<std::size_t>(std::min<std::uint64_t>(instants_, s.capacity));
  out.times_ = times_.data();
  out.t_cap_ = times_.size();
  out.t_first_ = First(times_newest_, out.size_, times_.size());
  out.values_ = s.capacity > 1 ? values_.data() + s.offset : &s.newest_value;
  out.v_cap_ = s.capacity;
  out.v_first_ = First(s.newest, out.size_, s.capacity);
  const std::uint64_t change = s.newest_changed ? instants_ - 1 : s.change_before_newest;
  const std::uint64_t oldest = instants_ - out.size_;
  if (change != kNoInstant && change >= oldest) {
    out.last_change_ = static_cast<std::size_t>(change - oldest);
  }
  return out;
}

namespace {

constexpr std::size_t kCacheLine = 64;

void PrefetchForWrite(const void* p) { __builtin_prefetch(p, 1); }

}  // namespace

void JobHistory::Prefetch() const {
  const auto* p = reinterpret_cast<const char*>(slots_.data());
  const std::size_t bytes = slots_.size() * sizeof(Slot);
  for (std::size_t b = 0; b < bytes; b += kCacheLine) PrefetchForWrite(p + b);
  if (!times_.empty()) {
    PrefetchForWrite(&times_[times_newest_ + 1 == times_.size() ? 0 : times_newest_ + 1]);
  }
}

void JobHistory::PrefetchRings() const {
  for (const Slot& s : slots_) {
    if (s.capacity <= 1) continue;
    // The next write is also where a window spanning the whole ring starts; a read that wraps
    // goes on at the ring's start.
    PrefetchForWrite(&values_[s.offset + (s.newest + 1 == s.capacity ? 0 : s.newest + 1)]);
    PrefetchForWrite(&values_[s.offset]);
  }
  if (!times_.empty()) PrefetchForWrite(&times_[0]);
}

void JobHistory::PrefetchSample(std::size_t slot, std::size_t back) const {
  if (!tracked(slot) || times_.empty()) return;
  const Slot& s = slots_[slot];
  const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(instants_ + 1, s.capacity));
  back = std::min(back, size - 1);
  const std::size_t t_next = times_newest_ + 1 == times_.size() ? 0 : times_newest_ + 1;
  __builtin_prefetch(&times_[t_next >= back ? t_next - back : t_next + times_.size() - back], 0);
  if (s.capacity > 1) {
    const std::size_t v_next = s.newest + 1 == s.capacity ? 0 : s.newest + 1;
    const std::size_t v_at = v_next >= back ? v_next - back : v_next + s.capacity - back;
    __builtin_prefetch(&values_[s.offset + v_at], 0);
  }
}

std::size_t JobHistory::SampleCount() const {
  std::size_t n = 0;
  for (const Slot& s : slots_)
    n += static_cast<std::size_t>(std::min<std::uint64_t>(instants_, s.capacity));
  return n;
}

}  // namespace flinkguard
