/* kld_internal.h — what kld.c (the windows) and kld_stats.c (the summaries) share: one compared row, and the
 * running sums and per-token values the summaries are made from. */
#ifndef LMC_KLD_INTERNAL_H
#define LMC_KLD_INTERNAL_H

#include "lmc_kld.h"
#include "common/util.h"

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

/* The k ≤ 5 largest entries of x (V), largest first (ties: the lower index first); returns k. */
int lmc_kld_top5(const float *x, int V, int idx[5]);

/* Adds one outcome with log-probabilities la (base) and lb (model) to KL(A‖B), KL(B‖A) and JSD; the logs are used
 * as given, so a probability that underflows to 0 still has a finite log, and equal ones add exactly 0. */
void lmc_kld_add_outcome(double la, double lb, double *kl, double *klr, double *js);

/* ---- the stored base (kld_base.c: the file's layout and what the comparison with it approximates) ---- */

typedef struct lmc_kld_base {
    char                *data;          /* the whole file */
    int                  top_k, vocab, block_size, stride;
    size_t               tokens, scored_tokens;
    char                 tokens_sha256[65];
    const unsigned char *records;       /* (scored_tokens) records of record_bytes each */
    size_t               record_bytes;
} lmc_kld_base;

size_t lmc_kld_base_record_bytes(int top_k);
/* Row a (V logits) of the base whose next token is target, as a record of K entries (rec: record_bytes). */
void lmc_kld_base_encode(const float *a, int V, int target, int K, unsigned char *rec);
/* Appends the header. */
void lmc_kld_base_header(lmc_buf *b, int K, int V, int W, int S, size_t tokens, size_t scored, const char *sha);
int  lmc_kld_base_load(const char *path, lmc_kld_base *kb, lmc_err *err);
void lmc_kld_base_free(lmc_kld_base *kb);
/* Compares the model's logits b with a stored base record (the coarsened divergences: kld_base.c). */
void lmc_kld_compare_stored(const unsigned char *rec, int K, const float *b, int V, int target, lmc_kld_row *out);

/* ---- checkpoints (kld_ckpt.c: the file and its durability) ---- */

typedef struct lmc_kld_ckpt lmc_kld_ckpt;
/* Opens or creates the checkpoint at path for a run of K windows fingerprinted by fp (text lines "key value");
 * refuses another fingerprint (naming the keys that differ), a damaged file, or one in use. */
int lmc_kld_ckpt_open(const char *path, const char *fp, size_t K, lmc_kld_ckpt **out, lmc_err *err);
size_t lmc_kld_ckpt_done(const lmc_kld_ckpt *c); /* windows recorded */
size_t lmc_kld_ckpt_torn(const lmc_kld_ckpt *c); /* torn last records dropped at open (0 or 1) */
/* Window k's payload as recorded (valid until close), or NULL. */
const void *lmc_kld_ckpt_get(const lmc_kld_ckpt *c, size_t k, size_t *bytes);
int lmc_kld_ckpt_append(lmc_kld_ckpt *c, size_t k, const void *payload, size_t bytes, lmc_err *err);
int lmc_kld_ckpt_close(lmc_kld_ckpt *c, lmc_err *err); /* c may be NULL; err may be NULL */

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
