#pragma once

// `flinkguard history`: what the history store remembers about a job (or every job) since a
// time, as one report told in order — rule transitions, refusals, recoveries with their steps
// and savepoints, interleaved by time — for people (text) or for tools (JSON).
// Reading goes through the store's role interfaces; formatting is pure, so tests feed it a
// report without a store, and the text takes `now` instead of reading a clock.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "rules/decision.h"
#include "rules/error.h"
#include "storage/history_store.h"

namespace flinkguard {

// What to report on.
struct HistoryQuery {
  std::string job;            // "" = every job
  std::int64_t since_ms = 0;  // epoch ms; events at or after it (recoveries by their start)
};

// One recovery as journaled, with its steps.
struct RecoveryHistory {
  RecoveryRecord record;
  std::vector<StepRecord> steps;  // by seq
};

// One entry of a report. `at_ms` is when it happened: a transition's or refusal's at_ms, a
// recovery's started_ms, a savepoint's requested_ms.
struct HistoryEvent {
  std::int64_t at_ms = 0;
  std::variant<RuleTransition, RefusalRecord, RecoveryHistory, SavepointRecord> what;

  // "transition", "refusal", "recovery" or "savepoint" (the JSON `type`).
  const char* TypeName() const;
};

// Everything recorded for a query, oldest first. Events at the same millisecond keep the order
// in which one agent cycle produces them: transitions, refusals, recoveries, savepoints.
struct HistoryReport {
  HistoryQuery query;
  std::vector<HistoryEvent> events;
};

// Reads the report for `q`: transitions, refusals and savepoints of the job (or of every job) at
// or after q.since_ms, and the recoveries started at or after it, each with its steps. A
// recovery that started before since_ms is not included, even when it is still in progress.
// Fails with the store's error kind and a message naming what could not be read.
// Uses `journal` and `events` only during the call.
[[nodiscard]] Result<HistoryReport> ReadHistory(RecoveryJournal& journal, EventLog& events,
                                                const HistoryQuery& q);

// The report for people, one block per event in time order: a headline with the UTC time
// ("2026-11-21 19:30:22 (3m ago)"), the job and what happened, then indented details (reasons,
// the restore point, each step of a recovery with its offset from the start and duration, the
// outcome). Dry runs read "DRY RUN: would have recovered". An empty report is one line saying
// there were no events for the job since the time. `now_ms` (epoch ms) dates the "ago"s and
// the duration of what is still running. Ends with a newline.
std::string HistoryToText(const HistoryReport& r, std::int64_t now_ms);

// The report as one JSON document:
//   {"job": "<name>" or null for every job, "since_ms": n, "events": [...]}
// each event {"type": "transition"|"refusal"|"recovery"|"savepoint", "at_ms": n, ...} with every
// field of its record (times as epoch ms, absent optional values as null, enums by their
// *Name()); a recovery's "rules" is an array and its steps are in "steps". `pretty` indents it.
std::string HistoryToJson(const HistoryReport& r, bool pretty);

}  // namespace flinkguard
