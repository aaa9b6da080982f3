/*
 * pitwall bench [NAME...] [--json] [--dir DIR] [--seconds S]: run all or
 * the named benchmarks and print a table, or one JSON object per line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cmd/cmd.h"
#include "core/pw_fs.h"

int cmd_bench_main(int argc, char **argv)
{
    int json = 0;
    bench_opts_t opts = {.dir = NULL, .seconds = 1.0};
    const char *names[64];
    size_t nnames = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            opts.dir = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            char *end;
            opts.seconds = strtod(argv[++i], &end);
            if (*end || !(opts.seconds > 0 && opts.seconds <= 600))
                return cmd_usage_error("bench", "--seconds wants 0 < S <= 600, got '%s'",
                                       argv[i]);
        } else if (argv[i][0] == '-')
            return cmd_usage_error("bench", "unknown flag '%s'", argv[i]);
        else {
            size_t k = 0;
            while (k < bench_count && strcmp(bench_table[k].name, argv[i]))
                k++;
            if (k == bench_count)
                return cmd_usage_error("bench", "unknown benchmark '%s'", argv[i]);
            if (nnames == sizeof names / sizeof names[0])
                return cmd_usage_error("bench", "too many names");
            names[nnames++] = argv[i];
        }
    }
    char tmp[] = "/tmp/pitwall-bench-XXXXXX";
    int made_tmp = 0;
    if (opts.dir == NULL) {
        if (mkdtemp(tmp) == NULL) {
            fprintf(stderr, "pitwall bench: cannot make a scratch directory: %s\n",
                    strerror(errno));
            return 1;
        }
        opts.dir = tmp;
        made_tmp = 1;
    }
    if (!json)
        bench_print_header(stdout);
    int failed = 0;
    for (size_t k = 0; k < bench_count; k++) {
        const bench_def_t *d = &bench_table[k];
        int wanted = nnames == 0;
        for (size_t j = 0; j < nnames; j++)
            wanted |= !strcmp(names[j], d->name);
        if (!wanted)
            continue;
        /* Write back what the last benchmark left dirty, so it does not
         * slow this one down. */
        sync();
        bench_result_t r;
        memset(&r, 0, sizeof r);
        pw_hist_init(&r.lat);
        pw_err_t err = {0};
        int rc = d->fn(&opts, &r, &err);
        if (rc) {
            fprintf(stderr, "pitwall bench: %s failed: %s\n", d->name,
                    err.msg[0] ? err.msg : pw_strerror(rc));
            failed = 1;
            continue;
        }
        if (json)
            bench_print_json(stdout, d->name, &r);
        else
            bench_print_row(stdout, d->name, &r);
        fflush(stdout);
    }
    if (made_tmp && pw_fs_remove_tree(tmp) != 0)
        fprintf(stderr, "pitwall bench: could not remove %s\n", tmp);
    return failed;
}
