/* PRNG, event queue and message copies for the simulator; see sim_net.h. */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "tests/sim/sim_net.h"

uint64_t sim_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t sim_rand_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
    CAIRN_ASSERT(lo <= hi);
    if (hi - lo == UINT64_MAX)
        return sim_rand(state);
    return lo + sim_rand(state) % (hi - lo + 1);
}

bool sim_chance(uint64_t *state, uint32_t per_million)
{
    return sim_rand(state) % 1000000 < per_million;
}

struct sim_msg *sim_msg_copy(const struct mon_raft_msg *m)
{
    size_t bytes = 0, snap_len = 0;

    for (uint32_t i = 0; i < m->n_entries; i++)
        bytes += m->entries[i].len;
    if (m->snapshot)
        snap_len = (size_t)m->snapshot->len;
    size_t ents_off = sizeof(struct sim_msg);
    size_t data_off = ents_off + m->n_entries * sizeof(struct mon_raft_entry);
    struct sim_msg *sm = malloc(data_off + bytes + snap_len);
    CAIRN_ASSERT(sm != NULL);
    uint8_t *base = (uint8_t *)sm;
    struct mon_raft_entry *ents = (struct mon_raft_entry *)(base + ents_off);
    uint8_t *data = base + data_off;

    sm->m = *m;
    sm->m.entries = m->n_entries ? ents : NULL;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        ents[i] = m->entries[i];
        ents[i].data = data;
        if (ents[i].len)
            memcpy(data, m->entries[i].data, ents[i].len);
        data += ents[i].len;
    }
    if (m->snapshot) {
        sm->snap = *m->snapshot;
        sm->snap.data = data;
        if (snap_len)
            memcpy(data, m->snapshot->data, snap_len);
        sm->m.snapshot = &sm->snap;
    }
    return sm;
}

void sim_msg_free(struct sim_msg *sm)
{
    free(sm);
}

void sim_queue_init(struct sim_queue *q)
{
    memset(q, 0, sizeof(*q));
}

void sim_queue_fini(struct sim_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        sim_msg_free(q->ev[i].msg);
    free(q->ev);
    memset(q, 0, sizeof(*q));
}

static bool before(const struct sim_event *a, const struct sim_event *b)
{
    return a->time_us < b->time_us || (a->time_us == b->time_us && a->seq < b->seq);
}

void sim_queue_push(struct sim_queue *q, struct sim_event ev)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 256;
        q->ev = realloc(q->ev, q->cap * sizeof(*q->ev));
        CAIRN_ASSERT(q->ev != NULL);
    }
    ev.seq = q->next_seq++;
    size_t i = q->n++;
    while (i > 0 && before(&ev, &q->ev[(i - 1) / 2])) {
        q->ev[i] = q->ev[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->ev[i] = ev;
}

bool sim_queue_pop(struct sim_queue *q, struct sim_event *out)
{
    if (q->n == 0)
        return false;
    *out = q->ev[0];
    struct sim_event last = q->ev[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && before(&q->ev[c + 1], &q->ev[c]))
            c++;
        if (!before(&q->ev[c], &last))
            break;
        q->ev[i] = q->ev[c];
        i = c;
    }
    if (q->n > 0)
        q->ev[i] = last;
    return true;
}
