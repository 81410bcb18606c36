/* A main() for fuzz targets when libFuzzer is not available (gcc builds):
 * runs LLVMFuzzerTestOneInput once over every file named on the command line
 * (a directory means each regular file in it), then over COUNT inputs made
 * by a seeded generator: mutations of those files (bit flips, byte edits,
 * inserts, deletes, truncation, repetition), or random bytes when there are
 * none. Linked with each target by cairn_fuzz_target() in CMakeLists.txt.
 *
 *   NAME_replay [-n COUNT] [-s SEED] [-o FILE] [FILE|DIR]...
 *
 * The seed (-s, else $CAIRN_SEED, else the clock) is printed first; the same
 * seed replays the same inputs. With -o every input is written to FILE
 * before it runs, so after a crash FILE holds the input that caused it. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_INPUT_BYTES (64u << 10) /* larger corpus files are cut to this */
#define MAX_FILES 1024u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    uint8_t *buf;
    size_t len;
};

struct corpus {
    struct input files[MAX_FILES];
    size_t count;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static const char *save_path;

static void run(const uint8_t *buf, size_t len)
{
    if (save_path) {
        FILE *fp = fopen(save_path, "wb");
        if (fp) {
            fwrite(buf, 1, len, fp);
            fclose(fp);
        }
    }
    LLVMFuzzerTestOneInput(buf, len);
}

static int load_file(struct corpus *c, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -errno;
    }
    uint8_t *buf = malloc(MAX_INPUT_BYTES);
    size_t len = buf ? fread(buf, 1, MAX_INPUT_BYTES, fp) : 0;
    fclose(fp);
    if (!buf)
        return -ENOMEM;
    if (c->count == MAX_FILES) {
        free(buf);
        return 0;
    }
    c->files[c->count++] = (struct input){buf, len};
    return 0;
}

/* Loads @path, or each regular file of it when it is a directory. */
static int load_path(struct corpus *c, const char *path)
{
    struct stat st;
    char child[4096];

    if (stat(path, &st) < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -errno;
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(c, path);
    DIR *dir = opendir(path);
    struct dirent *e;
    int r = 0;
    while (dir && r == 0 && (e = readdir(dir))) {
        snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.' && stat(child, &st) == 0 && S_ISREG(st.st_mode))
            r = load_file(c, child);
    }
    if (dir)
        closedir(dir);
    return dir ? r : -errno;
}

/* One random edit of @in (capacity MAX_INPUT_BYTES). */
static void mutate_once(struct input *in)
{
    static const uint8_t special[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
    size_t pos = below(in->len);

    switch (below(7)) {
    case 0:
        if (in->len)
            in->buf[pos] ^= (uint8_t)(1u << below(8));
        break;
    case 1:
        if (in->len)
            in->buf[pos] = (uint8_t)rng();
        break;
    case 2:
        if (in->len)
            in->buf[pos] = special[below(sizeof(special))];
        break;
    case 3: /* insert a byte */
        if (in->len < MAX_INPUT_BYTES) {
            memmove(in->buf + pos + 1, in->buf + pos, in->len - pos);
            in->buf[pos] = (uint8_t)rng();
            in->len++;
        }
        break;
    case 4: /* delete a byte */
        if (in->len) {
            memmove(in->buf + pos, in->buf + pos + 1, in->len - pos - 1);
            in->len--;
        }
        break;
    case 5:
        in->len = pos;
        break;
    default: /* repeat the prefix: several messages back to back */
        if (pos && in->len + pos <= MAX_INPUT_BYTES) {
            memcpy(in->buf + in->len, in->buf, pos);
            in->len += pos;
        }
        break;
    }
}

/* Fills @in with the next generated input. */
static void generate(const struct corpus *c, struct input *in)
{
    if (c->count == 0) {
        in->len = below(512);
        for (size_t i = 0; i < in->len; i++)
            in->buf[i] = (uint8_t)rng();
        return;
    }
    const struct input *from = &c->files[below(c->count)];
    memcpy(in->buf, from->buf, from->len);
    in->len = from->len;
    for (size_t edits = 1 + below(8); edits > 0; edits--)
        mutate_once(in);
}

static uint64_t pick_seed(const char *arg)
{
    const char *s = arg ? arg : getenv("CAIRN_SEED");
    if (s && *s)
        return strtoull(s, NULL, 0);
    return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

int main(int argc, char **argv)
{
    static struct corpus corpus;
    const char *seed_arg = NULL;
    unsigned long count = 10000;
    int opt;

    while ((opt = getopt(argc, argv, "n:s:o:")) != -1) {
        switch (opt) {
        case 'n':
            count = strtoul(optarg, NULL, 0);
            break;
        case 's':
            seed_arg = optarg;
            break;
        case 'o':
            save_path = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-n COUNT] [-s SEED] [-o FILE] [FILE|DIR]...\n", argv[0]);
            return 2;
        }
    }
    uint64_t seed = pick_seed(seed_arg);
    rng_state = seed;
    printf("%s: seed %" PRIu64 " (replay: -s %" PRIu64 ")\n", argv[0], seed, seed);
    fflush(stdout);
    for (int i = optind; i < argc; i++)
        if (load_path(&corpus, argv[i]) < 0)
            return 1;
    for (size_t i = 0; i < corpus.count; i++)
        run(corpus.files[i].buf, corpus.files[i].len);

    struct input in = {malloc(MAX_INPUT_BYTES), 0};
    if (!in.buf)
        return 1;
    for (unsigned long i = 0; i < count; i++) {
        generate(&corpus, &in);
        run(in.buf, in.len);
    }
    printf("%s: %zu files and %lu generated inputs, no crash\n", argv[0], corpus.count, count);
    free(in.buf);
    for (size_t i = 0; i < corpus.count; i++)
        free(corpus.files[i].buf);
    return 0;
}
