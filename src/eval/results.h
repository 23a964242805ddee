/* results.h — the results file (`lmc eval --json`), the one module that knows its format (docs/results.md lists
 * every field): writing it (lmc_results_write, lmc_tools.h), reading and checking it (lmc_results_load,
 * lmc_tools.h; lmc_results_parse here), and the pieces `lmc merge` needs (shard records, merged fields). What is
 * declared here works on the parsed JSON and stays private to the library.
 *
 * Each result object carries, after the totals and the output paths, the uncertainty of its BPC:
 *   "bpc_se": the clustered standard error (null with one document),
 *   "bpc_ci95": [lo, hi] the bootstrap interval (null with --bootstrap 0),
 *   "bootstrap": {"resamples": B, "seed": S, "unit": "document"},
 *   "doc_stats": {"nll": [...], "tokens": [...], "scored_tokens": [...], "chars": [...], "bytes": [...]}
 *     one entry per document in file order; nll exact (shortest round-trip decimal). */
#ifndef LMC_RESULTS_H
#define LMC_RESULTS_H

#include "lmc.h"
#include "lmc_tools.h"
#include "eval/stats.h"

#include <cjson/cJSON.h>

/* Prints root (then frees it) and writes it to path atomically, with a final newline (results, lmc kld). */
int lmc_json_write_atomic(const char *path, cJSON *root, lmc_err *err);

/* Adds bpc_se, bpc_ci95, bootstrap and doc_stats to `o` from r->doc_stats (which must be set). */
int lmc_results_add_stats(cJSON *o, const lmc_result *r, int resamples, lmc_err *err);

/* Reads a results file and checks its top level: JSON, an "lmc_version" of this lmc's major.minor, a
 * "schema_version" this lmc reads, a non-empty "results" array. *root: the parsed file (cJSON_Delete). */
int lmc_results_parse(const char *path, cJSON **root, lmc_err *err);

/* The "results" array of a parsed file. */
cJSON *lmc_results_entries(const cJSON *root);

/* A result's shard record (a part written by `lmc eval --shard I/N`), as `lmc merge` reads it. */
typedef struct lmc_shard_record {
    const char *data, *fingerprint; /* point into the parsed file */
    int         index, count;       /* shard I of N (1-based) */
    size_t      windows;            /* windows of the whole plan */
    size_t      n;                  /* windows this part computed */
    size_t     *k;                  /* (n) their indices, each < windows */
    double     *nll;                /* (n) their exact NLLs (finite) */
    double      seconds, forward_seconds, window_tokens_per_s, resumed_windows;
    /* The windows' NLLs split by document and the documents' facts, from which lmc merge rebuilds doc_stats;
     * parts == NULL in parts written before lmc recorded them. */
    size_t       *part_off, *part_n; /* (n) window k[i]'s parts are parts[part_off[i] ..+ part_n[i]) */
    lmc_doc_part *parts;             /* (n_parts) each doc < n_docs, nll finite */
    size_t        n_parts;
    lmc_doc_stat *docs;              /* (n_docs) doc_stats less nll (0), or NULL */
    size_t        n_docs;            /* the result's "docs" */
    int           bootstrap;         /* the part's --bootstrap resamples */
} lmc_shard_record;

/* Reads result's shard record; fails naming path when it has none (a complete result) or it is damaged. */
int  lmc_results_shard(const cJSON *result, const char *path, lmc_shard_record *out, lmc_err *err);
void lmc_shard_record_free(lmc_shard_record *s);

/* What the parts of one result add up to. */
typedef struct lmc_merged {
    double nll;                       /* the window NLLs summed in window order */
    double seconds, forward_seconds;  /* sums over the parts */
    double work;                      /* Σ forward_seconds · window_tokens_per_s */
    double resumed_windows;
    int    shards;                    /* N */
    lmc_doc_stat *doc_stats;          /* (docs) rebuilt from the parts, or NULL (parts of an older lmc) */
    int    bootstrap;                 /* the parts' --bootstrap resamples, with doc_stats */
} lmc_merged;

/* Rewrites a part's result object (keys in place) as the merged result: nll, nll_bits and the ratios from
 * m->nll, the times, "shard" dropped, the statistics (bpc_se, bpc_ci95, bootstrap, doc_stats) added when
 * m->doc_stats is set, and "merged_shards"; fills *res with what the table and the interval line print. res
 * takes over m->doc_stats (lmc_result_free), also on failure (out of memory, or doc_stats that hold no
 * characters). */
int lmc_results_set_merged(cJSON *result, const lmc_merged *m, lmc_result *res, lmc_err *err);

/* The top level's wall_seconds (NaN when absent), and setting it. */
double lmc_results_wall(const cJSON *root);
void   lmc_results_set_wall(cJSON *root, double wall);


#endif
