/* XML for the S3 gateway: a writer for response documents and a small,
 * bounded, non-validating reader for the three request bodies S3 defines
 * (CreateBucketConfiguration, Delete, CompleteMultipartUpload).
 *
 * The reader accepts what S3 clients send: an optional XML declaration,
 * comments, namespaces (prefixes are dropped: elements match by local name),
 * the five predefined entities and numeric character references, CDATA. It
 * refuses DOCTYPE (no entity expansion, so no billion laughs or external
 * entities), documents over GW_S3_XML_DOC_MAX bytes, nesting deeper than
 * GW_S3_XML_DEPTH_MAX, more than GW_S3_XML_NODES_MAX elements, unbalanced
 * tags and invalid UTF-8, with -EBADMSG and a one-line reason ("MalformedXML"
 * to the client). Pure: no I/O, no logging; any thread. */
#ifndef CAIRN_GATEWAY_S3_XML_H
#define CAIRN_GATEWAY_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define GW_S3_XML_DOC_MAX (4u << 20) /* request body, bytes */
#define GW_S3_XML_DEPTH_MAX 16u
#define GW_S3_XML_NODES_MAX 65536u
#define GW_S3_DELETE_MAX 1000u       /* keys in one multi-object delete (S3's limit) */
#define GW_S3_PARTS_MAX 10000u       /* parts of one multipart upload (S3's limit) */
#define GW_S3_KEY_MAX 1024u          /* object key, bytes of UTF-8 (S3's limit) */

/* ---- writer ---- */

/* Appends '<?xml version="1.0" encoding="UTF-8"?>\n'. */
void gw_s3_xml_declaration(struct evbuffer *out);

/* Appends "<NAME>" or, with @xmlns non-NULL, "<NAME xmlns=\"XMLNS\">". */
void gw_s3_xml_open(struct evbuffer *out, const char *name, const char *xmlns);

/* Appends "</NAME>". */
void gw_s3_xml_close(struct evbuffer *out, const char *name);

/* Appends "<NAME>escaped text</NAME>". */
void gw_s3_xml_element(struct evbuffer *out, const char *name, const char *text);

/* The same with the text from printf-style @fmt. */
void gw_s3_xml_elementf(struct evbuffer *out, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends @text (@len bytes) escaped for element content: & < > " ' as
 * entities, and CR and the C0 controls other than tab and LF (which XML 1.0
 * cannot carry literally) as &#xN; references. Other bytes are copied. */
void gw_s3_xml_escape(struct evbuffer *out, const char *text, size_t len);

/* ---- reader ---- */

struct gw_s3_xml_node {
    const char *name;                   /* local name (prefix dropped) */
    /* Character data directly inside, decoded (entities, CDATA, CR LF -> LF);
     * "" if none. Verbatim for a leaf; trimmed of XML whitespace for an
     * element with children. Never contains NUL. */
    const char *text;
    const struct gw_s3_xml_node *child; /* first child element, or NULL */
    const struct gw_s3_xml_node *next;  /* next sibling element, or NULL */
};

struct gw_s3_xml_doc;

/* Parses @buf (@len bytes). 0 with *@out set (free with gw_s3_xml_free; the
 * nodes and strings live as long as the document), or -EBADMSG with *@reason
 * set to a static one-line explanation, or -ENOMEM. */
int gw_s3_xml_parse(const char *buf, size_t len, struct gw_s3_xml_doc **out, const char **reason);
void gw_s3_xml_free(struct gw_s3_xml_doc *doc);

/* The root element (never NULL for a parsed document). */
const struct gw_s3_xml_node *gw_s3_xml_root(const struct gw_s3_xml_doc *doc);

/* The first child of @node named @name, or NULL. */
const struct gw_s3_xml_node *gw_s3_xml_child(const struct gw_s3_xml_node *node, const char *name);

/* ---- the S3 request bodies ---- */

/* CreateBucketConfiguration: the LocationConstraint (trimmed) into @region
 * (NUL-terminated, "" when the body is empty or all whitespace, or names
 * none). 0 or -EBADMSG (also when it does not fit @region_cap - 1 bytes). */
int gw_s3_parse_create_bucket(const char *buf, size_t len, char *region, size_t region_cap,
                              const char **reason);

struct gw_s3_delete_object {
    char *key;        /* 1..GW_S3_KEY_MAX bytes */
    char *version_id; /* or NULL */
};

/* Delete (multi-object delete): 1..GW_S3_DELETE_MAX objects in document
 * order; keys verbatim (not trimmed). Quiet is "true" or "false" in any
 * case, false when absent. */
struct gw_s3_delete_req {
    bool quiet;
    size_t count;
    struct gw_s3_delete_object *objects;
};

/* 0 with @out filled (free with gw_s3_delete_req_fini), or -EBADMSG (not a
 * Delete document, no Object, an Object without Key, an empty or too long
 * key, more than GW_S3_DELETE_MAX objects), or -ENOMEM. */
int gw_s3_parse_delete(const char *buf, size_t len, struct gw_s3_delete_req *out,
                       const char **reason);
void gw_s3_delete_req_fini(struct gw_s3_delete_req *req);

struct gw_s3_complete_part {
    uint32_t number; /* PartNumber, 1..GW_S3_PARTS_MAX */
    char etag[80];   /* ETag as sent, trimmed, one pair of quotes removed; not empty */
    /* The optional per-part checksums, as sent (base64), "" when absent. */
    char crc32[16], crc32c[16], sha1[40], sha256[56];
};

/* CompleteMultipartUpload: 1..GW_S3_PARTS_MAX parts in document order
 * (order and duplicates are the caller's to judge: InvalidPartOrder). */
struct gw_s3_complete_req {
    size_t count;
    struct gw_s3_complete_part *parts;
};

/* 0 with @out filled (free with gw_s3_complete_req_fini), or -EBADMSG (not
 * a CompleteMultipartUpload document, no Part, a Part without a valid
 * PartNumber or ETag, too many parts), or -ENOMEM. */
int gw_s3_parse_complete(const char *buf, size_t len, struct gw_s3_complete_req *out,
                         const char **reason);
void gw_s3_complete_req_fini(struct gw_s3_complete_req *req);

#endif
