/* The `cairn` admin CLI: internals shared by its files, in sections by
 * defining file. main.c parses the global options and dispatches to one
 * function per command; each area's file (status.c, pg.c, pgscrub.c, mon.c, osd.c,
 * pool.c, auth.c, config.c, object.c, bench.c, image.c, image_xfer.c, s3.c and fs.c)
 * holds its commands; health.c the health rules; pgview.c the PG states;
 * output.c prints tables and JSON. */
#ifndef CAIRN_TOOLS_CLI_H
#define CAIRN_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "client/cairn_admin.h"
#include "client/image.h"
#include "protocol/pgstat.h"
#include "protocol/placement.h"

/* Exit status (DESIGN.md §8). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1  /* the operation failed; one line on stderr says why */
#define CLI_EXIT_USAGE 2 /* bad command line; usage on stderr */

/* ---- main.c --------------------------------------------------------------- */

struct cli_ctx;

/* One command: `cairn AREA [VERB] ARGS...`. */
struct cli_cmd {
    const char *area;    /* "pool" */
    const char *verb;    /* "create"; NULL for one-word commands ("status") */
    const char *args;    /* synopsis of the arguments, for usage */
    const char *summary; /* one line */
    int (*run)(struct cli_ctx *ctx, int argc, char **argv); /* argv[0]: first argument */
};

/* What a command runs with. */
struct cli_ctx {
    const char *conf;          /* -c/--conf, NULL for the contract's lookup */
    const char *name;          /* --name, NULL for client.admin */
    bool json;                 /* --json */
    uint32_t timeout_ms;       /* --timeout; 0 for the config's client_mount_timeout */
    const struct cli_cmd *cmd; /* the command running */
    char what[192];            /* "pool create rbd": the prefix of failure messages */
    struct cairn *cairn;       /* connected by cli_connect(), shut down by main */
};

/* Connects once (later calls return at once). CLI_EXIT_OK, or
 * CLI_EXIT_FAIL with the reason printed. */
int cli_connect(struct cli_ctx *ctx);
/* Prints "cairn: WHAT: REASON" on stderr; returns CLI_EXIT_FAIL. */
int cli_fail(struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "cairn: REASON", then the command's usage, on stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage(struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs @cmd; on failure prints the monitor's reason. CLI_EXIT_OK or
 * CLI_EXIT_FAIL. @reply may be NULL when the caller needs no answer. */
int cli_mon_command(struct cli_ctx *ctx, const struct proto_mon_cmd *cmd,
                    struct proto_mon_reply *reply);
/* Runs a command that changes the map and prints "@done (epoch N)", or
 * {"epoch": N} with --json. CLI_EXIT_OK or CLI_EXIT_FAIL. */
int cli_run(struct cli_ctx *ctx, const struct proto_mon_cmd *cmd, const char *done);
/* Parses a decimal integer in [@min, @max]. 0 or -EINVAL. */
int cli_parse_int(const char *s, long long min, long long max, long long *out);
/* Fetches the map (after connecting). CLI_EXIT_OK or CLI_EXIT_FAIL. */
int cli_map(struct cli_ctx *ctx, struct proto_map **map);
/* Checks that @argv holds exactly @n arguments and no option. CLI_EXIT_OK
 * or a usage error (printed). */
int cli_want_args(struct cli_ctx *ctx, int argc, char **argv, int n);

/* ---- health.c, status.c ------------------------------------------------------ */

#define CLI_HEALTH_MAX_REASONS 8
#define CLI_HEALTH_REASON_MAX 512

enum cli_health_level { CLI_HEALTH_OK = 0, CLI_HEALTH_WARN = 1, CLI_HEALTH_ERROR = 2 };

struct cli_health {
    enum cli_health_level level;
    unsigned n;                                                  /* reasons */
    char reasons[CLI_HEALTH_MAX_REASONS][CLI_HEALTH_REASON_MAX]; /* sentences */
};

/* PG states computed from the map: for each PG of each pool, the up set
 * (protocol/placement.h) against the pool's size and min_size. */
struct cli_pg_states {
    uint64_t clean;    /* "active+clean": up set >= size */
    uint64_t degraded; /* "active+degraded": min_size <= up set < size */
    uint64_t inactive; /* "inactive": up set < min_size (writes block) */
};

/* Walks every PG of every pool of @map: fills @states and, when not NULL,
 * per OSD id (arrays of map->n_osds) the PGs whose up set holds it and
 * those it is primary of. */
void cli_pgs_count(const struct proto_map *map, struct cli_pg_states *states,
                   uint32_t *osd_pgs, uint32_t *osd_primary);

/* One PG as the CLI shows it (pgview.c). */
struct cli_pg {
    int32_t pool;
    uint32_t ps;
    uint32_t size;                          /* the pool's */
    uint32_t state;                         /* PROTO_PGS_*; 0 = "inactive" */
    bool unknown;                           /* stats, but none from its primary */
    unsigned n_up, n_raw;
    int32_t up[PROTO_PLACE_MAX_REPLICAS];   /* from the map; up[0] the primary */
    int32_t raw[PROTO_PLACE_MAX_REPLICAS];  /* up set plus the down OSDs, in order */
    const struct proto_pg_stat *stat;       /* its primary's report, or NULL; points into
                                               the stats the view was built from */
};

/* How many PGs are in one state. */
struct cli_pg_count {
    uint32_t state;
    bool unknown;
    uint64_t count;
};

/* Every PG of the map (or of one pool) with its state, and the counts by
 * state (known states in flag order, then "inactive", then "unknown"). */
struct cli_pg_view {
    bool from_osds;                         /* states from the OSDs' reports; false: from
                                               the map alone */
    size_t n;
    struct cli_pg *pgs;                     /* by pool (map order), then ps; malloc'd */
    size_t n_counts, cap_counts;
    struct cli_pg_count *counts;            /* malloc'd */
    uint64_t objects_missing;               /* summed over the reports */
    double objects_per_s;                   /* recovery rate, from the leader */
};

/* Builds @v from @map and the leader's @stats (NULL: none, states from the
 * map); @pool selects one pool id, -1 all. @v points into @stats, which
 * must outlive it. 0 or -ENOMEM (then @v is empty). */
int cli_pg_view_build(const struct proto_map *map, const struct proto_pg_stats *stats,
                      int32_t pool, struct cli_pg_view *v);
void cli_pg_view_fini(struct cli_pg_view *v);
/* The count of known state @state (not "unknown"). */
uint64_t cli_pg_view_count(const struct cli_pg_view *v, uint32_t state);
/* "active+clean", "inactive" (no flag), or "unknown"; returns @buf (at
 * least PROTO_PG_STATE_STR_MAX bytes). */
const char *cli_pg_state_str(uint32_t state, bool unknown, char *buf, size_t len);
/* "1.1f": pool id, then ps in hex. */
void cli_pgid_format(int32_t pool, uint32_t ps, char *buf, size_t len);
/* Parses what cli_pgid_format() prints: decimal pool id, '.', ps in hex
 * (either case), nothing else (no sign, space or "0x"). 0 or -EINVAL. */
int cli_pgid_parse(const char *s, int32_t *pool, uint32_t *ps);
/* A PG log version as E'C: epoch (high 32 bits), counter (low 32 bits). */
void cli_version_format(uint64_t version, char *buf, size_t len);

/* Health from the map and the monitors' status: error without a leader or
 * a majority in quorum or with inactive PGs; warn for monitors out of
 * quorum, OSDs down, no OSDs, degraded PGs. PG states from the map. */
void cli_health_eval(const struct proto_map *map, const struct proto_mon_status *st,
                     struct cli_health *h);
/* The same with PG states from @view when it has the OSDs' reports
 * (docs/cli.md "cairn health"): errors for inactive, incomplete, peered
 * and inconsistent PGs; warnings for degraded or undersized, peering,
 * unknown ones; each names the down OSDs of those PGs. */
void cli_health_eval_view(const struct proto_map *map, const struct proto_mon_status *st,
                          const struct cli_pg_view *view, struct cli_health *h);
const char *cli_health_name(enum cli_health_level level); /* "ok", "warn", "error" */
/* Sorts the quorum's names, for output that does not depend on who answered. */
void cli_quorum_sort(struct proto_mon_status *st);
/* The leader's PG stats, or none (-ENODATA, an older monitor, no leader
 * in @st): then @stats is zeroed and the caller uses the map. True when
 * there are stats. */
bool cli_fetch_pg_stats(struct cli_ctx *ctx, const struct proto_mon_status *st,
                        struct proto_pg_stats *stats);
int cli_status(struct cli_ctx *ctx, int argc, char **argv);
int cli_health(struct cli_ctx *ctx, int argc, char **argv);
/* pg.c */
int cli_pg_ls(struct cli_ctx *ctx, int argc, char **argv);
/* pgscrub.c */
int cli_pg_scrub(struct cli_ctx *ctx, int argc, char **argv);
int cli_pg_deep_scrub(struct cli_ctx *ctx, int argc, char **argv);

/* ---- mon.c, osd.c, pool.c, auth.c, config.c ------------------------------------ */

int cli_mon_ls(struct cli_ctx *ctx, int argc, char **argv);
int cli_mon_add(struct cli_ctx *ctx, int argc, char **argv);
int cli_mon_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_osd_ls(struct cli_ctx *ctx, int argc, char **argv);
int cli_osd_tree(struct cli_ctx *ctx, int argc, char **argv);
int cli_osd_map(struct cli_ctx *ctx, int argc, char **argv);
int cli_osd_in(struct cli_ctx *ctx, int argc, char **argv);
int cli_osd_out(struct cli_ctx *ctx, int argc, char **argv);
int cli_osd_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_osd_reweight(struct cli_ctx *ctx, int argc, char **argv);
int cli_pool_create(struct cli_ctx *ctx, int argc, char **argv);
int cli_pool_ls(struct cli_ctx *ctx, int argc, char **argv);
int cli_pool_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_pool_set(struct cli_ctx *ctx, int argc, char **argv);
int cli_auth_add(struct cli_ctx *ctx, int argc, char **argv);
int cli_auth_get(struct cli_ctx *ctx, int argc, char **argv);
int cli_auth_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_auth_ls(struct cli_ctx *ctx, int argc, char **argv);
int cli_config_set(struct cli_ctx *ctx, int argc, char **argv);
int cli_config_get(struct cli_ctx *ctx, int argc, char **argv);
int cli_config_rm(struct cli_ctx *ctx, int argc, char **argv);

/* ---- object.c, bench.c -------------------------------------------------------- */

/* Opens pool @name (after connecting). CLI_EXIT_OK or CLI_EXIT_FAIL with
 * "pool 'NAME' does not exist" printed. */
int cli_pool_open(struct cli_ctx *ctx, const char *name, int32_t *pool);
/* Prints cairn_error_string()'s reason for @err; returns CLI_EXIT_FAIL. */
int cli_fail_errno(struct cli_ctx *ctx, int err);
/* Lists every object of @pool into @fn. 0 or -errno (or @fn's non-zero). */
int cli_list_all(struct cli_ctx *ctx, int32_t pool, cairn_list_fn fn, void *arg);
/* Reads up to @len bytes from @fd, less only at the end of input: the
 * count or -errno. */
ssize_t cli_read_full(int fd, void *buf, size_t len);
/* Writes all @len bytes to @fd: 0 or -errno. */
int cli_write_full(int fd, const void *buf, size_t len);
int cli_put(struct cli_ctx *ctx, int argc, char **argv);
int cli_get(struct cli_ctx *ctx, int argc, char **argv);
int cli_stat(struct cli_ctx *ctx, int argc, char **argv);
int cli_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_ls(struct cli_ctx *ctx, int argc, char **argv);
int cli_bench(struct cli_ctx *ctx, int argc, char **argv);

/* ---- image.c, image_xfer.c ------------------------------------------------ */

#define CLI_IMAGE_ARGS_MAX 2
#define CLI_IMAGE_SIZE 1u        /* --size SIZE is required */
#define CLI_IMAGE_OBJECT_SIZE 2u /* --object-size SIZE is allowed */

/* The arguments of an image command: positionals and the options. */
struct cli_image_args {
    const char *pos[CLI_IMAGE_ARGS_MAX];
    int n;
    const char *pool;     /* --pool, else CAIRN_IMAGE_DEFAULT_POOL */
    uint64_t size;        /* --size */
    uint32_t object_size; /* --object-size, 0 for the default */
};

/* Parses @argv: [@min, @max] positionals, --pool, and what @flags allow.
 * CLI_EXIT_OK or a usage error (printed). */
int cli_image_args(struct cli_ctx *ctx, int argc, char **argv, struct cli_image_args *a,
                   unsigned flags, int min, int max);
/* Looks pool @name up (after connecting); with @create, the default pool
 * is created with the monitor's defaults when missing. CLI_EXIT_OK or
 * CLI_EXIT_FAIL (printed). */

/* Opens image @name of @a's pool. CLI_EXIT_OK or CLI_EXIT_FAIL (printed). */
int cli_image_open(struct cli_ctx *ctx, const struct cli_image_args *a, const char *name,
                   struct cairn_image **img);
/* Prints the reason for an image call's @err ("no such image", ...) and
 * returns CLI_EXIT_FAIL, or CLI_EXIT_USAGE for a bad name (-EINVAL). */
int cli_image_fail(struct cli_ctx *ctx, int err);
int cli_image_create(struct cli_ctx *ctx, int argc, char **argv);
int cli_image_ls(struct cli_ctx *ctx, int argc, char **argv);
int cli_image_info(struct cli_ctx *ctx, int argc, char **argv);
int cli_image_resize(struct cli_ctx *ctx, int argc, char **argv);
int cli_image_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_image_import(struct cli_ctx *ctx, int argc, char **argv);
int cli_image_export(struct cli_ctx *ctx, int argc, char **argv);

/* ---- s3.c ------------------------------------------------------------------ */

int cli_s3_user_create(struct cli_ctx *ctx, int argc, char **argv);
int cli_s3_user_ls(struct cli_ctx *ctx, int argc, char **argv);
int cli_s3_user_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_s3_user_key(struct cli_ctx *ctx, int argc, char **argv);
int cli_s3_gc(struct cli_ctx *ctx, int argc, char **argv);

/* ---- fs.c ------------------------------------------------------------------ */

int cli_fs_create(struct cli_ctx *ctx, int argc, char **argv);
int cli_fs_ls(struct cli_ctx *ctx, int argc, char **argv);
int cli_fs_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_fs_check(struct cli_ctx *ctx, int argc, char **argv);

/* ---- output.c ------------------------------------------------------------ */

/* A JSON writer on a FILE: compact, one document per line, strings escaped
 * (quote, backslash, control characters). Keys are given with each value
 * inside objects and are NULL inside arrays and at the top. */
#define CLI_JSON_DEPTH 16

struct cli_json {
    FILE *out;
    unsigned depth;
    bool need_comma[CLI_JSON_DEPTH];
};

void cli_json_init(struct cli_json *j, FILE *out);
void cli_json_obj_begin(struct cli_json *j, const char *key);
void cli_json_obj_end(struct cli_json *j);
void cli_json_arr_begin(struct cli_json *j, const char *key);
void cli_json_arr_end(struct cli_json *j);
void cli_json_str(struct cli_json *j, const char *key, const char *value); /* NULL: null */
void cli_json_int(struct cli_json *j, const char *key, long long value);
void cli_json_uint(struct cli_json *j, const char *key, unsigned long long value);
void cli_json_double(struct cli_json *j, const char *key, double value);
void cli_json_bool(struct cli_json *j, const char *key, bool value);
/* Ends the document with a newline (the top-level value must be closed). */
void cli_json_finish(struct cli_json *j);
/* Writes @s as a JSON string literal, quotes included. */
void cli_json_write_string(FILE *out, const char *s);

/* A text table: columns padded to their widest cell, two spaces apart. */
#define CLI_TABLE_COLS 10

struct cli_table {
    unsigned ncols;
    char **cells; /* row-major, header row first; malloc'd */
    unsigned nrows, cap;
};

/* Starts a table of @ncols (<= CLI_TABLE_COLS) columns; then come @ncols
 * header strings. */
void cli_table_init(struct cli_table *t, unsigned ncols, ...);
/* Appends a row of ncols strings (copied). 0 or -ENOMEM. */
int cli_table_row(struct cli_table *t, ...);
void cli_table_print(const struct cli_table *t, FILE *out);
void cli_table_fini(struct cli_table *t);

/* 16.16 fixed point as a decimal ("1.500"). */
void cli_weight_format(uint32_t weight, char *buf, size_t len);
/* A byte count for people, in binary units: "512 B", "1.2 GiB", "30 GiB"
 * (one decimal below 10 of a unit). @len of CLI_BYTES_STR_MAX is enough. */
#define CLI_BYTES_STR_MAX 32u
void cli_bytes_format(uint64_t bytes, char *buf, size_t len);
/* The fsid as a UUID string (37 bytes with NUL). */
void cli_uuid_format(const uint8_t uuid[16], char out[37]);

/* ---- object.c: name lists (ls, image ls) ------------------------------------ */

/* A list of names on stdout: one per line, or one JSON list with --json. */
struct cli_names {
    struct cli_json j;
    bool json;
};
void cli_names_begin(struct cli_ctx *ctx, struct cli_names *ns);
/* Adds @name; a cairn_list_fn and cairn_image_list_fn with @arg a struct
 * cli_names. Returns 0. */
int cli_names_add(const char *name, void *arg);
/* Closes the JSON list, ending the document when @ok. */
void cli_names_end(struct cli_names *ns, bool ok);

/* Connects and looks pool @name up. With @create, the pool @default_name
 * is created with the monitor's defaults when it is the one asked for and
 * missing (DESIGN.md §8: created on first use; a concurrent creator may
 * win); other pools must exist. CLI_EXIT_OK, or the exit status after the
 * one-line reason. (pool.c) */
int cli_pool_get(struct cli_ctx *ctx, const char *default_name, const char *name, bool create,
                 int32_t *pool);

#endif
