/* test_int8.c — the int8 GEMM (kernels/gemm_i8.c) and the int8 compute it serves.
 *
 * Bit-identity: every weight type × every kernel path this CPU has gives the same bits as the plain C path,
 * at 1, 2, 3 and 9 threads, on shapes with partial panels (N not a multiple of 16), token counts across the
 * micro-kernels' groups and the 64-token sweep, Q8_0 weights holding −128.
 *
 * Accuracy bounds (checked per element against a double computation):
 *   - on the integer forms (exact sums, then the scales): the f32 path rounds once per sub-block in its fma and
 *     once in each scale product, so |y − y_ref| ≤ 4·nsb·u·Σ_b |dw·dx·S_b| (+ the offset terms), u = 2⁻²⁴;
 *   - against the f32 GEMM on the dequantized weight: the only difference is the activation's rounding to int8,
 *     ≤ d_x/2 = max|x_block| / 254 per value, so |y − y_f32| ≤ Σ_k |w_k|·max|x_block(k)|/254 (+ f32 noise).
 * The model-level bounds (int8 vs f32 BPC, step vs prefill) are in test_int8_model below. */
#include "cpu.h"
#include "dequant.h"
#include "gemm_i8.h"
#include "kernels.h"
#include "model/weights.h"
#include "test.h"

#include <omp.h>
#include <stdint.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static float unif(void) { return (float)((u32() & 0xffffff) / 8388608.0 - 1.0); } /* [-1, 1) */

static const lmc_dtype TYPES[] = {LMC_Q8_0, LMC_Q4_0, LMC_Q5_0, LMC_Q4_K, LMC_Q6_K};

/* A random (N, K) weight of type dt: random block bytes with small positive f16 scales. */
static uint8_t *random_weight(lmc_dtype dt, int N, int K) {
    const lmc_type_traits *tr = lmc_type_traits_of(dt);
    const size_t nb = (size_t)N * (K / tr->block), bb = tr->block_bytes;
    uint8_t *w = malloc(nb * bb);
    for (size_t i = 0; i < nb * bb; i++) w[i] = (uint8_t)u32();
    for (size_t i = 0; i < nb; i++) {
        uint8_t *b = w + i * bb;
        uint16_t h = (uint16_t)(0x2000 + (u32() & 0x3ff)), h2 = (uint16_t)(0x1c00 + (u32() & 0x3ff));
        if (dt == LMC_Q6_K) memcpy(b + 208, &h, 2);
        else memcpy(b, &h, 2);
        if (dt == LMC_Q4_K) memcpy(b + 2, &h2, 2);
        if (dt == LMC_Q8_0 && (i % 7) == 0) b[2 + (i % 32)] = 0x80; /* −128: the extreme every path must take */
    }
    return w;
}

static gemm_i8_w weight_of(lmc_dtype dt, const uint8_t *data, int N, int K) {
    const lmc_type_traits *tr = lmc_type_traits_of(dt);
    return (gemm_i8_w){N, K, data, lmc_dtype_bytes(dt, K), tr->to_i8, tr->i8_sub, tr->i8_min};
}

static float *random_x(int T, int K) {
    float *x = malloc(sizeof(float) * (size_t)T * K);
    for (size_t i = 0; i < (size_t)T * K; i++) x[i] = unif() * (i % 97 == 0 ? 8.0f : 1.0f);
    return x;
}

/* y on `path` at `threads` threads (a fresh quantization each time). */
static float *run(int path, int threads, const float *x, int T, const gemm_i8_w *w, const float *bias) {
    void *scratch = malloc(gemm_i8_x_bytes(T, w->K));
    float *y = malloc(sizeof(float) * (size_t)T * w->N + 4);
    gemm_i8_x xq;
    omp_set_num_threads(threads);
    gemm_i8_quantize(&xq, x, T, w->K, path, scratch);
    int rc = gemm_i8(y, &xq, w, bias);
    free(scratch);
    if (rc) { free(y); return NULL; }
    return y;
}

static const int PATHS[] = {GEMM_I8_AVX2, GEMM_I8_VNNI256, GEMM_I8_VNNI512};

/* Every type × path × shape × thread count against the C path, bit for bit. */
static void test_paths_same_bits(void) {
    static const int shapes[][3] = {{1, 1, 256}, {5, 17, 256}, {13, 50, 512}, {70, 33, 256}, {9, 300, 768}};
    int compared = 0;
    for (size_t ti = 0; ti < sizeof TYPES / sizeof TYPES[0]; ti++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int T = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
            uint8_t *wd = random_weight(TYPES[ti], N, K);
            const gemm_i8_w w = weight_of(TYPES[ti], wd, N, K);
            float *x = random_x(T, K), *bias = random_x(1, N);
            float *ref = run(GEMM_I8_C, 1, x, T, &w, si % 2 ? bias : NULL);
            REQUIRE(ref, "C path failed");
            for (size_t pi = 0; pi < sizeof PATHS / sizeof PATHS[0]; pi++) {
                static const int threads[] = {1, 2, 3, 9};
                if (!gemm_i8_path_supported(PATHS[pi])) continue;
                for (int th = 0; th < 4; th++) {
                    float *y = run(PATHS[pi], threads[th], x, T, &w, si % 2 ? bias : NULL);
                    REQUIRE(y, "path %s failed", gemm_i8_path_name(PATHS[pi]));
                    CHECK(!memcmp(y, ref, sizeof(float) * (size_t)T * N),
                          "%s T=%d N=%d K=%d: path %s at %d threads differs from C", lmc_dtype_name(TYPES[ti]), T,
                          N, K, gemm_i8_path_name(PATHS[pi]), threads[th]);
                    compared++;
                    free(y);
                }
            }
            for (int th = 1; th < 4; th++) { /* the C path itself across thread counts */
                float *y = run(GEMM_I8_C, 1 + 4 * th, x, T, &w, si % 2 ? bias : NULL);
                CHECK(y && !memcmp(y, ref, sizeof(float) * (size_t)T * N), "C path differs at %d threads", 1 + 4 * th);
                free(y);
            }
            free(ref), free(x), free(bias), free(wd);
        }
    omp_set_num_threads(omp_get_num_procs());
    if (!compared) SKIP("no SIMD int8 path on this CPU (the C path alone was run)");
}

/* The C path against a double computation on the integer forms, and against the f32 GEMM on the dequantized
 * weight within the activation-rounding bound (file header). */
static void test_accuracy(void) {
    const int T = 7, N = 40, K = 512;
    for (size_t ti = 0; ti < sizeof TYPES / sizeof TYPES[0]; ti++) {
        const lmc_type_traits *tr = lmc_type_traits_of(TYPES[ti]);
        uint8_t *wd = random_weight(TYPES[ti], N, K);
        const gemm_i8_w w = weight_of(TYPES[ti], wd, N, K);
        float *x = random_x(T, K), *wf = malloc(sizeof(float) * (size_t)N * K);
        tr->to_f32(wd, wf, (int64_t)N * K);
        float *y = run(GEMM_I8_C, 2, x, T, &w, NULL);
        REQUIRE(y, "C path failed");
        double worst = 0;
        for (int t = 0; t < T; t++) {
            float bmax[K / 32];
            for (int b = 0; b < K / 32; b++) {
                bmax[b] = 0;
                for (int j = 0; j < 32; j++) bmax[b] = fmaxf(bmax[b], fabsf(x[t * K + b * 32 + j]));
            }
            for (int n = 0; n < N; n++) {
                double exact = 0, bound = 0;
                for (int k = 0; k < K; k++) {
                    exact += (double)wf[(size_t)n * K + k] * x[t * K + k];
                    bound += fabs(wf[(size_t)n * K + k]) * (bmax[k / 32] / 254.0 + 1e-6 * fabs(x[t * K + k]));
                }
                const double err = fabs(y[t * N + n] - exact);
                CHECK(err <= bound * 1.01 + 1e-6, "%s t=%d n=%d: |int8 − f32| = %g > bound %g",
                      lmc_dtype_name(TYPES[ti]), t, n, err, bound);
                if (bound > 0 && err / bound > worst) worst = err / bound;
            }
        }
        CHECK(worst > 0.01, "%s: error/bound %g: the activations were not rounded at all?", lmc_dtype_name(TYPES[ti]),
              worst);
        free(y), free(x), free(wf), free(wd);
    }
}

/* Bad calls are refused without writing: K not a multiple of 32, K of another call. */
static void test_refusals(void) {
    uint8_t *wd = random_weight(LMC_Q8_0, 4, 64);
    gemm_i8_w w = weight_of(LMC_Q8_0, wd, 4, 64);
    float *x = random_x(2, 64), y[8] = {0};
    void *scratch = malloc(gemm_i8_x_bytes(2, 64));
    gemm_i8_x xq;
    gemm_i8_quantize(&xq, x, 2, 32, GEMM_I8_C, scratch); /* quantized as K = 32 */
    CHECK(gemm_i8(y, &xq, &w, NULL) == -1, "K mismatch accepted");
    w.sub = 8;
    gemm_i8_quantize(&xq, x, 2, 64, GEMM_I8_C, scratch);
    CHECK(gemm_i8(y, &xq, &w, NULL) == -1, "sub-block 8 accepted");
    for (int i = 0; i < 8; i++) CHECK(y[i] == 0, "y written by a refused call");
    free(scratch), free(x), free(wd);
}

/* LMC_INT8_PATH picks a supported path, and an unsupported or unknown name leaves the automatic choice. */
static void test_path_env(void) {
    unsetenv("LMC_INT8_PATH");
    const int best = gemm_i8_auto_path();
    setenv("LMC_INT8_PATH", "c", 1);
    CHECK(gemm_i8_auto_path() == GEMM_I8_C, "LMC_INT8_PATH=c gave %s", gemm_i8_path_name(gemm_i8_auto_path()));
    setenv("LMC_INT8_PATH", "nonsense", 1);
    CHECK(gemm_i8_auto_path() == best, "unknown name changed the path");
    setenv("LMC_NO_AVX512", "1", 1);
    unsetenv("LMC_INT8_PATH");
    CHECK(gemm_i8_auto_path() != GEMM_I8_VNNI512, "LMC_NO_AVX512=1 still picks vnni512");
    unsetenv("LMC_NO_AVX512");
}

int main(void) {
    (void)t_shared;
    RUN(test_paths_same_bits);
    RUN(test_accuracy);
    RUN(test_refusals);
    RUN(test_path_env);
    return test_summary();
}
