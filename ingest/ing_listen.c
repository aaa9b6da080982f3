/*
 * ing_listen: the listener thread's epoll loop, the single-producer
 * single-consumer queue of decoded batches, and the small sender. The
 * contract is in ing_listen.h.
 *
 * The queue is an array of nslots preallocated slots and two counters that
 * only grow: head (slots published, written by the listener thread) and
 * tail (slots released, written by the consumer). Slot i % nslots is free
 * for the listener while head - tail < nslots. Each side sleeps on its own
 * eventfd and raises a want_* flag before sleeping; the other side checks
 * the flag after moving its counter. Flag and counter accesses are
 * sequentially consistent, so one of the two always sees the other
 * (a store-then-load handshake on both sides) and no wake-up is lost.
 */
#include "ingest/ing_listen.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pw_log.h"
#include "core/pw_time.h"

/* What an epoll event's u64 names; connection i is TAG_CONN + i. */
enum { TAG_WAKE = 1, TAG_UDP = 2, TAG_LISTEN = 3, TAG_CONN = 16 };

/* Datagrams read per UDP readiness before the other sockets get a turn. */
#define UDP_BURST 64

/* Connections accepted per readiness of the listening socket. */
#define ACCEPT_BURST 16

/* Events taken per epoll_wait. */
#define MAX_EVENTS 64

/* Longest piece of a name or a line quoted in a log line, bytes. */
#define QUOTE_MAX 64

/* Bounds of the options. */
#define MAX_QUEUE_BATCHES 65536u
#define MAX_CONNECTIONS 65536u
#define MIN_MSG_BYTES 64u
#define MAX_MSG_BYTES (64u << 20)
#define UDP_BUF_MAX 65536u

/* What a TCP connection carries, learnt from its first byte. */
enum conn_mode { MODE_UNKNOWN = 0, MODE_MSGPACK, MODE_JSON };

/*
 * A queue slot: one decoded batch and where it came from. The listener
 * thread owns it from slot_get() to publish(), the consumer from pop to
 * release.
 */
typedef struct slot {
    enum pw_codec_kind kind;
    enum ing_source source;
    uint64_t conn;
    int64_t recv_ns;
    socklen_t peer_len;
    struct sockaddr_storage peer;
    pw_points_t points; /* reserved for max_points at create */
    pw_frames_t frames; /* grows on first use, bounded by max_msg_bytes */
} slot_t;

/*
 * Counters of one source. Written by the listener thread only, so an
 * update is a relaxed load and store (no read-modify-write); read by
 * anyone.
 */
typedef struct src_stats {
    _Atomic uint64_t batches, points, frames, bytes, drops, drop_points,
        kernel_drops, malformed, truncated, paused, connections,
        connections_total, connections_rejected;
    _Atomic int64_t last_ts_ns;
} src_stats_t;

/* A TCP connection. Listener thread only. */
typedef struct conn {
    int fd;              /* -1 when the entry is free */
    enum conn_mode mode;
    bool armed;          /* registered with epoll */
    bool paused;         /* on the paused list, waiting for a slot */
    bool eof;            /* the peer is done (end of stream or an error) */
    bool closing;        /* closed at the end of this loop turn */
    uint64_t id;
    uint64_t stream_off; /* stream byte of buf[0] */
    uint64_t line;       /* JSON: lines consumed so far */
    size_t len;          /* bytes in buf */
    uint8_t *buf;        /* msg_cap bytes, kept for the next connection */
    struct conn *next_paused;
    socklen_t peer_len;
    struct sockaddr_storage peer;
    char from[80];       /* "127.0.0.1:40000" */
    char name[128];      /* "tcp conn 3 from 127.0.0.1:40000" for logs */
} conn_t;

struct ing_listen {
    /* Set by create; read-only afterwards. */
    size_t nslots, max_points, max_frames, max_conns, msg_cap, udp_cap;
    int add_names;
    ing_names_t names; /* NULL tables when the caller gave none */
    slot_t *slots;
    int ep, wake_fd, data_fd, udp_fd, tcp_fd;
    int udp_port, tcp_port;
    ino_t udp_ino;     /* the UDP socket's inode, its key in /proc/net/udp */
    char udp_text[64];
    pthread_t thread;

    /* The queue's counters, each on its own cache line (see the top). */
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    uint64_t popped; /* consumer only: slots popped */
    _Alignas(64) _Atomic int want_slot; /* the listener waits for room */
    _Atomic int want_data;              /* a consumer waits for a batch */
    _Atomic int stop;                   /* the listener thread must end */
    _Atomic int running;                /* between start and stop */

    /* Listener thread only (and create/destroy when it does not run). */
    _Alignas(64) pw_codec_decoder_t *dec;
    uint8_t *udp_buf;
    uint32_t rxq_ovfl; /* last SO_RXQ_OVFL count seen */
    conn_t *conns;
    size_t nconns, nclosing;
    uint64_t next_conn_id;
    conn_t *paused_head, *paused_tail;
    bool accept_off; /* listening socket out of epoll: out of descriptors */
    pw_log_ratelimit_t rl[ING_SRC_COUNT], rl_drop;

    src_stats_t st[ING_SRC_COUNT];
};

/* ---------------------------------------------------------------------- */
/* Small helpers.                                                          */

static inline void st_add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline uint64_t st_get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void efd_signal(int fd)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    /* EAGAIN means the counter is already non-zero: the wake is pending. */
}

static void efd_drain(int fd)
{
    uint64_t v;
    ssize_t n;
    do
        n = read(fd, &v, sizeof v);
    while (n < 0 && errno == EINTR);
}

/* Log a warning through rl: at most one line per interval, saying how many
 * were held back. Formats nothing when the line is suppressed. */
static void report(pw_log_ratelimit_t *rl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(pw_log_ratelimit_t *rl, const char *fmt, ...)
{
    uint64_t suppressed = 0;
    if (!pw_log_ratelimit_ok(rl, pw_mono_ns(), &suppressed))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (suppressed)
        pw_log(PW_LOG_WARN, "%s (and %" PRIu64 " similar problems in the last second)",
               msg, suppressed);
    else
        pw_log(PW_LOG_WARN, "%s", msg);
}

/* Copy up to QUOTE_MAX bytes of data for a log line, control bytes as '?'
 * so that input cannot forge or garble log lines. */
static const char *quote(const char *data, size_t len, char out[QUOTE_MAX + 4])
{
    size_t n = len > QUOTE_MAX ? QUOTE_MAX : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)data[i];
        out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    strcpy(out + n, len > n ? "..." : "");
    return out;
}

void ing_addr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t n)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (out == NULL || n == 0)
        return;
    if (sa == NULL || getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, n, "?");
        return;
    }
    if (sa->sa_family == AF_INET6)
        snprintf(out, n, "[%s]:%s", host, serv);
    else
        snprintf(out, n, "%s:%s", host, serv);
}

/*
 * Resolve "host:port" ("[v6]:port", "*:port", ":port") for proto; passive
 * for binding. *res is freed by the caller with freeaddrinfo.
 */
static int addr_resolve(const char *addr, enum ing_proto proto, int passive,
                        struct addrinfo **res, pw_err_t *err)
{
    const char *what = proto == ING_PROTO_UDP ? "udp" : "tcp";
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (colon == NULL || colon[1] == '\0')
        return pw_err_set(err, PW_EARG, "%s address '%s': expected HOST:PORT, "
                          "e.g. 127.0.0.1:9000", what, addr ? addr : "(null)");
    const char *host = addr;
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    char hbuf[256];
    if (hlen >= sizeof hbuf)
        return pw_err_set(err, PW_EARG, "%s address '%s': host name too long", what,
                          addr);
    memcpy(hbuf, host, hlen);
    hbuf[hlen] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535 || colon[1] == '-' || colon[1] == '+')
        return pw_err_set(err, PW_EARG, "%s address '%s': port '%s' is not 0..65535",
                          what, addr, colon + 1);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = proto == ING_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM,
        .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
    };
    bool any = hlen == 0 || strcmp(hbuf, "*") == 0;
    int rc = getaddrinfo(any ? NULL : hbuf, colon + 1, &hints, res);
    if (rc != 0)
        return pw_err_set(err, PW_EARG, "%s address '%s': %s", what, addr,
                          gai_strerror(rc));
    return 0;
}

/* Bind a non-blocking socket to addr (and listen, for TCP). */
static int sock_bind(enum ing_proto proto, const char *addr, int *fd_out,
                     int *port_out, pw_err_t *err)
{
    const char *what = proto == ING_PROTO_UDP ? "udp" : "tcp";
    struct addrinfo *res = NULL;
    int rc = addr_resolve(addr, proto, 1, &res, err);
    if (rc)
        return rc;
    int fd = -1;
    rc = PW_EARG;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        if (proto == ING_PROTO_TCP)
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            (proto == ING_PROTO_UDP || listen(fd, SOMAXCONN) == 0))
            break;
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return pw_err_set(err, rc, "%s %s: cannot bind: %s", what, addr,
                          pw_strerror(rc));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        rc = -errno;
        close(fd);
        return pw_err_set(err, rc, "%s %s: getsockname: %s", what, addr,
                          pw_strerror(rc));
    }
    *port_out = ss.ss_family == AF_INET6
                    ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

/* Raise the UDP receive buffer, past rmem_max when we may (CAP_NET_ADMIN). */
static void udp_rcvbuf(int fd, int bytes, const char *text)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    int got = 0;
    socklen_t gl = sizeof got;
    /* Linux reports twice the size asked for (it counts its bookkeeping). */
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got / 2 < bytes)
        pw_log(PW_LOG_WARN,
               "udp %s: receive buffer is %d bytes, %d asked for (raise "
               "net.core.rmem_max); bursts may be dropped by the kernel",
               text, got / 2, bytes);
}

/* The kernel's drop count of the socket with inode ino, from /proc/net/udp
 * or udp6. Returns 0 or PW_ENOTFOUND. */
static int udp_proc_drops(ino_t ino, uint64_t *drops)
{
    static const char *const files[] = {"/proc/net/udp", "/proc/net/udp6"};
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "re");
        if (f == NULL)
            continue;
        char line[512];
        unsigned long long node, d;
        int found = 0;
        while (!found && fgets(line, sizeof line, f)) {
            if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %*s %*s %llu",
                       &node, &d) == 2 &&
                node == (unsigned long long)ino) {
                *drops = d;
                found = 1;
            }
        }
        fclose(f);
        if (found)
            return 0;
    }
    return PW_ENOTFOUND;
}

/* ---------------------------------------------------------------------- */
/* The queue, listener side.                                               */

/* The next free slot, or NULL when the queue is full. */
static slot_t *slot_get(ing_listen_t *l)
{
    uint64_t h = atomic_load_explicit(&l->head, memory_order_relaxed);
    uint64_t t = atomic_load(&l->tail); /* seq_cst: see slot_want */
    if (h - t >= l->nslots)
        return NULL;
    return &l->slots[h % l->nslots];
}

/* A free slot, or NULL after asking the consumer to wake us on release. */
static slot_t *slot_want(ing_listen_t *l)
{
    slot_t *s = slot_get(l);
    if (s != NULL)
        return s;
    atomic_store(&l->want_slot, 1);
    return slot_get(l);
}

/* Count the batch in s and hand it to the consumer. */
static void publish(ing_listen_t *l, slot_t *s)
{
    src_stats_t *st = &l->st[s->source];
    const int64_t *ts;
    size_t n;
    if (s->kind == PW_CODEC_POINTS) {
        ts = s->points.ts_ns;
        n = s->points.n;
        st_add(&st->points, n);
    } else {
        ts = s->frames.ts_ns;
        n = s->frames.n;
        st_add(&st->frames, n);
    }
    int64_t last = atomic_load_explicit(&st->last_ts_ns, memory_order_relaxed);
    int64_t max = last;
    for (size_t i = 0; i < n; i++)
        if (ts[i] > max)
            max = ts[i];
    if (max != last)
        atomic_store_explicit(&st->last_ts_ns, max, memory_order_relaxed);
    st_add(&st->batches, 1);
    uint64_t h = atomic_load_explicit(&l->head, memory_order_relaxed);
    atomic_store(&l->head, h + 1);
    if (atomic_load(&l->want_data) && atomic_exchange(&l->want_data, 0))
        efd_signal(l->data_fd);
}

/*
 * Check a message before taking a slot for it: well-formed, of a kind we
 * take, within the batch limits. Sets *kind and *count.
 */
static int batch_check(ing_listen_t *l, const uint8_t *data, size_t len,
                       enum pw_codec_kind *kind, size_t *count, pw_err_t *err)
{
    int rc = pw_codec_peek(data, len, kind, count, err);
    if (rc)
        return rc;
    if (*kind == PW_CODEC_RESULTS)
        return pw_err_set(err, PW_EUNSUPPORTED,
                          "a results batch: listeners take points and frames");
    size_t max = *kind == PW_CODEC_POINTS ? l->max_points : l->max_frames;
    if (*count > max)
        return pw_err_set(err, PW_ECAPACITY, "a batch of %zu %s, over max_batch_%s %zu",
                          *count, pw_codec_kind_name(*kind),
                          pw_codec_kind_name(*kind), max);
    return 0;
}

/* Decode a checked message into slot s. */
static int slot_decode(ing_listen_t *l, slot_t *s, enum pw_codec_kind kind,
                       const uint8_t *data, size_t len, pw_err_t *err)
{
    s->kind = kind;
    if (kind == PW_CODEC_POINTS)
        return pw_codec_decode_points(l->dec, data, len, &s->points, err);
    return pw_codec_decode_frames(l->dec, data, len, &s->frames, err);
}

/* ---------------------------------------------------------------------- */
/* UDP.                                                                    */

static void udp_datagram(ing_listen_t *l, const struct sockaddr_storage *peer,
                         socklen_t peer_len, size_t n)
{
    src_stats_t *st = &l->st[ING_SRC_UDP];
    enum pw_codec_kind kind = 0;
    size_t count = 0;
    pw_err_t e = {0};
    int rc = batch_check(l, l->udp_buf, n, &kind, &count, &e);
    if (rc == 0 && count == 0) {
        st_add(&st->batches, 1); /* accepted; nothing to queue */
        return;
    }
    slot_t *s = NULL;
    if (rc == 0) {
        s = slot_get(l);
        if (s == NULL) {
            st_add(&st->drops, 1);
            if (kind == PW_CODEC_POINTS)
                st_add(&st->drop_points, count);
            report(&l->rl_drop,
                   "udp %s: queue full (%zu batches; the consumer is behind): "
                   "dropping datagrams, counted in drops",
                   l->udp_text, l->nslots);
            return;
        }
        rc = slot_decode(l, s, kind, l->udp_buf, n, &e);
    }
    if (rc) {
        st_add(&st->malformed, 1);
        char from[80];
        ing_addr_format((const struct sockaddr *)peer, peer_len, from, sizeof from);
        report(&l->rl[ING_SRC_UDP], "udp %s: malformed datagram of %zu bytes from %s: %s",
               l->udp_text, n, from, e.msg);
        return;
    }
    s->source = ING_SRC_UDP;
    s->conn = 0;
    s->recv_ns = pw_wall_ns();
    s->peer_len = peer_len;
    memcpy(&s->peer, peer, peer_len);
    publish(l, s);
}

static void udp_drain(ing_listen_t *l)
{
    src_stats_t *st = &l->st[ING_SRC_UDP];
    for (int i = 0; i < UDP_BURST; i++) {
        struct sockaddr_storage peer;
        union {
            char buf[CMSG_SPACE(sizeof(uint32_t))];
            struct cmsghdr align;
        } cm;
        struct iovec iov = {.iov_base = l->udp_buf, .iov_len = l->udp_cap};
        struct msghdr mh = {
            .msg_name = &peer, .msg_namelen = sizeof peer, .msg_iov = &iov,
            .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf,
        };
        ssize_t n = recvmsg(l->udp_fd, &mh, MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                report(&l->rl[ING_SRC_UDP], "udp %s: recv: %s", l->udp_text,
                       pw_strerror(-errno));
            return;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                uint32_t d;
                memcpy(&d, CMSG_DATA(c), sizeof d);
                st_add(&st->kernel_drops, (uint32_t)(d - l->rxq_ovfl));
                l->rxq_ovfl = d;
            }
        }
        st_add(&st->bytes, (uint64_t)n);
        if ((size_t)n > l->udp_cap || (mh.msg_flags & MSG_TRUNC)) {
            st_add(&st->malformed, 1);
            char from[80];
            ing_addr_format((const struct sockaddr *)&peer, mh.msg_namelen, from,
                            sizeof from);
            report(&l->rl[ING_SRC_UDP],
                   "udp %s: datagram of %zd bytes from %s is over the %zu-byte "
                   "receive buffer (max_msg_bytes): dropped as malformed",
                   l->udp_text, n, from, l->udp_cap);
            continue;
        }
        udp_datagram(l, &peer, mh.msg_namelen, (size_t)n);
    }
}

/* ---------------------------------------------------------------------- */
/* TCP connections.                                                        */

static enum ing_source conn_source(const conn_t *c)
{
    return c->mode == MODE_JSON ? ING_SRC_JSON : ING_SRC_TCP;
}

static void conn_disarm(ing_listen_t *l, conn_t *c)
{
    if (c->armed) {
        (void)epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
        c->armed = false;
    }
}

static void conn_arm(ing_listen_t *l, conn_t *c)
{
    if (c->armed)
        return;
    struct epoll_event ev = {.events = EPOLLIN,
                             .data.u64 = TAG_CONN + (uint64_t)(c - l->conns)};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) == 0) {
        c->armed = true;
        return;
    }
    report(&l->rl[ING_SRC_TCP], "%s: epoll: %s; closing", c->name, pw_strerror(-errno));
    c->eof = true;
}

/* Close c at the end of this loop turn (never inside its own handling). */
static void conn_close_later(ing_listen_t *l, conn_t *c)
{
    if (c->closing)
        return;
    conn_disarm(l, c);
    c->closing = true;
    l->nclosing++;
}

/* A stream that cannot be framed: count, say why, close. */
static void conn_fail(ing_listen_t *l, conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_fail(ing_listen_t *l, conn_t *c, const char *fmt, ...)
{
    if (c->closing)
        return;
    enum ing_source src = conn_source(c);
    st_add(&l->st[src].malformed, 1);
    char why[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    report(&l->rl[src], "%s: %s; closing the connection", c->name, why);
    conn_close_later(l, c);
}

static void conn_pause(ing_listen_t *l, conn_t *c)
{
    conn_disarm(l, c);
    c->paused = true;
    c->next_paused = NULL;
    if (l->paused_tail)
        l->paused_tail->next_paused = c;
    else
        l->paused_head = c;
    l->paused_tail = c;
    st_add(&l->st[conn_source(c)].paused, 1);
}

/* Drop the consumed bytes in front of buf. */
static void conn_consume(conn_t *c, size_t off)
{
    if (off == 0)
        return;
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    c->stream_off += off;
}

/* Learn the mode from the first byte that is not white space. */
static void conn_detect(ing_listen_t *l, conn_t *c)
{
    size_t i = 0;
    while (i < c->len && (c->buf[i] == ' ' || c->buf[i] == '\t' ||
                          c->buf[i] == '\r' || c->buf[i] == '\n'))
        i++;
    if (i == c->len) { /* only white space so far: keep the line count */
        for (size_t k = 0; k < i; k++)
            c->line += c->buf[k] == '\n';
        conn_consume(c, i);
        return;
    }
    uint8_t b = c->buf[i];
    if (i == 0 && ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf)) {
        c->mode = MODE_MSGPACK;
    } else if (b == '{') {
        c->mode = MODE_JSON;
        snprintf(c->name, sizeof c->name, "json conn %" PRIu64 " from %s", c->id,
                 c->from);
    } else {
        conn_fail(l, c, "neither a msgpack batch nor a JSON line: byte 0x%02x at "
                  "stream byte %" PRIu64, b, c->stream_off + i);
    }
}

/* Msgpack batches back to back: frame, check, decode, queue. */
static void conn_msgpack(ing_listen_t *l, conn_t *c)
{
    src_stats_t *st = &l->st[ING_SRC_TCP];
    size_t off = 0;
    while (off < c->len) {
        const uint8_t *msg = c->buf + off;
        uint64_t at = c->stream_off + off;
        size_t mlen = 0;
        pw_err_t e = {0};
        int rc = pw_codec_message_len(msg, c->len - off, &mlen, &e);
        if (rc == PW_ETRUNC) {
            if (off == 0 && c->len == l->msg_cap)
                conn_fail(l, c, "the batch at stream byte %" PRIu64 " is longer than "
                          "max_msg_bytes (%zu)", at, l->msg_cap);
            break; /* wait for the rest */
        }
        if (rc) {
            conn_fail(l, c, "garbage at stream byte %" PRIu64 ": %s", at, e.msg);
            return;
        }
        enum pw_codec_kind kind = 0;
        size_t count = 0;
        rc = batch_check(l, msg, mlen, &kind, &count, &e);
        slot_t *s = NULL;
        if (rc == 0 && count > 0) {
            s = slot_want(l);
            if (s == NULL) {
                conn_pause(l, c);
                break;
            }
            rc = slot_decode(l, s, kind, msg, mlen, &e);
        }
        if (rc) {
            /* Framed but bad: skip it, the stream is still in step. */
            st_add(&st->malformed, 1);
            report(&l->rl[ING_SRC_TCP], "%s: batch of %zu bytes at stream byte %" PRIu64
                   " skipped: %s", c->name, mlen, at, e.msg);
        } else if (s == NULL) {
            st_add(&st->batches, 1); /* empty: accepted, nothing to queue */
        } else {
            s->source = ING_SRC_TCP;
            s->conn = c->id;
            s->recv_ns = pw_wall_ns();
            s->peer_len = c->peer_len;
            memcpy(&s->peer, &c->peer, c->peer_len);
            publish(l, s);
        }
        off += mlen;
    }
    conn_consume(c, off);
}

/* Resolve a JSON entity or channel: a numeric id or a name in tab. */
static int json_name(ing_listen_t *l, pw_intern_t *tab, const char *what,
                     json_t *v, uint32_t *id, pw_err_t *err)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 1 || x > (json_int_t)UINT32_MAX)
            return pw_err_set(err, PW_ECORRUPT, "'%s' id %lld is not 1..4294967295",
                              what, (long long)x);
        *id = (uint32_t)x;
        return 0;
    }
    if (!json_is_string(v))
        return pw_err_set(err, PW_ECORRUPT, "'%s' must be a name or a numeric id", what);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    char q[QUOTE_MAX + 4];
    if (tab == NULL)
        return pw_err_set(err, PW_ENOTFOUND, "%s '%s': this listener has no name "
                          "tables; give a numeric id", what, quote(s, len, q));
    if (pw_intern_find(tab, s, len, id) == 0)
        return 0;
    if (!l->add_names)
        return pw_err_set(err, PW_ENOTFOUND, "unknown %s '%s'", what, quote(s, len, q));
    int rc = pw_intern_add(tab, s, len, id);
    if (rc)
        return pw_err_set(err, rc, "cannot intern %s '%s': %s", what, quote(s, len, q),
                          pw_strerror(rc));
    return 0;
}

/* Parse one JSON line into p; a point without ts_ns gets now_ns. */
static int json_point(ing_listen_t *l, const char *line, size_t len, int64_t now_ns,
                      pw_point_t *p, pw_err_t *err)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL)
        return pw_err_set(err, PW_ECORRUPT, "invalid JSON at column %d: %s", je.column,
                          je.text);
    int rc = 0;
    bool has_entity = false, has_channel = false, has_value = false;
    p->ts_ns = now_ns;
    if (!json_is_object(o)) {
        rc = pw_err_set(err, PW_ECORRUPT, "expected an object like "
                        "{\"ts_ns\":1,\"entity\":\"car/1\",\"channel\":\"rpm\","
                        "\"value\":9000}");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "ts_ns") == 0) {
            if (!json_is_integer(v))
                rc = pw_err_set(err, PW_ECORRUPT, "'ts_ns' must be an integer (ns)");
            else
                p->ts_ns = (int64_t)json_integer_value(v);
        } else if (strcmp(key, "entity") == 0) {
            rc = json_name(l, l->names.entities, "entity", v, &p->entity, err);
            has_entity = true;
        } else if (strcmp(key, "channel") == 0) {
            rc = json_name(l, l->names.channels, "channel", v, &p->channel, err);
            has_channel = true;
        } else if (strcmp(key, "value") == 0) {
            if (json_is_number(v))
                p->value = json_number_value(v);
            else if (json_is_null(v))
                p->value = NAN; /* missing reading */
            else
                rc = pw_err_set(err, PW_ECORRUPT, "'value' must be a number or null");
            has_value = true;
        } else {
            char q[QUOTE_MAX + 4];
            rc = pw_err_set(err, PW_ECORRUPT, "unknown key '%s' (a point has ts_ns, "
                            "entity, channel, value)", quote(key, strlen(key), q));
        }
        if (rc)
            goto out;
    }
    if (!has_entity || !has_channel || !has_value)
        rc = pw_err_set(err, PW_ECORRUPT, "missing '%s'",
                        !has_entity ? "entity" : !has_channel ? "channel" : "value");
out:
    json_decref(o);
    return rc;
}

/* JSON lines: one point each, gathered into batches of up to max_points;
 * a batch is queued when full and when the buffered lines run out. */
static void conn_json(ing_listen_t *l, conn_t *c)
{
    src_stats_t *st = &l->st[ING_SRC_JSON];
    slot_t *open = NULL;
    size_t off = 0;
    int64_t now_ns = pw_wall_ns();
    while (off < c->len) {
        char *line = (char *)c->buf + off;
        size_t avail = c->len - off;
        char *nl = memchr(line, '\n', avail);
        size_t llen;
        if (nl != NULL) {
            llen = (size_t)(nl - line);
        } else if (c->eof) {
            llen = avail; /* the last line, with no newline */
        } else {
            if (off == 0 && c->len == l->msg_cap)
                conn_fail(l, c, "line %" PRIu64 " (stream byte %" PRIu64 ") is longer "
                          "than max_msg_bytes (%zu)", c->line + 1, c->stream_off,
                          l->msg_cap);
            break;
        }
        size_t k = 0;
        while (k < llen && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
            k++;
        if (k < llen) {
            if (open != NULL && open->points.n == l->max_points) {
                publish(l, open);
                open = NULL;
            }
            if (open == NULL) {
                open = slot_want(l);
                if (open == NULL) {
                    conn_pause(l, c);
                    break;
                }
                open->kind = PW_CODEC_POINTS;
                open->source = ING_SRC_JSON;
                open->conn = c->id;
                open->recv_ns = now_ns;
                open->peer_len = c->peer_len;
                memcpy(&open->peer, &c->peer, c->peer_len);
                open->points.n = 0;
            }
            pw_point_t p;
            pw_err_t e = {0};
            if (json_point(l, line, llen, now_ns, &p, &e) == 0) {
                pw_points_t *b = &open->points;
                b->ts_ns[b->n] = p.ts_ns;
                b->entity[b->n] = p.entity;
                b->channel[b->n] = p.channel;
                b->value[b->n] = p.value;
                b->n++;
            } else {
                st_add(&st->malformed, 1);
                char q[QUOTE_MAX + 4];
                report(&l->rl[ING_SRC_JSON], "%s: line %" PRIu64 " (stream byte %" PRIu64
                       ") skipped: %s: '%s'", c->name, c->line + 1, c->stream_off + off,
                       e.msg, quote(line, llen, q));
            }
        }
        off += llen + (nl != NULL);
        c->line++;
    }
    if (open != NULL && open->points.n > 0)
        publish(l, open); /* an unpublished slot is simply taken again */
    conn_consume(c, off);
}

/* The peer is done and everything that could be queued was: close. */
static void conn_finish(ing_listen_t *l, conn_t *c)
{
    if (c->len > 0) {
        enum ing_source src = conn_source(c);
        st_add(&l->st[src].truncated, 1);
        report(&l->rl[src], "%s: connection ended inside a batch: %zu bytes from "
               "stream byte %" PRIu64 " discarded", c->name, c->len, c->stream_off);
    } else {
        pw_log(PW_LOG_DEBUG, "%s: closed after %" PRIu64 " bytes", c->name,
               c->stream_off);
    }
    conn_close_later(l, c);
}

/* Work through what c has buffered; close it once its peer is done. */
static void conn_process(ing_listen_t *l, conn_t *c)
{
    if (c->closing)
        return;
    if (c->mode == MODE_UNKNOWN)
        conn_detect(l, c);
    if (c->closing)
        return;
    if (c->mode == MODE_MSGPACK)
        conn_msgpack(l, c);
    else if (c->mode == MODE_JSON)
        conn_json(l, c);
    if (c->closing || c->paused)
        return;
    if (c->eof)
        conn_finish(l, c);
}

static void conn_readable(ing_listen_t *l, conn_t *c)
{
    if (c->closing || c->paused || c->eof)
        return;
    size_t room = l->msg_cap - c->len;
    assert(room > 0); /* a full buffer is framed, paused or failed */
    ssize_t n = recv(c->fd, c->buf + c->len, room, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        report(&l->rl[conn_source(c)], "%s: recv: %s", c->name, pw_strerror(-errno));
        c->eof = true;
    } else if (n == 0) {
        c->eof = true;
    } else {
        c->len += (size_t)n;
        if (c->mode == MODE_UNKNOWN)
            conn_detect(l, c);
        st_add(&l->st[conn_source(c)].bytes, (uint64_t)n);
    }
    if (c->eof)
        conn_disarm(l, c);
    conn_process(l, c);
}

static void tcp_accept(ing_listen_t *l)
{
    src_stats_t *st = &l->st[ING_SRC_TCP];
    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        int fd = accept4(l->tcp_fd, (struct sockaddr *)&peer, &pl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Level-triggered: stop watching until a descriptor frees up. */
                report(&l->rl[ING_SRC_TCP], "tcp: accept: %s; not accepting for now",
                       pw_strerror(-errno));
                (void)epoll_ctl(l->ep, EPOLL_CTL_DEL, l->tcp_fd, NULL);
                l->accept_off = true;
            }
            return;
        }
        char from[80];
        ing_addr_format((struct sockaddr *)&peer, pl, from, sizeof from);
        conn_t *c = NULL;
        for (size_t k = 0; k < l->max_conns && c == NULL; k++)
            if (l->conns[k].fd < 0)
                c = &l->conns[k];
        if (c != NULL && c->buf == NULL)
            c->buf = malloc(l->msg_cap);
        if (c == NULL || c->buf == NULL) {
            close(fd);
            st_add(&st->connections_rejected, 1);
            report(&l->rl[ING_SRC_TCP], "tcp: connection from %s refused: %s", from,
                   c == NULL ? "max_connections reached" : "out of memory");
            continue;
        }
        uint8_t *buf = c->buf;
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->buf = buf;
        c->id = ++l->next_conn_id;
        c->peer_len = pl;
        memcpy(&c->peer, &peer, pl);
        snprintf(c->from, sizeof c->from, "%s", from);
        snprintf(c->name, sizeof c->name, "tcp conn %" PRIu64 " from %s", c->id, from);
        l->nconns++;
        st_add(&st->connections, 1);
        st_add(&st->connections_total, 1);
        conn_arm(l, c);
        if (c->eof) /* could not watch it */
            conn_close_later(l, c);
        pw_log(PW_LOG_DEBUG, "%s: accepted", c->name);
    }
}

/* Give paused connections the room the consumer made, oldest first. */
static void conns_resume(ing_listen_t *l)
{
    while (l->paused_head != NULL) {
        if (slot_want(l) == NULL)
            return; /* still full: the next release wakes us */
        conn_t *c = l->paused_head;
        l->paused_head = c->next_paused;
        if (l->paused_head == NULL)
            l->paused_tail = NULL;
        c->paused = false;
        conn_process(l, c);
        if (!c->paused && !c->closing && !c->eof)
            conn_arm(l, c);
        if (c->eof && !c->paused && !c->closing)
            conn_close_later(l, c); /* could not re-arm it */
    }
}

static void conn_close_now(ing_listen_t *l, conn_t *c)
{
    conn_disarm(l, c);
    close(c->fd);
    c->fd = -1;
    l->nconns--;
    st_add(&l->st[ING_SRC_TCP].connections, (uint64_t)-1);
}

static void conns_reap(ing_listen_t *l)
{
    for (size_t i = 0; i < l->max_conns && l->nclosing > 0; i++) {
        conn_t *c = &l->conns[i];
        if (c->fd >= 0 && c->closing) {
            conn_close_now(l, c);
            l->nclosing--;
        }
    }
}

/* At stop: close every connection, saying what was left unprocessed. */
static void conns_close_all(ing_listen_t *l)
{
    for (size_t i = 0; i < l->max_conns; i++) {
        conn_t *c = &l->conns[i];
        if (c->fd < 0)
            continue;
        if (c->len > 0 && !c->closing) {
            enum ing_source src = conn_source(c);
            st_add(&l->st[src].truncated, 1);
            pw_log(PW_LOG_WARN, "%s: listener stopping: %zu bytes from stream byte %"
                   PRIu64 " left unprocessed", c->name, c->len, c->stream_off);
        }
        conn_close_now(l, c);
    }
    l->nclosing = 0;
    l->paused_head = l->paused_tail = NULL;
}

static void *listen_main(void *arg)
{
    ing_listen_t *l = arg;
    struct epoll_event ev[MAX_EVENTS];
    while (!atomic_load(&l->stop)) {
        int n = epoll_wait(l->ep, ev, MAX_EVENTS, l->accept_off ? 1000 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            pw_log(PW_LOG_ERROR, "listener: epoll_wait: %s; listener stops",
                   pw_strerror(-errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = ev[i].data.u64;
            if (tag == TAG_WAKE)
                efd_drain(l->wake_fd);
            else if (tag == TAG_UDP)
                udp_drain(l);
            else if (tag == TAG_LISTEN)
                tcp_accept(l);
            else if (tag >= TAG_CONN && tag - TAG_CONN < l->max_conns)
                conn_readable(l, &l->conns[tag - TAG_CONN]);
        }
        if (l->paused_head != NULL)
            conns_resume(l);
        if (l->nclosing > 0)
            conns_reap(l);
        if (l->accept_off) {
            struct epoll_event lev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
            if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->tcp_fd, &lev) == 0)
                l->accept_off = false;
        }
    }
    conns_close_all(l);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Lifecycle.                                                              */

static int ep_add(ing_listen_t *l, int fd, uint64_t tag, pw_err_t *err)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        return pw_err_set(err, -errno, "listen: epoll_ctl: %s", pw_strerror(-errno));
    return 0;
}

int ing_listen_create(const ing_listen_opts_t *o, ing_names_t *names,
                      ing_listen_t **out, pw_err_t *err)
{
    if (o == NULL || out == NULL)
        return pw_err_set(err, PW_EARG, "listen: NULL argument");
    if (o->udp_addr == NULL && o->tcp_addr == NULL)
        return pw_err_set(err, PW_EARG, "listen: neither udp_addr nor tcp_addr is set");
    size_t nslots = o->queue_batches ? o->queue_batches : ING_LISTEN_QUEUE_BATCHES;
    size_t max_points = o->max_batch_points ? o->max_batch_points : ING_LISTEN_BATCH_POINTS;
    size_t max_frames = o->max_batch_frames ? o->max_batch_frames : ING_LISTEN_BATCH_FRAMES;
    size_t max_conns = o->max_connections ? o->max_connections : ING_LISTEN_CONNECTIONS;
    size_t msg_cap = o->max_msg_bytes ? o->max_msg_bytes : ING_LISTEN_MSG_BYTES;
    if (nslots > MAX_QUEUE_BATCHES)
        return pw_err_set(err, PW_EARG, "listen: queue_batches %zu is over %u", nslots,
                          MAX_QUEUE_BATCHES);
    if (max_points > PW_CODEC_MAX_RECORDS || max_frames > PW_CODEC_MAX_RECORDS)
        return pw_err_set(err, PW_EARG, "listen: max_batch_points/frames is over %u",
                          PW_CODEC_MAX_RECORDS);
    if (max_conns > MAX_CONNECTIONS)
        return pw_err_set(err, PW_EARG, "listen: max_connections %zu is over %u",
                          max_conns, MAX_CONNECTIONS);
    if (msg_cap < MIN_MSG_BYTES || msg_cap > MAX_MSG_BYTES)
        return pw_err_set(err, PW_EARG, "listen: max_msg_bytes %zu is not %u..%u", msg_cap,
                          MIN_MSG_BYTES, MAX_MSG_BYTES);

    size_t size = (sizeof(ing_listen_t) + 63) / 64 * 64;
    ing_listen_t *l = aligned_alloc(64, size);
    if (l == NULL)
        return pw_err_set(err, -ENOMEM, "listen: out of memory");
    memset(l, 0, size);
    l->ep = l->wake_fd = l->data_fd = l->udp_fd = l->tcp_fd = -1;
    l->nslots = nslots;
    l->max_points = max_points;
    l->max_frames = max_frames;
    l->max_conns = max_conns;
    l->msg_cap = msg_cap;
    l->udp_cap = msg_cap < UDP_BUF_MAX ? msg_cap : UDP_BUF_MAX;
    l->add_names = o->add_names;
    if (names != NULL)
        l->names = *names;
    for (int s = 0; s < ING_SRC_COUNT; s++) {
        atomic_init(&l->st[s].last_ts_ns, INT64_MIN);
        l->rl[s].interval_ns = PW_NS_PER_S;
    }
    l->rl_drop.interval_ns = PW_NS_PER_S;

    int rc = -ENOMEM;
    l->slots = calloc(nslots, sizeof *l->slots);
    l->conns = calloc(max_conns, sizeof *l->conns);
    if (l->slots == NULL || l->conns == NULL)
        goto nomem;
    for (size_t i = 0; i < max_conns; i++)
        l->conns[i].fd = -1;
    for (size_t i = 0; i < nslots; i++) {
        pw_points_init(&l->slots[i].points);
        pw_frames_init(&l->slots[i].frames);
    }
    for (size_t i = 0; i < nslots; i++)
        if (pw_points_reserve(&l->slots[i].points, max_points) != 0)
            goto nomem;
    if (pw_codec_decoder_create(&l->dec) != 0)
        goto nomem;
    if (o->udp_addr != NULL && (l->udp_buf = malloc(l->udp_cap)) == NULL)
        goto nomem;

    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->data_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->wake_fd < 0 || l->data_fd < 0 || l->ep < 0) {
        rc = pw_err_set(err, -errno, "listen: %s", pw_strerror(-errno));
        goto fail;
    }
    if ((rc = ep_add(l, l->wake_fd, TAG_WAKE, err)) != 0)
        goto fail;
    if (o->udp_addr != NULL) {
        if ((rc = sock_bind(ING_PROTO_UDP, o->udp_addr, &l->udp_fd, &l->udp_port, err)))
            goto fail;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(l->udp_fd, (struct sockaddr *)&ss, &sl);
        ing_addr_format((struct sockaddr *)&ss, sl, l->udp_text, sizeof l->udp_text);
        int one = 1;
        (void)setsockopt(l->udp_fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
        if (o->rcvbuf_bytes >= 0)
            udp_rcvbuf(l->udp_fd, o->rcvbuf_bytes ? o->rcvbuf_bytes : ING_LISTEN_RCVBUF_BYTES,
                       l->udp_text);
        struct stat sb;
        if (fstat(l->udp_fd, &sb) == 0)
            l->udp_ino = sb.st_ino;
        if ((rc = ep_add(l, l->udp_fd, TAG_UDP, err)) != 0)
            goto fail;
    }
    if (o->tcp_addr != NULL) {
        if ((rc = sock_bind(ING_PROTO_TCP, o->tcp_addr, &l->tcp_fd, &l->tcp_port, err)))
            goto fail;
        if ((rc = ep_add(l, l->tcp_fd, TAG_LISTEN, err)) != 0)
            goto fail;
    }
    *out = l;
    return 0;

nomem:
    rc = pw_err_set(err, -ENOMEM, "listen: out of memory for %zu slots of %zu points",
                    nslots, max_points);
fail:
    ing_listen_destroy(l);
    return rc;
}

int ing_listen_port(const ing_listen_t *l, enum ing_proto proto)
{
    if (l == NULL)
        return 0;
    return proto == ING_PROTO_UDP ? l->udp_port : proto == ING_PROTO_TCP ? l->tcp_port : 0;
}

int ing_listen_start(ing_listen_t *l)
{
    if (l == NULL || atomic_load(&l->running))
        return PW_EARG;
    atomic_store(&l->stop, 0);
    atomic_store(&l->running, 1);
    int rc = pthread_create(&l->thread, NULL, listen_main, l);
    if (rc != 0) {
        atomic_store(&l->running, 0);
        return -rc;
    }
    return 0;
}

int ing_listen_stop(ing_listen_t *l)
{
    if (l == NULL || !atomic_load(&l->running))
        return 0;
    atomic_store(&l->stop, 1);
    efd_signal(l->wake_fd);
    pthread_join(l->thread, NULL);
    atomic_store(&l->running, 0);
    efd_signal(l->data_fd); /* a consumer waiting in pop sees PW_ECLOSED */
    return 0;
}

void ing_listen_destroy(ing_listen_t *l)
{
    if (l == NULL)
        return;
    ing_listen_stop(l);
    int fds[] = {l->udp_fd, l->tcp_fd, l->ep, l->wake_fd, l->data_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (l->conns != NULL)
        for (size_t i = 0; i < l->max_conns; i++)
            free(l->conns[i].buf);
    if (l->slots != NULL)
        for (size_t i = 0; i < l->nslots; i++) {
            pw_points_fini(&l->slots[i].points);
            pw_frames_fini(&l->slots[i].frames);
        }
    free(l->conns);
    free(l->slots);
    free(l->udp_buf);
    pw_codec_decoder_destroy(l->dec);
    free(l);
}

/* ---------------------------------------------------------------------- */
/* Consumer.                                                               */

int ing_listen_pop(ing_listen_t *l, ing_batch_t *b, int timeout_ms)
{
    if (l == NULL || b == NULL)
        return PW_EARG;
    int64_t deadline = timeout_ms > 0 ? pw_mono_ns() + timeout_ms * PW_NS_PER_MS : 0;
    for (;;) {
        if (atomic_load(&l->head) != l->popped) {
            const slot_t *s = &l->slots[l->popped % l->nslots];
            b->kind = s->kind;
            b->points = s->kind == PW_CODEC_POINTS ? &s->points : NULL;
            b->frames = s->kind == PW_CODEC_FRAMES ? &s->frames : NULL;
            b->source = s->source;
            b->conn = s->conn;
            b->peer = (const struct sockaddr *)&s->peer;
            b->peer_len = s->peer_len;
            b->recv_ns = s->recv_ns;
            l->popped++;
            return 0;
        }
        if (!atomic_load(&l->running)) {
            /* It may have published just before it stopped: look again. */
            if (atomic_load(&l->head) != l->popped)
                continue;
            return PW_ECLOSED;
        }
        if (timeout_ms == 0)
            return -EAGAIN;
        int wait_ms = -1;
        if (timeout_ms > 0) {
            int64_t left = deadline - pw_mono_ns();
            if (left <= 0)
                return -EAGAIN;
            wait_ms = (int)((left + PW_NS_PER_MS - 1) / PW_NS_PER_MS);
        }
        atomic_store(&l->want_data, 1);
        if (atomic_load(&l->head) != l->popped || !atomic_load(&l->running))
            continue;
        struct pollfd p = {.fd = l->data_fd, .events = POLLIN};
        (void)poll(&p, 1, wait_ms);
        efd_drain(l->data_fd);
    }
}

void ing_listen_release(ing_listen_t *l)
{
    uint64_t t = atomic_load_explicit(&l->tail, memory_order_relaxed);
    assert(t < l->popped);
    if (t >= l->popped)
        return;
    atomic_store(&l->tail, t + 1);
    if (atomic_load(&l->want_slot) && atomic_exchange(&l->want_slot, 0))
        efd_signal(l->wake_fd);
}

int ing_listen_stats(ing_listen_t *l, enum ing_source src, ing_listen_stats_t *st)
{
    if (l == NULL || st == NULL || (unsigned)src >= ING_SRC_COUNT)
        return PW_EARG;
    src_stats_t *s = &l->st[src];
    memset(st, 0, sizeof *st);
    st->batches = st_get(&s->batches);
    st->points = st_get(&s->points);
    st->frames = st_get(&s->frames);
    st->bytes = st_get(&s->bytes);
    st->drops = st_get(&s->drops);
    st->drop_points = st_get(&s->drop_points);
    st->kernel_drops = st_get(&s->kernel_drops);
    st->malformed = st_get(&s->malformed);
    st->truncated = st_get(&s->truncated);
    st->paused = st_get(&s->paused);
    st->connections = st_get(&s->connections);
    st->connections_total = st_get(&s->connections_total);
    st->connections_rejected = st_get(&s->connections_rejected);
    st->last_ts_ns = atomic_load_explicit(&s->last_ts_ns, memory_order_relaxed);
    st->lag_ns = st->last_ts_ns == INT64_MIN ? 0 : pw_wall_ns() - st->last_ts_ns;
    st->queued = (size_t)(atomic_load(&l->head) - atomic_load(&l->tail));
    uint64_t d;
    if (src == ING_SRC_UDP && l->udp_fd >= 0 && udp_proc_drops(l->udp_ino, &d) == 0 &&
        d > st->kernel_drops)
        st->kernel_drops = d;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Sender.                                                                 */

int ing_send_open(ing_send_t *s, enum ing_proto proto, const char *addr, pw_err_t *err)
{
    if (s == NULL)
        return pw_err_set(err, PW_EARG, "send: NULL sender");
    s->fd = -1;
    s->proto = proto;
    s->batches = s->bytes = 0;
    pw_codec_buf_init(&s->buf);
    if (proto != ING_PROTO_UDP && proto != ING_PROTO_TCP)
        return pw_err_set(err, PW_EARG, "send: unknown protocol %d", (int)proto);
    const char *what = proto == ING_PROTO_UDP ? "udp" : "tcp";
    struct addrinfo *res = NULL;
    int rc = addr_resolve(addr, proto, 0, &res, err);
    if (rc)
        return rc;
    int fd = -1;
    rc = PW_EARG;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return pw_err_set(err, rc, "%s %s: cannot connect: %s", what, addr,
                          pw_strerror(rc));
    if (proto == ING_PROTO_TCP) {
        /* Batches are whole messages: send each at once. */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    s->fd = fd;
    return 0;
}

int ing_send_bytes(ing_send_t *s, const void *data, size_t len, pw_err_t *err)
{
    if (s == NULL || s->fd < 0 || (data == NULL && len > 0))
        return pw_err_set(err, PW_EARG, "send: closed sender or NULL data");
    if (s->proto == ING_PROTO_UDP) {
        if (len > ING_UDP_MAX_PAYLOAD)
            return pw_err_set(err, PW_ECAPACITY, "udp: a message of %zu bytes is over "
                              "the %u-byte datagram limit; send smaller batches",
                              len, ING_UDP_MAX_PAYLOAD);
        for (;;) {
            if (send(s->fd, data, len, 0) >= 0)
                break;
            if (errno != EINTR)
                return pw_err_set(err, -errno, "udp: send: %s", pw_strerror(-errno));
        }
    } else {
        const uint8_t *p = data;
        size_t off = 0;
        while (off < len) {
            ssize_t n = send(s->fd, p + off, len - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return pw_err_set(err, -errno, "tcp: send after %" PRIu64 " bytes: %s",
                                  s->bytes + off, pw_strerror(-errno));
            }
            off += (size_t)n;
        }
    }
    s->batches++;
    s->bytes += len;
    return 0;
}

int ing_send_points(ing_send_t *s, const pw_points_t *b, pw_err_t *err)
{
    if (s == NULL || b == NULL)
        return pw_err_set(err, PW_EARG, "send: NULL argument");
    int rc = pw_codec_encode_points(&s->buf, b, err);
    return rc ? rc : ing_send_bytes(s, s->buf.data, s->buf.len, err);
}

int ing_send_frames(ing_send_t *s, const pw_frames_t *b, pw_err_t *err)
{
    if (s == NULL || b == NULL)
        return pw_err_set(err, PW_EARG, "send: NULL argument");
    int rc = pw_codec_encode_frames(&s->buf, b, err);
    return rc ? rc : ing_send_bytes(s, s->buf.data, s->buf.len, err);
}

void ing_send_close(ing_send_t *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    pw_codec_buf_fini(&s->buf);
}
