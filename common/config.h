/* The configuration file shared by every Cairn program (docs/config.md).
 *
 *   # comment
 *   [global]
 *   keyring = /etc/cairn/keyring
 *   [osd]               options for every OSD
 *   store_data_size = 4G
 *   [osd.0]             options for osd.0 only
 *   store_path = /var/lib/cairn/osd.0
 *
 * A lookup for entity "osd.0" tries section [osd.0], then [osd], then
 * [global]. In keys, '-' and ' ' are the same as '_'. The keyring uses the
 * same format ([client.admin] key = BASE64). */
#ifndef CAIRN_COMMON_CONFIG_H
#define CAIRN_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cairn_config;

/* Parses @len bytes of @text. On a syntax error returns -EINVAL and writes
 * "line N: reason" into @err (if not NULL). */
int cairn_config_parse(const char *text, size_t len, struct cairn_config **out, char *err,
                       size_t err_len);
/* Reads and parses @path. -errno from open/read, or -EINVAL as above. */
int cairn_config_load(const char *path, struct cairn_config **out, char *err, size_t err_len);
void cairn_config_destroy(struct cairn_config *conf);

/* Finds the config file per the operator contract: @cli_path (from -c/--conf)
 * when not NULL, else $CAIRN_CONF, else ./cairn.conf, else /etc/cairn/cairn.conf.
 * Copies the chosen path into @out. -ENOENT when none exists (for the
 * explicit ones: when the named file does not exist). */
int cairn_config_find(const char *cli_path, char *out, size_t out_len);

/* Value of @key for @entity (may be NULL for [global] only); NULL when unset.
 * The string lives as long as @conf. */
const char *cairn_config_get(const struct cairn_config *conf, const char *entity,
                             const char *key);
/* Typed getters: return 0 and set *out, -ENOENT when unset (with *out =
 * @def), -EINVAL when the value does not parse. Sizes accept K, M, G, T
 * suffixes (powers of 1024); durations accept ms, s, m, h (default ms). */
int cairn_config_get_u64(const struct cairn_config *conf, const char *entity, const char *key,
                         uint64_t def, uint64_t *out);
int cairn_config_get_size(const struct cairn_config *conf, const char *entity, const char *key,
                          uint64_t def, uint64_t *out);
int cairn_config_get_ms(const struct cairn_config *conf, const char *entity, const char *key,
                        uint64_t def, uint64_t *out);
int cairn_config_get_bool(const struct cairn_config *conf, const char *entity, const char *key,
                          bool def, bool *out);

/* Calls @fn for every key of section @section, in file order. */
void cairn_config_each(const struct cairn_config *conf, const char *section,
                       void (*fn)(const char *key, const char *value, void *arg), void *arg);
/* Calls @fn for every section name, in file order. */
void cairn_config_each_section(const struct cairn_config *conf,
                               void (*fn)(const char *section, void *arg), void *arg);

/* What a daemon's main does first (operator contract, DESIGN.md §8): finds
 * the config (cairn_config_find) and loads it. 0, or -errno with a one-line
 * reason in @err ("config FILE: line 3: ...", "no config file found ..."). */
int cairn_config_open(const char *cli_path, struct cairn_config **out, char *err, size_t err_len);
/* Sets the log entity and applies @entity's log_level, debug and log_file.
 * 0, or -EINVAL / -errno (log_file) with a one-line reason in @err. */
int cairn_config_apply_logging(const struct cairn_config *conf, const char *entity, char *err,
                               size_t err_len);
/* Parses a UUID's text (32 hex digits, dashes anywhere) into @out. 0 or -EINVAL. */
int cairn_parse_uuid(const char *text, uint8_t out[16]);

/* Parses "4K", "10G", "123" into bytes. 0 or -EINVAL. */
int cairn_parse_size(const char *s, uint64_t *out);

#endif
