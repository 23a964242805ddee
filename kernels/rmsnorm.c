/* rmsnorm.c — RMSNorm (Llama family): y = x / sqrt(mean(x²) + eps) * w. */
#include "cpu.h"
#include "kernels.h"

#include <immintrin.h>
#include <math.h>

/* Σ x[i]² in double, in 8 lanes (lane j takes i ≡ j mod 8), the lanes then added in one fixed order. Each
 * square of a float is exact in double, so the AVX-512, AVX2 and plain-C versions below perform the same
 * additions and give the same bits; 8 independent sums instead of one chain run the loop at the adder's
 * throughput rather than its latency (the single chain cost ~4 cycles per element). */
static double lanes_total(const double l[8]) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

static double sumsq_c(const float *x, int n) {
    double l[8] = {0};
    for (int i = 0; i < n; i++) l[i % 8] += (double)x[i] * x[i];
    return lanes_total(l);
}

__attribute__((target("avx2"))) static double sumsq_avx2(const float *x, int n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int     i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256d x0 = _mm256_cvtps_pd(_mm_loadu_ps(x + i)), x1 = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(x0, x0));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(x1, x1));
    }
    double l[8];
    _mm256_storeu_pd(l, a0);
    _mm256_storeu_pd(l + 4, a1);
    for (; i < n; i++) l[i % 8] += (double)x[i] * x[i];
    return lanes_total(l);
}

__attribute__((target("avx512f"))) static double sumsq_avx512(const float *x, int n) {
    __m512d a = _mm512_setzero_pd();
    int     i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
        a = _mm512_add_pd(a, _mm512_mul_pd(v, v));
    }
    double l[8];
    _mm512_storeu_pd(l, a);
    for (; i < n; i++) l[i % 8] += (double)x[i] * x[i];
    return lanes_total(l);
}

/* out, x: (T, dim); w: (dim). The mean of squares is accumulated in double: it costs nothing and keeps the
 * result all but independent of the summation order; the order is fixed anyway (above). out may alias x. */
void rmsnorm(float *out, const float *x, const float *w, int T, int dim, float eps) {
    const int simd = cpu_has_avx512f() ? 2 : cpu_has_avx2_fma() ? 1 : 0;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * dim;
        float *o = out + (size_t)t * dim;
        const double ss = simd == 2 ? sumsq_avx512(xr, dim) : simd == 1 ? sumsq_avx2(xr, dim) : sumsq_c(xr, dim);
        float inv = (float)(1.0 / sqrt(ss / dim + (double)eps));
        for (int i = 0; i < dim; i++) o[i] = w[i] * (xr[i] * inv);
    }
}
