/*
 * st_rawbench: plain LMDB puts and reads, the baseline `pitwall bench`
 * compares the stream log with.
 *
 * st_rawbench_write stores `count` copies of one payload as plain LMDB
 * puts, with the log's key layout (topic 1, partition 0, offsets 0..count-1
 * as 16 big-endian bytes), the log's environment flags, and the log's
 * transaction cadence for opts->durability: a commit per put for sync and
 * none (none without fsync), and for group one transaction committed when
 * group_commit_ms have passed since its first put or max_pending_bytes
 * are pending, timed with the same clock the log's caller uses
 * (CLOCK_REALTIME), and the same heap tuning (st_log_tune_heap). What
 * the log adds on top (message header, partition
 * state, topic lookup, API checks) is the overhead the ratio shows.
 * st_rawbench_read reads them back with one cursor, touching the first
 * and last byte of each value, as the log benchmark should do with each
 * payload.
 *
 * Both run on the calling thread; the directory belongs to the call.
 */
#ifndef ST_RAWBENCH_H
#define ST_RAWBENCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "store/st_log.h"

/*
 * Write count copies of payload[0..len) into a fresh environment in
 * opts->dir (created if missing; it must hold no data.mdb yet), with
 * opts' map size, durability and group bounds (read_only ignored).
 * *elapsed_s gets the seconds from the first put to the last commit
 * (environment setup excluded). Errors: PW_EARG (bad arguments, dir not
 * fresh), PW_EFULL (map too small for count * len), PW_ESTORE, -errno.
 */
int st_rawbench_write(const st_log_opts_t *opts, const void *payload,
                      size_t len, uint64_t count, double *elapsed_s,
                      pw_err_t *err);

/*
 * Read back everything st_rawbench_write stored in dir: *count values,
 * *bytes bytes in total, in *elapsed_s seconds (open excluded); *checksum
 * (may be NULL) sums the bytes touched, so the reads cannot be optimised
 * away.
 */
int st_rawbench_read(const char *dir, uint64_t *count, uint64_t *bytes,
                     double *elapsed_s, uint64_t *checksum, pw_err_t *err);

#endif
