/* Configuration file parsing and lookup; see config.h for the format. */
#include "common/config.h"
#include "common/assert.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (1u << 20)

struct config_entry {
    char *section;
    char *key;
    char *value;
};

struct cairn_config {
    struct config_entry *entries;
    size_t count;
    size_t cap;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static void normalize_key(char *k)
{
    for (; *k; k++)
        if (*k == '-' || *k == ' ')
            *k = '_';
}

static int add_entry(struct cairn_config *c, const char *section, const char *key,
                     const char *value)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct config_entry *e = realloc(c->entries, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        c->entries = e;
        c->cap = cap;
    }
    struct config_entry *e = &c->entries[c->count];
    e->section = strdup(section);
    e->key = strdup(key);
    e->value = strdup(value);
    if (!e->section || !e->key || !e->value) {
        free(e->section);
        free(e->key);
        free(e->value);
        return -ENOMEM;
    }
    normalize_key(e->key);
    c->count++;
    return 0;
}

static int parse_line(struct cairn_config *c, char *line, char *section, size_t section_len,
                      const char **why)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#' || *s == ';')
        return 0;
    if (*s == '[') {
        char *end = strchr(s, ']');
        if (!end || end[1] != '\0') {
            *why = "section header must be [name]";
            return -EINVAL;
        }
        *end = '\0';
        char *name = trim(s + 1);
        if (*name == '\0' || strlen(name) >= section_len) {
            *why = "bad section name";
            return -EINVAL;
        }
        snprintf(section, section_len, "%s", name);
        return 0;
    }
    char *eq = strchr(s, '=');
    if (!eq) {
        *why = "expected key = value";
        return -EINVAL;
    }
    *eq = '\0';
    char *key = trim(s);
    char *value = trim(eq + 1);
    if (*key == '\0') {
        *why = "empty key";
        return -EINVAL;
    }
    int r = add_entry(c, section, key, value);
    if (r < 0)
        *why = "out of memory";
    return r;
}

int cairn_config_parse(const char *text, size_t len, struct cairn_config **out, char *err,
                       size_t err_len)
{
    struct cairn_config *c = calloc(1, sizeof(*c));
    char section[128] = "global";
    char *buf = malloc(len + 1);
    if (!c || !buf) {
        free(c);
        free(buf);
        return -ENOMEM;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    int lineno = 0, r = 0;
    char *save = NULL;
    for (char *p = buf; p; p = save) {
        save = strchr(p, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        const char *why = NULL;
        r = parse_line(c, p, section, sizeof(section), &why);
        if (r < 0) {
            if (err)
                snprintf(err, err_len, "line %d: %s", lineno, why);
            cairn_config_destroy(c);
            free(buf);
            return r;
        }
    }
    free(buf);
    *out = c;
    return 0;
}

int cairn_config_load(const char *path, struct cairn_config **out, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (err)
            snprintf(err, err_len, "%s: %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(CONFIG_MAX_BYTES);
    size_t len = 0;
    ssize_t n = 0;
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (len < CONFIG_MAX_BYTES && (n = read(fd, buf + len, CONFIG_MAX_BYTES - len)) > 0)
        len += (size_t)n;
    int e = n < 0 ? errno : 0;
    close(fd);
    if (e || len == CONFIG_MAX_BYTES) {
        if (err)
            snprintf(err, err_len, "%s: %s", path, e ? strerror(e) : "file too large");
        free(buf);
        return e ? -e : -EFBIG;
    }
    char perr[128];
    int r = cairn_config_parse(buf, len, out, perr, sizeof(perr));
    free(buf);
    if (r < 0 && err)
        snprintf(err, err_len, "%s: %s", path, perr);
    return r;
}

void cairn_config_destroy(struct cairn_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++) {
        free(c->entries[i].section);
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    free(c->entries);
    free(c);
}

int cairn_config_find(const char *cli_path, char *out, size_t out_len)
{
    const char *env = getenv("CAIRN_CONF");
    const char *explicit_path = cli_path ? cli_path : (env && *env ? env : NULL);
    struct stat st;
    if (explicit_path) {
        if (stat(explicit_path, &st) < 0)
            return -ENOENT;
        snprintf(out, out_len, "%s", explicit_path);
        return 0;
    }
    static const char *const defaults[] = {"./cairn.conf", "/etc/cairn/cairn.conf"};
    for (size_t i = 0; i < CAIRN_ARRAY_SIZE(defaults); i++) {
        if (stat(defaults[i], &st) == 0) {
            snprintf(out, out_len, "%s", defaults[i]);
            return 0;
        }
    }
    return -ENOENT;
}

static const char *lookup(const struct cairn_config *c, const char *section, const char *key)
{
    const char *found = NULL;
    /* The last occurrence wins, as later lines override earlier ones. */
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].section, section) == 0 && strcmp(c->entries[i].key, key) == 0)
            found = c->entries[i].value;
    return found;
}

const char *cairn_config_get(const struct cairn_config *c, const char *entity, const char *key)
{
    char k[128];
    if (!c || strlen(key) >= sizeof(k))
        return NULL;
    snprintf(k, sizeof(k), "%s", key);
    normalize_key(k);
    const char *v;
    if (entity) {
        if ((v = lookup(c, entity, k)))
            return v;
        char type[64];
        size_t tlen = strcspn(entity, ".");
        if (entity[tlen] == '.' && tlen < sizeof(type)) {
            memcpy(type, entity, tlen);
            type[tlen] = '\0';
            if ((v = lookup(c, type, k)))
                return v;
        }
    }
    return lookup(c, "global", k);
}

static int parse_u64(const char *s, uint64_t *out, const char **rest)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    *out = v;
    *rest = end;
    return 0;
}

static int scale(uint64_t v, uint64_t mult, uint64_t *out)
{
    if (mult && v > UINT64_MAX / mult)
        return -EINVAL;
    *out = v * mult;
    return 0;
}

int cairn_parse_size(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *rest;
    if (parse_u64(s, &v, &rest) < 0)
        return -EINVAL;
    uint64_t mult = 1;
    switch (toupper((unsigned char)*rest)) {
    case '\0': break;
    case 'K': mult = 1ull << 10; rest++; break;
    case 'M': mult = 1ull << 20; rest++; break;
    case 'G': mult = 1ull << 30; rest++; break;
    case 'T': mult = 1ull << 40; rest++; break;
    default: return -EINVAL;
    }
    if (*rest == 'i')
        rest++;
    if (toupper((unsigned char)*rest) == 'B')
        rest++;
    if (*rest != '\0')
        return -EINVAL;
    return scale(v, mult, out);
}

static int parse_ms(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *rest;
    if (parse_u64(s, &v, &rest) < 0)
        return -EINVAL;
    uint64_t mult;
    if (strcmp(rest, "") == 0 || strcmp(rest, "ms") == 0)
        mult = 1;
    else if (strcmp(rest, "s") == 0)
        mult = 1000;
    else if (strcmp(rest, "m") == 0)
        mult = 60000;
    else if (strcmp(rest, "h") == 0)
        mult = 3600000;
    else
        return -EINVAL;
    return scale(v, mult, out);
}

typedef int (*value_parser)(const char *s, uint64_t *out);

static int parse_plain_u64(const char *s, uint64_t *out)
{
    const char *rest;
    if (parse_u64(s, out, &rest) < 0 || *rest != '\0')
        return -EINVAL;
    return 0;
}

static int get_with(const struct cairn_config *c, const char *entity, const char *key,
                    uint64_t def, uint64_t *out, value_parser parse)
{
    const char *v = cairn_config_get(c, entity, key);
    if (!v) {
        *out = def;
        return -ENOENT;
    }
    return parse(v, out);
}

int cairn_config_get_u64(const struct cairn_config *c, const char *entity, const char *key,
                         uint64_t def, uint64_t *out)
{
    return get_with(c, entity, key, def, out, parse_plain_u64);
}

int cairn_config_get_size(const struct cairn_config *c, const char *entity, const char *key,
                          uint64_t def, uint64_t *out)
{
    return get_with(c, entity, key, def, out, cairn_parse_size);
}

int cairn_config_get_ms(const struct cairn_config *c, const char *entity, const char *key,
                        uint64_t def, uint64_t *out)
{
    return get_with(c, entity, key, def, out, parse_ms);
}

int cairn_config_get_bool(const struct cairn_config *c, const char *entity, const char *key,
                          bool def, bool *out)
{
    const char *v = cairn_config_get(c, entity, key);
    if (!v) {
        *out = def;
        return -ENOENT;
    }
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
        !strcmp(v, "1"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
             !strcmp(v, "0"))
        *out = false;
    else
        return -EINVAL;
    return 0;
}

void cairn_config_each(const struct cairn_config *c, const char *section,
                       void (*fn)(const char *key, const char *value, void *arg), void *arg)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].section, section) == 0)
            fn(c->entries[i].key, c->entries[i].value, arg);
}

void cairn_config_each_section(const struct cairn_config *c,
                               void (*fn)(const char *section, void *arg), void *arg)
{
    for (size_t i = 0; i < c->count; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->entries[j].section, c->entries[i].section) == 0;
        if (!seen)
            fn(c->entries[i].section, arg);
    }
}

/* ---- what every daemon's main does with its config ---- */

int cairn_config_open(const char *cli_path, struct cairn_config **out, char *err, size_t err_len)
{
    char path[PATH_MAX], why[160];
    int r = cairn_config_find(cli_path, path, sizeof(path));

    if (r < 0) {
        if (cli_path)
            snprintf(err, err_len, "config %s: %s", cli_path, strerror(-r));
        else
            snprintf(err, err_len, "no config file found ($CAIRN_CONF, ./cairn.conf, "
                                   "/etc/cairn/cairn.conf); use -c FILE");
        return r;
    }
    if ((r = cairn_config_load(path, out, why, sizeof(why))) < 0)
        snprintf(err, err_len, "config %s: %s", path, r == -EINVAL ? why : strerror(-r));
    return r;
}

int cairn_config_apply_logging(const struct cairn_config *conf, const char *entity, char *err,
                               size_t err_len)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    const char *level = cairn_config_get(conf, entity, "log_level");
    const char *debug = cairn_config_get(conf, entity, "debug");
    const char *file = cairn_config_get(conf, entity, "log_file");
    unsigned i;

    cairn_log_set_entity(entity);
    for (i = 0; level && i < 4 && strcmp(level, levels[i]) != 0; i++)
        ;
    if (level && i == 4) {
        snprintf(err, err_len, "config: log_level '%s' is not error, warn, info or debug", level);
        return -EINVAL;
    }
    if (level)
        cairn_log_set_level((enum cairn_log_level)i);
    if (debug && cairn_log_set_debug(debug) < 0) {
        snprintf(err, err_len, "config: debug '%s' names an unknown subsystem", debug);
        return -EINVAL;
    }
    if (file) {
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, err_len, "log_file %s: %s", file, strerror(errno));
            return -errno;
        }
        cairn_log_set_fd(fd);
    }
    return 0;
}

int cairn_parse_uuid(const char *text, uint8_t out[16])
{
    uint8_t u[16];
    unsigned n = 0;

    for (const char *p = text; *p; p++) {
        if (*p == '-')
            continue;
        if (!isxdigit((unsigned char)*p) || n >= 32)
            return -EINVAL;
        int v = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
        u[n / 2] = (uint8_t)(n % 2 ? u[n / 2] | v : v << 4);
        n++;
    }
    if (n != 32)
        return -EINVAL;
    memcpy(out, u, 16);
    return 0;
}
