/*
 * st_results: the result store, where the pipeline keeps the results it
 * computes together with its checkpoints, in one LMDB environment (a
 * directory of its own, separate from the stream log).
 *
 * A result is (ts_ns, version, topic, key, body): topic "speed_1s", key
 * "car/24/speed_mps", ts_ns the window end, version 1 for a first emission
 * and higher for corrections, body msgpack bytes (opaque here). The store
 * keeps one result per (topic, key, ts_ns), the highest version put, and
 * for every (topic, key) its latest result (highest ts_ns; on a tie the
 * highest version). Checkpoints are named opaque blobs.
 *
 * Why one transaction: the pipeline writes a checkpoint's results and the
 * checkpoint itself in one write transaction (st_results_begin ... commit),
 * so after a crash the store holds either both or neither: a restart from
 * the checkpoint recomputes exactly the results that were lost, and a
 * result written twice (same topic, key, ts_ns, version) replaces itself.
 *
 * Threads and processes:
 * - Writer: one thread writes (begin, put, checkpoint put/del, commit,
 *   abort, checkpoint_clear). LMDB ties a write transaction to the thread
 *   that began it: commit or abort it on that thread. One write
 *   transaction at a time per st_results_t; other processes that write to
 *   the same directory wait for it (LMDB's single writer lock).
 * - Readers: any thread, any number at once (checkpoint_get, scan, latest,
 *   stats). Each call takes its own read transaction (MDB_NOTLS), so it
 *   sees every transaction committed before it began and none of an open
 *   one, and never waits for the writer.
 * - Processes: a reader process may open the same directory read_only
 *   while a writer process writes. One process opens a directory once
 *   (LMDB forbids opening an environment twice in one process): share the
 *   st_results_t between threads. Give every process the same map_size_mb.
 *
 * Retention: with opts.retention_age_ns or opts.retention_bytes set, the
 * writer calls st_results_trim() now and then (the pipeline: inside its
 * checkpoint transaction, at most about once a second). Each call deletes
 * at most a given number of the oldest results (by ts_ns, across topics
 * and keys), so the writer is never held up long; the latest table follows
 * (a key left with no result loses its latest entry, a key that keeps
 * results keeps its true latest); checkpoints are never trimmed.
 *
 * Durability: opts.sync (default) fsyncs every commit, so a returned
 * commit survives power loss; sync = false (MDB_NOSYNC) survives a crash of
 * the process (kill -9) but a power loss may lose recent commits.
 *
 * The storage layout is described at the top of store/st_results.c and in
 * docs/results-store.md.
 */
#ifndef ST_RESULTS_H
#define ST_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_record.h"

typedef struct st_results st_results_t;
typedef struct st_results_txn st_results_txn_t; /* a write transaction */

/* Default map size: the most the store's file may hold, in MiB. */
#define ST_RESULTS_MAP_SIZE_MB_DEFAULT 1024

/* Largest topic of a result, in bytes (at least 1). */
#define ST_RESULTS_TOPIC_MAX 255

/* Largest key of a result, in bytes (may be empty). */
#define ST_RESULTS_KEY_MAX 1024

/* Largest checkpoint name, in bytes (at least 1). */
#define ST_RESULTS_NAME_MAX 255

/* A good bound on the results one st_results_trim() call deletes: about
 * 10 ms of work on a laptop, and more than a busy pipeline writes in a
 * second. */
#define ST_RESULTS_TRIM_BATCH 20000

/* How to open a store; start from st_results_opts_default(). */
typedef struct st_results_opts {
    const char *dir;    /* directory; created with its parents (mkdir -p)
                           unless read_only; borrowed during open */
    size_t map_size_mb; /* most the file may hold, MiB; default 1024; never
                           below the file's current size */
    bool sync;          /* fsync every commit (default true); false =
                           MDB_NOSYNC: survives kill -9, not power loss */
    bool read_only;     /* open for reading only; default false */
    int64_t retention_age_ns;  /* st_results_trim() deletes results older
                                  than this (ns, >= 0); 0 = keep all */
    uint64_t retention_bytes;  /* st_results_trim() deletes the oldest
                                  results while the store's pages in use
                                  pass this (bytes); 0 = no size limit */
} st_results_opts_t;

/* Counts of a store. */
typedef struct st_results_stats {
    uint64_t results;       /* results stored, one per (topic, key, ts_ns) */
    uint64_t keys;          /* (topic, key) pairs: latest results stored */
    uint64_t stale_ignored; /* puts ignored for a lower version, in
                               transactions this handle committed */
    uint64_t commits;       /* transactions this handle committed */
    uint64_t trimmed;       /* results deleted by st_results_trim() in
                               transactions this handle committed */
    uint64_t used_bytes;    /* bytes of the pages the store's databases
                               use, as last committed (the file itself
                               never shrinks: freed pages are reused) */
} st_results_stats_t;

/* What one st_results_trim() call did. */
typedef struct st_results_trim {
    uint64_t results;  /* results deleted */
    uint64_t keys;     /* (topic, key) pairs left with no result, whose
                          latest entry was deleted too */
    bool more;         /* it stopped at its bound: call again for more */
} st_results_trim_t;

/*
 * Called by scan and latest for each result, on the calling thread. r and
 * the bytes it points to (topic, key, body; not NUL-terminated) are valid
 * during the call only: copy what must outlive it. Return 0 to go on, or
 * non-zero to stop; scan/latest then return that value.
 */
typedef int (*st_results_fn)(void *ctx, const pw_result_t *r);

/* The defaults above, with dir NULL. */
st_results_opts_t st_results_opts_default(void);

/* ---- Lifecycle ---------------------------------------------------------- */

/*
 * Open (creating if needed, unless read_only) the store in o->dir. *out is
 * owned by the caller until st_results_close(). Errors: PW_EARG (bad
 * options: no dir, map_size_mb 0 or above 16 TiB, a negative
 * retention_age_ns), PW_ENOTFOUND (read_only
 * and no store there), PW_EVERSION (a store of another format version),
 * PW_EUNSUPPORTED (an LMDB build whose keys are too short), PW_ESTORE,
 * -errno (cannot create the directory).
 */
int st_results_open(const st_results_opts_t *o, st_results_t **out,
                    pw_err_t *err);

/*
 * Close the store. Its write transaction must have been committed or
 * aborted and no read call may be running. NULL is a no-op.
 */
void st_results_close(st_results_t *s);

/* ---- Writer thread ------------------------------------------------------ */

/*
 * Begin the write transaction *txn, owned by the caller until
 * st_results_commit() or st_results_abort() (on this thread). Waits while
 * another process writes. Errors: PW_EUNSUPPORTED (read-only store),
 * PW_EARG (NULL argument, or this handle already has a transaction open:
 * one at a time), PW_ESTORE.
 */
int st_results_begin(st_results_t *s, st_results_txn_t **txn, pw_err_t *err);

/*
 * Put result r (borrowed during the call) into t, keyed by (topic, key,
 * ts_ns). It replaces a stored result of the same (topic, key, ts_ns) if
 * its version is >= the stored one (a correction replaces what it
 * corrects; the same version again replaces itself); a lower version is
 * ignored and counted in stale_ignored (when t commits), and the call
 * returns 0. It also becomes the latest result of (topic, key) if its
 * ts_ns is > the latest's, or equal with a version >= the latest's.
 * Allocates nothing beyond LMDB's pages.
 * Errors that leave t usable, with nothing of r stored: PW_EARG (NULL, an
 * empty topic, topic above ST_RESULTS_TOPIC_MAX or key above
 * ST_RESULTS_KEY_MAX bytes, a NUL byte in topic or key, NULL bytes with a
 * non-zero length), PW_ECAPACITY (a long key, topic and key above 493
 * bytes together, whose 64-bit hash collides with another long key of the
 * same first bytes: docs/results-store.md; not expected in practice).
 * Errors that end t (LMDB aborted it: nothing of t will be stored; later
 * calls on t return PW_ECLOSED; abort it): PW_EFULL ("DIR: result store
 * full: map size N MiB reached; raise store.map_size"), PW_ESTORE,
 * PW_ECORRUPT.
 */
int st_results_put(st_results_txn_t *t, const pw_result_t *r, pw_err_t *err);

/*
 * Put every result of b in order, as st_results_put(). Every result is
 * checked first, so an argument error (naming the result's index) stores
 * nothing of b and leaves t usable. Errors: as st_results_put().
 */
int st_results_put_batch(st_results_txn_t *t, const pw_results_t *b,
                         pw_err_t *err);

/*
 * Store checkpoint name (a C string of 1..ST_RESULTS_NAME_MAX bytes) with
 * the len bytes of blob (copied; NULL only with len 0), replacing any
 * checkpoint of that name, in t. Errors: PW_EARG (t usable), or as
 * st_results_put() for errors that end t.
 */
int st_results_checkpoint_put(st_results_txn_t *t, const char *name,
                              const void *blob, size_t len, pw_err_t *err);

/*
 * Delete checkpoint name in t; deleting an absent checkpoint does nothing
 * and returns 0. Errors: PW_EARG (t usable), or as st_results_put().
 */
int st_results_checkpoint_del(st_results_txn_t *t, const char *name,
                              pw_err_t *err);

/*
 * Commit t: every put and checkpoint of t becomes visible to readers and
 * durable (by opts.sync) at once, or, on failure, nothing of it is stored.
 * Frees t whatever happens. Errors: PW_EFULL (as above), PW_ESTORE, and
 * the error that ended t earlier (its message repeated).
 */
int st_results_commit(st_results_txn_t *t, pw_err_t *err);

/*
 * Apply the store's retention (opts.retention_age_ns, retention_bytes) in
 * t: delete results, oldest ts_ns first across every topic and key, while
 * - a result is older than the age: ts_ns < ref - retention_age_ns, where
 *   ref is now_ns or the newest stored result's ts_ns if that is earlier
 *   (results carry event time: a replay of an old game is not trimmed
 *   against today's clock, and one result stamped in the future cannot
 *   trim the rest); or
 * - the pages the store uses (st_results_stats_t.used_bytes, as of t)
 *   pass retention_bytes. Pages free as they empty, so a size trim may
 *   delete a little more than the excess; checkpoints count in the size
 *   but are never deleted.
 * At most max_results (> 0; ST_RESULTS_TRIM_BATCH is a good value) entries
 * are deleted per call, so the call takes a bounded time; out->more says it
 * stopped at that bound. A key whose every result is deleted loses its
 * latest entry; a key that keeps results keeps its latest (re-read from
 * what is left when its latest result was deleted). Does nothing (and
 * returns 0) when neither retention option is set. out (may be NULL) is
 * written on success. Writer thread. Errors: PW_EARG (t usable), or as
 * st_results_put() for errors that end t (also PW_ECORRUPT for a damaged
 * time index).
 */
int st_results_trim(st_results_txn_t *t, int64_t now_ns, size_t max_results,
                    st_results_trim_t *out, pw_err_t *err);

/* Discard t: nothing of it is stored. Frees t. NULL is a no-op. */
void st_results_abort(st_results_txn_t *t);

/*
 * Delete every checkpoint whose name starts with prefix (NULL or "" =
 * every checkpoint) in a write transaction of its own, committed before
 * returning. Writer thread, with no transaction of this handle open.
 * Errors: PW_EARG (a transaction is open, prefix too long),
 * PW_EUNSUPPORTED (read-only), PW_EFULL, PW_ESTORE.
 */
int st_results_checkpoint_clear(st_results_t *s, const char *prefix,
                                pw_err_t *err);

/* ---- Readers: any thread ------------------------------------------------ */

/*
 * Copy checkpoint name into *blob (malloc'd; the caller frees it, also
 * when *len is 0) and *len, as last committed. Thread-safe. Errors:
 * PW_ENOTFOUND (no such checkpoint), PW_EARG, PW_ENOMEM, PW_ESTORE.
 */
int st_results_checkpoint_get(st_results_t *s, const char *name, void **blob,
                              size_t *len, pw_err_t *err);

/*
 * Call fn for every stored result in order (topic, key, ts_ns), bytes
 * compared unsigned and a shorter string first ("a" < "ab"), ts_ns as
 * signed numbers, all from one snapshot. Filters: topic (NULL = every
 * topic; else exactly this one), key_prefix (NULL or "" = every key),
 * ts_ns in [from_ns, to_ns) (to_ns = INT64_MAX means no upper bound, so
 * INT64_MIN, INT64_MAX take all). Seeks past keys and times outside the
 * filters rather than reading them. Thread-safe. Returns 0, fn's non-zero
 * value, or an error: PW_EARG (NULL s or fn, empty or long topic, long
 * prefix), PW_ECORRUPT, PW_ESTORE. Order caveat: long keys (topic and key
 * above 493 bytes together) of one topic whose first 493 - topic length
 * bytes are equal come in the order of a hash among themselves, not of
 * their bytes (LMDB keys hold 511 bytes; docs/results-store.md).
 */
int st_results_scan(st_results_t *s, const char *topic,
                    const char *key_prefix, int64_t from_ns, int64_t to_ns,
                    st_results_fn fn, void *ctx, pw_err_t *err);

/*
 * Call fn with the latest result of every (topic, key) (topic NULL = all
 * topics) whose key starts with key_prefix (NULL or "" = all), in (topic,
 * key) order, from one snapshot. As st_results_scan() otherwise.
 */
int st_results_latest(st_results_t *s, const char *topic,
                       const char *key_prefix, st_results_fn fn, void *ctx,
                       pw_err_t *err);

/*
 * Fill *out: results, keys and used_bytes as last committed (by any
 * process), stale_ignored, commits and trimmed counted by this handle
 * since open.
 * Thread-safe. Errors: PW_EARG, PW_ESTORE.
 */
int st_results_stats(st_results_t *s, st_results_stats_t *out, pw_err_t *err);

#endif
