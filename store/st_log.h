/*
 * st_log: the embedded stream log, an append-only log of topics and
 * partitions kept in one LMDB environment (a directory).
 *
 * It is the default backend of pw_stream (see core/pw_stream.h for the
 * model: topics, partitions, offsets, keys, consumer positions, and how
 * they map onto Kafka). One message per append: an opaque payload (a
 * msgpack batch of many records) with an optional key, numbered by a
 * per-partition offset that starts at 0 and never goes back.
 *
 * Threads and processes:
 * - Writer: one thread owns the write side of an st_log_t (every function
 *   under "Owner thread" below). In group mode it keeps an LMDB write
 *   transaction open between calls, and LMDB ties a write transaction to
 *   the thread that began it; so the owner may hand the st_log_t to
 *   another thread only after st_log_flush(). While a group is pending,
 *   other processes that write to the same directory wait for it (LMDB's
 *   single writer lock): the owner must call st_log_poll() regularly.
 * - Readers: st_log_reader_t, one per reading thread, created from the
 *   st_log_t. A reader may move between threads (MDB_NOTLS) but is used by
 *   one thread at a time. Each read call takes a fresh snapshot and keeps
 *   it until the reader's next call (or st_log_reader_release()), which is
 *   how returned views stay valid without copies.
 * - Processes: several may open the same directory (`pitwall stream tail`
 *   read-only while `pitwall run` writes). No state about partitions is
 *   kept across write transactions, so one process's appends never make
 *   another's stale; writes are serialised by LMDB. One process opens a
 *   directory once (LMDB forbids opening an environment twice in one
 *   process): share the st_log_t and create readers from it. Give every
 *   process the same map_size_mb.
 * Readers see only committed appends (LMDB readers see committed
 * transactions only), so in group mode an append becomes visible to
 * readers and to other processes when its group commits, not before.
 *
 * Durability (st_log_opts_t.durability). Each append gets a seq (1, 2, 3,
 * ... per st_log_t); it is "acknowledged" once st_log_acked_seq() >= its
 * seq, and the guarantee below holds from then on:
 * - ST_LOG_SYNC: each append commits and fsyncs before it returns:
 *   acknowledged on return, durable even against power loss.
 * - ST_LOG_GROUP (default): appends accumulate in one open write
 *   transaction, committed when group_commit_ms have passed since the
 *   first pending write or max_pending_bytes are pending (checked on each
 *   append and by st_log_poll()), or by st_log_flush(). A commit makes the
 *   group visible to readers and fsyncs its data; the group is
 *   acknowledged (durable against power loss) when the next commit's fsync
 *   or a sync covers its meta page too (MDB_NOMETASYNC, docs/log.md): while
 *   appends flow, one group later; when they stop, st_log_poll() syncs one
 *   bound after the last commit; st_log_flush() acknowledges everything at
 *   once. A returned append is NOT durable until acknowledged.
 * - ST_LOG_NONE: each append commits without fsync (MDB_NOSYNC) before it
 *   returns and is acknowledged then: it survives a crash of the process
 *   (kill -9) but not of the machine: a power loss may lose recent appends
 *   and, LMDB warns, may damage the file. st_log_flush() makes all durable.
 * If a write call fails with a store error (PW_EFULL, PW_ESTORE), every
 * append not yet committed is discarded (committed ones are then synced
 * and acknowledged if the disk allows): st_log_last_seq() goes back to
 * st_log_acked_seq() and the discarded offsets will be given again. A
 * producer keeps each batch until it is acknowledged and resends the ones
 * after st_log_acked_seq() after such an error. Argument errors (PW_EARG,
 * PW_ENOTFOUND, PW_EUNSUPPORTED) discard nothing.
 *
 * The storage layout is described in docs/log.md.
 */
#ifndef ST_LOG_H
#define ST_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_stream.h"

typedef struct st_log st_log_t;
typedef struct st_log_reader st_log_reader_t;

/* Default map size: the most the log's file may hold, in MiB. */
#define ST_LOG_MAP_SIZE_MB_DEFAULT 1024

/* Default group commit bound, in ms. */
#define ST_LOG_GROUP_COMMIT_MS_DEFAULT 10

/* Default bound on bytes pending in a group (values: header+key+payload). */
#define ST_LOG_MAX_PENDING_BYTES_DEFAULT ((size_t)32 << 20)

/* Largest key, in bytes. */
#define ST_LOG_KEY_MAX 65535

/* Largest payload of one append, in bytes. */
#define ST_LOG_PAYLOAD_MAX ((size_t)64 << 20)

/* Bytes of the header stored before each message's key and payload. */
#define ST_LOG_HEADER_BYTES 16

/* How appends become durable; see the top of this file. */
typedef enum st_log_durability {
    ST_LOG_SYNC = 0,  /* commit + fsync per append */
    ST_LOG_GROUP = 1, /* commit + fsync per group of appends */
    ST_LOG_NONE = 2,  /* commit per append, no fsync (MDB_NOSYNC) */
} st_log_durability_t;

/* How to open a log; start from st_log_opts_default(). */
typedef struct st_log_opts {
    const char *dir;          /* directory; created (one level) if missing
                                 unless read_only; borrowed during open */
    size_t map_size_mb;       /* most the file may hold; default 1024; never
                                 below the file's current size */
    st_log_durability_t durability; /* default ST_LOG_GROUP */
    int group_commit_ms;      /* group bound, ms; default 10; >= 0 */
    size_t max_pending_bytes; /* group bound, bytes; default 32 MiB; > 0 */
    bool read_only;           /* open for reading only; default false */
} st_log_opts_t;

/* The defaults above, with dir NULL. */
st_log_opts_t st_log_opts_default(void);

/* CLOCK_REALTIME in ns since the Unix epoch: the now_ns to pass below. */
int64_t st_log_now_ns(void);

/*
 * Keep up to two groups' worth of freed heap instead of returning it to the
 * kernel (glibc M_TOP_PAD = max_pending_bytes, M_TRIM_THRESHOLD = twice
 * that). LMDB mallocs a write transaction's dirty pages and frees them at
 * commit; with glibc's default trimming every group faults its pages in
 * again, which made group appends of 24 KB batches 2-5x slower. Process-
 * wide; the first call wins, later ones do nothing. st_log_open() calls it
 * for a writable log in group mode; main() may call it first to choose.
 */
void st_log_tune_heap(size_t max_pending_bytes);

/* ---- Lifecycle ---------------------------------------------------------- */

/*
 * Open (creating if needed) the log in opts->dir. *out is owned by the
 * caller until st_log_close(). A writable open reserves map_size_mb on disk
 * (so a full disk shows here, not as a crash later). Errors: PW_EARG (bad
 * options), PW_ENOTFOUND (read_only and no log there), PW_EVERSION,
 * PW_EFULL (cannot reserve the map on disk), PW_ESTORE, -errno.
 */
int st_log_open(const st_log_opts_t *opts, st_log_t **out, pw_err_t *err);

/*
 * Commit what is pending and close. Every reader of this log must have
 * been destroyed. Returns 0, or the error of the final commit (the pending
 * appends are then lost). NULL is a no-op. Owner thread.
 */
int st_log_close(st_log_t *log, pw_err_t *err);

/* ---- Owner thread: writes ----------------------------------------------- */

/*
 * Create topic with `partitions` partitions (1..PW_STREAM_PARTITIONS_MAX)
 * and retention (NULL = unlimited). Commits a pending group first, then the
 * topic, so it is visible to readers and other processes on return (and
 * durable by the mode's rule). Errors: PW_EARG (name, partitions,
 * retention), PW_EEXIST, PW_EFULL, PW_ESTORE, PW_ECLOSED.
 */
int st_log_topic_create(st_log_t *log, const char *topic, int32_t partitions,
                        const pw_stream_retention_t *retention, pw_err_t *err);

/* Change a topic's retention; commits as topic_create. PW_ENOTFOUND. */
int st_log_topic_set_retention(st_log_t *log, const char *topic,
                               const pw_stream_retention_t *retention,
                               pw_err_t *err);

/*
 * Append one message to topic: partition in [0, partitions) or
 * PW_STREAM_PARTITION_ANY (Kafka's murmur2 of a non-empty key; round-robin
 * per st_log_t when key_len is 0, starting at partition 0). key (at most
 * ST_LOG_KEY_MAX bytes) and payload (at most ST_LOG_PAYLOAD_MAX) are
 * copied before returning; NULL only with length 0. now_ns is the append
 * time stored with the message (age retention uses it) and the clock of
 * the group bound: pass st_log_now_ns(). On success *out = partition,
 * offset and seq; acknowledged as described at the top. Errors:
 * PW_ENOTFOUND (unknown topic), PW_EARG (partition out of range, sizes),
 * PW_EUNSUPPORTED (read-only log), PW_EFULL ("DIR: log full: map size N
 * MiB reached; raise log.map_size_mb or lower retention"), PW_ESTORE,
 * PW_ECLOSED; on PW_EFULL/PW_ESTORE uncommitted appends are discarded.
 */
int st_log_append(st_log_t *log, const char *topic, int32_t partition,
                  const void *key, size_t key_len, const void *payload,
                  size_t payload_len, int64_t now_ns, pw_stream_pos_t *out,
                  pw_err_t *err);

/*
 * Store group's position (the next offset it will read, >= 0; any value,
 * as Kafka allows) for (topic, partition). Follows the durability mode like
 * an append: committed now in sync/none modes, with the group in group
 * mode. Errors: PW_EARG, PW_ENOTFOUND (topic), store errors.
 */
int st_log_position_commit(st_log_t *log, const char *group,
                           const char *topic, int32_t partition,
                           int64_t next_offset, pw_err_t *err);

/*
 * Apply every topic's retention at now_ns: from the front of each
 * partition, delete messages whose append time is more than max_age_ms
 * before now_ns, and the oldest while the partition holds more than
 * max_bytes (Kafka's retention.bytes is per partition too). Costs
 * O(messages deleted + partitions with a limit). Deletes may empty a
 * partition; its next offset never goes back. Commits a pending group
 * first, then the deletes, then one small transaction so that LMDB can
 * reuse the freed pages at once (docs/log.md). *deleted (may be NULL) gets
 * the count. Call it about once a second from the owner thread.
 */
int st_log_retain(st_log_t *log, int64_t now_ns, uint64_t *deleted,
                  pw_err_t *err);

/*
 * Group mode: commit the pending group if its bound has passed at now_ns,
 * or, with nothing pending, fsync a commit not yet acknowledged once a
 * bound has passed since it (a clock stepping back before the group or
 * commit time acts now rather than waiting). No-op in other modes. Errors:
 * store errors (the group is then discarded).
 */
int st_log_poll(st_log_t *log, int64_t now_ns, pw_err_t *err);

/*
 * Commit what is pending and fsync, so that every append so far is durable
 * and acknowledged (in every mode). Errors: store errors.
 */
int st_log_flush(st_log_t *log, pw_err_t *err);

/*
 * Highest acknowledged seq: this append and all before it are kept with
 * the mode's guarantee. Never decreases. Any thread (an atomic read).
 */
uint64_t st_log_acked_seq(const st_log_t *log);

/* Seq of the latest append (acknowledged or pending). Owner thread. */
uint64_t st_log_last_seq(const st_log_t *log);

/*
 * Time (same clock as now_ns) at which st_log_poll() has work: the pending
 * group's bound, or the sync of an unacknowledged commit; INT64_MIN if
 * due now, INT64_MAX if nothing waits. The owner can wait until then for
 * new work, then poll. Owner thread.
 */
int64_t st_log_due_ns(const st_log_t *log);

/* The map size in force, in bytes. Any thread. */
size_t st_log_map_size(const st_log_t *log);

/* ---- Readers: any thread, one thread at a time per reader --------------- */

/*
 * Create a reader of log. Readers must be destroyed before the log is
 * closed. Thread-safe. Errors: PW_ENOMEM, PW_ESTORE (e.g. too many readers:
 * LMDB allows 126 per directory across processes).
 */
int st_log_reader_create(st_log_t *log, st_log_reader_t **out,
                         pw_err_t *err);

/*
 * Read up to max messages of (topic, partition) from offset `from` (or
 * PW_STREAM_OFFSET_BEGINNING / PW_STREAM_OFFSET_END) into msgs[0..*n):
 * consecutive offsets, committed messages only; *n = 0 at the end. Views
 * stay valid until this reader's next call. Errors: PW_ENOTFOUND (topic),
 * PW_EARG (partition out of range), PW_ERANGE (from below the earliest
 * offset, e.g. deleted by retention, or above the next), PW_ECORRUPT.
 */
int st_log_read(st_log_reader_t *r, const char *topic, int32_t partition,
                int64_t from, pw_stream_msg_t *msgs, size_t max, size_t *n,
                pw_err_t *err);

/* Earliest retained offset and next offset of (topic, partition). */
int st_log_bounds(st_log_reader_t *r, const char *topic, int32_t partition,
                  int64_t *earliest, int64_t *next, pw_err_t *err);

/* Stored position of group; PW_ENOTFOUND when none was committed. */
int st_log_position_get(st_log_reader_t *r, const char *group,
                        const char *topic, int32_t partition,
                        int64_t *next_offset, pw_err_t *err);

/*
 * Call fn for each topic in name order, with every partition's earliest,
 * next and bytes (header + key + payload of retained messages), from one
 * snapshot. Returns 0, fn's non-zero value, or an error.
 */
int st_log_topics(st_log_reader_t *r, pw_stream_topic_fn fn, void *ctx,
                  pw_err_t *err);

/*
 * End the reader's snapshot (views from its last call become invalid) so
 * it no longer holds old pages; call it when a reader goes idle.
 */
void st_log_reader_release(st_log_reader_t *r);

/* Destroy a reader; its views become invalid. NULL is a no-op. */
void st_log_reader_destroy(st_log_reader_t *r);

/* ---- The embedded pw_stream backend (store/st_stream.c) ----------------- */

/*
 * Open the log in opts->dir as a pw_stream_t that owns it. The handle is
 * the log's owner thread's: every operation on it runs on that thread.
 * Its poll also runs retention about once a second. Close with
 * pw_stream_close() after every reader handle is closed.
 */
int st_stream_open_embedded(const st_log_opts_t *opts, pw_stream_t **out,
                            pw_err_t *err);

/*
 * A handle for another thread of the same process, reading the log that
 * `owner` (from st_stream_open_embedded) opened: topic_list, read, bounds
 * and position_get work; writes return PW_EUNSUPPORTED (send them to the
 * owner's thread); poll and flush report the owner's acked seq.
 */
int st_stream_open_embedded_reader(pw_stream_t *owner, pw_stream_t **out,
                                   pw_err_t *err);

#endif
