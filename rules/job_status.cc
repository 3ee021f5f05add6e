#include "rules/job_status.h"

#include <array>
#include <utility>

namespace flinkguard {
namespace {

constexpr std::array<std::pair<JobStatus, const char*>, 11> kNames{{
    {JobStatus::kInitializing, "INITIALIZING"},
    {JobStatus::kCreated, "CREATED"},
    {JobStatus::kRunning, "RUNNING"},
    {JobStatus::kFailing, "FAILING"},
    {JobStatus::kFailed, "FAILED"},
    {JobStatus::kCancelling, "CANCELLING"},
    {JobStatus::kCanceled, "CANCELED"},
    {JobStatus::kFinished, "FINISHED"},
    {JobStatus::kRestarting, "RESTARTING"},
    {JobStatus::kSuspended, "SUSPENDED"},
    {JobStatus::kReconciling, "RECONCILING"},
}};

}  // namespace

const char* JobStatusName(JobStatus s) {
  for (const auto& [status, name] : kNames) {
    if (status == s) return name;
  }
  return "UNKNOWN";
}

std::optional<JobStatus> ParseJobStatus(std::string_view name) {
  for (const auto& [status, text] : kNames) {
    if (name == text) return status;
  }
  return std::nullopt;
}

bool IsGloballyTerminal(JobStatus s) {
  return s == JobStatus::kFailed || s == JobStatus::kCanceled || s == JobStatus::kFinished;
}

}  // namespace flinkguard
