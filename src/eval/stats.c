/* stats.c — clustered standard errors and bootstrap intervals for BPC (see stats.h for the definitions). */
#include "eval/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t lmc_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ⌊r · n / 2⁶⁴⌋: an index in [0, n) without the bias of r % n that matters for large n */
static size_t draw_index(uint64_t *state, size_t n) {
    return (size_t)(((unsigned __int128)lmc_splitmix64(state) * n) >> 64);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double lmc_quantile_sorted(const double *v, size_t m, double p) {
    double h = (double)(m - 1) * p;
    size_t i = (size_t)floor(h);
    if (i + 1 >= m) return v[m - 1];
    return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

/* The shared core: ya (and yb when paired, else NULL) over x. */
static int interval(const double *ya, const double *yb, const double *x, size_t n, int resamples, uint64_t seed,
                    lmc_interval *out, lmc_err *err) {
    memset(out, 0, sizeof *out);
    out->resamples = resamples;
    out->seed = seed;
    out->n = n;
    if (n == 0) return lmc_fail(err, "no documents: an interval needs at least one");
    if (resamples < 0) return lmc_fail(err, "the number of bootstrap resamples must not be negative");
    double sa = 0, sb = 0, sx = 0;
    for (size_t d = 0; d < n; d++) {
        if (!isfinite(ya[d]) || (yb && !isfinite(yb[d])) || !(x[d] >= 0))
            return lmc_fail(err, "document %zu: a non-finite NLL or negative length", d);
        sa += ya[d];
        sb += yb ? yb[d] : 0;
        sx += x[d];
    }
    if (!(sx > 0)) return lmc_fail(err, "the documents hold no characters: a ratio is undefined");
    out->est = sa / sx - (yb ? sb / sx : 0);
    /* clustered SE: the linearised ratio's residual per document */
    if (n >= 2) {
        double ss = 0;
        for (size_t d = 0; d < n; d++) {
            double z = ya[d] - (yb ? yb[d] : 0) - out->est * x[d];
            ss += z * z;
        }
        out->se = sqrt((double)n / (double)(n - 1) * ss) / sx;
    } else {
        out->se = NAN;
    }
    out->lo = out->hi = NAN;
    if (resamples == 0) return 0;
    double *v = malloc(sizeof(double) * (size_t)resamples);
    if (!v) return lmc_fail(err, "out of memory for %d bootstrap resamples", resamples);
    uint64_t st = seed;
    for (int b = 0; b < resamples; b++) {
        double ra = 0, rb = 0, rx = 0;
        for (size_t j = 0; j < n; j++) {
            size_t d = draw_index(&st, n);
            ra += ya[d];
            if (yb) rb += yb[d];
            rx += x[d];
        }
        /* a resample of only empty documents has no ratio; it counts as the estimate (cannot happen with
         * non-empty documents, which lmc's corpora always are) */
        v[b] = rx > 0 ? ra / rx - (yb ? rb / rx : 0) : out->est;
    }
    qsort(v, (size_t)resamples, sizeof *v, cmp_double);
    out->lo = lmc_quantile_sorted(v, (size_t)resamples, 0.025);
    out->hi = lmc_quantile_sorted(v, (size_t)resamples, 0.975);
    free(v);
    return 0;
}

int lmc_stats_ratio(const double *y, const double *x, size_t n, int resamples, uint64_t seed, lmc_interval *out,
                    lmc_err *err) {
    return interval(y, NULL, x, n, resamples, seed, out, err);
}

int lmc_stats_paired(const double *ya, const double *yb, const double *x, size_t n, int resamples, uint64_t seed,
                     lmc_interval *out, lmc_err *err) {
    return interval(ya, yb, x, n, resamples, seed, out, err);
}
