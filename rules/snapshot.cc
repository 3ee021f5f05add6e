#include "rules/snapshot.h"

namespace flinkguard {

const char* FreshnessName(Freshness f) {
  switch (f) {
    case Freshness::kUnknown: return "unknown";
    case Freshness::kStale: return "stale";
    case Freshness::kFresh: return "fresh";
  }
  return "unknown";
}

}  // namespace flinkguard
