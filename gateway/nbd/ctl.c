/* cairn-nbd's control thread: runs libcairn's synchronous calls (opening,
 * listing, mapping and closing images), which the loop thread must never
 * make, since they wait for that very thread (client/cairn.h,
 * cairn_loop_call()). conn.c and xmit.c post a job from the loop thread
 * and park what waits for it; the control thread runs the job, then hands
 * it back with cairn_loop_call(), so job->done runs on the loop thread
 * with no queue or eventfd of our own in that direction.
 *
 * Jobs run one at a time, in post order. They are rare (one per option
 * that names an export, per BLOCK_STATUS and per connection's close), so
 * one thread is enough, and the jobs of one connection finish in order. */
#include "gateway/nbd/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>

static int job_done_on_loop(struct event_base *base, void *arg)
{
    struct gw_nbd_job *job = arg;

    (void)base;
    job->done(job);
    return 0;
}

/* The next job, waiting for one; NULL once told to quit with none left. */
static struct gw_nbd_job *next_job(struct gw_nbd_server *srv)
{
    struct gw_nbd_job *job;

    pthread_mutex_lock(&srv->ctl_lock);
    while (!srv->ctl_head && !srv->ctl_quit)
        pthread_cond_wait(&srv->ctl_cond, &srv->ctl_lock);
    job = srv->ctl_head;
    if (job) {
        srv->ctl_head = job->next;
        if (!srv->ctl_head)
            srv->ctl_tail = NULL;
        job->next = NULL;
    }
    pthread_mutex_unlock(&srv->ctl_lock);
    return job;
}

static void *ctl_main(void *arg)
{
    struct gw_nbd_server *srv = arg;
    struct gw_nbd_job *job;
    int r;

    while ((job = next_job(srv))) {
        job->run(job);
        /* libcairn lives until after gw_nbd__ctl_stop(): the call runs. */
        r = cairn_loop_call(srv->cairn, job_done_on_loop, job);
        CAIRN_ASSERT(r == 0);
    }
    return NULL;
}

int gw_nbd__ctl_start(struct gw_nbd_server *srv)
{
    int r = pthread_create(&srv->ctl_thread, NULL, ctl_main, srv);

    if (r != 0)
        return -r;
    srv->ctl_started = true;
    return 0;
}

void gw_nbd__ctl_stop(struct gw_nbd_server *srv)
{
    if (!srv->ctl_started)
        return;
    pthread_mutex_lock(&srv->ctl_lock);
    srv->ctl_quit = true;
    pthread_cond_signal(&srv->ctl_cond);
    pthread_mutex_unlock(&srv->ctl_lock);
    pthread_join(srv->ctl_thread, NULL);
    srv->ctl_started = false;
    CAIRN_ASSERT(srv->ctl_head == NULL);
}

void gw_nbd__ctl_post(struct gw_nbd_server *srv, struct gw_nbd_job *job)
{
    CAIRN_ASSERT(job->run && job->done && job->next == NULL);
    /* After gw_nbd__ctl_stop() began, only a job's done posts (a close):
     * the thread runs it before it looks for the quit flag again. */
    pthread_mutex_lock(&srv->ctl_lock);
    if (srv->ctl_tail)
        srv->ctl_tail->next = job;
    else
        srv->ctl_head = job;
    srv->ctl_tail = job;
    pthread_cond_signal(&srv->ctl_cond);
    pthread_mutex_unlock(&srv->ctl_lock);
}
