/* Fuzz target for the S3 gateway's HTTP/1.1 server layer
 * (gateway/s3/http.c). The input is the byte stream a client sends: it is
 * written into one end of a socketpair whose other end the server adopts,
 * split in two at a point the first byte picks (to exercise partial reads),
 * then the client half-closes. The handler answers every request with a
 * small body; the first byte also picks whether it reads bodies, whether
 * it pauses them (resumed from the driver loop) and whether it answers
 * chunked, and whether the client closes instead of half-closing. The loop
 * runs until the server closes or an iteration bound.
 * Checked: no crash, leak or sanitizer report; every response begins with
 * a status line. Built by tests/fuzz/CMakeLists.txt. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "gateway/s3/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ITERATIONS_MAX 400

static struct fz {
    uint8_t flags;
    struct gw_http_req *live;
    bool paused;
    unsigned nbody;
} fz;

static void respond(struct gw_http_req *req)
{
    static const char *const names[] = {"Content-Type"};
    static const char *const values[] = {"text/plain"};

    if (fz.flags & 4) {
        gw_http_resp_start(req, 200, names, values, 1, -1);
        gw_http_resp_write(req, "ok", 2);
        gw_http_resp_write(req, "", 0);
    } else {
        gw_http_resp_start(req, 200, names, values, 1, 2);
        gw_http_resp_write(req, "ok", 2);
    }
    fz.live = NULL;
    fz.paused = false;
    gw_http_resp_end(req, false);
}

static void on_request(struct gw_http_req *req, const struct gw_http_head *head, void *arg)
{
    fz.live = req;
    fz.nbody = 0;
    gw_http_header(head, "Host");
    if ((fz.flags & 1) || !(head->chunked || head->content_length > 0))
        gw_http_req_read_body(req);
    else
        respond(req);
}

static int on_body(struct gw_http_req *req, const void *data, size_t len, void *arg)
{
    volatile const uint8_t *p = data;

    if (len == 0)
        abort();
    (void)p[0];
    (void)p[len - 1];
    if ((fz.flags & 2) && fz.nbody++ % 3 == 0) {
        fz.paused = true;
        return 1;
    }
    return 0;
}

static void on_body_end(struct gw_http_req *req, void *arg)
{
    respond(req);
}

static void on_abort(struct gw_http_req *req, void *arg)
{
    if (req != fz.live)
        abort();
    fz.live = NULL;
    fz.paused = false;
}

static const struct gw_http_handler handler = {
    .on_request = on_request,
    .on_body = on_body,
    .on_body_end = on_body_end,
    .on_abort = on_abort,
};

/* Writes what the socket takes of @data; returns the bytes written. */
static size_t push(int fd, const uint8_t *data, size_t len)
{
    ssize_t n = len ? send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;

    return n > 0 ? (size_t)n : 0;
}

/* Reads what the server sent; false once it closed. */
static bool pull(int fd, size_t *total)
{
    uint8_t buf[4096];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        if (*total == 0 && (n < 5 || memcmp(buf, "HTTP/", 5) != 0))
            abort(); /* not a status line */
        *total += (size_t)n;
    }
    return n < 0 && errno == EAGAIN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_http_config cfg = {.listen = "127.0.0.1:0"};
    struct gw_http_server *srv = NULL;
    struct event_base *base;
    size_t split, sent = 0, received = 0;
    bool open = true;
    int sv[2];

    if (size < 1)
        return 0;
    signal(SIGPIPE, SIG_IGN); /* as gateway/daemon.c: libevent writes with writev */
    memset(&fz, 0, sizeof(fz));
    fz.flags = data[0];
    split = 1 + (size - 1) * data[0] / 256;
    base = event_base_new();
    if (!base || gw_http_server_create(base, &cfg, &handler, &srv) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    if (gw_http_server_adopt(srv, sv[0]) < 0)
        abort();
    sent = 1;
    for (int i = 0, gone = 0; i < ITERATIONS_MAX && open; i++) {
        size_t end = i < 3 ? split : size;

        if (sv[1] >= 0) {
            sent += push(sv[1], data + sent, end - sent);
            if (sent == size && i >= 3 && (fz.flags & 8)) {
                close(sv[1]); /* a client that vanishes: resets, aborts */
                sv[1] = -1;
            } else if (sent == size && i >= 3) {
                shutdown(sv[1], SHUT_WR);
            }
        }
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (fz.paused && fz.live) {
            fz.paused = false;
            gw_http_req_resume_body(fz.live);
        }
        open = sv[1] >= 0 ? pull(sv[1], &received) : ++gone < 20;
    }
    gw_http_server_destroy(srv);
    if (sv[1] >= 0)
        close(sv[1]);
    event_base_free(base);
    return 0;
}
