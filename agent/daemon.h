#pragma once

// `flinkguard run`: the daemon. Observe → decide → act → record every poll interval, with the
// executor ticking in between so recoveries progress without holding up observation.
//
// The state directory holds `flinkguard.lock` (one daemon per state_dir), `history.db` (the
// SQLite history and recovery journal) and `locks/` (per-job action locks). When the history
// cannot be opened (read-only or full disk, a newer schema) the daemon keeps observing and
// logging what it would do, refuses to act without its journal, and says so every cycle.
// SIGTERM/SIGINT stop it after the current step (an unfinished recovery stays journaled and is
// resumed by the next start). SIGHUP reloads the config; an invalid one is refused and logged,
// and the old one stays.

#include <optional>
#include <string>

#include "agent/cli.h"
#include "agent/logging.h"

namespace flinkguard {

struct DaemonOptions {
  std::string config_path;
  int max_cycles = 0;  // stop after this many cycles and an idle executor; 0 = until signalled
};

// Returns the process exit code.
int RunDaemon(const DaemonOptions& options, std::optional<LogLevel> log_level_flag,
              const CliContext& ctx);

}  // namespace flinkguard
