/* merge.h — `lmc merge`: the partial results of `lmc eval --shard I/N` combined into one run's result.
 *
 * A part is the results JSON of a shard run: every result carries "shard" {index, count, fingerprint, windows,
 * nll_bits} (the exact NLL of each of its windows). Merging checks that the parts share one fingerprint (model,
 * data, settings, executable, BLAS, CPU: checkpoint.h) and one shard count, that they hold every window exactly
 * once, then sums the window NLLs in window order: the same additions in the same order as a single run, so the
 * same double. */
#ifndef LMC_MERGE_H
#define LMC_MERGE_H

#include "lmc.h"

/* Reads the parts, checks them, and returns the merged results JSON (malloc'ed text, caller frees) and the
 * merged results (*res: n_res of them, malloc'ed; fields the table prints are filled). Errors name the part
 * and the problem: unreadable, not a shard result, another evaluation (the differing fields), another shard
 * count, a window in two parts, windows no part holds (naming the missing shards). */
int lmc_merge(const char *const *parts, size_t n_parts, char **json, lmc_result **res, size_t *n_res, lmc_err *err);

#endif
