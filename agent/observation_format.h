#pragma once

#include <string>

#include "rules/snapshot.h"

namespace flinkguard {

// One JSON document with every cluster's state and every job's snapshot; each observed field is
// {"value": ..., "freshness": "fresh|stale|unknown", "observed_at_ms": n, "why": "..."}.
// `pretty` indents it for people.
std::string ObservationToJson(const Observation& o, bool pretty);

// A table for people: one line per cluster, then one line per job.
std::string ObservationToTable(const Observation& o);

}  // namespace flinkguard
