#!/usr/bin/env bash
# The flinkguard demo: builds flinkguard and flinksim, starts two emulated Flink clusters
# (two availability zones) with four streaming jobs, validates the demo config, then injects
# failures — a job failure the restart strategy absorbs, a terminal failure, a restart loop,
# stalled checkpoints, a QPS drop — and shows what flinkguard observes, every few seconds.
#
#   packaging/demo/demo.sh            run until Ctrl-C (stops everything it started)
#   packaging/demo/demo.sh --short    the scripted minute only, then exit (used by CI)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
short=0
[[ "${1:-}" == "--short" ]] && short=1

packaging/install-deps.sh --test
build=${FLINKGUARD_DEMO_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLINKGUARD_BUILD_TESTS=ON >/dev/null
cmake --build "$build" --target flinkguard flinksim

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

show() {  # what flinkguard sees: every cluster and job, with freshness
  "$build/agent/flinkguard" observe --config packaging/demo/flinkguard-demo.yaml --once | sed 's/^/   /'
}

step() { echo; echo "== t+${SECONDS}s  $*"; }
SECONDS=0
step "four jobs running, checkpointing every 2 s"
sleep 4; show
step "inject: job-1 throws an exception (the restart strategy absorbs it: RESTARTING, then RUNNING)"
control fail_job '{"job":"job-1","exception":"java.lang.RuntimeException: poison record at offset 4711"}'
sleep 1; show; sleep 3; show
step "inject: job-2 fails terminally (FAILED: Flink will not bring it back by itself)"
control fail_job '{"job":"job-2","exception":"java.lang.OutOfMemoryError: Java heap space","terminal":true}'
sleep 2; show
step "inject: job-3 enters a restart loop (fails again 3 s after each restart)"
control restart_loop '{"job":"job-3","after":"3s","times":10}'
sleep 6; show
step "inject: job-0's checkpoints stall, and its throughput drops to 5%"
control checkpoints '{"job":"job-0","mode":"stall"}'
control set_traffic '{"job":"job-0","qps":40}'
sleep 8; show
step "what flinkguard decides for job-2: flinkguard explain --job job-2"
"$build/agent/flinkguard" explain --config packaging/demo/flinkguard-demo.yaml --job job-2 | sed 's/^/   /'
echo
echo "What flinkguard will do here (rules of packaging/demo/flinkguard-demo.yaml):"
echo "  job-2  job-failed        -> resubmit from its last retained checkpoint (path above)"
echo "  job-3  restart-loop      -> cancel the looping instance, resubmit from its last checkpoint"
echo "  job-0  checkpoint-stale  -> recover after 20 s; qps-drop -> alert (warning)"
echo "flinkguard observes and decides today (\`observe --once\`, \`explain\` above); the recovery"
echo "executor that carries the plan out is being built (see README, Status)."
if [[ $short -eq 1 ]]; then exit 0; fi
echo; echo "Refreshing every 5 s; Ctrl-C stops both clusters."
while true; do sleep 5; step "cluster-a"; show; done
