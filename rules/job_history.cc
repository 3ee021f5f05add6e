#include "rules/job_history.h"

#include <cmath>
#include <limits>

namespace flinkguard {
namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

}  // namespace

std::size_t JobHistory::Series::CountAtOrBefore(std::int64_t t) const {
  std::size_t lo = 0;
  std::size_t hi = size_;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (time(mid) <= t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::size_t JobHistory::Series::CountBefore(std::int64_t t) const {
  std::size_t lo = 0;
  std::size_t hi = size_;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (time(mid) < t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

JobHistory::JobHistory(const std::vector<std::size_t>& capacities) {
  slots_.resize(capacities.size());
  std::size_t total = 0;
  std::size_t longest = 1;
  for (std::size_t i = 0; i < capacities.size(); ++i) {
    slots_[i].offset = total;
    slots_[i].capacity = capacities[i];
    total += capacities[i];
    longest = std::max(longest, capacities[i]);
  }
  values_.assign(total, kUnknown);
  times_.assign(longest, 0);
  // The first instant then goes to index 0 of every ring.
  times_newest_ = longest - 1;
  for (Slot& s : slots_) s.newest = s.capacity > 0 ? s.capacity - 1 : 0;
}

void JobHistory::BeginInstant(std::int64_t t_ms) {
  if (instants_ > 0) {
    const std::int64_t newest = times_[times_newest_];
    if (newest == t_ms) {
      for (std::size_t i = 0; i < slots_.size(); ++i) Set(i, std::nullopt, {});
      return;
    }
    // The clock went back: start again rather than let a window span the jump. The rings keep
    // their positions; only the count of samples restarts.
    if (newest > t_ms) instants_ = 0;
  }
  ++instants_;
  times_newest_ = times_newest_ + 1 == times_.size() ? 0 : times_newest_ + 1;
  times_[times_newest_] = t_ms;
  for (Slot& s : slots_) {
    if (s.capacity == 0) continue;
    s.newest = s.newest + 1 == s.capacity ? 0 : s.newest + 1;
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) Set(i, std::nullopt, {});
}

void JobHistory::Set(std::size_t slot, std::optional<double> value, std::string_view why_unknown) {
  if (!tracked(slot) || instants_ == 0) return;
  Slot& s = slots_[slot];
  const double v = value.value_or(kUnknown);
  values_[s.offset + s.newest] = v;
  if (std::isnan(v)) {
    s.why_unknown = why_unknown.empty() ? std::string_view("unknown") : why_unknown;
  } else {
    s.why_unknown.clear();
  }
}

JobHistory::Series JobHistory::series(std::size_t slot) const {
  const Slot& s = slots_[slot];
  Series out;
  out.size_ = static_cast<std::size_t>(std::min<std::uint64_t>(instants_, s.capacity));
  out.times_ = times_.data();
  out.t_cap_ = times_.size();
  out.t_first_ = First(times_newest_, out.size_, times_.size());
  out.values_ = values_.data() + s.offset;
  out.v_cap_ = s.capacity;
  out.v_first_ = First(s.newest, out.size_, s.capacity);
  return out;
}

std::size_t JobHistory::SampleCount() const {
  std::size_t n = 0;
  for (const Slot& s : slots_)
    n += static_cast<std::size_t>(std::min<std::uint64_t>(instants_, s.capacity));
  return n;
}

}  // namespace flinkguard
