// The systemd units as shipped: `systemd-analyze verify` is clean for flinkguard.service and
// the per-region template (on copies whose ExecStart names the built binary, since verify wants
// an executable there), and `systemd-analyze security --offline=yes` rates their exposure below
// kMaxExposure. The shipped default config passes `flinkguard check-config` and keeps its
// history where the unit's StateDirectory= is.

#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>

#include "tests/packaging/command.h"
#include "tests/support/test_support.h"

namespace flinkguard {
namespace {

using testing::RunCommand;
using testing::TempDir;
using namespace std::chrono_literals;

// The README states the figure; a unit that loosens its sandbox fails here first.
constexpr double kMaxExposure = 2.0;

std::string UnitSource(const std::string& name) {
  return testing::ReadFile(testing::SourceDir() + "/packaging/systemd/" + name);
}

// Writes `unit` as `dir/name` with /usr/bin/flinkguard replaced by the built binary.
std::string WriteTestCopy(const TempDir& dir, const std::string& name, std::string unit) {
  const std::string from = "/usr/bin/flinkguard";
  for (std::size_t at = unit.find(from); at != std::string::npos; at = unit.find(from, at)) {
    unit.replace(at, from.size(), FLINKGUARD_BINARY);
    at += std::string(FLINKGUARD_BINARY).size();
  }
  std::ofstream(dir.File(name)) << unit;
  return dir.File(name);
}

// The lines of `output` that mention a flinkguard unit (verify's warnings name the file).
std::string UnitWarnings(const std::string& output) {
  std::istringstream in(output);
  std::string warnings;
  for (std::string line; std::getline(in, line);) {
    if (line.find("flinkguard") != std::string::npos) warnings += line + "\n";
  }
  return warnings;
}

// "→ Overall exposure level for flinkguard.service: 1.4 OK" -> 1.4; -1 when absent.
double Exposure(const std::string& output) {
  static const std::regex kLevel(R"(Overall exposure level for \S+: ([0-9]+\.[0-9]+))");
  std::smatch m;
  if (!std::regex_search(output, m, kLevel)) return -1;
  return std::stod(m[1].str());
}

TEST_CASE("the units run the packaged binary with the packaged config") {
  const std::string single = UnitSource("flinkguard.service");
  CHECK(single.find(
            "\nExecStart=/usr/bin/flinkguard run --config /etc/flinkguard/flinkguard.yaml\n") !=
        std::string::npos);
  CHECK(single.find("\nStateDirectory=flinkguard\n") != std::string::npos);
  const std::string region = UnitSource("flinkguard@.service");
  CHECK(region.find("\nExecStart=/usr/bin/flinkguard run --config /etc/flinkguard/%i.yaml\n") !=
        std::string::npos);
  CHECK(region.find("\nStateDirectory=flinkguard/%i\n") != std::string::npos);
  for (const std::string* unit : {&single, &region}) {
    for (const char* line : {"Type=notify", "NotifyAccess=main", "WatchdogSec=60s",
                             "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID",
                             "User=flinkguard", "CapabilityBoundingSet=", "NoNewPrivileges=yes",
                             "ProtectSystem=strict", "SystemCallFilter=@system-service"}) {
      CHECK_MESSAGE(unit->find("\n" + std::string(line) + "\n") != std::string::npos, line);
    }
  }
}

TEST_CASE("systemd-analyze verify: both units are clean, and a broken one is not") {
  TempDir dir("fg-units");
  const std::string region = UnitSource("flinkguard@.service");
  for (const auto& [name, unit] : std::vector<std::pair<std::string, std::string>>{
           {"flinkguard.service", UnitSource("flinkguard.service")},
           {"flinkguard@.service", region},
           {"flinkguard@us-east-1.service", region}}) {
    CAPTURE(name);
    const std::string copy = WriteTestCopy(dir, name, unit);
    const testing::CommandResult r =
        RunCommand({"systemd-analyze", "verify", copy}, dir.path(), 60s);
    CHECK_MESSAGE(r.exit_code == 0, r.output);
    CHECK_MESSAGE(UnitWarnings(r.output).empty(), r.output);
  }
  // The check sees mistakes: an unknown key is only a warning (exit 0), found in the output.
  std::string broken = UnitSource("flinkguard.service");
  broken.replace(broken.find("\nUMask="), 1, "\nUMaks=0077\n");
  const std::string copy = WriteTestCopy(dir, "flinkguard-broken.service", broken);
  const testing::CommandResult r = RunCommand({"systemd-analyze", "verify", copy}, dir.path(), 60s);
  CHECK(UnitWarnings(r.output).find("Unknown key") != std::string::npos);
}

TEST_CASE("systemd-analyze security --offline: the exposure score is below the bar") {
  TempDir dir("fg-units");
  for (const auto& [name, source] : std::vector<std::pair<std::string, std::string>>{
           {"flinkguard.service", "flinkguard.service"},
           {"flinkguard@us-east-1.service", "flinkguard@.service"}}) {
    CAPTURE(name);
    const std::string copy = WriteTestCopy(dir, name, UnitSource(source));
    const testing::CommandResult r = RunCommand(
        {"systemd-analyze", "security", "--offline=yes", "--no-pager", copy}, dir.path(), 60s);
    const double exposure = Exposure(r.output);
    REQUIRE_MESSAGE(exposure >= 0, r.output);
    std::cout << "systemd-analyze security --offline=yes " << name << ": exposure " << exposure
              << " (bar " << kMaxExposure << ")\n";
    MESSAGE(name << " exposure " << exposure);
    CHECK(exposure < kMaxExposure);
  }
}

TEST_CASE("the default config is valid and keeps its history in the unit's StateDirectory") {
  TempDir dir("fg-units");
  const std::string config = testing::SourceDir() + "/packaging/etc/flinkguard.yaml";
  CHECK(testing::ReadFile(config).find("\n  state_dir: /var/lib/flinkguard ") != std::string::npos);
  const testing::CommandResult r =
      RunCommand({FLINKGUARD_BINARY, "check-config", "--config", config}, dir.path(), 30s);
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  // The annotated example stays valid too (its secrets come from the environment).
  const testing::CommandResult example =
      RunCommand({FLINKGUARD_BINARY, "check-config", "--config",
                  testing::SourceDir() + "/packaging/flinkguard.yaml"},
                 dir.path(), 30s,
                 {"FLINKGUARD_PAGERDUTY_ROUTING_KEY=test-routing-key",
                  "FLINKGUARD_SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/test"});
  CHECK_MESSAGE(example.exit_code == 0, example.output);
}

}  // namespace
}  // namespace flinkguard
