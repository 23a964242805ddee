/* cli.c — see cli.h. */
#include "cli/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_flag_is(const char *arg, const char *name, const char *alias) {
    return !strcmp(arg, name) || (alias && !strcmp(arg, alias));
}

const char *cli_flag_value(int argc, char **argv, int *i, const char *name, const char *alias, int *missing) {
    const char *a = argv[*i];
    const char *names[2] = {name, alias};
    for (int j = 0; j < 2; j++) {
        if (!names[j]) continue;
        size_t n = strlen(names[j]);
        if (!strncmp(a, names[j], n) && a[n] == '=') return a + n + 1;
        if (!strcmp(a, names[j])) {
            if (*i + 1 >= argc) { *missing = 1; return NULL; }
            return argv[++*i];
        }
    }
    return NULL;
}

int cli_long(const char *flag, const char *v, long lo, long hi, long *out, char *msg, unsigned cap) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno == ERANGE || x < lo || x > hi) {
        snprintf(msg, cap, "%s must be %ld..%ld, not '%s'", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_double(const char *flag, const char *v, double lo, double hi, double *out, char *msg, unsigned cap) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno == ERANGE || !(x >= lo && x <= hi)) { /* !(..) also refuses NaN */
        snprintf(msg, cap, "%s must be a number in %g..%g, not '%s'", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "lmc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see lmc --help)\n");
    return 2;
}
