/* A minimal JSON reader for cairn-bench: finds one number by its path in a
 * document (fio's --output-format=json report) without building a tree.
 * It validates what it walks through and skips the rest structurally, with
 * a nesting limit; it does not decode string escapes in member names. */
#include "tools/bench/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 64
#define JSON_NUMBER_MAX 63 /* characters in a number */

struct jcur {
    const char *p;   /* next character */
    const char *end; /* one past the document */
};

static void skip_ws(struct jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool at(struct jcur *c, char ch)
{
    skip_ws(c);
    return c->p < c->end && *c->p == ch;
}

/* At an opening quote: moves past the string; its raw text is [*s, *s + *n). */
static int read_string(struct jcur *c, const char **s, size_t *n)
{
    if (!at(c, '"'))
        return -EINVAL;
    const char *start = ++c->p;

    while (c->p < c->end && *c->p != '"') {
        if ((unsigned char)*c->p < 0x20)
            return -EINVAL;
        if (*c->p == '\\' && ++c->p == c->end)
            return -EINVAL;
        c->p++;
    }
    if (c->p == c->end)
        return -EINVAL;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return 0;
}

static bool is_number_char(char ch)
{
    return (ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == '.' || ch == 'e' ||
           ch == 'E';
}

/* Parses the number at the cursor and moves past it. */
static int read_number(struct jcur *c, double *out)
{
    char buf[JSON_NUMBER_MAX + 1];
    size_t n = 0;
    char *end;

    skip_ws(c);
    while (c->p + n < c->end && is_number_char(c->p[n]) && n < JSON_NUMBER_MAX)
        n++;
    if (n == 0 || n == JSON_NUMBER_MAX)
        return -EINVAL;
    memcpy(buf, c->p, n);
    buf[n] = '\0';
    errno = 0;
    *out = strtod(buf, &end);
    if (*end != '\0' || errno == ERANGE)
        return -EINVAL;
    c->p += n;
    return 0;
}

static int skip_value(struct jcur *c, int depth);

/* Skips an object or array body after its opening bracket. */
static int skip_container(struct jcur *c, char close, int depth)
{
    const char *s;
    size_t n;
    int rc;

    c->p++;
    if (at(c, close)) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (read_string(c, &s, &n) < 0 || !at(c, ':'))
                return -EINVAL;
            c->p++;
        }
        rc = skip_value(c, depth + 1);
        if (rc < 0)
            return rc;
        if (at(c, close)) {
            c->p++;
            return 0;
        }
        if (!at(c, ','))
            return -EINVAL;
        c->p++;
    }
}

static int skip_literal(struct jcur *c, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return -EINVAL;
    c->p += n;
    return 0;
}

static int skip_value(struct jcur *c, int depth)
{
    const char *s;
    size_t n;
    double d;

    if (depth > JSON_DEPTH_MAX)
        return -EINVAL;
    skip_ws(c);
    if (c->p == c->end)
        return -EINVAL;
    switch (*c->p) {
    case '{':
        return skip_container(c, '}', depth);
    case '[':
        return skip_container(c, ']', depth);
    case '"':
        return read_string(c, &s, &n);
    case 't':
        return skip_literal(c, "true");
    case 'f':
        return skip_literal(c, "false");
    case 'n':
        return skip_literal(c, "null");
    default:
        return read_number(c, &d);
    }
}

/* At '{': positions the cursor at the value of member @key. */
static int enter_member(struct jcur *c, const char *key, size_t key_len)
{
    const char *s;
    size_t n;
    int rc;

    c->p++;
    if (at(c, '}'))
        return -ENOENT;
    for (;;) {
        if (read_string(c, &s, &n) < 0 || !at(c, ':'))
            return -EINVAL;
        c->p++;
        if (n == key_len && memcmp(s, key, n) == 0)
            return 0;
        rc = skip_value(c, 1);
        if (rc < 0)
            return rc;
        if (at(c, '}'))
            return -ENOENT;
        if (!at(c, ','))
            return -EINVAL;
        c->p++;
    }
}

/* At '[': positions the cursor at element @index. */
static int enter_index(struct jcur *c, unsigned long index)
{
    int rc;

    c->p++;
    if (at(c, ']'))
        return -ENOENT;
    for (unsigned long i = 0; i < index; i++) {
        rc = skip_value(c, 1);
        if (rc < 0)
            return rc;
        if (at(c, ']'))
            return -ENOENT;
        if (!at(c, ','))
            return -EINVAL;
        c->p++;
    }
    return 0;
}

/* Moves the cursor into the current value by one path component. */
static int enter(struct jcur *c, const char *comp, size_t len)
{
    char idx[24], *end;
    unsigned long index;

    if (at(c, '{'))
        return enter_member(c, comp, len);
    if (!at(c, '['))
        return -ENOENT;
    if (len == 0 || len >= sizeof(idx) || comp[0] < '0' || comp[0] > '9')
        return -ENOENT;
    memcpy(idx, comp, len);
    idx[len] = '\0';
    index = strtoul(idx, &end, 10);
    if (*end != '\0')
        return -ENOENT;
    return enter_index(c, index);
}

int bench_json_number(const char *json, size_t len, const char *path, double *out)
{
    struct jcur c = {.p = json, .end = json + len};
    const char *comp = path;
    double v;
    int rc;

    while (*comp) {
        const char *slash = strchr(comp, '/');
        size_t n = slash ? (size_t)(slash - comp) : strlen(comp);

        rc = enter(&c, comp, n);
        if (rc < 0)
            return rc;
        comp += n + (slash != NULL);
    }
    skip_ws(&c);
    if (c.p == c.end || !is_number_char(*c.p))
        return -EINVAL;
    rc = read_number(&c, &v);
    if (rc < 0)
        return rc;
    *out = v;
    return 0;
}
