/* The Raft log held in memory: the entries after the snapshot point, with
 * their payloads packed in one byte buffer. Knows nothing of roles or
 * messages; raft.c and raft_replicate.c decide what to append and truncate.
 * The driver's copy on disk is kept in step through ready/advance. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/core/internal.h"

#define LOG_INIT_ENTRIES 64
#define LOG_INIT_BYTES 4096

int mon__log_init(struct mon__log *l)
{
    memset(l, 0, sizeof(*l));
    l->ents = calloc(LOG_INIT_ENTRIES, sizeof(*l->ents));
    l->data = malloc(LOG_INIT_BYTES);
    if (!l->ents || !l->data) {
        mon__log_fini(l);
        return -ENOMEM;
    }
    l->cap = LOG_INIT_ENTRIES;
    l->data_cap = LOG_INIT_BYTES;
    return 0;
}

void mon__log_fini(struct mon__log *l)
{
    free(l->ents);
    free(l->data);
    memset(l, 0, sizeof(*l));
}

uint64_t mon__log_last_index(const struct mon__log *l)
{
    return l->snap_index + l->n;
}

uint64_t mon__log_last_term(const struct mon__log *l)
{
    return l->n ? l->ents[l->n - 1].term : l->snap_term;
}

bool mon__log_term(const struct mon__log *l, uint64_t index, uint64_t *term)
{
    if (index == l->snap_index) {
        *term = l->snap_term;
        return true;
    }
    if (index < l->snap_index || index > mon__log_last_index(l))
        return false;
    *term = l->ents[index - l->snap_index - 1].term;
    return true;
}

bool mon__log_match_term(const struct mon__log *l, uint64_t index, uint64_t term)
{
    uint64_t t;

    return mon__log_term(l, index, &t) && t == term;
}

const struct mon_raft_entry *mon__log_entry(const struct mon__log *l, uint64_t index)
{
    if (index <= l->snap_index || index > mon__log_last_index(l))
        return NULL;
    return &l->ents[index - l->snap_index - 1];
}

/* Payloads are packed in index order, so each entry's data pointer can be
 * recomputed from the lengths when the buffer moves. */
static void rebase(struct mon__log *l)
{
    size_t off = 0;

    for (size_t i = 0; i < l->n; i++) {
        l->ents[i].data = l->data + off;
        off += l->ents[i].len;
    }
}

int mon__log_reserve(struct mon__log *l, size_t n, size_t bytes)
{
    if (l->n + n > l->cap) {
        size_t cap = l->cap;
        while (cap < l->n + n)
            cap *= 2;
        struct mon_raft_entry *e = realloc(l->ents, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        l->ents = e;
        l->cap = cap;
    }
    if (l->data_len + bytes > l->data_cap) {
        size_t cap = l->data_cap;
        while (cap < l->data_len + bytes)
            cap *= 2;
        uint8_t *d = realloc(l->data, cap);
        if (!d)
            return -ENOMEM;
        l->data = d;
        l->data_cap = cap;
        rebase(l);
    }
    return 0;
}

void mon__log_append(struct mon__log *l, const struct mon_raft_entry *e)
{
    CAIRN_ASSERT(e->index == mon__log_last_index(l) + 1);
    CAIRN_ASSERT(e->term >= mon__log_last_term(l));
    CAIRN_ASSERT(l->n < l->cap);
    CAIRN_ASSERT(l->data_len + e->len <= l->data_cap);

    struct mon_raft_entry *dst = &l->ents[l->n++];
    *dst = *e;
    dst->data = l->data + l->data_len;
    if (e->len)
        memcpy(l->data + l->data_len, e->data, e->len);
    l->data_len += e->len;
}

void mon__log_truncate(struct mon__log *l, uint64_t from)
{
    CAIRN_ASSERT(from > l->snap_index);
    if (from > mon__log_last_index(l))
        return;
    size_t keep = (size_t)(from - l->snap_index - 1);
    l->data_len = (size_t)((const uint8_t *)l->ents[keep].data - l->data);
    l->n = keep;
    if (l->stabled >= from)
        l->stabled = from - 1;
}

void mon__log_compact(struct mon__log *l, uint64_t index, uint64_t term)
{
    CAIRN_ASSERT(index > l->snap_index);
    CAIRN_ASSERT(index <= l->stabled);
    size_t drop = (size_t)(index - l->snap_index);
    CAIRN_ASSERT(drop <= l->n);
    CAIRN_ASSERT(l->ents[drop - 1].term == term);

    size_t off =
        drop < l->n ? (size_t)((const uint8_t *)l->ents[drop].data - l->data) : l->data_len;
    memmove(l->data, l->data + off, l->data_len - off);
    memmove(l->ents, l->ents + drop, (l->n - drop) * sizeof(*l->ents));
    l->n -= drop;
    l->data_len -= off;
    rebase(l);
    l->snap_index = index;
    l->snap_term = term;
}

void mon__log_reset(struct mon__log *l, uint64_t index, uint64_t term)
{
    l->n = 0;
    l->data_len = 0;
    l->snap_index = index;
    l->snap_term = term;
    l->stabled = index;
}

bool mon__log_is_up_to_date(const struct mon__log *l, uint64_t last_term, uint64_t last_index)
{
    uint64_t my_term = mon__log_last_term(l);

    return last_term > my_term || (last_term == my_term && last_index >= mon__log_last_index(l));
}

uint64_t mon__log_find_conflict_by_term(const struct mon__log *l, uint64_t index, uint64_t term)
{
    uint64_t last = mon__log_last_index(l);

    if (index > last)
        index = last;
    while (index > l->snap_index && l->ents[index - l->snap_index - 1].term > term)
        index--;
    return index;
}

uint64_t mon__log_bytes_after(const struct mon__log *l, uint64_t index)
{
    if (index < l->snap_index)
        index = l->snap_index;
    if (index >= mon__log_last_index(l))
        return 0;
    size_t i = (size_t)(index - l->snap_index);
    return l->data_len - (size_t)((const uint8_t *)l->ents[i].data - l->data);
}
