#include "store/st_log.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/*
 * Layout (docs/log.md has the long form). Keys are big-endian so LMDB's
 * byte order is numeric order; values are host-order structs read and
 * written with memcpy (LMDB gives values 2-byte alignment only).
 *   meta:      "version" -> u32, "next_topic_id" -> u32
 *   topics:    name -> topic_rec_t
 *   parts:     topic id (4) | partition (4) -> part_rec_t
 *   log:       topic id (4) | partition (4) | offset (8)
 *                 -> msg_hdr_t + key + payload
 *   positions: group bytes | 0 | topic id (4) | partition (4) -> pos_rec_t
 */
#define LOG_FORMAT_VERSION 1u

/* Partition states one write transaction keeps before writing them back. */
#define PCACHE_MAX 64

/* Topics one write transaction remembers by name. */
#define TCACHE_MAX 8

/* Named databases in the environment. */
#define LOG_MAXDBS 8

/* Largest map accepted, in MiB (16 TiB). */
#define MAP_SIZE_MB_MAX ((size_t)1 << 24)

typedef struct topic_rec {
    uint32_t id;
    int32_t partitions;
    int64_t max_age_ms;
    int64_t max_bytes;
    int64_t created_ns;
} topic_rec_t;

typedef struct part_rec {
    int64_t earliest;
    int64_t next;
    int64_t bytes;
} part_rec_t;

typedef struct msg_hdr {
    int64_t ts_ns;
    uint32_t key_len;
    uint32_t payload_len;
} msg_hdr_t;

typedef struct pos_rec {
    int64_t next_offset;
    int64_t ts_ns;
} pos_rec_t;

_Static_assert(sizeof(msg_hdr_t) == ST_LOG_HEADER_BYTES, "header size");
_Static_assert(sizeof(topic_rec_t) == 32, "topic record has no padding");

typedef struct pcache_ent {
    uint32_t tid;
    int32_t part;
    bool dirty;
    part_rec_t rec;
} pcache_ent_t;

typedef struct tcache_ent {
    char name[PW_STREAM_TOPIC_MAX + 1];
    topic_rec_t rec;
} tcache_ent_t;

struct st_log {
    /* Set at open, read-only afterwards: any thread. */
    MDB_env *env;
    MDB_dbi dbi_meta, dbi_topics, dbi_parts, dbi_log, dbi_pos;
    st_log_opts_t opts; /* opts.dir points to dir */
    char *dir;
    size_t map_size;
    int64_t group_ns;
    atomic_int nreaders;
    _Atomic uint64_t acked_seq;

    /* Owner thread only. */
    MDB_txn *wtxn;          /* open write transaction, or NULL */
    int fatal;              /* LMDB code that broke the log, or 0 */
    uint64_t seq;           /* seq of the latest append */
    uint64_t committed_seq; /* seq of the latest committed append */
    bool unsynced;          /* group: committed_seq > acked_seq */
    int64_t sync_due_ns;    /* group: when to sync if no commit comes */
    uint64_t pending_ops;   /* writes in wtxn since it began */
    size_t pending_bytes;   /* bytes appended in wtxn */
    int64_t pending_since_ns, due_ns;
    int64_t last_now_ns;    /* latest clock seen; INT64_MIN before any */
    uint32_t rr;            /* round-robin cursor for unkeyed appends */
    size_t npc, ntc, tc_next;
    pcache_ent_t pc[PCACHE_MAX];
    tcache_ent_t tc[TCACHE_MAX];
};

struct st_log_reader {
    st_log_t *log;
    MDB_txn *txn;    /* reset between calls unless active */
    MDB_cursor *cur; /* on "log" */
    bool active;
    pw_stream_part_info_t *parts;
    size_t parts_cap;
    char name[PW_STREAM_TOPIC_MAX + 1];
};

/* ---- Small helpers ------------------------------------------------------ */

static void put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static uint64_t get_be64(const unsigned char *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void part_key(unsigned char k[8], uint32_t tid, int32_t part)
{
    put_be32(k, tid);
    put_be32(k + 4, (uint32_t)part);
}

static void log_key(unsigned char k[16], uint32_t tid, int32_t part,
                    int64_t offset)
{
    part_key(k, tid, part);
    put_be64(k + 8, (uint64_t)offset);
}

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

int64_t st_log_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

st_log_opts_t st_log_opts_default(void)
{
    st_log_opts_t o = {
        .dir = NULL,
        .map_size_mb = ST_LOG_MAP_SIZE_MB_DEFAULT,
        .durability = ST_LOG_GROUP,
        .group_commit_ms = ST_LOG_GROUP_COMMIT_MS_DEFAULT,
        .max_pending_bytes = ST_LOG_MAX_PENDING_BYTES_DEFAULT,
        .read_only = false,
    };
    return o;
}

/* Translate an LMDB failure: what failed, where, why. */
static int lmdb_fail(const st_log_t *log, pw_err_t *err, int rc,
                     const char *what)
{
    if (rc == MDB_MAP_FULL)
        return pw_err_set(err, PW_EFULL,
                          "%s: log full: map size %zu MiB reached; raise "
                          "log.map_size_mb or lower retention (%s)",
                          log->dir, log->map_size >> 20, what);
    if (rc == MDB_NOTFOUND)
        return pw_err_set(err, PW_ENOTFOUND, "%s: %s: not found", log->dir,
                          what);
    if (rc == MDB_MAP_RESIZED)
        return pw_err_set(err, PW_ESTORE,
                          "%s: %s: another process grew the log beyond this "
                          "process's map size (%zu MiB); reopen it with the "
                          "same log.map_size_mb as the writer",
                          log->dir, what, log->map_size >> 20);
    return pw_err_set(err, PW_ESTORE, "%s: %s: %s", log->dir, what,
                      mdb_strerror(rc));
}

static int corrupt(const st_log_t *log, pw_err_t *err, const char *what,
                   const char *topic, int32_t part, int64_t offset)
{
    return pw_err_set(err, PW_ECORRUPT,
                      "%s: topic '%s' partition %d offset %lld: %s", log->dir,
                      topic, (int)part, (long long)offset, what);
}

static int topic_get(const st_log_t *log, MDB_txn *txn, const char *topic,
                     topic_rec_t *rec, pw_err_t *err)
{
    MDB_val k = {strlen(topic), (void *)topic}, v;
    int rc = mdb_get(txn, log->dbi_topics, &k, &v);
    if (rc == MDB_NOTFOUND)
        return pw_err_set(err, PW_ENOTFOUND, "%s: unknown topic '%s'",
                          log->dir, topic);
    if (rc != 0)
        return lmdb_fail(log, err, rc, "read topic");
    if (v.mv_size != sizeof *rec)
        return corrupt(log, err, "bad topic record", topic, -1, -1);
    memcpy(rec, v.mv_data, sizeof *rec);
    if (rec->partitions < 1 || rec->partitions > PW_STREAM_PARTITIONS_MAX)
        return corrupt(log, err, "bad partition count", topic, -1, -1);
    return 0;
}

static int part_check(const st_log_t *log, const char *topic,
                      const topic_rec_t *t, int32_t partition, pw_err_t *err)
{
    if (partition >= 0 && partition < t->partitions)
        return 0;
    return pw_err_set(err, PW_EARG,
                      "%s: topic '%s' has %d partition%s (0..%d); there is "
                      "no partition %d",
                      log->dir, topic, (int)t->partitions,
                      t->partitions == 1 ? "" : "s", (int)t->partitions - 1,
                      (int)partition);
}

static int part_load(const st_log_t *log, MDB_txn *txn, const char *topic,
                     uint32_t tid, int32_t part, part_rec_t *rec,
                     pw_err_t *err)
{
    unsigned char kb[8];
    part_key(kb, tid, part);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = mdb_get(txn, log->dbi_parts, &k, &v);
    if (rc == MDB_NOTFOUND)
        return corrupt(log, err, "partition record missing", topic, part, -1);
    if (rc != 0)
        return lmdb_fail(log, err, rc, "read partition");
    if (v.mv_size != sizeof *rec)
        return corrupt(log, err, "bad partition record", topic, part, -1);
    memcpy(rec, v.mv_data, sizeof *rec);
    return 0;
}

static int args_topic(const st_log_t *log, const char *topic, pw_err_t *err)
{
    if (log == NULL)
        return pw_err_set(err, PW_EARG, "log handle is NULL");
    return pw_stream_topic_check(topic, err);
}

static int retention_check(const st_log_t *log, const char *topic,
                           const pw_stream_retention_t *ret, pw_err_t *err)
{
    if (ret != NULL && (ret->max_age_ms < 0 || ret->max_bytes < 0))
        return pw_err_set(err, PW_EARG,
                          "%s: topic '%s': negative retention (0 = unlimited)",
                          log->dir, topic);
    return 0;
}

/* ---- Write transaction -------------------------------------------------- */

static int w_check(const st_log_t *log, pw_err_t *err)
{
    if (log->fatal)
        return pw_err_set(err, PW_ECLOSED,
                          "%s: log failed earlier (%s); close it", log->dir,
                          mdb_strerror(log->fatal));
    if (log->opts.read_only)
        return pw_err_set(err, PW_EUNSUPPORTED, "%s: log is open read-only",
                          log->dir);
    return 0;
}

static void w_reset(st_log_t *log)
{
    log->wtxn = NULL;
    log->pending_ops = 0;
    log->pending_bytes = 0;
    log->pending_since_ns = INT64_MAX;
    log->due_ns = INT64_MAX;
    log->npc = 0;
    log->ntc = 0;
    log->tc_next = 0;
}

/* fsync the file: every commit so far becomes durable. */
static int w_sync(st_log_t *log)
{
    int rc = mdb_env_sync(log->env, 1);
    if (rc == 0) {
        atomic_store(&log->acked_seq, log->committed_seq);
        log->unsynced = false;
    }
    return rc;
}

/* Drop the open transaction and every append it held; acknowledge what
 * was committed if the disk lets us, so that "resend after acked_seq"
 * resends exactly the discarded appends. */
static void w_discard(st_log_t *log)
{
    if (log->wtxn != NULL)
        mdb_txn_abort(log->wtxn);
    w_reset(log);
    log->seq = log->committed_seq;
    if (log->unsynced)
        (void)w_sync(log);
}

/* An LMDB call in the write transaction failed: discard, then explain. */
static int w_fail(st_log_t *log, pw_err_t *err, int rc, const char *what)
{
    w_discard(log);
    if (rc == MDB_PANIC)
        log->fatal = rc;
    return lmdb_fail(log, err, rc, what);
}

/* A call failed before writing anything: release an empty transaction. */
static int w_release_if_empty(st_log_t *log, int rc)
{
    if (log->wtxn != NULL && log->pending_ops == 0) {
        mdb_txn_abort(log->wtxn);
        w_reset(log);
    }
    return rc;
}

static int w_begin(st_log_t *log, pw_err_t *err)
{
    if (log->wtxn != NULL)
        return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(log->env, NULL, 0, &txn);
    if (rc != 0) {
        if (rc == MDB_PANIC)
            log->fatal = rc;
        return lmdb_fail(log, err, rc, "begin write");
    }
    w_reset(log);
    log->wtxn = txn;
    return 0;
}

static int w_put_parts(st_log_t *log, pw_err_t *err)
{
    for (size_t i = 0; i < log->npc; i++) {
        pcache_ent_t *e = &log->pc[i];
        if (!e->dirty)
            continue;
        unsigned char kb[8];
        part_key(kb, e->tid, e->part);
        MDB_val k = {sizeof kb, kb}, v = {sizeof e->rec, &e->rec};
        int rc = mdb_put(log->wtxn, log->dbi_parts, &k, &v, 0);
        if (rc != 0)
            return w_fail(log, err, rc, "write partition state");
        e->dirty = false;
    }
    return 0;
}

static int w_commit(st_log_t *log, pw_err_t *err)
{
    if (log->wtxn == NULL)
        return 0;
    int rc = w_put_parts(log, err);
    if (rc != 0)
        return rc;
    MDB_txn *txn = log->wtxn;
    log->wtxn = NULL; /* commit frees it, whatever the outcome */
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        return w_fail(log, err, rc, "commit");
    w_reset(log);
    if (log->opts.durability == ST_LOG_GROUP) {
        /* MDB_NOMETASYNC: this commit fsynced its data, and with it the
         * meta page of the previous commit, not its own meta page. */
        atomic_store(&log->acked_seq, log->committed_seq);
        log->committed_seq = log->seq;
        log->unsynced = log->committed_seq != log->acked_seq;
        log->sync_due_ns = sat_add(log->last_now_ns, log->group_ns);
    } else {
        log->committed_seq = log->seq;
        atomic_store(&log->acked_seq, log->seq);
    }
    return 0;
}

static void w_clock(st_log_t *log, int64_t now_ns)
{
    if (now_ns > log->last_now_ns)
        log->last_now_ns = now_ns;
}

/* Count a write into the pending group. */
static void w_mark(st_log_t *log, int64_t now_ns, size_t bytes)
{
    log->pending_ops++;
    log->pending_bytes += bytes;
    if (log->pending_since_ns == INT64_MAX) {
        log->pending_since_ns = now_ns;
        log->due_ns = sat_add(now_ns, log->group_ns);
    }
}

static bool group_due(const st_log_t *log, int64_t now_ns)
{
    return log->pending_bytes >= log->opts.max_pending_bytes ||
           now_ns >= log->due_ns || now_ns < log->pending_since_ns;
}

/* End a write call: commit now unless group mode lets it wait. */
static int w_end(st_log_t *log, int64_t now_ns, pw_err_t *err)
{
    if (log->wtxn == NULL)
        return 0;
    if (log->opts.durability != ST_LOG_GROUP || group_due(log, now_ns))
        return w_commit(log, err);
    return 0;
}

/* Partition state in the write transaction, cached until it ends. */
static int pc_get(st_log_t *log, const char *topic, uint32_t tid,
                  int32_t part, pcache_ent_t **out, pw_err_t *err)
{
    for (size_t i = 0; i < log->npc; i++) {
        if (log->pc[i].tid == tid && log->pc[i].part == part) {
            *out = &log->pc[i];
            return 0;
        }
    }
    int rc;
    if (log->npc == PCACHE_MAX) {
        if ((rc = w_put_parts(log, err)) != 0)
            return rc;
        log->npc = 0;
    }
    pcache_ent_t *e = &log->pc[log->npc];
    if ((rc = part_load(log, log->wtxn, topic, tid, part, &e->rec, err)) != 0)
        return rc;
    e->tid = tid;
    e->part = part;
    e->dirty = false;
    log->npc++;
    *out = e;
    return 0;
}

/* Topic record by name in the write transaction, cached until it ends. */
static int tc_get(st_log_t *log, const char *topic, topic_rec_t *rec,
                  pw_err_t *err)
{
    for (size_t i = 0; i < log->ntc; i++) {
        if (strcmp(log->tc[i].name, topic) == 0) {
            *rec = log->tc[i].rec;
            return 0;
        }
    }
    int rc = topic_get(log, log->wtxn, topic, rec, err);
    if (rc != 0)
        return rc;
    tcache_ent_t *e;
    if (log->ntc < TCACHE_MAX) {
        e = &log->tc[log->ntc++];
    } else {
        e = &log->tc[log->tc_next];
        log->tc_next = (log->tc_next + 1) % TCACHE_MAX;
    }
    snprintf(e->name, sizeof e->name, "%s", topic);
    e->rec = *rec;
    return 0;
}

/* ---- Open and close ----------------------------------------------------- */

/*
 * Why (see st_log.h): LMDB frees each group's dirty pages at commit, and
 * glibc's default trimming would fault them in again for every group.
 * Setting these also fixes glibc's mmap threshold at 128 KiB (its dynamic
 * adjustment turns off).
 */
void st_log_tune_heap(size_t max_pending_bytes)
{
    static atomic_flag done = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&done))
        return;
    size_t pad = max_pending_bytes < (size_t)INT_MAX / 4 ? max_pending_bytes
                                                         : (size_t)INT_MAX / 4;
    mallopt(M_TOP_PAD, (int)pad);
    mallopt(M_TRIM_THRESHOLD, (int)(2 * pad));
}

static int opts_check(const st_log_opts_t *o, pw_err_t *err)
{
    if (o == NULL || o->dir == NULL || o->dir[0] == '\0')
        return pw_err_set(err, PW_EARG, "log: no directory given");
    if (o->map_size_mb == 0 || o->map_size_mb > MAP_SIZE_MB_MAX)
        return pw_err_set(err, PW_EARG,
                          "log %s: map_size_mb %zu; expected 1..%zu", o->dir,
                          o->map_size_mb, MAP_SIZE_MB_MAX);
    if (o->durability != ST_LOG_SYNC && o->durability != ST_LOG_GROUP &&
        o->durability != ST_LOG_NONE)
        return pw_err_set(err, PW_EARG,
                          "log %s: unknown durability mode %d; expected sync, "
                          "group or none",
                          o->dir, (int)o->durability);
    if (o->group_commit_ms < 0)
        return pw_err_set(err, PW_EARG,
                          "log %s: group_commit_ms %d is negative", o->dir,
                          o->group_commit_ms);
    if (o->max_pending_bytes == 0)
        return pw_err_set(err, PW_EARG, "log %s: max_pending_bytes is 0",
                          o->dir);
    return 0;
}

static int open_dbis(st_log_t *log, pw_err_t *err)
{
    bool ro = log->opts.read_only;
    unsigned flags = ro ? 0 : MDB_CREATE;
    MDB_txn *txn;
    int rc = mdb_txn_begin(log->env, NULL, ro ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        return lmdb_fail(log, err, rc, "open");
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &log->dbi_meta},     {"topics", &log->dbi_topics},
               {"parts", &log->dbi_parts},   {"log", &log->dbi_log},
               {"positions", &log->dbi_pos}};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
        if (rc == MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            return pw_err_set(err, PW_ENOTFOUND,
                              "%s: no stream log here (open it for writing "
                              "once to create it)",
                              log->dir);
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            return lmdb_fail(log, err, rc, "open database");
        }
    }
    MDB_val k = {7, "version"}, v;
    rc = mdb_get(txn, log->dbi_meta, &k, &v);
    if (rc == MDB_NOTFOUND && !ro) {
        uint32_t ver = LOG_FORMAT_VERSION, next_id = 1;
        MDB_val vv = {sizeof ver, &ver};
        MDB_val kn = {13, "next_topic_id"}, vn = {sizeof next_id, &next_id};
        rc = mdb_put(txn, log->dbi_meta, &k, &vv, 0);
        if (rc == 0)
            rc = mdb_put(txn, log->dbi_meta, &kn, &vn, 0);
    } else if (rc == 0) {
        uint32_t ver = 0;
        if (v.mv_size == sizeof ver)
            memcpy(&ver, v.mv_data, sizeof ver);
        if (ver != LOG_FORMAT_VERSION) {
            mdb_txn_abort(txn);
            return pw_err_set(err, PW_EVERSION,
                              "%s: stream log format %u; this build reads "
                              "format %u",
                              log->dir, ver, LOG_FORMAT_VERSION);
        }
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        if (rc == MDB_NOTFOUND)
            return pw_err_set(err, PW_ENOTFOUND,
                              "%s: no stream log here (no format version)",
                              log->dir);
        return lmdb_fail(log, err, rc, "open");
    }
    rc = mdb_txn_commit(txn); /* keeps the handles, read-only too */
    if (rc != 0)
        return lmdb_fail(log, err, rc, "open");
    return 0;
}

int st_log_open(const st_log_opts_t *opts, st_log_t **out, pw_err_t *err)
{
    int rc = opts_check(opts, err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return pw_err_set(err, PW_EARG, "log %s: out is NULL", opts->dir);
    if (!opts->read_only && mkdir(opts->dir, 0775) != 0 && errno != EEXIST)
        return pw_err_set(err, -errno, "%s: cannot create log directory: %s",
                          opts->dir, strerror(errno));

    st_log_t *log = calloc(1, sizeof *log);
    if (log == NULL || (log->dir = strdup(opts->dir)) == NULL) {
        free(log);
        return pw_err_set(err, PW_ENOMEM, "%s: out of memory", opts->dir);
    }
    log->opts = *opts;
    log->opts.dir = log->dir;
    log->group_ns = (int64_t)opts->group_commit_ms * 1000000;
    log->last_now_ns = INT64_MIN;
    atomic_init(&log->nreaders, 0);
    atomic_init(&log->acked_seq, 0);
    w_reset(log);

    size_t map = opts->map_size_mb << 20;
    log->map_size = map;

    /* Flags and why: docs/log.md, "LMDB flags". */
    unsigned flags = MDB_NOTLS;
    if (opts->read_only)
        flags |= MDB_RDONLY;
    else if (opts->durability == ST_LOG_NONE)
        flags |= MDB_NOSYNC;
    else if (opts->durability == ST_LOG_GROUP)
        flags |= MDB_NOMETASYNC;

    if (!opts->read_only && opts->durability == ST_LOG_GROUP)
        st_log_tune_heap(opts->max_pending_bytes);
    if ((rc = mdb_env_create(&log->env)) != 0) {
        log->env = NULL;
        rc = lmdb_fail(log, err, rc, "create environment");
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(log->env, LOG_MAXDBS)) != 0 ||
        (rc = mdb_env_set_mapsize(log->env, map)) != 0) {
        rc = lmdb_fail(log, err, rc, "configure");
        goto fail;
    }
    rc = mdb_env_open(log->env, log->dir, flags, 0664);
    if (rc != 0) {
        if (opts->read_only && rc == ENOENT)
            rc = pw_err_set(err, PW_ENOTFOUND, "%s: no stream log here",
                            log->dir);
        else
            rc = lmdb_fail(log, err, rc, "open");
        goto fail;
    }
    MDB_envinfo info;
    mdb_env_info(log->env, &info);
    log->map_size = info.me_mapsize;
    int dead = 0;
    mdb_reader_check(log->env, &dead); /* free slots of killed readers */
    if ((rc = open_dbis(log, err)) != 0)
        goto fail;
    *out = log;
    return 0;

fail:
    if (log->env != NULL)
        mdb_env_close(log->env);
    free(log->dir);
    free(log);
    return rc;
}

int st_log_close(st_log_t *log, pw_err_t *err)
{
    if (log == NULL)
        return 0;
    assert(atomic_load(&log->nreaders) == 0 &&
           "destroy every reader before closing the log");
    int rc = 0;
    if (log->fatal)
        w_discard(log);
    else if (!log->opts.read_only)
        rc = st_log_flush(log, err);
    mdb_env_close(log->env);
    free(log->dir);
    free(log);
    return rc;
}

/* ---- Owner thread: writes ----------------------------------------------- */

int st_log_topic_create(st_log_t *log, const char *topic, int32_t partitions,
                        const pw_stream_retention_t *retention, pw_err_t *err)
{
    int rc;
    if ((rc = args_topic(log, topic, err)) || (rc = w_check(log, err)) ||
        (rc = retention_check(log, topic, retention, err)))
        return rc;
    if (partitions < 1 || partitions > PW_STREAM_PARTITIONS_MAX)
        return pw_err_set(err, PW_EARG,
                          "%s: topic '%s': %d partitions; expected 1..%d",
                          log->dir, topic, (int)partitions,
                          PW_STREAM_PARTITIONS_MAX);
    /* Commit a pending group first, so a failure here cannot discard it. */
    if ((rc = w_commit(log, err)) != 0 || (rc = w_begin(log, err)) != 0)
        return rc;

    topic_rec_t t;
    pw_err_t gerr;
    rc = topic_get(log, log->wtxn, topic, &t, &gerr);
    if (rc == 0)
        return w_release_if_empty(
            log, pw_err_set(err, PW_EEXIST,
                            "%s: topic '%s' already exists (%d partitions)",
                            log->dir, topic, (int)t.partitions));
    if (rc != PW_ENOTFOUND) {
        if (err != NULL)
            *err = gerr;
        return w_release_if_empty(log, rc);
    }

    uint32_t id = 0;
    MDB_val kn = {13, "next_topic_id"}, vn;
    rc = mdb_get(log->wtxn, log->dbi_meta, &kn, &vn);
    if (rc != 0)
        return w_fail(log, err, rc, "read next topic id");
    if (vn.mv_size == sizeof id)
        memcpy(&id, vn.mv_data, sizeof id);
    if (id == 0 || id == UINT32_MAX) {
        w_discard(log);
        return pw_err_set(err, PW_ECORRUPT, "%s: bad next topic id %u",
                          log->dir, id);
    }
    t = (topic_rec_t){
        .id = id,
        .partitions = partitions,
        .max_age_ms = retention ? retention->max_age_ms : 0,
        .max_bytes = retention ? retention->max_bytes : 0,
        .created_ns = st_log_now_ns(),
    };
    uint32_t next_id = id + 1;
    MDB_val kt = {strlen(topic), (void *)topic}, vt = {sizeof t, &t};
    MDB_val vnext = {sizeof next_id, &next_id};
    if ((rc = mdb_put(log->wtxn, log->dbi_topics, &kt, &vt,
                      MDB_NOOVERWRITE)) != 0 ||
        (rc = mdb_put(log->wtxn, log->dbi_meta, &kn, &vnext, 0)) != 0)
        return w_fail(log, err, rc, "create topic");
    part_rec_t pr = {0, 0, 0};
    for (int32_t p = 0; p < partitions; p++) {
        unsigned char kb[8];
        part_key(kb, id, p);
        MDB_val k = {sizeof kb, kb}, v = {sizeof pr, &pr};
        if ((rc = mdb_put(log->wtxn, log->dbi_parts, &k, &v, 0)) != 0)
            return w_fail(log, err, rc, "create topic partitions");
    }
    log->pending_ops++;
    return w_commit(log, err);
}

int st_log_topic_set_retention(st_log_t *log, const char *topic,
                               const pw_stream_retention_t *retention,
                               pw_err_t *err)
{
    int rc;
    if ((rc = args_topic(log, topic, err)) || (rc = w_check(log, err)) ||
        (rc = retention_check(log, topic, retention, err)))
        return rc;
    if ((rc = w_commit(log, err)) != 0 || (rc = w_begin(log, err)) != 0)
        return rc;
    topic_rec_t t;
    if ((rc = topic_get(log, log->wtxn, topic, &t, err)) != 0)
        return w_release_if_empty(log, rc);
    t.max_age_ms = retention ? retention->max_age_ms : 0;
    t.max_bytes = retention ? retention->max_bytes : 0;
    MDB_val k = {strlen(topic), (void *)topic}, v = {sizeof t, &t};
    if ((rc = mdb_put(log->wtxn, log->dbi_topics, &k, &v, 0)) != 0)
        return w_fail(log, err, rc, "set retention");
    log->pending_ops++;
    return w_commit(log, err);
}

int st_log_append(st_log_t *log, const char *topic, int32_t partition,
                  const void *key, size_t key_len, const void *payload,
                  size_t payload_len, int64_t now_ns, pw_stream_pos_t *out,
                  pw_err_t *err)
{
    int rc;
    if ((rc = args_topic(log, topic, err)) || (rc = w_check(log, err)))
        return rc;
    if (out == NULL || (key == NULL && key_len > 0) ||
        (payload == NULL && payload_len > 0))
        return pw_err_set(err, PW_EARG,
                          "%s: append to '%s': NULL key, payload or out",
                          log->dir, topic);
    if (key_len > ST_LOG_KEY_MAX || payload_len > ST_LOG_PAYLOAD_MAX)
        return pw_err_set(err, PW_EARG,
                          "%s: append to '%s': key of %zu bytes or payload of "
                          "%zu bytes; limits are %d and %zu",
                          log->dir, topic, key_len, payload_len,
                          ST_LOG_KEY_MAX, ST_LOG_PAYLOAD_MAX);
    if (partition < PW_STREAM_PARTITION_ANY)
        return pw_err_set(err, PW_EARG,
                          "%s: append to '%s': no partition %d", log->dir,
                          topic, (int)partition);
    if ((rc = w_begin(log, err)) != 0)
        return rc;

    topic_rec_t t;
    if ((rc = tc_get(log, topic, &t, err)) != 0)
        return w_release_if_empty(log, rc);
    if (partition == PW_STREAM_PARTITION_ANY) {
        if (key_len > 0)
            partition = pw_stream_partition_for_key(key, key_len,
                                                    t.partitions);
        else
            partition = (int32_t)(log->rr++ % (uint32_t)t.partitions);
    } else if ((rc = part_check(log, topic, &t, partition, err)) != 0) {
        return w_release_if_empty(log, rc);
    }
    pcache_ent_t *pc;
    if ((rc = pc_get(log, topic, t.id, partition, &pc, err)) != 0)
        return w_release_if_empty(log, rc);

    size_t vsize = ST_LOG_HEADER_BYTES + key_len + payload_len;
    unsigned char kb[16];
    log_key(kb, t.id, partition, pc->rec.next);
    MDB_val k = {sizeof kb, kb}, v = {vsize, NULL};
    rc = mdb_put(log->wtxn, log->dbi_log, &k, &v,
                 MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc == MDB_KEYEXIST) {
        int64_t off = pc->rec.next;
        w_discard(log);
        return corrupt(log, err, "already stored; partition state is behind",
                       topic, partition, off);
    }
    if (rc != 0)
        return w_fail(log, err, rc, "append");
    msg_hdr_t h = {now_ns, (uint32_t)key_len, (uint32_t)payload_len};
    unsigned char *dst = v.mv_data;
    memcpy(dst, &h, sizeof h);
    if (key_len > 0)
        memcpy(dst + sizeof h, key, key_len);
    if (payload_len > 0)
        memcpy(dst + sizeof h + key_len, payload, payload_len);

    pw_stream_pos_t pos = {partition, pc->rec.next, ++log->seq};
    pc->rec.next++;
    pc->rec.bytes += (int64_t)vsize;
    pc->dirty = true;
    w_clock(log, now_ns);
    w_mark(log, now_ns, vsize);
    if ((rc = w_end(log, now_ns, err)) != 0)
        return rc;
    *out = pos;
    return 0;
}

int st_log_position_commit(st_log_t *log, const char *group,
                           const char *topic, int32_t partition,
                           int64_t next_offset, pw_err_t *err)
{
    int rc;
    if ((rc = args_topic(log, topic, err)) || (rc = w_check(log, err)) ||
        (rc = pw_stream_group_check(group, err)))
        return rc;
    if (next_offset < 0)
        return pw_err_set(err, PW_EARG,
                          "%s: group '%s' topic '%s' partition %d: negative "
                          "position %lld",
                          log->dir, group, topic, (int)partition,
                          (long long)next_offset);
    if ((rc = w_begin(log, err)) != 0)
        return rc;
    topic_rec_t t;
    if ((rc = tc_get(log, topic, &t, err)) != 0 ||
        (rc = part_check(log, topic, &t, partition, err)) != 0)
        return w_release_if_empty(log, rc);

    size_t glen = strlen(group);
    unsigned char kb[PW_STREAM_GROUP_MAX + 1 + 8];
    memcpy(kb, group, glen);
    kb[glen] = 0;
    part_key(kb + glen + 1, t.id, partition);
    int64_t now_ns = log->last_now_ns;
    pos_rec_t pr = {next_offset, now_ns == INT64_MIN ? 0 : now_ns};
    MDB_val k = {glen + 1 + 8, kb}, v = {sizeof pr, &pr};
    if ((rc = mdb_put(log->wtxn, log->dbi_pos, &k, &v, 0)) != 0)
        return w_fail(log, err, rc, "commit position");
    w_mark(log, now_ns, 0);
    return w_end(log, now_ns, err);
}

/*
 * Commit one more small transaction. LMDB reuses pages freed by a commit
 * only once a later commit exists (the previous meta page still points to
 * them), so after retention frees space this makes it usable at once; a
 * log that is full would otherwise stay full until something else commits.
 */
static int w_bump(st_log_t *log, pw_err_t *err)
{
    int rc = w_begin(log, err);
    if (rc != 0)
        return rc;
    uint64_t runs = 0;
    MDB_val k = {12, "retain_count"}, v;
    rc = mdb_get(log->wtxn, log->dbi_meta, &k, &v);
    if (rc == 0 && v.mv_size == sizeof runs)
        memcpy(&runs, v.mv_data, sizeof runs);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return w_fail(log, err, rc, "retention");
    runs++;
    v = (MDB_val){sizeof runs, &runs};
    if ((rc = mdb_put(log->wtxn, log->dbi_meta, &k, &v, 0)) != 0)
        return w_fail(log, err, rc, "retention");
    log->pending_ops++;
    return w_commit(log, err);
}

/* Retention of one partition; on failure the transaction is discarded. */
static int retain_partition(st_log_t *log, MDB_cursor *cur, const char *topic,
                            const topic_rec_t *t, int32_t p, int64_t now_ns,
                            uint64_t *deleted, pw_err_t *err)
{
    pcache_ent_t *pc;
    int rc = pc_get(log, topic, t->id, p, &pc, err);
    if (rc != 0)
        return rc;
    int64_t age_ns = t->max_age_ms > INT64_MAX / 1000000
                         ? 0
                         : t->max_age_ms * 1000000;
    int64_t cutoff = sat_add(now_ns, -age_ns);
    while (pc->rec.earliest < pc->rec.next) {
        bool over_size = t->max_bytes > 0 && pc->rec.bytes > t->max_bytes;
        if (!over_size && age_ns == 0)
            break;
        int64_t off = pc->rec.earliest;
        unsigned char kb[16];
        log_key(kb, t->id, p, off);
        MDB_val k = {sizeof kb, kb}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        if (rc == MDB_NOTFOUND)
            return corrupt(log, err, "message missing", topic, p, off);
        if (rc != 0)
            return w_fail(log, err, rc, "retention");
        if (!over_size) {
            msg_hdr_t h;
            if (v.mv_size < sizeof h)
                return corrupt(log, err, "short message", topic, p, off);
            memcpy(&h, v.mv_data, sizeof h);
            if (!(h.ts_ns < cutoff))
                break;
        }
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            return w_fail(log, err, rc, "retention");
        pc->rec.earliest++;
        pc->rec.bytes -= (int64_t)v.mv_size;
        pc->dirty = true;
        (*deleted)++;
    }
    return 0;
}

int st_log_retain(st_log_t *log, int64_t now_ns, uint64_t *deleted,
                  pw_err_t *err)
{
    if (log == NULL)
        return pw_err_set(err, PW_EARG, "log handle is NULL");
    int rc = w_check(log, err);
    /* Commit a pending group first, so a failure here cannot discard it. */
    if (rc != 0 || (rc = w_commit(log, err)) != 0 ||
        (rc = w_begin(log, err)) != 0)
        return rc;
    w_clock(log, now_ns);
    MDB_cursor *tcur = NULL, *lcur = NULL;
    if ((rc = mdb_cursor_open(log->wtxn, log->dbi_topics, &tcur)) != 0 ||
        (rc = mdb_cursor_open(log->wtxn, log->dbi_log, &lcur)) != 0)
        return w_fail(log, err, rc, "retention"); /* abort closes cursors */
    uint64_t n = 0;
    MDB_val k, v;
    MDB_cursor_op op = MDB_FIRST;
    int mrc;
    while ((mrc = mdb_cursor_get(tcur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        topic_rec_t t;
        char name[PW_STREAM_TOPIC_MAX + 1];
        if (v.mv_size != sizeof t || k.mv_size > PW_STREAM_TOPIC_MAX) {
            rc = corrupt(log, err, "bad topic record", "?", -1, -1);
            break;
        }
        memcpy(&t, v.mv_data, sizeof t);
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if (t.max_age_ms == 0 && t.max_bytes == 0)
            continue;
        for (int32_t p = 0; p < t.partitions && rc == 0; p++)
            rc = retain_partition(log, lcur, name, &t, p, now_ns, &n, err);
        if (rc != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        return w_fail(log, err, mrc, "retention");
    if (rc != 0) {
        /* Deletes may have been made: drop them all (cursors with them). */
        if (log->wtxn != NULL)
            w_discard(log);
        return rc;
    }
    mdb_cursor_close(lcur);
    mdb_cursor_close(tcur);
    if (n == 0) {
        if (deleted != NULL)
            *deleted = 0;
        return w_release_if_empty(log, 0);
    }
    log->pending_ops++;
    if ((rc = w_commit(log, err)) != 0 || (rc = w_bump(log, err)) != 0)
        return rc;
    if (deleted != NULL)
        *deleted = n;
    return 0;
}

int st_log_poll(st_log_t *log, int64_t now_ns, pw_err_t *err)
{
    if (log == NULL)
        return pw_err_set(err, PW_EARG, "log handle is NULL");
    if (log->fatal)
        return w_check(log, err);
    w_clock(log, now_ns);
    if (log->wtxn != NULL)
        return group_due(log, now_ns) ? w_commit(log, err) : 0;
    /* Due, or the clock stepped back past the commit: sync now. */
    int64_t committed_ns = sat_add(log->sync_due_ns, -log->group_ns);
    if (log->unsynced &&
        (now_ns >= log->sync_due_ns || now_ns < committed_ns)) {
        int rc = w_sync(log);
        if (rc != 0)
            return lmdb_fail(log, err, rc, "sync");
    }
    return 0;
}

int st_log_flush(st_log_t *log, pw_err_t *err)
{
    if (log == NULL)
        return pw_err_set(err, PW_EARG, "log handle is NULL");
    if (log->opts.read_only)
        return 0;
    int rc = w_check(log, err);
    if (rc != 0 || (rc = w_commit(log, err)) != 0)
        return rc;
    if ((log->unsynced || log->opts.durability == ST_LOG_NONE) &&
        (rc = w_sync(log)) != 0)
        return lmdb_fail(log, err, rc, "sync");
    return 0;
}

uint64_t st_log_acked_seq(const st_log_t *log)
{
    return log == NULL ? 0 : atomic_load(&log->acked_seq);
}

uint64_t st_log_last_seq(const st_log_t *log)
{
    return log == NULL ? 0 : log->seq;
}

int64_t st_log_due_ns(const st_log_t *log)
{
    if (log == NULL)
        return INT64_MAX;
    if (log->wtxn == NULL)
        return log->unsynced ? log->sync_due_ns : INT64_MAX;
    if (log->pending_bytes >= log->opts.max_pending_bytes)
        return INT64_MIN;
    return log->due_ns;
}

size_t st_log_map_size(const st_log_t *log)
{
    return log == NULL ? 0 : log->map_size;
}

/* ---- Readers ------------------------------------------------------------ */

int st_log_reader_create(st_log_t *log, st_log_reader_t **out, pw_err_t *err)
{
    if (log == NULL || out == NULL)
        return pw_err_set(err, PW_EARG, "reader: NULL log or out");
    st_log_reader_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return pw_err_set(err, PW_ENOMEM, "%s: reader: out of memory",
                          log->dir);
    r->log = log;
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &r->txn);
    if (rc != 0) {
        free(r);
        return lmdb_fail(log, err, rc, "create reader");
    }
    rc = mdb_cursor_open(r->txn, log->dbi_log, &r->cur);
    if (rc != 0) {
        mdb_txn_abort(r->txn);
        free(r);
        return lmdb_fail(log, err, rc, "create reader");
    }
    mdb_txn_reset(r->txn);
    atomic_fetch_add(&log->nreaders, 1);
    *out = r;
    return 0;
}

void st_log_reader_release(st_log_reader_t *r)
{
    if (r != NULL && r->active) {
        mdb_txn_reset(r->txn);
        r->active = false;
    }
}

void st_log_reader_destroy(st_log_reader_t *r)
{
    if (r == NULL)
        return;
    mdb_cursor_close(r->cur);
    mdb_txn_abort(r->txn);
    atomic_fetch_sub(&r->log->nreaders, 1);
    free(r->parts);
    free(r);
}

/* Take a fresh snapshot for this call. */
static int r_begin(st_log_reader_t *r, pw_err_t *err)
{
    st_log_reader_release(r);
    int rc = mdb_txn_renew(r->txn);
    if (rc != 0)
        return lmdb_fail(r->log, err, rc, "read");
    rc = mdb_cursor_renew(r->txn, r->cur);
    if (rc != 0) {
        mdb_txn_reset(r->txn);
        return lmdb_fail(r->log, err, rc, "read");
    }
    r->active = true;
    return 0;
}

/* Snapshot, topic record and partition state for one reader call. */
static int r_part(st_log_reader_t *r, const char *topic, int32_t partition,
                  topic_rec_t *t, part_rec_t *pr, pw_err_t *err)
{
    int rc;
    if (r == NULL)
        return pw_err_set(err, PW_EARG, "reader is NULL");
    if ((rc = pw_stream_topic_check(topic, err)) != 0 ||
        (rc = r_begin(r, err)) != 0 ||
        (rc = topic_get(r->log, r->txn, topic, t, err)) != 0 ||
        (rc = part_check(r->log, topic, t, partition, err)) != 0)
        return rc;
    return part_load(r->log, r->txn, topic, t->id, partition, pr, err);
}

int st_log_read(st_log_reader_t *r, const char *topic, int32_t partition,
                int64_t from, pw_stream_msg_t *msgs, size_t max, size_t *n,
                pw_err_t *err)
{
    if (n == NULL || (msgs == NULL && max > 0))
        return pw_err_set(err, PW_EARG, "read: NULL message array or count");
    topic_rec_t t;
    part_rec_t pr;
    int rc = r_part(r, topic, partition, &t, &pr, err);
    if (rc != 0)
        return rc;
    const st_log_t *log = r->log;
    if (from == PW_STREAM_OFFSET_BEGINNING)
        from = pr.earliest;
    else if (from == PW_STREAM_OFFSET_END)
        from = pr.next;
    if (from < pr.earliest)
        return pw_err_set(err, PW_ERANGE,
                          "%s: topic '%s' partition %d: offset %lld is "
                          "before the earliest offset %lld (deleted by "
                          "retention)",
                          log->dir, topic, (int)partition, (long long)from,
                          (long long)pr.earliest);
    if (from > pr.next)
        return pw_err_set(err, PW_ERANGE,
                          "%s: topic '%s' partition %d: offset %lld is past "
                          "the next offset %lld",
                          log->dir, topic, (int)partition, (long long)from,
                          (long long)pr.next);
    size_t count = 0;
    if (from < pr.next && max > 0) {
        unsigned char kb[16];
        log_key(kb, t.id, partition, from);
        MDB_val k = {sizeof kb, kb}, v;
        rc = mdb_cursor_get(r->cur, &k, &v, MDB_SET_KEY);
        int64_t off = from;
        while (rc == 0) {
            const unsigned char *kp = k.mv_data;
            if (k.mv_size != 16 || get_be32(kp) != t.id ||
                get_be32(kp + 4) != (uint32_t)partition ||
                get_be64(kp + 8) != (uint64_t)off)
                return corrupt(log, err, "message missing", topic, partition,
                               off);
            msg_hdr_t h;
            if (v.mv_size < sizeof h)
                return corrupt(log, err, "short message", topic, partition,
                               off);
            memcpy(&h, v.mv_data, sizeof h);
            if (v.mv_size != sizeof h + (size_t)h.key_len + h.payload_len)
                return corrupt(log, err, "message length mismatch", topic,
                               partition, off);
            const unsigned char *d = v.mv_data;
            msgs[count] = (pw_stream_msg_t){
                .offset = off,
                .partition = partition,
                .ts_ns = h.ts_ns,
                .key = h.key_len ? d + sizeof h : NULL,
                .key_len = h.key_len,
                .payload = d + sizeof h + h.key_len,
                .payload_len = h.payload_len,
            };
            count++;
            off++;
            if (count == max || off >= pr.next)
                break;
            rc = mdb_cursor_get(r->cur, &k, &v, MDB_NEXT);
        }
        if (rc == MDB_NOTFOUND)
            return corrupt(log, err, "message missing", topic, partition,
                           from + (int64_t)count);
        if (rc != 0)
            return lmdb_fail(log, err, rc, "read");
    }
    *n = count;
    return 0;
}

int st_log_bounds(st_log_reader_t *r, const char *topic, int32_t partition,
                  int64_t *earliest, int64_t *next, pw_err_t *err)
{
    if (earliest == NULL || next == NULL)
        return pw_err_set(err, PW_EARG, "bounds: NULL output");
    topic_rec_t t;
    part_rec_t pr;
    int rc = r_part(r, topic, partition, &t, &pr, err);
    if (rc != 0)
        return rc;
    *earliest = pr.earliest;
    *next = pr.next;
    return 0;
}

int st_log_position_get(st_log_reader_t *r, const char *group,
                        const char *topic, int32_t partition,
                        int64_t *next_offset, pw_err_t *err)
{
    int rc;
    if (next_offset == NULL)
        return pw_err_set(err, PW_EARG, "position_get: NULL output");
    if ((rc = pw_stream_group_check(group, err)) != 0)
        return rc;
    topic_rec_t t;
    part_rec_t pr;
    if ((rc = r_part(r, topic, partition, &t, &pr, err)) != 0)
        return rc;
    size_t glen = strlen(group);
    unsigned char kb[PW_STREAM_GROUP_MAX + 1 + 8];
    memcpy(kb, group, glen);
    kb[glen] = 0;
    part_key(kb + glen + 1, t.id, partition);
    MDB_val k = {glen + 1 + 8, kb}, v;
    rc = mdb_get(r->txn, r->log->dbi_pos, &k, &v);
    if (rc == MDB_NOTFOUND)
        return pw_err_set(err, PW_ENOTFOUND,
                          "%s: group '%s' has no position in topic '%s' "
                          "partition %d",
                          r->log->dir, group, topic, (int)partition);
    if (rc != 0)
        return lmdb_fail(r->log, err, rc, "read position");
    pos_rec_t p;
    if (v.mv_size != sizeof p)
        return corrupt(r->log, err, "bad position record", topic, partition,
                       -1);
    memcpy(&p, v.mv_data, sizeof p);
    *next_offset = p.next_offset;
    return 0;
}

int st_log_topics(st_log_reader_t *r, pw_stream_topic_fn fn, void *ctx,
                  pw_err_t *err)
{
    if (r == NULL || fn == NULL)
        return pw_err_set(err, PW_EARG, "topics: NULL reader or callback");
    int rc = r_begin(r, err);
    if (rc != 0)
        return rc;
    const st_log_t *log = r->log;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(r->txn, log->dbi_topics, &cur)) != 0)
        return lmdb_fail(log, err, rc, "list topics");
    MDB_val k, v;
    MDB_cursor_op op = MDB_FIRST;
    int ret = 0;
    while (ret == 0 && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        topic_rec_t t;
        if (v.mv_size != sizeof t || k.mv_size > PW_STREAM_TOPIC_MAX) {
            ret = corrupt(log, err, "bad topic record", "?", -1, -1);
            break;
        }
        memcpy(&t, v.mv_data, sizeof t);
        memcpy(r->name, k.mv_data, k.mv_size);
        r->name[k.mv_size] = '\0';
        if (t.partitions < 1 || t.partitions > PW_STREAM_PARTITIONS_MAX) {
            ret = corrupt(log, err, "bad partition count", r->name, -1, -1);
            break;
        }
        if ((size_t)t.partitions > r->parts_cap) {
            size_t sz = (size_t)t.partitions * sizeof *r->parts;
            void *p = realloc(r->parts, sz);
            if (p == NULL) {
                ret = pw_err_set(err, PW_ENOMEM, "%s: list topics: out of "
                                 "memory", log->dir);
                break;
            }
            r->parts = p;
            r->parts_cap = (size_t)t.partitions;
        }
        for (int32_t p = 0; p < t.partitions && ret == 0; p++) {
            part_rec_t pr;
            ret = part_load(log, r->txn, r->name, t.id, p, &pr, err);
            r->parts[p] = (pw_stream_part_info_t){pr.earliest, pr.next,
                                                  pr.bytes};
        }
        if (ret != 0)
            break;
        pw_stream_topic_info_t info = {
            .name = r->name,
            .partitions = t.partitions,
            .retention = {t.max_age_ms, t.max_bytes},
            .parts = r->parts,
        };
        ret = fn(ctx, &info);
    }
    mdb_cursor_close(cur);
    if (ret != 0)
        return ret;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_fail(log, err, rc, "list topics");
    return 0;
}
