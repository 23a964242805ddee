/* test_attention_bf16.c — the bf16 attention kernel (kernels/attention_bf16.c).
 *
 * The kernel and the GEMM micro-kernel it is built on are included a second time with GEMM_BF16_EMU, which
 * runs them on a plain-C model of vdpbf16ps (emu_ prefix), so they are tested on any CPU:
 *   - against exact attention (double) on the bf16-rounded Q, K, V. The kernel also rounds the probabilities
 *     to bf16 (relative error ≤ 2⁻⁹ each), so an output may differ by at most 2⁻⁹·max|v| plus f32 sums; the
 *     bound used is 2⁻⁸·max|v|. A wrong index or a lost block gives errors of order max|v|;
 *   - bit-identical for 1, 2 and 3 threads;
 *   - where the CPU has AVX512_BF16: the hardware result bit-identical to the model's.
 * Shapes cover one token, ragged query groups and key blocks, GQA, qk_dim ≠ v_dim and an odd head size. */
#include "cpu.h"
#include "gemm_bf16.h"
#include "kernels.h"
#include "test.h"

#include <omp.h>
#include <stdint.h>

#define GEMM_BF16_EMU 1
#include "gemm_bf16.c"
#include "attention_bf16.c"

static uint64_t ta_rng = 0x243F6A8885A308D3ull;
static float    ta_unif(void) {
    ta_rng ^= ta_rng << 13;
    ta_rng ^= ta_rng >> 7;
    ta_rng ^= ta_rng << 17;
    return (float)((ta_rng >> 40) / 8388608.0 - 1.0);
}
static double ta_round(float f) { return gb_f32_of_bf16(gb_bf16_of_f32(f)); }

typedef struct ta_case {
    int    T, H, KV, D, Dv;
    float *q, *k, *v; /* (T, H·D), (T, KV·D), (T, KV·Dv), contiguous rows */
} ta_case;

static void ta_make(ta_case *c, int T, int H, int KV, int D, int Dv) {
    *c = (ta_case){T, H, KV, D, Dv, malloc(sizeof(float) * T * H * D), malloc(sizeof(float) * T * KV * D),
                   malloc(sizeof(float) * T * KV * Dv)};
    for (int i = 0; i < T * H * D; i++) c->q[i] = ta_unif() * 2;
    for (int i = 0; i < T * KV * D; i++) c->k[i] = ta_unif() * 2;
    for (int i = 0; i < T * KV * Dv; i++) c->v[i] = ta_unif();
}
static void ta_free(ta_case *c) { free(c->q), free(c->k), free(c->v); }

typedef int (*ta_fn)(float *, const float *, const float *, const float *, int, const attn_shape *, void *, int);

static int ta_run(const ta_case *c, ta_fn fn, int threads, float *out) {
    const attn_shape sh = {c->H, c->KV, c->D, c->Dv, c->H * c->D, c->KV * c->D, c->KV * c->Dv,
                           1.0f / sqrtf((float)c->D)};
    void *s = malloc(attention_bf16_scratch_bytes(c->T, &sh, threads));
    int   rc = fn(out, c->q, c->k, c->v, c->T, &sh, s, threads);
    free(s);
    return rc;
}

/* Largest |out − exact| / max|v| over the output, exact = softmax attention in double on rounded Q, K, V. */
static double ta_error(const ta_case *c, const float *out) {
    const float sc = 1.0f / sqrtf((float)c->D);
    double      worst = 0, vmax = 0;
    for (int i = 0; i < c->T * c->KV * c->Dv; i++) vmax = fmax(vmax, fabs(ta_round(c->v[i])));
    double *p = malloc(sizeof(double) * c->T), *o = malloc(sizeof(double) * c->Dv);
    for (int h = 0; h < c->H; h++) {
        const int g = h / (c->H / c->KV);
        for (int t = 0; t < c->T; t++) {
            double mx = -INFINITY, l = 0;
            for (int s = 0; s <= t; s++) {
                double d = 0;
                for (int i = 0; i < c->D; i++)
                    d += ta_round(c->q[(size_t)t * c->H * c->D + h * c->D + i]) *
                         ta_round(c->k[(size_t)s * c->KV * c->D + g * c->D + i]);
                p[s] = d * sc;
                mx = fmax(mx, p[s]);
            }
            for (int s = 0; s <= t; s++) l += (p[s] = exp(p[s] - mx));
            for (int d = 0; d < c->Dv; d++) o[d] = 0;
            for (int s = 0; s <= t; s++)
                for (int d = 0; d < c->Dv; d++) o[d] += p[s] * ta_round(c->v[(size_t)s * c->KV * c->Dv + g * c->Dv + d]);
            for (int d = 0; d < c->Dv; d++)
                worst = fmax(worst, fabs(o[d] / l - out[((size_t)t * c->H + h) * c->Dv + d]) / vmax);
        }
    }
    free(p), free(o);
    return worst;
}

static size_t ta_bitdiff(const float *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(a + i, b + i, 4) != 0;
    return d;
}

static const int ta_shapes[][5] = {
    /* T, heads, kv heads, qk_dim, v_dim */
    {1, 2, 1, 64, 64}, {13, 4, 2, 64, 64}, {49, 2, 2, 32, 32}, {300, 4, 1, 64, 64},
    {530, 2, 1, 40, 24}, {97, 3, 3, 96, 64}, {61, 2, 1, 18, 50},
};

static void test_emulated_vs_exact(void) {
    for (size_t si = 0; si < sizeof ta_shapes / sizeof ta_shapes[0]; si++) {
        const int *sh = ta_shapes[si];
        ta_case    c;
        ta_make(&c, sh[0], sh[1], sh[2], sh[3], sh[4]);
        const size_t n = (size_t)c.T * c.H * c.Dv;
        float       *o1 = malloc(4 * n), *o2 = malloc(4 * n);
        REQUIRE(ta_run(&c, emu_attention_causal_bf16, 1, o1) == 0, "emulated kernel refused");
        const double err = ta_error(&c, o1);
        CHECK(err <= 1.0 / 256, "T=%d H=%d KV=%d D=%d Dv=%d: error %.3g of max|v| (bound 2^-8)", c.T, c.H, c.KV,
              c.D, c.Dv, err);
        for (int th = 2; th <= 3; th++) {
            memset(o2, 0xff, 4 * n);
            ta_run(&c, emu_attention_causal_bf16, th, o2);
            CHECK(ta_bitdiff(o1, o2, n) == 0, "T=%d: %d threads differ from 1", c.T, th);
        }
        if (si == 3) printf("  emulated, T=300 GQA 4:1: error %.2e of max|v|\n", err);
        free(o1), free(o2);
        ta_free(&c);
    }
}

static void test_hardware_vs_emulated(void) {
    if (!cpu_has_avx512bf16()) SKIP("no AVX512_BF16 on this CPU (the emulated kernel is tested above)");
    size_t total = 0, differ = 0;
    for (size_t si = 0; si < sizeof ta_shapes / sizeof ta_shapes[0]; si++) {
        const int *sh = ta_shapes[si];
        ta_case    c;
        ta_make(&c, sh[0], sh[1], sh[2], sh[3], sh[4]);
        const size_t n = (size_t)c.T * c.H * c.Dv;
        float       *o1 = malloc(4 * n), *o2 = malloc(4 * n);
        REQUIRE(ta_run(&c, emu_attention_causal_bf16, 1, o1) == 0, "emulated kernel refused");
        REQUIRE(ta_run(&c, attention_causal_bf16, 2, o2) == 0, "hardware kernel refused");
        differ += ta_bitdiff(o1, o2, n);
        total += n;
        CHECK(ta_error(&c, o2) <= 1.0 / 256, "hardware T=%d beyond the error bound", c.T);
        free(o1), free(o2);
        ta_free(&c);
    }
    printf("  hardware: %zu of %zu outputs not bit-identical to the emulated kernel\n", differ, total);
    CHECK(differ == 0, "%zu of %zu outputs differ from the model of vdpbf16ps", differ, total);
}

static void test_refused_without_avx512(void) {
    setenv("LMC_NO_AVX512", "1", 1);
    ta_case c;
    ta_make(&c, 5, 1, 1, 8, 8);
    float out[40];
    for (int i = 0; i < 40; i++) out[i] = 7.0f;
    const int rc = ta_run(&c, attention_causal_bf16, 1, out);
    unsetenv("LMC_NO_AVX512");
    CHECK(rc == -1, "LMC_NO_AVX512=1: the AVX512_BF16 kernel ran (rc %d)", rc);
    CHECK(out[0] == 7.0f && out[39] == 7.0f, "output written although the kernel refused");
    ta_free(&c);
}

int main(void) {
    RUN(test_emulated_vs_exact);
    RUN(test_hardware_vs_emulated);
    RUN(test_refused_without_avx512);
    return test_summary();
}
