#!/usr/bin/env bash
# A fourth OSD added to a full size-3 cluster takes about a quarter of the
# PG replicas, the data moves with them, and every object still verifies;
# a lower weight moves replicas away again.
#
# 3 OSDs on 3 hosts, a size-3 pool of 128 PGs, 300 objects written; then
# osd.3 is added on host3 (config section, key from `cairn auth add`,
# mkfs, deploy/cluster up starts it), all PGs must become active+clean on 4
# OSDs, osd.3 must hold 15-35% of the PG replicas (`cairn osd tree`
# counts; the total stays 128 x 3) and as many must have moved (per PG from
# `cairn pg ls` when the CLI has it), and every object must read back as
# written. Then osd.0 is reweighted to 0.5: it must lose at least 15% of its
# PG replicas, the cluster must become clean again, every object must still
# read back, and a deep scrub of the pool must find every copy equal.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

POOL=grow
PG_NUM=128
N=300

repl_cluster_up 3 3
cairn pool create $POOL --size 3 --min-size 2 --pg-num $PG_NUM >/dev/null || fail "pool create"
objects_write "$DIR/journal" obj 0 $N 1
wait_clean 60
objects_verify "$DIR/journal" "after writing them"

# pg_sets FILE: "PGID OSD..." lines (each PG's up set) from `cairn pg ls
# --json` (a list of {pgid, up, acting, ...}); fails when the CLI does not
# have it yet.
pg_sets() {
    cairn pg ls --pool $POOL --json 2>/dev/null |
        json '"\n".join("%s %s" % (p["pgid"], " ".join(map(str, p["up"]))) for p in j)' \
        >"$1" 2>/dev/null && [[ -s $1 ]]
}
before_pgs=$(osd_pgs)
log "PG replicas per OSD before: $(tr '\n' ' ' <<<"$before_pgs")"
have_pg_ls=0
pg_sets "$DIR/pgs.before" 2>/dev/null && have_pg_ls=1

phase "add osd.3"
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
printf '\n[osd.3]\nstore_path = %s\nosd_addr = 127.0.0.1:%s\nosd_host = host3\n' \
    "$DIR/osd.3" "$port" >>"$CONF"
cairn auth add osd.3 >>"$DIR/keyring" || fail "auth add osd.3"
"$OSD" --mkfs --name osd.3 -c "$CONF" >>"$DIR/log/osd.3.log" 2>&1 || fail "mkfs of osd.3"
echo "osd 3" >>"$DIR/daemons"
cluster_up
wait_clean 180 4

phase "placement and data"
after_pgs=$(osd_pgs)
log "PG replicas per OSD after: $(tr '\n' ' ' <<<"$after_pgs")"
replicas=$((PG_NUM * 3))
total=$(awk '{ s += $2 } END { print s }' <<<"$after_pgs")
((total == replicas)) || fail "the OSDs hold $total PG replicas, not $PG_NUM x 3 = $replicas"
new=$(awk '$1 == 3 { print $2 }' <<<"$after_pgs")
moved=$new
if ((have_pg_ls)) && pg_sets "$DIR/pgs.after"; then
    # Replicas that changed OSD, PG by PG: each set minus its old set.
    moved=$(join <(sort "$DIR/pgs.before") <(sort "$DIR/pgs.after") | awk '{
        n = (NF - 1) / 2; split("", old)
        for (i = 2; i <= n + 1; i++) old[$i] = 1
        for (i = n + 2; i <= NF; i++) if (!($i in old)) m++
    } END { print m + 0 }')
fi
log "osd.3 holds $new of $replicas PG replicas; $moved replicas moved"
((new * 100 >= replicas * 15 && new * 100 <= replicas * 35)) ||
    fail "osd.3 holds $new of $replicas PG replicas, not 15-35%"
((moved * 100 >= replicas * 15 && moved * 100 <= replicas * 35)) ||
    fail "$moved of $replicas PG replicas moved, not 15-35%"
objects_verify "$DIR/journal" "after osd.3 joined"

# A lower weight moves PG replicas off an OSD, with their data.
phase "reweight osd.0 to 0.5"
held=$(awk '$1 == 0 { print $2 }' <<<"$after_pgs")
cairn osd reweight 0 0.5 >/dev/null || fail "osd reweight 0 0.5"
wait_clean 180 4
reweighted=$(osd_pgs)
log "PG replicas per OSD after the reweight: $(tr '\n' ' ' <<<"$reweighted")"
now=$(awk '$1 == 0 { print $2 }' <<<"$reweighted")
total=$(awk '{ s += $2 } END { print s }' <<<"$reweighted")
((total == replicas)) || fail "the OSDs hold $total PG replicas after the reweight, not $replicas"
((now * 100 <= held * 85)) || fail "osd.0 holds $now PG replicas at weight 0.5 (was $held at 1.0)"
objects_verify "$DIR/journal" "after osd.0 was reweighted"
scrub=$(cairn --json pg deep-scrub --pool $POOL) || fail "deep scrub after the moves: $scrub"
bad=$(json 'sum(p["inconsistent"] for p in j)' <<<"$scrub")
((bad == 0)) || fail "deep scrub found $bad inconsistent objects after the moves"
phase finished
log "ok: osd.3 took $new of $replicas PG replicas; osd.0 went from $held to $now at weight 0.5"
