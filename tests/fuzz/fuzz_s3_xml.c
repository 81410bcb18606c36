/* Fuzz target for the S3 XML reader and the request-body decoders
 * (gateway/s3/xml.c). The first input byte picks the entry point (mod 4:
 * generic parse, Delete, CompleteMultipartUpload, CreateBucketConfiguration);
 * the rest is the document. A refusal must be -EBADMSG with a reason; what
 * is accepted must respect the documented bounds, and a parsed tree is
 * walked in full. Built by tests/fuzz/CMakeLists.txt. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/s3/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Visits every node (bounded by the reader's limits). @depth is that of the
 * nodes in @n's sibling list; a leaf at the deepest level calls this with
 * an empty list one level further down, which is fine. */
static size_t walk(const struct gw_s3_xml_node *n, unsigned depth)
{
    size_t count = 0;
    if (n && depth > GW_S3_XML_DEPTH_MAX)
        abort();
    for (; n; n = n->next) {
        if (!n->name || !n->name[0] || strchr(n->name, ':') || !n->text)
            abort();
        count += 1 + walk(n->child, depth + 1);
    }
    return count;
}

static void check_refusal(int rc, const char *reason)
{
    if (rc != -EBADMSG && rc != -ENOMEM)
        abort();
    if (rc == -EBADMSG && (!reason || !reason[0]))
        abort();
}

static void fuzz_delete(const char *buf, size_t len)
{
    struct gw_s3_delete_req req;
    const char *reason = NULL;
    int rc = gw_s3_parse_delete(buf, len, &req, &reason);
    if (rc < 0) {
        check_refusal(rc, reason);
        return;
    }
    if (req.count < 1 || req.count > GW_S3_DELETE_MAX)
        abort();
    for (size_t i = 0; i < req.count; i++) {
        size_t n = strlen(req.objects[i].key);
        if (n < 1 || n > GW_S3_KEY_MAX)
            abort();
    }
    gw_s3_delete_req_fini(&req);
}

static void fuzz_complete(const char *buf, size_t len)
{
    struct gw_s3_complete_req req;
    const char *reason = NULL;
    int rc = gw_s3_parse_complete(buf, len, &req, &reason);
    if (rc < 0) {
        check_refusal(rc, reason);
        return;
    }
    if (req.count < 1 || req.count > GW_S3_PARTS_MAX)
        abort();
    for (size_t i = 0; i < req.count; i++)
        if (req.parts[i].number < 1 || req.parts[i].number > GW_S3_PARTS_MAX ||
            !req.parts[i].etag[0])
            abort();
    gw_s3_complete_req_fini(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    const char *reason = NULL;
    struct gw_s3_xml_doc *doc;
    char region[16];
    int rc;

    switch (data[0] % 4) {
    case 0:
        rc = gw_s3_xml_parse(buf, len, &doc, &reason);
        if (rc < 0) {
            check_refusal(rc, reason);
            break;
        }
        if (walk(gw_s3_xml_root(doc), 1) > GW_S3_XML_NODES_MAX)
            abort();
        gw_s3_xml_child(gw_s3_xml_root(doc), "Object");
        gw_s3_xml_free(doc);
        break;
    case 1:
        fuzz_delete(buf, len);
        break;
    case 2:
        fuzz_complete(buf, len);
        break;
    default:
        memset(region, 'x', sizeof(region));
        rc = gw_s3_parse_create_bucket(buf, len, region, sizeof(region), &reason);
        if (rc < 0)
            check_refusal(rc, reason);
        else if (!memchr(region, '\0', sizeof(region)))
            abort();
        break;
    }
    return 0;
}
