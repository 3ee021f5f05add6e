#!/usr/bin/env bash
# The flinkguard demo: builds flinkguard and flinksim, starts two emulated Flink clusters
# (two availability zones) with four streaming jobs, starts the flinkguard agent on them
# (SQLite history in /tmp/flinkguard-demo, no ZooKeeper), then injects failures — a job failure
# the restart strategy absorbs, a terminal failure, a restart loop, stalled checkpoints, a QPS
# drop — and shows what flinkguard does: its live log, then the history of every job.
#
#   packaging/demo/demo.sh            run until Ctrl-C (stops everything it started)
#   packaging/demo/demo.sh --short    the scripted minute only, then exit (used by CI)
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

demo_dir=/tmp/flinkguard-demo
rm -rf "$demo_dir" && mkdir -p "$demo_dir/state"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'echo; echo "stopping"; exit 0' INT TERM

# Checkpoints every 2 s, so the minute shows many of them.
"$build/tests/flinksim/flinksim" --listen 127.0.0.1:18081 --control-listen 127.0.0.1:18091 \
  --prometheus-listen 127.0.0.1:19251 --flink-version 1.20 --jobs 4 --checkpoint-interval 2s \
  --conf restart-strategy.fixed-delay.attempts=1000 \
  --port-file "$demo_dir/cluster-a.ports" >"$demo_dir/cluster-a.log" 2>&1 &
pids+=($!)
"$build/tests/flinksim/flinksim" --listen 127.0.0.1:18082 --control-listen 127.0.0.1:18092 \
  --flink-version 1.20 --jobs 0 --checkpoint-interval 2s \
  --port-file "$demo_dir/cluster-b.ports" >"$demo_dir/cluster-b.log" 2>&1 &
pids+=($!)
for f in cluster-a cluster-b; do
  for _ in $(seq 1 100); do [[ -s "$demo_dir/$f.ports" ]] && break; sleep 0.1; done
  [[ -s "$demo_dir/$f.ports" ]] || { echo "flinksim $f did not start; see $demo_dir/$f.log"; exit 1; }
done
echo "== two emulated Flink 1.20 clusters: cluster-a $(cat "$demo_dir/cluster-a.ports")"
echo "==                                   cluster-b $(cat "$demo_dir/cluster-b.ports")"
echo
echo "== flinkguard check-config --config packaging/demo/flinkguard-demo.yaml"
"$build/agent/flinkguard" check-config --config packaging/demo/flinkguard-demo.yaml
echo

control() {  # control <action> <json>
  curl -sf -X POST "http://127.0.0.1:18091/_sim/$1" -H 'Content-Type: application/json' -d "$2" >/dev/null \
    || echo "   (control call $1 failed)"
}
flinkguard() { "$build/agent/flinkguard" "$@"; }
step() { echo; echo "== t+${SECONDS}s  $*"; }

echo "== flinkguard run --config packaging/demo/flinkguard-demo.yaml   (its log below, indented)"
"$build/agent/flinkguard" run --config packaging/demo/flinkguard-demo.yaml >"$demo_dir/agent.log" 2>&1 &
agent_pid=$!
pids+=($agent_pid)
tail -n +1 -f "$demo_dir/agent.log" --pid "$agent_pid" 2>/dev/null | sed -u 's/^/      | /' &
pids+=($!)
SECONDS=0
sleep 6
step "inject: job-1 throws an exception (the restart strategy absorbs it: RESTARTING, then RUNNING; no action needed)"
control fail_job '{"job":"job-1","exception":"java.lang.RuntimeException: poison record at offset 4711"}'
sleep 4
step "inject: job-2 fails terminally (FAILED: Flink will not bring it back) -> rule job-failed -> resubmit from its last checkpoint"
control fail_job '{"job":"job-2","exception":"java.lang.OutOfMemoryError: Java heap space","terminal":true}'
sleep 8
step "inject: job-3 enters a restart loop (fails 3 s after each restart) -> rule restart-loop -> cancel it, resubmit from its last checkpoint"
control restart_loop '{"job":"job-3","after":"3s"}'
sleep 4
step "inject: job-0's checkpoints stall and its throughput drops to 5% -> checkpoint-stale (after 20 s) -> recover; qps-drop -> alert"
control checkpoints '{"job":"job-0","mode":"stall"}'
control set_traffic '{"job":"job-0","qps":40}'
# Wait (at most 70 s) until the three recoveries ended.
for _ in $(seq 1 70); do
  done_count=$(flinkguard history --config packaging/demo/flinkguard-demo.yaml --since 10m --json 2>/dev/null \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for e in d["events"] if e["type"]=="recovery" and e.get("outcome")!="in-progress"))' 2>/dev/null || echo 0)
  [[ "$done_count" -ge 3 ]] && break
  sleep 1
done
sleep 2
step "what flinkguard recorded: flinkguard history --since 10m"
flinkguard history --config packaging/demo/flinkguard-demo.yaml --since 10m | sed 's/^/   /'
step "what flinkguard sees now: flinkguard observe --once"
flinkguard observe --config packaging/demo/flinkguard-demo.yaml --once | sed 's/^/   /'

if [[ $short -eq 1 ]]; then
  # CI: every injected failure was recovered (job-0, job-2, job-3), job-1 was left alone, and
  # every job has exactly one live instance.
  flinkguard history --config packaging/demo/flinkguard-demo.yaml --since 10m --json >"$demo_dir/history.json"
  curl -sf http://127.0.0.1:18091/_sim/jobs >"$demo_dir/jobs.json"
  python3 - "$demo_dir/history.json" "$demo_dir/jobs.json" <<'PY'
import json, sys
history = json.load(open(sys.argv[1]))
jobs = json.load(open(sys.argv[2]))["jobs"]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
recovered = {e["job"] for e in history["events"] if e["type"] == "recovery" and e.get("outcome") == "succeeded"}
for job in ("job-0", "job-2", "job-3"):
    check(job in recovered, job + " was recovered")
check("job-1" not in {e["job"] for e in history["events"] if e["type"] == "recovery"}, "job-1 (absorbed by Flink) was left alone")
for job in ("job-0", "job-1", "job-2", "job-3"):
    live = [j for j in jobs if j["name"] == job and j["status"] not in ("FAILED", "CANCELED", "FINISHED")]
    check(len(live) == 1 and live[0]["status"] == "RUNNING", job + " has exactly one live instance, RUNNING")
sys.exit(0 if ok else 1)
PY
  exit $?
fi
echo; echo "flinkguard keeps running; inject more with e.g."
echo "  curl -X POST http://127.0.0.1:18091/_sim/fail_job -d '{\"job\":\"job-1\",\"terminal\":true}'"
echo "Ctrl-C stops the agent and both clusters."
wait "$agent_pid"
