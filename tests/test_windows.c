/* test_windows.c — the window arithmetic of SPEC §3. */
#include "test.h"
#include "eval/windows.h"

static void test_too_short_is_error(void) {
    size_t K = 99;
    lmc_err e = {{0}};
    CHECK(lmc_windows_count(1900, 1900, 512, &K, &e) == -1, "N = W must fail");
    CHECK(strstr(e.msg, "--block-size") != NULL, "message should suggest a smaller --block-size: %s", e.msg);
    CHECK(lmc_windows_count(0, 4, 2, &K, &e) == -1, "N = 0 must fail");
}

static void test_exactly_one_window(void) {
    size_t K = 0;
    lmc_err e;
    REQUIRE(lmc_windows_count(1901, 1900, 512, &K, &e) == 0, "%s", e.msg);
    CHECK(K == 1, "N = W+1 gives one window, got %zu", K);
    CHECK(lmc_windows_scored(1900, 512, K) == 1900, "window 0 scores all W targets");
    lmc_window w = lmc_window_at(1900, 512, 0);
    CHECK(w.start == 0 && w.score_from == 0 && w.score_count == 1900, "window 0 bounds");
}

static void test_tails(void) {
    size_t K;
    lmc_err e;
    /* one token short of a second window: the tail is not scored */
    REQUIRE(lmc_windows_count(1901 + 511, 1900, 512, &K, &e) == 0, "%s", e.msg);
    CHECK(K == 1, "N = W+S gives 1 window, got %zu", K);
    REQUIRE(lmc_windows_count(1901 + 512, 1900, 512, &K, &e) == 0, "%s", e.msg);
    CHECK(K == 2, "N = W+1+S gives 2 windows, got %zu", K);
    /* the fixture case: TinyStories cc fn10, N = 165955, K = 321, scored = 165740 */
    REQUIRE(lmc_windows_count(165955, 1900, 512, &K, &e) == 0, "%s", e.msg);
    CHECK(K == 321 && lmc_windows_scored(1900, 512, K) == 165740, "K %zu scored %zu", K,
          lmc_windows_scored(1900, 512, K));
}

/* Scored targets of all windows tile t[1 .. scored] exactly: no overlap, no gap. */
static void test_scored_ranges_tile(void) {
    int cases[][3] = {{8, 3, 50}, {8, 8, 50}, {8, 1, 20}, {1900, 512, 20000}, {255, 64, 3000}, {5, 2, 6}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int W = cases[c][0], S = cases[c][1];
        size_t N = (size_t)cases[c][2], K;
        lmc_err e;
        REQUIRE(lmc_windows_count(N, W, S, &K, &e) == 0, "%s", e.msg);
        size_t next = 1; /* next target index expected to be scored */
        for (size_t k = 0; k < K; k++) {
            lmc_window w = lmc_window_at(W, S, k);
            size_t first = w.start + (size_t)w.score_from + 1, last = first + (size_t)w.score_count - 1;
            CHECK(first == next, "W=%d S=%d k=%zu: scored range starts at %zu, expected %zu", W, S, k, first, next);
            CHECK(w.start + (size_t)W < N, "window %zu reads past the stream", k);
            CHECK(last == w.start + (size_t)W, "window scores up to its last target");
            next = last + 1;
        }
        CHECK(next - 1 == lmc_windows_scored(W, S, K), "scored count");
        CHECK(N - next < (size_t)S, "tail shorter than a stride");
    }
}

static void test_bad_parameters(void) {
    size_t K;
    lmc_err e;
    CHECK(lmc_windows_count(100, 0, 1, &K, &e) == -1, "W = 0");
    CHECK(lmc_windows_count(100, 8, 0, &K, &e) == -1, "S = 0");
    CHECK(lmc_windows_count(100, 8, 9, &K, &e) == -1, "S > W leaves gaps");
}

/* The work plan: every window of a list goes to exactly one of n workers, counts differ by at most one. */
static void test_owner_balanced(void) {
    for (int n = 1; n <= 7; n++)
        for (size_t count = 0; count < 40; count++) {
            size_t per[8] = {0};
            for (size_t j = 0; j < count; j++) {
                int o = lmc_window_owner(j, n);
                REQUIRE(o >= 0 && o < n, "owner %d of window %zu out of range for n = %d", o, j, n);
                per[o]++;
            }
            size_t lo = count, hi = 0;
            for (int i = 0; i < n; i++) {
                lo = per[i] < lo ? per[i] : lo;
                hi = per[i] > hi ? per[i] : hi;
            }
            CHECK(hi - lo <= 1 || count == 0, "n = %d, %zu windows: shares from %zu to %zu", n, count, lo, hi);
        }
    CHECK(lmc_window_owner(12345, 1) == 0 && lmc_window_owner(12345, 0) == 0, "one worker owns everything");
}

int main(void) {
    RUN(test_too_short_is_error);
    RUN(test_exactly_one_window);
    RUN(test_tails);
    RUN(test_scored_ranges_tile);
    RUN(test_bad_parameters);
    RUN(test_owner_balanced);
    return test_summary();
}
