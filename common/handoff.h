/* A handoff queue: any thread pushes nodes, the one thread that owns the
 * queue takes them all at once, woken through an eventfd it watches in its
 * event loop. This is how a completion that fires on libcairn's thread
 * reaches a gateway's loop thread (STYLE.md §7: post a message, never share
 * a lock with the data). Nodes are embedded in the caller's structs
 * (container_of style); the queue never allocates. */
#ifndef CAIRN_COMMON_HANDOFF_H
#define CAIRN_COMMON_HANDOFF_H

#include <pthread.h>

struct cairn_handoff_node {
    struct cairn_handoff_node *next;
};

struct cairn_handoff {
    pthread_mutex_t lock;                  /* guards head and tail */
    struct cairn_handoff_node *head, *tail;
    int fd;                                /* eventfd: readable while nodes wait */
};

/* 0, or -errno when no eventfd can be made. */
int cairn_handoff_init(struct cairn_handoff *h);
/* Closes the eventfd; nodes still queued are forgotten (the caller owns them). */
void cairn_handoff_fini(struct cairn_handoff *h);

/* Any thread: queues @n (not on any queue) and wakes the owner when the
 * queue was empty. */
void cairn_handoff_push(struct cairn_handoff *h, struct cairn_handoff_node *n);

/* The owner thread: resets the eventfd and returns every queued node in
 * push order (NULL when none), as a list linked by ->next. */
struct cairn_handoff_node *cairn_handoff_take(struct cairn_handoff *h);

#endif
