/* merge.h — `lmc merge`: the partial results of `lmc eval --shard I/N` combined into one run's result.
 *
 * A part is the results JSON of a shard run: every result carries "shard" {index, count, fingerprint, windows,
 * nll_bits} (the exact NLL of each of its windows). Merging checks that the parts share one fingerprint (model,
 * data, settings, executable, BLAS, CPU: checkpoint.h) and one shard count, that they hold every window exactly
 * once, then sums the window NLLs in window order: the same additions in the same order as a single run, so the
 * same double. Each window also carries its NLL split by document (part_docs, part_nll_bits) and each part the
 * documents' facts: the per-document NLLs are rebuilt window by window in window order, as a single run adds
 * them, and with them the single run's doc_stats, bpc_se and bpc_ci95, documents split across shards included. */
#ifndef LMC_MERGE_H
#define LMC_MERGE_H

#include "lmc.h"
#include "lmc_tools.h" /* lmc_merge */

#endif
