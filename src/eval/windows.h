/* windows.h — the sliding windows of SPEC §3 as a pure function of (N, W, S, k).
 *
 * Window k covers tokens t[k·S .. k·S + W] (W + 1 tokens): inputs t[k·S .. k·S + W − 1] at positions
 * 0..W−1, targets the next W tokens. Window 0 scores all W targets; window k > 0 scores its last S targets.
 * K = ⌊(N − (W+1)) / S⌋ + 1, and scored tokens = W + (K − 1)·S. */
#ifndef LMC_WINDOWS_H
#define LMC_WINDOWS_H

#include "lmc.h"
#include <stddef.h>

typedef struct lmc_window {
    size_t start;       /* index of the first input token, k·S */
    int    score_from;  /* first scored target position within the window: 0 for k = 0, else W − S */
    int    score_count; /* W for k = 0, else S */
} lmc_window;

/* Number of windows K for N tokens; -1 with an error (suggesting a smaller --block-size) when N < W + 1,
 * or when W < 1, S < 1 or S > W (then scored ranges would leave gaps). */
int lmc_windows_count(size_t N, int W, int S, size_t *K, lmc_err *err);

/* Bounds of window k (0 ≤ k < K). */
lmc_window lmc_window_at(int W, int S, size_t k);

/* Σ score_count over all K windows. */
size_t lmc_windows_scored(int W, int S, size_t K);

/* Which of n workers (MPI ranks, or --shard processes) computes the j-th window of a list: j mod n. Every
 * window costs the same (W tokens), so dealing them out in turn balances the work by windows (counts differ by
 * at most one) whatever the documents are, and each worker's share is spread over the whole corpus, so rank 0's
 * running BPC is representative early. A pure function: every worker derives the same plan without talking. */
int lmc_window_owner(size_t j, int n);

#endif
