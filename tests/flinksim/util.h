#pragma once

// Small helpers shared by the flinksim model and its HTTP front: durations, ids, hashing,
// name sanitising the way Flink does it, and Java-looking exception text.

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace flinksim {

// "No event scheduled" marker for simulated times (epoch ms).
inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Parses a Flink-style duration into milliseconds: "500", "500ms", "10s", "10 s", "2 min",
// "1h", "1.5s", "3d". A bare number means milliseconds. Returns nullopt when malformed or
// negative.
std::optional<int64_t> ParseDurationMs(std::string_view text);

// Formats milliseconds the way Flink prints durations in its configuration ("1 s", "10 min",
// "250 ms").
std::string FormatDurationMs(int64_t ms);

// Deterministic pseudo-random source (seeded), used for ids, sizes and durations so that one
// seed gives one run. Not thread-safe; owned by the model, which is guarded by its caller.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // `chars` lowercase hex characters.
  std::string Hex(int chars);
  // Uniform integer in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi);
  // Uniform double in [0, 1).
  double Unit();
  // A random RFC 4122 version-4 UUID string (as Java's UUID.randomUUID().toString()).
  std::string Uuid();

 private:
  std::mt19937_64 engine_;
};

// A stable 32-hex-character digest of `text` (two FNV-1a 64-bit lanes). Used for operator and
// vertex ids, which Flink derives from operator uids, so they are the same for every
// submission of the same topology.
std::string StableHex32(std::string_view text);

// True for exactly 32 lowercase or uppercase hex characters.
bool IsHex32(std::string_view text);

std::string ToLower(std::string_view text);
std::string ToUpper(std::string_view text);
std::string Trim(std::string_view text);
// Splits on `sep`, trimming each piece; drops empty pieces when `skip_empty`.
std::vector<std::string> Split(std::string_view text, char sep, bool skip_empty = true);
bool StartsWith(std::string_view text, std::string_view prefix);
bool EndsWith(std::string_view text, std::string_view suffix);

// The operator name as it appears in REST metric ids: space . : , become '_', truncated to
// 80 characters (Flink's fixed limit).
std::string MetricOperatorName(std::string_view name);

// Prometheus label value filtering as Flink's PrometheusReporter does it by default: every
// character outside [a-zA-Z0-9:_] becomes '_'.
std::string PrometheusLabelValue(std::string_view value);

// Java's Double.toString(d) (used by Flink's Prometheus exposition): "0.0", "689.48",
// "1.651445646439E12", "NaN", "Infinity".
std::string JavaDoubleToString(double d);

// Turns "file:///a/b", "file:/a/b" or "/a/b" into a local path "/a/b". Other schemes
// ("s3://...") are returned unchanged (and will not exist locally).
std::string LocalPathFromUri(std::string_view uri);
// Turns a local absolute path into the URI form Flink reports: "file:/a/b".
std::string FileUri(std::string_view local_path);

// Current wall-clock time in epoch milliseconds (only used to seed simulated time).
int64_t WallClockMs();

// Splits "java.lang.RuntimeException: boom" into class and message. When the text does not
// start with a dotted class name, the class is java.lang.RuntimeException and the whole text
// is the message.
struct ExceptionSpec {
  std::string class_name;
  std::string message;
};
ExceptionSpec ParseExceptionSpec(std::string_view text);

// A Java-style stringified throwable: "<class>: <message>\n\tat frame\n..." with the given
// frames (each without the leading "\tat "). `cause`, when not empty, is appended as a
// "Caused by: " section (it must itself be a stringified throwable).
std::string JavaStackTrace(const std::string& class_name, const std::string& message,
                           const std::vector<std::string>& frames, const std::string& cause = "");

// Standard base64 (with padding).
std::string Base64Encode(std::string_view data);

// Reads a whole file; nullopt when it cannot be opened.
std::optional<std::string> ReadWholeFile(const std::string& path);
// Writes a whole file (creating parent directories); false on failure.
bool WriteWholeFile(const std::string& path, std::string_view content);

}  // namespace flinksim
