#pragma once

// Turns a validated Config into the agent's collaborators' settings. Pure: no I/O.

#include <map>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/executor.h"
#include "agent/observer.h"
#include "agent/tsdb/prometheus_client.h"

namespace flinkguard {

// The clusters to observe, with endpoint, timeouts, TLS and auth headers from the config.
std::vector<ObservedCluster> ObservedClustersFrom(const Config& config);

// The same clusters' endpoints, for the executor.
std::vector<FlinkEndpoint> FlinkEndpointsFrom(const Config& config);

// What the executor needs to (re)submit each catalog job, by job name.
std::map<std::string, JobSubmission> JobSubmissionsFrom(const Config& config);

// One query per tsdb.signals entry (every job), plus one per job-specific `signals` entry.
std::vector<SignalQuery> SignalQueriesFrom(const Config& config);

// Prometheus client settings; only meaningful when config.tsdb is set.
PrometheusClientOptions PrometheusOptionsFrom(const Config& config);

// RFC 4648 base64 (for HTTP basic auth).
std::string Base64(const std::string& in);

}  // namespace flinkguard
