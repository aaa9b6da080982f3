#include "ingest/ing_format.h"
#include "ingest/ing_ngs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Big Data Cup folders hold side files next to the tracking: rosters, video
 * shot lists, power-play info and the play-by-play. */
static int bdc_wants(const char *base)
{
    size_t n = strlen(base);
    return strncmp(base, "videoShotsInfo_", 15) && strncmp(base, "pp_info", 7) &&
           strncmp(base, "pxp_", 4) && !(n >= 11 && !strcmp(base + n - 11, " roster.csv"));
}

/* Formats in `pitwall ingest --format`. */
const ing_format_t ing_formats[] = {
    {"ibt", "iRacing telemetry .ibt (disk files and live memory-map snapshots); Unix ns "
            "from the file's start date, session-relative without one", ".ibt",
     ing_ibt_decode, NULL},
    {"msgpack", "Pitwall msgpack batches, back to back (docs/codec.md)", ".mp .msgpack",
     ing_msgpack_decode, NULL},
    {"jsonl", "JSON lines of points and frames, as `pitwall ingest --dump` prints them",
     ".jsonl .json", ing_jsonl_decode, NULL},
    {"ngs", "NFL Next Gen Stats tracking TSV (one play a file, .gz read); frames keyed by "
            "time, Unix ns (UTC)", ".tsv", ing_ngs_decode, ing_ngs_wants},
    {"bdc", "Big Data Cup 2022 hockey tracking CSV (one power play), labelled from the "
            "play-by-play; Unix ns on the game-day clock", ".csv", ing_bdc_decode, bdc_wants},
    {"f1csv", "F1 2019 game telemetry CSV; Unix ns from Timestamp", ".csv", ing_f1csv_decode, NULL},
    {"events", "event feeds: Metrica event CSV, NBA play-by-play CSV, DEBS 2013 referee "
               "events; ns since the game or tracking start (no dates)", ".csv",
     ing_events_decode, NULL},
};
const size_t ing_nformats = sizeof ing_formats / sizeof ing_formats[0];

const ing_format_t *ing_format_find(const char *name)
{
    for (size_t i = 0; i < ing_nformats; i++)
        if (!strcmp(ing_formats[i].name, name))
            return &ing_formats[i];
    return NULL;
}

void ing_stats_init(ing_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->first_ts_ns = INT64_MAX;
    st->last_ts_ns = INT64_MIN;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Inflate a whole gzip file (possibly several members) into a heap buffer. */
static int inflate_all(const char *path, const uint8_t *in, size_t inlen, size_t max,
                       uint8_t **out, size_t *outlen, pw_err_t *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) /* +32: gzip or zlib header */
        return pw_err_set(err, PW_ENOMEM, "%s: cannot start zlib", path);
    size_t cap = inlen * 4 + 4096, n = 0;
    uint8_t *buf = malloc(cap);
    int rc = buf ? 0 : pw_err_set(err, PW_ENOMEM, "%s: out of memory", path);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)inlen; /* callers keep inputs below 4 GiB */
    while (rc == 0) {
        if (n == cap) {
            if (cap >= max) {
                rc = pw_err_set(err, PW_ECAPACITY, "%s: inflates to more than %zu MiB", path,
                                max >> 20);
                break;
            }
            cap = cap * 2 > max ? max : cap * 2;
            uint8_t *b2 = realloc(buf, cap);
            if (!b2) {
                rc = pw_err_set(err, PW_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = b2;
        }
        z.next_out = buf + n;
        z.avail_out = (uInt)(cap - n > UINT32_MAX ? UINT32_MAX : cap - n);
        size_t before = z.avail_out;
        int zr = inflate(&z, Z_NO_FLUSH);
        n += before - z.avail_out;
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0)
                break;
            inflateReset(&z); /* another gzip member follows */
            continue;
        }
        if (zr == Z_BUF_ERROR && z.avail_in == 0) {
            rc = pw_err_set(err, PW_ETRUNC, "%s: truncated gzip: input ends after %zu "
                            "compressed bytes (%zu inflated)", path, inlen, n);
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = pw_err_set(err, PW_ECORRUPT, "%s: corrupt gzip at compressed byte %zu: %s",
                            path, inlen - z.avail_in, z.msg ? z.msg : "inflate failed");
        }
    }
    inflateEnd(&z);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

int ing_file_load(const char *path, size_t max_bytes, uint8_t **data, size_t *len,
                  pw_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return pw_err_set(err, -errno, "%s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    /* Start at the file's size (+1 to see the end), so a folder of small
     * files costs small buffers. */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && sb.st_size >= 0 && (uint64_t)sb.st_size < max_bytes) {
        cap = (size_t)sb.st_size + 1;
        buf = malloc(cap);
        if (!buf) {
            fclose(f);
            return pw_err_set(err, PW_ENOMEM, "%s: out of memory", path);
        }
    }
    int rc = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                rc = pw_err_set(err, PW_ECAPACITY, "%s: larger than %zu MiB", path,
                                max_bytes >> 20);
                break;
            }
            cap = cap ? cap * 2 : 1 << 20;
            if (cap > max_bytes)
                cap = max_bytes;
            uint8_t *b2 = realloc(buf, cap);
            if (!b2) {
                rc = pw_err_set(err, PW_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = b2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = pw_err_set(err, -EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc == 0 && ends_with(path, ".gz")) {
        uint8_t *raw = NULL;
        size_t rawlen = 0;
        rc = inflate_all(path, buf, n, max_bytes, &raw, &rawlen, err);
        free(buf);
        buf = raw;
        n = rawlen;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return 0;
}
