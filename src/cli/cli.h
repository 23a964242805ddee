/* cli.h — the subcommands main.c dispatches to, and what several of them print alike. Each subcommand is one
 * file (eval.c, merge.c, ...) with one option table (options.h) and a cmd_* function that reads as
 * parse → run → report; argv[1] is the subcommand's name, and the return value is the process exit status. */
#ifndef LMC_CLI_H
#define LMC_CLI_H

#include "cli/options.h"
#include "lmc.h"
#include "lmc_tools.h"

extern const cli_spec eval_spec, merge_spec, convert_spec, generate_spec, tokenize_spec, bench_spec,
    compress_spec, decompress_spec, report_spec, compare_spec;

int cmd_eval(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compress(int argc, char **argv);
int cmd_decompress(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
extern const cli_spec corpus_spec; /* corpus.c: lmc corpus SUB (include/lmc_corpus.h) */
extern const cli_spec *const corpus_sub_specs[]; /* its subcommands' tables, NULL-ended (docs/cli.md) */
int cmd_corpus(int argc, char **argv);

extern const cli_spec serve_spec, kld_spec;
int cmd_serve(int argc, char **argv);
int cmd_kld(int argc, char **argv);

/* One vocabulary of options across subcommands: the same thing has the same spellings (and range) everywhere;
 * each subcommand says in its help what it means there. */
#define CLI_MODEL(field, help)          {"--model", "-m", CLI_STR, "MODEL", 0, 0, field, help}
#define CLI_THREADS(field, help)        {"--threads", "-t", CLI_INT, "T", 0, 4096, field, help}
#define CLI_DTYPE(field, help)          {"--dtype", NULL, CLI_COMPUTE, "", 0, 0, field, help}
#define CLI_BLOCK_SIZE(field, lo, help)                                                                         \
    {"--block-size", "-w --window --block_size", CLI_INT, "W", lo, 1000000, field, help}
#define CLI_OUTPUT(field, arg, help)    {"--output", "-o", CLI_STR, arg, 0, 0, field, help}
#define CLI_JSON_OUTPUT(field, help)    {"--output", "-o --json", CLI_STR, "OUT.json", 0, 0, field, help}
#define CLI_QUIET(field, help)          {"--quiet", "-q", CLI_FLAG, "", 0, 0, field, help}
/* the field is 0 when the option is absent (its range starts at 1): cli_window_stride then picks the default */
#define CLI_STRIDE(field)                                                                                       \
    {"--stride", NULL, CLI_INT, "S", 1, 1000000, field,                                                        \
     "new tokens scored per window after the first, at most W (default 512, or W when W < 512)"}

/* The stride of eval's windows, also for bench and kld: *stride as given, or when 0 (no --stride) 512, or W
 * when W < 512 (so `-w 128` alone is valid). CLI_GO, or the usage exit status (printed) when it exceeds W. */
int cli_window_stride(const cli_spec *s, long block_size, long *stride);

/* One output path per --data file (eval's --checkpoint, --per-window, --per-doc; kld's --checkpoint, --save-base,
 * --base-file), by one rule whatever the number of --data files, so that the same path names the same file for
 * a data file in a one-file and in a several-file run (either resumes the other's checkpoint): every "{}" in
 * path becomes the data file's name (lmc_corpus_name: "cc" for data/cc.jsonl.gz); a path without "{}" is used
 * as it is. NULL for NULL. Check the path first (cli_check_data_path); buf: 4200 bytes. */
const char *cli_data_path(char *buf, size_t cap, const char *path, const char *data);

/* Before any work: with several --data files the path of option `opt` needs a "{}" (else every file would write
 * one file; the message says how files of an older lmc, named PATH.0, PATH.1, ..., resume), and the names it
 * gives must differ and fit. CLI_GO, or the usage exit status (printed). */
int cli_check_data_path(const cli_spec *spec, const char *opt, const char *path, const cli_list *data);

/* The results table eval and merge print on stdout: one row per data file. */
void cli_print_table(const lmc_result *r, size_t n);

/* Sets the thread count for every kernel (0: all cores) and returns it; more threads than the machine has online
 * cores only slow a run down, so that gets a warning on stderr. */
int cli_threads(long requested);

/* LMC_MEMORY_LIMIT from the environment (bytes; the CLI's knob for tests, README), 0 when unset. */
size_t cli_memory_limit(void);

/* SIGINT / SIGTERM stop the run at the next window or symbol (signals.c): installs the handlers and returns the
 * flag for lmc_eval_opts.stop / lmcz_opts.stop. A second signal exits at once. */
const volatile sig_atomic_t *cli_stop_on_signals(void);
/* The exit status of a command that ends with status: 128 + the signal's number when a signal stopped it. */
int cli_exit_status(int status);

/* A progress line on stderr: redrawn in place on a TTY (tty = 1), else one line per report. */
typedef struct cli_progress {
    int tty;       /* stderr is a terminal */
    int open_line; /* a TTY line was drawn without its newline */
} cli_progress;

/* Prints line (no newline) as the current progress line; final: the last one (ends the line). */
void cli_progress_show(cli_progress *p, const char *line, int final);
/* Ends an open progress line, so that what is printed next starts on its own line. */
void cli_progress_end(cli_progress *p);

#endif
