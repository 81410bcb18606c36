#!/bin/bash
# Smoke test of tests/bench/bench_replication: a 2-second run per workload
# must print one JSON object in which every figure is a positive number, the
# steady workloads reported no errors and the cluster was clean again after
# the recovery. It never asserts speed. Exit 77 (skip) when a binary is
# missing. Run by ctest (labels bench, replication).
set -euo pipefail

out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
CAIRN_OSD_DATA_SIZE=1G CAIRN_BENCH_RECOVERY_OBJECTS=2000 CAIRN_BENCH_CLEAN_DEADLINE=200 \
    "$(dirname "$0")/bench_replication" --seconds 2 --json >"$out" || rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
cat "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
workloads = ("write_4k_t16", "write_4k_t1", "write_4m_t4", "read_4m_t4")
figures = {f"{w}.{k}": report[w][k] for w in workloads if w in report
           for k in ("size3", "size1", "ratio")}
figures.update({f"cpu.{k}": report["cpu"][k]
                for k in ("daemons_us_per_write", "client_us_per_write")})
figures.update({f"memory.{o}.{k}": m[k] for o, m in report["memory"].items()
                for k in ("rss_mib", "hwm_mib")})
figures.update({f"recovery.{k}": report["recovery"][k]
                for k in ("fraction", "iops", "degraded_writes", "seconds_to_clean")})
bad = [f"{k}: {v}" for k, v in figures.items()
       if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0]
bad += [f"{w}: {report[w]['errors']} errors" for w in workloads
        if w in report and report[w]["errors"]]
if not report["recovery"]["clean"]:
    bad.append("the cluster was not active+clean after recovery")
missing = set(workloads) - set(report)
if bad or missing or len(report["memory"]) != 3:
    sys.exit(f"bench_replication_smoke: bad figures {bad}, missing {sorted(missing)}")
print("bench_replication_smoke: every figure reported")
PY
