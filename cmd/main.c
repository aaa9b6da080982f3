/*
 * pitwall: one binary, many subcommands (see DESIGN.md, "Command line").
 * This file holds the table of subcommands and dispatches to them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

static const cmd_t commands[] = {
    {"run", "all in one process: simulator -> stream log -> pipeline -> store -> api",
     "usage: pitwall run [--conf FILE] [--data-dir DIR] [--set KEY=VALUE]...\n"
     "                   [--duration SECONDS] [--stats] [--reset] [--port P] [--token T]\n"
     "Runs Pitwall on one machine from the configuration (default\n"
     "conf/pitwall.yaml): the race simulator writes points into the embedded\n"
     "stream log at sim.rate_pps (and a football game into run.game_topic), the\n"
     "pipeline's graph reads them and keeps its results in data_dir/store, and\n"
     "a line of rates is printed every run.stats_interval (--stats: a line per\n"
     "operator too) until Ctrl-C (or --duration), which stops it cleanly.\n"
     "The pipeline resumes from its last checkpoint; --reset starts it over\n"
     "(needed after the graph changed). The API server (as `pitwall api`) serves\n"
     "the live results and the dashboards; its URL is printed at start, with a\n"
     "generated token unless --token, PITWALL_TOKEN or api.tokens give one.\n",
     cmd_run_main, NULL},
    {"edge", "ingest + durable spool + forward when the uplink is up",
     "usage: pitwall edge --conf FILE\n", NULL, "the edge issue"},
    {"pipeline", "operator graph worker",
     "usage: pitwall pipeline [--conf FILE] [--stats] [--exit-at-end] [--reset]\n"
     "                        [--workers N] [--duration S]\n"
     "Runs the graph of the `pipeline` section over its source topics into the\n"
     "result store (data_dir/store), resuming from the last checkpoint.\n"
     "  --stats        print throughput, watermark lag and per-operator latency\n"
     "                 every run.stats_interval\n"
     "  --exit-at-end  stop at the end of the input: every window fires, a last\n"
     "                 checkpoint is taken\n"
     "  --reset        drop this group's checkpoints and start from the sources'\n"
     "                 start positions\n"
     "  --workers N    worker threads (default pipeline.workers; 0 = cores)\n"
     "Also --conf FILE, --data-dir DIR and --set KEY=VALUE.\n",
     cmd_pipeline_main, NULL},
    {"api", "result store served over WebSocket and HTTP",
     "usage: pitwall api [--conf FILE] [--port P] [--data-dir DIR] [--token T]\n"
     "                   [--set KEY=VALUE]... [--duration SECONDS]\n"
     "Serves the result store (data_dir/store, read-only) and the live hub over\n"
     "one port (api.listen, default 127.0.0.1:8080): the WebSocket /v1/live\n"
     "(api/PROTOCOL.md), GET /health and the dashboards folder. --token T (or\n"
     "PITWALL_TOKEN) adds an admin token; with neither and no api.tokens a token\n"
     "is generated and printed with the URL. --port 0 picks a free port.\n"
     "Runs until Ctrl-C (or --duration).\n",
     cmd_api_main, NULL},
    {"ingest", "decode a feed or file (ibt, ngs, bdc, f1csv, events, msgpack, jsonl)",
     "usage: pitwall ingest --format F --input PATH [--dump | --to TOPIC]\n"
     "                      [--channels A,B,...] [--events PXP.csv] [--conf FILE]\n"
     "Decodes PATH (a file, .gz read transparently, or every matching file of a\n"
     "folder) with format F. --dump prints the records as JSON lines (points,\n"
     "frames and session metadata; `--format jsonl` reads them back); --to appends\n"
     "them to a stream topic in batches, keyed by file; with neither it prints\n"
     "counts, time span and decode rate per file. Bad records are skipped and\n"
     "counted with the first problem named; a file that cannot be read at all\n"
     "is an error (exit 1).\n",
     cmd_ingest_main, NULL},
    {"replay", "replay a stored or recorded game into the pipeline",
     "usage: pitwall replay (--input PATH | --store DIR) [--session ID] [--speed X|max]\n",
     NULL, "a later issue"},
    {"train", "fit a model's coefficients from recorded data",
     "usage: pitwall train --model fuel|pressure|events|hockey --data PATH [--out FILE]\n"
     "Extracts the model's features from the recorded files of PATH (a file or a\n"
     "folder) with the code the live operator runs, fits them with GSL and\n"
     "writes the model file (default conf/models/<model>.json). The same data\n"
     "gives the same file. Each model says which files it trains on\n"
     "(docs/models-<model>.md): NGS plays of games whose id is divisible by 5,\n"
     "and sack plays with an even playId, are kept aside for eval.\n"
     "PITWALL_SPLIT=all fits every file. A folder's README*, LICENSE*, *.txt\n"
     "and *.md files are its documentation and are skipped.\n", cmd_train_main, NULL},
    {"eval", "print a model's metrics on data it was not fitted on",
     "usage: pitwall eval --model fuel|pressure|events|hockey --data PATH [--file MODEL.json] [--json]\n"
     "Replays PATH through the model (default conf/models/<model>.json) and\n"
     "prints its metrics; --json prints one object: fuel cum_burn_error_pct,\n"
     "flow_r2; pressure auc, sacks, sacks_alerted, min_sack_lead_s,\n"
     "false_alerts_per_10_clean; events f1, precision, recall by event type.\n"
     "pressure and events score every play of PATH the model file does not\n"
     "list among its training files (PITWALL_SPLIT=all: every play;\n"
     "PITWALL_SPLIT=train: only those, in sample).\n",
     cmd_eval_main, NULL},
    {"recap", "ranked key moments of a session, with in/out times",
     "usage: pitwall recap --store DIR --session ID [--duration 120] [--limit N] [--json]\n"
     "The highlight builder's list, from a result store (DIR: the store, or\n"
     "the data directory of pitwall run / pipeline that holds it in store/):\n"
     "the session's events ranked by importance, taken while their clips\n"
     "(pre- and post-roll by event type) fit --duration (120 s; 90, 2m, ...),\n"
     "listed in time order with the footage to cut. The same answer as\n"
     "GET /v1/moments?session=ID&duration=D&limit=N (api/HTTP.md); --json\n"
     "prints it as that JSON. --limit: most moments listed (default 1000,\n"
     "the most the API gives; its own default is 20).\n",
     cmd_recap_main, NULL},
    {"sim", "simulated race telemetry into a stream topic",
     "usage: pitwall sim --race [--rate R] [--cars N] [--seed S] [--to TOPIC]\n"
     "       pitwall sim --game [--seed S] [--to TOPIC]\n"
     "         both: [--conf FILE] [--data-dir DIR] [--duration SECONDS]\n"
     "               [--count N] [--max]\n"
     "--race writes simulated race telemetry (points) into TOPIC (default:\n"
     "sim.topic), paced at R points per second of wall time; --game writes a\n"
     "simulated football game (10 Hz frames of 22 players and the ball with\n"
     "event labels) into TOPIC (default: tracking). --max: as fast as possible.\n"
     "Stops after --duration seconds, --count points (frames) or Ctrl-C.\n",
     cmd_sim_main, NULL},
    {"stream", "create, list, append to and tail stream topics",
     "usage: pitwall stream create TOPIC [--partitions N] [--retention-age DUR]\n"
     "                                   [--retention-bytes SIZE]\n"
     "       pitwall stream list\n"
     "       pitwall stream append TOPIC [--input FILE|-] [--format msgpack|jsonl]\n"
     "                                   [--key K] [--partition P] [--batch N]\n"
     "       pitwall stream tail TOPIC [--partition P] [--from earliest|latest|OFFSET]\n"
     "                                 [--group G] [--max N] [--follow]\n"
     "       pitwall stream positions --group G [TOPIC]\n"
     "       pitwall stream positions --group G TOPIC --partition P --set-offset N\n"
     "Every form also takes --conf FILE, --data-dir DIR and --set KEY=VALUE.\n"
     "append reads Pitwall msgpack batches (one or more, back to back) or JSON\n"
     "lines of points ({\"ts_ns\":..,\"entity\":..,\"channel\":..,\"value\":..});\n"
     "tail prints records as JSON lines, one per point, frame or result.\n",
     cmd_stream_main, NULL},
    {"ops", "operators and their configuration keys",
     "usage: pitwall ops\nPrints every operator of the graph language with its inputs,\n"
     "outputs and keys (types, defaults, descriptions).\n", cmd_ops_main, NULL},
    {"bench", "run benchmarks and print a table (or JSON lines)",
     "usage: pitwall bench [NAME...] [--json] [--dir DIR] [--seconds S]\n"
     "Benchmarks: codec_encode codec_decode log_append log_read lmdb_raw\n"
     "            lmdb_raw_read sim_race decode_ibt decode_ngs udp_ingest\n"
     "            window_10k_keys window_1m_keys end_to_end\n"
     "            model_fuel model_pressure model_events hub_fanout\n"
     "            ws_latency ws_fanout\n"
     "--json prints one object per line: {\"name\":..,\"points_per_s\":..,\n"
     "\"p50_us\":..,\"p99_us\":..}. --dir is where the logs are written (default\n"
     "a fresh directory under /tmp, removed afterwards).\n",
     cmd_bench_main, NULL},
    {"config", "configuration keys, their types, defaults and descriptions",
     "usage: pitwall config [--help] [--conf FILE] [--set KEY=VALUE]... [--check|--dump]\n"
     "With no flag prints every key (as --help). --check loads FILE and reports\n"
     "the first error with file:line:column; --dump prints the effective\n"
     "configuration as YAML.\n",
     cmd_config_main, NULL},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "pitwall %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see pitwall %s --help)\n", cmd);
    return 2;
}

int cmd_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

static void print_help(FILE *f)
{
    fprintf(f, "pitwall %s: real-time sports telemetry engine\n\n"
               "usage: pitwall <command> [options]   (pitwall <command> --help)\n\n"
               "commands:\n", PITWALL_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s%s\n", commands[i].name, commands[i].summary,
                commands[i].main ? "" : " [not built yet]");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("pitwall %s\n", PITWALL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const cmd_t *c = &commands[i];
        if (strcmp(argv[1], c->name) != 0)
            continue;
        /* `config --help` is the table of keys: the command prints it. */
        if (cmd_wants_help(argc - 1, argv + 1) && c->main != cmd_config_main) {
            fputs(c->usage, stdout);
            if (!c->main)
                printf("\nNot built yet: planned in %s.\n", c->issue);
            return 0;
        }
        if (!c->main) {
            fprintf(stderr, "pitwall %s: not built yet (planned in %s)\n", c->name,
                    c->issue);
            return 2;
        }
        return c->main(argc - 1, argv + 1);
    }
    fprintf(stderr, "pitwall: unknown command '%s' (see pitwall --help)\n", argv[1]);
    return 2;
}
