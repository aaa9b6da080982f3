/*
 * pw_intern: ids are dense and stable, lookups find what was added, the
 * capacity is a hard limit, names are byte strings, and readers can run
 * alongside the one adder.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_intern.h"

static uint32_t add(pw_intern_t *t, const char *name)
{
    uint32_t id = 12345;
    int rc = pw_intern_add(t, name, strlen(name), &id);
    cr_assert_eq(rc, 0, "add %s: %s", name, pw_strerror(rc));
    return id;
}

Test(pw_intern, ids_start_at_one_and_are_dense)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(16, &t), 0);
    cr_assert_eq(pw_intern_count(t), 0);
    cr_assert_eq(add(t, "rpm"), 1);
    cr_assert_eq(add(t, "throttle"), 2);
    cr_assert_eq(add(t, "speed"), 3);
    cr_assert_eq(pw_intern_count(t), 3);
    cr_assert_eq(pw_intern_capacity(t), 16);
    cr_assert_str_eq(pw_intern_name(t, 1), "rpm");
    cr_assert_str_eq(pw_intern_name(t, 2), "throttle");
    cr_assert_eq(pw_intern_len(t, 2), 8);
    pw_intern_destroy(t);
}

Test(pw_intern, adding_again_returns_the_same_id)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(16, &t), 0);
    uint32_t a = add(t, "car 24");
    add(t, "car 48");
    cr_assert_eq(add(t, "car 24"), a);
    cr_assert_eq(pw_intern_count(t), 2);
    pw_intern_destroy(t);
}

Test(pw_intern, find_gives_the_id_or_not_found)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(8, &t), 0);
    uint32_t id = add(t, "brake");
    uint32_t got = 777;
    cr_assert_eq(pw_intern_find(t, "brake", 5, &got), 0);
    cr_assert_eq(got, id);
    got = 777;
    cr_assert_eq(pw_intern_find(t, "brak", 4, &got), PW_ENOTFOUND);
    cr_assert_eq(pw_intern_find(t, "brakes", 6, &got), PW_ENOTFOUND);
    cr_assert_eq(pw_intern_find(t, "", 0, &got), PW_ENOTFOUND);
    cr_assert_eq(got, 777, "untouched on failure");
    /* A prefix of a longer buffer: only len bytes count. */
    cr_assert_eq(pw_intern_find(t, "braking", 4, &got), PW_ENOTFOUND);
    cr_assert_eq(pw_intern_find(t, "brake-light", 5, &got), 0);
    cr_assert_eq(got, id);
    pw_intern_destroy(t);
}

Test(pw_intern, unknown_ids_have_no_name)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(4, &t), 0);
    add(t, "a");
    cr_assert_null(pw_intern_name(t, PW_INTERN_NONE));
    cr_assert_null(pw_intern_name(t, 2));
    cr_assert_null(pw_intern_name(t, UINT32_MAX));
    cr_assert_eq(pw_intern_len(t, 2), 0);
    cr_assert_null(pw_intern_name(NULL, 1));
    pw_intern_destroy(t);
    pw_intern_destroy(NULL);
}

Test(pw_intern, capacity_is_a_hard_limit)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(3, &t), 0);
    add(t, "a");
    add(t, "b");
    add(t, "c");
    uint32_t id = 99;
    cr_assert_eq(pw_intern_add(t, "d", 1, &id), PW_ECAPACITY);
    cr_assert_eq(id, 99);
    cr_assert_eq(pw_intern_count(t), 3);
    /* Existing names are still found and "added" when full. */
    cr_assert_eq(add(t, "b"), 2);
    cr_assert_eq(pw_intern_find(t, "d", 1, &id), PW_ENOTFOUND);
    pw_intern_destroy(t);
}

Test(pw_intern, bad_arguments_are_rejected)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(0, &t), PW_EARG);
    cr_assert_eq(pw_intern_create(PW_INTERN_MAX_NAMES + 1ull, &t), PW_EARG);
    cr_assert_null(t);
    cr_assert_eq(pw_intern_create(4, NULL), PW_EARG);
    cr_assert_eq(pw_intern_create(4, &t), 0);
    uint32_t id;
    cr_assert_eq(pw_intern_add(t, "", 0, &id), PW_EARG);
    cr_assert_eq(pw_intern_add(t, NULL, 3, &id), PW_EARG);
    cr_assert_eq(pw_intern_add(t, "x", 1, NULL), PW_EARG);
    char *big = calloc(1, PW_INTERN_NAME_MAX + 1);
    memset(big, 'x', PW_INTERN_NAME_MAX + 1);
    cr_assert_eq(pw_intern_add(t, big, PW_INTERN_NAME_MAX + 1, &id), PW_EARG);
    cr_assert_eq(pw_intern_add(t, big, PW_INTERN_NAME_MAX, &id), 0,
                 "the longest name fits (and needs its own arena block)");
    cr_assert_eq(pw_intern_len(t, id), PW_INTERN_NAME_MAX);
    cr_assert_eq(memcmp(pw_intern_name(t, id), big, PW_INTERN_NAME_MAX), 0);
    cr_assert_eq(pw_intern_name(t, id)[PW_INTERN_NAME_MAX], '\0');
    free(big);
    cr_assert_eq(pw_intern_count(t), 1);
    pw_intern_destroy(t);
}

Test(pw_intern, names_are_binary_safe)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(8, &t), 0);
    uint32_t a, b, c, d, got;
    cr_assert_eq(pw_intern_add(t, "a\0b", 3, &a), 0);
    cr_assert_eq(pw_intern_add(t, "a\0c", 3, &b), 0);
    cr_assert_eq(pw_intern_add(t, "a", 1, &c), 0);
    cr_assert_eq(pw_intern_add(t, "\xff\xfe\0", 3, &d), 0);
    cr_assert(a != b && b != c && a != c && d != a);
    cr_assert_eq(pw_intern_find(t, "a\0b", 3, &got), 0);
    cr_assert_eq(got, a);
    cr_assert_eq(pw_intern_find(t, "a\0c", 3, &got), 0);
    cr_assert_eq(got, b);
    cr_assert_eq(pw_intern_len(t, a), 3);
    cr_assert_eq(memcmp(pw_intern_name(t, b), "a\0c", 4), 0);
    cr_assert_str_eq(pw_intern_name(t, c), "a");
    cr_assert_eq(memcmp(pw_intern_name(t, d), "\xff\xfe\0", 4), 0);
    pw_intern_destroy(t);
}

Test(pw_intern, handles_many_names)
{
    enum { N = 100000 };
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(N, &t), 0);
    char name[32];
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(name, sizeof name, "car/%u/channel", i);
        uint32_t id;
        cr_assert_eq(pw_intern_add(t, name, (size_t)len, &id), 0);
        cr_assert_eq(id, i + 1);
    }
    cr_assert_eq(pw_intern_count(t), N);
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(name, sizeof name, "car/%u/channel", i);
        uint32_t id = 0;
        cr_assert_eq(pw_intern_find(t, name, (size_t)len, &id), 0, "%s",
                     name);
        cr_assert_eq(id, i + 1);
        cr_assert_str_eq(pw_intern_name(t, id), name);
        /* Near misses are not found. */
        name[len - 1] = 'X';
        cr_assert_eq(pw_intern_find(t, name, (size_t)len, &id),
                     PW_ENOTFOUND);
    }
    uint32_t id;
    cr_assert_eq(pw_intern_add(t, "one more", 8, &id), PW_ECAPACITY);
    pw_intern_destroy(t);
}

Test(pw_intern, add_all_interns_a_string_list)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(4, &t), 0);
    char *channels[] = { "rpm", "speed", "rpm", "gear", NULL };
    uint32_t ids[4];
    pw_err_t err;
    cr_assert_eq(pw_intern_add_all(t, channels, 4, ids, &err), 0);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[1], 2);
    cr_assert_eq(ids[2], 1);
    cr_assert_eq(ids[3], 3);
    cr_assert_eq(pw_intern_add_all(t, NULL, 0, NULL, &err), 0);

    char *more[] = { "brake", "clutch" };
    cr_assert_eq(pw_intern_add_all(t, more, 2, NULL, &err), PW_ECAPACITY);
    cr_assert_str_eq(err.msg, "cannot intern 'clutch': capacity of 4 names "
                              "exceeded");
    cr_assert_eq(pw_intern_count(t), 4, "names before the failure stay");

    char *empty[] = { "" };
    cr_assert_eq(pw_intern_add_all(t, empty, 1, NULL, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "cannot intern '': names must be 1 to 65535 "
                              "bytes");
    pw_intern_destroy(t);
}

/* One adder, one reader, no lock: the reader never sees a wrong name. */

enum { RACE_N = 50000 };

typedef struct race {
    pw_intern_t *t;
    atomic_int done;
    long found;
    long bad;
} race_t;

static void *race_reader(void *arg)
{
    race_t *r = arg;
    char name[32];
    while (!atomic_load(&r->done)) {
        for (uint32_t i = 0; i < RACE_N; i += 7) {
            int len = snprintf(name, sizeof name, "entity-%u", i);
            uint32_t id;
            if (pw_intern_find(r->t, name, (size_t)len, &id) == 0) {
                const char *got = pw_intern_name(r->t, id);
                if (got == NULL || strcmp(got, name) != 0 || id != i + 1)
                    r->bad++;
                else
                    r->found++;
            }
        }
    }
    return NULL;
}

Test(pw_intern, finds_are_safe_alongside_one_adder, .timeout = 30)
{
    race_t r = { .found = 0, .bad = 0 };
    atomic_init(&r.done, 0);
    cr_assert_eq(pw_intern_create(RACE_N, &r.t), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, race_reader, &r), 0);
    char name[32];
    for (uint32_t i = 0; i < RACE_N; i++) {
        int len = snprintf(name, sizeof name, "entity-%u", i);
        uint32_t id;
        cr_assert_eq(pw_intern_add(r.t, name, (size_t)len, &id), 0);
    }
    atomic_store(&r.done, 1);
    pthread_join(th, NULL);
    cr_assert_eq(r.bad, 0);
    cr_assert_eq(pw_intern_count(r.t), RACE_N);
    pw_intern_destroy(r.t);
}
