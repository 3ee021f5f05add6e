// The pure parts of ZooKeeper coordination: sequence suffixes and contender order (Curator,
// kazoo and garbage names mixed), job names as node names, and the shared recovery record.

#include "agent/ha/zk_records.h"

#include <doctest/doctest.h>

namespace flinkguard {
namespace {

TEST_CASE("contenders: every child with a sequence suffix, in sequence order, whoever wrote it") {
  std::vector<std::string> ignored;
  const auto order = OrderContenders(
      {"_c_b-lock-0000000003", "0a1b2c__lock__0000000001", "garbage", "_c_a-latch-0000000002",
       "x-123", "_c_z-lock--000000005"},
      &ignored);
  REQUIRE(order.size() == 4);
  CHECK(order[0].name == "0a1b2c__lock__0000000001");
  CHECK(order[1].name == "_c_a-latch-0000000002");
  CHECK(order[2].name == "_c_b-lock-0000000003");
  CHECK(order[3].name == "_c_z-lock--000000005");  // after int32 overflow: later than all
  CHECK(ignored == std::vector<std::string>{"garbage", "x-123"});
  CHECK(!SequenceOf("lock-00000000a1"));
  CHECK(SequenceOf("n0000000042") == 42);
}

TEST_CASE("our node names are Curator's and carry our uuid") {
  const std::string uuid = NewUuid();
  CHECK(uuid.size() == 36);
  CHECK(uuid != NewUuid());
  CHECK(LatchPrefix(uuid) == "_c_" + uuid + "-latch-");
  CHECK(IsOwnNode(LockPrefix(uuid) + "0000000001", uuid));
  CHECK(!IsOwnNode("_c_" + NewUuid() + "-lock-0000000001", uuid));
  CHECK(!IsOwnNode("anything", ""));
}

TEST_CASE("job names as node names round-trip; names we cannot have written are refused") {
  for (const std::string job : {"orders-enrich", "a/b c", "..", "ümlaut_1", "%41"}) {
    const std::string node = EncodeJobNode(job);
    CHECK(node.find('/') == std::string::npos);
    CHECK(node != "..");
    CHECK(DecodeJobNode(node) == job);
  }
  CHECK(!DecodeJobNode("%41"));  // 'A' is never encoded
  CHECK(!DecodeJobNode("%%bad"));
  CHECK(!DecodeJobNode("a.b"));
  CHECK(!DecodeJobNode(""));
}

TEST_CASE("the shared recovery record round-trips; bad ones get a clear error") {
  ActionRecord a;
  a.action = "submit";
  a.instance_id = "r1";
  a.written_ms = 5;
  a.recovery.id = "rec-1";
  a.recovery.job = "job \"0\"";
  a.recovery.cluster = "c";
  a.recovery.trigger = "rule";
  a.recovery.started_ms = 1700000000000;
  a.recovery.strategy = Strategy::kSavepoint;
  a.recovery.restore_path = "file:/sp/1";
  a.recovery.plan = R"({"x":1})";
  a.recovery.progress = R"({"phase":"submit"})";
  a.recovery.fencing_token = 4294967297;
  a.recovery.severity = Severity::kCritical;
  auto back = ParseActionRecord(ActionRecordJson(a));
  REQUIRE(back.has_value());
  CHECK(back->action == "submit");
  CHECK(back->instance_id == "r1");
  CHECK(back->recovery.id == "rec-1");
  CHECK(back->recovery.job == "job \"0\"");
  CHECK(back->recovery.strategy == Strategy::kSavepoint);
  CHECK(back->recovery.restore_path == "file:/sp/1");
  CHECK(back->recovery.progress == a.recovery.progress);
  CHECK(back->recovery.fencing_token == 4294967297);
  CHECK(back->recovery.severity == Severity::kCritical);

  CHECK(ParseActionRecord("not json").error().message == "not a JSON object");
  CHECK(ParseActionRecord(R"({"format":2})").error().message.find("format") != std::string::npos);
  auto missing = ParseActionRecord(R"({"format":1,"action":"stop","id":"i","job":"j"})");
  REQUIRE(!missing);
  CHECK(missing.error().message.find("\"cluster\"") != std::string::npos);
  std::string bad_strategy = ActionRecordJson(a);
  bad_strategy.replace(bad_strategy.find("savepoint"), 9, "sometime");
  CHECK(ParseActionRecord(bad_strategy).error().message.find("strategy") != std::string::npos);
}

TEST_CASE("the shared placement round-trips; bad ones get a clear error") {
  const Placement p{"job \"0\"", "cluster-c", 1'700'000'000'123, "cluster cluster-a is down"};
  auto back = ParsePlacement(PlacementJson(p));
  REQUIRE(back.has_value());
  CHECK(back->job == p.job);
  CHECK(back->cluster == "cluster-c");
  CHECK(back->since_ms == p.since_ms);
  CHECK(back->reason == p.reason);
  CHECK(ParsePlacement("{").error().message == "not a JSON object");
  CHECK(ParsePlacement(R"({"format":1,"job":"j","reason":"r","since_ms":1})")
            .error()
            .message.find("\"cluster\"") != std::string::npos);
  CHECK(ParsePlacement(R"({"format":1,"job":"j","cluster":"c","reason":"r","since_ms":"x"})")
            .error()
            .message.find("since_ms") != std::string::npos);
  CHECK(ParsePlacement(R"({"format":1,"job":"","cluster":"c","reason":"r","since_ms":1})")
            .error()
            .message.find("must not be empty") != std::string::npos);
}

}  // namespace
}  // namespace flinkguard
