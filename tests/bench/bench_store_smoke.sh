#!/bin/bash
# Smoke test of `cairn-bench store`: a tiny run (1 s per workload, 256 MiB
# files) must print one JSON object with a positive store figure, fio figure
# and ratio for every workload. It never asserts speed. Exits 77 (skip) when
# fio is missing, as cairn-bench does. Run by ctest (labels bench, store).
set -euo pipefail

build=${CAIRN_BUILD_DIR:-$(dirname "$0")/../../build}
bench=$build/tools/bench/cairn-bench
if [[ ! -x $bench ]]; then
    echo "bench_store_smoke: $bench not built" >&2
    exit 1
fi
if ! command -v fio >/dev/null && [[ -z ${CAIRN_FIO:-} ]]; then
    echo "bench_store_smoke: fio not installed, skipping" >&2
    exit 77
fi

tmp=$(mktemp -d /var/tmp/cairn-bench-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

rc=0
"$bench" store --seconds 1 --size 256M --dir "$tmp" --json >"$tmp/out.json" || rc=$?
if [[ $rc -ne 0 ]]; then
    echo "bench_store_smoke: cairn-bench store exited with $rc" >&2
    exit "$rc"
fi
cat "$tmp/out.json"

/usr/bin/python3 - "$tmp/out.json" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    report = json.load(f)
want = {"randwrite_4k_qd32": "IOPS", "randwrite_4k_qd1": "IOPS",
        "seqwrite_4m": "MB/s", "seqread_4m": "MB/s"}
bad = []
for name, unit in want.items():
    w = report.get(name)
    if not isinstance(w, dict):
        bad.append(f"{name}: missing")
        continue
    if w.get("unit") != unit:
        bad.append(f"{name}: unit {w.get('unit')!r}, expected {unit!r}")
    fields = ["store", "fio", "ratio", "store_p50_us", "store_p99_us"]
    if not name.startswith("seqread"):
        fields.append("store_group_size")
    if name in ("randwrite_4k_qd32", "seqwrite_4m"):
        fields += ["fio_durable", "ratio_durable"]
    for key in fields:
        v = w.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
            bad.append(f"{name}.{key} = {v!r}, expected a number > 0")
if bad:
    print("bench_store_smoke: FAIL\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
print("bench_store_smoke: ok")
PY
