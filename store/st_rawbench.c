#include "store/st_rawbench.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int raw_fail(pw_err_t *err, const char *dir, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return pw_err_set(err, PW_EFULL, "%s: raw bench: %s: map full", dir,
                          what);
    return pw_err_set(err, PW_ESTORE, "%s: raw bench: %s: %s", dir, what,
                      mdb_strerror(rc));
}

static int env_open(const char *dir, size_t map_mb, unsigned flags,
                    MDB_env **env, MDB_dbi *dbi, pw_err_t *err)
{
    int rc;
    MDB_txn *txn = NULL;
    if ((rc = mdb_env_create(env)) != 0)
        return raw_fail(err, dir, rc, "create");
    if ((rc = mdb_env_set_maxdbs(*env, 2)) != 0 ||
        (rc = mdb_env_set_mapsize(*env, map_mb << 20)) != 0 ||
        (rc = mdb_env_open(*env, dir, flags, 0664)) != 0 ||
        (rc = mdb_txn_begin(*env, NULL, flags & MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "log", (flags & MDB_RDONLY) ? 0 : MDB_CREATE,
                           dbi)) != 0 ||
        (rc = mdb_txn_commit(txn)) != 0) {
        if (txn != NULL && rc != 0)
            mdb_txn_abort(txn);
        mdb_env_close(*env);
        *env = NULL;
        return raw_fail(err, dir, rc, "open");
    }
    return 0;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int st_rawbench_write(const st_log_opts_t *opts, const void *payload,
                      size_t len, uint64_t count, double *elapsed_s,
                      pw_err_t *err)
{
    if (opts == NULL || opts->dir == NULL || elapsed_s == NULL ||
        (payload == NULL && len > 0) || opts->map_size_mb == 0 ||
        opts->max_pending_bytes == 0 || opts->group_commit_ms < 0)
        return pw_err_set(err, PW_EARG, "raw bench: bad arguments");
    const char *dir = opts->dir;
    if (mkdir(dir, 0775) != 0 && errno != EEXIST)
        return pw_err_set(err, -errno, "%s: raw bench: %s", dir,
                          strerror(errno));
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) == 0)
        return pw_err_set(err, PW_EARG,
                          "%s: raw bench needs a fresh directory", dir);

    /* The same flags as st_log_open (see docs/log.md). */
    unsigned flags = MDB_NOTLS;
    if (opts->durability == ST_LOG_NONE)
        flags |= MDB_NOSYNC;
    else if (opts->durability == ST_LOG_GROUP)
        flags |= MDB_NOMETASYNC;
    MDB_env *env;
    MDB_dbi dbi;
    int rc = env_open(dir, opts->map_size_mb, flags, &env, &dbi, err);
    if (rc != 0)
        return rc;

    bool group = opts->durability == ST_LOG_GROUP;
    if (group)
        st_log_tune_heap(opts->max_pending_bytes); /* as st_log_open */
    int64_t bound_ns = (int64_t)opts->group_commit_ms * 1000000;
    MDB_txn *txn = NULL;
    int64_t first_ns = 0;
    size_t pending = 0;
    double t0 = mono_s();
    for (uint64_t i = 0; i < count; i++) {
        if (txn == NULL) {
            if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
                goto fail;
            pending = 0;
            first_ns = real_ns();
        }
        unsigned char kb[16] = {0, 0, 0, 1, 0, 0, 0, 0};
        for (int b = 0; b < 8; b++)
            kb[8 + b] = (unsigned char)(i >> (56 - 8 * b));
        MDB_val k = {sizeof kb, kb}, v = {len, NULL};
        if ((rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) != 0)
            goto fail;
        if (len > 0)
            memcpy(v.mv_data, payload, len);
        pending += len;
        int64_t now = real_ns();
        if (!group || pending >= opts->max_pending_bytes ||
            now - first_ns >= bound_ns) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
            if (rc != 0)
                goto fail;
        }
    }
    if (txn != NULL) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
        if (rc != 0)
            goto fail;
    }
    /* As st_log_flush ends the log's run: everything durable. */
    if ((rc = mdb_env_sync(env, 1)) != 0)
        goto fail;
    *elapsed_s = mono_s() - t0;
    mdb_env_close(env);
    return 0;

fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return raw_fail(err, dir, rc, "write");
}

int st_rawbench_read(const char *dir, uint64_t *count, uint64_t *bytes,
                     double *elapsed_s, uint64_t *checksum, pw_err_t *err)
{
    if (dir == NULL || count == NULL || bytes == NULL || elapsed_s == NULL)
        return pw_err_set(err, PW_EARG, "raw bench: bad arguments");
    MDB_env *env;
    MDB_dbi dbi;
    /* Map size 0 adopts the size the writer used. */
    int rc = env_open(dir, 0, MDB_NOTLS | MDB_RDONLY, &env, &dbi, err);
    if (rc != 0)
        return rc;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint64_t n = 0, total = 0, sum = 0;
    double t0 = mono_s();
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        goto done;
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        const unsigned char *d = v.mv_data;
        if (v.mv_size > 0)
            sum += d[0] + d[v.mv_size - 1];
        n++;
        total += v.mv_size;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
done:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    double el = mono_s() - t0;
    mdb_env_close(env);
    if (rc != 0)
        return raw_fail(err, dir, rc, "read");
    *count = n;
    *bytes = total;
    *elapsed_s = el;
    if (checksum != NULL)
        *checksum = sum;
    return 0;
}
