/* libcairn internals, in sections by defining file. Only client/ includes
 * this header. */
#ifndef CAIRN_CLIENT_INTERNAL_H
#define CAIRN_CLIENT_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "client/cairn.h"
#include "protocol/auth.h"
#include "protocol/map.h"

struct event;
struct event_base;
struct proto_msgr;
struct proto_monc;
struct cairn_config;

/* ---- conn.c: the connection, its loop thread and the call queue ---- */

struct cairn__msg;
/* Runs on the loop thread. */
typedef void (*cairn__msg_fn)(struct cairn *c, struct cairn__msg *msg);

/* Work posted to the loop thread: always the first member of a struct
 * cairn__call (so a message that arrives after the stop can be cancelled),
 * which stays alive until the call is done. */
struct cairn__msg {
    cairn__msg_fn fn;
    TAILQ_ENTRY(cairn__msg) link; /* c->queue, under c->lock */
};

/* A synchronous call: its msg starts async work on the loop thread, whose
 * completion calls cairn__call_done(); the caller waits on c->cond. */
struct cairn__call {
    struct cairn__msg msg;
    bool done;  /* under c->lock */
    int result; /* valid once done */
};

struct cairn {
    /* Set by cairn_connect before the thread starts; read-only after. */
    char entity[PROTO_ENTITY_MAX];
    char conf_path[PATH_MAX];
    char keyring_path[PATH_MAX];
    struct proto_keyring *keyring;
    struct proto_map_mon mons[PROTO_MAP_MAX_MONS]; /* mon_host */
    uint32_t n_mons;
    uint32_t timeout_ms; /* bound on every call */

    /* Owned by the loop thread. */
    struct event_base *base;
    struct event *wake; /* readable efd: drain the queue */
    struct proto_msgr *msgr;
    struct proto_monc *monc;
    bool subscribed;
    bool stopped; /* stop_fn ran: later messages are cancelled */

    /* Shared: the queue and what sync callers wait for, under lock. */
    pthread_t thread;
    bool thread_started;
    int efd; /* eventfd: a post wakes the loop */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC; calls done, epoch advanced */
    TAILQ_HEAD(, cairn__msg) queue;
    uint64_t epoch;   /* newest map epoch the loop has */
    unsigned callers; /* threads inside a call or wait */
    bool closing;     /* cairn_shutdown() began: no new calls */
};

/* Posts @msg to the loop thread (any thread). */
void cairn__post(struct cairn *c, struct cairn__msg *msg);
/* Posts @call and waits until cairn__call_done() (not on the loop thread).
 * Returns call->result. */
int cairn__call_run(struct cairn *c, struct cairn__call *call, cairn__msg_fn fn);
/* Loop thread: completes @call with @result and wakes its waiter. */
void cairn__call_done(struct cairn *c, struct cairn__call *call, int result);
/* Formats a transport error of a monitor call as a one-line reason:
 * "cannot reach any monitor (tried a=..., b=...)" for -ETIMEDOUT, etc. */
void cairn__mon_error(const struct cairn *c, int err, char *buf, size_t len);

#endif
