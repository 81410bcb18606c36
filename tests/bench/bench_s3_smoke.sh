#!/bin/bash
# Smoke test of the S3 gateway benchmark (tests/bench/bench_s3): a 1-second
# run per workload must print one JSON object with positive ops/s and MB/s
# through cairn-s3 and through libcairn directly, for every workload. It
# never asserts speed. Exit 77 (skip) when a tool is missing, as the
# benchmark does. Run by ctest (labels bench, s3).
set -euo pipefail

out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
CAIRN_OSD_DATA_SIZE=512M "$(dirname "$0")/bench_s3" --seconds 1 --json >"$out" || rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
cat "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))["workloads"]
want = {"put_4k", "get_4k", "put_1m", "get_1m"}
bad = [n for n, r in report.items()
       if not all(r[s]["ops_per_s"] > 0 and r[s]["mb_per_s"] > 0 and r[s]["errors"] == 0
                  for s in ("gateway", "direct"))]
if bad or want - set(report):
    sys.exit(f"bench_s3: bad figures for {bad}, missing {sorted(want - set(report))}")
print("bench_s3: every workload reported figures through the gateway and directly")
PY
