/* XML for the S3 gateway (see xml.h): an escaping writer over evbuffers, a
 * bounded non-validating reader that builds a small DOM in one arena per
 * document, and the decoders of the three S3 request bodies built on it.
 * The HTTP request handlers call it; mapping -EBADMSG to "MalformedXML" is
 * theirs. The reader is iterative (an explicit stack of GW_S3_XML_DEPTH_MAX
 * frames), so hostile nesting cannot exhaust the C stack. */
#define _GNU_SOURCE /* memrchr */
#include "gateway/s3/xml.h"

#include "common/assert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

/* ---- writer ------------------------------------------------------------ */

void gw_s3_xml_declaration(struct evbuffer *out)
{
    evbuffer_add_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

void gw_s3_xml_open(struct evbuffer *out, const char *name, const char *xmlns)
{
    if (xmlns)
        evbuffer_add_printf(out, "<%s xmlns=\"%s\">", name, xmlns);
    else
        evbuffer_add_printf(out, "<%s>", name);
}

void gw_s3_xml_close(struct evbuffer *out, const char *name)
{
    evbuffer_add_printf(out, "</%s>", name);
}

/* The reference for byte @c in element content, or NULL to copy it. */
static const char *escape_of(unsigned char c, char num[8])
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    }
    /* Tab and LF survive a parser as they are; CR would be turned into LF by
     * line-end normalization (XML 1.0 §2.11), and the other C0 controls
     * cannot appear literally at all. */
    if (c < 0x20 && c != '\t' && c != '\n') {
        snprintf(num, 8, "&#x%X;", c);
        return num;
    }
    return NULL;
}

void gw_s3_xml_escape(struct evbuffer *out, const char *text, size_t len)
{
    size_t run = 0; /* start of the bytes not yet written */
    char num[8];

    for (size_t i = 0; i < len; i++) {
        const char *rep = escape_of((unsigned char)text[i], num);
        if (!rep)
            continue;
        if (i > run)
            evbuffer_add(out, text + run, i - run);
        evbuffer_add(out, rep, strlen(rep));
        run = i + 1;
    }
    if (len > run)
        evbuffer_add(out, text + run, len - run);
}

void gw_s3_xml_element(struct evbuffer *out, const char *name, const char *text)
{
    evbuffer_add_printf(out, "<%s>", name);
    gw_s3_xml_escape(out, text, strlen(text));
    evbuffer_add_printf(out, "</%s>", name);
}

void gw_s3_xml_elementf(struct evbuffer *out, const char *name, const char *fmt, ...)
{
    char small[256];
    char *text = small;
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(small)) {
        text = malloc((size_t)n + 1);
        if (!text)
            return;
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    gw_s3_xml_element(out, name, text);
    if (text != small)
        free(text);
}

/* ---- arena ------------------------------------------------------------- */

#define BLOCK_BYTES (64u << 10)

struct block {
    struct block *next;
    size_t used, cap;
    max_align_t data[]; /* cap bytes */
};

struct gw_s3_xml_doc {
    struct block *blocks; /* newest first */
    struct gw_s3_xml_node *root;
};

static void *arena_alloc(struct gw_s3_xml_doc *doc, size_t n)
{
    struct block *b = doc->blocks;

    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_BYTES ? n : BLOCK_BYTES;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = doc->blocks;
        doc->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static char *arena_strndup(struct gw_s3_xml_doc *doc, const char *s, size_t n)
{
    char *p = arena_alloc(doc, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void gw_s3_xml_free(struct gw_s3_xml_doc *doc)
{
    if (!doc)
        return;
    struct block *b = doc->blocks;
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* True when @s (@len bytes) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) made only of XML 1.0 characters: no
 * C0 controls but tab, LF and CR, no U+FFFE or U+FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                return false;
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe ||
            cp == 0xffff)
            return false;
        i += n + 1;
    }
    return true;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- reader ------------------------------------------------------------ */

/* One open element. Its text accumulates at the end of the scratch buffer
 * from text_start on: a child's text goes after it and is cut off again when
 * the child closes, so one buffer of the document's size holds them all. */
struct frame {
    struct gw_s3_xml_node *node;
    struct gw_s3_xml_node *last_child;
    const char *qname; /* as written, for the end tag */
    size_t qname_len;
    size_t text_start;
};

struct parser {
    const char *p, *end;
    struct gw_s3_xml_doc *doc;
    char *text; /* scratch, as large as the document */
    size_t text_len, text_cap;
    struct frame stack[GW_S3_XML_DEPTH_MAX];
    size_t depth;
    size_t nodes;
    const char *reason;
};

static int bad(struct parser *ps, const char *reason)
{
    ps->reason = reason;
    return -EBADMSG;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool starts(const struct parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(ps->end - ps->p) >= n && memcmp(ps->p, lit, n) == 0;
}

static void skip_space(struct parser *ps)
{
    while (ps->p < ps->end && is_space(*ps->p))
        ps->p++;
}

static bool name_char(unsigned char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80)
        return true;
    return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.');
}

/* Reads a name at ps->p; 0 with @name/@len set, or -EBADMSG. */
static int read_name(struct parser *ps, const char **name, size_t *len)
{
    const char *s = ps->p;
    if (s == ps->end || !name_char((unsigned char)*s, true))
        return bad(ps, "expected an element name");
    while (ps->p < ps->end && name_char((unsigned char)*ps->p, ps->p == s))
        ps->p++;
    *name = s;
    *len = (size_t)(ps->p - s);
    return 0;
}

/* Skips past @close (comments, PIs, after their opening). */
static int skip_past(struct parser *ps, const char *close, const char *reason)
{
    size_t n = strlen(close);
    while ((size_t)(ps->end - ps->p) >= n) {
        if (memcmp(ps->p, close, n) == 0) {
            ps->p += n;
            return 0;
        }
        ps->p++;
    }
    return bad(ps, reason);
}

/* Comments, processing instructions (the XML declaration among them) and
 * whitespace, where the prolog or the end of the document allows them.
 * Returns 1 when something was skipped, 0 when not, or -EBADMSG. */
static int skip_misc(struct parser *ps)
{
    if (ps->p < ps->end && is_space(*ps->p)) {
        skip_space(ps);
        return 1;
    }
    if (starts(ps, "<!--")) {
        ps->p += 4;
        return skip_past(ps, "-->", "unterminated comment") < 0 ? -EBADMSG : 1;
    }
    if (starts(ps, "<?")) {
        ps->p += 2;
        return skip_past(ps, "?>", "unterminated processing instruction") < 0 ? -EBADMSG : 1;
    }
    if (starts(ps, "<!DOCTYPE") || starts(ps, "<!doctype"))
        return bad(ps, "DOCTYPE is not allowed");
    return 0;
}

static void text_add(struct parser *ps, const char *s, size_t n)
{
    /* Decoded text never outgrows its source, so the scratch buffer (the
     * document's size) always has room. */
    CAIRN_ASSERT(n <= ps->text_cap - ps->text_len);
    memcpy(ps->text + ps->text_len, s, n);
    ps->text_len += n;
}

/* Appends @s (@n bytes) to the current text with CR LF and lone CR turned
 * into LF (XML 1.0 §2.11). */
static void text_add_lines(struct parser *ps, const char *s, size_t n)
{
    CAIRN_ASSERT(n <= ps->text_cap - ps->text_len);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\r') {
            c = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        }
        ps->text[ps->text_len++] = c;
    }
}

/* Decodes the reference at ps->p ('&'), appending its character. */
static int read_reference(struct parser *ps)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {
        {"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''},
    };
    ps->p++;
    for (size_t i = 0; i < CAIRN_ARRAY_SIZE(named); i++) {
        if (starts(ps, named[i].name)) {
            ps->p += strlen(named[i].name);
            text_add(ps, &named[i].c, 1);
            return 0;
        }
    }
    if (ps->p == ps->end || *ps->p != '#')
        return bad(ps, "unknown entity");
    ps->p++;
    bool hex = ps->p < ps->end && *ps->p == 'x';
    ps->p += hex;
    uint32_t cp = 0;
    size_t digits = 0;
    for (; ps->p < ps->end && *ps->p != ';'; ps->p++, digits++) {
        int v = -1;
        char c = *ps->p;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (hex && c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        if (v < 0)
            return bad(ps, "bad character reference");
        cp = cp * (hex ? 16 : 10) + (uint32_t)v;
        if (cp > 0x10ffff)
            return bad(ps, "character reference out of range");
    }
    if (ps->p == ps->end || digits == 0)
        return bad(ps, "bad character reference");
    ps->p++;
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return bad(ps, "character reference to an invalid code point");
    char u[4];
    text_add(ps, u, utf8_put(u, cp));
    return 0;
}

/* Skips the attributes of a start tag up to its '>' or '/>'. */
static int skip_attributes(struct parser *ps)
{
    for (;;) {
        const char *before = ps->p;
        skip_space(ps);
        if (starts(ps, ">") || starts(ps, "/>"))
            return 0;
        if (ps->p == before)
            return bad(ps, "malformed start tag");
        const char *name;
        size_t len;
        if (read_name(ps, &name, &len) < 0)
            return bad(ps, "malformed attribute");
        skip_space(ps);
        if (!starts(ps, "="))
            return bad(ps, "attribute without a value");
        ps->p++;
        skip_space(ps);
        if (ps->p == ps->end || (*ps->p != '"' && *ps->p != '\''))
            return bad(ps, "attribute value without quotes");
        char q = *ps->p++;
        while (ps->p < ps->end && *ps->p != q && *ps->p != '<')
            ps->p++;
        if (ps->p == ps->end || *ps->p != q)
            return bad(ps, "unterminated attribute value");
        ps->p++;
    }
}

/* Handles a start tag at ps->p ('<' then a name). */
static int open_element(struct parser *ps)
{
    const char *qname, *local;
    size_t qlen;

    ps->p++;
    int rc = read_name(ps, &qname, &qlen);
    if (rc < 0)
        return rc;
    if (ps->depth == GW_S3_XML_DEPTH_MAX)
        return bad(ps, "elements nested too deeply");
    if (++ps->nodes > GW_S3_XML_NODES_MAX)
        return bad(ps, "too many elements");
    if ((rc = skip_attributes(ps)) < 0)
        return rc;
    local = memrchr(qname, ':', qlen);
    local = local ? local + 1 : qname;
    if (local == qname + qlen)
        return bad(ps, "empty local name");

    struct gw_s3_xml_node *node = arena_alloc(ps->doc, sizeof(*node));
    char *name = node ? arena_strndup(ps->doc, local, (size_t)(qname + qlen - local)) : NULL;
    if (!name)
        return -ENOMEM;
    *node = (struct gw_s3_xml_node){.name = name, .text = ""};
    if (ps->depth == 0) {
        ps->doc->root = node;
    } else {
        struct frame *parent = &ps->stack[ps->depth - 1];
        if (parent->last_child)
            parent->last_child->next = node;
        else
            parent->node->child = node;
        parent->last_child = node;
    }
    ps->stack[ps->depth++] = (struct frame){node, NULL, qname, qlen, ps->text_len};
    if (starts(ps, "/>")) {
        ps->p += 2;
        ps->depth--;
        return 0;
    }
    ps->p++;
    return 0;
}

/* Handles an end tag at ps->p ("</"): checks it and finishes the text. */
static int close_element(struct parser *ps)
{
    const char *qname;
    size_t qlen;

    ps->p += 2;
    int rc = read_name(ps, &qname, &qlen);
    if (rc < 0)
        return rc;
    skip_space(ps);
    if (!starts(ps, ">"))
        return bad(ps, "malformed end tag");
    ps->p++;
    struct frame *f = &ps->stack[ps->depth - 1];
    if (qlen != f->qname_len || memcmp(qname, f->qname, qlen) != 0)
        return bad(ps, "mismatched end tag");

    const char *t = ps->text + f->text_start;
    size_t n = ps->text_len - f->text_start;
    if (f->node->child) {
        /* Between child elements text is layout; a leaf keeps its text
         * exactly (object keys may begin or end with spaces). */
        while (n && is_space(*t))
            t++, n--;
        while (n && is_space(t[n - 1]))
            n--;
    }
    if (n) {
        char *copy = arena_strndup(ps->doc, t, n);
        if (!copy)
            return -ENOMEM;
        f->node->text = copy;
    }
    ps->text_len = f->text_start;
    ps->depth--;
    return 0;
}

/* One step inside the root element: text, a reference, CDATA, a comment, a
 * PI, or a start or end tag. */
static int content_step(struct parser *ps)
{
    const char *s = ps->p;

    if (*s == '&')
        return read_reference(ps);
    if (*s != '<') {
        while (ps->p < ps->end && *ps->p != '<' && *ps->p != '&')
            ps->p++;
        text_add_lines(ps, s, (size_t)(ps->p - s));
        return 0;
    }
    if (starts(ps, "<![CDATA[")) {
        ps->p += 9;
        s = ps->p;
        int rc = skip_past(ps, "]]>", "unterminated CDATA section");
        if (rc == 0)
            text_add_lines(ps, s, (size_t)(ps->p - 3 - s));
        return rc;
    }
    if (starts(ps, "<!--")) {
        ps->p += 4;
        return skip_past(ps, "-->", "unterminated comment");
    }
    if (starts(ps, "<?")) {
        ps->p += 2;
        return skip_past(ps, "?>", "unterminated processing instruction");
    }
    if (starts(ps, "<!"))
        return bad(ps, "markup declarations are not allowed");
    if (starts(ps, "</"))
        return close_element(ps);
    return open_element(ps);
}

static int parse_document(struct parser *ps)
{
    int rc;

    if (starts(ps, "\xef\xbb\xbf"))
        ps->p += 3;
    while ((rc = skip_misc(ps)) == 1)
        ;
    if (rc < 0)
        return rc;
    if (ps->p == ps->end)
        return bad(ps, "empty document");
    if (*ps->p != '<')
        return bad(ps, "text before the root element");
    if ((rc = open_element(ps)) < 0)
        return rc;
    while (ps->depth > 0) {
        if (ps->p == ps->end)
            return bad(ps, "unclosed element");
        if ((rc = content_step(ps)) < 0)
            return rc;
    }
    while ((rc = skip_misc(ps)) == 1)
        ;
    if (rc < 0)
        return rc;
    if (ps->p != ps->end)
        return bad(ps, "content after the root element");
    return 0;
}

int gw_s3_xml_parse(const char *buf, size_t len, struct gw_s3_xml_doc **out, const char **reason)
{
    struct parser ps = {.p = buf, .end = buf + len, .text_cap = len};
    int rc;

    if (len == 0) {
        *reason = "empty document";
        return -EBADMSG;
    }
    if (len > GW_S3_XML_DOC_MAX) {
        *reason = "document too large";
        return -EBADMSG;
    }
    if (!utf8_valid((const unsigned char *)buf, len)) {
        *reason = "invalid UTF-8 or a character XML does not allow";
        return -EBADMSG;
    }
    ps.doc = calloc(1, sizeof(*ps.doc));
    ps.text = malloc(len);
    if (!ps.doc || !ps.text) {
        rc = -ENOMEM;
        goto out_free;
    }
    rc = parse_document(&ps);
    if (rc == 0) {
        free(ps.text);
        *out = ps.doc;
        return 0;
    }
    if (rc == -EBADMSG)
        *reason = ps.reason;
out_free:
    free(ps.text);
    gw_s3_xml_free(ps.doc);
    return rc;
}

const struct gw_s3_xml_node *gw_s3_xml_root(const struct gw_s3_xml_doc *doc)
{
    return doc->root;
}

const struct gw_s3_xml_node *gw_s3_xml_child(const struct gw_s3_xml_node *node, const char *name)
{
    for (const struct gw_s3_xml_node *c = node->child; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* ---- the S3 request bodies --------------------------------------------- */

/* Parses @buf and checks that its root is @root. */
static int parse_root(const char *buf, size_t len, const char *root, struct gw_s3_xml_doc **out,
                      const char **reason)
{
    int rc = gw_s3_xml_parse(buf, len, out, reason);
    if (rc < 0)
        return rc;
    if (strcmp(gw_s3_xml_root(*out)->name, root) != 0) {
        gw_s3_xml_free(*out);
        *reason = "unexpected root element";
        return -EBADMSG;
    }
    return 0;
}

/* @text without leading and trailing XML whitespace: start and length. */
static const char *trimmed(const char *text, size_t *len)
{
    size_t n = strlen(text);
    while (n && is_space(*text))
        text++, n--;
    while (n && is_space(text[n - 1]))
        n--;
    *len = n;
    return text;
}

/* Copies trimmed @text into @out (@cap bytes with the NUL); false if it does not fit. */
static bool copy_trimmed(const char *text, char *out, size_t cap)
{
    size_t n;
    const char *t = trimmed(text, &n);
    if (n >= cap)
        return false;
    memcpy(out, t, n);
    out[n] = '\0';
    return true;
}

int gw_s3_parse_create_bucket(const char *buf, size_t len, char *region, size_t region_cap,
                              const char **reason)
{
    struct gw_s3_xml_doc *doc;
    size_t i;

    CAIRN_ASSERT(region_cap > 0);
    for (i = 0; i < len && is_space(buf[i]); i++)
        ;
    if (i == len) {
        region[0] = '\0';
        return 0;
    }
    int rc = parse_root(buf, len, "CreateBucketConfiguration", &doc, reason);
    if (rc < 0)
        return rc;
    const struct gw_s3_xml_node *lc = gw_s3_xml_child(doc->root, "LocationConstraint");
    if (!copy_trimmed(lc ? lc->text : "", region, region_cap)) {
        *reason = "LocationConstraint too long";
        rc = -EBADMSG;
    }
    gw_s3_xml_free(doc);
    return rc;
}

/* Fills @obj from an <Object> element. */
static int delete_object(const struct gw_s3_xml_node *node, struct gw_s3_delete_object *obj,
                         const char **reason)
{
    const struct gw_s3_xml_node *key = gw_s3_xml_child(node, "Key");
    const struct gw_s3_xml_node *ver = gw_s3_xml_child(node, "VersionId");

    if (!key) {
        *reason = "Object without Key";
        return -EBADMSG;
    }
    /* The reader refuses NUL (raw or &#0;), so strlen is the key's length. */
    size_t n = strlen(key->text);
    if (n == 0 || n > GW_S3_KEY_MAX) {
        *reason = n ? "Key too long" : "empty Key";
        return -EBADMSG;
    }
    obj->key = strdup(key->text);
    if (!obj->key)
        return -ENOMEM;
    if (ver) {
        obj->version_id = strdup(ver->text);
        if (!obj->version_id)
            return -ENOMEM;
    }
    return 0;
}

/* Reads <Quiet>: "true" or "false", any case. */
static int delete_quiet(const struct gw_s3_xml_node *node, bool *quiet, const char **reason)
{
    size_t n;
    const char *t = trimmed(node->text, &n);
    if (n == 4 && strncasecmp(t, "true", 4) == 0)
        *quiet = true;
    else if (n == 5 && strncasecmp(t, "false", 5) == 0)
        *quiet = false;
    else {
        *reason = "Quiet must be true or false";
        return -EBADMSG;
    }
    return 0;
}

int gw_s3_parse_delete(const char *buf, size_t len, struct gw_s3_delete_req *out,
                       const char **reason)
{
    struct gw_s3_delete_req req = {0};
    struct gw_s3_xml_doc *doc;
    const struct gw_s3_xml_node *c;
    size_t count = 0;

    int rc = parse_root(buf, len, "Delete", &doc, reason);
    if (rc < 0)
        return rc;
    for (c = doc->root->child; c; c = c->next)
        count += strcmp(c->name, "Object") == 0;
    if (count == 0 || count > GW_S3_DELETE_MAX) {
        *reason = count ? "more than 1000 objects" : "no Object";
        rc = -EBADMSG;
        goto out_free_doc;
    }
    req.objects = calloc(count, sizeof(*req.objects));
    if (!req.objects) {
        rc = -ENOMEM;
        goto out_free_doc;
    }
    for (c = doc->root->child; c && rc == 0; c = c->next) {
        if (strcmp(c->name, "Object") == 0)
            rc = delete_object(c, &req.objects[req.count++], reason);
        else if (strcmp(c->name, "Quiet") == 0)
            rc = delete_quiet(c, &req.quiet, reason);
    }
    if (rc < 0) {
        gw_s3_delete_req_fini(&req);
        goto out_free_doc;
    }
    *out = req;
out_free_doc:
    gw_s3_xml_free(doc);
    return rc;
}

void gw_s3_delete_req_fini(struct gw_s3_delete_req *req)
{
    for (size_t i = 0; i < req->count; i++) {
        free(req->objects[i].key);
        free(req->objects[i].version_id);
    }
    free(req->objects);
    *req = (struct gw_s3_delete_req){0};
}

/* A PartNumber: decimal digits only, 1..GW_S3_PARTS_MAX. */
static bool part_number(const char *text, uint32_t *out)
{
    size_t n;
    const char *t = trimmed(text, &n);
    uint32_t v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(t[i] - '0');
    }
    if (v < 1 || v > GW_S3_PARTS_MAX)
        return false;
    *out = v;
    return true;
}

/* Copies optional checksum element @name of @node into @out. */
static bool part_checksum(const struct gw_s3_xml_node *node, const char *name, char *out,
                          size_t cap)
{
    const struct gw_s3_xml_node *c = gw_s3_xml_child(node, name);
    return copy_trimmed(c ? c->text : "", out, cap);
}

static int complete_part(const struct gw_s3_xml_node *node, struct gw_s3_complete_part *part,
                         const char **reason)
{
    const struct gw_s3_xml_node *num = gw_s3_xml_child(node, "PartNumber");
    const struct gw_s3_xml_node *etag = gw_s3_xml_child(node, "ETag");
    size_t n;

    if (!num || !part_number(num->text, &part->number)) {
        *reason = num ? "PartNumber must be 1 to 10000" : "Part without PartNumber";
        return -EBADMSG;
    }
    const char *t = etag ? trimmed(etag->text, &n) : NULL;
    if (t && n >= 2 && t[0] == '"' && t[n - 1] == '"')
        t++, n -= 2;
    if (!t || n == 0 || n >= sizeof(part->etag)) {
        *reason = t ? "bad ETag" : "Part without ETag";
        return -EBADMSG;
    }
    memcpy(part->etag, t, n);
    part->etag[n] = '\0';
    if (!part_checksum(node, "ChecksumCRC32", part->crc32, sizeof(part->crc32)) ||
        !part_checksum(node, "ChecksumCRC32C", part->crc32c, sizeof(part->crc32c)) ||
        !part_checksum(node, "ChecksumSHA1", part->sha1, sizeof(part->sha1)) ||
        !part_checksum(node, "ChecksumSHA256", part->sha256, sizeof(part->sha256))) {
        *reason = "part checksum too long";
        return -EBADMSG;
    }
    return 0;
}

int gw_s3_parse_complete(const char *buf, size_t len, struct gw_s3_complete_req *out,
                         const char **reason)
{
    struct gw_s3_complete_req req = {0};
    struct gw_s3_xml_doc *doc;
    const struct gw_s3_xml_node *c;
    size_t count = 0;

    int rc = parse_root(buf, len, "CompleteMultipartUpload", &doc, reason);
    if (rc < 0)
        return rc;
    for (c = doc->root->child; c; c = c->next)
        count += strcmp(c->name, "Part") == 0;
    if (count == 0 || count > GW_S3_PARTS_MAX) {
        *reason = count ? "more than 10000 parts" : "no Part";
        rc = -EBADMSG;
        goto out_free_doc;
    }
    req.parts = calloc(count, sizeof(*req.parts));
    if (!req.parts) {
        rc = -ENOMEM;
        goto out_free_doc;
    }
    for (c = doc->root->child; c && rc == 0; c = c->next)
        if (strcmp(c->name, "Part") == 0)
            rc = complete_part(c, &req.parts[req.count++], reason);
    if (rc < 0) {
        gw_s3_complete_req_fini(&req);
        goto out_free_doc;
    }
    *out = req;
out_free_doc:
    gw_s3_xml_free(doc);
    return rc;
}

void gw_s3_complete_req_fini(struct gw_s3_complete_req *req)
{
    free(req->parts);
    *req = (struct gw_s3_complete_req){0};
}
