#!/bin/bash
# Smoke test of tests/bench/bench_datapath: a 1-second run per workload must
# print one JSON object with positive cluster and store figures and no
# errors for every workload. It never asserts speed. Exit 77 (skip) when a
# binary or fio is missing. Run by ctest (labels bench, datapath).
set -euo pipefail

if ! command -v fio >/dev/null && [[ -z ${CAIRN_FIO:-} ]]; then
    echo "bench_datapath_smoke: fio not installed, skipping" >&2
    exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
CAIRN_OSD_DATA_SIZE=512M CAIRN_BENCH_STORE_SIZE=256M "$(dirname "$0")/bench_datapath" --seconds 1 --json >"$out" || rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
cat "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
bad = [f"{name}: {r}" for name, r in report.items()
       if not (r["cluster"] > 0 and r["store"] > 0 and r["ratio"] > 0 and r["errors"] == 0)]
missing = {"write_4k_t16", "write_4m_t4", "read_4m_t4"} - set(report)
if bad or missing:
    sys.exit(f"bench_datapath_smoke: bad figures {bad}, missing {sorted(missing)}")
print("bench_datapath_smoke: every workload reported figures")
PY
