/* The input layout of the vhost_vring fuzz target, shared by the target
 * (fuzz_vhost_vring.c) and its seed generator (gen_corpus_vhost_vring.c):
 * a 16-byte header choosing the queue, then the guest RAM image, all little
 * endian:
 *
 *   0  u8  log2 of the queue size (taken mod 9: 1..256 entries)
 *   1  u8  flags: bit 0 EVENT_IDX, bit 1 two regions
 *   2  u16 SET_VRING_BASE (last_avail_idx)
 *   4  u16 descriptor table offset in RAM, in 16-byte units
 *   6  u16 avail ring offset in RAM, in 2-byte units
 *   8  u16 used ring offset in RAM, in 4-byte units
 *  10  u16 size of the first region when there are two (they are adjacent
 *          in guest-physical space, not in user space)
 *  12  u32 reserved
 *  16  ... guest RAM, FUZZ_VRING_GPA onwards
 *
 * Ring offsets are taken as they come: ones outside RAM make setup fail. */
#ifndef CAIRN_TESTS_FUZZ_VHOST_VRING_H
#define CAIRN_TESTS_FUZZ_VHOST_VRING_H

#define FUZZ_VRING_HDR_BYTES 16u
#define FUZZ_VRING_GPA 0x10000ull          /* guest-physical start of RAM */
#define FUZZ_VRING_UADDR0 0x7f0000000000ull /* user address of region 0 */
#define FUZZ_VRING_UADDR1 0x7e0000000000ull /* user address of region 1 */
#define FUZZ_VRING_F_EVENT_IDX 1u
#define FUZZ_VRING_F_TWO_REGIONS 2u

#endif
