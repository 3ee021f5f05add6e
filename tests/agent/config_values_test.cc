#include "agent/config_values.h"

#include <doctest/doctest.h>

using namespace flinkguard;

TEST_CASE("http URLs are parsed and normalised") {
  auto u = ParseHttpUrl("http://jm-a:8081");
  REQUIRE(u.has_value());
  CHECK(u->scheme == "http");
  CHECK(u->host == "jm-a");
  CHECK(u->port == 8081);
  CHECK(u->explicit_port);
  CHECK(u->path.empty());
  CHECK(u->ToString() == "http://jm-a:8081");

  auto s = ParseHttpUrl("https://flink.example.com/proxy/flink/");
  REQUIRE(s.has_value());
  CHECK(s->port == 443);
  CHECK_FALSE(s->explicit_port);
  CHECK(s->path == "/proxy/flink");
  CHECK(s->ToString() == "https://flink.example.com/proxy/flink");

  auto q = ParseHttpUrl("http://hooks:80/notify?team=ads");
  REQUIRE(q.has_value());
  CHECK(q->path == "/notify?team=ads");
  auto q2 = ParseHttpUrl("http://hooks?x=1");
  REQUIRE(q2.has_value());
  CHECK(q2->path == "/?x=1");

  auto v6 = ParseHttpUrl("http://[fe80::1]:9090");
  REQUIRE(v6.has_value());
  CHECK(v6->host == "fe80::1");
  CHECK(v6->ToString() == "http://[fe80::1]:9090");
}

TEST_CASE("bad URLs are rejected with a reason that does not quote them") {
  struct Case {
    const char* url;
    const char* reason;
  };
  for (const Case& c :
       {Case{"jm:8081", "scheme is missing"}, Case{"ftp://jm", "must be http or https"},
        Case{"HTTP://jm", "must be http or https"}, Case{"http://", "host is missing"},
        Case{"http://:80", "host is missing"}, Case{"http://jm:0", "from 1 to 65535"},
        Case{"http://jm:65536", "from 1 to 65535"}, Case{"http://jm:80x", "from 1 to 65535"},
        Case{"http://jm:", "port is missing"},
        Case{"http://u:secretpw@jm", "credentials in the URL"}, Case{"http://jm/a b", "spaces"},
        Case{"http://jm/#frag", "fragment"}, Case{"http://j*m", "the host may hold only"},
        Case{"http://[zz]:80", "IPv6"}, Case{"http://[::1", "closing ']'"}}) {
    CAPTURE(c.url);
    auto r = ParseHttpUrl(c.url);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::kInvalid);
    CHECK(r.error().message.find(c.reason) != std::string::npos);
    CHECK(r.error().message.find(c.url) == std::string::npos);
  }
  CHECK(ParseHttpUrl("http://u:secretpw@jm").error().message.find("secretpw") == std::string::npos);
}

TEST_CASE("host:port and ZooKeeper connect strings") {
  CHECK(*ParseHostPort("127.0.0.1:9310", false) == HostPort{"127.0.0.1", 9310});
  CHECK(*ParseHostPort("[::]:0", true) == HostPort{"::", 0});
  CHECK_FALSE(ParseHostPort("[::]:0", false).has_value());
  CHECK_FALSE(ParseHostPort("localhost", true).has_value());
  CHECK_FALSE(ParseHostPort(":9310", true).has_value());

  auto zk = ParseZooKeeperConnect("zk1:2181,zk2:2182,10.0.0.3:2181");
  REQUIRE(zk.has_value());
  CHECK(*zk == std::vector<HostPort>{{"zk1", 2181}, {"zk2", 2182}, {"10.0.0.3", 2181}});
  CHECK(ParseZooKeeperConnect("zk1:2181,").error().message.find("server 2") != std::string::npos);
  CHECK(ParseZooKeeperConnect("zk1:2181/chroot").error().message.find("ha.root") !=
        std::string::npos);
  CHECK_FALSE(ParseZooKeeperConnect("").has_value());

  CHECK(CheckZooKeeperPath("/flinkguard/us-east-1").has_value());
  for (const char* bad : {"", "flinkguard", "/", "/a/", "/a//b", "/a/./b", "/a/.."}) {
    CAPTURE(bad);
    CHECK_FALSE(CheckZooKeeperPath(bad).has_value());
  }
  // Never under Flink's own HA root or ZooKeeper's.
  CHECK(CheckZooKeeperPath("/flink/agent").error().message.find("Flink's HA") !=
        std::string::npos);
  CHECK_FALSE(CheckZooKeeperPath("/flink").has_value());
  CHECK_FALSE(CheckZooKeeperPath("/zookeeper/x").has_value());
  CHECK(CheckZooKeeperPath("/flinkguard").has_value());
  CHECK(CheckZooKeeperPath("/flink-agent/eu").has_value());
}

TEST_CASE("name checks") {
  CHECK(IsResourceName("yarn-a_1"));
  CHECK_FALSE(IsResourceName("Yarn"));
  CHECK_FALSE(IsResourceName(""));
  CHECK_FALSE(IsResourceName("a.b"));
  CHECK(IsIdentifier("kafka_lag"));
  CHECK(IsIdentifier("_x1"));
  CHECK_FALSE(IsIdentifier("1x"));
  CHECK_FALSE(IsIdentifier("kafka-lag"));
  CHECK(IsEnvVarName("FLINKGUARD_PD_KEY"));
  CHECK_FALSE(IsEnvVarName("9X"));
  CHECK_FALSE(IsEnvVarName("A-B"));
}

TEST_CASE("edit distance counts adjacent swaps as one edit") {
  CHECK(EditDistance("", "") == 0);
  CHECK(EditDistance("abc", "") == 3);
  CHECK(EditDistance("poll_intervl", "poll_interval") == 1);
  CHECK(EditDistance("timeuot", "timeout") == 1);
  CHECK(EditDistance("kitten", "sitting") == 3);
}

TEST_CASE("a suggestion is made only when one candidate is clearly close") {
  const std::vector<std::string> keys{"poll_interval", "listen", "state_dir", "dry_run"};
  CHECK(ClosestMatch("poll_intervl", keys) == "poll_interval");
  CHECK(ClosestMatch("dryrun", keys) == "dry_run");
  CHECK(ClosestMatch("lisen", keys) == "listen");
  CHECK_FALSE(ClosestMatch("frobnicate", keys).has_value());
  CHECK_FALSE(ClosestMatch("xy", keys).has_value());
  // Two equally close candidates: no guess.
  CHECK_FALSE(ClosestMatch("yarn-c", {"yarn-a", "yarn-b"}).has_value());
  CHECK(ClosestMatch("yarn-c", {"yarn-a", "kube-b"}) == "yarn-a");
}

TEST_CASE("found values are quoted safely") {
  CHECK(QuoteForMessage("abc") == "abc");
  CHECK(QuoteForMessage("a\nb\tc\x01") == "a\\nb\\tc\\x01");
  const std::string long_text(200, 'x');
  const std::string q = QuoteForMessage(long_text, 20);
  CHECK(q.size() == 20);
  CHECK(q.substr(17) == "...");
  // A multi-byte character is never cut in half.
  const std::string cut = QuoteForMessage("aaaaaaaaaaaaaaaa\xC3\xA9\xC3\xA9\xC3\xA9zzzz", 20);
  CHECK(cut == "aaaaaaaaaaaaaaaa...");
  // Valid UTF-8 is kept; stray bytes are escaped.
  CHECK(QuoteForMessage("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(QuoteForMessage("a\xFF\xC3z") == "a\\xff\\xc3z");
  CHECK(QuoteForMessage("back\\slash") == "back\\slash");
  CHECK(QuoteForMessage(std::string(20, 'x'), 20) == std::string(20, 'x'));
}
