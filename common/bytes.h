/* Fixed-width integers in byte buffers, little endian: how the OSD keeps
 * numbers in xattrs and omap values (object versions, PG info, image
 * headers), independent of the host's byte order. */
#ifndef CAIRN_COMMON_BYTES_H
#define CAIRN_COMMON_BYTES_H

#include <stdint.h>

/* The low @n (<= 8) bytes of @v at @p, little endian. */
static inline void cairn_put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void cairn_put_le64(uint8_t *p, uint64_t v)
{
    cairn_put_le(p, v, 8);
}

/* The first @n (<= 8) bytes at @p, little endian. */
static inline uint64_t cairn_get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t cairn_get_le64(const uint8_t *p)
{
    return cairn_get_le(p, 8);
}

#endif
