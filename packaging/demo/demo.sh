#!/usr/bin/env bash
# The flinkguard demo: builds flinkguard and flinksim, starts two emulated Flink clusters
# (two availability zones) with five streaming jobs, starts the flinkguard agent on them
# (SQLite history in /tmp/flinkguard-demo, no ZooKeeper), then injects trouble over about a
# minute and a half — a job failure the restart strategy absorbs, a terminal failure, a restart
# loop, stalled checkpoints, a throughput drop, and at the end the loss of a whole cluster and its
# return — and shows what flinkguard does: its live log, a periodic savepoint, the failover of the
# jobs that have a backup cluster, the stale copies cancelled, then the history of every job, the
# alerts it sent and a few of its own metrics.
#
#   packaging/demo/demo.sh            run, then keep the agent running until Ctrl-C
#   packaging/demo/demo.sh --short    the scripted run only, then check and exit (used by CI)
#
# Ctrl-C stops everything it started. Every wait is bounded (at most about 4 minutes in all, when
# nothing happens as it should); the fixed sleeps only pace the story.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
short=0
[[ "${1:-}" == "--short" ]] && short=1

if [[ -n "${FLINKGUARD_DEMO_BIN_DIR:-}" ]]; then
  # Already built (the test suite runs the short demo on its own build tree).
  build=$FLINKGUARD_DEMO_BIN_DIR
else
  packaging/install-deps.sh --test
  build=${FLINKGUARD_DEMO_BUILD_DIR:-build}
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLINKGUARD_BUILD_TESTS=ON >/dev/null
  cmake --build "$build" --target flinkguard flinksim
fi

config=packaging/demo/flinkguard-demo.yaml
report="$root/packaging/demo/demo_report.py"
demo_dir=/tmp/flinkguard-demo
rm -rf "$demo_dir" && mkdir -p "$demo_dir/state"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'echo; echo "stopping"; exit 0' INT TERM

# Checkpoints every 2 s, so the run shows many of them; checkpoints and savepoints are files under
# /tmp/flinkguard-demo/cluster-*/ (which the demo config counts as shared storage). Each cluster
# keeps its 10 newest checkpoints (state.checkpoints.num-retained), so the newest one flinkguard
# saw before an outage still exists when it moves a job.
"$build/tests/flinksim/flinksim" --listen 127.0.0.1:18081 --control-listen 127.0.0.1:18091 \
  --prometheus-listen 127.0.0.1:19251 --flink-version 1.20 --jobs 5 --checkpoint-interval 2s \
  --conf restart-strategy.fixed-delay.attempts=1000 --conf state.checkpoints.num-retained=10 \
  --data-dir "$demo_dir/cluster-a" \
  --port-file "$demo_dir/cluster-a.ports" >"$demo_dir/cluster-a.log" 2>&1 &
pids+=($!)
"$build/tests/flinksim/flinksim" --listen 127.0.0.1:18082 --control-listen 127.0.0.1:18092 \
  --flink-version 1.20 --jobs 0 --checkpoint-interval 2s \
  --conf state.checkpoints.num-retained=10 --data-dir "$demo_dir/cluster-b" \
  --port-file "$demo_dir/cluster-b.ports" >"$demo_dir/cluster-b.log" 2>&1 &
pids+=($!)
for f in cluster-a cluster-b; do
  for _ in $(seq 1 100); do [[ -s "$demo_dir/$f.ports" ]] && break; sleep 0.1; done
  [[ -s "$demo_dir/$f.ports" ]] || { echo "flinksim $f did not start; see $demo_dir/$f.log"; exit 1; }
done
echo "== two emulated Flink 1.20 clusters: cluster-a $(cat "$demo_dir/cluster-a.ports")  (jobs job-0 ... job-4)"
echo "==                                   cluster-b $(cat "$demo_dir/cluster-b.ports")  (empty: the backup)"
echo
echo "== flinkguard check-config --config $config"
"$build/agent/flinkguard" check-config --config "$config"
echo

control() {  # control <cluster-a|cluster-b> <action> [json]
  local port=18091 body='{}'
  [[ "$1" == cluster-b ]] && port=18092
  if (($# >= 3)); then body=$3; fi
  curl -sf -m 5 -X POST "http://127.0.0.1:$port/_sim/$2" -H 'Content-Type: application/json' \
    -d "$body" >/dev/null || echo "   (control call $2 on $1 failed)"
}
flinkguard() { "$build/agent/flinkguard" "$@"; }
step() { echo; echo "== t+${SECONDS}s  $*"; }
# wait_for <at most N seconds> <stage>: until flinkguard's history shows the stage reached
# (demo_report.py says what each stage means); on time-out say so and go on (the short demo's
# checks then name what is missing).
wait_for() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    if flinkguard history --config "$config" --since 1h --json >"$demo_dir/poll.json" 2>/dev/null \
        && python3 "$report" reached "$2" "$demo_dir/poll.json"; then
      return 0
    fi
    sleep 1
  done
  echo "   (flinkguard has not got to '$2' after $1 s; going on)"
}

echo "== flinkguard run --config $config   (its log below, indented; full log: $demo_dir/agent.log)"
"$build/agent/flinkguard" run --config "$config" >"$demo_dir/agent.log" 2>&1 &
agent_pid=$!
pids+=($agent_pid)
# The live log, indented, without the routine rule transitions into and out of `unknown` (as
# `flinkguard history` leaves them out without --all); stopped before the summaries at the end.
tail_pid=
tail_log() {
  tail -n "$1" -f "$demo_dir/agent.log" --pid "$agent_pid" 2>/dev/null \
    > >(grep --line-buffered -vE ' (-> unknown|unknown ->) ' | sed -u 's/^/      | /') &
  tail_pid=$!
  pids+=($tail_pid)
}
stop_log() { sleep 0.5; kill "$tail_pid" 2>/dev/null || true; wait "$tail_pid" 2>/dev/null || true; }
tail_log +1
SECONDS=0
sleep 5
step "inject: job-1 throws an exception (the restart strategy absorbs it: RESTARTING, then RUNNING; no action needed)"
control cluster-a fail_job '{"job":"job-1","exception":"java.lang.RuntimeException: poison record at offset 4711"}'
sleep 3
step "inject: job-2 fails terminally (FAILED: Flink will not bring it back) -> rule job-failed -> resubmit from its last checkpoint"
control cluster-a fail_job '{"job":"job-2","exception":"java.lang.OutOfMemoryError: Java heap space","terminal":true}'
sleep 3
step "inject: job-0's checkpoints stall -> rule checkpoint-stale (age over 20 s for 10 s) -> cancel, resubmit from its last completed checkpoint"
control cluster-a checkpoints '{"job":"job-0","mode":"stall"}'
step "inject: job-1's throughput drops to 40 records/s -> rule qps-drop (under 100/s for 10 s) -> alert only (flinkguard does not restart a slow job)"
control cluster-a set_traffic '{"job":"job-1","qps":40}'
sleep 4
step "inject: job-3 enters a restart loop (fails 3 s after each restart) -> rule restart-loop -> cancel it, resubmit from its last checkpoint"
control cluster-a restart_loop '{"job":"job-3","after":"3s"}'
wait_for 80 first-minute
step "no injection: job-4 runs untroubled -> its first periodic savepoint once it has run a minute (savepoints.interval 1m), recorded in the restore-point catalog"
wait_for 50 savepoint
sleep 2
step "inject: cluster-a stops answering (its AZ is cut off; the jobs on it keep running, unseen) -> down after 4 s and 2 polls -> job-0, job-1, job-4 (failover: [cluster-b]) move to cluster-b, each from the newest checkpoint or savepoint flinkguard recorded; job-2, job-3 (no failover cluster) are paged, not started elsewhere"
control cluster-a cluster_down '{"mode":"refuse"}'
wait_for 50 failover
sleep 4
step "inject: cluster-a answers again, its old instances of job-0, job-1, job-4 still running -> flinkguard cancels those stale copies (cancel, not savepoint: the copies on cluster-b own the state now)"
control cluster-a cluster_up
wait_for 40 stale
sleep 3
stop_log
step "what flinkguard recorded: flinkguard history --since 10m"
flinkguard history --config "$config" --since 10m | sed 's/^/   /'
step "the alerts it sent (command hook -> $demo_dir/alerts.log): alert, job, state, severity, summary"
python3 "$report" alerts "$demo_dir/alerts.log" | sed 's/^/   /'
step "a few of its own metrics: curl -s 127.0.0.1:19310/metrics"
curl -sf -m 5 http://127.0.0.1:19310/metrics \
  | grep -E '^flinkguard_(cluster_up|recoveries_started_total|recoveries_total|recoveries_refused|notifications_total|time_to_recover_seconds_count)' \
  | grep -v ' 0$' | sed 's/^/   /' || echo "   (metrics not available)"
step "what flinkguard sees now: flinkguard observe --once"
flinkguard observe --config "$config" --once | sed 's/^/   /'

if [[ $short -eq 1 ]]; then
  # CI: each injection was recovered, alerted, moved or paged as expected; one live instance of
  # every job across both clusters; at least one savepoint; the alerts sent.
  echo
  flinkguard history --config "$config" --since 1h --json >"$demo_dir/history.json"
  curl -sf -m 5 http://127.0.0.1:18091/_sim/jobs >"$demo_dir/cluster-a-jobs.json"
  curl -sf -m 5 http://127.0.0.1:18092/_sim/jobs >"$demo_dir/cluster-b-jobs.json"
  rc=0
  python3 "$report" check "$demo_dir/history.json" "$demo_dir/cluster-a-jobs.json" \
    "$demo_dir/cluster-b-jobs.json" "$demo_dir/alerts.log" || rc=$?
  echo "== the short demo took ${SECONDS}s"
  exit $rc
fi
echo; echo "flinkguard keeps running (its log below); inject more with e.g."
echo "  curl -X POST http://127.0.0.1:18092/_sim/fail_job -d '{\"job\":\"job-4\",\"terminal\":true}'"
echo "  curl -X POST http://127.0.0.1:18092/_sim/cluster_down -d '{\"mode\":\"refuse\"}'   # cluster-b down: no backup left"
echo "Ctrl-C stops the agent and both clusters."
tail_log 0
wait "$agent_pid"
