/* windows.c — see windows.h. */
#include "eval/windows.h"

int lmc_windows_count(size_t N, int W, int S, size_t *K, lmc_err *err) {
    if (W < 1) return lmc_fail(err, "--block-size must be at least 1 (got %d)", W);
    if (S < 1) return lmc_fail(err, "--stride must be at least 1 (got %d)", S);
    if (S > W) return lmc_fail(err, "--stride %d exceeds --block-size %d: tokens between windows would never be scored", S, W);
    if (N < (size_t)W + 1)
        return lmc_fail(err, "corpus too short for --block-size %d: %zu tokens, a window needs %d; use a smaller "
                             "--block-size (at most %zu)", W, N, W + 1, N > 0 ? N - 1 : 0);
    *K = (N - ((size_t)W + 1)) / (size_t)S + 1;
    return 0;
}

lmc_window lmc_window_at(int W, int S, size_t k) {
    lmc_window w;
    w.start = k * (size_t)S;
    w.score_from = k == 0 ? 0 : W - S;
    w.score_count = k == 0 ? W : S;
    return w;
}

size_t lmc_windows_scored(int W, int S, size_t K) { return K ? (size_t)W + (K - 1) * (size_t)S : 0; }

int lmc_window_owner(size_t j, int n) { return n > 1 ? (int)(j % (size_t)n) : 0; }
