#include "store/st_results.h"

#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_fs.h"

/*
 * Layout (docs/results-store.md has the long form). One LMDB environment,
 * four named databases. Integers in values are little-endian and in keys
 * big-endian (so LMDB's byte order is numeric order), written byte by byte
 * (LMDB gives values 2-byte alignment only).
 *
 *   meta:        "results_format" -> u32 LE format version (1)
 *   results:     group | ts -> value
 *   latest:      latest key -> value (the result with the highest ts_ns,
 *                on a tie the highest version, of the group)
 *   checkpoints: name bytes (no NUL) -> blob
 *
 * tk = topic | 0x00 | key (topic and key hold no NUL, topic <= 255 bytes).
 * ts = ts_ns as u64 big-endian with the sign bit flipped: signed order.
 *   bytime:      ts | group -> empty (the time index, for retention)
 *
 * LMDB keys hold at most 511 bytes, less than the 255 + 1 + 1024 + 1 + 8 a
 * full key would need, so:
 * - inline (tk <= 494 bytes, every practical key):
 *     group = tk | 0x00           latest key = tk
 * - long (tk > 494 bytes):
 *     group = tk[0..494) | 0x01 | h    latest key = group (503 bytes)
 *   h = FNV-1a 64 of tk, big-endian; the rest of the key, tk[494..), is
 *   stored in the value as the "tail".
 * value = version u32 LE | ts_ns i64 LE | tail_len u32 LE | tail | body
 *         (16-byte header; tail_len is 0 for inline keys).
 *
 * Order: the 0x00 after topic and after an inline tk sorts below every key
 * byte, so entries sort by (topic, key, ts) with a shorter string first;
 * an inline group never equals a long one (they differ where the inline tk
 * ends: 0x00 against a key byte or the 0x01 mark). Long groups that share
 * tk[0..494) sort by h among themselves; a long key is told from another
 * of the same h by its tail (a put of such a key fails, PW_ECAPACITY).
 */
#define RES_FORMAT_VERSION 1u

/* Named databases in the environment (five used, room to grow). */
#define RES_MAXDBS 8

/* Largest map accepted, in MiB (16 TiB). */
#define MAP_SIZE_MB_MAX ((size_t)1 << 24)

/* Longest LMDB key we write: LMDB's default (and usual) limit. */
#define DB_KEY_MAX 511

/* Bytes of tk kept in keys; a longer tk is "long". */
#define TK_INLINE_MAX 494

/* The byte after tk[0..494) in a long group. */
#define LONG_MARK 0x01

/* Length of a long group (and of its latest key). */
#define LONG_GROUP_LEN (TK_INLINE_MAX + 1 + 8)

/* Bytes of the header at the start of every value. */
#define VAL_HDR 16

/* Entries st_results_trim() deletes between two looks at the used size. */
#define TRIM_SIZE_EVERY 64

/* Longest tk. */
#define TK_MAX (ST_RESULTS_TOPIC_MAX + 1 + ST_RESULTS_KEY_MAX)

_Static_assert(LONG_GROUP_LEN + 8 == DB_KEY_MAX, "long keys fill LMDB keys");
_Static_assert(TK_INLINE_MAX + 1 + 8 <= DB_KEY_MAX, "inline keys fit");
_Static_assert(ST_RESULTS_TOPIC_MAX + 1 < TK_INLINE_MAX,
               "a topic always lies inside the kept bytes of tk");

struct st_results {
    /* Set at open, read-only afterwards: any thread. */
    MDB_env *env;
    MDB_dbi dbi_meta, dbi_results, dbi_latest, dbi_ckpt, dbi_time;
    bool has_time;   /* dbi_time is open (a read-only handle on a store
                        made before the time index may lack it) */
    int64_t retention_age_ns;
    uint64_t retention_bytes;
    char *dir;
    size_t map_size; /* bytes */
    bool read_only;

    /* Any thread. */
    atomic_bool txn_open; /* a write transaction of this handle is open */
    _Atomic uint64_t stale_ignored;
    _Atomic uint64_t commits;
    _Atomic uint64_t trimmed;
};

/* Writer thread only. */
struct st_results_txn {
    st_results_t *s;
    MDB_txn *txn;      /* NULL once ended by an error */
    int failed;        /* the code that ended it, or 0 */
    uint64_t stale;    /* puts ignored for a lower version */
    uint64_t trimmed;  /* results deleted by trim */
    pw_err_t why;      /* what ended it */
    unsigned char key[DB_KEY_MAX];  /* reused by every put */
    unsigned char key2[DB_KEY_MAX]; /* time index and latest keys */
};

/* Header of a stored value. */
typedef struct val_hdr {
    uint32_t version;
    int64_t ts_ns;
    uint32_t tail_len;
} val_hdr_t;

/* ---- Small helpers ------------------------------------------------------ */

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

#define SIGN_BIT ((uint64_t)1 << 63)

static void put_ts(unsigned char *p, int64_t ts_ns)
{
    put_be64(p, (uint64_t)ts_ns ^ SIGN_BIT);
}

static int64_t get_ts(const unsigned char *p)
{
    uint64_t u = get_be64(p) ^ SIGN_BIT;
    int64_t v;
    memcpy(&v, &u, sizeof v); /* two's complement, no overflow */
    return v;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t tk_hash(const pw_result_t *r)
{
    static const unsigned char zero = 0;
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, r->topic, r->topic_len);
    h = fnv1a(h, &zero, 1);
    return fnv1a(h, r->key, r->key_len);
}

/* Compare byte strings as LMDB does: memcmp, then the shorter first. */
static int bytes_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c != 0)
        return c;
    return na < nb ? -1 : na > nb;
}

/*
 * 0 if key starts with prefix; < 0 if key sorts before every key that
 * does, > 0 if after.
 */
static int prefix_cmp(const char *key, size_t klen, const char *p,
                      size_t plen)
{
    int c = memcmp(key, p, klen < plen ? klen : plen);
    if (c != 0)
        return c;
    return klen >= plen ? 0 : -1;
}

st_results_opts_t st_results_opts_default(void)
{
    st_results_opts_t o = {
        .dir = NULL,
        .map_size_mb = ST_RESULTS_MAP_SIZE_MB_DEFAULT,
        .sync = true,
        .read_only = false,
        .retention_age_ns = 0,
        .retention_bytes = 0,
    };
    return o;
}

/* Translate an LMDB failure: what failed, where, why. */
static int lmdb_fail(const st_results_t *s, pw_err_t *err, int rc,
                     const char *what)
{
    if (rc == MDB_MAP_FULL)
        return pw_err_set(err, PW_EFULL,
                          "%s: result store full: map size %zu MiB reached; "
                          "raise store.map_size (%s)",
                          s->dir, s->map_size >> 20, what);
    if (rc == MDB_MAP_RESIZED)
        return pw_err_set(err, PW_ESTORE,
                          "%s: %s: another process grew the result store "
                          "beyond this process's map size (%zu MiB); reopen "
                          "it with the writer's store.map_size",
                          s->dir, what, s->map_size >> 20);
    return pw_err_set(err, PW_ESTORE, "%s: %s: %s", s->dir, what,
                      mdb_strerror(rc));
}

static int corrupt(const st_results_t *s, pw_err_t *err, const char *db,
                   const MDB_val *k, const char *what)
{
    /* The key's first bytes up to a NUL: the topic, enough to find it. */
    int n = (int)strnlen(k->mv_data, k->mv_size < 64 ? k->mv_size : 64);
    return pw_err_set(err, PW_ECORRUPT, "%s: %s entry '%.*s...' (%zu-byte "
                      "key): %s", s->dir, db, n, (const char *)k->mv_data,
                      k->mv_size, what);
}

static bool val_decode(const MDB_val *v, val_hdr_t *h)
{
    if (v->mv_size < VAL_HDR)
        return false;
    const unsigned char *p = v->mv_data;
    h->version = get_le32(p);
    uint64_t ts = get_le64(p + 4);
    memcpy(&h->ts_ns, &ts, sizeof ts);
    h->tail_len = get_le32(p + 12);
    return h->tail_len <= v->mv_size - VAL_HDR;
}

static void val_encode(unsigned char *p, const pw_result_t *r,
                       const char *tail, uint32_t tail_len)
{
    put_le32(p, r->version);
    put_le64(p + 4, (uint64_t)r->ts_ns);
    put_le32(p + 12, tail_len);
    if (tail_len > 0)
        memcpy(p + VAL_HDR, tail, tail_len);
    if (r->body_len > 0)
        memcpy(p + VAL_HDR + tail_len, r->body, r->body_len);
}

/* ---- Open and close ----------------------------------------------------- */

static int opts_check(const st_results_opts_t *o, pw_err_t *err)
{
    if (o == NULL || o->dir == NULL || o->dir[0] == '\0')
        return pw_err_set(err, PW_EARG, "result store: no directory given");
    if (o->map_size_mb == 0 || o->map_size_mb > MAP_SIZE_MB_MAX)
        return pw_err_set(err, PW_EARG,
                          "result store %s: map_size_mb %zu; expected 1..%zu",
                          o->dir, o->map_size_mb, MAP_SIZE_MB_MAX);
    if (o->retention_age_ns < 0)
        return pw_err_set(err, PW_EARG,
                          "result store %s: negative retention_age_ns "
                          "(0 keeps every result)",
                          o->dir);
    return 0;
}

static int not_ours(const st_results_t *s, pw_err_t *err)
{
    return pw_err_set(err, PW_EVERSION,
                      "%s: not a result store (the directory holds other "
                      "LMDB data, e.g. a stream log); give the store a "
                      "directory of its own",
                      s->dir);
}

/* In txn: the format version, checked, or written into a new store. */
static int format_check(st_results_t *s, MDB_txn *txn, bool created,
                        pw_err_t *err)
{
    MDB_val k = {14, "results_format"}, v;
    int rc = mdb_get(txn, s->dbi_meta, &k, &v);
    if (rc == MDB_NOTFOUND && created) {
        unsigned char b[4];
        put_le32(b, RES_FORMAT_VERSION);
        MDB_val nv = {sizeof b, b};
        rc = mdb_put(txn, s->dbi_meta, &k, &nv, 0);
        return rc == 0 ? 0 : lmdb_fail(s, err, rc, "create");
    }
    if (rc == MDB_NOTFOUND)
        return not_ours(s, err);
    if (rc != 0)
        return lmdb_fail(s, err, rc, "read format version");
    uint32_t ver = v.mv_size == 4 ? get_le32(v.mv_data) : 0;
    if (ver != RES_FORMAT_VERSION)
        return pw_err_set(err, PW_EVERSION,
                          "%s: result store format %u; this build reads "
                          "format %u",
                          s->dir, ver, RES_FORMAT_VERSION);
    return 0;
}

/*
 * In txn: open the time index (bytime). A store made before it existed
 * gets it now, filled from `results` (once; read-only handles go without:
 * readers do not use it).
 */
static int time_index_open(st_results_t *s, MDB_txn *txn, pw_err_t *err)
{
    int rc = mdb_dbi_open(txn, "bytime", 0, &s->dbi_time);
    if (rc == 0) {
        s->has_time = true;
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return lmdb_fail(s, err, rc, "open database bytime");
    if (s->read_only)
        return 0;
    if ((rc = mdb_dbi_open(txn, "bytime", MDB_CREATE, &s->dbi_time)) != 0)
        return lmdb_fail(s, err, rc, "create database bytime");
    s->has_time = true;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, s->dbi_results, &cur)) != 0)
        return lmdb_fail(s, err, rc, "build the time index");
    unsigned char kb[DB_KEY_MAX];
    static const char none = 0;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size < 8 + 2 || k.mv_size > DB_KEY_MAX) {
            mdb_cursor_close(cur);
            return corrupt(s, err, "results", &k, "short key");
        }
        size_t glen = k.mv_size - 8;
        memcpy(kb, (const unsigned char *)k.mv_data + glen, 8);
        memcpy(kb + 8, k.mv_data, glen);
        MDB_val tk = {k.mv_size, kb}, tv = {0, (void *)&none};
        if ((rc = mdb_put(txn, s->dbi_time, &tk, &tv, 0)) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return lmdb_fail(s, err, rc, "build the time index");
    return 0;
}

static int open_dbis(st_results_t *s, pw_err_t *err)
{
    bool ro = s->read_only;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, ro ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        return lmdb_fail(s, err, rc, "open");
    /* A new store is an empty environment: meta missing and nothing else
     * there. Anything else without our format key is not ours. */
    bool created = false;
    rc = mdb_dbi_open(txn, "meta", 0, &s->dbi_meta);
    if (rc == MDB_NOTFOUND && ro) {
        rc = pw_err_set(err, PW_ENOTFOUND,
                        "%s: no result store here (open it for writing once "
                        "to create it)",
                        s->dir);
        goto fail;
    }
    if (rc == MDB_NOTFOUND) {
        /* The main database (FREE_DBI, 0, is LMDB's free list). */
        MDB_stat st;
        MDB_dbi main_dbi;
        if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 ||
            (rc = mdb_stat(txn, main_dbi, &st)) != 0) {
            rc = lmdb_fail(s, err, rc, "open");
            goto fail;
        }
        if (st.ms_entries != 0) {
            rc = not_ours(s, err);
            goto fail;
        }
        created = true;
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->dbi_meta);
    }
    if (rc != 0) {
        rc = lmdb_fail(s, err, rc, "open database meta");
        goto fail;
    }
    if ((rc = format_check(s, txn, created, err)) != 0)
        goto fail;
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"results", &s->dbi_results},
               {"latest", &s->dbi_latest},
               {"checkpoints", &s->dbi_ckpt}};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, ro ? 0 : MDB_CREATE, dbs[i].dbi);
        if (rc == MDB_NOTFOUND) {
            rc = not_ours(s, err);
            goto fail;
        }
        if (rc != 0) {
            rc = lmdb_fail(s, err, rc, "open database");
            goto fail;
        }
    }
    if ((rc = time_index_open(s, txn, err)) != 0)
        goto fail;
    rc = mdb_txn_commit(txn); /* keeps the handles, read-only too */
    return rc == 0 ? 0 : lmdb_fail(s, err, rc, "open");

fail:
    mdb_txn_abort(txn);
    return rc;
}

int st_results_open(const st_results_opts_t *o, st_results_t **out,
                    pw_err_t *err)
{
    int rc = opts_check(o, err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return pw_err_set(err, PW_EARG, "result store %s: out is NULL",
                          o->dir);
    if (!o->read_only && (rc = pw_fs_mkdir_p(o->dir)) != 0)
        return pw_err_set(err, rc,
                          "%s: cannot create the result store directory: %s",
                          o->dir, strerror(-rc));

    st_results_t *s = calloc(1, sizeof *s);
    if (s == NULL || (s->dir = strdup(o->dir)) == NULL) {
        free(s);
        return pw_err_set(err, PW_ENOMEM, "%s: out of memory", o->dir);
    }
    s->read_only = o->read_only;
    s->map_size = o->map_size_mb << 20;
    s->retention_age_ns = o->retention_age_ns;
    s->retention_bytes = o->retention_bytes;
    atomic_init(&s->txn_open, false);
    atomic_init(&s->trimmed, 0);
    atomic_init(&s->stale_ignored, 0);
    atomic_init(&s->commits, 0);

    /* MDB_NOTLS: read transactions are not tied to a thread's slot, so
     * any thread can read, several at once, and a reader may be handed
     * between threads. */
    unsigned flags = MDB_NOTLS;
    if (o->read_only)
        flags |= MDB_RDONLY;
    else if (!o->sync)
        flags |= MDB_NOSYNC;
    if ((rc = mdb_env_create(&s->env)) != 0) {
        s->env = NULL;
        rc = lmdb_fail(s, err, rc, "create environment");
        goto fail;
    }
    if (mdb_env_get_maxkeysize(s->env) < DB_KEY_MAX) {
        rc = pw_err_set(err, PW_EUNSUPPORTED,
                        "%s: this LMDB build takes keys of %d bytes; the "
                        "result store needs %d",
                        s->dir, mdb_env_get_maxkeysize(s->env), DB_KEY_MAX);
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, RES_MAXDBS)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, s->map_size)) != 0) {
        rc = lmdb_fail(s, err, rc, "configure");
        goto fail;
    }
    rc = mdb_env_open(s->env, s->dir, flags, 0664);
    if (rc != 0) {
        if (o->read_only && rc == ENOENT)
            rc = pw_err_set(err, PW_ENOTFOUND, "%s: no result store here",
                            s->dir);
        else
            rc = lmdb_fail(s, err, rc, "open");
        goto fail;
    }
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_size = info.me_mapsize; /* the file's, if it was larger */
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* free slots of killed readers */
    if ((rc = open_dbis(s, err)) != 0)
        goto fail;
    *out = s;
    return 0;

fail:
    if (s->env != NULL)
        mdb_env_close(s->env);
    free(s->dir);
    free(s);
    return rc;
}

void st_results_close(st_results_t *s)
{
    if (s == NULL)
        return;
    assert(!atomic_load(&s->txn_open) &&
           "commit or abort the write transaction before closing");
    mdb_env_close(s->env);
    free(s->dir);
    free(s);
}

/* ---- Write transactions ------------------------------------------------- */

/* Claim the handle's one write transaction. */
static int w_claim(st_results_t *s, const char *what, pw_err_t *err)
{
    if (s->read_only)
        return pw_err_set(err, PW_EUNSUPPORTED,
                          "%s: %s: the result store is open read-only",
                          s->dir, what);
    bool expected = false;
    if (!atomic_compare_exchange_strong(&s->txn_open, &expected, true))
        return pw_err_set(err, PW_EARG,
                          "%s: %s: a write transaction is already open; "
                          "commit or abort it first",
                          s->dir, what);
    return 0;
}

int st_results_begin(st_results_t *s, st_results_txn_t **txn, pw_err_t *err)
{
    if (s == NULL || txn == NULL)
        return pw_err_set(err, PW_EARG, "result store begin: NULL argument");
    int rc = w_claim(s, "begin", err);
    if (rc != 0)
        return rc;
    st_results_txn_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        atomic_store(&s->txn_open, false);
        return pw_err_set(err, PW_ENOMEM, "%s: begin: out of memory", s->dir);
    }
    t->s = s;
    rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
    if (rc != 0) {
        free(t);
        atomic_store(&s->txn_open, false);
        return lmdb_fail(s, err, rc, "begin");
    }
    *txn = t;
    return 0;
}

/* Usable transaction, or why not. */
static int t_check(const st_results_txn_t *t, pw_err_t *err)
{
    if (t == NULL)
        return pw_err_set(err, PW_EARG, "result store: NULL transaction");
    if (t->failed)
        return pw_err_set(err, PW_ECLOSED,
                          "%s: this transaction failed earlier (%s); abort "
                          "it",
                          t->s->dir, t->why.msg);
    return 0;
}

/* End t after an error (LMDB's rc, or our code when rc is 0 and code is
 * set in t->why already): abort it in LMDB, keep why for commit. */
static int t_end(st_results_txn_t *t, pw_err_t *err, int rc,
                 const char *what)
{
    if (rc != 0)
        lmdb_fail(t->s, &t->why, rc, what);
    t->failed = t->why.code;
    mdb_txn_abort(t->txn);
    t->txn = NULL;
    if (err != NULL)
        *err = t->why;
    return t->failed;
}

static int result_check(const st_results_t *s, const pw_result_t *r,
                        size_t index, pw_err_t *err)
{
    char at[48] = "";
    if (index != SIZE_MAX)
        snprintf(at, sizeof at, " (result %zu of the batch)", index);
    if (r == NULL)
        return pw_err_set(err, PW_EARG, "%s: put: NULL result%s", s->dir, at);
    if (r->topic_len == 0 || r->topic == NULL)
        return pw_err_set(err, PW_EARG, "%s: put: empty topic%s", s->dir, at);
    if (r->topic_len > ST_RESULTS_TOPIC_MAX)
        return pw_err_set(err, PW_EARG,
                          "%s: put: topic '%.40s...' of %u bytes; at most "
                          "%d%s",
                          s->dir, r->topic, (unsigned)r->topic_len,
                          ST_RESULTS_TOPIC_MAX, at);
    int tl = (int)r->topic_len;
    if (memchr(r->topic, 0, r->topic_len) != NULL)
        return pw_err_set(err, PW_EARG,
                          "%s: put: topic of %d bytes holds a NUL byte%s",
                          s->dir, tl, at);
    if (r->key == NULL && r->key_len > 0)
        return pw_err_set(err, PW_EARG, "%s: put to '%.*s': NULL key%s",
                          s->dir, tl, r->topic, at);
    if (r->key_len > ST_RESULTS_KEY_MAX)
        return pw_err_set(err, PW_EARG,
                          "%s: put to '%.*s': key of %u bytes; at most %d%s",
                          s->dir, tl, r->topic, (unsigned)r->key_len,
                          ST_RESULTS_KEY_MAX, at);
    if (r->key_len > 0 && memchr(r->key, 0, r->key_len) != NULL)
        return pw_err_set(err, PW_EARG,
                          "%s: put to '%.*s': key holds a NUL byte%s",
                          s->dir, tl, r->topic, at);
    if (r->body == NULL && r->body_len > 0)
        return pw_err_set(err, PW_EARG,
                          "%s: put to '%.*s': NULL body of %u bytes%s",
                          s->dir, tl, r->topic, (unsigned)r->body_len, at);
    return 0;
}

/* Put a checked result. */
static int put_one(st_results_txn_t *t, const pw_result_t *r, pw_err_t *err)
{
    const st_results_t *s = t->s;
    unsigned char *kb = t->key;
    size_t tk_len = (size_t)r->topic_len + 1 + r->key_len;
    size_t lk_len, rk_len;
    const char *tail = NULL;
    uint32_t tail_len = 0;
    memcpy(kb, r->topic, r->topic_len);
    kb[r->topic_len] = 0;
    if (tk_len <= TK_INLINE_MAX) {
        if (r->key_len > 0)
            memcpy(kb + r->topic_len + 1, r->key, r->key_len);
        lk_len = tk_len;
        kb[tk_len] = 0;
        rk_len = tk_len + 1 + 8;
    } else {
        size_t kept = TK_INLINE_MAX - r->topic_len - 1;
        memcpy(kb + r->topic_len + 1, r->key, kept);
        kb[TK_INLINE_MAX] = LONG_MARK;
        put_be64(kb + TK_INLINE_MAX + 1, tk_hash(r));
        lk_len = LONG_GROUP_LEN;
        rk_len = LONG_GROUP_LEN + 8;
        tail = r->key + kept;
        tail_len = (uint32_t)(r->key_len - kept);
    }
    put_ts(kb + rk_len - 8, r->ts_ns);

    /* The latest result says whether this one is the newest, which spares
     * the results lookup on the usual path (results arrive in time). */
    MDB_val k = {lk_len, kb}, v;
    bool newest = true;
    int rc = mdb_get(t->txn, s->dbi_latest, &k, &v);
    if (rc == 0) {
        val_hdr_t h;
        if (!val_decode(&v, &h) || (tail == NULL && h.tail_len != 0)) {
            corrupt(s, &t->why, "latest", &k, "bad value");
            return t_end(t, err, 0, NULL);
        }
        if (h.tail_len != tail_len ||
            (tail_len > 0 &&
             memcmp((const char *)v.mv_data + VAL_HDR, tail, tail_len) != 0))
            return pw_err_set(err, PW_ECAPACITY,
                              "%s: put to '%.*s': key of %u bytes collides "
                              "with a stored key of the same first %d bytes "
                              "and hash; shorten it",
                              s->dir, (int)r->topic_len, r->topic,
                              (unsigned)r->key_len,
                              TK_INLINE_MAX - (int)r->topic_len - 1);
        if (r->ts_ns < h.ts_ns) {
            newest = false;
        } else if (r->ts_ns == h.ts_ns && r->version < h.version) {
            t->stale++;
            return 0;
        }
    } else if (rc != MDB_NOTFOUND) {
        return t_end(t, err, rc, "read latest");
    }

    k.mv_size = rk_len;
    if (!newest) {
        rc = mdb_get(t->txn, s->dbi_results, &k, &v);
        if (rc == 0) {
            val_hdr_t h;
            if (!val_decode(&v, &h)) {
                corrupt(s, &t->why, "results", &k, "bad value");
                return t_end(t, err, 0, NULL);
            }
            if (r->version < h.version) {
                t->stale++;
                return 0;
            }
        } else if (rc != MDB_NOTFOUND) {
            return t_end(t, err, rc, "read result");
        }
    }

    /* MDB_RESERVE: LMDB makes room and we write the value into it, so no
     * buffer of ours holds it first. */
    size_t vlen = VAL_HDR + (size_t)tail_len + r->body_len;
    v = (MDB_val){vlen, NULL};
    if ((rc = mdb_put(t->txn, s->dbi_results, &k, &v, MDB_RESERVE)) != 0)
        return t_end(t, err, rc, "write result");
    val_encode(v.mv_data, r, tail, tail_len);
    /* The time index: ts | group, so retention finds the oldest results
     * of every key first. A replaced result rewrites its own entry. */
    static const char none = 0;
    memcpy(t->key2, kb + rk_len - 8, 8);
    memcpy(t->key2 + 8, kb, rk_len - 8);
    MDB_val ik = {rk_len, t->key2}, iv = {0, (void *)&none};
    if ((rc = mdb_put(t->txn, s->dbi_time, &ik, &iv, 0)) != 0)
        return t_end(t, err, rc, "write time index");
    if (newest) {
        k.mv_size = lk_len;
        v = (MDB_val){vlen, NULL};
        if ((rc = mdb_put(t->txn, s->dbi_latest, &k, &v, MDB_RESERVE)) != 0)
            return t_end(t, err, rc, "write latest");
        val_encode(v.mv_data, r, tail, tail_len);
    }
    return 0;
}

int st_results_put(st_results_txn_t *t, const pw_result_t *r, pw_err_t *err)
{
    int rc;
    if ((rc = t_check(t, err)) != 0 ||
        (rc = result_check(t->s, r, SIZE_MAX, err)) != 0)
        return rc;
    return put_one(t, r, err);
}

int st_results_put_batch(st_results_txn_t *t, const pw_results_t *b,
                         pw_err_t *err)
{
    int rc;
    if ((rc = t_check(t, err)) != 0)
        return rc;
    if (b == NULL || (b->rec == NULL && b->n > 0))
        return pw_err_set(err, PW_EARG, "%s: put: NULL batch", t->s->dir);
    for (size_t i = 0; i < b->n; i++)
        if ((rc = result_check(t->s, &b->rec[i], i, err)) != 0)
            return rc;
    for (size_t i = 0; i < b->n; i++)
        if ((rc = put_one(t, &b->rec[i], err)) != 0)
            return rc;
    return 0;
}

static int name_check(const st_results_t *s, const char *name, pw_err_t *err)
{
    if (name == NULL || name[0] == '\0')
        return pw_err_set(err, PW_EARG, "%s: empty checkpoint name", s->dir);
    size_t n = strnlen(name, ST_RESULTS_NAME_MAX + 1);
    if (n > ST_RESULTS_NAME_MAX)
        return pw_err_set(err, PW_EARG,
                          "%s: checkpoint name '%.40s...' is longer than %d "
                          "bytes",
                          s->dir, name, ST_RESULTS_NAME_MAX);
    return 0;
}

int st_results_checkpoint_put(st_results_txn_t *t, const char *name,
                              const void *blob, size_t len, pw_err_t *err)
{
    int rc;
    if ((rc = t_check(t, err)) != 0 || (rc = name_check(t->s, name, err)))
        return rc;
    if (blob == NULL && len > 0)
        return pw_err_set(err, PW_EARG,
                          "%s: checkpoint '%s': NULL blob of %zu bytes",
                          t->s->dir, name, len);
    static const char none = 0; /* LMDB copies from it even for 0 bytes */
    MDB_val k = {strlen(name), (void *)name};
    MDB_val v = {len, len > 0 ? (void *)blob : (void *)&none};
    if ((rc = mdb_put(t->txn, t->s->dbi_ckpt, &k, &v, 0)) != 0)
        return t_end(t, err, rc, "write checkpoint");
    return 0;
}

int st_results_checkpoint_del(st_results_txn_t *t, const char *name,
                              pw_err_t *err)
{
    int rc;
    if ((rc = t_check(t, err)) != 0 || (rc = name_check(t->s, name, err)))
        return rc;
    MDB_val k = {strlen(name), (void *)name};
    rc = mdb_del(t->txn, t->s->dbi_ckpt, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return t_end(t, err, rc, "delete checkpoint");
    return 0;
}

/* Bytes of the pages the store's databases use in txn. */
static int used_bytes(const st_results_t *s, MDB_txn *txn, uint64_t *out)
{
    MDB_dbi main_dbi;
    int rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (rc != 0)
        return rc;
    MDB_dbi dbis[] = {main_dbi, s->dbi_meta, s->dbi_results, s->dbi_latest,
                      s->dbi_ckpt, s->dbi_time};
    size_t n = sizeof dbis / sizeof dbis[0] - (s->has_time ? 0 : 1);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        MDB_stat st;
        if ((rc = mdb_stat(txn, dbis[i], &st)) != 0)
            return rc;
        bytes += (uint64_t)st.ms_psize *
                 (st.ms_branch_pages + st.ms_leaf_pages +
                  st.ms_overflow_pages);
    }
    *out = bytes;
    return 0;
}

/*
 * After the result (group, ts) was deleted: if it was the group's latest,
 * the group's newest remaining result becomes the latest, or, with none
 * left, the latest entry goes (*gone = true). t->key holds the group.
 */
static int trim_latest(st_results_txn_t *t, MDB_cursor *rcur, size_t glen,
                       int64_t ts, bool *gone)
{
    const st_results_t *s = t->s;
    /* The latest key: an inline group less its 0x00, or a long group. */
    size_t llen = glen == LONG_GROUP_LEN ? glen : glen - 1;
    memcpy(t->key2, t->key, llen);
    MDB_val lk = {llen, t->key2}, lv;
    int rc = mdb_get(t->txn, s->dbi_latest, &lk, &lv);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    val_hdr_t h;
    if (!val_decode(&lv, &h)) {
        corrupt(s, &t->why, "latest", &lk, "bad value");
        return -1;
    }
    if (h.ts_ns > ts)
        return 0; /* a newer result is the latest: it stays */
    /* The group's newest remaining result: the last entry before
     * group | ts 0xff..ff (or that entry itself). */
    memset(t->key + glen, 0xff, 8);
    MDB_val k = {glen + 8, t->key}, v;
    rc = mdb_cursor_get(rcur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && bytes_cmp(k.mv_data, k.mv_size, t->key, glen + 8) != 0)
        rc = mdb_cursor_get(rcur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(rcur, &k, &v, MDB_LAST);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    lk = (MDB_val){llen, t->key2};
    if (rc == 0 && k.mv_size == glen + 8 &&
        memcmp(k.mv_data, t->key, glen) == 0) {
        /* v lies in a page of `results`; writing `latest` leaves it be. */
        return mdb_put(t->txn, s->dbi_latest, &lk, &v, 0);
    }
    *gone = true;
    rc = mdb_del(t->txn, s->dbi_latest, &lk, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int st_results_trim(st_results_txn_t *t, int64_t now_ns, size_t max_results,
                    st_results_trim_t *out, pw_err_t *err)
{
    int rc;
    if ((rc = t_check(t, err)) != 0)
        return rc;
    const st_results_t *s = t->s;
    if (max_results == 0)
        return pw_err_set(err, PW_EARG, "%s: trim: max_results is 0",
                          s->dir);
    st_results_trim_t res = {0, 0, false};
    bool by_age = s->retention_age_ns > 0, by_size = s->retention_bytes > 0;
    if ((!by_age && !by_size) || !s->has_time) {
        if (out != NULL)
            *out = res;
        return 0;
    }
    MDB_cursor *tcur, *rcur;
    if ((rc = mdb_cursor_open(t->txn, s->dbi_time, &tcur)) != 0)
        return t_end(t, err, rc, "trim");
    if ((rc = mdb_cursor_open(t->txn, s->dbi_results, &rcur)) != 0) {
        mdb_cursor_close(tcur);
        return t_end(t, err, rc, "trim");
    }
    MDB_val k, v;
    int64_t cutoff = INT64_MIN; /* results below it are too old */
    if (by_age) {
        rc = mdb_cursor_get(tcur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size >= 8) {
            int64_t newest = get_ts(k.mv_data);
            int64_t ref = newest < now_ns ? newest : now_ns;
            cutoff = ref < INT64_MIN + s->retention_age_ns
                         ? INT64_MIN
                         : ref - s->retention_age_ns;
        } else if (rc != 0 && rc != MDB_NOTFOUND) {
            goto lmdb_fail;
        }
    }
    bool over = false;
    size_t steps = 0, since_look = TRIM_SIZE_EVERY;
    while (steps < max_results) {
        rc = mdb_cursor_get(tcur, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND)
            break;
        if (rc != 0)
            goto lmdb_fail;
        if (k.mv_size < 8 + 2 || k.mv_size > DB_KEY_MAX ||
            (k.mv_size - 8 > TK_INLINE_MAX + 1 &&
             k.mv_size - 8 != LONG_GROUP_LEN)) {
            corrupt(s, &t->why, "bytime", &k, "bad key");
            rc = 0;
            goto ended;
        }
        int64_t ts = get_ts(k.mv_data);
        bool del = ts < cutoff;
        if (!del && by_size) {
            if (since_look >= TRIM_SIZE_EVERY) {
                uint64_t used;
                if ((rc = used_bytes(s, t->txn, &used)) != 0)
                    goto lmdb_fail;
                over = used > s->retention_bytes;
                since_look = 0;
            }
            del = over;
        }
        if (!del)
            break;
        steps++;
        since_look++;
        size_t glen = k.mv_size - 8;
        memcpy(t->key, (const unsigned char *)k.mv_data + 8, glen);
        put_ts(t->key + glen, ts);
        if ((rc = mdb_cursor_del(tcur, 0)) != 0)
            goto lmdb_fail;
        MDB_val rk = {glen + 8, t->key};
        rc = mdb_del(t->txn, s->dbi_results, &rk, NULL);
        if (rc == MDB_NOTFOUND)
            continue; /* an index entry without its result: gone now */
        if (rc != 0)
            goto lmdb_fail;
        res.results++;
        bool gone = false;
        if ((rc = trim_latest(t, rcur, glen, ts, &gone)) != 0) {
            if (rc == -1) {
                rc = 0;
                goto ended;
            }
            goto lmdb_fail;
        }
        res.keys += gone;
    }
    res.more = steps == max_results;
    mdb_cursor_close(rcur);
    mdb_cursor_close(tcur);
    t->trimmed += res.results;
    if (out != NULL)
        *out = res;
    return 0;

lmdb_fail: /* the transaction's end closes its cursors */
ended:
    return t_end(t, err, rc, "trim");
}

int st_results_commit(st_results_txn_t *t, pw_err_t *err)
{
    if (t == NULL)
        return pw_err_set(err, PW_EARG, "result store commit: NULL "
                          "transaction");
    st_results_t *s = t->s;
    int rc;
    if (t->failed) {
        rc = t->failed;
        if (err != NULL)
            *err = t->why;
    } else if ((rc = mdb_txn_commit(t->txn)) != 0) {
        rc = lmdb_fail(s, err, rc, "commit"); /* LMDB freed the txn */
    } else {
        atomic_fetch_add(&s->commits, 1);
        atomic_fetch_add(&s->stale_ignored, t->stale);
        atomic_fetch_add(&s->trimmed, t->trimmed);
    }
    free(t);
    atomic_store(&s->txn_open, false);
    return rc;
}

void st_results_abort(st_results_txn_t *t)
{
    if (t == NULL)
        return;
    if (t->txn != NULL)
        mdb_txn_abort(t->txn);
    atomic_store(&t->s->txn_open, false);
    free(t);
}

int st_results_checkpoint_clear(st_results_t *s, const char *prefix,
                                pw_err_t *err)
{
    if (s == NULL)
        return pw_err_set(err, PW_EARG, "checkpoint clear: NULL store");
    size_t plen = prefix != NULL ? strnlen(prefix, ST_RESULTS_NAME_MAX + 1)
                                 : 0;
    if (plen > ST_RESULTS_NAME_MAX)
        return pw_err_set(err, PW_EARG,
                          "%s: checkpoint prefix longer than %d bytes",
                          s->dir, ST_RESULTS_NAME_MAX);
    int rc = w_claim(s, "clear checkpoints", err);
    if (rc != 0)
        return rc;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    if ((rc = mdb_cursor_open(txn, s->dbi_ckpt, &cur)) != 0)
        goto fail;
    if (plen == 0)
        prefix = "";
    MDB_val k = {plen, (void *)prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            goto fail;
        /* After a delete, MDB_NEXT yields the entry that followed it. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    mdb_cursor_close(cur);
    cur = NULL;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    atomic_fetch_add(&s->commits, 1);
    atomic_store(&s->txn_open, false);
    return 0;

fail:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    atomic_store(&s->txn_open, false);
    return lmdb_fail(s, err, rc, "clear checkpoints");
}

/* ---- Readers ------------------------------------------------------------ */

static int r_begin(const st_results_t *s, MDB_txn **txn, const char *what,
                   pw_err_t *err)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    return rc == 0 ? 0 : lmdb_fail(s, err, rc, what);
}

int st_results_checkpoint_get(st_results_t *s, const char *name, void **blob,
                              size_t *len, pw_err_t *err)
{
    if (s == NULL || blob == NULL || len == NULL)
        return pw_err_set(err, PW_EARG, "checkpoint get: NULL argument");
    int rc = name_check(s, name, err);
    MDB_txn *txn;
    if (rc != 0 || (rc = r_begin(s, &txn, "read checkpoint", err)) != 0)
        return rc;
    MDB_val k = {strlen(name), (void *)name}, v;
    rc = mdb_get(txn, s->dbi_ckpt, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc = pw_err_set(err, PW_ENOTFOUND, "%s: no checkpoint '%s'", s->dir,
                        name);
    } else if (rc != 0) {
        rc = lmdb_fail(s, err, rc, "read checkpoint");
    } else {
        void *p = malloc(v.mv_size > 0 ? v.mv_size : 1);
        if (p == NULL) {
            rc = pw_err_set(err, PW_ENOMEM,
                            "%s: checkpoint '%s': out of memory for %zu "
                            "bytes",
                            s->dir, name, v.mv_size);
        } else {
            if (v.mv_size > 0)
                memcpy(p, v.mv_data, v.mv_size);
            *blob = p;
            *len = v.mv_size;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int st_results_stats(st_results_t *s, st_results_stats_t *out, pw_err_t *err)
{
    if (s == NULL || out == NULL)
        return pw_err_set(err, PW_EARG, "result store stats: NULL argument");
    MDB_txn *txn;
    int rc = r_begin(s, &txn, "stats", err);
    if (rc != 0)
        return rc;
    MDB_stat rs, ls;
    if ((rc = mdb_stat(txn, s->dbi_results, &rs)) != 0 ||
        (rc = mdb_stat(txn, s->dbi_latest, &ls)) != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(s, err, rc, "stats");
    }
    uint64_t used = 0;
    rc = used_bytes(s, txn, &used);
    mdb_txn_abort(txn);
    if (rc != 0)
        return lmdb_fail(s, err, rc, "stats");
    out->results = rs.ms_entries;
    out->used_bytes = used;
    out->trimmed = atomic_load(&s->trimmed);
    out->keys = ls.ms_entries;
    out->stale_ignored = atomic_load(&s->stale_ignored);
    out->commits = atomic_load(&s->commits);
    return 0;
}

/*
 * A walk over `results` (keys end with ts) or `latest`, with the filters
 * of scan/latest. Every entry in range starts with sp (topic | 0x00 |
 * key prefix, cut to the kept bytes of tk); entries that fail a filter
 * are skipped by seeking forward, never by reading them all.
 */
typedef struct walk {
    const st_results_t *s;
    const char *db;
    MDB_cursor *cur;
    bool has_ts;
    const char *kp;           /* key prefix, kp_len bytes */
    size_t kp_len;
    int64_t from_ns, to_ns;
    bool to_open;             /* to_ns = INT64_MAX: no upper bound */
    size_t sp_len;
    unsigned char sp[TK_INLINE_MAX];
    unsigned char seek[DB_KEY_MAX];
    char keybuf[ST_RESULTS_KEY_MAX]; /* a long key, put together */
} walk_t;

/* Where one entry's parts lie. */
typedef struct ent {
    size_t glen;       /* bytes of its group (its key less the ts) */
    size_t topic_len;
    pw_result_t r;
} ent_t;

static int ent_decode(walk_t *w, const MDB_val *k, const MDB_val *v, ent_t *e,
                      pw_err_t *err)
{
    const unsigned char *kb = k->mv_data;
    size_t n = k->mv_size;
    if (w->has_ts && n < 8 + 2)
        return corrupt(w->s, err, w->db, k, "short key");
    size_t glen = w->has_ts ? n - 8 : n;
    size_t tmax = glen < ST_RESULTS_TOPIC_MAX + 1 ? glen
                                                  : ST_RESULTS_TOPIC_MAX + 1;
    const unsigned char *z = memchr(kb, 0, tmax);
    if (z == NULL || z == kb)
        return corrupt(w->s, err, w->db, k, "no topic");
    size_t tl = (size_t)(z - kb);
    val_hdr_t h;
    if (!val_decode(v, &h))
        return corrupt(w->s, err, w->db, k, "bad value");
    const char *key;
    size_t key_len;
    if (glen == LONG_GROUP_LEN) {
        size_t kept = TK_INLINE_MAX - tl - 1;
        if (kb[TK_INLINE_MAX] != LONG_MARK || h.tail_len == 0 ||
            kept + h.tail_len > ST_RESULTS_KEY_MAX)
            return corrupt(w->s, err, w->db, k, "bad long key");
        memcpy(w->keybuf, kb + tl + 1, kept);
        memcpy(w->keybuf + kept, (const char *)v->mv_data + VAL_HDR,
               h.tail_len);
        key = w->keybuf;
        key_len = kept + h.tail_len;
    } else {
        size_t tk_len = w->has_ts ? glen - 1 : glen;
        if (glen > TK_INLINE_MAX + (w->has_ts ? 1u : 0u) || h.tail_len != 0 ||
            (w->has_ts && kb[glen - 1] != 0) || tk_len < tl + 1)
            return corrupt(w->s, err, w->db, k, "bad key");
        key = (const char *)kb + tl + 1;
        key_len = tk_len - tl - 1;
    }
    if (w->has_ts && get_ts(kb + glen) != h.ts_ns)
        return corrupt(w->s, err, w->db, k, "time in key and value differ");
    size_t body_len = v->mv_size - VAL_HDR - h.tail_len;
    if (body_len > UINT32_MAX)
        return corrupt(w->s, err, w->db, k, "body above 4 GiB");
    e->glen = glen;
    e->topic_len = tl;
    e->r = (pw_result_t){
        .ts_ns = h.ts_ns,
        .version = h.version,
        .topic_len = (uint32_t)tl,
        .key_len = (uint32_t)key_len,
        .body_len = (uint32_t)body_len,
        .topic = (const char *)kb,
        .key = key,
        .body = (const uint8_t *)v->mv_data + VAL_HDR + h.tail_len,
    };
    return 0;
}

/* Past the current entry's group: to the next group (or the end). */
static int skip_group(walk_t *w, MDB_val *k, MDB_val *v, const ent_t *e)
{
    if (!w->has_ts) /* a latest entry is its own group */
        return mdb_cursor_get(w->cur, k, v, MDB_NEXT);
    memcpy(w->seek, k->mv_data, e->glen);
    memset(w->seek + e->glen, 0xff, 8);
    size_t len = e->glen + 8;
    *k = (MDB_val){len, w->seek};
    int rc = mdb_cursor_get(w->cur, k, v, MDB_SET_RANGE);
    if (rc == 0 && bytes_cmp(k->mv_data, k->mv_size, w->seek, len) == 0)
        rc = mdb_cursor_get(w->cur, k, v, MDB_NEXT); /* ts was INT64_MAX */
    return rc;
}

/* Seek to the first entry >= w->seek[0..len); if that is not past the
 * current entry (a long key cut short), skip its group instead. */
static int seek_fwd(walk_t *w, MDB_val *k, MDB_val *v, size_t len,
                    const ent_t *e)
{
    if (bytes_cmp(w->seek, len, k->mv_data, k->mv_size) <= 0)
        return skip_group(w, k, v, e);
    *k = (MDB_val){len, w->seek};
    return mdb_cursor_get(w->cur, k, v, MDB_SET_RANGE);
}

static int walk_run(walk_t *w, st_results_fn fn, void *ctx, pw_err_t *err)
{
    MDB_val k = {w->sp_len, w->sp}, v;
    int rc = mdb_cursor_get(w->cur, &k, &v,
                            w->sp_len > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size < w->sp_len || memcmp(k.mv_data, w->sp, w->sp_len) != 0)
            break; /* past every entry of the topic and prefix */
        ent_t e;
        int ret = ent_decode(w, &k, &v, &e, err);
        if (ret != 0)
            return ret;
        if (w->kp_len > 0) {
            int c = prefix_cmp(e.r.key, e.r.key_len, w->kp, w->kp_len);
            if (c < 0) { /* to the topic's first key with the prefix */
                size_t len = e.topic_len + 1 + w->kp_len;
                if (len > TK_INLINE_MAX)
                    len = TK_INLINE_MAX;
                memcpy(w->seek, k.mv_data, e.topic_len + 1);
                memcpy(w->seek + e.topic_len + 1, w->kp,
                       len - e.topic_len - 1);
                rc = seek_fwd(w, &k, &v, len, &e);
                continue;
            }
            if (c > 0) { /* to the next topic: topic | 0x01 */
                memcpy(w->seek, k.mv_data, e.topic_len);
                w->seek[e.topic_len] = 0x01;
                rc = seek_fwd(w, &k, &v, e.topic_len + 1, &e);
                continue;
            }
        }
        if (w->has_ts && e.r.ts_ns < w->from_ns) {
            memcpy(w->seek, k.mv_data, e.glen);
            put_ts(w->seek + e.glen, w->from_ns);
            rc = seek_fwd(w, &k, &v, e.glen + 8, &e);
            continue;
        }
        if (w->has_ts && !w->to_open && e.r.ts_ns >= w->to_ns) {
            rc = skip_group(w, &k, &v, &e);
            continue;
        }
        if ((ret = fn(ctx, &e.r)) != 0)
            return ret;
        rc = mdb_cursor_get(w->cur, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_fail(w->s, err, rc, w->db);
    return 0;
}

static int walk(st_results_t *s, bool has_ts, const char *topic,
                const char *key_prefix, int64_t from_ns, int64_t to_ns,
                st_results_fn fn, void *ctx, pw_err_t *err)
{
    const char *what = has_ts ? "scan" : "latest";
    if (s == NULL || fn == NULL)
        return pw_err_set(err, PW_EARG, "result store %s: NULL store or "
                          "callback", what);
    size_t tl = 0;
    if (topic != NULL) {
        tl = strnlen(topic, ST_RESULTS_TOPIC_MAX + 1);
        if (tl == 0 || tl > ST_RESULTS_TOPIC_MAX)
            return pw_err_set(err, PW_EARG, "%s: %s: %s topic", s->dir,
                              what, tl == 0 ? "empty" : "over-long (> 255 "
                              "bytes)");
    }
    size_t kpl = key_prefix != NULL
                     ? strnlen(key_prefix, ST_RESULTS_KEY_MAX + 1)
                     : 0;
    if (kpl > ST_RESULTS_KEY_MAX)
        return pw_err_set(err, PW_EARG,
                          "%s: %s: key prefix longer than %d bytes", s->dir,
                          what, ST_RESULTS_KEY_MAX);
    if (has_ts && to_ns != INT64_MAX && from_ns >= to_ns)
        return 0; /* an empty time range */

    walk_t *w = malloc(sizeof *w);
    if (w == NULL)
        return pw_err_set(err, PW_ENOMEM, "%s: %s: out of memory", s->dir,
                          what);
    *w = (walk_t){
        .s = s,
        .db = has_ts ? "results" : "latest",
        .has_ts = has_ts,
        .kp = key_prefix,
        .kp_len = kpl,
        .from_ns = from_ns,
        .to_ns = to_ns,
        .to_open = to_ns == INT64_MAX,
    };
    if (topic != NULL) {
        size_t len = tl + 1 + kpl;
        if (len > TK_INLINE_MAX)
            len = TK_INLINE_MAX;
        memcpy(w->sp, topic, tl);
        w->sp[tl] = 0;
        memcpy(w->sp + tl + 1, key_prefix == NULL ? "" : key_prefix,
               len - tl - 1);
        w->sp_len = len;
    }
    MDB_txn *txn;
    int rc = r_begin(s, &txn, what, err);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, has_ts ? s->dbi_results : s->dbi_latest,
                             &w->cur);
        if (rc != 0) {
            rc = lmdb_fail(s, err, rc, what);
        } else {
            rc = walk_run(w, fn, ctx, err);
            mdb_cursor_close(w->cur);
        }
        mdb_txn_abort(txn);
    }
    free(w);
    return rc;
}

int st_results_scan(st_results_t *s, const char *topic,
                    const char *key_prefix, int64_t from_ns, int64_t to_ns,
                    st_results_fn fn, void *ctx, pw_err_t *err)
{
    return walk(s, true, topic, key_prefix, from_ns, to_ns, fn, ctx, err);
}

int st_results_latest(st_results_t *s, const char *topic,
                      const char *key_prefix, st_results_fn fn, void *ctx,
                      pw_err_t *err)
{
    return walk(s, false, topic, key_prefix, INT64_MIN, INT64_MAX, fn, ctx,
                err);
}
