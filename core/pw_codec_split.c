/*
 * Splitting a byte stream of back-to-back batches (a recording, a file for
 * `pitwall stream append`) into messages. Declared in core/pw_codec.h.
 */
#include <errno.h>
#include <msgpack.h>

#include "core/pw_codec.h"

int pw_codec_message_len(const void *data, size_t len, size_t *msg_len, pw_err_t *err)
{
    if (data == NULL && len > 0)
        return pw_err_set(err, PW_EARG, "batch: NULL data");
    if (len == 0)
        return pw_err_set(err, PW_ETRUNC, "batch: no bytes");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&u, data, len, &off);
    msgpack_unpacked_destroy(&u);
    switch (r) {
    case MSGPACK_UNPACK_SUCCESS:
    case MSGPACK_UNPACK_EXTRA_BYTES:
        *msg_len = off;
        return 0;
    case MSGPACK_UNPACK_CONTINUE:
        return pw_err_set(err, PW_ETRUNC,
                          "batch: truncated: the input ends after %zu bytes, inside the "
                          "message", len);
    case MSGPACK_UNPACK_NOMEM_ERROR:
        return pw_err_set(err, -ENOMEM, "batch: out of memory");
    default:
        return pw_err_set(err, PW_ECORRUPT, "batch: not msgpack (at byte %zu)", off);
    }
}
