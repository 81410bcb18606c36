/* Output of the cairn CLI: the JSON writer behind --json and the aligned
 * text tables of the human output. Both write to a FILE the caller gives. */
#include "common/assert.h"
#include "tools/cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ---- */

void cli_json_write_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\b':
            fputs("\\b", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

void cli_json_init(struct cli_json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

/* Writes the separator before a value and its key, if any. */
static void json_value_start(struct cli_json *j, const char *key)
{
    if (j->depth > 0) {
        if (j->need_comma[j->depth - 1])
            fputs(", ", j->out);
        j->need_comma[j->depth - 1] = true;
    }
    if (key) {
        CAIRN_ASSERT(j->depth > 0);
        cli_json_write_string(j->out, key);
        fputs(": ", j->out);
    }
}

static void json_open(struct cli_json *j, const char *key, char c)
{
    json_value_start(j, key);
    CAIRN_ASSERT(j->depth < CLI_JSON_DEPTH);
    fputc(c, j->out);
    j->need_comma[j->depth++] = false;
}

static void json_close(struct cli_json *j, char c)
{
    CAIRN_ASSERT(j->depth > 0);
    j->depth--;
    fputc(c, j->out);
}

void cli_json_obj_begin(struct cli_json *j, const char *key)
{
    json_open(j, key, '{');
}

void cli_json_obj_end(struct cli_json *j)
{
    json_close(j, '}');
}

void cli_json_arr_begin(struct cli_json *j, const char *key)
{
    json_open(j, key, '[');
}

void cli_json_arr_end(struct cli_json *j)
{
    json_close(j, ']');
}

void cli_json_str(struct cli_json *j, const char *key, const char *value)
{
    json_value_start(j, key);
    if (value)
        cli_json_write_string(j->out, value);
    else
        fputs("null", j->out);
}

void cli_json_int(struct cli_json *j, const char *key, long long value)
{
    json_value_start(j, key);
    fprintf(j->out, "%lld", value);
}

void cli_json_uint(struct cli_json *j, const char *key, unsigned long long value)
{
    json_value_start(j, key);
    fprintf(j->out, "%llu", value);
}

void cli_json_double(struct cli_json *j, const char *key, double value)
{
    json_value_start(j, key);
    fprintf(j->out, "%.6g", value);
}

void cli_json_bool(struct cli_json *j, const char *key, bool value)
{
    json_value_start(j, key);
    fputs(value ? "true" : "false", j->out);
}

void cli_json_finish(struct cli_json *j)
{
    CAIRN_ASSERT(j->depth == 0);
    fputc('\n', j->out);
}

/* ---- tables ---- */

void cli_table_init(struct cli_table *t, unsigned ncols, ...)
{
    va_list ap;

    CAIRN_ASSERT(ncols > 0 && ncols <= CLI_TABLE_COLS);
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    va_start(ap, ncols);
    const char *hdr[CLI_TABLE_COLS] = {0};
    for (unsigned i = 0; i < ncols; i++)
        hdr[i] = va_arg(ap, const char *);
    va_end(ap);
    /* The header is the first row; out of memory here shows up at the
     * first cli_table_row(), which reads ncols of these (unused ones NULL). */
    CAIRN_STATIC_ASSERT(CLI_TABLE_COLS == 10, "pass every header cell below");
    (void)cli_table_row(t, hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5], hdr[6], hdr[7],
                        hdr[8], hdr[9]);
}

int cli_table_row(struct cli_table *t, ...)
{
    va_list ap;

    if (t->nrows == t->cap) {
        unsigned cap = t->cap ? t->cap * 2 : 16;
        char **cells = realloc(t->cells, (size_t)cap * t->ncols * sizeof(*cells));
        if (!cells)
            return -ENOMEM;
        t->cells = cells;
        t->cap = cap;
    }
    char **row = t->cells + (size_t)t->nrows * t->ncols;
    va_start(ap, t);
    for (unsigned i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        row[i] = strdup(s ? s : "");
    }
    va_end(ap);
    t->nrows++;
    return 0;
}

void cli_table_print(const struct cli_table *t, FILE *out)
{
    size_t width[CLI_TABLE_COLS] = {0};

    for (unsigned r = 0; r < t->nrows; r++)
        for (unsigned c = 0; c < t->ncols; c++) {
            const char *s = t->cells[(size_t)r * t->ncols + c];
            size_t n = s ? strlen(s) : 0;
            width[c] = n > width[c] ? n : width[c];
        }
    for (unsigned r = 0; r < t->nrows; r++) {
        for (unsigned c = 0; c < t->ncols; c++) {
            const char *s = t->cells[(size_t)r * t->ncols + c];
            if (c + 1 == t->ncols)
                fprintf(out, "%s", s ? s : "");
            else
                fprintf(out, "%-*s  ", (int)width[c], s ? s : "");
        }
        fputc('\n', out);
    }
}

void cli_table_fini(struct cli_table *t)
{
    for (size_t i = 0; i < (size_t)t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* ---- formats ---- */

void cli_weight_format(uint32_t weight, char *buf, size_t len)
{
    snprintf(buf, len, "%.3f", (double)weight / 65536.0);
}

void cli_bytes_format(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    unsigned u = 0;

    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    /* Whole bytes exactly; one decimal only where it is a tenth of much. */
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, len, v < 10.0 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void cli_uuid_format(const uint8_t u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}
