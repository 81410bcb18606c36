/* A growable list of object names (internal.h): what a PG's primary has
 * yet to pull from its authority or push to a replica. */
#include "osd/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int osd__names_add(struct osd_names *l, const char *name, size_t len)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strndup(name, len)))
        return -ENOMEM;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void osd__names_sort_unique(struct osd_names *l, uint32_t from)
{
    uint32_t out = from;

    if (l->n <= from)
        return; /* l->v may still be NULL, which qsort must not get */
    qsort(l->v + from, l->n - from, sizeof(*l->v), cmp_str);
    for (uint32_t i = from; i < l->n; i++) {
        if (out > from && strcmp(l->v[out - 1], l->v[i]) == 0)
            free(l->v[i]);
        else
            l->v[out++] = l->v[i];
    }
    l->n = out;
}

void osd__names_drop_after(struct osd_names *l, uint32_t from, const char *end)
{
    uint32_t out = from;

    for (uint32_t i = from; i < l->n; i++) {
        if (strcmp(l->v[i], end) > 0)
            free(l->v[i]);
        else
            l->v[out++] = l->v[i];
    }
    l->n = out;
}

void osd__names_clear(struct osd_names *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

int64_t osd__names_find(const struct osd_names *l, const char *name)
{
    uint32_t lo = 0, hi = l->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(l->v[mid], name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}
