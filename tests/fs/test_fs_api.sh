#!/usr/bin/env bash
# The file system against a real 3-OSD cluster: `cairn fs create` (which
# makes pool "fs" on first use), fs_api (every client/fs.h call, the
# crash shapes and their repair), `cairn fs check --json` on the result,
# then `cairn fs ls`, `rm` and their failures.
set -euo pipefail
source "$(dirname "$0")/../integration/cli/lib.sh"
source "$(dirname "$0")/../integration/cli/lib_osd.sh"
FS_API=$CAIRN_BUILD_DIR/tests/fs/fs_api
if [[ ! -x $FS_API ]]; then
    log "$FS_API is missing; skipping"
    exit 77
fi

osd_cluster_up 3
expect_rc 0 cairn fs create vol1
expect_rc 1 cairn fs create vol1
grep -q "already exists" "$DIR/stderr" || fail "create twice: $(cat "$DIR/stderr")"
expect_rc 2 cairn fs create .bad
expect_rc 2 cairn fs create
expect_rc 2 cairn fs create vol2 --bogus
expect_rc 1 cairn fs create vol2 --pool nosuchpool
cairn pool ls | grep -qw fs || fail "pool fs was not created"

"$FS_API" -c "$CONF" -p fs -v vol1 || fail "fs_api failed"

expect_rc 0 cairn --json fs check vol1
[[ $(json 'j["consistent"] and j["orphans"] == 0 and j["dangling"] == 0 and j["bad_nlink"] == 0 and j["intents"] == 0' <"$DIR/stdout") == True ]] ||
    fail "vol1 is not consistent: $(cat "$DIR/stdout")"
[[ $(json 'j["inodes"] > 5000 and j["directories"] > 5' <"$DIR/stdout") == True ]] ||
    fail "vol1 counts: $(cat "$DIR/stdout")"
expect_rc 0 cairn fs check vol1 --repair
grep -q "^status consistent" "$DIR/stdout" || fail "text check: $(cat "$DIR/stdout")"
expect_rc 1 cairn fs check nosuchvol
expect_rc 2 cairn fs check

before=$(cairn ls fs | wc -l)
expect_rc 0 cairn fs create vol2
expect_rc 0 cairn --json fs ls
[[ $(json '[v["name"] for v in j]' <"$DIR/stdout") == "['vol1', 'vol2']" ]] ||
    fail "fs ls: $(cat "$DIR/stdout")"
expect_rc 0 cairn fs ls
[[ $(awk '{print $1}' "$DIR/stdout" | tr '\n' ' ') == "vol1 vol2 " ]] ||
    fail "fs ls text: $(cat "$DIR/stdout")"
# vol2 (just its root) goes with all its objects; vol1 (5,000
# inodes) is left to the cluster's teardown: removing it takes minutes.
expect_rc 0 cairn fs check vol2
expect_rc 0 cairn fs rm vol2
expect_rc 1 cairn fs rm vol2
grep -q "no such volume" "$DIR/stderr" || fail "rm twice: $(cat "$DIR/stderr")"
after=$(cairn ls fs | wc -l)
[[ $after -eq $before ]] || fail "$((after - before)) objects of vol2 left after rm"
expect_rc 0 cairn --json fs ls
[[ $(json '[v["name"] for v in j]' <"$DIR/stdout") == "['vol1']" ]] ||
    fail "fs ls after rm: $(cat "$DIR/stdout")"
expect_rc 1 cairn fs ls --pool nosuchpool
expect_rc 1 cairn fs check vol2
log "ok"
