/* The hand-off from the store's commit thread to the loop thread: a list
 * under a mutex and an eventfd whose read event drains it (STYLE §7,
 * internal.h). The eventfd is written only when the list was empty, so a
 * burst of completions costs one wakeup. Items are embedded in their owners. */
#include "osd/internal.h"

#include <errno.h>
#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void drain(struct osd_loopq *q)
{
    struct osd_loopq_item *item;

    pthread_mutex_lock(&q->lock);
    item = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    while (item) {
        struct osd_loopq_item *next = item->next;
        item->next = NULL;
        item->fn(item); /* may reuse @item: next was read first */
        item = next;
    }
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;

    (void)what;
    (void)!read(fd, &n, sizeof(n));
    drain(arg);
}

int osd__loopq_init(struct osd_loopq *q, struct event_base *base)
{
    q->head = q->tail = NULL;
    q->ev = NULL;
    pthread_mutex_init(&q->lock, NULL);
    if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -errno;
    q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, wake_cb, q);
    if (!q->ev || event_add(q->ev, NULL) < 0) {
        osd__loopq_fini(q);
        return -ENOMEM;
    }
    return 0;
}

void osd__loopq_fini(struct osd_loopq *q)
{
    drain(q);
    if (q->ev)
        event_free(q->ev);
    if (q->efd >= 0)
        close(q->efd);
    q->ev = NULL;
    q->efd = -1;
    pthread_mutex_destroy(&q->lock);
}

void osd__loopq_post(struct osd_loopq *q, struct osd_loopq_item *item)
{
    uint64_t one = 1;
    bool wake;

    item->next = NULL;
    pthread_mutex_lock(&q->lock);
    wake = q->head == NULL;
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    pthread_mutex_unlock(&q->lock);
    /* A failed write means the counter is already non-zero: a wakeup is due. */
    if (wake)
        (void)!write(q->efd, &one, sizeof(one));
}
