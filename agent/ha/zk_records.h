#pragma once

// What flinkguard writes into ZooKeeper and reads back, as pure functions (no ZooKeeper here):
// node names of the election and the locks, job names as node names, and the record of an
// unfinished recovery under `<root>/actions/<job>`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/error.h"
#include "storage/history_store.h"

namespace flinkguard {

// A child of an election or lock directory that carries a sequence number.
struct SequencedNode {
  std::string name;
  std::int64_t sequence = 0;  // the trailing 10 digits (an optional '-' before them: overflow)
};

// The sequence suffix of `name`, or nullopt when it has none (not a contender).
std::optional<std::int64_t> SequenceOf(std::string_view name);

// Contenders in order (lowest sequence first); every other child lands in `ignored`.
// Any child with a sequence suffix counts, whoever wrote it (Curator, kazoo with
// extra_lock_patterns, another flinkguard): the most conservative rule.
std::vector<SequencedNode> OrderContenders(const std::vector<std::string>& children,
                                           std::vector<std::string>* ignored);

// Curator-compatible names: "_c_<uuid>-latch-" and "_c_<uuid>-lock-" (ZooKeeper appends the
// sequence).
std::string LatchPrefix(const std::string& uuid);
std::string LockPrefix(const std::string& uuid);
// True when `name` is one of ours for this uuid.
bool IsOwnNode(std::string_view name, const std::string& uuid);
// A random version-4 UUID (36 characters with dashes).
std::string NewUuid();

// A job name as one znode name: letters, digits, '-' and '_' kept, every other byte as %XX.
std::string EncodeJobNode(std::string_view job);
// The inverse; nullopt for a name EncodeJobNode cannot have produced.
std::optional<std::string> DecodeJobNode(std::string_view node);

// The data of our election and lock nodes: who we are, for people reading the tree.
std::string IdentityJson(const std::string& instance_id, const std::string& host, int pid,
                         const std::string& version);

// The record of an unfinished recovery as the fenced step wrote it.
struct ActionRecord {
  RecoveryRecord recovery;   // id, job, cluster, plan, progress, fencing token, ...
  std::string action;        // the step it was about to take: stop, cancel, upload, submit
  std::string instance_id;   // the replica that took it
  std::int64_t written_ms = 0;
};
std::string ActionRecordJson(const ActionRecord& record);
// A clear error naming what is wrong (not JSON, missing or mistyped fields).
Result<ActionRecord> ParseActionRecord(std::string_view json);

// Where a job lives (after a failover or a move), as shared under <root>/placements/<job>.
std::string PlacementJson(const Placement& p);
// A clear error naming what is wrong (not JSON, missing or mistyped fields).
Result<Placement> ParsePlacement(std::string_view json);

}  // namespace flinkguard
