/*
 * pw_log: messages for people, on stderr, one line each with the time and
 * level. Thread-safe (one fprintf per line). Not for the per-record path:
 * use pw_log_ratelimit there to say "N more like this" at most once a second.
 */
#ifndef PW_LOG_H
#define PW_LOG_H

#include <stdint.h>

enum pw_log_level { PW_LOG_ERROR, PW_LOG_WARN, PW_LOG_INFO, PW_LOG_DEBUG };

/* Lines above this level are dropped; default PW_LOG_INFO. */
void pw_log_set_level(int level);

void pw_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A limiter for repeated messages: at most one line per interval_ns. */
typedef struct pw_log_ratelimit {
    int64_t interval_ns;
    int64_t last_ns;
    uint64_t suppressed;
} pw_log_ratelimit_t;

/*
 * Returns 1 when a line may be printed now (and how many were suppressed
 * since the last one, in *suppressed), else 0 and counts this one.
 */
int pw_log_ratelimit_ok(pw_log_ratelimit_t *rl, int64_t now_ns,
                        uint64_t *suppressed);

#endif
