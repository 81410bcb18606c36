/* The handoff queue (handoff.h): a mutex-guarded list plus an eventfd that
 * is written only on the empty-to-non-empty edge, so a burst of pushes
 * costs the owner one wakeup. */
#include "common/handoff.h"

#include "common/assert.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int cairn_handoff_init(struct cairn_handoff *h)
{
    h->head = h->tail = NULL;
    h->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->fd < 0)
        return -errno;
    pthread_mutex_init(&h->lock, NULL);
    return 0;
}

void cairn_handoff_fini(struct cairn_handoff *h)
{
    if (h->fd < 0)
        return;
    close(h->fd);
    h->fd = -1;
    pthread_mutex_destroy(&h->lock);
}

void cairn_handoff_push(struct cairn_handoff *h, struct cairn_handoff_node *n)
{
    uint64_t one = 1;
    bool was_empty;

    n->next = NULL;
    pthread_mutex_lock(&h->lock);
    was_empty = h->head == NULL;
    if (h->tail)
        h->tail->next = n;
    else
        h->head = n;
    h->tail = n;
    pthread_mutex_unlock(&h->lock);
    if (was_empty && write(h->fd, &one, sizeof(one)) < 0)
        CAIRN_ASSERT(errno == EAGAIN); /* counter saturated: a wakeup is pending */
}

struct cairn_handoff_node *cairn_handoff_take(struct cairn_handoff *h)
{
    struct cairn_handoff_node *list;
    uint64_t n;

    /* Reset first: a push after the take below writes the eventfd again. */
    if (read(h->fd, &n, sizeof(n)) < 0)
        CAIRN_ASSERT(errno == EAGAIN);
    pthread_mutex_lock(&h->lock);
    list = h->head;
    h->head = h->tail = NULL;
    pthread_mutex_unlock(&h->lock);
    return list;
}
