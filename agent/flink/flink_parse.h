#pragma once

// Pure mapping from Flink REST response bodies to flink_types.h values. No I/O.
// Every function takes the raw body and a context naming cluster and endpoint (used in every
// error message) and never throws: a body that is not JSON, is cut short, or lacks what the
// agent needs is an Error of kind kInvalid naming the context, the JSON path and the problem.
// Unknown fields are ignored (Flink adds fields in every release).

#include <string>
#include <string_view>
#include <vector>

#include "agent/flink/flink_types.h"
#include "rules/error.h"

namespace flinkguard {

Result<DashboardConfig> ParseDashboardConfig(std::string_view body, const std::string& context);
Result<ClusterOverview> ParseClusterOverview(std::string_view body, const std::string& context);
Result<Parsed<JobOverview>> ParseJobsOverview(std::string_view body, const std::string& context);
Result<JobDetails> ParseJobDetails(std::string_view body, const std::string& context);
Result<CheckpointStats> ParseCheckpointStats(std::string_view body, const std::string& context);
Result<CheckpointConfigInfo> ParseCheckpointConfig(std::string_view body,
                                                   const std::string& context);
// GET .../metrics[?get=]: a bare array of {"id"[, "value"]}.
Result<std::vector<MetricEntry>> ParseMetricList(std::string_view body,
                                                 const std::string& context);
// GET .../metrics?agg=: a bare array of {"id", "min"?, "max"?, "avg"?, "sum"?, "skew"?}.
Result<std::vector<AggregatedMetric>> ParseAggregatedMetrics(std::string_view body,
                                                             const std::string& context);
// The same results (values and Errors) as ParseMetricList / ParseAggregatedMetrics for every
// body, for the reads made for every job on every cycle: the usual well-formed body is read with
// rapidjson's SAX reader, without building a document (whose 64 KiB pool per response costs
// more than the parse); anything else is handed to the document parsers above.
Result<std::vector<MetricEntry>> ScanMetricList(std::string_view body, const std::string& context);
Result<std::vector<AggregatedMetric>> ScanAggregatedMetrics(std::string_view body,
                                                            const std::string& context);
// GET /jobs/:id/exceptions in the 1.x (root-exception + exceptionHistory) or 2.x
// (exceptionHistory only) shape. std::nullopt when the job has no recorded exception.
Result<std::optional<RootException>> ParseRootException(std::string_view body,
                                                        const std::string& context);
Result<SavepointStatus> ParseSavepointStatus(std::string_view body, const std::string& context);
// {"request-id": "<trigger id>"} from POST savepoints / stop.
Result<std::string> ParseTriggerId(std::string_view body, const std::string& context);
// {"jobid": "<32 hex>"} from POST /jars/:id/run.
Result<std::string> ParseJarRunJobId(std::string_view body, const std::string& context);
// {"filename": ".../<jar id>", "status": "success"} from POST /jars/upload -> the jar id.
Result<std::string> ParseJarUploadId(std::string_view body, const std::string& context);

struct JarInfo {
  std::string id;
  std::string name;
  std::int64_t uploaded = 0;
  std::vector<std::string> entry_classes;
};
Result<Parsed<JarInfo>> ParseJars(std::string_view body, const std::string& context);
Result<Parsed<TaskManagerInfo>> ParseTaskManagers(std::string_view body,
                                                  const std::string& context);
// {"errors": [...]} -> the strings; an Error when the body is not that shape.
Result<std::vector<std::string>> ParseErrorBody(std::string_view body, const std::string& context);

}  // namespace flinkguard
