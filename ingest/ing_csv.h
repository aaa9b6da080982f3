/*
 * ing_csv: a small CSV row splitter and number parsers for the text
 * decoders (bdc hockey tracking, F1 game CSV, event feeds).
 *
 * The splitter walks an input held in memory and hands back one row at a
 * time as an array of fields the caller owns (sized once, reused for every
 * row): each field is a borrowed byte range of the input, so splitting
 * allocates nothing and copies nothing. It follows RFC 4180 closely enough
 * for real exports:
 *   - fields are separated by one byte (',' or ';' or '\t');
 *   - a field that starts with '"' is quoted: it may hold separators,
 *     newlines and doubled quotes (""); the range given excludes the outer
 *     quotes and the ING_CSV_ESCAPED flag says it still holds "" pairs
 *     (ing_csv_unescape() copies it out with them undone);
 *   - a '"' inside an unquoted field is kept as it is (lenient);
 *   - lines end in LF or CRLF; blank lines are skipped; a UTF-8
 *     byte-order mark at the start of the input is skipped;
 *   - the last line may lack its newline: the row says so
 *     (ing_csv_row_t.unterminated), and decoders treat such a row that
 *     does not decode as truncation rather than a bad row.
 * Every row reports the line it starts on (1-based, counting every LF of
 * the input, blank lines and newlines inside quotes included) and the
 * byte offset of its first byte, for messages like "x.csv:12: ...".
 *
 * The number parsers take a byte range (no NUL needed) and accept the
 * whole range or nothing: no spaces, no trailing bytes. Decimal numbers are
 * converted exactly as strtod() would (correctly rounded): Clinger's fast
 * path, then the Eisel-Lemire algorithm with a table of 128-bit powers of
 * ten (1e-80 .. 1e80), then strtod() on a stack copy for the rare inputs
 * those cannot decide (more than 19 significant digits on a tie, exponents
 * outside the table, subnormals). About 4x faster than glibc's strtod()
 * on the F1 export's numbers; tests/ingest/test_f1csv.c checks it gives
 * the same bits.
 *
 * Thread-safety: no global state; one ing_csv_t per thread.
 */
#ifndef ING_CSV_H
#define ING_CSV_H

#include <stddef.h>
#include <stdint.h>

/* Field flags. */
#define ING_CSV_QUOTED 1u  /* the field was in quotes */
#define ING_CSV_ESCAPED 2u /* the (quoted) field holds "" pairs to undo */

/* One field: a borrowed range of the input (valid while the input is). */
typedef struct ing_csv_field {
    const char *p; /* first byte, after the opening quote when quoted */
    uint32_t len;  /* bytes, without quotes or line ending */
    uint32_t flags;
} ing_csv_field_t;

/* Where a row came from. */
typedef struct ing_csv_row {
    size_t nfields;   /* fields in the row; may exceed the room given */
    uint64_t line;    /* 1-based line the row starts on */
    size_t offset;    /* byte offset of the row's first byte */
    int unterminated; /* the row ends the input without a newline */
} ing_csv_row_t;

/* A reader over data[0..len); caller's memory, no resources to free. */
typedef struct ing_csv {
    const char *data;
    size_t len;
    size_t pos;    /* next byte to read */
    uint64_t line; /* newlines consumed so far */
    char sep;
} ing_csv_t;

/* Start reading data[0..len) (borrowed) with separator sep; skips a BOM. */
void ing_csv_init(ing_csv_t *c, const uint8_t *data, size_t len, char sep);

/*
 * Split the next row into f[0..max) and describe it in *row. Returns 1
 * when a row was read (row->nfields may exceed max: the extra fields are
 * counted, not stored), 0 at the end of the input, PW_ECORRUPT for a
 * quoted field followed by something other than a separator or line end
 * (*row says where; the reader has moved to the next line, so the caller
 * can skip the row and go on), or PW_ETRUNC for a quote still open at the
 * end of the input (the rest of the input was that field).
 */
int ing_csv_next(ing_csv_t *c, ing_csv_field_t *f, size_t max, ing_csv_row_t *row);

/* Index of the first field whose bytes equal name (NUL-terminated), or -1. */
int ing_csv_find(const ing_csv_field_t *f, size_t n, const char *name);

/* 1 when the field's bytes equal s (NUL-terminated), else 0. */
int ing_csv_eq(const ing_csv_field_t *f, const char *s);

/*
 * Copy the field into buf (cap bytes, NUL-terminated) with "" pairs undone;
 * returns the field's unescaped length (truncated to cap - 1 in buf).
 */
size_t ing_csv_unescape(const ing_csv_field_t *f, char *buf, size_t cap);

/*
 * Parse p[0..len) as a decimal floating-point number: [+-] digits [. digits]
 * [e|E [+-] digits], or nan, inf, infinity (any case, optional sign).
 * Stores the correctly rounded double (what strtod() gives; overflow gives
 * +-inf like strtod) in *out and returns 0, or returns -1 (out untouched)
 * for anything else, the empty range included.
 */
int ing_csv_parse_double(const char *p, size_t len, double *out);

/* Parse p[0..len) as [+-]digits into *out; 0, or -1 for a non-number or
 * overflow (out untouched). */
int ing_csv_parse_i64(const char *p, size_t len, int64_t *out);

/* 64-bit FNV-1a of p[0..len), masked to 53 bits so it survives JSON
 * (doubles) and int64 APIs intact: the session ids of the CSV decoders. */
uint64_t ing_csv_hash53(const char *p, size_t len);

#endif
