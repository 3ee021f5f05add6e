// history_bench: how fast SqliteHistoryStore takes one cycle's history writes for a region of
// 10,000 jobs. Each cycle is one InTransaction holding an observation per job, some rule
// transitions and a restore-point upsert per job (a new checkpoint for half the jobs, a refresh
// of the known one for the other half), as the loop writes them. Prints rows per second, time
// per cycle, the file's size, and one retention pass. Asserts nothing.
//
//   history_bench [--jobs N] [--cycles N] [--transitions N] [--retention-every N] [--dir DIR]

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "storage/history_store.h"

namespace flinkguard {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// User + system CPU time of this process so far, in ms. The machine may be shared: wall time
// includes waiting for a core, CPU time does not.
double CpuMs() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  const auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
  };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

std::uintmax_t SizeOr0(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// A summary of the size the observer's snapshot summary has in practice.
std::string Summary(int job, int cycle) {
  return R"({"status":"RUNNING","all_tasks_running":true,"tasks_total":12,"restarts":)" +
         std::to_string(cycle % 3) + R"(,"checkpoint_age_ms":)" +
         std::to_string(4'000 + job % 900) + R"(,"lag":)" +
         std::to_string((job * 7919 + cycle) % 100'000) + R"(,"backpressure":0.02,"qps":)" +
         std::to_string(1'000 + job % 5'000) + "}";
}

int Run(int jobs, int cycles, int transitions, int retention_every, const std::string& base_dir) {
  std::string templ = base_dir + "/history-bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    std::perror(("mkdtemp " + templ).c_str());
    return 1;
  }
  const fs::path dir = templ;
  const fs::path db_path = dir / "history.db";
  int rc = 0;
  {
    auto opened = SqliteHistoryStore::Open(db_path.string());
    if (!opened) {
      std::fprintf(stderr, "%s\n", opened.error().message.c_str());
      fs::remove_all(dir);
      return 1;
    }
    SqliteHistoryStore& store = **opened;

    std::vector<std::string> names;
    for (int j = 0; j < jobs; ++j) names.push_back("job-" + std::to_string(j));
    const std::int64_t t0 = 1'763'700'000'000;  // epoch ms
    constexpr std::int64_t kInterval = 10'000;

    std::vector<double> cycle_ms;
    std::vector<double> cycle_cpu_ms;
    std::int64_t rows_per_cycle = 0;
    for (int c = 0; c < cycles && rc == 0; ++c) {
      const std::int64_t now = t0 + c * kInterval;
      std::int64_t rows = 0;
      const auto start = Clock::now();
      const double cpu_start = CpuMs();
      auto result = store.InTransaction([&]() -> Result<void> {
        for (int j = 0; j < jobs; ++j) {
          const std::string& job = names[static_cast<std::size_t>(j)];
          ObservationRecord o{.at_ms = now,
                              .cluster = "cluster-" + std::to_string(j / 100),
                              .job = job,
                              .job_id = "jid" + std::to_string(j),
                              .status = "RUNNING",
                              .summary_json = Summary(j, c)};
          if (auto r = store.RecordObservation(o); !r) return r;
          ++rows;
          // Half the jobs completed a new checkpoint since the last cycle.
          const int checkpoint = (c + (j % 2)) / 2;
          KnownRestorePoint p;
          p.job = job;
          p.cluster = o.cluster;
          p.job_id = o.job_id;
          p.point.id = checkpoint;
          p.point.path = "s3://checkpoints/" + job + "/chk-" + std::to_string(checkpoint);
          p.point.trigger_ms = t0 + checkpoint * 2 * kInterval;
          p.point.completed_ms = p.point.trigger_ms + 800;
          if (auto r = store.UpsertRestorePoint(p, RestorePointOrigin::kObserved, now); !r) {
            return r;
          }
          ++rows;
        }
        for (int i = 0; i < transitions; ++i) {
          RuleTransition t;
          t.rule = "too-many-restarts";
          t.job = names[static_cast<std::size_t>((c * transitions + i) % jobs)];
          t.cluster = "cluster-0";
          t.from = c % 2 ? RuleState::kFiring : RuleState::kPending;
          t.to = c % 2 ? RuleState::kInactive : RuleState::kFiring;
          t.at_ms = now;
          t.reason = "increase(restarts, 10m) = 7 > 5";
          t.labels = {{"team", "payments"}, {"tier", "1"}};
          t.annotations = {{"summary", "restarting"}};
          if (auto r = store.RecordTransition(t); !r) return r;
          ++rows;
        }
        return {};
      });
      const auto took = Clock::now() - start;
      const double cpu = CpuMs() - cpu_start;
      if (!result) {
        std::fprintf(stderr, "cycle %d: %s\n", c, result.error().message.c_str());
        rc = 1;
        break;
      }
      rows_per_cycle = rows;
      // As the agent would every so often (outside the timed cycle): keep 20 points per job.
      if (retention_every > 0 && (c + 1) % retention_every == 0) {
        const auto rstart = Clock::now();
        auto report = store.ApplyRetention(now, RetentionPolicy{});
        if (report) {
          std::printf("          retention: %lld rows deleted in %.1f ms\n",
                      static_cast<long long>(report->rows_deleted), Ms(Clock::now() - rstart));
        }
      }
      cycle_ms.push_back(Ms(took));
      cycle_cpu_ms.push_back(cpu);
      std::printf("cycle %2d: %7.1f ms (cpu %7.1f ms), %lld rows, db %.1f MiB + wal %.1f MiB\n", c,
                  Ms(took), cpu, static_cast<long long>(rows),
                  static_cast<double>(SizeOr0(db_path)) / (1 << 20),
                  static_cast<double>(SizeOr0(fs::path(db_path.string() + "-wal"))) / (1 << 20));
    }

    if (rc == 0 && !cycle_ms.empty()) {
      std::vector<double> sorted = cycle_ms;
      std::sort(sorted.begin(), sorted.end());
      const double median = sorted[sorted.size() / 2];
      const double first = cycle_ms.front();
      const double max = sorted.back();
      std::printf("\n%d jobs, %d transitions per cycle: %lld rows per cycle in one transaction\n",
                  jobs, transitions, static_cast<long long>(rows_per_cycle));
      std::vector<double> cpu_sorted = cycle_cpu_ms;
      std::sort(cpu_sorted.begin(), cpu_sorted.end());
      std::printf("cycle: first %.1f ms, median %.1f ms, max %.1f ms, last %.1f ms\n", first,
                  median, max, cycle_ms.back());
      std::printf("cycle CPU (user+sys): median %.1f ms, last %.1f ms\n",
                  cpu_sorted[cpu_sorted.size() / 2], cycle_cpu_ms.back());
      std::printf("rows/s at the median: %.0f\n",
                  static_cast<double>(rows_per_cycle) / (median / 1000.0));

      // The reads a person's `history` query makes, over everything written.
      {
        const auto qstart = Clock::now();
        auto obs = store.Observations(names[0], t0);
        const auto qobs = Clock::now() - qstart;
        auto points = store.RestorePoints(names[0]);
        const auto qpoints = Clock::now() - qstart - qobs;
        if (obs && points) {
          std::printf("read one job: %zu observations in %.1f ms, %zu restore points in %.2f ms\n",
                      obs->size(), Ms(qobs), points->size(), Ms(qpoints));
        }
      }

      // One retention pass that has work: keep 5 restore points per job, rows within 8 cycles.
      RetentionPolicy policy;
      policy.keep_restore_points = 5;
      policy.max_age_ms = 8 * kInterval;
      const auto rstart = Clock::now();
      auto report = store.ApplyRetention(t0 + cycles * kInterval, policy);
      const auto rtook = Clock::now() - rstart;
      if (report) {
        std::printf("retention: %lld rows deleted in %.1f ms\n",
                    static_cast<long long>(report->rows_deleted), Ms(rtook));
      } else {
        std::fprintf(stderr, "retention: %s\n", report.error().message.c_str());
        rc = 1;
      }
      std::printf("file: db %.1f MiB, wal %.1f MiB (%s)\n",
                  static_cast<double>(SizeOr0(db_path)) / (1 << 20),
                  static_cast<double>(SizeOr0(fs::path(db_path.string() + "-wal"))) / (1 << 20),
                  db_path.c_str());
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return rc;
}

}  // namespace
}  // namespace flinkguard

int main(int argc, char** argv) {
  CLI::App app{"history_bench: SqliteHistoryStore writes per cycle at scale"};
  int jobs = 10'000;
  int cycles = 10;
  int transitions = 100;
  int retention_every = 0;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp && *tmp ? tmp : "/tmp";
  app.add_option("--jobs", jobs, "jobs (one observation and one restore point each per cycle)")
      ->check(CLI::PositiveNumber);
  app.add_option("--cycles", cycles, "cycles to run")->check(CLI::PositiveNumber);
  app.add_option("--transitions", transitions, "rule transitions per cycle")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--retention-every", retention_every,
                 "ApplyRetention (default policy) after every N cycles, untimed; 0 = never")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--dir", dir, "where the temporary database directory is made")
      ->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);
  return flinkguard::Run(jobs, cycles, transitions, retention_every, dir);
}
