#pragma once

#include <optional>
#include <string_view>

namespace flinkguard {

// Flink's JobStatus, unchanged from 1.13 to 2.x. Note Flink's spellings: CANCELLING (job) but
// CANCELED; the task-level ExecutionState says CANCELING.
enum class JobStatus {
  kInitializing,
  kCreated,
  kRunning,
  kFailing,
  kFailed,
  kCancelling,
  kCanceled,
  kFinished,
  kRestarting,
  kSuspended,
  kReconciling,
};

// "INITIALIZING", "RUNNING", ... exactly as Flink writes them.
const char* JobStatusName(JobStatus s);

// Parses Flink's upper-case name; std::nullopt for anything else (a newer Flink's new state, or
// garbage) so callers can report it instead of guessing.
std::optional<JobStatus> ParseJobStatus(std::string_view name);

// FAILED, CANCELED and FINISHED: the job will not come back by itself.
bool IsGloballyTerminal(JobStatus s);

}  // namespace flinkguard
