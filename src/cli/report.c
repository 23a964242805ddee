/* report.c — the command lines of `lmc report` and `lmc compare` (report.h): parse flags, load the files,
 * render, write atomically, print. Like bench.c, the part of these commands that prints and picks exit codes;
 * everything it prints was built by report.c into a buffer. */
#include "cli/cli.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ----------------------------------------------------------------------------------- */

typedef struct report_args {
    const char *html, *md, *svg, *scores, *refs;
    long        resamples, seed;
    cli_list    inputs;
} report_args;

#define F(x) offsetof(report_args, x)
#define STATS_OPTS                                                                                              \
    {"--bootstrap", NULL, CLI_INT, "N", 0, LMC_BOOTSTRAP_MAX, F(resamples),                                     \
     "bootstrap resamples per interval (default 1000)"},                                                        \
    {"--seed", NULL, CLI_INT, "S", 0, LONG_MAX, F(seed), "the bootstrap's seed (the same seed, the same interval)"}

static const cli_opt REPORT_OPTS[] = {
    {"--output", "-o", CLI_STR, "report.html", 0, 0, F(html), "the report as one HTML page"},
    {"--md", NULL, CLI_STR, "OUT.md", 0, 0, F(md), "the leaderboard as Markdown"},
    {"--svg", NULL, CLI_STR, "OUT.svg", 0, 0, F(svg), "the plots as one SVG"},
    {"--scores", NULL, CLI_STR, "SCORES.json", 0, 0, F(scores),
     "benchmark scores {\"model\": score, ...}: one scatter per corpus of BPC against the score, with its "
     "least-squares line and Pearson r"},
    {"--reference", NULL, CLI_STR, "LINES.json", 0, 0, F(refs),
     "reference lines {\"cc\": {\"slope\": b, \"intercept\": a, \"label\": ...}, ...} drawn on the scatters"},
    STATS_OPTS, {0}};

static const cli_opt COMPARE_OPTS[] = {STATS_OPTS, {0}};
#undef F

const cli_spec report_spec = {
    "report", "a leaderboard of results files with 95% intervals, and BPC-vs-score plots",
    "lmc report RESULTS.json... [-o report.html] [--md OUT.md] [--svg OUT.svg] [--scores SCORES.json]",
    "One row per model (results file), one column per corpus. With no output file, the Markdown table goes to "
    "stdout.",
    REPORT_OPTS, offsetof(report_args, inputs), 1, -1, "RESULTS.json (from lmc eval --json)"};

const cli_spec compare_spec = {
    "compare", "the paired BPC difference of two models on the same documents",
    "lmc compare A.json B.json [--bootstrap N] [--seed S]",
    "Per corpus: the difference A - B (documents paired), its interval and whether it excludes zero.",
    COMPARE_OPTS, offsetof(report_args, inputs), 2, 2, "the second results file"};

static int write_out(const char *path, const lmc_buf *b, lmc_err *err) {
    return lmc_write_file_atomic(path, b->p ? b->p : "", b->len, err);
}

/* Refuses outputs that would replace an input or each other, or cannot be written, and holds their locks. */
static int claim_outputs(const report_args *a, lmc_outputs **held, lmc_err *err) {
    const char *outs[] = {a->html, a->md, a->svg};
    size_t n_in = (size_t)a->inputs.n;
    const char **ins = lmc_xcalloc(n_in + 2, sizeof *ins);
    memcpy(ins, a->inputs.v, n_in * sizeof *ins);
    ins[n_in] = a->scores;
    ins[n_in + 1] = a->refs;
    int rc = lmc_outputs_check(outs, 3, ins, n_in + 2, err) || lmc_outputs_lock(outs, 3, held, err);
    free(ins);
    return rc ? -1 : 0;
}

int cmd_report(int argc, char **argv) {
    report_args a = {.resamples = LMC_BOOTSTRAP_DEFAULT, .seed = LMC_BOOTSTRAP_SEED};
    int rc = cli_parse(&report_spec, argc, argv, &a);
    if (rc != CLI_GO) { cli_free(&report_spec, &a); return rc; }
    rc = 0;
    const char *html = a.html, *md = a.md, *svg = a.svg, *scores_path = a.scores, *refs_path = a.refs;
    const char **inputs = a.inputs.v;
    size_t n_in = (size_t)a.inputs.n;
    long resamples = a.resamples, seed = a.seed;
    lmc_err err = {{0}};
    lmc_results *files = calloc(n_in, sizeof *files);
    lmc_scores scores;
    memset(&scores, 0, sizeof scores);
    lmc_reflines refs;
    memset(&refs, 0, sizeof refs);
    size_t loaded = 0;
    lmc_outputs *held = NULL;
    if (claim_outputs(&a, &held, &err)) { rc = 1; goto out; }
    for (; loaded < n_in; loaded++)
        if (lmc_results_load(inputs[loaded], &files[loaded], &err)) { rc = 1; goto out; }
    if (scores_path && lmc_scores_load(scores_path, &scores, &err)) { rc = 1; goto out; }
    if (refs_path && lmc_reflines_load(refs_path, &refs, &err)) { rc = 1; goto out; }
    lmc_report_opts o = {(int)resamples, (uint64_t)seed, scores_path ? &scores : NULL, scores_path,
                         refs_path ? &refs : NULL, refs_path};
    /* render everything before writing anything, so an error leaves no partial set of outputs */
    lmc_buf bh = {0}, bm = {0}, bs = {0};
    if ((html && lmc_report_render(files, n_in, &o, LMC_REPORT_HTML, &bh, &err)) ||
        lmc_report_render(files, n_in, &o, LMC_REPORT_MD, &bm, &err) ||
        (svg && lmc_report_render(files, n_in, &o, LMC_REPORT_SVG, &bs, &err)))
        rc = 1;
    else if ((html && write_out(html, &bh, &err)) || (md && write_out(md, &bm, &err)) ||
             (svg && write_out(svg, &bs, &err)))
        rc = 1;
    if (!rc) {
        if (!html && !md && !svg) fputs(bm.p, stdout); /* no output file: the table on stdout */
        if (html) fprintf(stderr, "wrote %s\n", html);
        if (md) fprintf(stderr, "wrote %s\n", md);
        if (svg) fprintf(stderr, "wrote %s\n", svg);
    }
    lmc_buf_free(&bh);
    lmc_buf_free(&bm);
    lmc_buf_free(&bs);
out:
    lmc_outputs_unlock(held);
    for (size_t i = 0; i < loaded; i++) lmc_results_free(&files[i]);
    free(files);
    cli_free(&report_spec, &a);
    if (scores_path) lmc_scores_free(&scores);
    if (refs_path) lmc_reflines_free(&refs);
    return rc ? cli_fail(err.msg) : 0;
}

int cmd_compare(int argc, char **argv) {
    report_args o = {.resamples = LMC_BOOTSTRAP_DEFAULT, .seed = LMC_BOOTSTRAP_SEED};
    int rc = cli_parse(&compare_spec, argc, argv, &o);
    if (rc != CLI_GO) { cli_free(&compare_spec, &o); return rc; }
    const char *in[2] = {o.inputs.v[0], o.inputs.v[1]};
    long resamples = o.resamples, seed = o.seed;
    cli_free(&compare_spec, &o);
    lmc_err err = {{0}};
    lmc_results a, b;
    if (lmc_results_load(in[0], &a, &err)) return cli_fail(err.msg);
    if (lmc_results_load(in[1], &b, &err)) { lmc_results_free(&a); return cli_fail(err.msg); }
    lmc_buf out = {0};
    rc = lmc_compare_text(&a, &b, (int)resamples, (uint64_t)seed, &out, &err);
    if (!rc) fputs(out.p, stdout);
    lmc_buf_free(&out);
    lmc_results_free(&a);
    lmc_results_free(&b);
    return rc ? cli_fail(err.msg) : 0;
}
