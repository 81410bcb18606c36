# shellcheck shell=bash
# Shared by the cairn-osd integration tests (sourced, not run): the CLI
# tests' helpers (tests/integration/cli/lib.sh: binaries, temp run dir,
# cleanup trap, wait_for, json) plus cairn-osd and OSD-sized data files.
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

OSD=$CAIRN_BUILD_DIR/osd/cairn-osd
if [[ ! -x $OSD ]]; then
    log "$OSD is missing; skipping"
    exit 77
fi
# Small data files: mkfs writes them in full.
export CAIRN_OSD_DATA_SIZE=${CAIRN_OSD_DATA_SIZE:-128M}

# osd_state ID: "up" or "down" as the map says.
osd_state() {
    cairn osd ls --json | json "[o for o in j['osds'] if o['id'] == $1][0]['up'] and 'up' or 'down'"
}

osd_is() { [[ $(osd_state "$1") == "$2" ]]; }

osds_up() { cairn status --json | json 'j["osds"]["up"]'; }
