/* lmc_paper.h — the paper's published leaderboard as reference rows for `lmc report --paper` (docs/report.md).
 *
 * The table ships as data/paper_leaderboard.tsv: '#' lines (the attribution: the source and the paper), then a
 * tab-separated header "model cc python arxiv_math average" and one row per model, BPC on the paper's three
 * corpora. These numbers are published, not measured by lmc, and comparable with a result only on the paper's
 * own corpora, which a report matches by subset name (cc, python, arxiv_math). */
#ifndef LMC_PAPER_H
#define LMC_PAPER_H

#include "lmc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LMC_PAPER_N_CORPORA 3
extern const char *const lmc_paper_corpora[LMC_PAPER_N_CORPORA]; /* "cc", "python", "arxiv_math" */

typedef struct lmc_paper {
    char     source[1024];   /* the file's '#' lines, joined by spaces (the attribution) */
    size_t   n;              /* models */
    char   (*model)[128];    /* (n) */
    double (*bpc)[LMC_PAPER_N_CORPORA]; /* (n) BPC on cc, python, arxiv_math */
    double  *average;        /* (n) the published average of the three */
} lmc_paper;

/* Reads and checks the table: the header, 5 fields a row, BPC in (0, 10), each average the mean of its row to the
 * table's rounding. Errors name the file and line. */
int  lmc_paper_load(const char *path, lmc_paper *out, lmc_err *err);
void lmc_paper_free(lmc_paper *p);

/* Which of the paper's corpora a subset name is (0..2), or -1: the names must match exactly. */
int lmc_paper_corpus(const char *subset);

#ifdef __cplusplus
}
#endif
#endif
