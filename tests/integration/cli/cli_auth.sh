#!/usr/bin/env bash
# Keys through the CLI (auth add/get/ls/rm), and a client whose key the
# monitors do not accept: exit 1 with a clear one-line message, quickly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cluster_up --mons 3

cairn auth add client.backup >"$DIR/added"
grep -q '^\[client.backup\]$' "$DIR/added" || fail "auth add output: $(cat "$DIR/added")"
key=$(sed -n 's/^key = //p' "$DIR/added")
[[ ${#key} -eq 44 ]] || fail "auth add key: '$key'"
# add again: the existing key comes back.
[[ $(cairn auth add client.backup) == "$(cat "$DIR/added")" ]] || fail "auth add is not idempotent"
[[ $(cairn auth get client.backup --json | json 'j["key"]') == "$key" ]] || fail "auth get"
cairn auth ls | grep -qx client.backup || fail "auth ls"
[[ $(cairn auth ls --json | json '"client.backup" in j["entities"]') == True ]] || fail "auth ls --json"
expect_rc 0 cairn auth rm client.backup
expect_rc 1 cairn auth get client.backup
grep -q "client.backup" "$DIR/stderr" || fail "auth get of a removed key: $(cat "$DIR/stderr")"
expect_rc 2 cairn auth add not-an-entity

# A keyring whose client.admin key is not the cluster's.
sed "/^\[client.admin\]/,/^key/ s|^key = .*|key = $(openssl rand -base64 32 2>/dev/null ||
    head -c 32 /dev/urandom | base64)|" "$DIR/keyring" >"$DIR/bad-keyring"
sed "s|^keyring = .*|keyring = $DIR/bad-keyring|" "$CONF" >"$DIR/bad.conf"
start=$SECONDS
rc=0
"$CAIRN" -c "$DIR/bad.conf" status 2>"$DIR/stderr" || rc=$?
[[ $rc -eq 1 ]] || fail "a wrong key exited $rc"
[[ $(wc -l <"$DIR/stderr") -eq 1 ]] || fail "not one line: $(cat "$DIR/stderr")"
grep -q "^cairn: authentication between client.admin and the monitors failed" "$DIR/stderr" ||
    fail "message: $(cat "$DIR/stderr")"
((SECONDS - start < 10)) || fail "a wrong key took $((SECONDS - start)) s to fail"

# An entity the keyring lacks: refused before any connection.
expect_rc 1 cairn --name client.nobody status
grep -q "has no key for client.nobody" "$DIR/stderr" || fail "$(cat "$DIR/stderr")"
log "ok"
