/*
 * The pitwall command line as an operator uses it: help and version,
 * configuration errors, and the stream log written and read from the shell.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

#define RUN(...) cli_run((const char *const[]){__VA_ARGS__, NULL}, NULL, 0, 20000)
#define RUN_IN(input, ...) \
    cli_run((const char *const[]){__VA_ARGS__, NULL}, input, strlen(input), 20000)

static void setup(void)
{
    cli_scratch_make();
}

static void teardown(void)
{
    cli_scratch_remove();
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

Test(cli, prints_its_version)
{
    cli_result_t r = RUN("--version");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strncmp(r.out, "pitwall ", 8) == 0, "%s", r.out);
    cli_result_free(&r);
}

Test(cli, answers_help_for_every_subcommand)
{
    static const char *cmds[] = {"run", "edge", "pipeline", "api", "ingest", "replay",
                                 "train", "eval", "recap", "sim", "stream", "ops",
                                 "bench", "config"};
    cli_result_t all = RUN("--help");
    cr_assert_eq(all.status, 0);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        cr_assert(strstr(all.out, cmds[i]) != NULL, "--help lacks %s", cmds[i]);
        cli_result_t r = RUN(cmds[i], "--help");
        cr_assert_eq(r.status, 0, "%s --help: %d", cmds[i], r.status);
        cr_assert(strstr(r.out, "usage: pitwall") != NULL, "%s --help: %s", cmds[i], r.out);
        cli_result_free(&r);
    }
    cli_result_free(&all);
}

Test(cli, rejects_an_unknown_command_on_stderr)
{
    cli_result_t r = RUN("frobnicate");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "unknown command 'frobnicate'") != NULL, "%s", r.err);
    cr_assert_str_empty(r.out);
    cli_result_free(&r);
}

Test(cli, says_when_a_command_is_not_built_yet)
{
    cli_result_t r = RUN("replay", "--store", "x");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "not built yet") != NULL, "%s", r.err);
    cli_result_free(&r);
}

Test(cli, lists_every_configuration_key)
{
    cli_result_t r = RUN("config", "--help");
    cr_assert_eq(r.status, 0);
    static const char *keys[] = {"log.durability", "log.group_commit_ms", "log.map_size",
                                 "stream.topics", "sim.rate_pps", "channels", "data_dir"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(strstr(r.out, keys[i]) != NULL, "config --help lacks %s", keys[i]);
    cli_result_free(&r);
}

Test(cli, checks_the_shipped_configuration)
{
    cli_result_t r = RUN("config", "--check", "--conf", "conf/pitwall.yaml");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
}

Test(cli, reports_a_configuration_typo_with_file_line_and_column)
{
    char path[400];
    snprintf(path, sizeof path, "%s/bad.yaml", cli_scratch_make());
    FILE *f = fopen(path, "w");
    fputs("log:\n  durabilty: sync\n", f);
    fclose(f);
    cli_result_t r = RUN("config", "--check", "--conf", path);
    cr_assert_eq(r.status, 1);
    char want[500];
    snprintf(want, sizeof want, "%s:2:3: unknown key 'durabilty'", path);
    cr_assert(strstr(r.err, want) != NULL, "%s", r.err);
    cli_result_free(&r);
    cli_result_t s = RUN("config", "--check", "--conf", path, "--set", "log.durability=fast");
    cr_assert_eq(s.status, 1);
    cli_result_free(&s);
}

Test(cli, lets_flags_override_the_file)
{
    cli_result_t r = RUN("config", "--dump", "--conf", cli_scratch_conf(), "--set",
                         "log.durability=sync", "--set", "sim.cars=7");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "durability: sync") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "cars: 7") != NULL, "%s", r.out);
    cli_result_free(&r);
    cli_result_t bad = RUN("config", "--dump", "--conf", cli_scratch_conf(), "--set",
                           "log.durability=fsync");
    cr_assert_eq(bad.status, 1);
    cr_assert(strstr(bad.err, "fsync") != NULL, "%s", bad.err);
    cli_result_free(&bad);
}

static const char *points_jsonl =
    "{\"ts_ns\":1000,\"entity\":\"car/1\",\"channel\":\"rpm\",\"value\":9120.5}\n"
    "{\"ts_ns\":2000,\"entity\":\"car/2\",\"channel\":\"throttle\",\"value\":0.25}\n"
    "{\"ts_ns\":3000,\"entity\":3,\"channel\":\"gear\",\"value\":null}\n";

Test(cli, appends_json_lines_and_tails_them_back)
{
    const char *conf = cli_scratch_conf();
    cli_result_t c = RUN("stream", "create", "laps", "--partitions", "3", "--conf", conf);
    cr_assert_eq(c.status, 0, "%s", c.err);
    cli_result_free(&c);
    cli_result_t a = RUN_IN(points_jsonl, "stream", "append", "laps", "--partition", "1",
                            "--batch", "2", "--conf", conf);
    cr_assert_eq(a.status, 0, "%s", a.err);
    cr_assert(strstr(a.out, "appended 2 batches") != NULL, "%s", a.out);
    cli_result_free(&a);
    cli_result_t t = RUN("stream", "tail", "laps", "--conf", conf);
    cr_assert_eq(t.status, 0, "%s", t.err);
    cr_assert(strstr(t.out, "\"partition\":1,\"offset\":0,\"ts_ns\":1000,\"entity\":\"car/1\","
                            "\"channel\":\"rpm\",\"value\":9120.5") != NULL, "%s", t.out);
    cr_assert(strstr(t.out, "\"offset\":0,\"ts_ns\":2000,\"entity\":\"car/2\","
                            "\"channel\":\"throttle\",\"value\":0.25") != NULL, "%s", t.out);
    cr_assert(strstr(t.out, "\"offset\":1,\"ts_ns\":3000,\"entity\":\"car/3\","
                            "\"channel\":\"gear\",\"value\":null") != NULL, "%s", t.out);
    int lines = 0;
    for (const char *p = t.out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 3);
    cli_result_free(&t);
    cli_result_t l = RUN("stream", "list", "--conf", conf);
    cr_assert_eq(l.status, 0, "%s", l.err);
    cr_assert(strstr(l.out, "laps: 3 partitions, 2 batches") != NULL, "%s", l.out);
    cr_assert(strstr(l.out, "partition 1: earliest 0 next 2") != NULL, "%s", l.out);
    cli_result_free(&l);
}

Test(cli, appends_nothing_from_input_with_a_bad_line)
{
    const char *conf = cli_scratch_conf();
    cli_result_t c = RUN("stream", "create", "laps", "--conf", conf);
    cr_assert_eq(c.status, 0, "%s", c.err);
    cli_result_free(&c);
    const char *bad = "{\"ts_ns\":1,\"entity\":\"car/1\",\"channel\":\"rpm\",\"value\":1}\n"
                      "{\"ts_ns\":2,\"entity\":\"car/1\",\"channel\":\"rpmx\",\"value\":1}\n";
    cli_result_t a = RUN_IN(bad, "stream", "append", "laps", "--conf", conf);
    cr_assert_eq(a.status, 1);
    cr_assert(strstr(a.err, "-:2: unknown channel 'rpmx'") != NULL, "%s", a.err);
    cr_assert(strstr(a.err, "nothing appended") != NULL, "%s", a.err);
    cli_result_free(&a);
    cli_result_t l = RUN("stream", "list", "--conf", conf);
    cr_assert(strstr(l.out, "laps: 1 partition, 0 batches") != NULL, "%s", l.out);
    cli_result_free(&l);
}

Test(cli, appends_msgpack_batches_written_by_tail_consumers)
{
    /* A file of two back-to-back batches, made by the codec through jsonl. */
    const char *conf = cli_scratch_conf();
    cli_result_t c = RUN("stream", "create", "a", "--conf", conf);
    cli_result_free(&c);
    c = RUN("stream", "create", "b", "--conf", conf);
    cli_result_free(&c);
    cli_result_t a = RUN_IN(points_jsonl, "stream", "append", "a", "--batch", "2",
                            "--conf", conf);
    cr_assert_eq(a.status, 0, "%s", a.err);
    cli_result_free(&a);
    /* Truncated msgpack is refused with the byte offset. */
    const char trunc[] = {(char)0x87, (char)0xa2, 'p'};
    cli_result_t t = cli_run((const char *const[]){"stream", "append", "b", "--format",
                                                   "msgpack", "--conf", conf, NULL},
                             trunc, sizeof trunc, 20000);
    cr_assert_eq(t.status, 1);
    cr_assert(strstr(t.err, "batch 1 at byte 0") != NULL, "%s", t.err);
    cr_assert(strstr(t.err, "truncated") != NULL, "%s", t.err);
    cli_result_free(&t);
}

Test(cli, tail_follows_from_a_group_position)
{
    const char *conf = cli_scratch_conf();
    cli_result_t c = RUN("stream", "create", "laps", "--conf", conf);
    cli_result_free(&c);
    cli_result_t a = RUN_IN(points_jsonl, "stream", "append", "laps", "--conf", conf);
    cr_assert_eq(a.status, 0, "%s", a.err);
    cli_result_free(&a);
    /* The group reads two records, stores its position after that batch. */
    cli_result_t t1 = RUN("stream", "tail", "laps", "--group", "gfx", "--conf", conf);
    cr_assert_eq(t1.status, 0, "%s", t1.err);
    cli_result_free(&t1);
    cli_result_t p = RUN("stream", "positions", "--group", "gfx", "--conf", conf);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.out, "gfx laps partition 0: position 1 (next 1, lag 0)") != NULL,
              "%s", p.out);
    cli_result_free(&p);
    /* Nothing new: the group prints nothing. */
    cli_result_t t2 = RUN("stream", "tail", "laps", "--group", "gfx", "--conf", conf);
    cr_assert_eq(t2.status, 0, "%s", t2.err);
    cr_assert_str_empty(t2.out);
    cli_result_free(&t2);
    /* Rewind the group and read again, at most 2 records. */
    cli_result_t s = RUN("stream", "positions", "--group", "gfx", "laps", "--partition", "0",
                         "--set-offset", "0", "--conf", conf);
    cr_assert_eq(s.status, 0, "%s", s.err);
    cli_result_free(&s);
    cli_result_t t3 = RUN("stream", "tail", "laps", "--group", "gfx", "--max", "2",
                          "--conf", conf);
    cr_assert_eq(t3.status, 0, "%s", t3.err);
    cr_assert(strstr(t3.out, "\"ts_ns\":2000") != NULL, "%s", t3.out);
    cr_assert(strstr(t3.out, "\"ts_ns\":3000") == NULL, "%s", t3.out);
    cli_result_free(&t3);
}

Test(cli, run_writes_simulated_points_at_the_configured_rate_and_stops_cleanly)
{
    const char *conf = cli_scratch_conf();
    cli_result_t r = RUN("run", "--conf", conf, "--duration", "1.2");
    cr_assert_eq(r.status, 0, "%s", r.err);
    /* Lines of rates, then a summary of what went into the log. */
    cr_assert(strstr(r.out, "points/s") != NULL, "%s", r.out);
    unsigned long long points = 0, batches = 0, acked = 0, last = 0;
    const char *sum = strstr(r.out, "stopped after");
    cr_assert_not_null(sum, "%s", r.out);
    cr_assert_eq(sscanf(strstr(sum, ": ") + 2, "%llu points in %llu batches", &points, &batches),
                 2, "%s", sum);
    cr_assert_eq(sscanf(strstr(sum, "points/s), ") + 11, "%llu of %llu", &acked, &last), 2,
                 "%s", sum);
    /* 4400 points/s for 1.2 s, in whole ticks of 4 cars x 11 channels. */
    cr_assert(points >= 4400 && points <= 5720, "%llu points", points);
    cr_assert_eq(points % 44, 0, "%llu points", points);
    cr_assert_eq(acked, last);
    cli_result_free(&r);
    cli_result_t t = RUN("stream", "tail", "telemetry", "--conf", conf);
    cr_assert_eq(t.status, 0, "%s", t.err);
    unsigned long long lines = 0;
    for (const char *p = t.out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, points);
    cr_assert(strstr(t.out, "\"channel\":\"fuel_level_l\"") != NULL);
    cli_result_free(&t);
}

Test(cli, sim_writes_a_counted_number_of_points_as_fast_as_it_can)
{
    const char *conf = cli_scratch_conf();
    cli_result_t r = RUN("sim", "--race", "--max", "--count", "44000", "--conf", conf);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, " 44000 points") != NULL, "%s", r.out);
    cli_result_free(&r);
    cli_result_t bad = RUN("sim", "--race", "--rate", "5", "--conf", conf);
    cr_assert_eq(bad.status, 1);
    cr_assert(strstr(bad.err, "rate_pps") != NULL, "%s", bad.err);
    cli_result_free(&bad);
}

Test(cli, ingest_dumps_json_lines_that_read_back_the_same)
{
    char in[400], cmd[900];
    snprintf(in, sizeof in, "%s/in.jsonl", cli_scratch_make());
    FILE *f = fopen(in, "w");
    fputs(points_jsonl, f);
    fputs("{\"ts_ns\":7,\"session\":5,\"labels\":[\"ball_snap\"],\"objects\":[{\"entity\":"
          "\"ball\",\"team\":2,\"x\":1.5,\"y\":2.0,\"speed\":null,\"orientation\":null,"
          "\"direction\":null}]}\n", f);
    fclose(f);
    cli_result_t d = RUN("ingest", "--format", "jsonl", "--input", in, "--dump", "--conf",
                         cli_scratch_conf());
    cr_assert_eq(d.status, 0, "%s", d.err);
    cr_assert(strstr(d.out, "{\"ts_ns\":1000,\"entity\":\"car/1\",\"channel\":\"rpm\","
                            "\"value\":9120.5}\n") != NULL, "%s", d.out);
    cr_assert(strstr(d.out, "\"labels\":[\"ball_snap\"]") != NULL, "%s", d.out);
    /* The dump, gzipped, reads back to the same dump. */
    char gz[420];
    snprintf(gz, sizeof gz, "%s.gz", in);
    snprintf(cmd, sizeof cmd, "gzip -c > '%s'", gz);
    FILE *p = popen(cmd, "w");
    cr_assert_not_null(p);
    fputs(d.out, p);
    cr_assert_eq(pclose(p), 0);
    cli_result_t d2 = RUN("ingest", "--format", "jsonl", "--input", gz, "--dump", "--conf",
                          cli_scratch_conf());
    cr_assert_eq(d2.status, 0, "%s", d2.err);
    cr_assert_str_eq(d2.out, d.out);
    cli_result_free(&d2);
    cli_result_free(&d);
}

Test(cli, ingest_counts_bad_lines_and_refuses_unreadable_input)
{
    char in[400];
    snprintf(in, sizeof in, "%s/bad.jsonl", cli_scratch_make());
    FILE *f = fopen(in, "w");
    fputs(points_jsonl, f);
    fputs("{\"ts_ns\":\"soon\",\"entity\":\"car/1\",\"channel\":\"rpm\",\"value\":1}\n", f);
    fclose(f);
    cli_result_t r = RUN("ingest", "--format", "jsonl", "--input", in, "--conf",
                         cli_scratch_conf());
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "4 records, 3 points") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "1 skipped") != NULL, "%s", r.out);
    cr_assert(strstr(r.err, "bad.jsonl:4: 'ts_ns' must be an integer") != NULL, "%s", r.err);
    cli_result_free(&r);
    cli_result_t m = RUN("ingest", "--format", "jsonl", "--input", "/nonexistent/x.jsonl",
                         "--conf", cli_scratch_conf());
    cr_assert_eq(m.status, 1);
    cr_assert(strstr(m.err, "/nonexistent/x.jsonl: No such file or directory") != NULL, "%s",
              m.err);
    cli_result_free(&m);
    char gz[420];
    snprintf(gz, sizeof gz, "%s.gz", in);
    f = fopen(gz, "w");
    fputs("\x1f\x8b\x08\x00garbage", f);
    fclose(f);
    cli_result_t z = RUN("ingest", "--format", "jsonl", "--input", gz, "--conf",
                         cli_scratch_conf());
    cr_assert_eq(z.status, 1);
    cr_assert(strstr(z.err, "gzip") != NULL, "%s", z.err);
    cli_result_free(&z);
}

Test(cli, keeps_the_names_of_ingested_records_in_the_stream)
{
    const char *conf = cli_scratch_conf();
    char in[400];
    snprintf(in, sizeof in, "%s/new-names.jsonl", cli_scratch_make());
    FILE *f = fopen(in, "w");
    fputs("{\"ts_ns\":5,\"entity\":\"nfl/2495438\",\"channel\":\"heart_rate\",\"value\":151}\n", f);
    fclose(f);
    cli_result_t c = RUN("stream", "create", "bio", "--conf", conf);
    cli_result_free(&c);
    cli_result_t a = RUN("ingest", "--format", "jsonl", "--input", in, "--to", "bio", "--conf",
                         conf);
    cr_assert_eq(a.status, 0, "%s", a.err);
    cli_result_free(&a);
    /* Another process, same configuration: the names come from the stream. */
    cli_result_t t = RUN("stream", "tail", "bio", "--conf", conf);
    cr_assert_eq(t.status, 0, "%s", t.err);
    cr_assert(strstr(t.out, "\"entity\":\"nfl/2495438\",\"channel\":\"heart_rate\"") != NULL,
              "%s", t.out);
    cli_result_free(&t);
    /* A reader with other names in its configuration still reads them right. */
    cli_result_t t2 = RUN("stream", "tail", "bio", "--conf", conf, "--set", "channels=[x]",
                          "--set", "entities=[]");
    cr_assert_eq(t2.status, 0, "%s", t2.err);
    cr_assert(strstr(t2.out, "\"entity\":\"nfl/2495438\",\"channel\":\"heart_rate\"") != NULL,
              "%s", t2.out);
    cli_result_free(&t2);
    /* A writer whose configuration contradicts the stream is refused. */
    cli_result_t w = RUN("sim", "--race", "--max", "--count", "44", "--conf", conf, "--set",
                         "channels=[x]");
    cr_assert_eq(w.status, 1);
    cr_assert(strstr(w.err, "the stream names channels id 1 'speed_mps' but the configuration "
                            "makes it 'x'") != NULL, "%s", w.err);
    cli_result_free(&w);
}

Test(cli, run_appends_what_its_listeners_receive_from_a_simulator_over_udp)
{
    const char *conf = cli_scratch_conf();
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "'%s' run --conf '%s' --set sim.enabled=false --set listen.udp=127.0.0.1:0 "
             "--duration 3 2>&1", cli_bin(), conf);
    FILE *run = popen(cmd, "r");
    cr_assert_not_null(run);
    char line[1024];
    int port = 0;
    while (!port && fgets(line, sizeof line, run)) {
        const char *p = strstr(line, "(port ");
        if (p)
            port = atoi(p + 6);
    }
    cr_assert(port > 0, "no port announced");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    cli_result_t sim = RUN("sim", "--race", "--udp", addr, "--max", "--count", "4400", "--conf",
                           conf);
    cr_assert_eq(sim.status, 0, "%s", sim.err);
    cr_assert(strstr(sim.out, "4400 points") != NULL, "%s", sim.out);
    cli_result_free(&sim);
    char out[8192] = "";
    while (fgets(line, sizeof line, run))
        if (strlen(out) + strlen(line) < sizeof out)
            strcat(out, line);
    cr_assert_eq(pclose(run), 0, "%s", out);
    cr_assert(strstr(out, "udp: ") != NULL, "%s", out);
    cr_assert(strstr(out, "4400 points/frames, 0 dropped (0 by the kernel), 0 malformed") != NULL,
              "%s", out);
    cr_assert(strstr(out, "live: 4400 points/frames appended") != NULL, "%s", out);
    cli_result_t t = RUN("stream", "tail", "telemetry", "--conf", conf);
    unsigned long long lines = 0;
    for (const char *p = t.out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 4400);
    cli_result_free(&t);
}
