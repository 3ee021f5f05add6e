#include "tests/flinksim/java_errors.h"

#include <vector>

#include "tests/flinksim/util.h"

namespace flinksim::java {
namespace {

const std::vector<std::string> kAsyncFrames = {
    "java.base/java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:315)",
    "java.base/"
    "java.util.concurrent.CompletableFuture.completeThrowable(CompletableFuture.java:320)",
    "java.base/java.util.concurrent.CompletableFuture$UniApply.tryFire(CompletableFuture.java:649)",
    "java.base/java.util.concurrent.CompletableFuture$Completion.run(CompletableFuture.java:482)",
    "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:635)",
    "java.base/java.lang.Thread.run(Thread.java:840)",
};

const std::vector<std::string> kRpcFrames = {
    "org.apache.flink.runtime.dispatcher.Dispatcher.lambda$requestExecutionGraphInfo$28(Dispatcher."
    "java:1046)",
    "java.base/java.util.Optional.orElseGet(Optional.java:364)",
    "org.apache.flink.runtime.rpc.pekko.PekkoRpcActor.handleRpcInvocation(PekkoRpcActor.java:309)",
    "org.apache.flink.runtime.rpc.pekko.PekkoRpcActor.handleRpcMessage(PekkoRpcActor.java:222)",
    "org.apache.pekko.actor.ActorCell.invoke(ActorCell.scala:547)",
    "org.apache.pekko.dispatch.Mailbox.run(Mailbox.scala:231)",
    "java.base/java.util.concurrent.ForkJoinWorkerThread.run(ForkJoinWorkerThread.java:165)",
};

std::vector<std::string> With(std::string first, const std::vector<std::string>& rest) {
  std::vector<std::string> out{std::move(first)};
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

std::string RestHandler(const std::string& message, const std::string& handler_frame,
                        const std::string& cause = "") {
  return JavaStackTrace("org.apache.flink.runtime.rest.handler.RestHandlerException", message,
                        With(handler_frame, kAsyncFrames), cause);
}

}  // namespace

std::string FlinkJobNotFound(const std::string& job_id) {
  return JavaStackTrace("org.apache.flink.runtime.messages.FlinkJobNotFoundException",
                        "Could not find Flink job (" + job_id + ")", kRpcFrames);
}

std::string JobNotFound(const std::string& job_id) {
  return JavaStackTrace(
      "org.apache.flink.runtime.rest.NotFoundException", "Job " + job_id + " not found",
      With("org.apache.flink.runtime.rest.handler.job.AbstractExecutionGraphHandler.lambda$"
           "handleRequest$1(AbstractExecutionGraphHandler.java:99)",
           kAsyncFrames),
      FlinkJobNotFound(job_id));
}

std::string VertexNotFound(const std::string& vertex_id) {
  return JavaStackTrace("org.apache.flink.runtime.rest.NotFoundException",
                        "JobVertex " + vertex_id + " not found",
                        With("org.apache.flink.runtime.rest.handler.job.AbstractJobVertexHandler."
                             "handleRequest(AbstractJobVertexHandler.java:91)",
                             kAsyncFrames));
}

std::string CancelJobNotFound(const std::string& job_id) {
  return RestHandler("Job could not be found.",
                     "org.apache.flink.runtime.rest.handler.job.JobCancellationHandler.lambda$"
                     "handleRequest$0(JobCancellationHandler.java:118)",
                     FlinkJobNotFound(job_id));
}

std::string CancelConflict(const std::string& job_id, const std::string& status) {
  return RestHandler(
      "Job cancellation failed because the job has already reached another terminal state (" +
          status + ").",
      "org.apache.flink.runtime.rest.handler.job.JobCancellationHandler.lambda$handleRequest$0("
      "JobCancellationHandler.java:132)",
      JavaStackTrace(
          "org.apache.flink.runtime.messages.FlinkJobTerminatedWithoutCancellationException",
          "Flink job (" + job_id + ") was not canceled, but instead " + status + ".", kRpcFrames));
}

std::string StopModeRemoved() {
  return RestHandler(
      "The termination mode \"stop\" has been removed. For an ungraceful shutdown, please use "
      "\"cancel\" instead. For a graceful shutdown, please use \"jobs/:jobId/stop\" instead.",
      "org.apache.flink.runtime.rest.handler.job.JobCancellationHandler.handleRequest("
      "JobCancellationHandler.java:98)");
}

std::string SavepointDirectoryMissing(const std::string& config_key, const std::string& field) {
  return RestHandler(
      "Config key [" + config_key + "] is not set. Property [" + field + "] must be provided.",
      "org.apache.flink.runtime.rest.handler.job.savepoints.SavepointHandlers$"
      "SavepointTriggerHandler.triggerOperation(SavepointHandlers.java:184)");
}

std::string UnknownSavepointTrigger(const std::string& trigger_id, const std::string& job_id) {
  return RestHandler(
      "There is no savepoint operation with triggerId=" + trigger_id + " for job " + job_id + ".",
      "org.apache.flink.runtime.rest.handler.job.savepoints.SavepointHandlers$"
      "SavepointStatusHandler.lambda$getOperationResult$0(SavepointHandlers.java:250)",
      JavaStackTrace("org.apache.flink.runtime.rest.handler.async.UnknownOperationKeyException",
                     "No ongoing operation for AsynchronousJobOperationKey{triggerId=" +
                         trigger_id + ", jobId=" + job_id + "}.",
                     kRpcFrames));
}

std::string RequestFormatMismatch(const std::string& request_class, const std::string& detail) {
  return RestHandler(
      "Request did not match expected format " + request_class + ".",
      "org.apache.flink.runtime.rest.handler.AbstractHandler.respondAsLeader(AbstractHandler.java:"
      "207)",
      detail.empty()
          ? ""
          : detail +
                "\n\tat "
                "org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind."
                "DeserializationContext.handleUnknownProperty(DeserializationContext.java:1138)\n");
}

std::string BadParameter(const std::string& kind, const std::string& key,
                         const std::string& value) {
  return RestHandler("Bad request, could not parse parameters: Cannot resolve " + kind +
                         " parameter (" + key + ") from value \"" + value + "\".",
                     "org.apache.flink.runtime.rest.handler.AbstractRestHandler.respondToRequest("
                     "AbstractRestHandler.java:71)");
}

std::string JarNotFound(const std::string& jar_path) {
  return RestHandler("Jar file " + jar_path + " does not exist",
                     "org.apache.flink.runtime.webmonitor.handlers.utils.JarHandlerUtils$"
                     "JarHandlerContext.fromRequest(JarHandlerUtils.java:141)");
}

std::string CouldNotExecuteApplication(const std::string& job_name, const std::string& cause) {
  std::string flink_exception = JavaStackTrace(
      "org.apache.flink.util.FlinkException", "Failed to execute job '" + job_name + "'.",
      {"org.apache.flink.streaming.api.environment.StreamExecutionEnvironment.executeAsync("
       "StreamExecutionEnvironment.java:2455)",
       "org.apache.flink.client.program.StreamContextEnvironment.executeAsync("
       "StreamContextEnvironment.java:188)",
       "org.apache.flink.streaming.api.environment.StreamExecutionEnvironment.execute("
       "StreamExecutionEnvironment.java:2329)"},
      cause);
  std::string invocation = JavaStackTrace(
      "org.apache.flink.client.program.ProgramInvocationException",
      "The main method caused an error: Failed to execute job '" + job_name + "'.",
      {"org.apache.flink.client.program.PackagedProgram.callMainMethod(PackagedProgram.java:373)",
       "org.apache.flink.client.program.PackagedProgram.invokeInteractiveModeForExecution("
       "PackagedProgram.java:223)",
       "org.apache.flink.client.ClientUtils.executeProgram(ClientUtils.java:113)",
       "org.apache.flink.client.deployment.application.DetachedApplicationRunner.tryExecuteJobs("
       "DetachedApplicationRunner.java:84)"},
      flink_exception);
  std::string runtime = JavaStackTrace(
      "org.apache.flink.util.FlinkRuntimeException", "Could not execute application.",
      {"org.apache.flink.client.deployment.application.DetachedApplicationRunner.tryExecuteJobs("
       "DetachedApplicationRunner.java:88)",
       "org.apache.flink.client.deployment.application.DetachedApplicationRunner.run("
       "DetachedApplicationRunner.java:70)",
       "org.apache.flink.runtime.webmonitor.handlers.JarRunHandler.lambda$handleRequest$0("
       "JarRunHandler.java:108)",
       "java.base/"
       "java.util.concurrent.CompletableFuture$AsyncSupply.run(CompletableFuture.java:1768)"},
      invocation);
  std::string completion = JavaStackTrace(
      "java.util.concurrent.CompletionException",
      "org.apache.flink.util.FlinkRuntimeException: Could not execute application.",
      {"java.base/"
       "java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:315)",
       "java.base/"
       "java.util.concurrent.CompletableFuture$AsyncSupply.run(CompletableFuture.java:1770)"},
      runtime);
  return RestHandler("Could not execute application.",
                     "org.apache.flink.runtime.webmonitor.handlers.JarRunHandler.lambda$"
                     "handleRequest$1(JarRunHandler.java:114)",
                     completion);
}

std::string DuplicateJobSubmission() {
  return JavaStackTrace(
      "org.apache.flink.runtime.client.DuplicateJobSubmissionException",
      "Job has already been submitted.",
      {"org.apache.flink.runtime.dispatcher.Dispatcher.submitJob(Dispatcher.java:537)",
       "java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)",
       "org.apache.flink.runtime.rpc.pekko.PekkoRpcActor.handleRpcInvocation(PekkoRpcActor.java:"
       "309)"});
}

std::string InvalidJobId(const std::string& value) {
  return JavaStackTrace(
      "java.lang.IllegalArgumentException",
      "Cannot parse JobID from \"" + value +
          "\". The expected format is [0-9a-fA-F]{32}, e.g. fd72014d4c864993a2e5a9287b4a9c5d.",
      {"org.apache.flink.api.common.JobID.fromHexString(JobID.java:103)"});
}

std::string JarDeleteNotFound(const std::string& jar_id, const std::string& dir) {
  return RestHandler("File " + jar_id + " does not exist in " + dir + ".",
                     "org.apache.flink.runtime.webmonitor.handlers.JarDeleteHandler.lambda$"
                     "handleRequest$0(JarDeleteHandler.java:80)");
}

std::string UploadNotOneFile(int count) {
  return RestHandler("Exactly 1 file must be sent, received " + std::to_string(count) + ".",
                     "org.apache.flink.runtime.webmonitor.handlers.JarUploadHandler.handleRequest("
                     "JarUploadHandler.java:79)");
}

std::string UploadNotJar() {
  return RestHandler("Only Jar files are allowed.",
                     "org.apache.flink.runtime.webmonitor.handlers.JarUploadHandler.lambda$"
                     "handleRequest$0(JarUploadHandler.java:86)");
}

std::string JobInitializationFailed(const std::string& cause) {
  std::string completion = JavaStackTrace(
      "java.util.concurrent.CompletionException",
      "java.lang.RuntimeException: " + cause.substr(0, cause.find('\n')),
      {"org.apache.flink.util.function.FunctionUtils.lambda$uncheckedSupplier$4(FunctionUtils.java:"
       "114)",
       "java.base/"
       "java.util.concurrent.CompletableFuture$AsyncSupply.run(CompletableFuture.java:1768)"},
      JavaStackTrace("java.lang.RuntimeException", cause.substr(0, cause.find('\n')),
                     {"org.apache.flink.util.ExceptionUtils.rethrow(ExceptionUtils.java:321)",
                      "org.apache.flink.runtime.scheduler.DefaultSchedulerFactory.createInstance("
                      "DefaultSchedulerFactory.java:124)",
                      "org.apache.flink.runtime.jobmaster.JobMaster.<init>(JobMaster.java:379)"},
                     cause));
  return JavaStackTrace(
      "org.apache.flink.runtime.client.JobInitializationException",
      "Could not start the JobMaster.",
      {"org.apache.flink.runtime.jobmaster.DefaultJobMasterServiceProcess.lambda$new$0("
       "DefaultJobMasterServiceProcess.java:97)",
       "java.base/"
       "java.util.concurrent.CompletableFuture.uniWhenComplete(CompletableFuture.java:863)",
       "java.base/"
       "java.util.concurrent.CompletableFuture$AsyncSupply.run(CompletableFuture.java:1773)",
       "java.base/java.lang.Thread.run(Thread.java:840)"},
      completion);
}

std::string SnapshotNotFound(const std::string& pointer) {
  return JavaStackTrace(
      "java.io.FileNotFoundException",
      "Cannot find checkpoint or savepoint file/directory '" + pointer + "' on file system 'file'.",
      {"org.apache.flink.runtime.state.filesystem.AbstractFsCheckpointStorageAccess."
       "resolveCheckpointPointer(AbstractFsCheckpointStorageAccess.java:289)",
       "org.apache.flink.runtime.checkpoint.Checkpoints.loadAndValidateCheckpoint(Checkpoints.java:"
       "137)",
       "org.apache.flink.runtime.checkpoint.CheckpointCoordinator.restoreSavepoint("
       "CheckpointCoordinator.java:1892)"});
}

std::string MetadataNotFound(const std::string& dir) {
  return JavaStackTrace(
      "java.io.FileNotFoundException",
      "Cannot find meta data file '_metadata' in directory '" + dir +
          "'. Please try to load the checkpoint/savepoint directly from the metadata file "
          "instead of the directory.",
      {"org.apache.flink.runtime.state.filesystem.AbstractFsCheckpointStorageAccess."
       "resolveCheckpointPointer(AbstractFsCheckpointStorageAccess.java:317)",
       "org.apache.flink.runtime.checkpoint.CheckpointCoordinator.restoreSavepoint("
       "CheckpointCoordinator.java:1892)"});
}

std::string CannotMapState(const std::string& pointer, const std::string& operator_id) {
  return JavaStackTrace(
      "java.lang.IllegalStateException",
      "Failed to rollback to checkpoint/savepoint " + pointer +
          ". Cannot map checkpoint/savepoint state for operator " + operator_id +
          " to the new program, because the operator is not available in the new program. If "
          "you want to allow to skip this, you can set the --allowNonRestoredState option on "
          "the CLI.",
      {"org.apache.flink.runtime.checkpoint.Checkpoints.throwNonRestoredStateException(Checkpoints."
       "java:233)",
       "org.apache.flink.runtime.checkpoint.Checkpoints.loadAndValidateCheckpoint(Checkpoints.java:"
       "197)",
       "org.apache.flink.runtime.checkpoint.CheckpointCoordinator.restoreSavepoint("
       "CheckpointCoordinator.java:1901)"});
}

std::string UserTaskException(const std::string& class_name, const std::string& message) {
  return JavaStackTrace(
      class_name, message,
      {"com.example.streaming.EventProcessor.processElement(EventProcessor.java:57)",
       "org.apache.flink.streaming.api.operators.StreamMap.processElement(StreamMap.java:38)",
       "org.apache.flink.streaming.runtime.tasks.OneInputStreamTask$StreamTaskNetworkOutput."
       "emitRecord(OneInputStreamTask.java:238)",
       "org.apache.flink.streaming.runtime.io.AbstractStreamTaskNetworkInput.emitNext("
       "AbstractStreamTaskNetworkInput.java:157)",
       "org.apache.flink.streaming.runtime.tasks.StreamTask.processInput(StreamTask.java:579)",
       "org.apache.flink.streaming.runtime.tasks.mailbox.MailboxProcessor.runMailboxLoop("
       "MailboxProcessor.java:231)",
       "org.apache.flink.streaming.runtime.tasks.StreamTask.invoke(StreamTask.java:909)",
       "org.apache.flink.runtime.taskmanager.Task.doRun(Task.java:970)",
       "org.apache.flink.runtime.taskmanager.Task.run(Task.java:574)",
       "java.base/java.lang.Thread.run(Thread.java:840)"});
}

std::string RecoverySuppressed(const std::string& strategy, const std::string& cause) {
  return JavaStackTrace(
      "org.apache.flink.runtime.JobException", "Recovery is suppressed by " + strategy,
      {"org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handleFailure("
       "ExecutionFailureHandler.java:219)",
       "org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler."
       "getFailureHandlingResult(ExecutionFailureHandler.java:166)",
       "org.apache.flink.runtime.scheduler.DefaultScheduler.recordTaskFailure(DefaultScheduler."
       "java:292)",
       "org.apache.flink.runtime.scheduler.DefaultScheduler.handleTaskFailure(DefaultScheduler."
       "java:285)",
       "org.apache.flink.runtime.rpc.pekko.PekkoRpcActor.handleRpcMessage(PekkoRpcActor.java:222)"},
      cause);
}

std::string TolerableCheckpointFailureExceeded(const std::string& reason) {
  return JavaStackTrace(
      "org.apache.flink.util.FlinkRuntimeException",
      "Exceeded checkpoint tolerable failure threshold. The latest checkpoint failed due to " +
          reason,
      {"org.apache.flink.runtime.checkpoint.CheckpointFailureManager.checkFailureAgainstCounter("
       "CheckpointFailureManager.java:212)",
       "org.apache.flink.runtime.checkpoint.CheckpointFailureManager."
       "handleJobLevelCheckpointException(CheckpointFailureManager.java:169)",
       "org.apache.flink.runtime.checkpoint.CheckpointCoordinator.abortPendingCheckpoint("
       "CheckpointCoordinator.java:2212)",
       "java.base/"
       "java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)"});
}

std::string NoResourceAvailable() {
  return JavaStackTrace(
      "org.apache.flink.runtime.jobmanager.scheduler.NoResourceAvailableException",
      "Could not acquire the minimum required resources.",
      {"org.apache.flink.runtime.scheduler.DefaultScheduler.lambda$assignResource$4("
       "DefaultScheduler.java:545)",
       "java.base/java.util.concurrent.CompletableFuture.uniHandle(CompletableFuture.java:934)"});
}

std::string CheckpointExceptionWrapped(const std::string& reason) {
  std::string inner =
      JavaStackTrace("org.apache.flink.runtime.checkpoint.CheckpointException", reason,
                     {"org.apache.flink.runtime.checkpoint.CheckpointCoordinator."
                      "abortPendingCheckpoint(CheckpointCoordinator.java:2208)",
                      "org.apache.flink.runtime.checkpoint.CheckpointCoordinator.lambda$null$1("
                      "CheckpointCoordinator.java:573)"});
  return JavaStackTrace(
      "java.util.concurrent.CompletionException",
      "org.apache.flink.runtime.checkpoint.CheckpointException: " + reason,
      {"java.base/"
       "java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:332)",
       "org.apache.flink.runtime.scheduler.SchedulerBase.lambda$triggerSavepoint$7(SchedulerBase."
       "java:964)"},
      inner);
}

std::string TasksNotRunning(const std::string& task_name, const std::string& job_id) {
  return "Checkpoint triggering task " + task_name + " of job " + job_id +
         " is not being executed at the moment. Aborting checkpoint. Failure reason: Not all "
         "required tasks are currently running.";
}

std::string ServerSideException(const std::string& stringified) {
  return "<Exception on server side:\n" + stringified + "\nEnd of exception on server side>";
}

}  // namespace flinksim::java
