/*
 * md_coef: process-wide slots of model coefficients, reloaded by the host.
 */
#include "models/md_coef.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct retired {
    struct retired *next;
    void *coef;
} retired_t;

struct md_coef_slot {
    struct md_coef_slot *next;
    char *path;
    md_coef_load_fn load;
    md_coef_free_fn free_fn;
    _Atomic(void *) cur;
    retired_t *old;
    int refs;
    struct timespec mtime;
    off_t size;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static md_coef_slot_t *slots;

static void file_stamp(const char *path, struct timespec *mtime, off_t *size)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        *mtime = st.st_mtim;
        *size = st.st_size;
    } else {
        memset(mtime, 0, sizeof *mtime);
        *size = -1;
    }
}

int md_coef_acquire(const char *path, md_coef_load_fn load, md_coef_free_fn free_fn,
                    md_coef_slot_t **out, pw_err_t *err)
{
    pthread_mutex_lock(&mu);
    for (md_coef_slot_t *s = slots; s; s = s->next) {
        if (!strcmp(s->path, path) && s->load == load) {
            s->refs++;
            pthread_mutex_unlock(&mu);
            *out = s;
            return 0;
        }
    }
    md_coef_slot_t *s = calloc(1, sizeof *s);
    char *p = strdup(path);
    if (s == NULL || p == NULL) {
        pthread_mutex_unlock(&mu);
        free(s);
        free(p);
        return pw_err_set(err, -ENOMEM, "out of memory");
    }
    file_stamp(path, &s->mtime, &s->size);
    void *c = load(path, err);
    if (c == NULL) {
        pthread_mutex_unlock(&mu);
        free(s);
        free(p);
        return err->code ? err->code : PW_ECORRUPT;
    }
    s->path = p;
    s->load = load;
    s->free_fn = free_fn;
    atomic_store_explicit(&s->cur, c, memory_order_release);
    s->refs = 1;
    s->next = slots;
    slots = s;
    pthread_mutex_unlock(&mu);
    *out = s;
    return 0;
}

void md_coef_release(md_coef_slot_t *slot)
{
    if (slot == NULL)
        return;
    pthread_mutex_lock(&mu);
    if (--slot->refs > 0) {
        pthread_mutex_unlock(&mu);
        return;
    }
    for (md_coef_slot_t **pp = &slots; *pp; pp = &(*pp)->next)
        if (*pp == slot) {
            *pp = slot->next;
            break;
        }
    pthread_mutex_unlock(&mu);
    slot->free_fn(atomic_load(&slot->cur));
    for (retired_t *r = slot->old; r;) {
        retired_t *next = r->next;
        slot->free_fn(r->coef);
        free(r);
        r = next;
    }
    free(slot->path);
    free(slot);
}

const void *md_coef_get(const md_coef_slot_t *slot)
{
    return atomic_load_explicit(&((md_coef_slot_t *)slot)->cur, memory_order_acquire);
}

int md_coef_poll(bool force, int *reloaded, pw_err_t *err)
{
    int rc = 0, n = 0;
    pthread_mutex_lock(&mu);
    for (md_coef_slot_t *s = slots; s; s = s->next) {
        struct timespec mt;
        off_t size;
        file_stamp(s->path, &mt, &size);
        if (!force && size == s->size && mt.tv_sec == s->mtime.tv_sec &&
            mt.tv_nsec == s->mtime.tv_nsec)
            continue;
        s->mtime = mt;
        s->size = size;
        pw_err_t e2 = {0};
        void *c = s->load(s->path, &e2);
        retired_t *r = c ? malloc(sizeof *r) : NULL;
        if (c == NULL || r == NULL) {
            if (c)
                s->free_fn(c);
            if (rc == 0)
                rc = pw_err_set(err, e2.code ? e2.code : -ENOMEM,
                                "%s: not reloaded, the running coefficients stay: %s", s->path,
                                e2.msg[0] ? e2.msg : "out of memory");
            continue;
        }
        r->coef = atomic_exchange_explicit(&s->cur, c, memory_order_acq_rel);
        r->next = s->old;
        s->old = r;
        n++;
    }
    pthread_mutex_unlock(&mu);
    if (reloaded)
        *reloaded = n;
    return rc;
}
