/*
 * pitwall config: print every configuration key (the tables are the
 * documentation), check a file, or dump the effective configuration.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/app_conf.h"
#include "cmd/cmd.h"

int cmd_config_main(int argc, char **argv)
{
    app_conf_flags_t flags = {0};
    int check = 0, dump = 0;
    for (int i = 1; i < argc; i++) {
        int t = app_conf_take_flag(&flags, argc, argv, &i, "config");
        if (t < 0)
            return 2;
        if (t > 0)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            continue; /* the key table below is the help */
        else if (!strcmp(argv[i], "--check"))
            check = 1;
        else if (!strcmp(argv[i], "--dump"))
            dump = 1;
        else
            return cmd_usage_error("config", "unknown argument '%s'", argv[i]);
    }
    if (!check && !dump) {
        printf("usage: pitwall config [--conf FILE] [--set KEY=VALUE]... [--check|--dump]\n"
               "--check loads FILE and reports the first error as file:line:column;\n"
               "--dump prints the effective configuration as YAML.\n\n"
               "Configuration keys (YAML; dotted paths for --set):\n\n");
        return pw_conf_print_help(stdout, &app_conf_section) ? 1 : 0;
    }
    app_conf_t c;
    pw_err_t err = {0};
    if (app_conf_load(&flags, &c, &err)) {
        fprintf(stderr, "pitwall config: %s\n", err.msg);
        return 1;
    }
    if (dump)
        pw_conf_dump(stdout, &app_conf_section, &c);
    else
        printf("%s: ok\n", flags.conf_path ? flags.conf_path : APP_CONF_DEFAULT_PATH);
    app_conf_fini(&c);
    return 0;
}
