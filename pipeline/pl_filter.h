/*
 * pl_filter: the `filter` operator: keep the points that pass.
 *
 * Input: points, keyed or not; output: the kept points, of the same type,
 * in input order. A point is kept when all of these hold:
 * - channels: its channel's name is one of the list (empty = every
 *   channel);
 * - entities: its entity's name is one of the list (empty = every entity);
 * - drop_nan: its value is not NaN (default true; a NaN point that passed
 *   channels and entities is counted in cnt.dropped);
 * - where: the expression (pl_expr.h: `value`, `t` in seconds) is non-zero
 *   and not NaN.
 * In channels and entities a trailing '*' matches a prefix ("tyre_*" keeps
 * every tyre_ channel, "car/" and a '*' every car, a lone "*" everything);
 * '*' anywhere else is a configuration error.
 *
 * Names are matched by id without interning anything: the operator looks
 * each id's name up the first time it sees the id and caches the verdict in
 * an array indexed by id (grown geometrically when a larger id appears), so
 * names the tables gain while the pipeline runs (a new car, a channel an
 * ingest process published later) are matched too, and a typo in the
 * configuration adds no name. An id the table does not name yet is not
 * kept (and not cached, so it matches once its name arrives).
 *
 * Stateless: no snapshot. Runs on one worker thread (pl_op.h).
 */
#ifndef PL_FILTER_H
#define PL_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/pl_op.h"

typedef struct pl_filter_conf {
    char **channels;   /* channel names or prefix* patterns; NULL = all */
    size_t nchannels;
    char **entities;   /* entity names or prefix* patterns; NULL = all */
    size_t nentities;
    char *where;       /* expression; NULL or "" = no condition */
    bool drop_nan;     /* drop NaN values (counted in cnt.dropped) */
} pl_filter_conf_t;

extern const pw_conf_section_t pl_filter_conf_section;
extern const pl_op_def_t pl_filter_def;

#endif
