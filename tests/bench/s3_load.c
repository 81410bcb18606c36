/* s3_load: the S3 load generator of tests/bench/bench_s3. One thread and
 * epoll keep --concurrency HTTP/1.1 keep-alive connections to cairn-s3 (or
 * any S3 endpoint), each with one PUT or GET of an "obj-%08d" object in
 * flight, signed with SigV4 and UNSIGNED-PAYLOAD (gateway/s3/sigv4.h) so the
 * client never hashes bodies. Prints ops/s, MB/s, latency p50/p99 and its own
 * CPU time (getrusage), so a run shows whether the generator is the limit.
 *
 *   s3_load --endpoint http://127.0.0.1:PORT --access-key K --secret-key S
 *           --bucket B [--create-bucket] [--size BYTES] [--count N]
 *           [--concurrency C] [--op put|get] [--seconds T] [--json]
 *
 * Without --seconds every object 0..N-1 is written or read once; with it,
 * the objects are cycled until the time is up. Any non-2xx response, short
 * body or connection failure is an error, and makes the exit status 1. */
#define _GNU_SOURCE
#include "gateway/s3/sigv4.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CONN_MAX 256
#define HEAD_MAX 2048       /* a request head we build */
#define RESP_HEAD_MAX 16384 /* a response head we accept */
#define SINK_BYTES (256u << 10)
#define ERR_BODY_MAX 512 /* bytes of an error body kept for the message */

enum conn_state { C_CONNECTING, C_SEND, C_RECV_HEAD, C_RECV_BODY };

/* One connection with at most one request in flight. */
struct conn {
    int fd;
    enum conn_state state;
    char head[HEAD_MAX];  /* the request head being sent */
    size_t head_len;      /* bytes in head */
    size_t sent;          /* bytes of head + body sent */
    uint64_t body_len;    /* request body bytes (PUT) */
    char in[RESP_HEAD_MAX];
    size_t in_len;        /* response bytes buffered in in[] */
    int status;           /* response status code */
    uint64_t body_left;   /* response body bytes still to read */
    uint64_t resp_len;    /* response Content-Length */
    bool close_after;     /* the response said Connection: close */
    uint64_t start_ns;    /* when the request started */
    uint32_t obj;         /* the object index */
    bool busy;            /* a request is in flight */
};

struct args {
    const char *endpoint, *access_key, *secret_key, *bucket, *op;
    uint64_t size;
    uint32_t count, concurrency;
    double seconds;
    bool json, create_bucket;
};

struct load {
    struct args a;
    char host[256];               /* Host header: "host:port" as in the endpoint */
    struct sockaddr_storage addr; /* where to connect */
    socklen_t addr_len;
    int ep;                       /* epoll fd */
    bool put;                     /* PUT (else GET) */
    uint8_t *body;                /* PUT payload, shared by every request */
    uint8_t *sink;                /* GET bodies land here and are discarded */
    uint32_t next;                /* next object index */
    uint64_t end_ns;              /* --seconds: stop issuing after this */
    bool stopping;                /* no more requests are issued */
    bool creating;                /* --create-bucket: a 409 is no error */
    uint64_t ops, bytes, errors;
    uint32_t *lat_us;             /* one latency per completed op */
    size_t n_lat, cap_lat;
    time_t date_s;                /* the second amz_date/date were made for */
    char amz_date[17], date[9];
    struct conn conns[CONN_MAX];
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- options ---- */

static int usage(void)
{
    fprintf(stderr, "usage: s3_load --endpoint http://HOST:PORT --access-key K --secret-key S "
                    "--bucket B [--create-bucket] [--size BYTES] [--count N] [--concurrency C] "
                    "[--op put|get] [--seconds T] [--json]\n");
    return 2;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    *a = (struct args){.size = 4096, .count = 1024, .concurrency = 16, .op = "put"};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--json") == 0) {
            a->json = true;
            continue;
        }
        if (strcmp(o, "--create-bucket") == 0) {
            a->create_bucket = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(o, "--endpoint") == 0)
            a->endpoint = v;
        else if (strcmp(o, "--access-key") == 0)
            a->access_key = v;
        else if (strcmp(o, "--secret-key") == 0)
            a->secret_key = v;
        else if (strcmp(o, "--bucket") == 0)
            a->bucket = v;
        else if (strcmp(o, "--op") == 0)
            a->op = v;
        else if (strcmp(o, "--size") == 0)
            a->size = strtoull(v, NULL, 0);
        else if (strcmp(o, "--count") == 0)
            a->count = (uint32_t)strtoul(v, NULL, 0);
        else if (strcmp(o, "--concurrency") == 0)
            a->concurrency = (uint32_t)strtoul(v, NULL, 0);
        else if (strcmp(o, "--seconds") == 0)
            a->seconds = strtod(v, NULL);
        else
            return usage();
    }
    if (!a->endpoint || !a->access_key || !a->secret_key || !a->bucket ||
        (strcmp(a->op, "put") && strcmp(a->op, "get")) || !a->size || !a->count ||
        !a->concurrency || a->concurrency > CONN_MAX || a->seconds < 0 ||
        strlen(a->secret_key) > GW_S3_SECRET_MAX || strlen(a->access_key) > GW_S3_ACCESS_KEY_MAX ||
        strlen(a->bucket) > 255)
        return usage();
    return 0;
}

/* Resolves "http://HOST[:PORT]" once, before the run. */
static int resolve(struct load *ld)
{
    const char *p = ld->a.endpoint, *colon;
    char name[256], port[16] = "80";
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;

    if (strncmp(p, "http://", 7) != 0) {
        fprintf(stderr, "s3_load: only http:// endpoints: %s\n", p);
        return -EINVAL;
    }
    p += 7;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= sizeof(ld->host))
        return -EINVAL;
    snprintf(ld->host, sizeof(ld->host), "%.*s", (int)n, p);
    colon = strrchr(ld->host, ':');
    snprintf(name, sizeof(name), "%.*s", (int)(colon ? colon - ld->host : (long)n), ld->host);
    if (colon)
        snprintf(port, sizeof(port), "%s", colon + 1);
    int rc = getaddrinfo(name, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "s3_load: %s: %s\n", ld->host, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(&ld->addr, ai->ai_addr, ai->ai_addrlen);
    ld->addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* ---- requests ---- */

/* SigV4 dates change once a second; remake them only then. */
static void dates_update(struct load *ld)
{
    time_t t = time(NULL);
    struct tm tm;

    if (t == ld->date_s)
        return;
    ld->date_s = t;
    gmtime_r(&t, &tm);
    strftime(ld->amz_date, sizeof(ld->amz_date), "%Y%m%dT%H%M%SZ", &tm);
    strftime(ld->date, sizeof(ld->date), "%Y%m%d", &tm);
}

/* Builds the signed head of METHOD PATH (with a body of @body_len bytes
 * when @has_body) into c->head. */
static int build_head(struct load *ld, struct conn *c, const char *method, const char *path,
                      bool has_body, uint64_t body_len)
{
    const struct gw_s3_header hdrs[3] = {
        {"host", ld->host},
        {"x-amz-content-sha256", GW_S3_UNSIGNED_PAYLOAD},
        {"x-amz-date", ld->amz_date},
    };
    struct gw_s3_request req = {.method = method, .path = path, .query = "", .headers = hdrs,
                                .header_count = 3, .payload_hash = GW_S3_UNSIGNED_PAYLOAD};
    struct gw_s3_auth auth = {.kind = GW_S3_AUTH_HEADER, .signed_count = 3};
    char sig[GW_S3_SIG_HEX_LEN + 1], len[48] = "";

    dates_update(ld);
    snprintf(auth.access_key, sizeof(auth.access_key), "%s", ld->a.access_key);
    memcpy(auth.date, ld->date, sizeof(auth.date));
    memcpy(auth.amz_date, ld->amz_date, sizeof(auth.amz_date));
    strcpy(auth.region, "us-east-1");
    strcpy(auth.service, "s3");
    strcpy(auth.signed_headers, "host;x-amz-content-sha256;x-amz-date");
    int rc = gw_s3_sigv4_sign(&req, &auth, ld->a.secret_key, sig);
    if (rc < 0)
        return rc;
    if (has_body)
        snprintf(len, sizeof(len), "Content-Length: %" PRIu64 "\r\n", body_len);
    int n = snprintf(c->head, sizeof(c->head),
                     "%s %s HTTP/1.1\r\nHost: %s\r\n%s"
                     "x-amz-content-sha256: " GW_S3_UNSIGNED_PAYLOAD "\r\nx-amz-date: %s\r\n"
                     "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request, "
                     "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s\r\n\r\n",
                     method, path, ld->host, len, ld->amz_date, ld->a.access_key, ld->date, sig);
    if (n < 0 || (size_t)n >= sizeof(c->head))
        return -ENOSPC;
    c->head_len = (size_t)n;
    c->body_len = has_body ? body_len : 0;
    return 0;
}

static int conn_open(struct load *ld, struct conn *c)
{
    int one = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};

    c->fd = socket(ld->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = C_CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&ld->addr, ld->addr_len) < 0 && errno != EINPROGRESS)
        return -errno;
    if (epoll_ctl(ld->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        return -errno;
    return 0;
}

static void conn_close(struct load *ld, struct conn *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(ld->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

/* Starts the next request on @c, or leaves it idle when the run is over. */
static int conn_issue(struct load *ld, struct conn *c)
{
    char path[320];

    if (!ld->stopping && ld->a.seconds > 0 && now_ns() >= ld->end_ns)
        ld->stopping = true;
    if (!ld->stopping && ld->a.seconds == 0 && ld->next >= ld->a.count)
        ld->stopping = true;
    if (ld->stopping) {
        c->busy = false;
        return 0;
    }
    c->obj = ld->next++ % ld->a.count;
    snprintf(path, sizeof(path), "/%s/obj-%08" PRIu32, ld->a.bucket, c->obj);
    int rc = build_head(ld, c, ld->put ? "PUT" : "GET", path, ld->put, ld->a.size);
    if (rc < 0)
        return rc;
    c->busy = true;
    c->sent = 0;
    c->in_len = 0;
    c->start_ns = now_ns();
    if (c->state != C_CONNECTING)
        c->state = C_SEND;
    return 0;
}

/* ---- responses ---- */

static void lat_add(struct load *ld, uint64_t us)
{
    if (ld->n_lat == ld->cap_lat) {
        size_t cap = ld->cap_lat ? ld->cap_lat * 2 : 65536;
        uint32_t *l = realloc(ld->lat_us, cap * sizeof(*l));
        if (!l)
            return;
        ld->lat_us = l;
        ld->cap_lat = cap;
    }
    ld->lat_us[ld->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Parses the response head in c->in[0..@end): status, Content-Length,
 * Connection. -EPROTO when malformed or not Content-Length framed. */
static int parse_head(struct conn *c, size_t end)
{
    char *line = c->in, *stop = c->in + end;
    bool have_len = false;

    if (end < 12 || strncmp(line, "HTTP/1.", 7) != 0)
        return -EPROTO;
    c->status = atoi(line + 9);
    c->close_after = line[7] == '0';
    while ((line = memmem(line, (size_t)(stop - line), "\r\n", 2)) && (line += 2) < stop) {
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            char *e;
            c->resp_len = strtoull(line + 15, &e, 10);
            have_len = e != line + 15;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            return -EPROTO; /* cairn-s3 frames every response by length */
        } else if (strncasecmp(line, "Connection:", 11) == 0) {
            const char *v = line + 11 + strspn(line + 11, " \t");
            c->close_after = strncasecmp(v, "close", 5) == 0;
        }
    }
    if (c->status < 100 || c->status > 599)
        return -EPROTO;
    if (!have_len)
        c->resp_len = 0;
    return 0;
}

static void report_error(struct load *ld, struct conn *c, const char *what, size_t body_len)
{
    if (ld->errors++ < 5)
        fprintf(stderr, "s3_load: %s obj-%08" PRIu32 ": %s%s%.*s\n", ld->put ? "PUT" : "GET",
                c->obj, what, body_len ? ": " : "", (int)body_len, c->in);
}

/* The response is complete: account for it and start the next request. */
static int op_done(struct load *ld, struct conn *c)
{
    uint64_t end = now_ns();

    if (c->status >= 200 && c->status < 300 && (ld->put || c->resp_len == ld->a.size)) {
        ld->ops++;
        ld->bytes += ld->a.size;
        lat_add(ld, (end - c->start_ns) / 1000u);
    } else if (c->status >= 200 && c->status < 300) {
        char what[64];
        snprintf(what, sizeof(what), "body of %" PRIu64 " bytes, not %" PRIu64, c->resp_len,
                 ld->a.size);
        report_error(ld, c, what, 0);
    }
    if (c->close_after) {
        conn_close(ld, c);
        int rc = conn_open(ld, c);
        if (rc < 0)
            return rc;
    }
    return conn_issue(ld, c);
}

/* ---- the connection state machine ----
 *
 *   CONNECTING --writable--> SEND (or idle when nothing is to be issued)
 *   SEND --head and body written--> RECV_HEAD --"\r\n\r\n"--> RECV_BODY
 *   RECV_BODY --Content-Length bytes read--> SEND (next request) or idle
 * Sockets are edge-triggered: each step runs until EAGAIN. */

static int step_send(struct load *ld, struct conn *c)
{
    while (c->sent < c->head_len + c->body_len) {
        struct iovec iov[2];
        int n = 0;
        if (c->sent < c->head_len)
            iov[n++] = (struct iovec){c->head + c->sent, c->head_len - c->sent};
        uint64_t boff = c->sent > c->head_len ? c->sent - c->head_len : 0;
        if (boff < c->body_len)
            iov[n++] = (struct iovec){ld->body + boff, c->body_len - boff};
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0 && errno == EAGAIN)
            return 0;
        if (w < 0)
            return -errno;
        c->sent += (size_t)w;
    }
    c->state = C_RECV_HEAD;
    return 1;
}

static int step_head(struct conn *c)
{
    char *end = NULL;

    while (!(end = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL)) {
        if (c->in_len == sizeof(c->in))
            return -EPROTO;
        ssize_t r = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
        if (r < 0 && errno == EAGAIN)
            return 0;
        if (r <= 0)
            return r == 0 ? -ECONNRESET : -errno;
        c->in_len += (size_t)r;
    }
    size_t hlen = (size_t)(end - c->in) + 4;
    int rc = parse_head(c, hlen - 2);
    if (rc < 0)
        return rc;
    size_t extra = c->in_len - hlen;
    if (extra > c->resp_len)
        return -EPROTO; /* one request in flight: nothing may follow the body */
    /* Keep an error body's start for the message; a GET body is counted only. */
    memmove(c->in, c->in + hlen, extra);
    c->in_len = extra;
    c->body_left = c->resp_len - extra;
    c->state = C_RECV_BODY;
    return 1;
}

static int step_body(struct load *ld, struct conn *c)
{
    bool ok = c->status >= 200 && c->status < 300;

    while (c->body_left > 0) {
        uint8_t *dst = ld->sink;
        size_t cap = SINK_BYTES;
        if (!ok && c->in_len < ERR_BODY_MAX)
            dst = (uint8_t *)c->in + c->in_len, cap = ERR_BODY_MAX - c->in_len;
        ssize_t r = read(c->fd, dst, c->body_left < cap ? c->body_left : cap);
        if (r < 0 && errno == EAGAIN)
            return 0;
        if (r <= 0)
            return r == 0 ? -ECONNRESET : -errno;
        c->body_left -= (uint64_t)r;
        if (dst != ld->sink)
            c->in_len += (size_t)r;
    }
    if (!ok && !(ld->creating && c->status == 409)) {
        char what[32];
        snprintf(what, sizeof(what), "HTTP %d", c->status);
        report_error(ld, c, what, c->in_len < ERR_BODY_MAX ? c->in_len : ERR_BODY_MAX);
    }
    int rc = op_done(ld, c);
    return rc < 0 ? rc : 1;
}

/* Runs @c as far as its socket allows. */
static int conn_step(struct load *ld, struct conn *c)
{
    int rc = 1;

    while (rc > 0 && c->busy) {
        switch (c->state) {
        case C_CONNECTING: {
            int err = 0;
            socklen_t l = sizeof(err);
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err)
                return -err;
            c->state = C_SEND;
            break;
        }
        case C_SEND:
            rc = step_send(ld, c);
            break;
        case C_RECV_HEAD:
            rc = step_head(c);
            break;
        case C_RECV_BODY:
            rc = step_body(ld, c);
            break;
        }
    }
    return rc < 0 ? rc : 0;
}

/* ---- the run ---- */

/* Runs until every connection is idle. A broken connection is an error
 * and stays closed. */
static int run(struct load *ld, uint32_t conns)
{
    struct epoll_event evs[CONN_MAX];
    uint32_t busy = 0;

    for (uint32_t i = 0; i < conns; i++) {
        struct conn *c = &ld->conns[i];
        int rc = c->fd < 0 ? conn_open(ld, c) : 0;
        if (rc == 0)
            rc = conn_issue(ld, c);
        if (rc < 0) {
            fprintf(stderr, "s3_load: connect %s: %s\n", ld->host, strerror(-rc));
            return rc;
        }
        if (c->busy && (rc = conn_step(ld, c)) < 0) {
            report_error(ld, c, strerror(-rc), 0);
            conn_close(ld, c);
            c->busy = false;
        }
    }
    for (;;) {
        busy = 0;
        for (uint32_t i = 0; i < conns; i++)
            busy += ld->conns[i].busy;
        if (!busy)
            return 0;
        int n = epoll_wait(ld->ep, evs, CONN_MAX, 1000);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            int rc = conn_step(ld, c);
            if (rc < 0) {
                report_error(ld, c, strerror(-rc), 0);
                conn_close(ld, c);
                c->busy = false;
            }
        }
    }
}

static int create_bucket(struct load *ld)
{
    struct conn *c = &ld->conns[0];
    char path[300];
    bool put = ld->put;

    snprintf(path, sizeof(path), "/%s", ld->a.bucket);
    int rc = conn_open(ld, c);
    if (rc == 0)
        rc = build_head(ld, c, "PUT", path, true, 0);
    if (rc < 0)
        return rc;
    c->busy = true;
    c->sent = c->in_len = 0;
    ld->put = ld->creating = ld->stopping = true; /* op_done issues nothing after it */
    rc = conn_step(ld, c);
    while (rc == 0 && c->busy) {
        struct epoll_event ev;
        if (epoll_wait(ld->ep, &ev, 1, 10000) <= 0)
            return -ETIMEDOUT;
        rc = conn_step(ld, c);
    }
    ld->put = put;
    ld->creating = ld->stopping = false;
    /* 409 BucketAlreadyOwnedByYou: the bucket is there, which is all we want. */
    ld->ops = ld->bytes = ld->n_lat = 0;
    return rc < 0 ? rc : ld->errors ? -EIO : 0;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static double pct_ms(const struct load *ld, double p)
{
    if (!ld->n_lat)
        return 0;
    return ld->lat_us[(size_t)(p * (double)(ld->n_lat - 1) + 0.5)] / 1000.0;
}

static void print_report(struct load *ld, double secs)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    double ops_s = secs > 0 ? (double)ld->ops / secs : 0;
    double mb_s = secs > 0 ? (double)ld->bytes / 1e6 / secs : 0;
    qsort(ld->lat_us, ld->n_lat, sizeof(*ld->lat_us), u32_cmp);
    double p50 = pct_ms(ld, 0.50), p99 = pct_ms(ld, 0.99);
    double cpu_pct = secs > 0 ? 100.0 * cpu / secs : 0;
    if (ld->a.json) {
        printf("{\"op\":\"%s\",\"size\":%" PRIu64 ",\"concurrency\":%" PRIu32 ",\"seconds\":%.3f,"
               "\"ops\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"ops_per_s\":%.1f,\"mb_per_s\":%.2f,"
               "\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,\"cpu_s\":%.3f,\"cpu_pct\":%.1f,"
               "\"cpu_us_per_op\":%.1f}\n",
               ld->a.op, ld->a.size, ld->a.concurrency, secs, ld->ops, ld->errors, ops_s, mb_s,
               p50, p99, cpu, cpu_pct, ld->ops ? cpu * 1e6 / (double)ld->ops : 0.0);
        return;
    }
    printf("s3_load: %s %" PRIu64 " B x%" PRIu32 " %.2f s: %" PRIu64 " ops, %" PRIu64
           " errors, %.1f ops/s, %.2f MB/s, p50 %.3f ms, p99 %.3f ms, cpu %.2f s (%.1f%%)\n",
           ld->a.op, ld->a.size, ld->a.concurrency, secs, ld->ops, ld->errors, ops_s, mb_s, p50,
           p99, cpu, cpu_pct);
}

static int load_init(struct load *ld)
{
    for (uint32_t i = 0; i < CONN_MAX; i++)
        ld->conns[i] = (struct conn){.fd = -1};
    ld->put = strcmp(ld->a.op, "put") == 0;
    ld->ep = epoll_create1(EPOLL_CLOEXEC);
    ld->body = malloc(ld->put ? ld->a.size : 1);
    ld->sink = malloc(SINK_BYTES);
    if (ld->ep < 0 || !ld->body || !ld->sink)
        return -ENOMEM;
    for (uint64_t i = 0; ld->put && i < ld->a.size; i++)
        ld->body[i] = (uint8_t)(i * 131 + 7);
    return resolve(ld);
}

int main(int argc, char **argv)
{
    static struct load ld;
    int rc = parse_args(argc, argv, &ld.a);

    if (rc)
        return rc;
    if ((rc = load_init(&ld)) < 0) {
        fprintf(stderr, "s3_load: setup: %s\n", strerror(-rc));
        return 1;
    }
    if (ld.a.create_bucket && (rc = create_bucket(&ld)) < 0) {
        fprintf(stderr, "s3_load: create bucket %s: %s\n", ld.a.bucket, strerror(-rc));
        return 1;
    }
    uint64_t t0 = now_ns();
    ld.end_ns = t0 + (uint64_t)(ld.a.seconds * 1e9);
    rc = run(&ld, ld.a.concurrency);
    double secs = (double)(now_ns() - t0) / 1e9;
    if (rc < 0)
        fprintf(stderr, "s3_load: %s\n", strerror(-rc));
    print_report(&ld, secs);
    return rc < 0 || ld.errors ? 1 : 0;
}
