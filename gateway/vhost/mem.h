/* Guest memory of a vhost-user device: the table of regions the front-end
 * sends with SET_MEM_TABLE (QEMU docs/interop/vhost-user.rst, "Memory
 * region description"), mapped from the passed file descriptors, and the
 * two translations the device needs: front-end user addresses (the rings of
 * SET_VRING_ADDR) and guest-physical addresses (descriptor buffers) to host
 * pointers. Pure: no sockets, no logging; the table is owned by one thread
 * (the device's), and lookups may run on any thread while it is unchanged.
 *
 * Every address and length here comes from the guest or the front-end:
 * lookups never assume, they check, overflow included. Callers: vring.c,
 * the vhost-user message handlers (msg.c), unit tests and the fuzz target. */
#ifndef CAIRN_GATEWAY_VHOST_MEM_H
#define CAIRN_GATEWAY_VHOST_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* VHOST_MEMORY_BASELINE_NREGIONS: what SET_MEM_TABLE carries at most. */
#define GW_VHOST_REGIONS_MAX 8

struct gw_vhost_region {
    uint64_t gpa;         /* guest-physical address of the first byte */
    uint64_t size;        /* bytes; > 0, gpa + size does not wrap */
    uint64_t uaddr;       /* the front-end's user address of the first byte */
    uint64_t mmap_offset; /* offset of the first byte in the region's fd */
    uint8_t *host;        /* where the first byte is in our address space */
    void *map;            /* what gw_vhost_mem_clear() munmaps; NULL when not ours */
    size_t map_len;       /* bytes of @map */
};

/* Regions r[0..n) in the order they were added; no two overlap in gpa or
 * in uaddr. Zero-initialise before first use. */
struct gw_vhost_mem {
    unsigned n;
    struct gw_vhost_region r[GW_VHOST_REGIONS_MAX];
};

/* Maps @size bytes of @fd at @mmap_offset (shared, read-write) as the region
 * [gpa, gpa + size) whose front-end address is @uaddr. The fd is mapped from
 * offset 0 over mmap_offset + size bytes, as libvhost-user does, so any
 * offset works on hugetlbfs too. @fd stays the caller's (it is not closed;
 * the mapping outlives it). Returns 0; -EINVAL for a zero size, a range that
 * wraps, or an overlap with an existing region (in gpa or uaddr); -E2BIG
 * when the table is full; -errno of mmap(). */
int gw_vhost_mem_add(struct gw_vhost_mem *m, int fd, uint64_t gpa, uint64_t size, uint64_t uaddr,
                     uint64_t mmap_offset);

/* As gw_vhost_mem_add(), for memory the caller already has at @host (unit
 * tests, fuzz targets): nothing is mapped and nothing is unmapped later; the
 * caller keeps @host valid until gw_vhost_mem_clear(). Same errors, no mmap. */
int gw_vhost_mem_add_host(struct gw_vhost_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr,
                          void *host);

/* Unmaps and forgets the region that starts at guest-physical @gpa with
 * @size bytes (vhost-user REM_MEM_REG). Returns 0, or -ENOENT. Host pointers
 * into it (rings, chains) become invalid. */
int gw_vhost_mem_remove(struct gw_vhost_mem *m, uint64_t gpa, uint64_t size);

/* Unmaps every region this table mapped and empties it (n = 0). Every host
 * pointer obtained from it becomes invalid. */
void gw_vhost_mem_clear(struct gw_vhost_mem *m);

/* The host pointer of front-end user address @uaddr when all of
 * [uaddr, uaddr + len) lies inside ONE region, else NULL (wrap-safe). Valid
 * until the region is removed. */
void *gw_vhost_mem_uaddr(const struct gw_vhost_mem *m, uint64_t uaddr, uint64_t len);

/* The host pointer of guest-physical @gpa when all of [gpa, gpa + len) lies
 * inside ONE region, else NULL (wrap-safe). */
void *gw_vhost_mem_gpa(const struct gw_vhost_mem *m, uint64_t gpa, uint64_t len);

/* Translates guest-physical [gpa, gpa + len) into host pieces iov[0..*n),
 * splitting where the range runs from one region into the next (regions
 * adjacent in gpa). Returns 0 (len 0 gives *n = 0); -EFAULT when any byte is
 * unmapped or the range wraps; -E2BIG when more than @max pieces are needed.
 * On failure *n is untouched and iov[] may have been written. */
int gw_vhost_mem_gpa_iov(const struct gw_vhost_mem *m, uint64_t gpa, uint64_t len,
                         struct iovec *iov, unsigned max, unsigned *n);

/* Copies guest-physical [gpa, gpa + len) to @dst, across regions. Returns 0
 * or -EFAULT (any byte unmapped; @dst may have been partly written). */
int gw_vhost_mem_read(const struct gw_vhost_mem *m, uint64_t gpa, void *dst, size_t len);

#endif
