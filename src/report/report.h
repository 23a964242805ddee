/* report.h — what a person reads: `lmc report` (a leaderboard of results files with 95% intervals, and a
 * scatter per corpus of BPC against a benchmark score), `lmc compare` (the paired difference of two models on
 * the same documents), and the interval lines `lmc eval` prints under its table. Builders fill an lmc_buf;
 * the *_main functions are the command-line side (like lmc_bench_main), the only part that prints. */
#ifndef LMC_REPORT_H
#define LMC_REPORT_H

#include "lmc.h"
#include "eval/results.h"
#include "common/util.h"

/* Benchmark scores: a JSON object {"model name": score, ...}, or {"label": "...", "scores": {...}}. */
typedef struct lmc_scores {
    char    label[128];   /* the score's name on the plots ("score" unless the file names it) */
    char  (*model)[256];  /* (n) */
    double *score;        /* (n) */
    size_t  n;
} lmc_scores;

int  lmc_scores_load(const char *path, lmc_scores *out, lmc_err *err);
void lmc_scores_free(lmc_scores *s);

/* Reference lines: {"cc": {"slope": b, "intercept": a, "label": "..."}, ...}: score = a + b · BPC per corpus. */
typedef struct lmc_reflines {
    char   (*corpus)[256];  /* (n) */
    char   (*label)[128];   /* (n) */
    double *slope, *intercept;
    size_t  n;
} lmc_reflines;

int  lmc_reflines_load(const char *path, lmc_reflines *out, lmc_err *err);
void lmc_reflines_free(lmc_reflines *r);

typedef struct lmc_report_opts {
    int                 resamples;  /* bootstrap resamples per interval */
    uint64_t            seed;
    const lmc_scores   *scores;     /* NULL: no scatter, a dot plot of BPC per corpus instead */
    const char         *scores_path;
    const lmc_reflines *refs;       /* NULL: none */
    const char         *refs_path;
    const struct lmc_paper *paper;  /* NULL, or the paper's leaderboard (lmc_paper.h): reference rows and points on
                                     * the columns named cc, python, arxiv_math, and a note for every other column */
} lmc_report_opts;

/* Output formats of one report. */
typedef enum lmc_report_format { LMC_REPORT_HTML, LMC_REPORT_MD, LMC_REPORT_SVG } lmc_report_format;

/* Checks the files against each other (one column per corpus: the same data in every file; one result per model
 * and corpus; scores and reference lines naming known models and corpora) and renders the report. */
int lmc_report_render(const lmc_results *files, size_t n_files, const lmc_report_opts *o, lmc_report_format fmt,
                      lmc_buf *out, lmc_err *err);

/* `lmc compare A B`: the paired difference per shared corpus, as text. */
int lmc_compare_text(const lmc_results *a, const lmc_results *b, int resamples, uint64_t seed, lmc_buf *out,
                     lmc_err *err);

/* The lines lmc eval prints under its table: each result's BPC ± clustered SE and bootstrap interval
 * (results must carry doc_stats). */
int lmc_intervals_text(lmc_buf *out, const lmc_result *r, size_t n, int resamples, lmc_err *err);

#endif
