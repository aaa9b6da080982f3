/*
 * pw_time: clocks in nanoseconds. Wall time stamps records that have no
 * event time of their own; the monotonic clock measures durations and
 * paces loops. Operators never read a clock: time is passed in.
 */
#ifndef PW_TIME_H
#define PW_TIME_H

#include <stdint.h>
#include <time.h>

#define PW_NS_PER_US 1000LL
#define PW_NS_PER_MS 1000000LL
#define PW_NS_PER_S 1000000000LL

/* Nanoseconds on the monotonic clock (arbitrary origin). Thread-safe. */
static inline int64_t pw_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * PW_NS_PER_S + ts.tv_nsec;
}

/* Nanoseconds since the Unix epoch. Thread-safe. */
static inline int64_t pw_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * PW_NS_PER_S + ts.tv_nsec;
}

/* Sleep until the monotonic clock reads deadline_ns; returns early on a
 * signal (callers re-check their stop flag). */
static inline void pw_sleep_until_ns(int64_t deadline_ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline_ns / PW_NS_PER_S),
        .tv_nsec = (long)(deadline_ns % PW_NS_PER_S),
    };
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

#endif
