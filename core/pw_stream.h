/*
 * pw_stream: the stream interface, topics of partitioned, replayable logs.
 *
 * Every stream of records in Pitwall (sensor batches from ingest, results
 * from the pipeline) is a topic: N partitions, each an ordered log of
 * messages numbered by offset. A message is one opaque payload (in practice
 * a msgpack batch of many records) with an optional key that chooses its
 * partition. Consumers start from the earliest offset, the latest, or a
 * position stored under a group name; that is what makes replay and
 * recovery possible. Two backends implement this interface: the embedded
 * LMDB log (store/st_stream.c, declared in store/st_log.h) and Kafka
 * through librdkafka.
 *
 * How each operation maps onto Kafka, one to one:
 * - topic_create is CreateTopics (num_partitions; retention.ms and
 *   retention.bytes, both per partition as in Kafka); topic_list is a
 *   metadata request plus each partition's watermarks (bytes from
 *   DescribeLogDirs where the backend can, -1 otherwise).
 * - append is produce(): partition PW_STREAM_PARTITION_ANY lets the
 *   partitioner choose, and for a key it is Kafka's Java default
 *   partitioner, (murmur2(key) & 0x7fffffff) % partitions, so a key lands
 *   on the same partition on both backends. A message with no key (key_len
 *   0) goes round-robin; Kafka would pick randomly or stick to a partition,
 *   so an unkeyed message has no fixed partition on either backend. One
 *   append is one Kafka message; offsets are Kafka offsets.
 * - The append's seq and poll/flush stand in for delivery reports: an
 *   append is acknowledged once acked_seq >= its seq. Kafka's flush() is
 *   flush; poll() is poll(). A backend that learns the offset only from
 *   the delivery report (Kafka) returns offset -1 from append.
 * - read(from) is assign + seek(from) + consume up to max messages;
 *   PW_STREAM_OFFSET_BEGINNING and PW_STREAM_OFFSET_END are librdkafka's
 *   RD_KAFKA_OFFSET_BEGINNING and RD_KAFKA_OFFSET_END. Reading below the
 *   earliest offset or above the next one fails with PW_ERANGE
 *   (Kafka's OFFSET_OUT_OF_RANGE); the caller decides where to restart.
 * - bounds is query_watermark_offsets: earliest is the low watermark,
 *   next the high watermark (the offset the next message will get).
 *   Both count only committed messages: a reader sees an append once the
 *   backend has committed it (embedded) or it is replicated (Kafka).
 * - position_commit/position_get are committed offsets of a consumer
 *   group (OffsetCommit/OffsetFetch): the stored value is the next offset
 *   to read, as in Kafka.
 *
 * Threads: a pw_stream_t is used by one thread at a time; nothing in it is
 * thread-safe unless a backend says so. Backends say how other threads of
 * the same process get a handle of their own.
 */
#ifndef PW_STREAM_H
#define PW_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"

/* Let the partitioner choose (librdkafka's RD_KAFKA_PARTITION_UA). */
#define PW_STREAM_PARTITION_ANY (-1)

/* Read from the earliest retained offset (RD_KAFKA_OFFSET_BEGINNING). */
#define PW_STREAM_OFFSET_BEGINNING (-2)

/* Read from the next offset to be written (RD_KAFKA_OFFSET_END). */
#define PW_STREAM_OFFSET_END (-1)

/* Longest topic name, in bytes (Kafka's limit). */
#define PW_STREAM_TOPIC_MAX 249

/* Longest consumer group name, in bytes. */
#define PW_STREAM_GROUP_MAX 255

/* Most partitions a topic may have. */
#define PW_STREAM_PARTITIONS_MAX 4096

typedef struct pw_stream pw_stream_t;

/* Retention of a topic; 0 means unlimited (Kafka: retention.ms, .bytes). */
typedef struct pw_stream_retention {
    int64_t max_age_ms; /* delete messages appended longer ago than this */
    int64_t max_bytes;  /* per partition: delete the oldest beyond this */
} pw_stream_retention_t;

/* Where an append went. */
typedef struct pw_stream_pos {
    int32_t partition;
    int64_t offset; /* -1 while the backend does not know it yet (Kafka) */
    uint64_t seq;   /* this handle's append sequence, 1, 2, 3, ... */
} pw_stream_pos_t;

/*
 * One message read back. key and payload are borrowed views into the
 * backend's storage, valid until the next call on the same handle (or
 * reader); they have no alignment guarantee. key is NULL when key_len is 0.
 */
typedef struct pw_stream_msg {
    int64_t offset;
    int32_t partition;
    int64_t ts_ns; /* append time, ns since the Unix epoch */
    const void *key;
    size_t key_len;
    const void *payload;
    size_t payload_len;
} pw_stream_msg_t;

/* One partition's bounds and size. */
typedef struct pw_stream_part_info {
    int64_t earliest; /* first retained offset (low watermark) */
    int64_t next;     /* offset of the next message (high watermark) */
    int64_t bytes;    /* bytes retained; -1 if the backend cannot tell */
} pw_stream_part_info_t;

/* One topic as listed; every pointer is valid during the callback only. */
typedef struct pw_stream_topic_info {
    const char *name;
    int32_t partitions;
    pw_stream_retention_t retention;
    const pw_stream_part_info_t *parts; /* [partitions] */
} pw_stream_topic_info_t;

/*
 * Called once per topic, in name order, on the caller's thread from inside
 * topic_list. Return 0 to go on; any other value stops the listing and is
 * returned by topic_list.
 */
typedef int (*pw_stream_topic_fn)(void *ctx, const pw_stream_topic_info_t *t);

/*
 * What a backend implements. The pw_stream_* functions below check their
 * arguments and then call these, so backends may assume valid arguments
 * (non-NULL pointers, a well-formed topic name, partition in
 * [PW_STREAM_PARTITION_ANY, PW_STREAM_PARTITIONS_MAX)). A backend that
 * cannot do an operation returns PW_EUNSUPPORTED with a message.
 */
typedef struct pw_stream_ops {
    const char *name; /* "embedded", "kafka" */
    int (*topic_create)(pw_stream_t *s, const char *topic, int32_t partitions,
                        const pw_stream_retention_t *retention, pw_err_t *err);
    int (*topic_list)(pw_stream_t *s, pw_stream_topic_fn fn, void *ctx,
                      pw_err_t *err);
    int (*append)(pw_stream_t *s, const char *topic, int32_t partition,
                  const void *key, size_t key_len, const void *payload,
                  size_t payload_len, pw_stream_pos_t *out, pw_err_t *err);
    int (*poll)(pw_stream_t *s, uint64_t *acked_seq, pw_err_t *err);
    int (*flush)(pw_stream_t *s, int timeout_ms, uint64_t *acked_seq,
                 pw_err_t *err);
    int (*read)(pw_stream_t *s, const char *topic, int32_t partition,
                int64_t from, pw_stream_msg_t *msgs, size_t max, size_t *n,
                pw_err_t *err);
    int (*bounds)(pw_stream_t *s, const char *topic, int32_t partition,
                  int64_t *earliest, int64_t *next, pw_err_t *err);
    int (*position_commit)(pw_stream_t *s, const char *group,
                           const char *topic, int32_t partition,
                           int64_t next_offset, pw_err_t *err);
    int (*position_get)(pw_stream_t *s, const char *group, const char *topic,
                        int32_t partition, int64_t *next_offset,
                        pw_err_t *err);
    void (*close)(pw_stream_t *s);
} pw_stream_ops_t;

/* The handle; a backend's own struct starts with this. */
struct pw_stream {
    const pw_stream_ops_t *ops;
};

/*
 * Create a topic with `partitions` partitions (1..PW_STREAM_PARTITIONS_MAX)
 * and the given retention (NULL = unlimited). Visible to readers and other
 * processes when this returns. Errors: PW_EARG (bad name: Kafka's rules,
 * letters, digits, '.', '_', '-', at most PW_STREAM_TOPIC_MAX bytes),
 * PW_EEXIST (a topic of that name exists), store errors.
 */
int pw_stream_topic_create(pw_stream_t *s, const char *topic,
                           int32_t partitions,
                           const pw_stream_retention_t *retention,
                           pw_err_t *err);

/* Call fn for every topic, in name order. Returns 0, fn's non-zero value,
 * or an error. */
int pw_stream_topic_list(pw_stream_t *s, pw_stream_topic_fn fn, void *ctx,
                         pw_err_t *err);

/*
 * Append one message. partition is a partition of the topic or
 * PW_STREAM_PARTITION_ANY (by key, or round-robin without a key). key and
 * payload are borrowed for the call only; either may be NULL when its
 * length is 0. On success *out holds the partition, the offset and the
 * sequence number; the message is acknowledged (durable by the backend's
 * guarantee) once poll or flush reports acked_seq >= out->seq. Errors:
 * PW_ENOTFOUND (unknown topic), PW_EARG (partition out of range, too big),
 * PW_EFULL (storage full), PW_ESTORE. After PW_EFULL or PW_ESTORE every
 * append not yet acknowledged may be lost: resend from acked_seq + 1.
 */
int pw_stream_append(pw_stream_t *s, const char *topic, int32_t partition,
                     const void *key, size_t key_len, const void *payload,
                     size_t payload_len, pw_stream_pos_t *out, pw_err_t *err);

/*
 * Serve what is due (commits, delivery reports, retention) without
 * blocking on new work; *acked_seq (may be NULL) gets the highest seq such
 * that it and every earlier append are acknowledged. Call it regularly (at
 * least every few ms) from the thread that appends.
 */
int pw_stream_poll(pw_stream_t *s, uint64_t *acked_seq, pw_err_t *err);

/*
 * Make every append so far durable, waiting at most timeout_ms where the
 * backend can wait (Kafka); *acked_seq as for poll. Also makes committed
 * positions durable.
 */
int pw_stream_flush(pw_stream_t *s, int timeout_ms, uint64_t *acked_seq,
                    pw_err_t *err);

/*
 * Read up to max messages of one partition, from offset `from` (or
 * PW_STREAM_OFFSET_BEGINNING / PW_STREAM_OFFSET_END), into msgs[0..*n).
 * *n is 0 at the end of the partition. Views are valid until the next
 * call on this handle. Errors: PW_ENOTFOUND (topic), PW_EARG (partition),
 * PW_ERANGE (from below the earliest or above the next offset).
 */
int pw_stream_read(pw_stream_t *s, const char *topic, int32_t partition,
                   int64_t from, pw_stream_msg_t *msgs, size_t max, size_t *n,
                   pw_err_t *err);

/* The earliest retained offset and the next offset of one partition. */
int pw_stream_bounds(pw_stream_t *s, const char *topic, int32_t partition,
                     int64_t *earliest, int64_t *next, pw_err_t *err);

/*
 * Store group's position in (topic, partition): the next offset it will
 * read (>= 0). Durable and visible after the next commit (as appends:
 * poll or flush), as Kafka's commitAsync.
 */
int pw_stream_position_commit(pw_stream_t *s, const char *group,
                              const char *topic, int32_t partition,
                              int64_t next_offset, pw_err_t *err);

/* The stored position; PW_ENOTFOUND when the group never committed one. */
int pw_stream_position_get(pw_stream_t *s, const char *group,
                           const char *topic, int32_t partition,
                           int64_t *next_offset, pw_err_t *err);

/* Close the handle; appends not yet flushed may be lost. NULL is a no-op. */
void pw_stream_close(pw_stream_t *s);

/*
 * Kafka's murmur2 (Java client Utils.murmur2, librdkafka rd_murmur2):
 * seed 0x9747b28c, little-endian 4-byte blocks. Pure; thread-safe.
 */
uint32_t pw_stream_murmur2(const void *key, size_t len);

/*
 * The partition Kafka's default partitioner gives a non-empty key:
 * (murmur2(key) & 0x7fffffff) % partitions. partitions must be > 0.
 */
int32_t pw_stream_partition_for_key(const void *key, size_t len,
                                    int32_t partitions);

/* 0 if name is a valid topic name, else PW_EARG with the reason. */
int pw_stream_topic_check(const char *name, pw_err_t *err);

/* 0 if name is a valid group name (1..PW_STREAM_GROUP_MAX bytes). */
int pw_stream_group_check(const char *name, pw_err_t *err);

#endif
