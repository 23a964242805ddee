/* results.h — result files (`lmc eval --json`) as the reports read them, and the uncertainty fields eval adds.
 *
 * Each result object of a results file carries, next to the fields main.c writes:
 *   "bpc_se": the clustered standard error (null with one document),
 *   "bpc_ci95": [lo, hi] the bootstrap interval (null with --bootstrap 0),
 *   "bootstrap": {"resamples": B, "seed": S, "unit": "document"},
 *   "doc_stats": {"nll": [...], "tokens": [...], "scored_tokens": [...], "chars": [...], "bytes": [...]}
 *     one entry per document in file order; nll exact (shortest round-trip decimal). Parallel arrays print as
 *     one line each, so the scalar fields above them stay readable. */
#ifndef LMC_RESULTS_H
#define LMC_RESULTS_H

#include "lmc.h"
#include "eval/stats.h"

#include <cjson/cJSON.h>

/* Adds bpc_se, bpc_ci95, bootstrap and doc_stats to `o` from r->doc_stats (which must be set). */
int lmc_results_add_stats(cJSON *o, const lmc_result *r, int resamples, lmc_err *err);

/* What a results file says about the run besides its per-file results. */
typedef struct lmc_results_meta {
    const lmc_model     *model;
    const lmc_tokenizer *tokenizer;
    const char          *model_sha256; /* lmc_model_sha256 of the model */
    int                  threads;      /* in use */
    double               wall_seconds; /* from opening the model to writing */
    int                  bootstrap;    /* resamples for each BPC's interval (0: none) */
} lmc_results_meta;

/* Prints root (then frees it) and writes it to path atomically, with a final newline. */
int lmc_json_write_atomic(const char *path, cJSON *root, lmc_err *err);

/* Writes the results file of an evaluation (atomically: complete or absent): r[i] evaluated with eo[i] (its
 * output paths and shard), i < n. */
int lmc_results_write(const char *path, const lmc_results_meta *meta, const lmc_result *r, const lmc_eval_opts *eo,
                      size_t n, lmc_err *err);

/* One corpus result read back. */
typedef struct lmc_corpus_result {
    char    corpus[256];      /* column name: the data file's name without directory and .jsonl/.gz/.txt */
    char    data[4096];       /* the data path as evaluated */
    char    data_sha256[65];
    long    file_num;
    int     block_size, stride;
    double  bpc, bpb, nll, zlib_bpc, tokens_per_s, seconds;
    size_t  docs, chars, bytes;
    double *y, *x;            /* (docs) bits (nll / ln 2) and characters per document: the stats' inputs */
    lmc_doc_stat *doc;        /* (docs) */
} lmc_corpus_result;

/* One results file (one model, one or more corpora). */
typedef struct lmc_results {
    char   path[4096];        /* the file read */
    char   model[256];        /* display name: the model path's last component */
    char   model_path[4096];
    char   architecture[128], weights_dtype[32], compute_dtype[32];
    double parameters, wall_seconds;
    lmc_corpus_result *r;     /* (n) */
    size_t n;
} lmc_results;

/* Reads and checks a results file: malformed JSON, another lmc version (major.minor), missing or mistyped
 * fields and per-document statistics that disagree with the totals each fail with one line naming the file. */
int  lmc_results_load(const char *path, lmc_results *out, lmc_err *err);
void lmc_results_free(lmc_results *rs);

/* The interval of one corpus result (BPC, clustered by document). */
int lmc_results_interval(const lmc_corpus_result *c, int resamples, uint64_t seed, lmc_interval *out, lmc_err *err);

#endif
