/* report_cli.c — the command lines of `lmc report` and `lmc compare` (report.h): parse flags, load the files,
 * render, write atomically, print. Like bench.c, the part of these commands that prints and picks exit codes;
 * everything it prints was built by report.c into a buffer. */
#include "cli/options.h"
#include "report/report.h"
#include "eval/stats.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_line(const char *msg) {
    fprintf(stderr, "lmc: %s\n", msg);
    return 1;
}

static int usage(const char *cmd, const char *msg, const char *arg) {
    fprintf(stderr, "lmc %s: ", cmd);
    fprintf(stderr, msg, arg);
    fprintf(stderr, " (see lmc --help)\n");
    return 2;
}

/* Shared by both commands: --bootstrap N, --seed S. Returns 1 when argv[*i] was one of them, -1 on a bad value. */
static int stats_opt(int argc, char **argv, int *i, long *resamples, long *seed, const char *cmd, int *rc) {
    int missing = 0;
    const char *v;
    char msg[160];
    if ((v = cli_flag_value(argc, argv, i, "--bootstrap", NULL, &missing))) {
        if (cli_long("--bootstrap", v, 0, LMC_BOOTSTRAP_MAX, resamples, msg, sizeof msg)) {
            *rc = usage(cmd, "%s", msg);
            return -1;
        }
        return 1;
    }
    if ((v = cli_flag_value(argc, argv, i, "--seed", NULL, &missing))) {
        if (cli_long("--seed", v, 0, LONG_MAX, seed, msg, sizeof msg)) {
            *rc = usage(cmd, "%s", msg);
            return -1;
        }
        return 1;
    }
    if (missing) { *rc = usage(cmd, "%s needs a value", argv[*i]); return -1; }
    return 0;
}

static int write_out(const char *path, const lmc_buf *b, lmc_err *err) {
    return lmc_write_file_atomic(path, b->p ? b->p : "", b->len, err);
}

int lmc_report_main(int argc, char **argv) {
    const char *html = NULL, *md = NULL, *svg = NULL, *scores_path = NULL, *refs_path = NULL;
    long resamples = LMC_BOOTSTRAP_DEFAULT, seed = LMC_BOOTSTRAP_SEED;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    size_t n_in = 0;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        int missing = 0, s;
        const char *v;
        if ((s = stats_opt(argc, argv, &i, &resamples, &seed, "report", &rc)) < 0) { free(inputs); return rc; }
        if (s) continue;
        if ((v = cli_flag_value(argc, argv, &i, "-o", "--output", &missing))) html = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--md", NULL, &missing))) md = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--svg", NULL, &missing))) svg = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--scores", NULL, &missing))) scores_path = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--reference", NULL, &missing))) refs_path = v;
        else if (missing) { free(inputs); return usage("report", "%s needs a value", argv[i]); }
        else if (argv[i][0] == '-' && argv[i][1]) {
            free(inputs);
            return usage("report", "unknown option '%s'", argv[i]);
        }
        else inputs[n_in++] = argv[i];
    }
    if (!n_in) { free(inputs); return usage("report", "needs at least one results file (from lmc eval --json)%s", ""); }
    lmc_err err = {{0}};
    lmc_results *files = calloc(n_in, sizeof *files);
    lmc_scores scores;
    memset(&scores, 0, sizeof scores);
    lmc_reflines refs;
    memset(&refs, 0, sizeof refs);
    size_t loaded = 0;
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
    for (size_t i = 0; i < loaded; i++) lmc_results_free(&files[i]);
    free(files);
    free(inputs);
    if (scores_path) lmc_scores_free(&scores);
    if (refs_path) lmc_reflines_free(&refs);
    return rc ? fail_line(err.msg) : 0;
}

int lmc_compare_main(int argc, char **argv) {
    const char *in[2];
    int n_in = 0, rc = 0;
    long resamples = LMC_BOOTSTRAP_DEFAULT, seed = LMC_BOOTSTRAP_SEED;
    for (int i = 2; i < argc; i++) {
        int s;
        if ((s = stats_opt(argc, argv, &i, &resamples, &seed, "compare", &rc)) < 0) return rc;
        if (s) continue;
        if (argv[i][0] == '-' && argv[i][1]) return usage("compare", "unknown option '%s'", argv[i]);
        if (n_in == 2) return usage("compare", "takes two results files, got a third: '%s'", argv[i]);
        in[n_in++] = argv[i];
    }
    if (n_in != 2) return usage("compare", "usage: lmc compare A.json B.json [--bootstrap N] [--seed S]%s", "");
    lmc_err err = {{0}};
    lmc_results a, b;
    if (lmc_results_load(in[0], &a, &err)) return fail_line(err.msg);
    if (lmc_results_load(in[1], &b, &err)) { lmc_results_free(&a); return fail_line(err.msg); }
    lmc_buf out = {0};
    rc = lmc_compare_text(&a, &b, (int)resamples, (uint64_t)seed, &out, &err);
    if (!rc) fputs(out.p, stdout);
    lmc_buf_free(&out);
    lmc_results_free(&a);
    lmc_results_free(&b);
    return rc ? fail_line(err.msg) : 0;
}
