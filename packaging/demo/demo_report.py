#!/usr/bin/env python3
"""Helpers of packaging/demo/demo.sh: read what flinkguard recorded and what the clusters run.

  demo_report.py reached STAGE HISTORY.json     exit 0 once the demo's STAGE is reached
  demo_report.py alerts ALERTS.log              the notifications sent, one line each
  demo_report.py check HISTORY.json A.json B.json ALERTS.log
                                                the short demo's checks (exit 1 on a miss)

HISTORY.json is `flinkguard history --json`, A.json and B.json are the clusters' /_sim/jobs,
ALERTS.log holds one notification (the command hook's JSON) per line.
"""
import json
import sys

ALL_JOBS = ("job-0", "job-1", "job-2", "job-3", "job-4")
RULE_RECOVERED = ("job-0", "job-2", "job-3")   # checkpoint-stale, job-failed, restart-loop
MOVED = ("job-0", "job-1", "job-4")            # list `failover: [cluster-b]`
PAGED = ("job-2", "job-3")                     # no failover cluster
LIVE = ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "FAILING", "CANCELLING",
        "SUSPENDED", "RECONCILING")


def load(path):
    with open(path) as f:
        return json.load(f)


def events(history, kind):
    return [e for e in history.get("events", []) if e.get("type") == kind]


def recoveries(history, trigger, outcome=None):
    return [e for e in events(history, "recovery")
            if e.get("trigger") == trigger and (outcome is None or e.get("outcome") == outcome)]


def ended(history, trigger):
    return {e["job"] for e in recoveries(history, trigger) if e.get("outcome") != "in-progress"}


def fired(history, rule):
    return {e["job"] for e in events(history, "transition")
            if e.get("rule") == rule and e.get("to") == "firing"}


def savepoints(history, status="completed"):
    return [e for e in events(history, "savepoint") if e.get("status") == status]


def paged(history):
    return {e["job"] for e in events(history, "refusal") if e.get("page")}


def reached(stage, history):
    if stage == "first-minute":
        return set(RULE_RECOVERED) <= ended(history, "rule") and "job-1" in fired(history, "qps-drop")
    if stage == "savepoint":
        return any(e["job"] == "job-4" for e in savepoints(history))
    if stage == "failover":
        return set(MOVED) <= ended(history, "failover") and set(PAGED) <= paged(history)
    if stage == "stale":
        return set(MOVED) <= ended(history, "stale-copy")
    raise SystemExit("unknown stage " + stage)


def alert_lines(path):
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"alertname": "?", "summary": line})
    return out


def print_alerts(path):
    alerts = alert_lines(path)
    if not alerts:
        print("(no notification sent yet)")
    for n in alerts:
        summary = n.get("annotations", {}).get("summary", n.get("summary", ""))
        if len(summary) > 150:
            summary = summary[:147] + "..."
        print("%-26s %-6s %-9s %-9s %s" % (n.get("alertname", "?"), n.get("job", ""),
                                           n.get("status", ""), n.get("severity", ""), summary))


def check(history, a_jobs, b_jobs, alerts_path):
    ok = True

    def expect(cond, what):
        nonlocal ok
        print(("ok   " if cond else "FAIL ") + what)
        ok = ok and bool(cond)

    rule_ok = {e["job"] for e in recoveries(history, "rule", "succeeded")}
    for job in RULE_RECOVERED:
        expect(job in rule_ok, job + " was recovered by its rule")
    rule_jobs = {e["job"] for e in recoveries(history, "rule")}
    expect("job-1" not in rule_jobs, "job-1 (its failure absorbed by Flink) was not recovered")
    expect("job-1" in fired(history, "qps-drop"), "qps-drop fired for job-1 (an alert only)")
    expect(any(e["job"] == "job-4" for e in savepoints(history)),
           "job-4 took a periodic savepoint (recorded completed)")

    moved_ok = {e["job"]: e for e in recoveries(history, "failover", "succeeded")}
    moved_any = {e["job"] for e in recoveries(history, "failover")}
    for job in MOVED:
        e = moved_ok.get(job)
        expect(e is not None and e.get("cluster") == "cluster-b"
               and e.get("strategy") in ("checkpoint", "savepoint"),
               job + " failed over to cluster-b from a checkpoint or savepoint")
    for job in PAGED:
        expect(job not in moved_any, job + " (no failover cluster) was not moved")
        expect(job in paged(history), job + " was paged when cluster-a went down")
    stale_ok = {e["job"]: e for e in recoveries(history, "stale-copy", "succeeded")}
    for job in MOVED:
        e = stale_ok.get(job)
        expect(e is not None and e.get("cluster") == "cluster-a",
               job + ": the stale copy on cluster-a was cancelled")

    for job in ALL_JOBS:
        live = [(c, j) for c, jobs in (("cluster-a", a_jobs), ("cluster-b", b_jobs))
                for j in jobs if j["name"] == job and j["status"] in LIVE]
        where = "cluster-b" if job in MOVED else "cluster-a"
        expect(len(live) == 1 and live[0][0] == where and live[0][1]["status"] == "RUNNING",
               "%s: exactly one live instance across both clusters, RUNNING on %s (%s)"
               % (job, where, ", ".join("%s %s" % (c, j["status"]) for c, j in live) or "none"))

    alerts = alert_lines(alerts_path)
    names = {(n.get("alertname"), n.get("job")) for n in alerts}
    expect(len(alerts) > 0, "the alert hook received %d notifications" % len(alerts))
    for name, job in (("checkpoint-stale", "job-0"), ("job-failed", "job-2"),
                      ("restart-loop", "job-3"), ("qps-drop", "job-1"),
                      ("flinkguard_recovery", "job-0"), ("flinkguard_gave_up", "job-2"),
                      ("flinkguard_gave_up", "job-3")):
        expect((name, job) in names, "alert %s for %s was sent" % (name, job))
    return ok


def main(argv):
    if len(argv) == 3 and argv[0] == "reached":
        try:
            history = load(argv[2])
        except (OSError, ValueError):
            return 1
        return 0 if reached(argv[1], history) else 1
    if len(argv) == 2 and argv[0] == "alerts":
        print_alerts(argv[1])
        return 0
    if len(argv) == 5 and argv[0] == "check":
        ok = check(load(argv[1]), load(argv[2])["jobs"], load(argv[3])["jobs"], argv[4])
        return 0 if ok else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
