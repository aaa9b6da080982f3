/*
 * md_coef: a model's coefficients, shared by every worker's operator and
 * replaced without a restart when the file changes or on SIGHUP.
 *
 * One slot per model file path, process-wide. An operator acquires the
 * slot in init (loading the file the first time) and, at the start of each
 * batch, reads the current coefficients with md_coef_get(): one atomic
 * load, so a new version takes effect at a batch boundary and a batch
 * never mixes two. The host thread calls md_coef_poll() about once a
 * second (force = true after SIGHUP): a file whose modification time or
 * size changed is loaded into a new object and published; a file that
 * fails to load leaves the current coefficients in place (the error is
 * returned for the host to log). Replaced objects are kept until the slot
 * is released by its last operator, since a worker may still be reading
 * one: reloads are rare, so this costs little.
 *
 * Threads: acquire/release and poll take a lock (init, close, the host);
 * get is lock-free and may be called from any worker.
 */
#ifndef MD_COEF_H
#define MD_COEF_H

#include <stdbool.h>

#include "core/pw_error.h"

typedef struct md_coef_slot md_coef_slot_t;

/* Parse the model file at path into a new object; NULL with err on failure. */
typedef void *(*md_coef_load_fn)(const char *path, pw_err_t *err);
typedef void (*md_coef_free_fn)(void *coef);

/*
 * The slot of path, loading it with load on first use. Every acquire is
 * matched by a release. Returns 0 or the load's error (no slot then).
 */
int md_coef_acquire(const char *path, md_coef_load_fn load, md_coef_free_fn free_fn,
                    md_coef_slot_t **out, pw_err_t *err);

void md_coef_release(md_coef_slot_t *slot);

/* The current coefficients (never NULL once acquired). Lock-free. */
const void *md_coef_get(const md_coef_slot_t *slot);

/*
 * Host: reload every slot whose file changed (or every slot, with force).
 * Returns 0, or the first load error with err naming the file; *reloaded
 * (may be NULL) gets how many slots took a new version.
 */
int md_coef_poll(bool force, int *reloaded, pw_err_t *err);

#endif
