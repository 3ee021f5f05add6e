#pragma once

// Flink's PrometheusReporter exposition (text format 0.0.4) for the emulated cluster: metric
// names "flink_<scope>_<metric>", scope variables as labels with values filtered to
// [a-zA-Z0-9:_], "# HELP <metric> (scope: <scope>)", every metric typed gauge (Flink exports
// counters, gauges and meters as Prometheus gauges), values in Java's Double.toString form and
// the trailing comma in label sets that the Prometheus simpleclient writes. Only jobs whose
// tasks run export task/operator metrics, as in Flink.

#include <string>

#include "tests/flinksim/cluster.h"

namespace flinksim {

std::string PrometheusExposition(const Cluster& cluster);

}  // namespace flinksim
