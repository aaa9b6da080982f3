#include <criterion/criterion.h>

#include <jansson.h>
#include <msgpack.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_hub.h"
#include "api/api_match.h"
#include "core/pw_body.h"
#include "core/pw_time.h"

/*
 * Every test gets a hub with small limits (queue 4, 3 names behind,
 * 4 subscriptions) and a body writer; the fixture frees them.
 */
static api_hub_t *hub;
static pw_body_t body;
static pw_err_t err;

static api_hub_opts_t small_opts(void)
{
    api_hub_opts_t o = api_hub_opts_default();
    o.producers = 2;
    o.ring_bytes = 64 * 1024;
    o.max_names = 1024;
    o.client_queue = 4;
    o.max_behind = 3;
    o.max_subscriptions = 4;
    return o;
}

static void setup(void)
{
    api_hub_opts_t o = small_opts();
    pw_err_clear(&err);
    pw_body_init(&body);
    cr_assert_eq(api_hub_create(&o, &hub, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    api_hub_destroy(hub);
    pw_body_fini(&body);
}

TestSuite(api_hub, .init = setup, .fini = teardown, .timeout = 20);

/* A result topic/key at ts with body {"lap": lap, "fuel_l": lap * 0.5, "car": key}. */
static pw_result_t result(const char *topic, const char *key, int64_t ts, int lap)
{
    pw_body_clear(&body);
    pw_body_map(&body, 3);
    pw_body_key(&body, "lap");
    pw_body_i64(&body, lap);
    pw_body_key(&body, "fuel_l");
    pw_body_f64(&body, lap * 0.5);
    pw_body_key(&body, "car");
    pw_body_str(&body, key, strlen(key));
    cr_assert_eq(pw_body_ok(&body), 0);
    return (pw_result_t){
        .ts_ns = ts, .version = 1,
        .topic_len = (uint32_t)strlen(topic), .key_len = (uint32_t)strlen(key),
        .body_len = (uint32_t)body.len,
        .topic = topic, .key = key, .body = body.data,
    };
}

static void publish(const char *topic, const char *key, int64_t ts, int lap)
{
    pw_result_t r = result(topic, key, ts, lap);
    cr_assert_eq(api_hub_publish(hub, &r, &err), 0, "%s", err.msg);
}

static void subscribe(api_client_t *c, const char *pattern)
{
    const char *p[] = {pattern};
    cr_assert_eq(api_hub_subscribe(hub, c, p, 1, NULL, 0, 0, &err), 0, "%s", err.msg);
}

/* The next JSON message of c, parsed (NULL when none); *kind says what. */
static json_t *next_json(api_client_t *c, int64_t now, api_msg_kind_t *kind)
{
    const void *msg;
    size_t len;
    *kind = api_hub_next(hub, c, now, &msg, &len);
    if (*kind != API_MSG_SNAPSHOT && *kind != API_MSG_UPDATE)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(msg, len, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %.*s", je.text, (int)len, (const char *)msg);
    return j;
}

/* Take c's next message and check it: op, full name, lap, missed. */
static void expect(api_client_t *c, int64_t now, api_msg_kind_t kind, const char *topic,
                   const char *key, int lap, int missed)
{
    api_msg_kind_t k;
    json_t *j = next_json(c, now, &k);
    cr_assert_eq(k, kind, "kind %d, expected %d (%s/%s lap %d)", k, kind, topic, key, lap);
    cr_assert_str_eq(json_string_value(json_object_get(j, "op")),
                     kind == API_MSG_SNAPSHOT ? "snapshot" : "update");
    cr_assert_str_eq(json_string_value(json_object_get(j, "topic")), topic);
    cr_assert_str_eq(json_string_value(json_object_get(j, "key")), key);
    json_t *data = json_object_get(j, "data");
    cr_assert_eq(json_integer_value(json_object_get(data, "lap")), lap, "lap %lld, expected %d",
                 json_integer_value(json_object_get(data, "lap")), lap);
    cr_assert_eq(json_integer_value(json_object_get(j, "missed")), missed,
                 "missed %lld, expected %d", json_integer_value(json_object_get(j, "missed")),
                 missed);
    json_decref(j);
}

static void expect_none(api_client_t *c, int64_t now)
{
    const void *msg;
    size_t len;
    cr_assert_not(api_hub_pending(hub, c, now));
    cr_assert_eq(api_hub_next(hub, c, now, &msg, &len), API_MSG_NONE);
}

/* ---- Patterns ------------------------------------------------------------ */

static bool matches(const char *pattern, const char *name)
{
    api_pattern_t p;
    cr_assert_eq(api_pattern_parse(&p, pattern, &err), 0, "%s", err.msg);
    return api_pattern_match(&p, name, strlen(name));
}

Test(api_hub, pattern_exact_matches_only_that_name)
{
    cr_assert(matches("burn/car/24", "burn/car/24"));
    cr_assert_not(matches("burn/car/24", "burn/car/2"));
    cr_assert_not(matches("burn/car/24", "burn/car/24/x"));
    cr_assert_not(matches("burn/car/24", "burn/car"));
    cr_assert_not(matches("burn", "burnt"));
}

Test(api_hub, pattern_star_matches_one_whole_segment)
{
    cr_assert(matches("burn/car/*", "burn/car/24"));
    cr_assert(matches("*/car/24", "burn/car/24"));
    cr_assert(matches("burn/*/24", "burn/car/24"));
    cr_assert_not(matches("burn/car/*", "burn/car/24/lap"));
    cr_assert_not(matches("burn/car/*", "burn/car"));
    cr_assert_not(matches("burn/*", "burn/car/24"));
}

Test(api_hub, pattern_hash_matches_one_or_more_trailing_segments)
{
    cr_assert(matches("event/#", "event/game/2019090500"));
    cr_assert(matches("event/#", "event/x"));
    cr_assert_not(matches("event/#", "event"));
    cr_assert_not(matches("event/#", "events/x"));
    cr_assert(matches("#", "burn/car/24"));
    cr_assert(matches("*/car/#", "burn/car/24"));
}

static void refused(const char *pattern, const char *why)
{
    api_pattern_t p;
    pw_err_clear(&err);
    cr_assert_eq(api_pattern_parse(&p, pattern, &err), PW_EARG, "'%s' accepted", pattern);
    cr_assert(strstr(err.msg, why), "'%s': message '%s' lacks '%s'", pattern, err.msg, why);
}

Test(api_hub, pattern_refuses_wildcards_inside_segments_with_a_reason)
{
    refused("burn/car*", "pattern 'burn/car*': '*' and '#' must be a whole segment ('car*')");
    refused("burn/c#r/24", "must be a whole segment");
    refused("event/#/x", "pattern 'event/#/x': '#' must be the last segment");
    refused("", "empty");
    refused("burn//24", "empty segment at byte 5");
    refused("/burn", "empty segment at byte 0");
    refused("burn/", "empty segment");
    char longp[API_PATTERN_MAX + 8];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    refused(longp, "longer than 256 bytes");
}

Test(api_hub, subscribe_refuses_a_bad_pattern_and_subscribes_nothing)
{
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    publish("burn", "car/24", 1, 1);
    const char *p[] = {"burn/#", "burn/car*"};
    cr_assert_eq(api_hub_subscribe(hub, c, p, 2, NULL, 0, 0, &err), PW_EARG);
    cr_assert(strstr(err.msg, "burn/car*"), "%s", err.msg);
    expect_none(c, 0);
    publish("burn", "car/24", 2, 2);
    expect_none(c, 0);
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.subscriptions, 0);
}

/* ---- Snapshot and updates ------------------------------------------------ */

Test(api_hub, snapshot_of_matching_names_then_updates_in_order)
{
    publish("burn", "car/24", 10, 1);
    publish("burn", "car/48", 11, 1);
    publish("burn", "car/24", 12, 2); /* the latest of car/24 */
    publish("pressure", "game/1", 13, 7);
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/car/*");
    expect(c, 0, API_MSG_SNAPSHOT, "burn", "car/24", 2, 0);
    expect(c, 0, API_MSG_SNAPSHOT, "burn", "car/48", 1, 0);
    expect_none(c, 0);
    publish("burn", "car/48", 20, 2);
    publish("pressure", "game/1", 21, 8); /* not subscribed */
    publish("burn", "car/24", 22, 3);
    publish("burn", "car/7", 23, 1);      /* a new name that matches */
    expect(c, 0, API_MSG_UPDATE, "burn", "car/48", 2, 0);
    expect(c, 0, API_MSG_UPDATE, "burn", "car/24", 3, 0);
    expect(c, 0, API_MSG_UPDATE, "burn", "car/7", 1, 0);
    expect_none(c, 0);
}

Test(api_hub, message_carries_every_envelope_field)
{
    pw_result_t r = result("burn", "car/24", 1700000000123456789, 4);
    r.version = 3;
    cr_assert_eq(api_hub_publish(hub, &r, &err), 0);
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/car/24");
    const void *msg;
    size_t len;
    cr_assert_eq(api_hub_next(hub, c, 0, &msg, &len), API_MSG_SNAPSHOT);
    const char *want = "{\"op\":\"snapshot\",\"topic\":\"burn\",\"key\":\"car/24\","
                       "\"ts_ns\":1700000000123456789,\"version\":3,\"missed\":0,"
                       "\"data\":{\"lap\":4,\"fuel_l\":2,\"car\":\"car/24\"}}";
    cr_assert_eq(len, strlen(want), "%.*s", (int)len, (const char *)msg);
    cr_assert_eq(memcmp(msg, want, len), 0, "%.*s", (int)len, (const char *)msg);
}

Test(api_hub, a_malformed_body_is_sent_as_null)
{
    const uint8_t bad[] = {0x82, 0xa3, 'l', 'a', 'p'}; /* a map that stops short */
    pw_result_t r = {.ts_ns = 1, .version = 1, .topic_len = 4, .key_len = 1, .body_len = 5,
                     .topic = "burn", .key = "x", .body = bad};
    cr_assert_eq(api_hub_publish(hub, &r, &err), 0);
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/x");
    api_msg_kind_t k;
    json_t *j = next_json(c, 0, &k);
    cr_assert(json_is_null(json_object_get(j, "data")));
    json_decref(j);
}

Test(api_hub, field_lists_send_only_those_keys)
{
    publish("burn", "car/24", 1, 6);
    api_client_t *some = api_hub_client_new(hub, API_FMT_JSON);
    api_client_t *all = api_hub_client_new(hub, API_FMT_JSON);
    const char *p[] = {"burn/#"};
    const char *fields[] = {"lap", "car", "no_such_field", "lap"};
    cr_assert_eq(api_hub_subscribe(hub, some, p, 1, fields, 4, 0, &err), 0, "%s", err.msg);
    subscribe(all, "burn/#");
    publish("burn", "car/24", 2, 7);
    for (int k = 0; k < 2; k++) {
        api_msg_kind_t kind;
        json_t *j = next_json(some, 0, &kind);
        json_t *d = json_object_get(j, "data");
        cr_assert_eq(json_object_size(d), 2, "%s", json_dumps(d, 0));
        cr_assert_eq(json_integer_value(json_object_get(d, "lap")), 6 + k);
        cr_assert_str_eq(json_string_value(json_object_get(d, "car")), "car/24");
        json_decref(j);
        j = next_json(all, 0, &kind);
        cr_assert_eq(json_object_size(json_object_get(j, "data")), 3);
        json_decref(j);
    }
    const char *empty[] = {""};
    cr_assert_eq(api_hub_subscribe(hub, some, p, 1, empty, 1, 0, &err), PW_EARG);
    cr_assert(strstr(err.msg, "field 0 is empty"), "%s", err.msg);
}

Test(api_hub, overlapping_patterns_send_each_value_once_with_the_newest_subscription)
{
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/#");
    const char *p[] = {"burn/car/24"};
    const char *fields[] = {"lap"};
    cr_assert_eq(api_hub_subscribe(hub, c, p, 1, fields, 1, 0, &err), 0);
    publish("burn", "car/24", 1, 1);
    publish("burn", "car/48", 2, 1);
    api_msg_kind_t k;
    json_t *j = next_json(c, 0, &k);
    cr_assert_str_eq(json_string_value(json_object_get(j, "key")), "car/24");
    cr_assert_eq(json_object_size(json_object_get(j, "data")), 1); /* the newest: fields */
    json_decref(j);
    expect(c, 0, API_MSG_UPDATE, "burn", "car/48", 1, 0);
    expect_none(c, 0);
    /* Without the narrow one, car/24 falls back to burn/# and its whole body. */
    cr_assert_eq(api_hub_unsubscribe(hub, c, p, 1, &err), 0);
    publish("burn", "car/24", 3, 2);
    j = next_json(c, 0, &k);
    cr_assert_eq(json_object_size(json_object_get(j, "data")), 3);
    json_decref(j);
}

/* ---- Rate limits, conflation, too slow ----------------------------------- */

Test(api_hub, max_rate_sends_the_newest_value_when_the_interval_has_passed)
{
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    const char *p[] = {"burn/#"};
    publish("burn", "car/24", 1, 1);
    cr_assert_eq(api_hub_subscribe(hub, c, p, 1, NULL, 0, 10.0, &err), 0); /* 100 ms */
    int64_t t = 1000 * PW_NS_PER_MS;
    expect(c, t, API_MSG_SNAPSHOT, "burn", "car/24", 1, 0);
    publish("burn", "car/24", 2, 2);
    publish("burn", "car/24", 3, 3);
    publish("burn", "car/24", 4, 4);
    expect_none(c, t + 50 * PW_NS_PER_MS);   /* within the interval */
    cr_assert(api_hub_pending(hub, c, t + 100 * PW_NS_PER_MS));
    expect(c, t + 100 * PW_NS_PER_MS, API_MSG_UPDATE, "burn", "car/24", 4, 2);
    t += 100 * PW_NS_PER_MS;
    publish("burn", "car/24", 5, 5);
    publish("burn", "car/48", 6, 1);         /* another name: its own interval */
    expect(c, t + 1, API_MSG_UPDATE, "burn", "car/48", 1, 0);
    expect_none(c, t + 99 * PW_NS_PER_MS);
    expect(c, t + 100 * PW_NS_PER_MS, API_MSG_UPDATE, "burn", "car/24", 5, 0);
    expect_none(c, t + 10 * PW_NS_PER_S);
}

Test(api_hub, full_queue_conflates_to_the_newest_per_name_with_missed_counts)
{
    /* Queue 4, 3 names behind. */
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/#");
    publish("burn", "a", 1, 1);
    publish("burn", "b", 2, 1);
    publish("burn", "c", 3, 1);
    publish("burn", "a", 4, 2); /* queue full: a, b, c, a */
    publish("burn", "a", 5, 3); /* replaces the newest a slot */
    publish("burn", "b", 6, 2); /* replaces b's slot */
    publish("burn", "d", 7, 1); /* not queued: the conflated set */
    publish("burn", "d", 8, 2);
    publish("burn", "d", 9, 3);
    publish("burn", "e", 10, 1);
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.max_queue_depth, 4);
    cr_assert_eq(st.queued, 4);
    expect(c, 0, API_MSG_UPDATE, "burn", "a", 1, 0);
    expect(c, 0, API_MSG_UPDATE, "burn", "b", 2, 1);
    /* The queue has room again, but while the conflated set is not empty a
     * queued name's slot is replaced and a new name joins the set. */
    publish("burn", "c", 11, 2);
    publish("burn", "f", 12, 1);
    expect(c, 0, API_MSG_UPDATE, "burn", "c", 2, 1);
    expect(c, 0, API_MSG_UPDATE, "burn", "a", 3, 1);
    expect(c, 0, API_MSG_UPDATE, "burn", "d", 3, 2);
    expect(c, 0, API_MSG_UPDATE, "burn", "e", 1, 0);
    expect(c, 0, API_MSG_UPDATE, "burn", "f", 1, 0);
    expect_none(c, 0);
    api_hub_stats(hub, &st);
    cr_assert_eq(st.missed, 5);
    cr_assert_eq(st.conflated, 8);
    cr_assert_eq(st.too_slow, 0);
    /* Empty again: updates are queued in order once more. */
    publish("burn", "a", 12, 4);
    publish("burn", "a", 13, 5);
    expect(c, 0, API_MSG_UPDATE, "burn", "a", 4, 0);
    expect(c, 0, API_MSG_UPDATE, "burn", "a", 5, 0);
}

Test(api_hub, a_client_past_max_behind_is_too_slow)
{
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/#");
    char key[16];
    for (int k = 0; k < 4 + 3; k++) { /* queue 4 + 3 conflated names: still fine */
        snprintf(key, sizeof key, "car/%d", k);
        publish("burn", key, k, 1);
    }
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.too_slow, 0);
    cr_assert_eq(api_hub_next(hub, c, 0, &(const void *){0}, &(size_t){0}), API_MSG_UPDATE);
    publish("burn", "car/99", 9, 1); /* a fourth conflated name */
    cr_assert(api_hub_pending(hub, c, 0));
    const void *msg;
    size_t len;
    cr_assert_eq(api_hub_next(hub, c, 0, &msg, &len), API_MSG_TOO_SLOW);
    cr_assert_eq(api_hub_next(hub, c, 0, &msg, &len), API_MSG_TOO_SLOW);
    api_hub_stats(hub, &st);
    cr_assert_eq(st.too_slow, 1);
    cr_assert_eq(st.max_queue_depth, 0); /* what it held was let go */
    api_hub_client_free(hub, c);
    api_hub_stats(hub, &st);
    cr_assert_eq(st.clients, 0);
    cr_assert_eq(st.subscriptions, 0);
}

Test(api_hub, a_stalled_client_does_not_hold_back_a_fast_one)
{
    api_client_t *slow = api_hub_client_new(hub, API_FMT_JSON);
    api_client_t *fast = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(slow, "burn/#");
    subscribe(fast, "burn/#");
    for (int lap = 1; lap <= 100; lap++) {
        publish("burn", "car/24", lap, lap);
        expect(fast, 0, API_MSG_UPDATE, "burn", "car/24", lap, 0);
    }
    expect_none(fast, 0);
    /* The stalled one kept 4 slots, the newest with 96 missed values. */
    expect(slow, 0, API_MSG_UPDATE, "burn", "car/24", 1, 0);
    expect(slow, 0, API_MSG_UPDATE, "burn", "car/24", 2, 0);
    expect(slow, 0, API_MSG_UPDATE, "burn", "car/24", 3, 0);
    expect(slow, 0, API_MSG_UPDATE, "burn", "car/24", 100, 96);
    expect_none(slow, 0);
}

/* ---- Subscriptions -------------------------------------------------------- */

Test(api_hub, unsubscribe_stops_updates_and_drops_what_was_queued)
{
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/#");
    subscribe(c, "pressure/#");
    publish("burn", "car/24", 1, 1);
    publish("pressure", "game/1", 2, 1);
    const char *p[] = {"burn/#", "never/subscribed"};
    cr_assert_eq(api_hub_unsubscribe(hub, c, p, 2, &err), 0);
    publish("burn", "car/24", 3, 2);
    expect(c, 0, API_MSG_UPDATE, "pressure", "game/1", 1, 0);
    expect_none(c, 0);
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.subscriptions, 1);
}

Test(api_hub, max_subscriptions_refuses_the_whole_request)
{
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    const char *three[] = {"a/#", "b/#", "c/#"};
    cr_assert_eq(api_hub_subscribe(hub, c, three, 3, NULL, 0, 0, &err), 0);
    const char *two[] = {"d/#", "e/#"};
    cr_assert_eq(api_hub_subscribe(hub, c, two, 2, NULL, 0, 0, &err), PW_ECAPACITY);
    cr_assert_str_eq(err.msg, "subscribe: 3 subscriptions and 2 new would pass the limit of 4");
    /* Again to patterns it has: they replace, and count once. */
    const char *again[] = {"a/#", "d/#", "a/#"};
    cr_assert_eq(api_hub_subscribe(hub, c, again, 3, NULL, 0, 0, &err), 0, "%s", err.msg);
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.subscriptions, 4);
    publish("a", "x", 1, 1);
    expect(c, 0, API_MSG_UPDATE, "a", "x", 1, 0);
    expect_none(c, 0);
}

/* ---- msgpack -------------------------------------------------------------- */

static const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
    cr_assert_eq(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[k];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0)
            return &kv->val;
    }
    cr_assert_fail("no key '%s'", key);
    return NULL;
}

static bool mp_str_is(const msgpack_object *o, const char *s)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, strlen(s)) == 0;
}

Test(api_hub, msgpack_messages_decode_to_the_same_map)
{
    pw_result_t r = result("burn", "car/24", -5, 300);
    r.version = 70000;
    cr_assert_eq(api_hub_publish(hub, &r, &err), 0);
    api_client_t *c = api_hub_client_new(hub, API_FMT_MSGPACK);
    api_client_t *f = api_hub_client_new(hub, API_FMT_MSGPACK);
    subscribe(c, "burn/#");
    const char *p[] = {"burn/#"};
    const char *fields[] = {"fuel_l"};
    cr_assert_eq(api_hub_subscribe(hub, f, p, 1, fields, 1, 0, &err), 0);
    for (int pass = 0; pass < 2; pass++) {
        const void *msg;
        size_t len;
        cr_assert_eq(api_hub_next(hub, pass ? f : c, 0, &msg, &len), API_MSG_SNAPSHOT);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        cr_assert_eq(msgpack_unpack_next(&u, msg, len, &off), MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq(off, len);
        const msgpack_object *m = &u.data;
        cr_assert_eq(m->via.map.size, 7);
        cr_assert(mp_str_is(mp_get(m, "op"), "snapshot"));
        cr_assert(mp_str_is(mp_get(m, "topic"), "burn"));
        cr_assert(mp_str_is(mp_get(m, "key"), "car/24"));
        cr_assert_eq(mp_get(m, "ts_ns")->via.i64, -5);
        cr_assert_eq(mp_get(m, "version")->via.u64, 70000);
        cr_assert_eq(mp_get(m, "missed")->via.u64, 0);
        const msgpack_object *d = mp_get(m, "data");
        cr_assert_float_eq(mp_get(d, "fuel_l")->via.f64, 150.0, 1e-9);
        if (pass == 0) {
            cr_assert_eq(d->via.map.size, 3);
            cr_assert_eq(mp_get(d, "lap")->via.u64, 300);
            cr_assert(mp_str_is(mp_get(d, "car"), "car/24"));
        } else {
            cr_assert_eq(d->via.map.size, 1);
        }
        msgpack_unpacked_destroy(&u);
    }
}

/* ---- Producers ------------------------------------------------------------ */

typedef struct producer {
    int index;
    int count;       /* results to offer, one per offer */
    size_t dropped;  /* as api_hub_offer said */
} producer_t;

static void *produce(void *arg)
{
    producer_t *p = arg;
    pw_body_t b;
    pw_body_init(&b);
    char key[32];
    pw_result_t r;
    pw_results_t batch = {.n = 1, .cap = 1, .rec = &r};
    for (int k = 0; k < p->count; k++) {
        pw_body_clear(&b);
        pw_body_map(&b, 1);
        pw_body_key(&b, "lap");
        pw_body_i64(&b, k);
        int n = snprintf(key, sizeof key, "car/%d", p->index);
        r = (pw_result_t){.ts_ns = k, .version = 1, .topic_len = 4, .key_len = (uint32_t)n,
                          .body_len = (uint32_t)b.len, .topic = "burn", .key = key,
                          .body = b.data};
        p->dropped += api_hub_offer(hub, p->index, &batch);
    }
    pw_body_fini(&b);
    return NULL;
}

static atomic_int wakes;
static void count_wake(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&wakes, 1);
}

/* Two producers offer n results each while this thread drains (or, with
 * wait, after they are done) and a client with a queue big enough takes
 * every message, checking each car's laps only go up; returns how many
 * messages it received. */
static int run_producers(int n, size_t ring_bytes, bool wait, producer_t p[2], int last_lap[2])
{
    api_hub_destroy(hub);
    api_hub_opts_t o = small_opts();
    o.ring_bytes = ring_bytes;
    o.client_queue = 2 * (size_t)n + 8;
    cr_assert_eq(api_hub_create(&o, &hub, &err), 0, "%s", err.msg);
    api_hub_set_wake(hub, count_wake, NULL);
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/car/*");
    pthread_t th[2];
    for (int k = 0; k < 2; k++) {
        p[k] = (producer_t){.index = k, .count = n};
        last_lap[k] = -1;
        cr_assert_eq(pthread_create(&th[k], NULL, produce, &p[k]), 0);
    }
    for (int k = 0; wait && k < 2; k++)
        pthread_join(th[k], NULL);
    int got = 0;
    api_hub_stats_t st;
    int64_t deadline = pw_mono_ns() + 10 * PW_NS_PER_S;
    for (;;) {
        if (api_hub_drain(hub) == 0)
            sched_yield(); /* two cores may run three threads: let producers run */
        api_msg_kind_t kind;
        json_t *j;
        while ((j = next_json(c, 0, &kind)) != NULL) {
            const char *key = json_string_value(json_object_get(j, "key"));
            int who = key[4] - '0';
            int lap = (int)json_integer_value(json_object_get(json_object_get(j, "data"), "lap"));
            cr_assert_gt(lap, last_lap[who], "car/%d: lap %d after %d", who, lap, last_lap[who]);
            last_lap[who] = lap;
            got++;
            json_decref(j);
        }
        api_hub_stats(hub, &st);
        if (st.offered == 2 * (uint64_t)n && st.published + st.dropped_full == st.offered)
            break;
        cr_assert_lt(pw_mono_ns(), deadline, "producers did not finish");
    }
    for (int k = 0; !wait && k < 2; k++)
        pthread_join(th[k], NULL);
    return got;
}

Test(api_hub, two_producers_lose_nothing_when_the_rings_are_big_enough)
{
    producer_t p[2];
    int last[2];
    int n = 5000;
    int got = run_producers(n, 4 << 20, false, p, last);
    cr_assert_eq(got, 2 * n);
    cr_assert_eq(p[0].dropped + p[1].dropped, 0);
    cr_assert_eq(last[0], n - 1);
    cr_assert_eq(last[1], n - 1);
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.dropped_full, 0);
    cr_assert_eq(st.published, 2 * (uint64_t)n);
    cr_assert_eq(st.names, 2);
    cr_assert_gt(atomic_load(&wakes), 0);
}

Test(api_hub, small_rings_drop_and_count_what_does_not_fit)
{
    producer_t p[2];
    int last[2];
    int n = 5000;
    int got = run_producers(n, 4096, true, p, last); /* drained only when full */
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    size_t dropped = p[0].dropped + p[1].dropped;
    cr_assert_eq(st.dropped_full, dropped);
    cr_assert_eq(st.published + dropped, 2 * (uint64_t)n);
    cr_assert_eq((uint64_t)got, st.published);
    cr_assert_gt(dropped, 0, "a 4 KiB ring kept up with %d offers", n);
    cr_assert_gt(got, 2 * 4096 / 64, "rings of 4 KiB held only %d results", got);
}

Test(api_hub, offer_drops_a_result_too_large_for_the_ring)
{
    static uint8_t big[70000];
    big[0] = 0xc4; /* bin 8 is short, but the size alone decides here */
    pw_result_t r = {.ts_ns = 1, .topic_len = 4, .key_len = 1, .body_len = sizeof big,
                     .topic = "burn", .key = "x", .body = big};
    pw_results_t batch = {.n = 1, .cap = 1, .rec = &r};
    cr_assert_eq(api_hub_offer(hub, 0, &batch), 1);
    cr_assert_eq(api_hub_offer(hub, 7, &batch), 1); /* no such producer */
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.offered, 1);
    cr_assert_eq(st.dropped_full, 1);
    cr_assert_eq(api_hub_drain(hub), 0);
}

/* ---- Stats ---------------------------------------------------------------- */

Test(api_hub, stats_count_names_clients_and_deliveries)
{
    api_client_t *a = api_hub_client_new(hub, API_FMT_JSON);
    api_client_t *b = api_hub_client_new(hub, API_FMT_MSGPACK);
    subscribe(a, "burn/#");
    subscribe(b, "burn/car/24");
    subscribe(b, "pressure/#");
    pw_result_t r = result("burn", "car/24", 1, 1);
    pw_results_t batch = {.n = 1, .cap = 1, .rec = &r};
    cr_assert_eq(api_hub_offer(hub, 1, &batch), 0);
    cr_assert_eq(api_hub_drain(hub), 1);
    publish("burn", "car/48", 2, 1);
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.offered, 1);
    cr_assert_eq(st.dropped_full, 0);
    cr_assert_eq(st.published, 2);
    cr_assert_eq(st.names, 2);
    cr_assert_eq(st.clients, 2);
    cr_assert_eq(st.subscriptions, 3);
    cr_assert_eq(st.queued, 3);
    cr_assert_eq(st.max_queue_depth, 2);
    cr_assert_eq(st.conflated + st.missed + st.too_slow, 0);
    api_hub_client_free(hub, b);
    api_hub_stats(hub, &st);
    cr_assert_eq(st.clients, 1);
    cr_assert_eq(st.subscriptions, 1);
}

Test(api_hub, create_checks_its_options)
{
    api_hub_t *h = NULL;
    api_hub_opts_t o = small_opts();
    o.producers = 0;
    cr_assert_eq(api_hub_create(&o, &h, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "api hub: producers 0, expected 1..4096");
    o = small_opts();
    o.ring_bytes = 100;
    cr_assert_eq(api_hub_create(&o, &h, &err), PW_EARG);
    cr_assert_null(h);
    api_hub_destroy(NULL);
}

Test(api_hub, the_latest_table_refuses_names_past_max_names)
{
    api_hub_destroy(hub);
    api_hub_opts_t o = small_opts();
    o.max_names = 2;
    cr_assert_eq(api_hub_create(&o, &hub, &err), 0);
    publish("burn", "a", 1, 1);
    publish("burn", "b", 1, 1);
    pw_result_t r = result("burn", "c", 1, 1);
    cr_assert_eq(api_hub_publish(hub, &r, &err), PW_ECAPACITY);
    cr_assert_str_eq(err.msg, "api hub: 2 names already, 'burn/c' not kept");
    publish("burn", "a", 2, 2); /* known names still update */
}

Test(api_hub, the_ring_wraps_around_without_loss_or_disorder)
{
    api_hub_destroy(hub); /* again with a 4 KiB ring and a queue that takes a round */
    api_hub_opts_t o = small_opts();
    o.ring_bytes = 4096;
    o.client_queue = 64;
    cr_assert_eq(api_hub_create(&o, &hub, &err), 0);
    api_client_t *c = api_hub_client_new(hub, API_FMT_JSON);
    subscribe(c, "burn/#");
    int lap = 0;
    for (int round = 0; round < 200; round++) {
        pw_result_t r[37]; /* 37 records of 48 or 56 bytes: the end falls mid-record */
        uint8_t bodies[37][8];
        for (int k = 0; k < 37; k++) {
            lap++;
            bodies[k][0] = 0x81;
            bodies[k][1] = 0xa3;
            memcpy(&bodies[k][2], "lap", 3);
            bodies[k][5] = 0xcd; /* uint 16 */
            bodies[k][6] = (uint8_t)(lap >> 8);
            bodies[k][7] = (uint8_t)lap;
            r[k] = (pw_result_t){.ts_ns = lap, .topic_len = 4, .key_len = k % 2 ? 9 : 1,
                                 .body_len = 8, .topic = "burn", .key = "abcdefghi",
                                 .body = bodies[k]};
        }
        pw_results_t batch = {.n = 37, .cap = 37, .rec = r};
        cr_assert_eq(api_hub_offer(hub, round % 2, &batch), 0, "round %d", round);
        cr_assert_eq(api_hub_drain(hub), 37);
        for (int k = 0; k < 37; k++)
            expect(c, 0, API_MSG_UPDATE, "burn", k % 2 ? "abcdefghi" : "a", lap - 36 + k, 0);
        expect_none(c, 0);
    }
}

Test(api_hub, freeing_a_client_releases_what_it_was_owed)
{
    api_client_t *c = api_hub_client_new(hub, API_FMT_MSGPACK);
    const char *p[] = {"burn/#"};
    cr_assert_eq(api_hub_subscribe(hub, c, p, 1, NULL, 0, 1.0, &err), 0);
    subscribe(c, "pressure/#");
    for (int k = 0; k < 10; k++) {
        publish("burn", "car/24", k, k);         /* held by the rate limit */
        publish("pressure", k % 2 ? "g/1" : "g/2", k, k); /* queued, then conflated */
    }
    api_hub_stats_t st;
    api_hub_stats(hub, &st);
    cr_assert_eq(st.max_queue_depth, 4);
    api_hub_client_free(hub, c); /* ASan's leak check does the rest */
    api_hub_stats(hub, &st);
    cr_assert_eq(st.clients, 0);
    cr_assert_eq(st.names, 3);
}
