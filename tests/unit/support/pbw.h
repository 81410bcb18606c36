/* Test helper: a small protobuf writer, so codec tests can hand-make input
 * (valid or malformed) field by field without the generated code. Include
 * after <cmocka.h>; field numbers come from the test's .proto. */
#ifndef CAIRN_TESTS_SUPPORT_PBW_H
#define CAIRN_TESTS_SUPPORT_PBW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pbw {
    uint8_t *b;
    size_t n, cap;
};

static inline void pb_raw(struct pbw *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 64;
        w->b = realloc(w->b, w->cap);
        assert_non_null(w->b);
    }
    if (n)
        memcpy(w->b + w->n, p, n);
    w->n += n;
}

static inline void pb_varint(struct pbw *w, uint64_t v)
{
    uint8_t c;
    do {
        c = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        pb_raw(w, &c, 1);
        v >>= 7;
    } while (v);
}

static inline void pb_uint(struct pbw *w, unsigned field, uint64_t v)
{
    pb_varint(w, (uint64_t)field << 3);
    pb_varint(w, v);
}

static inline void pb_sint(struct pbw *w, unsigned field, int64_t v)
{
    pb_uint(w, field, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline void pb_bytes(struct pbw *w, unsigned field, const void *p, size_t n)
{
    pb_varint(w, (uint64_t)field << 3 | 2);
    pb_varint(w, n);
    pb_raw(w, p, n);
}

/* @n bytes of @c. */
static inline void pb_fill(struct pbw *w, unsigned field, int c, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, c, n);
    pb_bytes(w, field, p, n);
    free(p);
}

static inline void pb_sub(struct pbw *w, unsigned field, struct pbw *sub)
{
    pb_bytes(w, field, sub->b, sub->n);
    free(sub->b);
    *sub = (struct pbw){0};
}

static inline void pb_free(struct pbw *w)
{
    free(w->b);
    *w = (struct pbw){0};
}

#endif
