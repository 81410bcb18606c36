#!/bin/bash
# Smoke test of a block-front-end benchmark (tests/bench/bench_nbd or
# bench_vhost): a 1-second run per workload on a small image must print one
# JSON object with positive IOPS for the front-end, the direct image API
# and the floor, for every workload. It never asserts speed. Exit 77
# (skip) when a tool is missing, as the benchmark does. Run by ctest
# (labels bench plus the front-end's).
#
#   tests/bench/block_bench_smoke.sh BENCH SIDE     e.g. bench_vhost vhost
set -euo pipefail

bench=$1 side=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
CAIRN_OSD_DATA_SIZE=512M "$(dirname "$0")/$bench" --seconds 1 --size 128M --json >"$out" ||
    rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
cat "$out"
/usr/bin/python3 - "$out" "$bench" "$side" <<'PY'
import json, sys

report, bench, side = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
want = {"randwrite_4k_qd32", "randwrite_4k_qd1", "randread_4k_qd32", "randread_4k_qd1",
        "seqwrite_1m_qd8", "seqread_1m_qd8"}
bad = [n for n, r in report.items()
       if not all(r[s]["iops"] > 0 for s in (side, "direct", "floor"))]
if bad or want - set(report):
    sys.exit(f"{bench}: bad figures for {bad}, missing {sorted(want - set(report))}")
print(f"{bench}: every workload reported figures on all three sides")
PY
