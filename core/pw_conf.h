/*
 * pw_conf: configuration described by tables, read from YAML (libyaml).
 *
 * Every configuration key is a row in a table: its name, type, where it
 * lives in a C struct (offsetof), its default as text, bounds or allowed
 * values, and a sentence for people. A module declares the table for its
 * own section next to its config struct (the store declares `log`, the
 * simulator `sim`); the command layer gathers sections into a root table
 * that describes the whole file, then loads a file and applies `--set`
 * overrides into one struct. The same tables print `pitwall config --help`
 * and dump the effective configuration, so documentation, defaults and
 * validation cannot drift apart.
 *
 * Values are checked fully at load: unknown keys, duplicate keys, wrong
 * shapes, bad numbers, overflow, trailing junk and out-of-range values are
 * errors with file:line:column, never silently ignored.
 *
 * Values as text (the same rules for YAML, defaults and overrides):
 *   BOOL         true | false (also True, TRUE, False, FALSE)
 *   INT          decimal integer, optional sign, fits int64_t; "1e6" and
 *                "2.5e3" are accepted when the value is whole
 *   DOUBLE       finite decimal number (1, 0.25, 1e-3); no NaN or infinity
 *   STRING       any text; in YAML a plain ~, null or empty value is NULL
 *   ENUM         one of the key's choices, exactly
 *   DURATION_MS  a number and a unit ms, s, m or h ("250ms", "2s", "1.5m");
 *                a bare number is milliseconds; must be a whole number of
 *                milliseconds and not negative
 *   SIZE_BYTES   a number and a unit B, KB, MB, GB, TB (powers of 1000) or
 *                KiB, MiB, GiB, TiB (powers of 1024); a bare number is
 *                bytes; a whole number of bytes, not negative
 *   STRLIST      a YAML sequence of scalars: [rpm, throttle]
 *   SECTION      a YAML map of the sub-section's keys
 *   LIST         a YAML sequence of maps, each an element of the sub-section
 *
 * C field types at `offset` in the destination struct:
 *   BOOL bool, INT int64_t, DOUBLE double, STRING char * (owned),
 *   ENUM int (index into choices), DURATION_MS int64_t (milliseconds),
 *   SIZE_BYTES uint64_t (bytes), SECTION the nested struct itself,
 *   STRLIST char ** (owned; n strings then a NULL, or NULL when empty)
 *   with the count as a size_t at count_offset, LIST a pointer to
 *   elem_size-byte elements (owned, e.g. `topic_conf_t *topics`; NULL when
 *   empty) with a size_t count at count_offset.
 *
 * Threads: none inside. Tables are constant and may be shared; a
 * destination struct belongs to one thread while it is being loaded.
 */
#ifndef PW_CONF_H
#define PW_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "core/pw_error.h"

/* What a key holds; see the value rules above. 0 is not a type. */
typedef enum pw_conf_type {
    PW_CONF_BOOL = 1,
    PW_CONF_INT,
    PW_CONF_DOUBLE,
    PW_CONF_STRING,
    PW_CONF_ENUM,
    PW_CONF_DURATION_MS,
    PW_CONF_SIZE_BYTES,
    PW_CONF_STRLIST,
    PW_CONF_SECTION,
    PW_CONF_LIST,
} pw_conf_type_t;

struct pw_conf_section;

/*
 * One configuration key. Fields a type does not use stay 0/NULL (use
 * designated initialisers).
 */
typedef struct pw_conf_key {
    const char *name;   /* [A-Za-z0-9_-]+, unique in its section */
    pw_conf_type_t type;
    size_t offset;      /* offsetof the field in the section's struct */
    /*
     * Default as text, read by the same code as values in a file: "group",
     * "10ms", "64MiB". STRLIST and LIST defaults are YAML flow text:
     * "[rpm, speed]", "[{name: telemetry, partitions: 4}]". NULL means
     * false, 0, the first choice, a NULL string or an empty list.
     * SECTION keys take their defaults from their sub-section.
     */
    const char *def;
    const char *desc;   /* one sentence for people, shown by help */
    const char *const *choices; /* ENUM: allowed values, NULL-terminated */
    /*
     * Inclusive bounds for INT, DOUBLE, DURATION_MS and SIZE_BYTES, as text
     * in the key's own units ("1", "0.5", "1ms", "4KiB"); NULL = unbounded
     * on that side.
     */
    const char *min;
    const char *max;
    const struct pw_conf_section *sub; /* SECTION, LIST: the keys inside */
    size_t elem_size;   /* LIST: sizeof one element struct */
    size_t count_offset; /* STRLIST, LIST: offsetof the size_t count */
    /*
     * Where to record a source line (an int, 1-based; 0 = not in the file),
     * so that checks made after loading can still say file:line. SECTION:
     * offsetof an int in the containing struct that gets the line of the
     * key when it appears (so it also tells whether it appeared). LIST:
     * offsetof an int in each element struct that gets the element's line.
     * 0 = not recorded (so the int must not be the struct's first field).
     */
    size_t line_offset;
} pw_conf_key_t;

/* A table of keys bound to one struct type: a YAML map. */
typedef struct pw_conf_section {
    const char *name;   /* used in messages and help; "" for the root */
    const char *desc;
    const pw_conf_key_t *keys;
    size_t nkeys;
} pw_conf_section_t;

/* Number of keys in a static array of pw_conf_key_t. */
#define PW_CONF_NKEYS(keys) (sizeof(keys) / sizeof((keys)[0]))

/*
 * Set every key of section, and of its sub-sections, to its default. dst
 * is treated as uninitialised: fields the table names are overwritten,
 * never freed (call pw_conf_fini() first on a loaded struct); fields it
 * does not name are left alone. Also checks the table itself (a bad
 * default, an ENUM without choices, bounds that do not parse), so a unit
 * test that calls this on a module's table catches schema bugs.
 * Returns 0, PW_EARG (schema bug, explained in err) or -ENOMEM; on failure
 * dst holds no allocations and is safe to fini.
 */
int pw_conf_defaults(const pw_conf_section_t *section, void *dst,
                     pw_err_t *err);

/*
 * Set defaults in dst, then apply the YAML file at path. An empty file
 * (or one holding only comments) gives all defaults. Returns 0, PW_ECONF
 * (bad content: err says "path:line:col: what"), PW_EARG, -errno (cannot
 * read: "path: No such file or directory") or -ENOMEM. On failure dst
 * holds exactly the defaults. Either way the caller owns what dst points
 * to and frees it with pw_conf_fini(). To reload a running configuration,
 * load into a fresh struct and swap only on success.
 */
int pw_conf_load_file(const char *path, const pw_conf_section_t *section,
                      void *dst, pw_err_t *err);

/*
 * As pw_conf_load_file() for len bytes of YAML at text (need not be
 * NUL-terminated); name is used in error messages in place of a path.
 */
int pw_conf_load_string(const char *name, const char *text, size_t len,
                        const pw_conf_section_t *section, void *dst,
                        pw_err_t *err);

/*
 * Apply one override "path=value" to dst, which must already hold
 * defaults or a loaded file (overrides come after the file).
 *   path:  keys joined by dots ("log.durability"), with [i] to reach an
 *          existing element of a LIST ("stream.topics[1].partitions") or
 *          of a STRLIST ("channels[0]").
 *   value: text by the rules above for scalar keys (taken verbatim, so
 *          "title=a: b" sets the string "a: b"; "", "~" or "null" set a
 *          STRING to NULL); YAML flow text for a whole STRLIST or LIST
 *          ("channels=[rpm, gear]", "channels=" empties it), which
 *          replaces it. A whole SECTION cannot be set; set its keys.
 * Returns 0, PW_ECONF (err says "log.durability: 'fsync' is not one of
 * sync, group, none" or "unknown key ..."; no file position), PW_EARG or
 * -ENOMEM. On failure dst is unchanged.
 */
int pw_conf_set(const pw_conf_section_t *section, void *dst,
                const char *assignment, pw_err_t *err);

/*
 * Free every string and list section's keys own in dst and set them to
 * NULL/0, recursively. Safe on a struct that is zeroed, defaulted, loaded,
 * left by a failed load, or already finalised.
 */
void pw_conf_fini(const pw_conf_section_t *section, void *dst);

/*
 * Print every key to f: its dotted path (list elements as
 * "stream.topics[].name"), type, default, allowed values or range, and
 * description. This is `pitwall config --help`. Returns 0 or -errno.
 */
int pw_conf_print_help(FILE *f, const pw_conf_section_t *section);

/*
 * Print the configuration held in dst to f as YAML that loads back to the
 * same values (durations and sizes in the largest exact unit, strings
 * quoted when needed). Returns 0 or -errno.
 */
int pw_conf_dump(FILE *f, const pw_conf_section_t *section, const void *dst);

#endif
