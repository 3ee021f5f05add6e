#include "tests/flinksim/sim_clock.h"

#include <cmath>

namespace flinksim {

ScaledClock::ScaledClock(double scale, int64_t start_ms)
    : scale_(scale > 0 ? scale : 1.0),
      start_ms_(start_ms),
      start_(std::chrono::steady_clock::now()) {}

int64_t ScaledClock::NowMs() const {
  auto elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start_)
                        .count();
  auto scaled_ms =
      static_cast<int64_t>(std::floor(static_cast<double>(elapsed_us) * scale_ / 1000.0));
  return start_ms_ + scaled_ms + offset_.load();
}

}  // namespace flinksim
