/* test_rmsnorm.c — RMSNorm (kernels/rmsnorm.c): the SIMD paths give the bits of a plain-C model of its fixed
 * summation order (8 double lanes, lane j summing the elements i ≡ j mod 8, lanes added pairwise), and the
 * result is within 2 ulp-ish (1e-6 relative) of a long-double reference. Rows whose length is not a multiple
 * of 8 (the tail) and in-place use are covered; the AVX2 path is reached with LMC_NO_AVX512=1. */
#include "cpu.h"
#include "kernels.h"
#include "test.h"

#include <stdint.h>

static uint64_t tr_rng = 0x9E3779B97F4A7C15ull;
static float    tr_unif(void) {
    tr_rng ^= tr_rng << 13;
    tr_rng ^= tr_rng >> 7;
    tr_rng ^= tr_rng << 17;
    return (float)((tr_rng >> 40) / 8388608.0 - 1.0);
}

/* the kernel's arithmetic, written out */
static void model_rmsnorm(float *out, const float *x, const float *w, int T, int dim, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * dim;
        double       l[8] = {0};
        for (int i = 0; i < dim; i++) l[i % 8] += (double)xr[i] * xr[i];
        const double ss = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
        const float  inv = (float)(1.0 / sqrt(ss / dim + (double)eps));
        for (int i = 0; i < dim; i++) out[(size_t)t * dim + i] = w[i] * (xr[i] * inv);
    }
}

static const int tr_dims[] = {1, 7, 8, 9, 64, 100, 2048, 2051};

static void check_paths(const char *path) {
    for (size_t di = 0; di < sizeof tr_dims / sizeof tr_dims[0]; di++) {
        const int T = 5, dim = tr_dims[di];
        float *x = malloc(sizeof(float) * T * dim), *w = malloc(sizeof(float) * dim);
        float *got = malloc(sizeof(float) * T * dim), *want = malloc(sizeof(float) * T * dim);
        for (int i = 0; i < T * dim; i++) x[i] = tr_unif() * 3;
        for (int i = 0; i < dim; i++) w[i] = 1 + tr_unif() * 0.5f;
        rmsnorm(got, x, w, T, dim, 1e-5f);
        model_rmsnorm(want, x, w, T, dim, 1e-5f);
        CHECK(memcmp(got, want, sizeof(float) * T * dim) == 0, "%s, dim %d: bits differ from the model", path, dim);
        double worst = 0;
        for (int t = 0; t < T; t++) {
            long double ss = 0;
            for (int i = 0; i < dim; i++) ss += (long double)x[t * dim + i] * x[t * dim + i];
            const long double inv = 1.0L / sqrtl(ss / dim + 1e-5L);
            for (int i = 0; i < dim; i++) {
                const long double ref = w[i] * (x[t * dim + i] * inv);
                const double      rel = (double)fabsl((got[t * dim + i] - ref) / (fabsl(ref) + 1e-30L));
                if (rel > worst) worst = rel;
            }
        }
        CHECK(worst < 1e-6, "%s, dim %d: relative error %.3g against long double", path, dim, worst);
        memcpy(got, x, sizeof(float) * T * dim); /* in place */
        rmsnorm(got, got, w, T, dim, 1e-5f);
        CHECK(memcmp(got, want, sizeof(float) * T * dim) == 0, "%s, dim %d: in-place result differs", path, dim);
        free(x), free(w), free(got), free(want);
    }
}

static void test_default_path(void) { check_paths(cpu_has_avx512f() ? "avx512" : cpu_has_avx2_fma() ? "avx2" : "c"); }

static void test_without_avx512(void) {
    const char *old = getenv("LMC_NO_AVX512");
    char        save[64] = "";
    if (old) snprintf(save, sizeof save, "%s", old);
    setenv("LMC_NO_AVX512", "1", 1);
    check_paths(cpu_has_avx2_fma() ? "avx2" : "c");
    if (old) setenv("LMC_NO_AVX512", save, 1);
    else unsetenv("LMC_NO_AVX512");
}

int main(void) {
    RUN(test_default_path);
    RUN(test_without_avx512);
    return test_summary();
}
