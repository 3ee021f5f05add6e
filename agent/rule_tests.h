#pragma once

// `flinkguard test-rules FILE`: unit tests for a rule table, in the spirit of
// `promtool test rules`. A test file names the rule files (or uses the built-in defaults), an
// evaluation interval, and tests; each test scripts every job's signals over time and lists the
// rule states and recovery plans expected at given times. The README ("Command line") documents
// the format:
//
//   rule_files: [default-rules.yaml]   # relative to this file; absent: the built-in defaults
//   interval: 1m                       # one evaluation per interval, the first at 0s
//   tests:
//     - name: a failed job is recovered from its checkpoint
//       jobs:
//         orders:                       # a catalog job (default recovery policy)
//           cluster: a                  # default "default"
//           allow_fresh_state: false    # optional policy override
//           series:                     # one value per interval
//             status: "RUNNING x5 FAILED x3"   # `v xN`: N times v
//             restarts: "0+1x6"                # `a+bxN`: N values a, a+b, ... ("a-bxN" down)
//             last_checkpoint: "1 2 3 _ 4"     # checkpoint ids; `_`: unknown (also
//                                              # last_savepoint; retained_on_cancel: true/false)
//             cluster_up: "true x8"
//       expect:
//         - {at: 5m, rule: job-failed, job: orders, state: firing}
//         - {at: 5m, job: orders, plan: checkpoint, restore_id: 3}   # or plan: refused
//
// A series shorter than the test reads unknown after its end. Values are numbers, durations
// (10m), true/false or job statuses by the signal's type; names that are not built-in signals
// are custom TSDB signals (numbers).

#include <string>

#include "agent/config.h"

namespace flinkguard {

struct RuleTestOutcome {
  int expectations = 0;   // checked
  int failures = 0;       // expectations not met
  bool file_error = false;  // the test file or a rule file could not be read or compiled
  std::string report;       // for people: every failure and error, then a summary line
  bool ok() const { return !file_error && failures == 0; }
};

// Runs every test of the file at `path`. Never throws: problems are in the outcome.
RuleTestOutcome RunRuleTestFile(const std::string& path, const ConfigEnvironment& env);

}  // namespace flinkguard
