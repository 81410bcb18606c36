#!/bin/bash
# Smoke test of tests/bench/bench_vhost: a 1-second run per workload on a
# small image must print one JSON object with positive IOPS for cairn-vhost,
# the direct image API and the qemu-storage-daemon floor, for every
# workload. It never asserts speed. Exit 77 (skip) when a tool is missing, as
# bench_vhost does. Run by ctest (labels bench, vhost).
set -euo pipefail

out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
CAIRN_OSD_DATA_SIZE=512M "$(dirname "$0")/bench_vhost" --seconds 1 --size 128M --json >"$out" ||
    rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
cat "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
want = {"randwrite_4k_qd32", "randwrite_4k_qd1", "randread_4k_qd32", "randread_4k_qd1",
        "seqwrite_1m_qd8", "seqread_1m_qd8"}
bad = [n for n, r in report.items()
       if not all(r[side]["iops"] > 0 for side in ("vhost", "direct", "floor"))]
if bad or want - set(report):
    sys.exit(f"bench_vhost_smoke: bad figures for {bad}, missing {sorted(want - set(report))}")
print("bench_vhost_smoke: every workload reported figures on all three sides")
PY
