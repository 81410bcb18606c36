#!/bin/bash
# Smoke test of the FUSE benchmark (tests/bench/bench_fuse): a run with tiny
# sizes must write one JSON object with positive figures through
# mount.cairn and through libcairn directly, for every workload, and no
# errors. It never asserts speed. Exit 77 (skip) when a tool or /dev/fuse is
# missing, as the benchmark does. Run by ctest (labels bench, fuse).
set -euo pipefail

out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
CAIRN_OSD_DATA_SIZE=512M "$(dirname "$0")/bench_fuse" --seq-mib 16 --files 40 --ls 200 \
    --json "$out" || rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
cat "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))["workloads"]
want = {"seq_write", "seq_read", "small_t1", "small_t8", "ls"}
bad = [n for n, r in report.items()
       if not (all(r[s][r["unit"]] > 0 and r[s]["ops"] > 0 and r[s]["errors"] == 0
                   for s in ("mount", "direct")) and r["ratio_mount_direct"] > 0)]
if bad or want - set(report):
    sys.exit(f"bench_fuse: bad figures for {bad}, missing {sorted(want - set(report))}")
print("bench_fuse: every workload reported figures through the mount and directly")
PY
