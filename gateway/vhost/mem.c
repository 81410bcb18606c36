/* Guest memory regions of a vhost-user device (mem.h): validation and
 * mapping of SET_MEM_TABLE / ADD_MEM_REG regions, and wrap-safe
 * translations of front-end user addresses and guest-physical ranges. */
#include "gateway/vhost/mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "common/assert.h"

/* [a, a + alen) and [b, b + blen) intersect; both ranges are known not to wrap. */
static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

static int check_region(const struct gw_vhost_mem *m, uint64_t gpa, uint64_t size,
                        uint64_t uaddr)
{
    if (size == 0 || size > UINT64_MAX - gpa || size > UINT64_MAX - uaddr || size > SIZE_MAX)
        return -EINVAL;
    for (unsigned i = 0; i < m->n; i++) {
        const struct gw_vhost_region *r = &m->r[i];
        if (overlaps(gpa, size, r->gpa, r->size) || overlaps(uaddr, size, r->uaddr, r->size))
            return -EINVAL;
    }
    if (m->n == GW_VHOST_REGIONS_MAX)
        return -E2BIG;
    return 0;
}

static void append(struct gw_vhost_mem *m, const struct gw_vhost_region *r)
{
    CAIRN_ASSERT(m->n < GW_VHOST_REGIONS_MAX);
    m->r[m->n++] = *r;
}

int gw_vhost_mem_add(struct gw_vhost_mem *m, int fd, uint64_t gpa, uint64_t size, uint64_t uaddr,
                     uint64_t mmap_offset)
{
    int r = check_region(m, gpa, size, uaddr);

    if (r < 0)
        return r;
    if (mmap_offset > SIZE_MAX - size)
        return -EINVAL;
    size_t len = (size_t)(mmap_offset + size);
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (map == MAP_FAILED)
        return -errno;
    append(m, &(struct gw_vhost_region){
                  .gpa = gpa,
                  .size = size,
                  .uaddr = uaddr,
                  .mmap_offset = mmap_offset,
                  .host = (uint8_t *)map + mmap_offset,
                  .map = map,
                  .map_len = len,
              });
    return 0;
}

int gw_vhost_mem_add_host(struct gw_vhost_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr,
                          void *host)
{
    int r = check_region(m, gpa, size, uaddr);

    if (r < 0)
        return r;
    append(m, &(struct gw_vhost_region){.gpa = gpa, .size = size, .uaddr = uaddr, .host = host});
    return 0;
}

int gw_vhost_mem_remove(struct gw_vhost_mem *m, uint64_t gpa, uint64_t size)
{
    for (unsigned i = 0; i < m->n; i++) {
        struct gw_vhost_region *r = &m->r[i];
        if (r->gpa != gpa || r->size != size)
            continue;
        if (r->map)
            munmap(r->map, r->map_len);
        memmove(r, r + 1, (m->n - i - 1) * sizeof(*r));
        m->n--;
        return 0;
    }
    return -ENOENT;
}

void gw_vhost_mem_clear(struct gw_vhost_mem *m)
{
    for (unsigned i = 0; i < m->n; i++)
        if (m->r[i].map)
            munmap(m->r[i].map, m->r[i].map_len);
    memset(m, 0, sizeof(*m));
}

/* The region holding guest-physical @gpa, or NULL. */
static const struct gw_vhost_region *find_gpa(const struct gw_vhost_mem *m, uint64_t gpa)
{
    for (unsigned i = 0; i < m->n; i++)
        if (gpa >= m->r[i].gpa && gpa - m->r[i].gpa < m->r[i].size)
            return &m->r[i];
    return NULL;
}

void *gw_vhost_mem_uaddr(const struct gw_vhost_mem *m, uint64_t uaddr, uint64_t len)
{
    for (unsigned i = 0; i < m->n; i++) {
        const struct gw_vhost_region *r = &m->r[i];
        if (uaddr < r->uaddr || uaddr - r->uaddr >= r->size)
            continue;
        uint64_t off = uaddr - r->uaddr;
        return len <= r->size - off ? r->host + off : NULL;
    }
    return NULL;
}

void *gw_vhost_mem_gpa(const struct gw_vhost_mem *m, uint64_t gpa, uint64_t len)
{
    const struct gw_vhost_region *r = find_gpa(m, gpa);

    if (!r)
        return NULL;
    uint64_t off = gpa - r->gpa;
    return len <= r->size - off ? r->host + off : NULL;
}

int gw_vhost_mem_gpa_iov(const struct gw_vhost_mem *m, uint64_t gpa, uint64_t len,
                         struct iovec *iov, unsigned max, unsigned *n)
{
    unsigned k = 0;

    if (len > UINT64_MAX - gpa)
        return -EFAULT;
    /* Each turn consumes at least one byte and adds one piece, so the loop
     * ends after at most @max turns. */
    while (len > 0) {
        const struct gw_vhost_region *r = find_gpa(m, gpa);
        if (!r)
            return -EFAULT;
        if (k == max)
            return -E2BIG;
        uint64_t off = gpa - r->gpa;
        uint64_t piece = CAIRN_MIN(len, r->size - off);
        iov[k++] = (struct iovec){.iov_base = r->host + off, .iov_len = (size_t)piece};
        gpa += piece;
        len -= piece;
    }
    *n = k;
    return 0;
}

int gw_vhost_mem_read(const struct gw_vhost_mem *m, uint64_t gpa, void *dst, size_t len)
{
    uint8_t *out = dst;

    if (len > UINT64_MAX - gpa)
        return -EFAULT;
    while (len > 0) {
        const struct gw_vhost_region *r = find_gpa(m, gpa);
        if (!r)
            return -EFAULT;
        uint64_t off = gpa - r->gpa;
        size_t piece = (size_t)CAIRN_MIN((uint64_t)len, r->size - off);
        memcpy(out, r->host + off, piece);
        out += piece;
        gpa += piece;
        len -= piece;
    }
    return 0;
}
