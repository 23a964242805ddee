/* cli.h — the command line's flag parsing, one parser for every subcommand (main.c, bench.c): "--flag VALUE",
 * "--flag=VALUE", an optional alias, integers checked whole and in range, usage errors that show the value. */
#ifndef LMC_CLI_H
#define LMC_CLI_H

/* Whether arg is the flag (or its alias, which may be NULL). */
int cli_flag_is(const char *arg, const char *name, const char *alias);

/* The value of argv[*i] when it is this flag ("--flag VALUE" advances *i); NULL when it is not this flag, or when
 * the value is missing (then *missing is set). */
const char *cli_flag_value(int argc, char **argv, int *i, const char *name, const char *alias, int *missing);

/* v as a whole decimal integer in [lo, hi] into *out: 0, or -1 with msg (cap bytes) naming the flag, the range
 * and the value ("--threads must be 0..4096, not 'x'"). */
int cli_long(const char *flag, const char *v, long lo, long hi, long *out, char *msg, unsigned cap);

/* The same for a decimal number (strtod syntax) in [lo, hi]. */
int cli_double(const char *flag, const char *v, double lo, double hi, double *out, char *msg, unsigned cap);

/* Prints "lmc: " + fmt (one %s: arg) + " (see lmc --help)" on stderr; returns 2, the usage exit status. */
int cli_usage_error(const char *fmt, const char *arg);

#endif
