// The .deb as CPack builds it from this build tree: its contents (binary, units, sysusers.d and
// tmpfiles.d entries, the default config as a conffile, rules, dashboard, alerting rules,
// examples), computed dependencies, and an install with dpkg into a throwaway root (maintainer
// scripts run chrootless with DPKG_ROOT, creating the user and the state directory there), from
// which `flinkguard --version` and `check-config` on the default config run; then a purge.
// The man page in the package renders without a warning and documents every subcommand of the
// installed binary's --help with each of its options (and no subcommand it no longer has).

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "tests/packaging/command.h"
#include "tests/support/test_support.h"

namespace flinkguard {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::vector<std::string> kExpectedFiles = {
    "./usr/bin/flinkguard",
    "./lib/systemd/system/flinkguard.service",
    "./lib/systemd/system/flinkguard@.service",
    "./usr/lib/sysusers.d/flinkguard.conf",
    "./usr/lib/tmpfiles.d/flinkguard.conf",
    "./etc/flinkguard/flinkguard.yaml",
    "./usr/share/flinkguard/rules/default-rules.yaml",
    "./usr/share/flinkguard/rules/default-rules.test.yaml",
    "./usr/share/flinkguard/grafana/flinkguard.json",
    "./usr/share/flinkguard/prometheus/flinkguard-rules.yaml",
    "./usr/share/flinkguard/examples/flinkguard.yaml",
    "./usr/share/flinkguard/examples/flinkguard-demo.yaml",
    "./usr/share/doc/flinkguard/README.md",
    "./usr/share/man/man1/flinkguard.1.gz",
};

// The path column of `dpkg-deb -c` (the last field of each line).
std::vector<std::string> Paths(const std::string& listing) {
  std::vector<std::string> out;
  std::istringstream in(listing);
  for (std::string line; std::getline(in, line);) {
    const std::size_t at = line.find(" ./");
    if (at != std::string::npos) out.push_back(line.substr(at + 1));
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The numeric uid of `user` in the passwd file `passwd`; -1 when absent.
long Uid(const std::string& passwd, const std::string& user) {
  std::istringstream in(testing::ReadFile(passwd));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(user + ":", 0) != 0) continue;
    std::istringstream fields(line);
    std::string name, pw, uid;
    std::getline(fields, name, ':');
    std::getline(fields, pw, ':');
    std::getline(fields, uid, ':');
    return std::stol(uid);
  }
  return -1;
}

// The entries of the block of `text` after the line `heading`, up to the next line that does not
// start with two spaces, as their first word: the names of --help's "Subcommands:" or "Options:".
std::vector<std::string> HelpBlock(const std::string& text, const std::string& heading) {
  std::vector<std::string> out;
  std::istringstream in(text);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (!inside) {
      inside = line == heading;
      continue;
    }
    if (line.rfind("  ", 0) != 0) break;
    if (line.size() > 2 && line[2] == ' ') continue;  // a wrapped description
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (!first.empty()) out.push_back(first);
  }
  return out;
}

// The long options of a --help "Options:" entry such as "-c,--config" ("--help" left out).
std::vector<std::string> LongOptions(const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  for (const std::string& e : entries) {
    std::istringstream names(e);
    for (std::string n; std::getline(names, n, ',');) {
      if (n.rfind("--", 0) == 0 && n != "--help") out.push_back(n);
    }
  }
  return out;
}

// roff source with the escaped minus (\-) written as a plain '-'.
std::string Unescaped(std::string roff) {
  for (std::size_t at = roff.find("\\-"); at != std::string::npos; at = roff.find("\\-", at)) {
    roff.erase(at, 1);
  }
  return roff;
}

// The subsections (.SS) of the man page's COMMANDS section: name -> its text.
std::map<std::string, std::string> CommandSections(const std::string& page) {
  std::map<std::string, std::string> out;
  std::istringstream in(Unescaped(page));
  bool in_commands = false;
  std::string current;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(".SH", 0) == 0) {
      in_commands = line == ".SH COMMANDS";
      current.clear();
      continue;
    }
    if (!in_commands) continue;
    if (line.rfind(".SS ", 0) == 0) {
      current = line.substr(4);
      out[current];
      continue;
    }
    if (!current.empty()) out[current] += line + "\n";
  }
  return out;
}

// The installed binary's subcommands and options against the installed man page.
void CheckManPage(const std::string& bin, const std::string& page_gz, const TempDir& dir) {
  const CommandResult unzipped = RunCommand({"gzip", "-dc", page_gz}, dir.path());
  REQUIRE_MESSAGE(unzipped.exit_code == 0, unzipped.output);
  const std::string page_file = dir.File("flinkguard.1");
  std::ofstream(page_file) << unzipped.output;
  // groff as man renders it on an 80-column terminal, every warning on; -z: no output but them.
  const CommandResult render = RunCommand(
      {"groff", "-man", "-ww", "-z", "-Tutf8", "-rLL=78n", page_file}, dir.path());
  CHECK_MESSAGE(render.exit_code == 0, render.output);
  CHECK_MESSAGE(render.output.empty(), "groff warnings on the man page:\n" << render.output);

  const CommandResult help = RunCommand({bin, "--help"}, dir.path());
  REQUIRE(help.exit_code == 0);
  const std::vector<std::string> commands = HelpBlock(help.output, "Subcommands:");
  REQUIRE_MESSAGE(commands.size() >= 10, help.output);
  const std::map<std::string, std::string> sections = CommandSections(unzipped.output);
  for (const std::string& command : commands) {
    auto section = sections.find(command);
    CHECK_MESSAGE(section != sections.end(), "subcommand '" << command
                      << "' of flinkguard --help has no '.SS " << command
                      << "' under COMMANDS in packaging/man/flinkguard.1");
    if (section == sections.end()) continue;
    const CommandResult sub_help = RunCommand({bin, command, "--help"}, dir.path());
    REQUIRE(sub_help.exit_code == 0);
    for (const std::string& option : LongOptions(HelpBlock(sub_help.output, "Options:"))) {
      CHECK_MESSAGE(section->second.find(option) != std::string::npos,
                    "flinkguard " << command << " " << option
                                  << " is not described in its man page section");
    }
  }
  for (const auto& [name, text] : sections) {
    CHECK_MESSAGE(Contains(commands, name), "the man page describes '" << name
                      << "', which flinkguard --help does not list");
  }
  // The global options and the sections a reader looks for.
  for (const std::string& option : LongOptions(HelpBlock(help.output, "Options:"))) {
    CHECK_MESSAGE(Unescaped(unzipped.output).find(option) != std::string::npos, option);
  }
  for (const char* heading : {".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH COMMANDS",
                              ".SH FILES", ".SH SIGNALS", ".SH EXIT STATUS", ".SH EXAMPLES",
                              ".SH SEE ALSO"}) {
    CHECK_MESSAGE(unzipped.output.find(std::string("\n") + heading + "\n") != std::string::npos,
                  heading);
  }
}

TEST_CASE("the .deb: contents, conffile, dependencies; installed into a throwaway root") {
  TempDir dir("fg-deb");
  const std::string out = dir.path() + "/out";
  const CommandResult pack = RunCommand(
      {"cpack", "-G", "DEB", "-B", out, "--config", testing::BinaryDir() + "/CPackConfig.cmake"},
      dir.path(), 120s);
  REQUIRE_MESSAGE(pack.exit_code == 0, pack.output);
  std::string deb;
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() == ".deb") deb = e.path().string();
  }
  REQUIRE_MESSAGE(!deb.empty(), pack.output);
  std::cout << "package: " << fs::path(deb).filename().string() << ", " << fs::file_size(deb)
            << " bytes\n";

  // Contents.
  const CommandResult listing = RunCommand({"dpkg-deb", "-c", deb}, dir.path());
  REQUIRE(listing.exit_code == 0);
  const std::vector<std::string> paths = Paths(listing.output);
  for (const std::string& p : kExpectedFiles) CHECK_MESSAGE(Contains(paths, p), p);
  // Control: the conffile, computed dependencies, maintainer scripts.
  const CommandResult conffiles = RunCommand({"dpkg-deb", "-I", deb, "conffiles"}, dir.path());
  CHECK(conffiles.exit_code == 0);
  CHECK(conffiles.output == "/etc/flinkguard/flinkguard.yaml\n");
  const CommandResult depends = RunCommand({"dpkg-deb", "-f", deb, "Depends"}, dir.path());
  CHECK(depends.output.find("libc6") != std::string::npos);
  CHECK(depends.output.find("libsqlite3-0") != std::string::npos);
  CHECK(depends.output.find("libsystemd0") != std::string::npos);
  CHECK(depends.output.find("libzookeeper-mt2") != std::string::npos);
  const CommandResult info = RunCommand({"dpkg-deb", "-I", deb}, dir.path());
  for (const char* script : {" postinst", " prerm", " postrm"}) {
    CHECK_MESSAGE(info.output.find(script) != std::string::npos, script);
  }

  const std::string root = dir.path() + "/root";
  if (::geteuid() != 0) {
    // dpkg -i needs root to set owners; unpack instead and run the binary from there.
    MESSAGE("not root: dpkg-deb -x instead of dpkg -i");
    REQUIRE(RunCommand({"dpkg-deb", "-x", deb, root}, dir.path()).exit_code == 0);
  } else {
    // A throwaway root: an empty dpkg database; the maintainer scripts run chrootless with
    // DPKG_ROOT=<root> (the host has no flinkguard dependencies to satisfy in it).
    fs::create_directories(root + "/var/lib/dpkg/info");
    fs::create_directories(root + "/var/lib/dpkg/updates");
    std::ofstream(root + "/var/lib/dpkg/status").flush();
    std::ofstream(root + "/var/lib/dpkg/available").flush();
    const CommandResult install =
        RunCommand({"dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends",
                    "--log=" + dir.File("dpkg.log"), "-i", deb},
                   dir.path(), 120s);
    REQUIRE_MESSAGE(install.exit_code == 0, install.output);
    const CommandResult status =
        RunCommand({"dpkg", "--root=" + root, "-s", "flinkguard"}, dir.path());
    CHECK(status.output.find("Status: install ok installed") != std::string::npos);
    CHECK(status.output.find("/etc/flinkguard/flinkguard.yaml") != std::string::npos);
    // postinst: the system user (sysusers.d) and the state directory it owns (tmpfiles.d).
    const long uid = Uid(root + "/etc/passwd", "flinkguard");
    REQUIRE_MESSAGE(uid > 0, install.output);
    CHECK(uid < 1000);  // a system user
    struct stat st {};
    REQUIRE(::stat((root + "/var/lib/flinkguard").c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK(static_cast<long>(st.st_uid) == uid);
    CHECK((st.st_mode & 07777) == 0750);
    REQUIRE(::stat((root + "/etc/flinkguard").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0750);
  }

  // The installed binary and the installed default config.
  const std::string bin = root + "/usr/bin/flinkguard";
  const CommandResult version = RunCommand({bin, "--version"}, dir.path());
  CHECK(version.exit_code == 0);
  CHECK(version.output.rfind("flinkguard 0.", 0) == 0);
  std::cout << "installed: " << version.output;
  CheckManPage(bin, root + "/usr/share/man/man1/flinkguard.1.gz", dir);
  const CommandResult check = RunCommand(
      {bin, "check-config", "--config", root + "/etc/flinkguard/flinkguard.yaml"}, dir.path());
  CHECK_MESSAGE(check.exit_code == 0, check.output);
  // The installed unit runs that binary with that config.
  const std::string unit = testing::ReadFile(root + "/lib/systemd/system/flinkguard.service");
  CHECK(unit.find("ExecStart=/usr/bin/flinkguard run --config /etc/flinkguard/flinkguard.yaml") !=
        std::string::npos);

  if (::geteuid() == 0) {
    // Purge: the files and the conffile go; the history directory and the user stay.
    const CommandResult purge =
        RunCommand({"dpkg", "--root=" + root, "--force-script-chrootless",
                    "--log=" + dir.File("dpkg.log"), "--purge", "flinkguard"},
                   dir.path(), 60s);
    CHECK_MESSAGE(purge.exit_code == 0, purge.output);
    CHECK_FALSE(fs::exists(bin));
    CHECK_FALSE(fs::exists(root + "/etc/flinkguard/flinkguard.yaml"));
    CHECK(fs::is_directory(root + "/var/lib/flinkguard"));
    CHECK(Uid(root + "/etc/passwd", "flinkguard") > 0);
  }
}

}  // namespace
}  // namespace flinkguard
