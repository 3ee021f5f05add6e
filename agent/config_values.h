#pragma once

// Parsers and checks for the value syntaxes that appear in flinkguard.yaml (URLs, host:port,
// ZooKeeper connect strings, names), and the "did you mean" helper. Pure functions, no I/O;
// used by the config loader and tested on their own.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "rules/error.h"

namespace flinkguard {

// Parses an absolute http or https URL: scheme://host[:port][/path][?query]. The host is a name,
// an IPv4 address or a bracketed IPv6 address; the port, when written, is 1..65535. User info
// (user:pass@) and fragments are rejected. A trailing '/' of the path is dropped. On failure the
// kInvalid message says what is wrong without quoting the text (it may hold a token); callers
// decide whether quoting it is safe.
Result<Url> ParseHttpUrl(std::string_view text);

// Parses "host:port" (IPv6 hosts in brackets: "[::1]:9310"). The host must not be empty; the
// port is 0..65535 when `allow_port_zero`, else 1..65535. Messages do not quote the text.
Result<HostPort> ParseHostPort(std::string_view text, bool allow_port_zero);

// Parses a ZooKeeper connect string "host:port[,host:port...]", each port 1..65535. A chroot
// suffix ("/path") is rejected: the path belongs in `ha.root`.
Result<std::vector<HostPort>> ParseZooKeeperConnect(std::string_view text);

// Checks a ZooKeeper path: starts with '/', is not "/" alone, has no empty, "." or ".."
// segment and no trailing '/', and is not under /flink (Flink's HA root) or /zookeeper.
Result<void> CheckZooKeeperPath(std::string_view path);

// True for names of clusters, rules and alert receivers: one or more of [a-z0-9_-].
bool IsResourceName(std::string_view name);

// True for signal names: [a-z_][a-z0-9_]*.
bool IsIdentifier(std::string_view name);

// True for names of environment variables: [A-Za-z_][A-Za-z0-9_]*.
bool IsEnvVarName(std::string_view name);

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// adjacent characters each cost 1.
std::size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo (distance at most
// 1 for words up to 4 characters, 2 up to 8, else 3) and no other candidate is as close;
// otherwise nullopt.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates);

// `text` for quoting in a message: control characters and bytes that are not valid UTF-8 shown
// as escapes (\n, \t, \xNN), and, when longer than `max_chars` bytes, cut at a character
// boundary and ended with "..." so the result is at most `max_chars` bytes.
std::string QuoteForMessage(std::string_view text, std::size_t max_chars = 80);

}  // namespace flinkguard
