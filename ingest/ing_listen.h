/*
 * ing_listen: live network listeners for `pitwall edge` and `pitwall run`.
 *
 * A listener takes Pitwall msgpack batches (pw_codec) off the network and
 * hands them, decoded, to one consumer thread. Points and frames batches
 * are taken; results batches are refused (counted as malformed).
 *   - UDP: one batch per datagram;
 *   - TCP: a byte stream of batches back to back, or JSON lines, one point
 *     per line, for trying it by hand with nc:
 *       {"ts_ns":1,"entity":"car/1","channel":"rpm","value":9000}
 *     A TCP connection's first byte chooses: a msgpack map header
 *     (0x80-0x8f, 0xde, 0xdf) means batches, '{' (after optional
 *     whitespace) means JSON lines; anything else is garbage and the
 *     connection is closed. One TCP port serves both.
 *
 * Threads. One listener thread per ing_listen_t (started by
 * ing_listen_start) owns every socket: the UDP socket, the TCP listening
 * socket and up to max_connections connections, watched with epoll. It
 * validates and decodes each datagram or batch straight into a slot of a
 * bounded single-producer single-consumer queue of queue_batches slots,
 * each preallocated for max_batch_points points, and publishes it. One
 * consumer thread takes slots in order with ing_listen_pop() and gives
 * them back with ing_listen_release(). Nothing on the batch path allocates
 * once warm (a slot's frames grow to the largest frames batch seen, bounded
 * by max_msg_bytes); JSON lines are parsed by jansson, which allocates per
 * line: that path is for people, not for rate.
 *
 * Order: batches of one TCP connection reach the consumer in the order they
 * were sent; datagrams in the order the socket received them. Nothing is
 * promised between sources or connections.
 *
 * When the consumer falls behind and the queue is full:
 *   - UDP datagrams are read and dropped, counted in drops (never blocking
 *     the listener thread). Datagrams the kernel drops because the socket
 *     buffer is full are counted in kernel_drops (SO_RXQ_OVFL and the
 *     socket's drops column in /proc/net/udp). So for every datagram that
 *     reaches the socket: batches + drops + malformed + kernel_drops counts
 *     it exactly once.
 *   - A TCP connection stops being read (back-pressure): its unread bytes
 *     stay in the kernel, the window fills and the sender's writes block.
 *     It is read again as soon as the consumer releases a slot. Nothing
 *     accepted is lost; bytes left unprocessed at stop or at a connection's
 *     end are logged and counted.
 *
 * Bad input never stops a listener. A malformed datagram, batch or line is
 * counted in malformed and logged (at most one line a second per source,
 * with how many were suppressed) with the peer, the stream byte and the
 * codec's reason. A TCP connection whose stream cannot be framed (garbage,
 * a batch over max_msg_bytes, a line over max_msg_bytes) is closed after a
 * log line; a well-framed batch that fails to decode is skipped and the
 * stream goes on. A connection that ends inside a batch is counted in
 * truncated and logged.
 */
#ifndef ING_LISTEN_H
#define ING_LISTEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/pw_codec.h"
#include "core/pw_error.h"
#include "core/pw_record.h"
#include "ingest/ing_format.h"

typedef struct ing_listen ing_listen_t;

/* The transports a listener and a sender speak. */
enum ing_proto {
    ING_PROTO_UDP = 0,
    ING_PROTO_TCP = 1,
};

/* Where a batch came from; statistics are kept per source. */
enum ing_source {
    ING_SRC_UDP = 0,  /* msgpack batches in datagrams */
    ING_SRC_TCP = 1,  /* msgpack batches on TCP connections */
    ING_SRC_JSON = 2, /* JSON lines on TCP connections */
};
#define ING_SRC_COUNT 3

/* Defaults for zero fields of ing_listen_opts_t. */
#define ING_LISTEN_QUEUE_BATCHES 64        /* slots in the queue */
#define ING_LISTEN_BATCH_POINTS 4096       /* points a slot holds */
#define ING_LISTEN_BATCH_FRAMES 256        /* frames a slot holds */
#define ING_LISTEN_CONNECTIONS 64          /* TCP connections at once */
#define ING_LISTEN_MSG_BYTES (256u << 10)  /* a TCP connection's buffer, bytes */
#define ING_LISTEN_RCVBUF_BYTES (4 << 20)  /* UDP socket receive buffer, bytes */

/* Largest UDP payload over IPv4, bytes (65535 - 8 - 20). */
#define ING_UDP_MAX_PAYLOAD 65507u

/* Options; zero fields take the defaults above. Read only by create. */
typedef struct ing_listen_opts {
    const char *udp_addr;    /* "127.0.0.1:0", "0.0.0.0:9000", "[::1]:9000",
                                "*:9000"; NULL = no UDP listener */
    const char *tcp_addr;    /* as udp_addr; NULL = no TCP listener */
    size_t queue_batches;    /* queue slots, 1..65536 */
    size_t max_batch_points; /* points per batch, larger batches are
                                malformed; 1..PW_CODEC_MAX_RECORDS */
    size_t max_batch_frames; /* frames per batch, likewise */
    size_t max_connections;  /* TCP connections at once; more are accepted
                                and closed at once, counted in rejected */
    size_t max_msg_bytes;    /* longest batch or JSON line on TCP, and the
                                UDP receive buffer (at most 65536): a longer
                                datagram is malformed. 64..(64 << 20) */
    int rcvbuf_bytes;        /* UDP SO_RCVBUF (forced past rmem_max when
                                allowed); < 0 keeps the system's */
    int add_names;           /* JSON: 1 = intern names the tables lack (the
                                listener thread is then the tables' one adder
                                while it runs); 0 = such lines are malformed */
} ing_listen_opts_t;

/*
 * A batch the consumer popped: views into a queue slot, valid until the
 * matching ing_listen_release().
 */
typedef struct ing_batch {
    enum pw_codec_kind kind;    /* PW_CODEC_POINTS or PW_CODEC_FRAMES */
    const pw_points_t *points;  /* kind points: n >= 1; else NULL */
    const pw_frames_t *frames;  /* kind frames: n >= 1; else NULL */
    enum ing_source source;
    uint64_t conn;              /* TCP connection number (1, 2, ...); 0 for UDP */
    const struct sockaddr *peer; /* sender's address */
    socklen_t peer_len;
    int64_t recv_ns;            /* wall clock when the listener read it */
} ing_batch_t;

/* Counters of one source since create; see ing_listen_stats(). */
typedef struct ing_listen_stats {
    uint64_t batches;       /* datagrams, batches or JSON batches accepted
                               (queued, or empty and so not queued) */
    uint64_t points;        /* points queued */
    uint64_t frames;        /* frames queued */
    uint64_t bytes;         /* bytes received, good or bad */
    uint64_t drops;         /* UDP: datagrams read and dropped, queue full */
    uint64_t drop_points;   /* UDP: points in those datagrams */
    uint64_t kernel_drops;  /* UDP: datagrams the kernel dropped, socket
                               buffer full */
    uint64_t malformed;     /* datagrams, batches, lines rejected */
    uint64_t truncated;     /* connections that ended inside a batch, or
                               closed at stop with bytes unprocessed */
    uint64_t paused;        /* times a connection stopped being read
                               because the queue was full */
    uint64_t connections;   /* TCP connections open now (ING_SRC_TCP counts
                               them all, JSON ones too) */
    uint64_t connections_total;    /* accepted since create */
    uint64_t connections_rejected; /* over max_connections */
    int64_t last_ts_ns;     /* latest event time queued; INT64_MIN = none */
    int64_t lag_ns;         /* wall clock minus last_ts_ns at the call; 0 =
                               none */
    size_t queued;          /* batches waiting in the queue, all sources */
} ing_listen_stats_t;

/*
 * Create a listener: bind its sockets (so ing_listen_port() works at once)
 * and preallocate the queue; no thread runs yet. names (borrowed until
 * destroy; may be NULL, then JSON lines must give numeric ids) resolves
 * JSON entity and channel names. On success *l is owned by the caller
 * (ing_listen_destroy) and 0 is returned; else *l is untouched and the
 * return is PW_EARG (bad options, an address that does not parse or
 * resolve: "udp_addr '127.0.0.1:x': ..."), -errno ("tcp 127.0.0.1:80:
 * cannot bind: Permission denied") or -ENOMEM, with err filled.
 */
int ing_listen_create(const ing_listen_opts_t *opts, ing_names_t *names,
                      ing_listen_t **l, pw_err_t *err);

/* The bound port of proto (after create), 0 when that listener is off. */
int ing_listen_port(const ing_listen_t *l, enum ing_proto proto);

/*
 * Start the listener thread. Returns 0, PW_EARG if it already runs, or
 * -errno from pthread_create. A stopped listener may start again.
 */
int ing_listen_start(ing_listen_t *l);

/*
 * Take the oldest queued batch: fill *b and return 0. When the queue is
 * empty, wait up to timeout_ms (0 = do not wait, < 0 = forever) and return
 * -EAGAIN, or PW_ECLOSED once the listener is not running (stopped or not
 * started) and the queue is empty: a consumer loop ends on it. Several
 * batches may be held at once; each must be released, in pop order.
 * Consumer thread only: one thread at a time may pop and release.
 */
int ing_listen_pop(ing_listen_t *l, ing_batch_t *b, int timeout_ms);

/*
 * Give back the oldest batch popped and not yet released; its views become
 * invalid. Wakes the listener if a connection waits for room. Consumer
 * thread only; releasing more than was popped is a bug (assert).
 */
void ing_listen_release(ing_listen_t *l);

/*
 * Copy the counters of source src into *st. Thread-safe, lock-free (each
 * counter is an atomic, so two counters may be a few batches apart);
 * reads /proc/net/udp for kernel_drops of ING_SRC_UDP. Returns 0 or
 * PW_EARG.
 */
int ing_listen_stats(ing_listen_t *l, enum ing_source src,
                     ing_listen_stats_t *st);

/*
 * Stop the listener thread and wait for it: it closes every connection
 * (logging and counting bytes left unprocessed) and keeps the sockets
 * bound. Batches already queued stay for the consumer, who is woken (pop
 * returns them, then PW_ECLOSED). Returns 0 (also when not running). Call
 * from one thread at a time (the owner's), never the listener's.
 */
int ing_listen_stop(ing_listen_t *l);

/* Stop if running, close the sockets, free everything. NULL does nothing. */
void ing_listen_destroy(ing_listen_t *l);

/*
 * Write sa as "1.2.3.4:5678" or "[::1]:5678" into out (n bytes, at least
 * 64 is enough); "?" when it cannot. Thread-safe.
 */
void ing_addr_format(const struct sockaddr *sa, socklen_t len, char *out,
                     size_t n);

/*
 * A sender: one socket connected to a listener, for the simulator
 * (`pitwall sim --udp ADDR`), benchmarks and tests. Caller's memory; one
 * thread at a time. Sockets block: on TCP a listener applying
 * back-pressure blocks the sender, which is the point.
 */
typedef struct ing_send {
    int fd;
    enum ing_proto proto;
    pw_codec_buf_t buf; /* the last encoded batch */
    uint64_t batches;   /* sent through ing_send_points/frames/bytes */
    uint64_t bytes;
} ing_send_t;

/*
 * Connect s to addr ("127.0.0.1:9000") over proto. Returns 0, or PW_EARG
 * (address), -errno ("tcp 127.0.0.1:9: cannot connect: Connection
 * refused") with err filled; s is then closed (fd -1).
 */
int ing_send_open(ing_send_t *s, enum ing_proto proto, const char *addr,
                  pw_err_t *err);

/*
 * Encode a batch and send it: one datagram on UDP, appended to the stream
 * on TCP (all of it, retrying short writes). Returns 0, PW_ECAPACITY when
 * the encoded batch is over ING_UDP_MAX_PAYLOAD on UDP (split it), an
 * encoder error, or -errno from send (-ECONNREFUSED on UDP when nobody
 * listened to an earlier datagram).
 */
int ing_send_points(ing_send_t *s, const pw_points_t *b, pw_err_t *err);
int ing_send_frames(ing_send_t *s, const pw_frames_t *b, pw_err_t *err);

/* Send len raw bytes as they are (one datagram on UDP). As above. */
int ing_send_bytes(ing_send_t *s, const void *data, size_t len, pw_err_t *err);

/* Close the socket and free the buffer; s is left closed (fd -1) and
 * closing it again, or after a failed open, does nothing. */
void ing_send_close(ing_send_t *s);

#endif
