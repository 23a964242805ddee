/* kld_internal.h — what kld.c (the windows) and kld_stats.c (the summaries) share: one compared row, and the
 * running sums and per-token values the summaries are made from. */
#ifndef LMC_KLD_INTERNAL_H
#define LMC_KLD_INTERNAL_H

#include "lmc_kld.h"

#include <stddef.h>

/* One scored target, both models' distributions compared (nats; dp a probability). */
typedef struct lmc_kld_row {
    double nll_a, nll_b;      /* −log p_A(target), −log p_B(target) */
    double kld, kld_rev, jsd; /* KL(A‖B), KL(B‖A), Jensen–Shannon */
    double dp;                /* p_B(target) − p_A(target) */
    int    same_top;          /* argmax_A == argmax_B */
    int    top5;              /* |top5_A ∩ top5_B|, 0..5 */
} lmc_kld_row;

/* Compares the logits a and b (V each) of one position whose next token is target. */
void lmc_kld_compare_row(const float *a, const float *b, int V, int target, lmc_kld_row *out);

/* Per-token values kept for the percentiles (kld, kld_rev, jsd, dp: 4 doubles) and per-document sums. */
#define LMC_KLD_BYTES_PER_TOKEN 32

typedef struct lmc_kld_acc {
    size_t  n, cap;                      /* rows added, room */
    double *kld, *kld_rev, *jsd, *dp;    /* (cap) per token, in row order */
    double  na, na2, nb, nb2, nab;       /* Σ nll_A, Σ nll_A², Σ nll_B, Σ nll_B², Σ nll_A·nll_B */
    double  d, d2;                       /* Σ (nll_B − nll_A), Σ of its square */
    double  kld_sum, kld_rev_sum, jsd_sum, dp2, dp4; /* Σ KL(A‖B), Σ KL(B‖A), Σ JSD, Σ Δp², Σ Δp⁴ */
    double  same, top5, top5_2;          /* Σ same_top, Σ top5/5, Σ (top5/5)² */
    size_t  n_docs;
    double *doc_na, *doc_nb, *doc_kld;   /* (n_docs) Σ nll_A, Σ nll_B, Σ KL(A‖B) of the targets in each document */
} lmc_kld_acc;

int  lmc_kld_acc_init(lmc_kld_acc *a, size_t tokens, size_t n_docs);
void lmc_kld_acc_add(lmc_kld_acc *a, const lmc_kld_row *row, size_t doc);
void lmc_kld_acc_free(lmc_kld_acc *a);

/* The result's statistics from the sums (sorts the per-token arrays in place). c: the documents' lengths. */
int lmc_kld_summarise(lmc_kld_acc *a, const lmc_corpus *c, int bootstrap, lmc_kld_result *r, lmc_err *err);

#endif
