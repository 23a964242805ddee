/* test_stats.c — the uncertainty of a BPC (src/eval/stats.c) against computations written out here independently:
 * the clustered SE by its formula (and by hand on a tiny case), the bootstrap interval with its own copy of
 * the published draw definition (splitmix64, index ⌊r·n/2⁶⁴⌋, numpy-default quantiles), determinism per seed,
 * the paired difference; and the least-squares line of the report's plots (src/report/svg.c). */
#include "eval/stats.h"
#include "report/svg.h"
#include "test.h"

#include <stdint.h>

/* ---- the reference implementation, written from the definition in stats.h ----------------------- */

static uint64_t ref_next(uint64_t *s) {
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int ref_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static double ref_quantile(const double *v, int m, double p) {
    double h = (m - 1) * p;
    int i = (int)h;
    return i + 1 < m ? v[i] + (h - i) * (v[i + 1] - v[i]) : v[m - 1];
}

/* yb may be NULL (one ratio) */
static void ref_interval(const double *ya, const double *yb, const double *x, int n, int B, uint64_t seed,
                         double *est, double *se, double *lo, double *hi) {
    double sa = 0, sb = 0, sx = 0;
    for (int d = 0; d < n; d++) { sa += ya[d]; sb += yb ? yb[d] : 0; sx += x[d]; }
    *est = sa / sx - sb / sx * (yb != NULL);
    double ss = 0;
    for (int d = 0; d < n; d++) {
        double r = ya[d] - (yb ? yb[d] : 0) - *est * x[d];
        ss += r * r;
    }
    *se = sqrt(ss * n / (n - 1)) / sx;
    double *v = malloc(sizeof(double) * B);
    uint64_t s = seed;
    for (int b = 0; b < B; b++) {
        double ra = 0, rb = 0, rx = 0;
        for (int j = 0; j < n; j++) {
            uint64_t r = ref_next(&s);
            int d = (int)(((unsigned __int128)r * (unsigned)n) >> 64);
            ra += ya[d];
            if (yb) rb += yb[d];
            rx += x[d];
        }
        v[b] = ra / rx - (yb ? rb / rx : 0);
    }
    qsort(v, B, sizeof *v, ref_cmp);
    *lo = ref_quantile(v, B, 0.025);
    *hi = ref_quantile(v, B, 0.975);
    free(v);
}

/* ---- tests ---------------------------------------------------------------------------------------- */

static void test_splitmix64_reference_values(void) {
    /* the first outputs of splitmix64 from state 0, as in Vigna's reference splitmix64.c */
    uint64_t s = 0;
    CHECK(lmc_splitmix64(&s) == 0xe220a8397b1dcdafull, "first output");
    CHECK(lmc_splitmix64(&s) == 0x6e789e6aa1b965f4ull, "second output");
    CHECK(lmc_splitmix64(&s) == 0x06c45d188009454full, "third output");
}

static void test_clustered_se_by_hand(void) {
    /* two documents of one character each, 1 and 3 bits: R = 2, residuals ∓1, SE = sqrt(2/1 · 2) / 2 = 1 */
    double y[] = {1, 3}, x[] = {1, 1};
    lmc_interval iv;
    lmc_err err;
    REQUIRE(!lmc_stats_ratio(y, x, 2, 0, 1, &iv, &err), "%s", err.msg);
    CHECK(iv.est == 2 && iv.se == 1, "est %g se %g, expected 2 and 1", iv.est, iv.se);
    CHECK(isnan(iv.lo) && isnan(iv.hi), "no resamples: no interval");
    /* one document: no SE; the bootstrap can only redraw it */
    REQUIRE(!lmc_stats_ratio(y, x, 1, 50, 1, &iv, &err), "%s", err.msg);
    CHECK(isnan(iv.se) && iv.lo == 1 && iv.hi == 1, "one document: se %g [%g, %g]", iv.se, iv.lo, iv.hi);
}

/* a small corpus: 7 documents of different lengths and difficulty */
static const double Y[] = {812.5, 3021.25, 95.0, 1510.75, 640.0, 2250.5, 33.25};
static const double X[] = {400, 1700, 60, 800, 280, 1100, 25};
static const double Y2[] = {790.0, 3100.0, 80.5, 1499.0, 655.25, 2201.0, 30.0};

static void test_interval_matches_direct_computation(void) {
    lmc_interval iv;
    lmc_err err;
    REQUIRE(!lmc_stats_ratio(Y, X, 7, 1000, 42, &iv, &err), "%s", err.msg);
    double est, se, lo, hi;
    ref_interval(Y, NULL, X, 7, 1000, 42, &est, &se, &lo, &hi);
    CHECK(fabs(iv.est - est) <= 1e-15 * est, "estimate %.17g vs %.17g", iv.est, est);
    CHECK(fabs(iv.se - se) <= 1e-12 * se, "SE %.17g vs %.17g", iv.se, se);
    /* same draws, same summation order: the same doubles */
    CHECK(iv.lo == lo && iv.hi == hi, "interval [%.17g, %.17g] vs [%.17g, %.17g]", iv.lo, iv.hi, lo, hi);
    CHECK(iv.lo < iv.est && iv.est < iv.hi, "[%g, %g] holds %g", iv.lo, iv.hi, iv.est);
    CHECK(iv.n == 7 && iv.resamples == 1000 && iv.seed == 42, "bookkeeping");
}

static void test_same_seed_same_interval(void) {
    lmc_interval a, b, c;
    lmc_err err;
    REQUIRE(!lmc_stats_ratio(Y, X, 7, 500, 7, &a, &err), "%s", err.msg);
    REQUIRE(!lmc_stats_ratio(Y, X, 7, 500, 7, &b, &err), "%s", err.msg);
    REQUIRE(!lmc_stats_ratio(Y, X, 7, 500, 8, &c, &err), "%s", err.msg);
    CHECK(a.lo == b.lo && a.hi == b.hi, "same seed: [%.17g, %.17g] vs [%.17g, %.17g]", a.lo, a.hi, b.lo, b.hi);
    CHECK(a.lo != c.lo || a.hi != c.hi, "another seed gave the very same interval");
}

static void test_bootstrap_agrees_with_se_on_many_documents(void) {
    /* 400 documents from a fixed generator: the bootstrap interval's half-width is about 1.96 SE */
    enum { N = 400 };
    double y[N], x[N];
    uint64_t s = 99;
    for (int d = 0; d < N; d++) {
        x[d] = 50 + (double)(ref_next(&s) % 2000);
        y[d] = x[d] * (1.5 + (double)(ref_next(&s) % 1000) / 1000.0);
    }
    lmc_interval iv;
    lmc_err err;
    REQUIRE(!lmc_stats_ratio(y, x, N, 2000, 1, &iv, &err), "%s", err.msg);
    double half = (iv.hi - iv.lo) / 2;
    CHECK(fabs(half / (1.96 * iv.se) - 1) < 0.15, "half-width %g vs 1.96·SE %g", half, 1.96 * iv.se);
}

static void test_paired_difference(void) {
    lmc_interval iv;
    lmc_err err;
    REQUIRE(!lmc_stats_paired(Y, Y2, X, 7, 1000, 3, &iv, &err), "%s", err.msg);
    double est, se, lo, hi;
    ref_interval(Y, Y2, X, 7, 1000, 3, &est, &se, &lo, &hi);
    CHECK(fabs(iv.est - est) <= 1e-12 * fabs(est), "difference %.17g vs %.17g", iv.est, est);
    CHECK(fabs(iv.se - se) <= 1e-12 * se, "SE %.17g vs %.17g", iv.se, se);
    CHECK(iv.lo == lo && iv.hi == hi, "interval [%.17g, %.17g] vs [%.17g, %.17g]", iv.lo, iv.hi, lo, hi);
    /* a model against itself: exactly zero, with no spread */
    REQUIRE(!lmc_stats_paired(Y, Y, X, 7, 200, 3, &iv, &err), "%s", err.msg);
    CHECK(iv.est == 0 && iv.se == 0 && iv.lo == 0 && iv.hi == 0, "self: %g ± %g [%g, %g]", iv.est, iv.se, iv.lo,
          iv.hi);
    /* pairing matters: B = A + a constant per character has a zero-width interval, though each BPC varies */
    double Yc[7];
    for (int d = 0; d < 7; d++) Yc[d] = Y[d] + 0.25 * X[d];
    REQUIRE(!lmc_stats_paired(Yc, Y, X, 7, 200, 3, &iv, &err), "%s", err.msg);
    CHECK(fabs(iv.est - 0.25) < 1e-12 && fabs(iv.lo - 0.25) < 1e-12 && fabs(iv.hi - 0.25) < 1e-12,
          "constant shift: %g [%g, %g]", iv.est, iv.lo, iv.hi);
}

static void test_bad_input(void) {
    lmc_interval iv;
    lmc_err err;
    double y[] = {1, NAN}, x[] = {1, 1}, z[] = {0, 0};
    CHECK(lmc_stats_ratio(y, x, 0, 10, 1, &iv, &err) == -1 && strstr(err.msg, "no documents"), "n = 0: %s", err.msg);
    CHECK(lmc_stats_ratio(y, x, 2, 10, 1, &iv, &err) == -1 && strstr(err.msg, "non-finite"), "NaN: %s", err.msg);
    CHECK(lmc_stats_ratio(x, z, 2, 10, 1, &iv, &err) == -1 && strstr(err.msg, "no characters"), "Σx = 0: %s", err.msg);
}

static void test_fit_line(void) {
    lmc_plot_point p[4] = {{1, 3, NAN, NAN, "a", 0}, {2, 5, NAN, NAN, "b", 0}, {3, 7, NAN, NAN, "c", 0}, {5, 11, NAN, NAN, "d", 0}};
    double a, b, r;
    REQUIRE(!lmc_fit_line(p, 4, &a, &b, &r), "fit failed");
    CHECK(fabs(a - 1) < 1e-12 && fabs(b - 2) < 1e-12 && fabs(r - 1) < 1e-12, "y = %g + %g x, r = %g", a, b, r);
    /* not on a line: by hand x̄ = 2.5, ȳ = 3.75; Sxx = 5, Sxy = −3.5, Syy = 2.75: b = −0.7, a = 5.5 */
    lmc_plot_point q[4] = {{1, 5, NAN, NAN, "a", 0}, {2, 4, NAN, NAN, "b", 0}, {3, 3, NAN, NAN, "c", 0}, {4, 3, NAN, NAN, "d", 0}};
    REQUIRE(!lmc_fit_line(q, 4, &a, &b, &r), "fit failed");
    CHECK(fabs(b + 0.7) < 1e-12 && fabs(a - 5.5) < 1e-12 && fabs(r + 3.5 / sqrt(5 * 2.75)) < 1e-12,
          "y = %g + %g x, r = %g", a, b, r);
    CHECK(lmc_fit_line(q, 1, &a, &b, &r) == -1, "one point has no line");
}

int main(void) {
    RUN(test_splitmix64_reference_values);
    RUN(test_clustered_se_by_hand);
    RUN(test_interval_matches_direct_computation);
    RUN(test_same_seed_same_interval);
    RUN(test_bootstrap_agrees_with_se_on_many_documents);
    RUN(test_paired_difference);
    RUN(test_bad_input);
    RUN(test_fit_line);
    return test_summary();
}
