/* corpus.c — `lmc corpus SUB`: building fresh evaluation corpora offline (include/lmc_corpus.h,
 * docs/corpus.md). Each SUB has its own option table, so `lmc corpus wet --help` comes from it. */
#include "cli/cli.h"
#include "lmc.h"
#include "lmc_corpus.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- lmc corpus wet ------------------------------------------------------------------------------ */

typedef struct wet_args {
    const char *output, *lid_model, *fasttext, *lang, *crawl_after, *crawl_before;
    long        min_len, dedup_group, threads;
    int         dedup, lid, quiet;
    cli_list    inputs;
} wet_args;

static const cli_opt WET_OPTS[] = {
    {"--output", "-o", CLI_STR, "OUT.jsonl", 0, 0, offsetof(wet_args, output),
     "the corpus (JSON Lines, written atomically); its manifest is OUT.manifest.json"},
    {"--min-len", NULL, CLI_INT, "N", 0, 1000000000, offsetof(wet_args, min_len),
     "drop documents whose content has fewer than N code points, before dedup (CCNet: 300)"},
    {"--dedup", NULL, CLI_CHOICE, "two-pass|keep-first|off", 0, 0, offsetof(wet_args, dedup),
     "paragraph dedup: two-pass (CCNet, the paper) drops a line from every document of the scope when two or more "
     "have it; keep-first keeps the first document's copy; repeats inside a document are dropped either way"},
    {"--dedup-group", NULL, CLI_INT, "N", 0, 1000000, offsetof(wet_args, dedup_group),
     "dedup scope: groups of N input files in the order given (the paper's CCNet runs: 18); 0: all input"},
    {"--lid", NULL, CLI_CHOICE, "off|fasttext", 0, 0, offsetof(wet_args, lid),
     "language id with the fastText program over the content with newlines deleted; without the program or "
     "the model the step is skipped and the manifest says why"},
    {"--lid-model", NULL, CLI_STR, "PATH", 0, 0, offsetof(wet_args, lid_model), "fastText model: lid.176.bin or .ftz"},
    {"--fasttext", NULL, CLI_STR, "PROGRAM", 0, 0, offsetof(wet_args, fasttext),
     "the fastText program (default: fasttext on PATH)"},
    {"--lang", NULL, CLI_STR, "LANG", 0, 0, offsetof(wet_args, lang),
     "the language label kept, with a score (rounded to 2 decimals) of at least 0.5"},
    {"--crawl-after", NULL, CLI_STR, "YYYY-MM-DD", 0, 0, offsetof(wet_args, crawl_after),
     "keep records whose WARC-Date (the crawl time, not the text's) is on or after this day"},
    {"--crawl-before", NULL, CLI_STR, "YYYY-MM-DD", 0, 0, offsetof(wet_args, crawl_before),
     "keep records whose WARC-Date is before this day"},
    {"--threads", "-t", CLI_INT, "T", 0, 4096, offsetof(wet_args, threads),
     "threads (0: all cores); the output is the same bytes at any count"},
    {"--quiet", "-q", CLI_FLAG, "", 0, 0, offsetof(wet_args, quiet), "no progress lines"},
    {0}};

const cli_spec corpus_wet_spec = {
    "corpus wet", "Common Crawl WET files → the cc subset (CCNet's steps)",
    "lmc corpus wet [options] -o OUT.jsonl FILE.warc.wet.gz [FILE ...]",
    "Reads WET files (gzip with one member per record, one stream, or plain text), keeps the conversion records "
    "(title = the first body line, not part of the content), drops short documents, removes duplicate paragraphs "
    "the way CCNet does, optionally identifies the language, and writes {\"content\", \"subset\": \"cc\", \"meta\"} "
    "lines that lmc eval reads. Bad records (malformed headers, invalid UTF-8, wrong Content-Length, a truncated "
    "gzip member) are counted and named in the manifest and the rest is kept. See docs/corpus.md.",
    WET_OPTS, offsetof(wet_args, inputs), 1, -1, "FILE"};

/* Whether s is a YYYY-MM-DD day. */
static int is_day(const char *s) {
    int y, m, d, n = 0;
    return strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10 && m >= 1 && m <= 12 &&
           d >= 1 && d <= 31;
}

/* The command line as one string, for the manifest. */
static char *joined_args(int argc, char **argv) {
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = calloc(1, n);
    for (int i = 0; s && i < argc; i++) strcat(strcat(s, i ? " " : ""), argv[i]);
    return s;
}

/* The progress line and the clock its rate is measured on (the library only counts bytes). */
typedef struct wet_progress_out {
    cli_progress line;
    double       t0; /* when the run started, seconds (CLOCK_MONOTONIC) */
} wet_progress_out;

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void wet_progress(const lmc_corpus_progress *p, void *user) {
    wet_progress_out *out = user;
    double dt = seconds_now() - out->t0, frac = p->total_bytes ? (double)p->done_bytes / (double)p->total_bytes : 1;
    char text[200];
    snprintf(text, sizeof text, "corpus wet: %s, %.0f%% of the input, %.1f MB/s of WET text, ETA %.0f s", p->phase,
             100 * frac, dt > 0 ? (double)p->text_bytes / 1e6 / dt : 0, frac > 0 ? dt * (1 - frac) / frac : 0);
    cli_progress_show(&out->line, text, 0);
}

static int wet_check(const wet_args *a) {
    if (!a->output) return cli_usage(&corpus_wet_spec, "corpus wet needs -o OUT.jsonl");
    if (a->crawl_after && !is_day(a->crawl_after))
        return cli_usage(&corpus_wet_spec, "--crawl-after must be YYYY-MM-DD, not '%s'", a->crawl_after);
    if (a->crawl_before && !is_day(a->crawl_before))
        return cli_usage(&corpus_wet_spec, "--crawl-before must be YYYY-MM-DD, not '%s'", a->crawl_before);
    if (a->lid && !a->lid_model) return cli_usage(&corpus_wet_spec, "--lid fasttext needs --lid-model PATH");
    return CLI_GO;
}

static int cmd_corpus_wet(int argc, char **argv) {
    wet_args a = {.min_len = 300, .lang = "en"};
    int rc = cli_parse(&corpus_wet_spec, argc, argv, &a);
    if (rc == CLI_GO) rc = wet_check(&a);
    if (rc != CLI_GO) { cli_free(&corpus_wet_spec, &a); return rc; }
    lmc_wet_opts o;
    lmc_wet_opts_default(&o);
    o.min_len = a.min_len, o.dedup = (lmc_dedup_mode)a.dedup, o.dedup_group = a.dedup_group, o.lid = a.lid;
    o.lid_model = a.lid_model, o.fasttext = a.fasttext, o.lang = a.lang, o.threads = (int)a.threads;
    o.crawl_after = a.crawl_after, o.crawl_before = a.crawl_before;
    char *args = joined_args(argc, argv);
    o.arguments = args;
    wet_progress_out prog = {{.tty = isatty(2)}, seconds_now()};
    if (!a.quiet) o.progress = wet_progress, o.progress_user = &prog;
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    rc = lmc_corpus_wet(&o, a.inputs.v, (size_t)a.inputs.n, a.output, &s, &err);
    cli_progress_end(&prog.line);
    free(args);
    if (rc == 0) {
        char m[4200];
        printf("%s: %zu documents, %zu characters, %zu bytes from %zu records (%zu problems counted%s); manifest %s\n",
               a.output, s.docs, s.chars, s.bytes, s.records, s.problems,
               s.lid_skipped ? "; language id SKIPPED, see the manifest" : "",
               lmc_corpus_manifest_path(a.output, m, sizeof m));
    }
    cli_free(&corpus_wet_spec, &a);
    return rc ? cli_fail(err.msg) : 0;
}

/* ---- lmc corpus: the dispatch -------------------------------------------------------------------- */

typedef struct corpus_args {
    cli_list rest;
} corpus_args;

static const cli_opt CORPUS_OPTS[] = {{0}};

const cli_spec corpus_spec = {
    "corpus", "build a fresh evaluation corpus offline (Common Crawl WET → cc) with a manifest",
    "lmc corpus wet [options] -o OUT.jsonl FILE...",
    "Subcommands: wet (Common Crawl WET files → the cc subset, CCNet's steps). `lmc corpus wet --help` lists its "
    "options. Inputs are files you already have: nothing is fetched. See docs/corpus.md.",
    CORPUS_OPTS, offsetof(corpus_args, rest), 0, -1, "SUB"};

int cmd_corpus(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[2], "wet")) return cmd_corpus_wet(argc - 1, argv + 1);
    if (argc < 3 || argv[2][0] == '-') {
        corpus_args a = {0};
        int rc = cli_parse(&corpus_spec, argc, argv, &a);
        cli_free(&corpus_spec, &a);
        if (rc != CLI_GO) return rc;
        return cli_usage(&corpus_spec, "corpus needs a subcommand (wet)");
    }
    return cli_usage(&corpus_spec, "unknown corpus subcommand '%s' (wet)", argv[2]);
}
