/*
 * pw_error: Pitwall's error codes and the detail that goes with them.
 *
 * Every function returns an int: 0 on success, a negative code on failure.
 * System failures are -errno; Pitwall's own codes live below PW_E_BASE so
 * they never collide with errno values. pw_strerror() names either kind.
 *
 * Functions that can fail for a reason a person must read (a bad file, a
 * corrupt batch) also take a pw_err_t as their last parameter and fill it
 * with what, where and why: "batch.mp: column 'value' holds 7992 bytes,
 * expected 8000 (n=1000) at byte 61". A NULL pw_err_t is allowed.
 * pw_err_t is plain caller memory; nothing in it needs freeing.
 */
#ifndef PW_ERROR_H
#define PW_ERROR_H

#include <stddef.h>

/* Our codes start here, far below any -errno. */
#define PW_E_BASE 10000

/* The one table of Pitwall's error codes: name, value, text. */
#define PW_ERROR_TABLE(X)                                                     \
    X(PW_EARG,        1, "invalid argument")                                  \
    X(PW_ETRUNC,      2, "truncated input")                                   \
    X(PW_ECORRUPT,    3, "malformed input")                                   \
    X(PW_EVERSION,    4, "unsupported format version")                        \
    X(PW_ECAPACITY,   5, "capacity exceeded")                                 \
    X(PW_ENOTFOUND,   6, "not found")                                         \
    X(PW_EEXIST,      7, "already exists")                                    \
    X(PW_ECONF,       8, "configuration error")                               \
    X(PW_ESTORE,      9, "store error")                                       \
    X(PW_EFULL,      10, "store full")                                        \
    X(PW_ERANGE,     11, "offset out of range")                               \
    X(PW_ECLOSED,    12, "handle closed after a fatal error")                 \
    X(PW_EUNSUPPORTED, 13, "not supported")                                   \
    X(PW_ENOMEM,     14, "out of memory")                                     \
    X(PW_EUSAGE,     15, "bad command line")

enum pw_error_code {
#define PW_ERROR_ENUM(name, num, text) name = -(PW_E_BASE + (num)),
    PW_ERROR_TABLE(PW_ERROR_ENUM)
#undef PW_ERROR_ENUM
};

/* Longest detail message kept; longer ones are truncated, never overrun. */
#define PW_ERR_MSG_MAX 512

/* Detail of the last failure: its code and a sentence for people. */
typedef struct pw_err {
    int code;
    char msg[PW_ERR_MSG_MAX];
} pw_err_t;

/*
 * Name of any return code: 0, one of ours, or -errno.
 * Returns a static string; thread-safe.
 */
const char *pw_strerror(int code);

/*
 * Record a failure in err (may be NULL) as code plus a printf-style
 * message, and return code so callers can write `return pw_err_set(...)`.
 */
int pw_err_set(pw_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Put context in front of an existing message: "conf/x.yaml: " + msg.
 * Returns err->code. err may be NULL (returns code unchanged then).
 */
int pw_err_prefix(pw_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err to "no error". err may be NULL. */
void pw_err_clear(pw_err_t *err);

#endif
