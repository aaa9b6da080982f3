#include "core/pw_stream.h"

#include <string.h>

uint32_t pw_stream_murmur2(const void *key, size_t len)
{
    /* Constants and shape of the Java client's Utils.murmur2. */
    const uint32_t m = 0x5bd1e995u;
    const uint32_t seed = 0x9747b28cu;
    const unsigned char *p = key;
    uint32_t h = seed ^ (uint32_t)len;

    for (size_t i = 0; i + 4 <= len; i += 4, p += 4) {
        uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)p[2] << 16;
        __attribute__((fallthrough));
    case 2:
        h ^= (uint32_t)p[1] << 8;
        __attribute__((fallthrough));
    case 1:
        h ^= (uint32_t)p[0];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t pw_stream_partition_for_key(const void *key, size_t len,
                                    int32_t partitions)
{
    if (partitions <= 0)
        return 0;
    return (int32_t)((pw_stream_murmur2(key, len) & 0x7fffffffu) %
                     (uint32_t)partitions);
}

int pw_stream_topic_check(const char *name, pw_err_t *err)
{
    if (name == NULL || name[0] == '\0')
        return pw_err_set(err, PW_EARG, "topic name is empty");
    size_t len = strnlen(name, PW_STREAM_TOPIC_MAX + 1);
    if (len > PW_STREAM_TOPIC_MAX)
        return pw_err_set(err, PW_EARG,
                          "topic name '%.40s...' is longer than %d bytes",
                          name, PW_STREAM_TOPIC_MAX);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return pw_err_set(err, PW_EARG, "topic name '%s' is reserved", name);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return pw_err_set(err, PW_EARG,
                              "topic name '%s': character %zu is not a "
                              "letter, digit, '.', '_' or '-'",
                              name, i + 1);
    }
    return 0;
}

int pw_stream_group_check(const char *name, pw_err_t *err)
{
    if (name == NULL || name[0] == '\0')
        return pw_err_set(err, PW_EARG, "consumer group name is empty");
    if (strnlen(name, PW_STREAM_GROUP_MAX + 1) > PW_STREAM_GROUP_MAX)
        return pw_err_set(err, PW_EARG,
                          "consumer group name '%.40s...' is longer than %d "
                          "bytes",
                          name, PW_STREAM_GROUP_MAX);
    return 0;
}

static int check_handle(const pw_stream_t *s, pw_err_t *err)
{
    if (s == NULL || s->ops == NULL)
        return pw_err_set(err, PW_EARG, "stream handle is NULL");
    return 0;
}

static int check_part(int32_t partition, int allow_any, pw_err_t *err)
{
    if (partition == PW_STREAM_PARTITION_ANY && allow_any)
        return 0;
    if (partition < 0 || partition >= PW_STREAM_PARTITIONS_MAX)
        return pw_err_set(err, PW_EARG, "partition %d is out of range",
                          (int)partition);
    return 0;
}

int pw_stream_topic_create(pw_stream_t *s, const char *topic,
                           int32_t partitions,
                           const pw_stream_retention_t *retention,
                           pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)) || (rc = pw_stream_topic_check(topic, err)))
        return rc;
    if (partitions < 1 || partitions > PW_STREAM_PARTITIONS_MAX)
        return pw_err_set(err, PW_EARG,
                          "topic '%s': %d partitions; expected 1..%d", topic,
                          (int)partitions, PW_STREAM_PARTITIONS_MAX);
    if (retention != NULL &&
        (retention->max_age_ms < 0 || retention->max_bytes < 0))
        return pw_err_set(err, PW_EARG,
                          "topic '%s': negative retention (0 = unlimited)",
                          topic);
    return s->ops->topic_create(s, topic, partitions, retention, err);
}

int pw_stream_topic_list(pw_stream_t *s, pw_stream_topic_fn fn, void *ctx,
                         pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)))
        return rc;
    if (fn == NULL)
        return pw_err_set(err, PW_EARG, "topic list callback is NULL");
    return s->ops->topic_list(s, fn, ctx, err);
}

int pw_stream_append(pw_stream_t *s, const char *topic, int32_t partition,
                     const void *key, size_t key_len, const void *payload,
                     size_t payload_len, pw_stream_pos_t *out, pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)) ||
        (rc = pw_stream_topic_check(topic, err)) ||
        (rc = check_part(partition, 1, err)))
        return rc;
    if ((key == NULL && key_len > 0) || (payload == NULL && payload_len > 0))
        return pw_err_set(err, PW_EARG,
                          "topic '%s': NULL key or payload with a length",
                          topic);
    if (out == NULL)
        return pw_err_set(err, PW_EARG, "append: out is NULL");
    return s->ops->append(s, topic, partition, key, key_len, payload,
                          payload_len, out, err);
}

int pw_stream_poll(pw_stream_t *s, uint64_t *acked_seq, pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)))
        return rc;
    return s->ops->poll(s, acked_seq, err);
}

int pw_stream_flush(pw_stream_t *s, int timeout_ms, uint64_t *acked_seq,
                    pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)))
        return rc;
    return s->ops->flush(s, timeout_ms, acked_seq, err);
}

int pw_stream_read(pw_stream_t *s, const char *topic, int32_t partition,
                   int64_t from, pw_stream_msg_t *msgs, size_t max, size_t *n,
                   pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)) ||
        (rc = pw_stream_topic_check(topic, err)) ||
        (rc = check_part(partition, 0, err)))
        return rc;
    if (n == NULL || (msgs == NULL && max > 0))
        return pw_err_set(err, PW_EARG, "read: NULL message array or count");
    if (from < PW_STREAM_OFFSET_BEGINNING)
        return pw_err_set(err, PW_EARG, "read: bad offset %lld",
                          (long long)from);
    return s->ops->read(s, topic, partition, from, msgs, max, n, err);
}

int pw_stream_bounds(pw_stream_t *s, const char *topic, int32_t partition,
                     int64_t *earliest, int64_t *next, pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)) ||
        (rc = pw_stream_topic_check(topic, err)) ||
        (rc = check_part(partition, 0, err)))
        return rc;
    if (earliest == NULL || next == NULL)
        return pw_err_set(err, PW_EARG, "bounds: NULL output");
    return s->ops->bounds(s, topic, partition, earliest, next, err);
}

int pw_stream_position_commit(pw_stream_t *s, const char *group,
                              const char *topic, int32_t partition,
                              int64_t next_offset, pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)) ||
        (rc = pw_stream_group_check(group, err)) ||
        (rc = pw_stream_topic_check(topic, err)) ||
        (rc = check_part(partition, 0, err)))
        return rc;
    if (next_offset < 0)
        return pw_err_set(err, PW_EARG,
                          "group '%s' topic '%s' partition %d: negative "
                          "position %lld",
                          group, topic, (int)partition,
                          (long long)next_offset);
    return s->ops->position_commit(s, group, topic, partition, next_offset,
                                   err);
}

int pw_stream_position_get(pw_stream_t *s, const char *group,
                           const char *topic, int32_t partition,
                           int64_t *next_offset, pw_err_t *err)
{
    int rc;
    if ((rc = check_handle(s, err)) ||
        (rc = pw_stream_group_check(group, err)) ||
        (rc = pw_stream_topic_check(topic, err)) ||
        (rc = check_part(partition, 0, err)))
        return rc;
    if (next_offset == NULL)
        return pw_err_set(err, PW_EARG, "position_get: NULL output");
    return s->ops->position_get(s, group, topic, partition, next_offset, err);
}

void pw_stream_close(pw_stream_t *s)
{
    if (s == NULL || s->ops == NULL)
        return;
    s->ops->close(s);
}
