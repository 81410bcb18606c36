#!/usr/bin/env bash
# Real workloads on mount.cairn: unpack a small C project's tarball, build
# it with make and run it; git init/add/commit/log (skipped without git);
# tar the tree back out and compare it with the source (diff -r); then two
# mounts of one volume appending to their own files and creating files in
# one shared directory at the same time: both must see every file with
# the right size.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

for tool in make cc tar diff; do
    command -v "$tool" >/dev/null || { log "$tool is missing; skipping"; exit 77; }
done

# A small C project: a few .c files and a Makefile.
make_project() {
    local p=$DIR/src/proj
    mkdir -p "$p/lib"
    cat >"$p/lib/sum.c" <<'C'
#include "sum.h"
long sum_to(long n) { long s = 0; for (long i = 1; i <= n; i++) s += i; return s; }
C
    cat >"$p/lib/sum.h" <<'C'
long sum_to(long n);
C
    cat >"$p/fib.c" <<'C'
long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
C
    cat >"$p/main.c" <<'C'
#include <stdio.h>
#include "lib/sum.h"
long fib(int n);
int main(void) { printf("sum=%ld fib=%ld\n", sum_to(100), fib(20)); return 0; }
C
    printf '%s\n' 'CFLAGS = -O1 -Wall' 'OBJS = main.o fib.o lib/sum.o' '' 'prog: $(OBJS)' \
        $'\t$(CC) -o $@ $(OBJS)' '' 'clean:' $'\trm -f prog $(OBJS)' >"$p/Makefile"
    head -c 300000 /dev/urandom >"$p/data.bin"
    ln -s main.c "$p/link-to-main"
    tar -C "$DIR/src" -czf "$DIR/proj.tar.gz" proj
}

step "cluster with --fuse $MNT"
cluster_up_fuse
make_project

step "extract, build and run"
W=$MNT/work
mkdir -p "$W"
tar -C "$W" -xzf "$DIR/proj.tar.gz"
make -s -C "$W/proj" >"$DIR/make.out" 2>&1 || { cat "$DIR/make.out" >&2; fail "make failed"; }
out=$("$W/proj/prog")
[[ $out == "sum=5050 fib=6765" ]] || fail "the program printed '$out'"
make -s -C "$W/proj" clean >/dev/null
[[ ! -e $W/proj/prog ]] || fail "make clean left prog"

if command -v git >/dev/null; then
    step "git"
    (
        cd "$W/proj"
        export HOME=$DIR GIT_CONFIG_NOSYSTEM=1
        git init -q .
        git -c user.name=t -c user.email=t@e add -A
        git -c user.name=t -c user.email=t@e commit -q -m "first"
        echo "// more" >>fib.c
        git -c user.name=t -c user.email=t@e commit -q -am "second"
        [[ $(git log --oneline | wc -l) -eq 2 ]] || exit 1
        git status --porcelain | grep -q . && exit 1
        git fsck >/dev/null
        rm -rf .git
    ) || fail "git on the mount failed"
    # The tree must match the source again (fib.c changed: restore it).
    cp "$DIR/src/proj/fib.c" "$W/proj/fib.c"
else
    log "git is not installed; skipping the git part"
fi

step "tar out and compare"
mkdir -p "$DIR/out"
tar -C "$W" -cf - proj | tar -C "$DIR/out" -xf -
diff -r --no-dereference "$DIR/src/proj" "$DIR/out/proj" || fail "the tree differs from its source"

step "two mounts writing at once"
mount2
mkdir "$MNT/shared"
N=60
writer() { # writer MOUNT TAG: appends N lines to its file, creates N files
    local m=$1 tag=$2 i
    for ((i = 0; i < N; i++)); do
        printf 'line %04d from %s\n' "$i" "$tag" >>"$m/shared/log.$tag"
        printf '%s %d\n' "$tag" "$i" >"$m/shared/f.$tag.$i"
    done
}
wait_for 15 test -d "$MNT2/shared" || fail "mnt2 does not see the shared directory"
writer "$MNT" a &
pa=$!
writer "$MNT2" b &
pb=$!
wait "$pa" || fail "writer a failed"
wait "$pb" || fail "writer b failed"
want_log=$(printf 'line %04d from %s\n' 0 a | wc -c) # bytes per line
all_seen() {
    local m=$1 t i
    [[ $(ls "$m/shared" | wc -l) -eq $((2 * N + 2)) ]] || return 1
    for t in a b; do
        [[ $(stat -c %s "$m/shared/log.$t") -eq $((N * want_log)) ]] || return 1
        [[ $(wc -l <"$m/shared/log.$t") -eq $N ]] || return 1
        for ((i = 0; i < N; i += 7)); do
            [[ $(cat "$m/shared/f.$t.$i") == "$t $i" ]] || return 1
        done
    done
}
for m in "$MNT" "$MNT2"; do
    wait_for 20 all_seen "$m" || fail "$m does not see all files: $(ls "$m/shared" | wc -l) there"
done
cmp "$MNT/shared/log.a" "$MNT2/shared/log.a" || fail "log.a differs between the mounts"

step "cleanup on the mount"
rm -rf "$W" "$MNT/shared"
[[ -z $(ls -A "$MNT") ]] || fail "the volume is not empty after rm -rf: $(ls -A "$MNT")"
log "ok"
