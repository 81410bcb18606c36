# shellcheck shell=sh
# Guest script (busybox ash, run as /test.sh by the initrd's /init): block
# and file-system I/O on /dev/vda. The host made the data (TCG is slow):
# /data/plan lists "NAME OFFSET_BYTES PHASE" for pattern files /data/NAME
# (tests/vhost/guest/lib.sh guest_make_data). Steps, in the order of
# CAIRN_STEPS (comma-separated, default "patterns:1,fs,discard"):
#   patterns:P  write the phase-P patterns at their offsets with O_DIRECT,
#               read them back (O_DIRECT) and compare checksums
#   verify:P    only read back and compare the phase-P patterns
#   fs          mke2fs on the first CAIRN_FS_KB KiB, mount, copy the
#               fs-phase patterns in as files, umount, drop caches, mount,
#               compare, write /hello, umount (the host checks with e2fsck
#               and debugfs)
#   discard     write the discard-phase pattern, then discard its range with
#               blkdiscard (else fstrim on the mounted file system); reports
#               which worked and whether the range then reads as zeros
#   idle        CAIRN-GUEST-IDLE, then wait up to CAIRN_IDLE_MAX_S (60) for
#               the host (run-guest --ctl), e.g. while it restarts the backend
# Prints CAIRN-GUEST-STEP before each step and CAIRN-GUEST-INFO lines with
# what it found; fails with the first mismatch.
. /lib/cairn-guest.sh

PLAN=/data/plan
[ -f $PLAN ] || fail "no $PLAN in the initrd"
DISK_BYTES=$(($(cat /sys/block/vda/size) * 512))

# O_DIRECT when the kernel and device take it, else cached I/O with a sync
# and a cache drop before every read.
if dd if=/dev/vda of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
    DIRECT=1
    info "io=direct"
else
    DIRECT=0
    info "io=cached" # O_DIRECT refused
fi

# bs_for OFFSET SIZE: the largest of 64K..512 dividing both.
bs_for() {
    for b in 65536 4096 512; do
        if [ $(($1 % b)) -eq 0 ] && [ $(($2 % b)) -eq 0 ]; then
            echo $b
            return
        fi
    done
    fail "offset $1 size $2 are not sector aligned"
}

# disk_write FILE OFFSET / disk_md5 OFFSET SIZE
disk_write() {
    size=$(stat -c %s "$1")
    bs=$(bs_for "$2" "$size")
    if [ $DIRECT -eq 1 ]; then
        dd if="$1" of=/dev/vda bs="$bs" seek=$(($2 / bs)) oflag=direct conv=notrunc,fsync 2>/tmp/dd.err
    else
        dd if="$1" of=/dev/vda bs="$bs" seek=$(($2 / bs)) conv=notrunc,fsync 2>/tmp/dd.err
    fi || fail "write of $1 at $2 failed: $(tail -n 1 /tmp/dd.err)"
}
disk_md5() {
    bs=$(bs_for "$1" "$2")
    if [ $DIRECT -eq 1 ]; then
        dd if=/dev/vda bs="$bs" skip=$(($1 / bs)) count=$(($2 / bs)) iflag=direct 2>/tmp/dd.err
    else
        sync
        echo 3 >/proc/sys/vm/drop_caches
        dd if=/dev/vda bs="$bs" skip=$(($1 / bs)) count=$(($2 / bs)) 2>/tmp/dd.err
    fi | md5sum | cut -d' ' -f1
}
file_md5() { md5sum "$1" | cut -d' ' -f1; }

# entries PHASE: the plan lines of PHASE as "NAME OFFSET".
entries() { awk -v p="$1" '$3 == p { print $1, $2 }' $PLAN; }

check_one() { # NAME OFFSET
    want=$(file_md5 "/data/$1")
    got=$(disk_md5 "$2" "$(stat -c %s "/data/$1")")
    [ "$got" = "$want" ] || fail "pattern $1 at $2 reads back $got, not $want"
}

step_patterns() {
    n=0
    entries "$1" >/tmp/entries
    while read -r name off; do
        end=$((off + $(stat -c %s "/data/$name")))
        [ $end -le $DISK_BYTES ] || fail "pattern $name ends at $end, past the disk ($DISK_BYTES)"
        disk_write "/data/$name" "$off"
        n=$((n + 1))
    done </tmp/entries
    [ $n -gt 0 ] || fail "no phase $1 patterns in the plan"
    while read -r name off; do check_one "$name" "$off"; done </tmp/entries
    info "patterns phase=$1 written=$n verified=$n up=$(up)"
}

step_verify() {
    n=0
    entries "$1" >/tmp/entries
    while read -r name off; do
        check_one "$name" "$off"
        n=$((n + 1))
    done </tmp/entries
    [ $n -gt 0 ] || fail "no phase $1 patterns in the plan"
    info "verify phase=$1 verified=$n up=$(up)"
}

mount_fs() {
    mount -t ext2 /dev/vda /mnt 2>/tmp/mount.err ||
        mount -t ext4 /dev/vda /mnt 2>>/tmp/mount.err ||
        fail "mount failed: $(tail -n 1 /tmp/mount.err)"
}

step_fs() {
    [ -n "$CAIRN_FS_KB" ] || fail "fs needs CAIRN_FS_KB"
    mke2fs -F -L cairn /dev/vda "$CAIRN_FS_KB" >/tmp/mke2fs.out 2>&1 ||
        fail "mke2fs failed: $(tail -n 1 /tmp/mke2fs.out)"
    mount_fs
    entries fs >/tmp/entries
    n=0
    mkdir /mnt/dir || fail "mkdir on the fs failed"
    while read -r name off; do
        cp "/data/$name" "/mnt/dir/$name" || fail "cp $name to the fs failed"
        n=$((n + 1))
    done </tmp/entries
    [ $n -gt 0 ] || fail "no fs patterns in the plan"
    echo "hello from the guest" >/mnt/hello
    umount /mnt || fail "umount failed"
    echo 3 >/proc/sys/vm/drop_caches
    mount_fs
    while read -r name off; do
        [ "$(file_md5 "/mnt/dir/$name")" = "$(file_md5 "/data/$name")" ] ||
            fail "file $name differs after a remount"
    done </tmp/entries
    [ "$(cat /mnt/hello)" = "hello from the guest" ] || fail "/hello differs after a remount"
    umount /mnt || fail "umount failed"
    info "fs ext2 kb=$CAIRN_FS_KB files=$((n + 1)) verified up=$(up)"
}

step_discard() {
    max=$(cat /sys/block/vda/queue/discard_max_bytes 2>/dev/null || echo 0)
    entries discard >/tmp/entries
    read -r name off </tmp/entries || fail "no discard pattern in the plan"
    size=$(stat -c %s "/data/$name")
    disk_write "/data/$name" "$off"
    check_one "$name" "$off"
    how=none
    if blkdiscard -o "$off" -l "$size" /dev/vda 2>/tmp/discard.err; then
        how=blkdiscard
    elif [ -n "$CAIRN_FS_KB" ] && mount -t ext4 /dev/vda /mnt 2>>/tmp/discard.err; then
        # trims the file system's free space only, not the pattern's range
        fstrim /mnt 2>>/tmp/discard.err && how=fstrim
        umount /mnt || fail "umount after fstrim failed"
    fi
    zero=$(dd if=/dev/zero bs=512 count=$((size / 512)) 2>/dev/null | md5sum | cut -d' ' -f1)
    if [ "$(disk_md5 "$off" "$size")" = "$zero" ]; then zeroes=yes; else zeroes=no; fi
    info "discard=$how discard_max_bytes=$max reads_zero=$zeroes offset=$off len=$size"
    [ $how = blkdiscard ] || info "discard_error=$(tail -n 1 /tmp/discard.err | tr ' ' '_')"
}

for step in $(echo "${CAIRN_STEPS:-patterns:1,fs,discard}" | tr ',' ' '); do
    echo "CAIRN-GUEST-STEP $step up=$(up)" # names the step a hang is in
    case $step in
    patterns:*) step_patterns "${step#*:}" ;;
    verify:*) step_verify "${step#*:}" ;;
    fs) step_fs ;;
    discard) step_discard ;;
    idle) idle "${CAIRN_IDLE_MAX_S:-60}" ;;
    *) fail "unknown step $step" ;;
    esac
done
