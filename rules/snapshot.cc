#include "rules/snapshot.h"

#include <map>
#include <string_view>

#include "rules/job_status.h"

namespace flinkguard {

const char* FreshnessName(Freshness f) {
  switch (f) {
    case Freshness::kUnknown: return "unknown";
    case Freshness::kStale: return "stale";
    case Freshness::kFresh: return "fresh";
  }
  return "unknown";
}

void CountLiveInstances(std::vector<JobSnapshot>& jobs, std::int64_t now_ms) {
  std::map<std::string_view, std::int64_t> live;
  for (const JobSnapshot& s : jobs) {
    if (s.status.fresh() && s.status.known() && !IsGloballyTerminal(*s.status.value)) {
      ++live[s.name];
    }
  }
  for (JobSnapshot& s : jobs) {
    auto it = live.find(s.name);
    s.live_instances.SetFresh(it == live.end() ? 0 : it->second, now_ms);
  }
}

}  // namespace flinkguard
