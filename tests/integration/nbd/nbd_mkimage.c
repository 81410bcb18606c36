/* nbd_mkimage CONF POOL NAME SIZE [OBJECT_SIZE]: creates an image through
 * client/image.h for the NBD integration tests (SIZE in bytes or with a
 * K/M/G suffix). Exit 0, or 1 with the reason on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cairn.h"
#include "client/image.h"
#include "common/config.h"

int main(int argc, char **argv)
{
    uint64_t size, obj = 0;
    struct cairn *c;
    int32_t pool;
    int r;

    if ((argc != 5 && argc != 6) || cairn_parse_size(argv[4], &size) < 0 ||
        (argc == 6 && cairn_parse_size(argv[5], &obj) < 0)) {
        fprintf(stderr, "usage: nbd_mkimage CONF POOL NAME SIZE [OBJECT_SIZE]\n");
        return 2;
    }
    if ((r = cairn_connect(argv[1], NULL, &c)) < 0) {
        fprintf(stderr, "nbd_mkimage: connect: %s\n", strerror(-r));
        return 1;
    }
    r = cairn_pool_lookup(c, argv[2], &pool);
    if (r == 0)
        r = cairn_image_create(c, pool, argv[3], size, (uint32_t)obj);
    if (r < 0)
        fprintf(stderr, "nbd_mkimage: %s/%s: %s\n", argv[2], argv[3], strerror(-r));
    cairn_shutdown(c);
    return r < 0 ? 1 : 0;
}
