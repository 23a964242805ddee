/* report.c — the command lines of `lmc report` and `lmc compare` (report.h): parse flags, load the files,
 * render, write atomically, print. Like bench.c, the part of these commands that prints and picks exit codes;
 * everything it prints was built by report.c into a buffer. */
#include "cli/cli.h"
#include "lmc_paper.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- options ----------------------------------------------------------------------------------- */

typedef struct report_args {
    const char *html, *md, *svg, *scores, *refs;
    long        resamples, seed;
    int         paper;
    cli_list    inputs;
} report_args;

#define F(x) offsetof(report_args, x)
#define STATS_OPTS                                                                                              \
    {"--bootstrap", NULL, CLI_INT, "N", 0, LMC_BOOTSTRAP_MAX, F(resamples),                                     \
     "bootstrap resamples per interval (default 1000)"},                                                        \
    {"--seed", NULL, CLI_INT, "S", 0, LONG_MAX, F(seed), "the bootstrap's seed (the same seed, the same interval)"}

static const cli_opt REPORT_OPTS[] = {
    CLI_OUTPUT(F(html), "report.html", "the report as one HTML page"),
    {"--md", NULL, CLI_STR, "OUT.md", 0, 0, F(md), "the leaderboard as Markdown"},
    {"--svg", NULL, CLI_STR, "OUT.svg", 0, 0, F(svg), "the plots as one SVG"},
    {"--scores", NULL, CLI_STR, "SCORES.json", 0, 0, F(scores),
     "benchmark scores {\"model\": score, ...}: one scatter per corpus of BPC against the score, with its "
     "least-squares line and Pearson r"},
    {"--reference", NULL, CLI_STR, "LINES.json", 0, 0, F(refs),
     "reference lines {\"cc\": {\"slope\": b, \"intercept\": a, \"label\": ...}, ...} drawn on the scatters"},
    {"--paper", NULL, CLI_FLAG, "", 0, 0, F(paper),
     "add the paper's published leaderboard (data/paper_leaderboard.tsv beside the lmc executable) as reference rows "
     "and hollow-square points, on the corpora named cc, python and arxiv_math only: published, not measured by lmc; "
     "a --scores file may score its models too"},
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

/* ---- lmc report -------------------------------------------------------------------------------- */

/* What a report is made of: the results files, and the scores and reference lines when given. */
typedef struct report_inputs {
    lmc_results *files;  /* (n) */
    size_t       n;      /* loaded so far */
    lmc_scores   scores;
    lmc_reflines refs;
    lmc_paper    paper;
    int          have_scores, have_refs, have_paper;
} report_inputs;

/* data/paper_leaderboard.tsv in the directory of the running executable (the repository root for ./lmc). */
static int load_paper(lmc_paper *paper, lmc_err *err) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    char *slash = n > 0 ? (buf[n] = 0, strrchr(buf, '/')) : NULL;
    if (!slash || (size_t)(slash - buf) + 32 > sizeof buf)
        return lmc_fail(err, "--paper: cannot locate the lmc executable's directory");
    snprintf(slash, sizeof buf - (size_t)(slash - buf), "/data/paper_leaderboard.tsv");
    return lmc_paper_load(buf, paper, err);
}

static int load_inputs(const report_args *a, report_inputs *in, lmc_err *err) {
    in->files = lmc_xcalloc((size_t)a->inputs.n, sizeof *in->files);
    in->have_scores = a->scores != NULL; /* freed whatever happens: freeing a zeroed one is a no-op */
    in->have_refs = a->refs != NULL;
    in->have_paper = a->paper;
    for (; in->n < (size_t)a->inputs.n; in->n++)
        if (lmc_results_load(a->inputs.v[in->n], &in->files[in->n], err)) return -1;
    if (a->scores && lmc_scores_load(a->scores, &in->scores, err)) return -1;
    if (a->refs && lmc_reflines_load(a->refs, &in->refs, err)) return -1;
    if (a->paper && load_paper(&in->paper, err)) return -1;
    return 0;
}

static void free_inputs(report_inputs *in) {
    for (size_t i = 0; i < in->n; i++) lmc_results_free(&in->files[i]);
    free(in->files);
    if (in->have_scores) lmc_scores_free(&in->scores);
    if (in->have_refs) lmc_reflines_free(&in->refs);
    if (in->have_paper) lmc_paper_free(&in->paper);
}

static int write_out(const char *path, const lmc_buf *b, lmc_err *err) {
    return lmc_write_file_atomic(path, b->p ? b->p : "", b->len, err);
}

/* Renders every output before writing any, so an error leaves no partial set of them; with no output file the
 * Markdown table goes to stdout. */
static int render_and_write(const report_args *a, const report_inputs *in, lmc_err *err) {
    lmc_report_opts o = {(int)a->resamples, (uint64_t)a->seed, in->have_scores ? &in->scores : NULL, a->scores,
                         in->have_refs ? &in->refs : NULL, a->refs, in->have_paper ? &in->paper : NULL};
    lmc_buf bh = {0}, bm = {0}, bs = {0};
    int rc = (a->html && lmc_report_render(in->files, in->n, &o, LMC_REPORT_HTML, &bh, err)) ||
             lmc_report_render(in->files, in->n, &o, LMC_REPORT_MD, &bm, err) ||
             (a->svg && lmc_report_render(in->files, in->n, &o, LMC_REPORT_SVG, &bs, err)) ||
             (a->html && write_out(a->html, &bh, err)) || (a->md && write_out(a->md, &bm, err)) ||
             (a->svg && write_out(a->svg, &bs, err));
    if (!rc) {
        if (!a->html && !a->md && !a->svg) fputs(bm.p, stdout);
        if (a->html) fprintf(stderr, "wrote %s\n", a->html);
        if (a->md) fprintf(stderr, "wrote %s\n", a->md);
        if (a->svg) fprintf(stderr, "wrote %s\n", a->svg);
    }
    lmc_buf_free(&bh);
    lmc_buf_free(&bm);
    lmc_buf_free(&bs);
    return rc ? -1 : 0;
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
    lmc_err err = {{0}};
    report_inputs in = {0};
    lmc_outputs *held = NULL;
    rc = claim_outputs(&a, &held, &err);
    if (rc == 0) rc = load_inputs(&a, &in, &err);
    if (rc == 0) rc = render_and_write(&a, &in, &err);
    free_inputs(&in);
    lmc_outputs_unlock(held);
    cli_free(&report_spec, &a);
    return rc ? cli_fail(err.msg) : 0;
}

/* ---- lmc compare ------------------------------------------------------------------------------- */

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
