#pragma once

// The exception texts Flink puts into REST error bodies and exception histories. Each function
// returns a whole stringified Java throwable (class, message, "\tat" frames, "Caused by:"
// chain), because since Flink 1.9 a RestHandlerException reaches the client as one string
// with its full stack trace. Frames are abbreviated but keep Flink's real class names so that
// clients matching on substrings behave as with a real cluster.

#include <string>

namespace flinksim::java {

// GET on an unknown job: org.apache.flink.runtime.rest.NotFoundException "Job <id> not found"
// caused by FlinkJobNotFoundException.
std::string JobNotFound(const std::string& job_id);
// GET on an unknown vertex of a known job.
std::string VertexNotFound(const std::string& vertex_id);
// PATCH cancel on an unknown job (JobCancellationHandler).
std::string CancelJobNotFound(const std::string& job_id);
// PATCH cancel on a job that already FINISHED/FAILED (409 since 1.15).
std::string CancelConflict(const std::string& job_id, const std::string& status);
// PATCH with mode=stop (308).
std::string StopModeRemoved();
// Savepoint/stop without a target directory when none is configured (400).
std::string SavepointDirectoryMissing(const std::string& config_key, const std::string& field);
// Status of an unknown async operation (404).
std::string UnknownSavepointTrigger(const std::string& trigger_id, const std::string& job_id);
// Body that does not match the request class (400), e.g. unknown field on <= 1.19.
std::string RequestFormatMismatch(const std::string& request_class, const std::string& detail);
// Unparsable path or query parameter (400).
std::string BadParameter(const std::string& kind, const std::string& key, const std::string& value);
// Jar run: jar not found (400).
std::string JarNotFound(const std::string& jar_path);
// Jar run: the submission was rejected (400 "Could not execute application."), wrapping
// `cause` (a stringified throwable).
std::string CouldNotExecuteApplication(const std::string& job_name, const std::string& cause);
// DuplicateJobSubmissionException ("Job has already been submitted.").
std::string DuplicateJobSubmission();
// Jar run: jobId that is not 32 hex characters.
std::string InvalidJobId(const std::string& value);
// Jar delete on an unknown jar (400 in Flink: "File ... does not exist in ...").
std::string JarDeleteNotFound(const std::string& jar_id, const std::string& dir);
// Upload errors (400).
std::string UploadNotOneFile(int count);
std::string UploadNotJar();

// JobMaster initialization failure (the job goes FAILED from INITIALIZING), wrapping `cause`.
std::string JobInitializationFailed(const std::string& cause);
// Restore from a path that does not exist.
std::string SnapshotNotFound(const std::string& pointer);
// Restore from a directory without `_metadata`.
std::string MetadataNotFound(const std::string& dir);
// Restore whose state holds an operator the new job lacks.
std::string CannotMapState(const std::string& pointer, const std::string& operator_id);

// A task failure for exception history/root-exception: "<class>: <msg>" with user frames.
std::string UserTaskException(const std::string& class_name, const std::string& message);
// The terminal failure wrapper "Recovery is suppressed by <strategy>" around `cause`.
std::string RecoverySuppressed(const std::string& strategy, const std::string& cause);
// Checkpoint failure wrapper that fails the job when tolerable failures are exceeded.
std::string TolerableCheckpointFailureExceeded(const std::string& reason);
// Failure of a task because slots never arrived.
std::string NoResourceAvailable();

// Savepoint failure causes (operation "failure-cause").
std::string CheckpointExceptionWrapped(const std::string& reason);
std::string FlinkJobNotFound(const std::string& job_id);
std::string TasksNotRunning(const std::string& task_name, const std::string& job_id);

// The second string of Flink's 500 body for an unexpected server error.
std::string ServerSideException(const std::string& stringified);

}  // namespace flinksim::java
