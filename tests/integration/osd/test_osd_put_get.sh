#!/usr/bin/env bash
# End to end through libcairn and the CLI: put, get, stat, ls and rm of
# objects on a cluster of two OSDs, small and multi-megabyte, from stdin
# and from files.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cluster_up --osds 2 --hosts 2
expect_rc 0 cairn pool create data --size 1 --pg-num 16
echo "hello" | cairn put data small
[[ $(cairn get data small) == hello ]] || fail "get small"
head -c $((5 << 20)) /dev/urandom >"$DIR/big.in"
cairn put data big "$DIR/big.in"
cairn get data big "$DIR/big.out"
cmp "$DIR/big.in" "$DIR/big.out" || fail "big object differs"
cairn stat data big | grep -q "size $((5 << 20))" || fail "stat: $(cairn stat data big)"
for i in $(seq 1 20); do echo "$i" | cairn put data "obj$i"; done
[[ $(cairn ls data | sort | tr '\n' ' ') == "$(printf '%s\n' big small obj{1..20} | sort | tr '\n' ' ')" ]] ||
    fail "ls: $(cairn ls data | sort | tr '\n' ' ')"
expect_rc 0 cairn rm data small
expect_rc 1 cairn get data small
expect_rc 1 cairn stat data nosuch
log "ok"
