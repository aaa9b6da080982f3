#include "core/pw_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int log_level = PW_LOG_INFO;

void pw_log_set_level(int level)
{
    log_level = level;
}

void pw_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld pitwall %s: %s\n", tm.tm_hour,
            tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

int pw_log_ratelimit_ok(pw_log_ratelimit_t *rl, int64_t now_ns,
                        uint64_t *suppressed)
{
    if (rl->last_ns != 0 && now_ns - rl->last_ns < rl->interval_ns) {
        rl->suppressed++;
        return 0;
    }
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    rl->last_ns = now_ns;
    return 1;
}
