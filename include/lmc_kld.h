/* lmc_kld.h — public API of `lmc kld`: how far one model's next-token distributions are from another's (a base),
 * token by token, over the same windows and tokens as `lmc eval` (docs/kld.md).
 *
 * Both models are run in one process, exactly: for every scored target of every window (SPEC §3) the full
 * log-softmax of both models is compared in double precision. Per token: KL(A‖B) (llama-perplexity's "KLD", A the
 * base, B the model), KL(B‖A), Jensen–Shannon, Δp = p_B(target) − p_A(target), argmax agreement, top-5 overlap and
 * both NLLs. The summaries follow llama-perplexity --kl-divergence line by line (their ± are standard errors of a
 * mean over tokens taken as independent, as llama.cpp's are) and add what it lacks: per-byte / per-character
 * normalisations and ΔBPC with the paired interval clustered by document (the one `lmc compare` gives).
 * Conventions are lmc.h's: 0 / -1 with an lmc_err, nothing printed. */
#ifndef LMC_KLD_H
#define LMC_KLD_H

#include "lmc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a comparison stands, reported to lmc_kld_opts.progress. */
typedef struct lmc_kld_progress {
    const char *data;         /* the corpus path */
    size_t      done, total;  /* windows */
    double      elapsed, eta; /* seconds (eta NaN before the first window, 0 when final) */
    double      kld;          /* running mean KL(A‖B) in nats per token */
    int         final;
} lmc_kld_progress;
typedef void (*lmc_kld_progress_fn)(const lmc_kld_progress *p, void *user);

typedef struct lmc_kld_opts {
    int    block_size, stride; /* W, S as in lmc_eval_opts (defaults there: 1900, 512) */
    long   file_num;           /* -1: all records */
    int    skip_bad;           /* skip malformed corpus records instead of failing */
    int    threads;            /* 0: OpenMP default */
    int    bootstrap;          /* resamples for the ΔBPC and KLD-per-character intervals (0: none) */
    size_t memory_limit;       /* bytes the comparison may take besides the mmapped weights; 0: what is available */
    const char *save_base;     /* with model NULL: store the base's top_k log-probs of every scored token in this file
                                * (atomically) and compute no statistics (docs/kld.md: the file) */
    const char *base_file;     /* with base NULL: compare with the base stored in this file instead of running it;
                                * it must come from the same tokens and windows (checked) */
    int         top_k;         /* save_base: log-probs kept per token, 5..4096 (the CLI's default: 32) */
    const char *checkpoint;    /* NULL, or a file recording every finished window: a rerun of the same comparison
                                * resumes from it with a bit-identical result; another comparison's is refused */
    lmc_kld_progress_fn progress; /* NULL: none; else at most every progress_interval s, and at the end */
    void               *progress_user;
    double              progress_interval;
} lmc_kld_opts;

/* Percentile levels of lmc_kld_dist.pct, llama-perplexity's order. */
#define LMC_KLD_N_PCT 9
extern const double lmc_kld_pct_levels[LMC_KLD_N_PCT]; /* 99.9, 99, 95, 90, 50, 10, 5, 1, 0.1 */

/* One per-token quantity over the scored tokens. */
typedef struct lmc_kld_dist {
    double mean, se;               /* se: sd / sqrt(n − 1), tokens as independent draws (llama.cpp's ±) */
    double min, max;
    double pct[LMC_KLD_N_PCT];     /* at lmc_kld_pct_levels (numpy's linear interpolation) */
} lmc_kld_dist;

/* An estimate with its standard error and, for document-clustered ones, a 95% bootstrap interval. */
typedef struct lmc_kld_est {
    double est, se, lo, hi; /* lo, hi NaN when not computed */
} lmc_kld_est;

typedef struct lmc_kld_result {
    char   data[4096];
    size_t docs, chars, bytes, tokens, windows, scored_tokens;
    int    block_size, stride, vocab;
    size_t memory_bytes;     /* what the comparison held besides the mmapped weights (checked before it ran) */
    const char *mode;        /* "exact", "stored" (against a base file) or "save" (a base file written, no statistics) */
    int    top_k;            /* stored / save: log-probs per token in the base file; 0 in exact mode */
    size_t base_file_bytes;  /* stored / save: the base file's size */
    size_t resumed_windows;  /* windows read back from the checkpoint instead of computed */
    size_t torn_records;     /* torn last checkpoint records dropped at resume (0 or 1) */
    double seconds;
    /* perplexities over the scored tokens (llama-perplexity's first block); A = base, B = model */
    lmc_kld_est  ppl_base, ppl_model;
    double       cor_ln_ppl;     /* Pearson correlation of the per-token NLLs */
    lmc_kld_est  ln_ppl_ratio;   /* mean of nll_B − nll_A (paired) */
    lmc_kld_est  ppl_ratio;      /* exp(ln_ppl_ratio) */
    lmc_kld_est  ppl_diff;       /* PPL(B) − PPL(A) */
    /* per-token distributions, nats (dp: probability, 0..1) */
    lmc_kld_dist kld, kld_rev, jsd, dp;
    lmc_kld_est  rms_dp;         /* sqrt(mean Δp²) */
    lmc_kld_est  same_top;       /* share of tokens where both argmaxes agree */
    lmc_kld_est  top5_overlap;   /* mean |top5_A ∩ top5_B| / 5 */
    /* normalised by the text: Σ over tokens, in bits, per UTF-8 byte and per character */
    double       kld_bpb, kld_rev_bpb, jsd_bpb;
    lmc_kld_est  kld_bpc;        /* per character, with the document-clustered interval */
    double       kld_rev_bpc, jsd_bpc;
    double       bpc_base, bpc_model;
    lmc_kld_est  dbpc;           /* BPC(B) − BPC(A), paired over documents (se, 95% bootstrap interval) */
} lmc_kld_result;

/* Bytes the comparison of a W-token window needs besides the mmapped weights: both models' working memory, the
 * hidden states and logits blocks of both (either model may be NULL: a stored base), and 32 bytes per scored
 * token (scored_tokens 0: without those). A base file read or written adds its size. */
size_t lmc_kld_memory(const lmc_model *base, const lmc_model *model, int W, size_t scored_tokens);

/* Compares `model` (B) with `base` (A) on one corpus file. tok_base and tok_model must give the same token ids
 * for every document (refused, naming the first difference, otherwise); both models need the same vocabulary.
 * With opts->save_base, model and tok_model are NULL and only the base file is written; with opts->base_file,
 * base and tok_base are NULL and the base comes from that file. */
int lmc_kld_run(lmc_model *base, lmc_tokenizer *tok_base, lmc_model *model, lmc_tokenizer *tok_model,
                const char *data_path, const lmc_kld_opts *opts, lmc_kld_result *res, lmc_err *err);

/* llama-perplexity's statistics lines and lmc's additions as text (malloc'ed, the caller frees). */
char *lmc_kld_text(const lmc_kld_result *r);

/* Writes {"base", "model", "results": [...]} to path atomically (complete or absent). */
int lmc_kld_write_json(const char *path, const char *base_path, const char *model_path, const lmc_kld_result *r,
                       size_t n, lmc_err *err);

#ifdef __cplusplus
}
#endif
#endif
