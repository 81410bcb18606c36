# shellcheck shell=bash
# Sourced after lib.sh by the CLI tests that need OSDs: skips (77) while
# cairn-osd is not built or deploy/cluster cannot start OSDs yet, and
# brings up a cluster whose OSDs are all up.
OSD=$CAIRN_BUILD_DIR/osd/cairn-osd
if [[ ! -x $OSD ]]; then
    log "$OSD is missing; skipping"
    exit 77
fi

osds_up() { cairn status --json | json 'j["osds"]["up"]'; }
# osds_up_is N: true when the map has N OSDs up (for wait_for, which must
# run the query on every try).
osds_up_is() { [[ $(osds_up) -eq $1 ]]; }

# osd_cluster_up N [MONS]: MONS monitors (default 1) and N OSDs on N
# hosts, all up.
osd_cluster_up() {
    local n=$1
    cluster_up --mons "${2:-1}" --osds "$n" --hosts "$n"
    if grep -qE "none started|not written yet" "$DIR/up.out"; then
        log "deploy/cluster does not start OSDs yet; skipping"
        exit 77
    fi
    wait_for 60 osds_up_is "$n" || fail "only $(osds_up) of $n OSDs came up"
}
