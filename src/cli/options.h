/* options.h — the command line's option tables: each subcommand declares its options once, in one table
 * {name, alias, kind, range, field, help}, and both the parser and `lmc SUB --help` (and docs/cli.md, through
 * `lmc help --markdown`) come from it, so the help cannot drift from what is parsed.
 *
 *   static const cli_opt OPTS[] = {
 *       {"--threads", "-t", CLI_INT, "T", 0, 4096, F(threads), "threads for all kernels (0: all cores)"},
 *       {0}};
 *
 * Values are "--flag VALUE" or "--flag=VALUE"; integers and numbers are checked whole and in range. A usage
 * error is one line on stderr that names the offending flag or value and ends with the subcommand's usage
 * line; its exit status is 2. `--help` and `-h` print the subcommand's help on stdout (exit 0). */
#ifndef LMC_CLI_OPTIONS_H
#define LMC_CLI_OPTIONS_H

#include <stddef.h>

/* --dtype's values (lmc.h lmc_compute, in its order). */
#define COMPUTE_CHOICES "f32|bf16|int8"

/* What an option's value is, and what the parser writes into its field. */
typedef enum cli_kind {
    CLI_FLAG,    /* no value: int field set to 1 */
    CLI_STR,     /* const char * (the last one given wins) */
    CLI_LIST,    /* cli_list: repeatable, every value kept in order; hi > 0: at most hi of them */
    CLI_INT,     /* long in [lo, hi] */
    CLI_REAL,    /* double in [lo, hi] */
    CLI_CHOICE,  /* int: the index of the value in arg's "a|b|c" */
    CLI_COMPUTE, /* lmc_compute (int) via lmc_compute_parse: one of COMPUTE_CHOICES */
} cli_kind;

/* A list of values (a repeatable option or the positional arguments); v is malloc'ed by the parser and
 * freed by cli_free. */
typedef struct cli_list {
    const char **v; /* (n) pointers into argv */
    int          n;
} cli_list;

typedef struct cli_opt {
    const char *name;   /* canonical spelling, e.g. "--block-size" */
    const char *alias;  /* other spellings, space-separated; a short form ("-w") first; NULL: none */
    cli_kind    kind;
    const char *arg;    /* the value's name in help ("W", "FILE"); for CLI_CHOICE the choices "f32|bf16|f16" */
    long        lo, hi; /* CLI_INT / CLI_REAL range; CLI_LIST: hi = most values (0: no limit) */
    size_t      field;  /* offsetof(the subcommand's args struct, the field written) */
    const char *help;   /* one paragraph, wrapped when printed */
} cli_opt;

/* One subcommand: what `lmc help` lists, its usage line, its options and its positional arguments. */
typedef struct cli_spec {
    const char    *name;     /* "eval" */
    const char    *summary;  /* one line for `lmc --help` */
    const char    *usage;    /* "lmc eval --model MODEL --data FILE [--data FILE ...] [options]" */
    const char    *about;    /* paragraph(s) under the usage line in --help; "\n" starts a new one */
    const cli_opt *opts;     /* ended by an entry with name NULL */
    size_t         pos;      /* offsetof the cli_list that receives positional arguments */
    int            pos_min, pos_max; /* how many positional arguments (pos_max 0: none; -1: no limit) */
    const char    *pos_name; /* "PART.json" (for "missing PART.json") */
} cli_spec;

/* What cli_parse returns when the command should go on; anything else is the exit status to return now. */
#define CLI_GO (-1)

/* Parses argv[2..argc) into args (already holding the defaults). Returns CLI_GO, 0 after --help / -h
 * (printed), or 2 after a usage error (printed). */
int cli_parse(const cli_spec *s, int argc, char **argv, void *args);

/* Frees the cli_list fields (options and positionals) cli_parse filled. */
void cli_free(const cli_spec *s, void *args);

/* A usage error found after parsing (a missing option, options that do not go together): prints
 * "lmc: MESSAGE (usage: USAGE; see lmc SUB --help)" on stderr, returns 2. */
int cli_usage(const cli_spec *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A run-time error (one line from the library): prints "lmc: MSG" on stderr, returns 1. */
int cli_fail(const char *msg);

/* `lmc SUB --help`, as plain text, to stdout. */
void cli_print_help(const cli_spec *s);

/* The same as a Markdown section of docs/cli.md (heading, usage, about, a table of options). */
void cli_print_markdown(const cli_spec *s);
/* The same at heading depth level (2: "##"; a subcommand of a command, such as lmc corpus wet: 3). */
void cli_print_markdown_at(const cli_spec *s, int level);

#endif
