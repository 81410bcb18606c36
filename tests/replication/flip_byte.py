#!/usr/bin/python3
"""flip_byte: simulates bit rot in one OSD's copy of an object.
repl_scrub.sh uses it to corrupt a replica's or a primary's copy.

    flip_byte.py DATAFILE OBJECTFILE OFFSET

Finds the 64 bytes of OBJECTFILE at OFFSET in DATAFILE (an OSD's
$DIR/osd.N/data) and XORs the first of them with 0x5a, in place, through a
shared mapping flushed to the file before exit. OFFSET should start a block
(e.g. 8192) of an object of at least 64 KiB of random data, which the store
keeps in the data file itself (smaller writes may sit in RocksDB). Exits 1,
saying why, unless the needle occurs exactly once: a flip must hit the one
copy the OSD reads, never a freed block or the wrong object. Prints the
byte's position in DATAFILE.
"""
import mmap
import sys

NEEDLE_LEN = 64


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: flip_byte.py DATAFILE OBJECTFILE OFFSET")
    data_path, object_path, offset = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(object_path, "rb") as f:
        f.seek(offset)
        needle = f.read(NEEDLE_LEN)
    if len(needle) != NEEDLE_LEN:
        sys.exit("flip_byte: %s has no %d bytes at offset %d" % (object_path, NEEDLE_LEN, offset))
    with open(data_path, "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
        pos = m.find(needle)
        if pos < 0:
            sys.exit("flip_byte: %s: the needle (%s@%d) is not there" %
                     (data_path, object_path, offset))
        again = m.find(needle, pos + 1)
        if again >= 0:
            sys.exit("flip_byte: %s: the needle (%s@%d) is there more than once (%d, %d)" %
                     (data_path, object_path, offset, pos, again))
        m[pos] ^= 0x5A
        m.flush()
    print(pos)


if __name__ == "__main__":
    main()
