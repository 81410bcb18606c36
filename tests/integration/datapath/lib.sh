# shellcheck shell=bash
# Shared by the data-path tests (sourced): the CLI tests' harness
# (binaries, temp run dir, cleanup trap, cairn/expect_rc/wait_for helpers)
# plus what the data path needs: cairn-osd and the test programs, and a
# cluster with a size-1 pool.
# shellcheck source=../cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

OSD=$CAIRN_BUILD_DIR/osd/cairn-osd
DP_BIN=$CAIRN_BUILD_DIR/tests/integration/datapath
for bin in "$OSD" "$DP_BIN/dp_objects" "$DP_BIN/dp_atomic" "$DP_BIN/dp_errors"; do
    if [[ ! -x $bin ]]; then
        log "$bin is missing; skipping"
        exit 77
    fi
done

# osds_up: how many OSDs the map has up.
osds_up() { cairn status --json | json "j['osds']['up']"; }
# For wait_for, which must re-run the check: true when N OSDs are up.
osds_up_is() { [[ $(osds_up) -eq $1 ]]; }

# osd_is_up ID: whether the map shows osd.ID up.
osd_is_up() {
    [[ $(cairn osd ls --json | json "[o['up'] for o in j['osds'] if o['id'] == $1][0]") == True ]]
}
osd_is_down() { ! osd_is_up "$1"; }

# dp_cluster_up OSDS POOL: a cluster of one monitor and OSDS OSDs on as many
# hosts, all up, with POOL of size 1 and 32 PGs.
dp_cluster_up() {
    local osds=$1 pool=$2
    cluster_up --mons 1 --osds "$osds" --hosts "$osds"
    wait_for 60 osds_up_is "$osds" || fail "only $(osds_up) of $osds OSDs came up"
    cairn pool create "$pool" --size 1 --min-size 1 --pg-num 32 >/dev/null ||
        fail "pool create $pool failed"
}

# osd_pid ID: the pid deploy/cluster recorded for osd.ID.
osd_pid() { cat "$DIR/pid/osd.$1.pid"; }
