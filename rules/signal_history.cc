#include "rules/signal_history.h"

#include <algorithm>
#include <utility>

namespace flinkguard {

SampleRing::SampleRing(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

void SampleRing::Push(Sample s) {
  if (samples_.size() < capacity_) {
    samples_.push_back(s);
    return;
  }
  samples_[head_] = s;
  head_ = (head_ + 1) % capacity_;
}

void SampleRing::ReplaceNewest(Sample s) {
  const std::size_t newest = (head_ + samples_.size() - 1) % samples_.size();
  samples_[newest] = s;
}

void SampleRing::Clear() {
  samples_.clear();
  head_ = 0;
}

void SampleRing::Grow(std::size_t capacity) {
  if (capacity <= capacity_) return;
  // Unroll the circle so that the vector is oldest-first again and can keep growing.
  std::rotate(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(head_),
              samples_.end());
  head_ = 0;
  capacity_ = capacity;
}

const Sample& SampleRing::at(std::size_t i) const {
  return samples_[(head_ + i) % samples_.size()];
}

void SignalHistory::Track(const std::string& signal, std::size_t capacity) {
  auto it = series_.find(signal);
  if (it == series_.end()) {
    series_.emplace(signal, SignalSeries{SampleRing(capacity), {}});
  } else {
    it->second.samples.Grow(capacity);
  }
}

void SignalHistory::Record(std::string_view signal, std::int64_t t_ms, std::optional<double> value,
                           std::string why_unknown) {
  auto it = series_.find(signal);
  if (it == series_.end()) return;
  SignalSeries& s = it->second;
  Sample sample{t_ms, value.value_or(std::numeric_limits<double>::quiet_NaN())};
  if (!sample.known() && why_unknown.empty()) why_unknown = "unknown";
  s.why_unknown = sample.known() ? std::string() : std::move(why_unknown);
  if (!s.samples.empty() && s.samples.newest().t_ms == t_ms) {
    s.samples.ReplaceNewest(sample);
    return;
  }
  if (!s.samples.empty() && s.samples.newest().t_ms > t_ms) s.samples.Clear();
  s.samples.Push(sample);
}

const SignalSeries* SignalHistory::Find(std::string_view signal) const {
  auto it = series_.find(signal);
  return it == series_.end() ? nullptr : &it->second;
}

std::vector<std::string> SignalHistory::Signals() const {
  std::vector<std::string> out;
  out.reserve(series_.size());
  for (const auto& [name, s] : series_) out.push_back(name);
  return out;
}

std::size_t SignalHistory::SampleCount() const {
  std::size_t n = 0;
  for (const auto& [name, s] : series_) n += s.samples.size();
  return n;
}

std::size_t SamplesToCover(Duration window, Duration interval) {
  const std::int64_t w = std::max<std::int64_t>(window.count(), 0);
  const std::int64_t i = std::max<std::int64_t>(interval.count(), 1);
  return static_cast<std::size_t>((w + i - 1) / i) + 2;
}

}  // namespace flinkguard
