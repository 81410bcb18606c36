/* S3 XML (gateway/s3/xml.c): the writer's escaping, the three request bodies
 * as real clients send them (declaration, xmlns, pretty printing, quoted
 * ETags), entities and CDATA, and every refusal with -EBADMSG and a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "gateway/s3/xml.h"

#define NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* The contents of @b as a NUL-terminated string (static, one at a time). */
static const char *drain(struct evbuffer *b)
{
    static char out[4096];
    size_t n = evbuffer_get_length(b);
    assert_true(n < sizeof(out));
    evbuffer_remove(b, out, n);
    out[n] = '\0';
    return out;
}

static void test_xml_writer_escapes(void **state)
{
    struct evbuffer *b = evbuffer_new();
    gw_s3_xml_declaration(b);
    gw_s3_xml_open(b, "ListBucketResult", NS);
    gw_s3_xml_element(b, "Key", "a&b<c>d\"e'f");
    gw_s3_xml_elementf(b, "Size", "%d", 42);
    gw_s3_xml_open(b, "Owner", NULL);
    gw_s3_xml_escape(b, "x\ty\nz\rw\x01v\x1f", strlen("x\ty\nz\rw\x01v\x1f"));
    gw_s3_xml_close(b, "Owner");
    gw_s3_xml_close(b, "ListBucketResult");
    assert_string_equal(drain(b), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                  "<ListBucketResult xmlns=\"" NS "\">"
                                  "<Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key>"
                                  "<Size>42</Size>"
                                  "<Owner>x\ty\nz&#xD;w&#x1;v&#x1F;</Owner>"
                                  "</ListBucketResult>");
    /* Long formatted text takes the heap path. */
    char big[600];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    gw_s3_xml_elementf(b, "K", "%s&", big);
    const char *s = drain(b);
    assert_int_equal(strlen(s), 3 + 599 + 5 + 4);
    assert_memory_equal(s + 3 + 599, "&amp;</K>", 9);
    evbuffer_free(b);
}

/* The writer's output parses back to the same text. */
static void test_xml_writer_round_trip(void **state)
{
    struct evbuffer *b = evbuffer_new();
    const char *text = " a&<>\"'\r\n\t\x02 é ";
    gw_s3_xml_element(b, "Key", text);
    const char *s = drain(b);
    struct gw_s3_xml_doc *doc;
    const char *reason;
    assert_int_equal(gw_s3_xml_parse(s, strlen(s), &doc, &reason), 0);
    assert_string_equal(gw_s3_xml_root(doc)->text, text);
    gw_s3_xml_free(doc);
    evbuffer_free(b);
}

static struct gw_s3_xml_doc *parse_ok(const char *s)
{
    struct gw_s3_xml_doc *doc = NULL;
    const char *reason = NULL;
    int rc = gw_s3_xml_parse(s, strlen(s), &doc, &reason);
    if (rc != 0)
        fail_msg("parse %d: %s", rc, reason);
    return doc;
}

static void test_xml_entities_cdata_namespaces(void **state)
{
    struct gw_s3_xml_doc *doc =
        parse_ok("\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- c --><?pi x?>\n"
                 "<s3:Root xmlns:s3=\"" NS "\" a='1' b = \"x'y\">\n"
                 "  <s3:A>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#xe9;&#x1F600;</s3:A>\n"
                 "  <B><![CDATA[<not>&amp;]]>tail</B><!-- between -->\n"
                 "  <C>  keep  </C><D/><E></E><F>a\r\nb\rc</F>\n"
                 "  <G>x<H/>y</G>\n"
                 "</s3:Root>\n<!-- after -->\n  ");
    const struct gw_s3_xml_node *r = gw_s3_xml_root(doc);
    assert_string_equal(r->name, "Root");
    assert_string_equal(r->text, "");
    assert_string_equal(gw_s3_xml_child(r, "A")->text, "&<>\"'AB\xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(gw_s3_xml_child(r, "B")->text, "<not>&amp;tail");
    assert_string_equal(gw_s3_xml_child(r, "C")->text, "  keep  ");
    assert_string_equal(gw_s3_xml_child(r, "D")->text, "");
    assert_null(gw_s3_xml_child(r, "D")->child);
    assert_string_equal(gw_s3_xml_child(r, "E")->text, "");
    assert_string_equal(gw_s3_xml_child(r, "F")->text, "a\nb\nc");
    assert_string_equal(gw_s3_xml_child(r, "G")->text, "xy");
    assert_string_equal(gw_s3_xml_child(r, "G")->child->name, "H");
    assert_null(gw_s3_xml_child(r, "Nope"));
    /* Siblings in document order. */
    const char *order[] = {"A", "B", "C", "D", "E", "F", "G"};
    const struct gw_s3_xml_node *c = r->child;
    for (size_t i = 0; i < 7; i++, c = c->next)
        assert_string_equal(c->name, order[i]);
    assert_null(c);
    gw_s3_xml_free(doc);
}

static void expect_bad(const char *s, size_t len)
{
    struct gw_s3_xml_doc *doc = NULL;
    const char *reason = NULL;
    int rc = gw_s3_xml_parse(s, len, &doc, &reason);
    if (rc != -EBADMSG)
        fail_msg("expected -EBADMSG, got %d for: %.*s", rc, (int)len, s);
    assert_non_null(reason);
    assert_true(reason[0] != '\0');
}

#define BAD(lit) expect_bad(lit, sizeof(lit) - 1)

static void test_xml_refusals(void **state)
{
    BAD("");
    BAD("   \n");
    BAD("<!-- only a comment -->");
    BAD("<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>");
    BAD("<a><!DOCTYPE a></a>");
    BAD("<a>&x;</a>");
    BAD("<a>&amp</a>");
    BAD("<a>&#0;</a>");
    BAD("<a>&#xD800;</a>");
    BAD("<a>&#xDFFF;</a>");
    BAD("<a>&#x110000;</a>");
    BAD("<a>&#99999999999;</a>");
    BAD("<a>&#;</a>");
    BAD("<a>&#x;</a>");
    BAD("<a>&#12a;</a>");
    BAD("<a>\xc0\xaf</a>");         /* overlong '/' */
    BAD("<a>\xe0\x80\xaf</a>");     /* overlong */
    BAD("<a>\xed\xa0\x80</a>");     /* surrogate */
    BAD("<a>\xf4\x90\x80\x80</a>"); /* > U+10FFFF */
    BAD("<a>\xc3</a>");             /* truncated */
    BAD("<a>\xff</a>");
    BAD("<a>\x01</a>");
    expect_bad("<a>\0</a>", 8);
    BAD("<a>");
    BAD("<a><b></a>");
    BAD("<a></b>");
    BAD("<a></a><b></b>");
    BAD("<a></a>junk");
    BAD("junk<a></a>");
    BAD("<a x></a>");
    BAD("<a x=1></a>");
    BAD("<a x=\"1></a>");
    BAD("<a x=\"<\"></a>");
    BAD("<a><![CDATA[x</a>");
    BAD("<a><!-- x</a>");
    BAD("<a><? x</a>");
    BAD("<1a></1a>");
    BAD("<p:></p:>");
    BAD("< a></a>");
    BAD("<a></ a>");
    BAD("<a/ >");
}

static void test_xml_limits(void **state)
{
    char buf[512];
    size_t n = 0;
    struct gw_s3_xml_doc *doc;
    const char *reason;

    /* GW_S3_XML_DEPTH_MAX levels parse, one more does not. */
    for (unsigned i = 0; i < GW_S3_XML_DEPTH_MAX; i++)
        n += (size_t)sprintf(buf + n, "<a>");
    for (unsigned i = 0; i < GW_S3_XML_DEPTH_MAX; i++)
        n += (size_t)sprintf(buf + n, "</a>");
    assert_int_equal(gw_s3_xml_parse(buf, n, &doc, &reason), 0);
    gw_s3_xml_free(doc);
    n = 0;
    for (unsigned i = 0; i <= GW_S3_XML_DEPTH_MAX; i++)
        n += (size_t)sprintf(buf + n, "<a>");
    for (unsigned i = 0; i <= GW_S3_XML_DEPTH_MAX; i++)
        n += (size_t)sprintf(buf + n, "</a>");
    assert_int_equal(gw_s3_xml_parse(buf, n, &doc, &reason), -EBADMSG);
    assert_string_equal(reason, "elements nested too deeply");

    /* More than GW_S3_XML_NODES_MAX elements. */
    size_t cap = 16 + 4 * (GW_S3_XML_NODES_MAX + 1);
    char *big = malloc(cap);
    n = (size_t)sprintf(big, "<r>");
    for (unsigned i = 0; i < GW_S3_XML_NODES_MAX; i++)
        n += (size_t)sprintf(big + n, "<a/>");
    n += (size_t)sprintf(big + n, "</r>");
    assert_int_equal(gw_s3_xml_parse(big, n, &doc, &reason), -EBADMSG);
    assert_string_equal(reason, "too many elements");
    free(big);

    /* GW_S3_XML_DOC_MAX bytes parse, one more does not. */
    big = malloc(GW_S3_XML_DOC_MAX + 1);
    memset(big, ' ', GW_S3_XML_DOC_MAX + 1);
    memcpy(big, "<a>", 3);
    memcpy(big + GW_S3_XML_DOC_MAX - 4, "</a>", 4);
    assert_int_equal(gw_s3_xml_parse(big, GW_S3_XML_DOC_MAX + 1, &doc, &reason), -EBADMSG);
    assert_string_equal(reason, "document too large");
    assert_int_equal(gw_s3_xml_parse(big, GW_S3_XML_DOC_MAX, &doc, &reason), 0);
    assert_int_equal(strlen(gw_s3_xml_root(doc)->text), GW_S3_XML_DOC_MAX - 7);
    gw_s3_xml_free(doc);
    free(big);
}

/* ---- CreateBucket --------------------------------------------------------- */

static void test_xml_create_bucket(void **state)
{
    char region[32];
    const char *reason;
    const char *aws = "<CreateBucketConfiguration xmlns=\"" NS "\">"
                      "<LocationConstraint>eu-west-3</LocationConstraint>"
                      "</CreateBucketConfiguration>";
    assert_int_equal(gw_s3_parse_create_bucket(aws, strlen(aws), region, sizeof(region), &reason),
                     0);
    assert_string_equal(region, "eu-west-3");
    const char *pretty = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<CreateBucketConfiguration>\n  <LocationConstraint>\n"
                         "    us-west-2\n  </LocationConstraint>\n</CreateBucketConfiguration>\n";
    assert_int_equal(
        gw_s3_parse_create_bucket(pretty, strlen(pretty), region, sizeof(region), &reason), 0);
    assert_string_equal(region, "us-west-2");
    strcpy(region, "x");
    assert_int_equal(gw_s3_parse_create_bucket("", 0, region, sizeof(region), &reason), 0);
    assert_string_equal(region, "");
    strcpy(region, "x");
    assert_int_equal(gw_s3_parse_create_bucket(" \r\n", 3, region, sizeof(region), &reason), 0);
    assert_string_equal(region, "");
    const char *none = "<CreateBucketConfiguration/>";
    assert_int_equal(gw_s3_parse_create_bucket(none, strlen(none), region, sizeof(region), &reason),
                     0);
    assert_string_equal(region, "");
    /* Exactly region_cap - 1 fits; one more does not. */
    const char *fit = "<CreateBucketConfiguration><LocationConstraint>abcde"
                      "</LocationConstraint></CreateBucketConfiguration>";
    assert_int_equal(gw_s3_parse_create_bucket(fit, strlen(fit), region, 6, &reason), 0);
    assert_string_equal(region, "abcde");
    assert_int_equal(gw_s3_parse_create_bucket(fit, strlen(fit), region, 5, &reason), -EBADMSG);
    const char *wrong = "<Delete><LocationConstraint>x</LocationConstraint></Delete>";
    assert_int_equal(gw_s3_parse_create_bucket(wrong, strlen(wrong), region, 6, &reason), -EBADMSG);
    assert_string_equal(reason, "unexpected root element");
    assert_int_equal(gw_s3_parse_create_bucket("<a", 2, region, 6, &reason), -EBADMSG);
}

/* ---- Delete ------------------------------------------------------------------ */

static void test_xml_delete(void **state)
{
    /* As boto3 (delete_objects) sends it, plus a VersionId and odd keys. */
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<Delete xmlns=\"" NS "\">\n"
                      "  <Object><Key>photos/2006/a.jpg</Key></Object>\n"
                      "  <Object>\n    <Key> sp&amp;ace </Key>\n"
                      "    <VersionId>3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY</VersionId>\n  </Object>\n"
                      "  <Object><Key><![CDATA[<x>]]></Key></Object>\n"
                      "  <Quiet>TRUE</Quiet>\n</Delete>";
    struct gw_s3_delete_req req;
    const char *reason;
    assert_int_equal(gw_s3_parse_delete(doc, strlen(doc), &req, &reason), 0);
    assert_true(req.quiet);
    assert_int_equal(req.count, 3);
    assert_string_equal(req.objects[0].key, "photos/2006/a.jpg");
    assert_null(req.objects[0].version_id);
    assert_string_equal(req.objects[1].key, " sp&ace ");
    assert_string_equal(req.objects[1].version_id, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY");
    assert_string_equal(req.objects[2].key, "<x>");
    gw_s3_delete_req_fini(&req);

    const char *loud = "<Delete><Quiet>false</Quiet><Object><Key>k</Key></Object></Delete>";
    assert_int_equal(gw_s3_parse_delete(loud, strlen(loud), &req, &reason), 0);
    assert_false(req.quiet);
    assert_int_equal(req.count, 1);
    gw_s3_delete_req_fini(&req);
}

static void expect_bad_delete(const char *doc, size_t len)
{
    struct gw_s3_delete_req req = {.count = 77};
    const char *reason = NULL;
    int rc = gw_s3_parse_delete(doc, len, &req, &reason);
    if (rc != -EBADMSG)
        fail_msg("expected -EBADMSG, got %d", rc);
    assert_non_null(reason);
    assert_int_equal(req.count, 77); /* untouched */
}

static void test_xml_delete_refusals(void **state)
{
    const char *bad[] = {
        "<Delete></Delete>",
        "<Delete><Quiet>true</Quiet></Delete>",
        "<Delete><Object></Object></Delete>",
        "<Delete><Object><Key></Key></Object></Delete>",
        "<Delete><Object><VersionId>v</VersionId></Object></Delete>",
        "<Delete><Object><Key>k</Key></Object><Quiet>yes</Quiet></Delete>",
        "<Delete><Object><Key>k</Key></Object><Object/></Delete>",
        "<Remove><Object><Key>k</Key></Object></Remove>",
        "<Delete><Object><Key>k</Key></Object>",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad_delete(bad[i], strlen(bad[i]));

    /* Keys of GW_S3_KEY_MAX bytes pass, one more is refused. */
    char *doc = malloc(GW_S3_KEY_MAX + 128);
    char *key = malloc(GW_S3_KEY_MAX + 2);
    memset(key, 'k', GW_S3_KEY_MAX + 1);
    key[GW_S3_KEY_MAX] = '\0';
    int n = sprintf(doc, "<Delete><Object><Key>%s</Key></Object></Delete>", key);
    struct gw_s3_delete_req req;
    const char *reason;
    assert_int_equal(gw_s3_parse_delete(doc, (size_t)n, &req, &reason), 0);
    assert_int_equal(strlen(req.objects[0].key), GW_S3_KEY_MAX);
    gw_s3_delete_req_fini(&req);
    key[GW_S3_KEY_MAX] = 'k';
    key[GW_S3_KEY_MAX + 1] = '\0';
    n = sprintf(doc, "<Delete><Object><Key>%s</Key></Object></Delete>", key);
    expect_bad_delete(doc, (size_t)n);
    free(key);
    free(doc);

    /* GW_S3_DELETE_MAX objects pass, one more is refused. */
    size_t cap = 64 + 40 * (GW_S3_DELETE_MAX + 1);
    doc = malloc(cap);
    for (unsigned total = GW_S3_DELETE_MAX; total <= GW_S3_DELETE_MAX + 1; total++) {
        size_t len = (size_t)sprintf(doc, "<Delete>");
        for (unsigned i = 0; i < total; i++)
            len += (size_t)sprintf(doc + len, "<Object><Key>k%u</Key></Object>", i);
        len += (size_t)sprintf(doc + len, "</Delete>");
        if (total == GW_S3_DELETE_MAX) {
            assert_int_equal(gw_s3_parse_delete(doc, len, &req, &reason), 0);
            assert_int_equal(req.count, GW_S3_DELETE_MAX);
            assert_string_equal(req.objects[999].key, "k999");
            gw_s3_delete_req_fini(&req);
        } else {
            expect_bad_delete(doc, len);
        }
    }
    free(doc);
}

/* ---- CompleteMultipartUpload --------------------------------------------- */

static void test_xml_complete(void **state)
{
    /* As the AWS CLI and boto3 send it: quoted ETags, some as &quot;, and
     * per-part checksums. */
    const char *doc =
        "<CompleteMultipartUpload xmlns=\"" NS "\">\n"
        "  <Part>\n    <ETag>\"a54357aff0632cce46d942af68356b38\"</ETag>\n"
        "    <PartNumber>1</PartNumber>\n"
        "    <ChecksumCRC32>4HYpVA==</ChecksumCRC32>\n  </Part>\n"
        "  <Part><PartNumber>2</PartNumber>"
        "<ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag>"
        "<ChecksumCRC32C>yZRlqg==</ChecksumCRC32C>"
        "<ChecksumSHA1>qZk+NkcGgWq6PiVxeFDCbJzQ2J0=</ChecksumSHA1>"
        "<ChecksumSHA256>ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=</ChecksumSHA256>"
        "</Part>\n"
        "  <Part><PartNumber>10000</PartNumber><ETag>plain</ETag></Part>\n"
        "</CompleteMultipartUpload>";
    struct gw_s3_complete_req req;
    const char *reason;
    assert_int_equal(gw_s3_parse_complete(doc, strlen(doc), &req, &reason), 0);
    assert_int_equal(req.count, 3);
    assert_int_equal(req.parts[0].number, 1);
    assert_string_equal(req.parts[0].etag, "a54357aff0632cce46d942af68356b38");
    assert_string_equal(req.parts[0].crc32, "4HYpVA==");
    assert_string_equal(req.parts[0].crc32c, "");
    assert_int_equal(req.parts[1].number, 2);
    assert_string_equal(req.parts[1].etag, "0c78aef83f66abc1fa1e8477f296d394");
    assert_string_equal(req.parts[1].crc32c, "yZRlqg==");
    assert_string_equal(req.parts[1].sha1, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    assert_string_equal(req.parts[1].sha256, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    assert_int_equal(req.parts[2].number, 10000);
    assert_string_equal(req.parts[2].etag, "plain");
    gw_s3_complete_req_fini(&req);
}

static void expect_bad_complete(const char *doc, size_t len)
{
    struct gw_s3_complete_req req = {.count = 77};
    const char *reason = NULL;
    int rc = gw_s3_parse_complete(doc, len, &req, &reason);
    if (rc != -EBADMSG)
        fail_msg("expected -EBADMSG, got %d: %s", rc, doc);
    assert_non_null(reason);
    assert_int_equal(req.count, 77);
}

#define PART(num, etag) "<Part><PartNumber>" num "</PartNumber><ETag>" etag "</ETag></Part>"
#define CMU(parts) "<CompleteMultipartUpload>" parts "</CompleteMultipartUpload>"

static void test_xml_complete_refusals(void **state)
{
    const char *bad[] = {
        CMU(""),
        CMU(PART("0", "e")),
        CMU(PART("10001", "e")),
        CMU(PART("1x", "e")),
        CMU(PART("+1", "e")),
        CMU(PART("-1", "e")),
        CMU(PART("", "e")),
        CMU(PART("0x1", "e")),
        CMU(PART("1 2", "e")),
        CMU(PART("99999999999999999999", "e")),
        CMU(PART("1", "")),
        CMU(PART("1", "\"\"")),
        CMU("<Part><ETag>e</ETag></Part>"),
        CMU("<Part><PartNumber>1</PartNumber></Part>"),
        CMU(PART("1", "e") "<Part/>"),
        CMU(PART("1", "0123456789012345678901234567890123456789"
                      "0123456789012345678901234567890123456789")),
        CMU("<Part><PartNumber>1</PartNumber><ETag>e</ETag>"
            "<ChecksumCRC32>0123456789abcdef</ChecksumCRC32></Part>"),
        "<CompleteMultipart>" PART("1", "e") "</CompleteMultipart>",
        "<CompleteMultipartUpload>" PART("1", "e"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad_complete(bad[i], strlen(bad[i]));

    /* GW_S3_PARTS_MAX parts pass, one more is refused. */
    size_t cap = 64 + 64 * (GW_S3_PARTS_MAX + 1);
    char *doc = malloc(cap);
    struct gw_s3_complete_req req;
    const char *reason;
    for (unsigned total = GW_S3_PARTS_MAX; total <= GW_S3_PARTS_MAX + 1; total++) {
        size_t len = (size_t)sprintf(doc, "<CompleteMultipartUpload>");
        for (unsigned i = 0; i < total; i++)
            len += (size_t)sprintf(doc + len, PART("%u", "\"e\""), i % GW_S3_PARTS_MAX + 1);
        len += (size_t)sprintf(doc + len, "</CompleteMultipartUpload>");
        if (total == GW_S3_PARTS_MAX) {
            assert_int_equal(gw_s3_parse_complete(doc, len, &req, &reason), 0);
            assert_int_equal(req.count, GW_S3_PARTS_MAX);
            assert_int_equal(req.parts[9999].number, 10000);
            gw_s3_complete_req_fini(&req);
        } else {
            expect_bad_complete(doc, len);
        }
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_writer_escapes),
        cmocka_unit_test(test_xml_writer_round_trip),
        cmocka_unit_test(test_xml_entities_cdata_namespaces),
        cmocka_unit_test(test_xml_refusals),
        cmocka_unit_test(test_xml_limits),
        cmocka_unit_test(test_xml_create_bucket),
        cmocka_unit_test(test_xml_delete),
        cmocka_unit_test(test_xml_delete_refusals),
        cmocka_unit_test(test_xml_complete),
        cmocka_unit_test(test_xml_complete_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
