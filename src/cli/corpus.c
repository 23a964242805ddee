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
    const char *output, *lid_model, *fasttext, *lang, *crawl_after, *crawl_before, *exclude, *quality_ref;
    long        min_len, dedup_group, threads;
    int         dedup, lid, quiet, quality;
    cli_list    inputs;
} wet_args;

static const cli_opt WET_OPTS[] = {
    CLI_OUTPUT(offsetof(wet_args, output), "OUT.jsonl", "the corpus (JSON Lines, written atomically); its manifest is OUT.manifest.json"),
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
    {"--quality", NULL, CLI_CHOICE, "off|ngram", 0, 0, offsetof(wet_args, quality),
     "ngram: keep the head (perplexity at or below the pool's 30th percentile) of a word 5-gram model trained on "
     "--quality-ref: a substitute for CCNet's head bucket, whose models are not available offline"},
    {"--quality-ref", NULL, CLI_STR, "REF", 0, 0, offsetof(wet_args, quality_ref),
     "the reference text the quality model learns (JSON Lines, WET or plain); never the evaluated model's output"},
    {"--exclude-hashes", NULL, CLI_STR, "OLD.hashes", 0, 0, offsetof(wet_args, exclude),
     "drop the lines found in older text (a line-hashes file from lmc corpus hashes), after dedup"},
    {"--crawl-after", NULL, CLI_STR, "YYYY-MM-DD", 0, 0, offsetof(wet_args, crawl_after),
     "keep records whose WARC-Date (the crawl time, not the text's) is on or after this day"},
    {"--crawl-before", NULL, CLI_STR, "YYYY-MM-DD", 0, 0, offsetof(wet_args, crawl_before),
     "keep records whose WARC-Date is before this day"},
    CLI_THREADS(offsetof(wet_args, threads), "threads (0: all cores); the output is the same bytes at any count"),
    CLI_QUIET(offsetof(wet_args, quiet), "no progress lines"),
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

/* Every output of a run (the corpus or hashes file and its manifest) checked before any work: not a directory,
 * in an existing, writable directory, not one of the inputs (by inode: another spelling or a link is caught;
 * common/outpath.c); then locked (OUT.lock) so that a second run given the same output is refused instead of
 * racing it to the rename. ins: the positional inputs; more: other input files (NULL entries skipped). */
static int claim_outputs(const char *out, const char *const *ins, size_t n_in, const char *const *more, size_t n_more,
                         lmc_outputs **held, lmc_err *err) {
    char m[4200];
    const char *outs[2] = {out, lmc_corpus_manifest_path(out, m, sizeof m)};
    const char **all = lmc_xcalloc(n_in + n_more + 1, sizeof *all);
    if (n_in) memcpy(all, ins, n_in * sizeof *all);
    if (n_more) memcpy(all + n_in, more, n_more * sizeof *all);
    int rc = lmc_outputs_check(outs, 2, all, n_in + n_more, err);
    if (rc == 0) rc = lmc_outputs_lock(outs, 2, held, err);
    free(all);
    return rc;
}

/* The end of every subcommand: the outputs unlocked, the command line string and the parsed lists freed, the
 * exit status. */
static int finish(const cli_spec *spec, void *a, char *args, lmc_outputs *held, int rc, const lmc_err *err) {
    lmc_outputs_unlock(held);
    free(args);
    cli_free(spec, a);
    return rc ? cli_fail(err->msg) : 0;
}

/* The progress line, and the clock its rates and ETA are measured on (the library only counts): the rates are the
 * phase's own, from the report before the phase began, so that a phase starting late in the run does not
 * borrow an earlier one's speed. */
typedef struct corpus_progress_out {
    cli_progress line;
    const char  *command;  /* "corpus wet" */
    double       t_phase, t_last; /* seconds (CLOCK_MONOTONIC): the phase's start (the report before it), the last */
    double       t_shown;         /* when a line was last printed */
    const char  *phase, *unit;
    uint64_t     done_phase, done_last, text_phase, text_last;
} corpus_progress_out;

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static corpus_progress_out progress_out(const char *command) {
    double now = seconds_now();
    return (corpus_progress_out){{.tty = isatty(2)}, command, now, now, 0, NULL, NULL, 0, 0, 0, 0};
}

static void corpus_progress(const lmc_corpus_progress *p, void *user) {
    corpus_progress_out *out = user;
    double now = seconds_now();
    if (!out->phase || strcmp(out->phase, p->phase)) { /* wet's phases count on; code's from 0, in their units */
        int on = out->unit && !strcmp(out->unit, p->unit) && p->done >= out->done_last;
        out->phase = p->phase, out->unit = p->unit, out->t_phase = out->t_last;
        out->done_phase = on ? out->done_last : 0, out->text_phase = on ? out->text_last : 0;
    }
    out->t_last = now, out->done_last = p->done, out->text_last = p->text_bytes;
    if (now - out->t_shown < 1 && p->done < p->total) return; /* a line a second at most (chunks are many) */
    out->t_shown = now;
    double dt = now - out->t_phase, rate = dt > 0 ? (double)(p->done - out->done_phase) / dt : 0;
    double frac = p->total ? (double)p->done / (double)p->total : 1;
    char text[240], amount[80];
    if (!strcmp(p->unit, "bytes")) snprintf(amount, sizeof amount, "%.0f%% of the input", 100 * frac);
    else snprintf(amount, sizeof amount, "%llu of %llu %s", (unsigned long long)p->done, (unsigned long long)p->total, p->unit);
    snprintf(text, sizeof text, "%s: %s, %s, %.1f MB/s of text, ETA %.0f s", out->command, p->phase, amount,
             dt > 0 ? (double)(p->text_bytes - out->text_phase) / 1e6 / dt : 0,
             rate > 0 ? (double)(p->total - p->done) / rate : 0);
    cli_progress_show(&out->line, text, 0);
}

static int wet_check(const wet_args *a) {
    if (!a->output) return cli_usage(&corpus_wet_spec, "corpus wet needs -o OUT.jsonl");
    if (a->crawl_after && !is_day(a->crawl_after))
        return cli_usage(&corpus_wet_spec, "--crawl-after must be YYYY-MM-DD, not '%s'", a->crawl_after);
    if (a->crawl_before && !is_day(a->crawl_before))
        return cli_usage(&corpus_wet_spec, "--crawl-before must be YYYY-MM-DD, not '%s'", a->crawl_before);
    if (a->lid && !a->lid_model) return cli_usage(&corpus_wet_spec, "--lid fasttext needs --lid-model PATH");
    if (a->quality && !a->quality_ref) return cli_usage(&corpus_wet_spec, "--quality ngram needs --quality-ref REF");
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
    o.crawl_after = a.crawl_after, o.crawl_before = a.crawl_before, o.exclude_hashes = a.exclude;
    o.quality = a.quality, o.quality_ref = a.quality_ref;
    char *args = joined_args(argc, argv);
    o.arguments = args;
    corpus_progress_out prog = progress_out("corpus wet");
    if (!a.quiet) o.progress = corpus_progress, o.progress_user = &prog;
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    lmc_outputs *held = NULL;
    const char *more[] = {a.lid_model, a.quality_ref, a.exclude};
    rc = claim_outputs(a.output, (const char *const *)a.inputs.v, (size_t)a.inputs.n, more, 3, &held, &err);
    if (rc == 0) rc = lmc_corpus_wet(&o, a.inputs.v, (size_t)a.inputs.n, a.output, &s, &err);
    cli_progress_end(&prog.line);
    if (rc == 0) {
        char m[4200];
        printf("%s: %zu documents, %zu characters, %zu bytes from %zu records (%zu problems counted%s); manifest %s\n",
               a.output, s.docs, s.chars, s.bytes, s.records, s.problems,
               s.lid_skipped ? "; language id SKIPPED, see the manifest" : "",
               lmc_corpus_manifest_path(a.output, m, sizeof m));
    }
    return finish(&corpus_wet_spec, &a, args, held, rc, &err);
}

/* ---- lmc corpus code ------------------------------------------------------------------------------- */

typedef struct code_args {
    const char *output, *created_after, *created_before, *repo_meta, *tokenizer, *near;
    long        seed, segment_files, threads;
    int         quiet;
    cli_list    inputs;
} code_args;

static const cli_opt CODE_OPTS[] = {
    CLI_OUTPUT(offsetof(code_args, output), "OUT.jsonl", "the corpus (JSON Lines, written atomically); its manifest is OUT.manifest.json"),
    {"--created-after", NULL, CLI_STR, "YYYY-MM-DD", 0, 0, offsetof(code_args, created_after),
     "keep repositories created on or after this day (first commit, tarball commit time, or repos.jsonl)"},
    {"--created-before", NULL, CLI_STR, "YYYY-MM-DD", 0, 0, offsetof(code_args, created_before),
     "keep repositories created before this day; a git repository is read at its last commit before it"},
    {"--repo-meta", NULL, CLI_STR, "repos.jsonl", 0, 0, offsetof(code_args, repo_meta),
     "{repo, created_at, stars, license} per repository (repo = the input's base name): overrides the dates"},
    {"--ratio-tokenizer", NULL, CLI_STR, "TOK", 0, 0, offsetof(code_args, tokenizer),
     "a tokenizer lmc loads, for the char/token ratio >= 1.5 filter (the paper: codeparrot/codeparrot); without "
     "one the step is skipped and the manifest says so"},
    {"--seed", NULL, CLI_INT, "S", 0, 2147483647, offsetof(code_args, seed),
     "the seeded drops (config-or-test, no keywords: p = 0.7 each, per file, independent of order)"},
    {"--near-dedup", NULL, CLI_STR, "0.85|off", 0, 0, offsetof(code_args, near),
     "MinHash near-dedup threshold (Jaccard of token sets), or off"},
    {"--segment-files", NULL, CLI_INT, "N", 1, 1000000, offsetof(code_args, segment_files),
     "files per segment (meta.segment: a repository's files by path, in runs of N) for lmc corpus sample --by segment"},
    CLI_THREADS(offsetof(code_args, threads), "threads (0: all cores); the output is the same bytes at any count"),
    CLI_QUIET(offsetof(code_args, quiet), "no progress lines"),
    {0}};

const cli_spec corpus_code_spec = {
    "corpus code", "repositories → the python subset (CodeParrot's filters)",
    "lmc corpus code [options] -o OUT.jsonl DIR|REPO|TAR [...]",
    "Inputs: git repositories (libgit2), plain directories, or tarballs (libarchive). Files named *.py of at most "
    "1 MiB in UTF-8 go through, in order: the creation window, exact dedup, autogenerated, line length, alpha_frac, "
    "char/token ratio, config-or-test and no-keywords (seeded p = 0.7), four '=' or fewer, MinHash near-dedup. "
    "See docs/corpus.md.",
    CODE_OPTS, offsetof(code_args, inputs), 1, -1, "DIR|REPO|TAR"};

static int code_check(const code_args *a, double *near) {
    char *end;
    if (!a->output) return cli_usage(&corpus_code_spec, "corpus code needs -o OUT.jsonl");
    if (a->created_after && !is_day(a->created_after))
        return cli_usage(&corpus_code_spec, "--created-after must be YYYY-MM-DD, not '%s'", a->created_after);
    if (a->created_before && !is_day(a->created_before))
        return cli_usage(&corpus_code_spec, "--created-before must be YYYY-MM-DD, not '%s'", a->created_before);
    *near = a->near && strcmp(a->near, "off") ? strtod(a->near, &end) : -1;
    if (a->near && strcmp(a->near, "off") && (*end || !(*near > 0 && *near <= 1)))
        return cli_usage(&corpus_code_spec, "--near-dedup must be a number in (0, 1] or off, not '%s'", a->near);
    return CLI_GO;
}

static int cmd_corpus_code(int argc, char **argv) {
    code_args a = {.seed = 1, .segment_files = 8, .near = "0.85"};
    double near = 0.85;
    int rc = cli_parse(&corpus_code_spec, argc, argv, &a);
    if (rc == CLI_GO) rc = code_check(&a, &near);
    if (rc != CLI_GO) { cli_free(&corpus_code_spec, &a); return rc; }
    lmc_code_opts o;
    lmc_code_opts_default(&o);
    o.created_after = a.created_after, o.created_before = a.created_before, o.repo_meta = a.repo_meta;
    o.ratio_tokenizer = a.tokenizer, o.seed = (uint64_t)a.seed, o.near_dedup = near > 0, o.near_threshold = near;
    o.segment_files = a.segment_files, o.threads = (int)a.threads;
    char *args = joined_args(argc, argv);
    o.arguments = args;
    corpus_progress_out prog = progress_out("corpus code");
    if (!a.quiet) o.progress = corpus_progress, o.progress_user = &prog;
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    lmc_outputs *held = NULL;
    const char *more[] = {a.repo_meta, a.tokenizer};
    rc = claim_outputs(a.output, (const char *const *)a.inputs.v, (size_t)a.inputs.n, more, 2, &held, &err);
    if (rc == 0) rc = lmc_corpus_code(&o, a.inputs.v, (size_t)a.inputs.n, a.output, &s, &err);
    cli_progress_end(&prog.line);
    if (rc == 0) {
        char m[4200];
        printf("%s: %zu of %zu .py files kept, %zu characters, %zu bytes; manifest %s\n", a.output, s.docs, s.records,
               s.chars, s.bytes, lmc_corpus_manifest_path(a.output, m, sizeof m));
    }
    return finish(&corpus_code_spec, &a, args, held, rc, &err);
}

/* ---- lmc corpus arxiv ------------------------------------------------------------------------------ */

typedef struct arxiv_args {
    const char *output, *meta, *category, *after, *before, *pandoc;
    double      timeout;
    int         format, quiet;
    cli_list    tars;
} arxiv_args;

static const cli_opt ARXIV_OPTS[] = {
    {"--meta", NULL, CLI_STR, "META.jsonl", 0, 0, offsetof(arxiv_args, meta),
     "the metadata snapshot (arxiv-metadata-oai-snapshot.json: id, categories, versions[0].created, title, ...)"},
    {"--category", NULL, CLI_STR, "CAT", 0, 0, offsetof(arxiv_args, category),
     "kept when the primary (first) category's prefix before '.' is CAT: math keeps math.CO, not math-ph"},
    {"--submitted-after", NULL, CLI_STR, "YYYY-MM-DD", 0, 0, offsetof(arxiv_args, after),
     "keep papers whose first version is from this day on"},
    {"--submitted-before", NULL, CLI_STR, "YYYY-MM-DD", 0, 0, offsetof(arxiv_args, before),
     "keep papers whose first version is from before this day"},
    {"--pandoc", NULL, CLI_STR, "PATH", 0, 0, offsetof(arxiv_args, pandoc), "the pandoc program (default: pandoc on PATH)"},
    {"--pandoc-timeout", NULL, CLI_REAL, "S", 1, 100000, offsetof(arxiv_args, timeout),
     "wall-clock seconds per paper; pandoc is killed after it and the paper counted"},
    {"--format", NULL, CLI_CHOICE, "markdown|latex", 0, 0, offsetof(arxiv_args, format),
     "markdown: pandoc's conversion (the paper's); latex: the main file's LaTeX as it is"},
    CLI_OUTPUT(offsetof(arxiv_args, output), "OUT.jsonl", "the corpus (JSON Lines, written atomically, with a manifest)"),
    CLI_QUIET(offsetof(arxiv_args, quiet), "no progress lines"),
    {0}};

const cli_spec corpus_arxiv_spec = {
    "corpus arxiv", "arXiv bulk source tars → the arxiv_math subset",
    "lmc corpus arxiv --meta META.jsonl [--category math] [--submitted-after D] [--submitted-before D] "
    "[--pandoc PATH] [--pandoc-timeout S] [--format markdown|latex] -o OUT.jsonl SRC.tar [...]",
    "Members YYMM/<id>.gz of each tar (a gzipped tar of the paper's directory or a gzipped .tex; .pdf skipped) "
    "are unpacked, the main file chosen (main, Main, MAIN, paper, Paper; the only .tex; every .tex with \\title), "
    "read as UTF-8 or else Latin-1, and converted with pandoc run in the paper's directory. Bad members (not gzip, "
    "neither tar nor TeX, a pandoc that fails or hangs) are counted and named in the manifest. See docs/corpus.md.",
    ARXIV_OPTS, offsetof(arxiv_args, tars), 1, -1, "SRC.tar"};

static int cmd_corpus_arxiv(int argc, char **argv) {
    arxiv_args a = {.category = "math", .timeout = 10};
    int rc = cli_parse(&corpus_arxiv_spec, argc, argv, &a);
    if (rc == CLI_GO && (!a.meta || !a.output)) rc = cli_usage(&corpus_arxiv_spec, "corpus arxiv needs --meta and -o");
    if (rc == CLI_GO && a.after && !is_day(a.after))
        rc = cli_usage(&corpus_arxiv_spec, "--submitted-after must be YYYY-MM-DD, not '%s'", a.after);
    if (rc == CLI_GO && a.before && !is_day(a.before))
        rc = cli_usage(&corpus_arxiv_spec, "--submitted-before must be YYYY-MM-DD, not '%s'", a.before);
    if (rc != CLI_GO) { cli_free(&corpus_arxiv_spec, &a); return rc; }
    lmc_arxiv_opts o;
    lmc_arxiv_opts_default(&o);
    o.meta = a.meta, o.category = a.category, o.submitted_after = a.after, o.submitted_before = a.before;
    o.pandoc = a.pandoc, o.pandoc_timeout = a.timeout, o.latex = a.format == 1;
    char *args = joined_args(argc, argv);
    o.arguments = args;
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    corpus_progress_out prog = progress_out("corpus arxiv");
    if (!a.quiet) o.progress = corpus_progress, o.progress_user = &prog;
    lmc_outputs *held = NULL;
    rc = claim_outputs(a.output, (const char *const *)a.tars.v, (size_t)a.tars.n, &a.meta, 1, &held, &err);
    if (rc == 0) rc = lmc_corpus_arxiv(&o, a.tars.v, (size_t)a.tars.n, a.output, &s, &err);
    cli_progress_end(&prog.line);
    if (rc == 0) {
        char m[4200];
        printf("%s: %zu papers, %zu characters, %zu bytes from %zu tar members (%zu problems); manifest %s\n", a.output,
               s.docs, s.chars, s.bytes, s.records, s.problems, lmc_corpus_manifest_path(a.output, m, sizeof m));
    }
    return finish(&corpus_arxiv_spec, &a, args, held, rc, &err);
}

/* ---- lmc corpus hashes ----------------------------------------------------------------------------- */

typedef struct hashes_args {
    const char *output;
    int         unit;
    cli_list    inputs;
} hashes_args;

static const cli_opt HASHES_OPTS[] = {
    CLI_OUTPUT(offsetof(hashes_args, output), "OLD.hashes", "the hashes file (written atomically)"),
    {"--unit", NULL, CLI_CHOICE, "line|13gram", 0, 0, offsetof(hashes_args, unit),
     "line: the paragraph hashes of dedup; 13gram: hashes of word 13-grams of the normalized lines"},
    {0}};

const cli_spec corpus_hashes_spec = {
    "corpus hashes", "the line (or 13-gram) hashes of older text, for decontam",
    "lmc corpus hashes [--unit line|13gram] -o OLD.hashes OLD...",
    "Reads JSON Lines (every record's content), WET files or plain text and stores the distinct hashes, sorted "
    "(8 bytes each). Use it on anything a model may have trained on, then lmc corpus decontam --against it.",
    HASHES_OPTS, offsetof(hashes_args, inputs), 1, -1, "OLD"};

static int cmd_corpus_hashes(int argc, char **argv) {
    hashes_args a = {0};
    int rc = cli_parse(&corpus_hashes_spec, argc, argv, &a);
    if (rc == CLI_GO && !a.output) rc = cli_usage(&corpus_hashes_spec, "corpus hashes needs -o OLD.hashes");
    if (rc != CLI_GO) { cli_free(&corpus_hashes_spec, &a); return rc; }
    char *args = joined_args(argc, argv);
    size_t n;
    lmc_err err = {{0}};
    lmc_outputs *held = NULL;
    rc = claim_outputs(a.output, (const char *const *)a.inputs.v, (size_t)a.inputs.n, NULL, 0, &held, &err);
    if (rc == 0) rc = lmc_corpus_hashes(a.inputs.v, (size_t)a.inputs.n, (lmc_overlap_unit)a.unit, args, a.output, &n, &err);
    if (rc == 0) printf("%s: %zu distinct %s hashes\n", a.output, n, a.unit ? "13-gram" : "line");
    return finish(&corpus_hashes_spec, &a, args, held, rc, &err);
}

/* ---- lmc corpus decontam ---------------------------------------------------------------------------- */

typedef struct decontam_args {
    const char *output, *in, *against;
    int         unit;
    double      max_overlap;
    cli_list    none;
} decontam_args;

static const cli_opt DECONTAM_OPTS[] = {
    {"--in", NULL, CLI_STR, "X.jsonl", 0, 0, offsetof(decontam_args, in), "the corpus to filter"},
    {"--against", NULL, CLI_STR, "OLD", 0, 0, offsetof(decontam_args, against),
     "older text: a file from lmc corpus hashes, or JSON Lines / WET / plain text hashed here"},
    {"--unit", NULL, CLI_CHOICE, "line|13gram", 0, 0, offsetof(decontam_args, unit),
     "what overlap counts: lines or word 13-grams (must match a hashes file's)"},
    {"--max-overlap", NULL, CLI_REAL, "F", 0, 1, offsetof(decontam_args, max_overlap),
     "drop a document when more than this share of its units is in OLD (default 0.5)"},
    CLI_OUTPUT(offsetof(decontam_args, output), "OUT.jsonl", "the documents kept, each with meta.overlap_frac (written atomically, with a manifest)"),
    {0}};

const cli_spec corpus_decontam_spec = {
    "corpus decontam", "drop the documents of a corpus that overlap older text",
    "lmc corpus decontam --in X.jsonl --against OLD.hashes|OLD.jsonl [--unit line|13gram] [--max-overlap F] -o OUT.jsonl",
    "A Common Crawl record's date is when it was crawled; much of its text is older. This is the offline freshness "
    "filter: a document whose share of lines (or word 13-grams) found in older data exceeds F is dropped.",
    DECONTAM_OPTS, offsetof(decontam_args, none), 0, 0, ""};

static int cmd_corpus_decontam(int argc, char **argv) {
    decontam_args a = {.max_overlap = 0.5};
    int rc = cli_parse(&corpus_decontam_spec, argc, argv, &a);
    if (rc == CLI_GO && (!a.in || !a.against || !a.output))
        rc = cli_usage(&corpus_decontam_spec, "corpus decontam needs --in, --against and -o");
    if (rc != CLI_GO) { cli_free(&corpus_decontam_spec, &a); return rc; }
    char *args = joined_args(argc, argv);
    lmc_decontam_opts o = {a.in, a.against, (lmc_overlap_unit)a.unit, a.max_overlap, args};
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    lmc_outputs *held = NULL;
    const char *ins[] = {a.in, a.against};
    rc = claim_outputs(a.output, ins, 2, NULL, 0, &held, &err);
    if (rc == 0) rc = lmc_corpus_decontam(&o, a.output, &s, &err);
    if (rc == 0) printf("%s: %zu documents kept, %zu characters\n", a.output, s.docs, s.chars);
    return finish(&corpus_decontam_spec, &a, args, held, rc, &err);
}

/* ---- lmc corpus sample ------------------------------------------------------------------------------- */

typedef struct sample_args {
    const char *output, *in;
    double      chars;
    long        seed;
    int         by;
    cli_list    none;
} sample_args;

static const cli_opt SAMPLE_OPTS[] = {
    {"--in", NULL, CLI_STR, "X.jsonl", 0, 0, offsetof(sample_args, in), "the corpus to sample"},
    {"--chars", NULL, CLI_REAL, "N", 1, 1000000000000L, offsetof(sample_args, chars),
     "characters (code points) to take: units are taken until at least N (the paper: 131e6 cc, 98e6 python, "
     "101e6 arxiv_math)"},
    {"--seed", NULL, CLI_INT, "S", 0, 2147483647, offsetof(sample_args, seed), "the seed of the draw"},
    {"--by", NULL, CLI_CHOICE, "doc|segment", 0, 0, offsetof(sample_args, by),
     "the unit taken whole: a document, or a segment (records with the same meta.repo and meta.segment)"},
    CLI_OUTPUT(offsetof(sample_args, output), "OUT.jsonl", "the sample, in file order (written atomically, with a manifest)"),
    {0}};

const cli_spec corpus_sample_spec = {
    "corpus sample", "a seeded sample of a corpus by characters",
    "lmc corpus sample --in X.jsonl --chars N --seed S [--by doc|segment] -o OUT.jsonl",
    "Each unit's place in the draw is splitmix64(seed XOR hash of the unit), so the sample does not depend on the "
    "file's order. The counts taken are printed.",
    SAMPLE_OPTS, offsetof(sample_args, none), 0, 0, ""};

static int cmd_corpus_sample(int argc, char **argv) {
    sample_args a = {0};
    int rc = cli_parse(&corpus_sample_spec, argc, argv, &a);
    if (rc == CLI_GO && (!a.in || !a.output || a.chars < 1))
        rc = cli_usage(&corpus_sample_spec, "corpus sample needs --in, --chars and -o");
    if (rc != CLI_GO) { cli_free(&corpus_sample_spec, &a); return rc; }
    char *args = joined_args(argc, argv);
    lmc_sample_opts o = {a.in, (uint64_t)a.chars, (uint64_t)a.seed, a.by, args};
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    lmc_outputs *held = NULL;
    rc = claim_outputs(a.output, &a.in, 1, NULL, 0, &held, &err);
    if (rc == 0) rc = lmc_corpus_sample(&o, a.output, &s, &err);
    if (rc == 0) printf("%s: %zu of %zu documents, %zu characters, %zu bytes\n", a.output, s.docs, s.records, s.chars, s.bytes);
    return finish(&corpus_sample_spec, &a, args, held, rc, &err);
}

/* ---- lmc corpus stats -------------------------------------------------------------------------------- */

typedef struct stats_args {
    cli_list inputs;
} stats_args;

static const cli_opt STATS_OPTS[] = {{0}};

const cli_spec corpus_stats_spec = {
    "corpus stats", "documents, characters, bytes, dates and gzip / xz bits per character of a corpus",
    "lmc corpus stats X.jsonl [X.jsonl ...]",
    "The date histogram is by month of meta.date_download (cc), created (arxiv) or created_at (python). The "
    "compressors see the contents joined by newlines; bits are per content character.",
    STATS_OPTS, offsetof(stats_args, inputs), 1, -1, "X.jsonl"};

static int cmd_corpus_stats(int argc, char **argv) {
    stats_args a = {0};
    int rc = cli_parse(&corpus_stats_spec, argc, argv, &a);
    for (int i = 0; rc == CLI_GO && i < a.inputs.n; i++) {
        lmc_corpus_stats st;
        lmc_err err = {{0}};
        if (lmc_corpus_stats_read(a.inputs.v[i], &st, &err)) { rc = cli_fail(err.msg); break; }
        printf("%s: %zu documents, %zu characters, %zu bytes, %zu bad records\n  gzip -9 %.4f bits/char, xz -9 "
               "%.4f bits/char\n  dates:", a.inputs.v[i], st.docs, st.chars, st.bytes, st.bad, st.gzip_bpc, st.xz_bpc);
        for (size_t m = 0; m < st.n_months; m++) printf(" %s:%zu", st.months[m], st.month_docs[m]);
        printf(" undated:%zu\n", st.undated);
        lmc_corpus_stats_free(&st);
    }
    cli_free(&corpus_stats_spec, &a);
    return rc == CLI_GO ? 0 : rc;
}

/* ---- lmc corpus: the dispatch -------------------------------------------------------------------- */

typedef struct corpus_args {
    cli_list rest;
} corpus_args;

static const cli_opt CORPUS_OPTS[] = {{0}};

const cli_spec *const corpus_sub_specs[] = {&corpus_wet_spec,      &corpus_code_spec,   &corpus_arxiv_spec,
                                              &corpus_hashes_spec,   &corpus_decontam_spec, &corpus_sample_spec,
                                              &corpus_stats_spec,    NULL};

const cli_spec corpus_spec = {
    "corpus", "build fresh evaluation corpora offline (cc, python, arxiv_math), decontaminate, sample, count",
    "lmc corpus wet|code|arxiv|hashes|decontam|sample|stats [options] ...",
    "Subcommands, each with its own --help (lmc corpus wet --help): wet (Common Crawl WET files → the cc subset, "
    "CCNet's steps); code (repositories → the python subset, CodeParrot's filters); arxiv (arXiv source tars → arxiv_math, pandoc); hashes (line or 13-gram hashes of older text); decontam (drop documents that overlap older "
    "text); sample (a seeded sample by characters); stats (counts, dates, gzip / xz bits per character). Inputs "
    "are files you already have: nothing is fetched. See docs/corpus.md.",
    CORPUS_OPTS, offsetof(corpus_args, rest), 0, -1, "SUB"};

typedef struct corpus_sub {
    const char *name;
    int (*fn)(int argc, char **argv);
} corpus_sub;

static const corpus_sub SUBS[] = {{"wet", cmd_corpus_wet},       {"code", cmd_corpus_code}, {"arxiv", cmd_corpus_arxiv},
                                  {"hashes", cmd_corpus_hashes},
                                  {"decontam", cmd_corpus_decontam}, {"sample", cmd_corpus_sample},
                                  {"stats", cmd_corpus_stats}};

int cmd_corpus(int argc, char **argv) {
    for (size_t i = 0; argc >= 3 && i < sizeof SUBS / sizeof SUBS[0]; i++)
        if (!strcmp(argv[2], SUBS[i].name)) return SUBS[i].fn(argc - 1, argv + 1);
    if (argc < 3 || argv[2][0] == '-') {
        corpus_args a = {0};
        int rc = cli_parse(&corpus_spec, argc, argv, &a);
        cli_free(&corpus_spec, &a);
        if (rc != CLI_GO) return rc;
        return cli_usage(&corpus_spec, "corpus needs a subcommand (wet, code, arxiv, hashes, decontam, sample or stats)");
    }
    return cli_usage(&corpus_spec, "unknown corpus subcommand '%s' (wet, code, arxiv, hashes, decontam, sample or stats)", argv[2]);
}
