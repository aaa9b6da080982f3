/*
 * Hub fan-out benchmark: 1000 WebSocket clients (no sockets: the hub alone)
 * subscribed to burn/car/ *, fed 60 updates a second spread over 100 names,
 * the way the API's event loop runs: a pipeline worker offers a result into
 * its ring, the loop drains it and every client takes what it is owed.
 *
 * One latency sample is one update: drain + render + api_hub_next until
 * nothing is owed, for all 1000 clients (the wait of the last client). Nine
 * clients in ten take the whole body; one in ten a field list, so both the
 * whole-body and the field-list renderings are in the loop. The offer (a
 * producer's cost) is outside the timed region; time is simulated (1/60 s
 * per update), so the benchmark measures cost, not pacing.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_hub.h"
#include "bench/bench.h"
#include "core/pw_body.h"
#include "core/pw_time.h"

#define CLIENTS 1000
#define NAMES 100
#define UPDATES_PER_S 60
#define FIELD_LIST_EVERY 10  /* one client in ten subscribes with fields */

/* A burn-like body: eight numbers and the car's name. */
static void body_fill(pw_body_t *b, int car, uint64_t seq)
{
    static const char *const keys[] = {"lap", "fuel_l", "burn_l_per_lap", "baseline_l",
                                       "laps_left", "delta", "throttle", "speed_mps"};
    pw_body_clear(b);
    pw_body_map(b, 9);
    for (int k = 0; k < 8; k++) {
        pw_body_key(b, keys[k]);
        if (k == 0)
            pw_body_i64(b, (int64_t)(seq / NAMES));
        else
            pw_body_f64(b, (double)((seq * 2654435761u + (uint64_t)k) & 0xffff) / 97.0);
    }
    char name[16];
    int n = snprintf(name, sizeof name, "car %d", car);
    pw_body_key(b, "car");
    pw_body_str(b, name, (size_t)n);
}

int bench_hub_fanout(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    api_hub_t *h = NULL;
    api_client_t *clients[CLIENTS] = {0};
    pw_body_t body;
    pw_body_init(&body);
    api_hub_opts_t ho = api_hub_opts_default();
    ho.producers = 1;
    ho.max_names = 4 * NAMES;
    int rc = api_hub_create(&ho, &h, err);
    if (rc)
        goto out;
    const char *pattern[] = {"burn/car/*"};
    const char *fields[] = {"lap", "fuel_l", "laps_left"};
    for (int k = 0; k < CLIENTS; k++) {
        clients[k] = api_hub_client_new(h, API_FMT_JSON);
        if (clients[k] == NULL) {
            rc = pw_err_set(err, PW_ENOMEM, "hub bench: out of memory");
            goto out;
        }
        bool some = k % FIELD_LIST_EVERY == 0;
        if ((rc = api_hub_subscribe(h, clients[k], pattern, 1, some ? fields : NULL,
                                    some ? 3 : 0, 0, err)) != 0)
            goto out;
    }
    char keys[NAMES][16];
    int keylen[NAMES];
    for (int k = 0; k < NAMES; k++)
        keylen[k] = snprintf(keys[k], sizeof keys[k], "car/%d", k);
    pw_result_t res;
    pw_results_t batch = {.n = 1, .cap = 1, .rec = &res};
    int64_t now = 0, busy_ns = 0;
    uint64_t seq = 0, messages = 0, bytes = 0, updates = 0;
    int64_t warm_until = 3 * NAMES; /* every name known, pools and buffers grown */
    int64_t stop = 0;
    for (;;) {
        int car = (int)(seq % NAMES);
        body_fill(&body, car, seq);
        if (pw_body_ok(&body)) {
            rc = pw_err_set(err, PW_ENOMEM, "hub bench: out of memory");
            goto out;
        }
        res = (pw_result_t){.ts_ns = now, .version = 1, .topic_len = 4,
                            .key_len = (uint32_t)keylen[car], .body_len = (uint32_t)body.len,
                            .topic = "burn", .key = keys[car], .body = body.data};
        if (api_hub_offer(h, 0, &batch)) {
            rc = pw_err_set(err, PW_ECAPACITY, "hub bench: the ring dropped a result");
            goto out;
        }
        int64_t t0 = pw_mono_ns();
        size_t taken = api_hub_drain(h);
        uint64_t sent = 0, sent_bytes = 0;
        for (int k = 0; k < CLIENTS; k++) {
            const void *msg;
            size_t len;
            api_msg_kind_t kind;
            while ((kind = api_hub_next(h, clients[k], now, &msg, &len)) != API_MSG_NONE) {
                if (kind == API_MSG_TOO_SLOW) {
                    rc = pw_err_set(err, PW_ECAPACITY, "hub bench: client %d too slow", k);
                    goto out;
                }
                sent++;
                sent_bytes += len;
            }
        }
        int64_t t1 = pw_mono_ns();
        if (taken != 1 || sent < CLIENTS) {
            rc = pw_err_set(err, PW_ECORRUPT, "hub bench: %zu taken, %llu messages", taken,
                            (unsigned long long)sent);
            goto out;
        }
        seq++;
        now += PW_NS_PER_S / UPDATES_PER_S;
        if ((int64_t)seq == warm_until)
            stop = t1 + (int64_t)(o->seconds * PW_NS_PER_S);
        if ((int64_t)seq <= warm_until)
            continue;
        pw_hist_record(&r->lat, (uint64_t)(t1 - t0));
        busy_ns += t1 - t0;
        messages += sent;
        bytes += sent_bytes;
        updates++;
        if (t1 >= stop)
            break;
    }
    api_hub_stats_t st;
    api_hub_stats(h, &st);
    double secs = (double)busy_ns / PW_NS_PER_S;
    r->points_per_s = (double)messages / secs;
    r->mb_per_s = (double)bytes / 1e6 / secs;
    snprintf(r->unit, sizeof r->unit, "update to %d clients", CLIENTS);
    snprintf(r->note, sizeof r->note,
             "%d names, %d/s; %.0f B/msg; points/s = messages rendered/s; loop busy %.1f%% "
             "at %d/s; max %.2f ms; missed %llu",
             NAMES, UPDATES_PER_S, (double)bytes / (double)messages,
             100.0 * (double)busy_ns / (double)updates * UPDATES_PER_S / PW_NS_PER_S,
             UPDATES_PER_S, (double)r->lat.max_ns / 1e6, (unsigned long long)st.missed);
    rc = 0;
out:
    for (int k = 0; k < CLIENTS; k++)
        if (clients[k])
            api_hub_client_free(h, clients[k]);
    api_hub_destroy(h);
    pw_body_fini(&body);
    return rc;
}
