/* test_gemm_bf16.c — the bf16 GEMM (kernels/gemm_bf16.c) on every path this CPU has, plus the AVX-512 path
 * under a plain-C model of its instructions (the file is included a second time with GEMM_BF16_EMU, which
 * prefixes its public functions with emu_), so that path's blocking, layout and masks are tested everywhere.
 *
 * Error bound. With both operands bf16, every product w·x is exact in f32; an output is the f32 sum, in a
 * fixed order, of Kp products (Kp = K rounded up to even) and then the bias: Kp roundings at most (the first
 * addition to 0 is exact), each ≤ u = 2⁻²⁴ relative. Hence (Higham, Thm. 4.4)
 *     |y − y_exact| ≤ γ(Kp) · (Σ_k |w_k x_k| + |bias|),   γ(n) = n·u / (1 − n·u),
 * where y_exact is the exact (here: double) result on the bf16-rounded operands. That is what is checked per
 * element; a wrong index or a lost term would exceed it by orders of magnitude on these data. */
#include "cpu.h"
#include "gemm_bf16.h"
#include "kernels.h"
#include "test.h"

#include <omp.h>
#include <stdint.h>

#define GEMM_BF16_EMU 1
#include "gemm_bf16.c"

/* ---- helpers (tb_ prefix: the included file's statics share this file) ---- */
static uint64_t tb_rng = 0x9E3779B97F4A7C15ull;
static uint32_t tb_u32(void) {
    tb_rng ^= tb_rng << 13;
    tb_rng ^= tb_rng >> 7;
    tb_rng ^= tb_rng << 17;
    return (uint32_t)(tb_rng >> 11);
}
static float tb_unif(void) { return (float)((tb_u32() & 0xffffff) / 8388608.0 - 1.0); } /* [-1, 1) */

/* Reference rounding, written independently of the kernel's: round to nearest even on the bit pattern. */
static uint16_t tb_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    const uint32_t lsb = (u >> 16) & 1u;
    return (uint16_t)((u + 0x7fffu + lsb) >> 16);
}
static double tb_f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float    f;
    memcpy(&f, &u, 4);
    return f;
}

typedef struct tb_case {
    int    T, N, K;
    float *x, *W, *bias;
    double *ref, *mag; /* exact result on the rounded operands, Σ|w x| + |b| */
} tb_case;

static void tb_make(tb_case *c, int T, int N, int K, int with_bias) {
    c->T = T, c->N = N, c->K = K;
    c->x = malloc(sizeof(float) * (size_t)(T * K + 1));
    c->W = malloc(sizeof(float) * (size_t)(N * K + 1));
    c->bias = with_bias ? malloc(sizeof(float) * (size_t)N) : NULL;
    c->ref = malloc(sizeof(double) * (size_t)T * N);
    c->mag = malloc(sizeof(double) * (size_t)T * N);
    for (int i = 0; i < T * K; i++) c->x[i] = tb_unif() * (1 + (i % 7)); /* a few scales */
    for (int i = 0; i < N * K; i++) c->W[i] = tb_unif() * 0.05f;
    if (with_bias)
        for (int n = 0; n < N; n++) c->bias[n] = tb_unif();
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double s = 0, m = 0;
            for (int k = 0; k < K; k++) {
                const double p = tb_f(tb_bf16(c->x[(size_t)t * K + k])) * tb_f(tb_bf16(c->W[(size_t)n * K + k]));
                s += p;
                m += fabs(p);
            }
            if (with_bias) s += c->bias[n], m += fabs(c->bias[n]);
            c->ref[(size_t)t * N + n] = s;
            c->mag[(size_t)t * N + n] = m;
        }
}
static void tb_free(tb_case *c) {
    free(c->x), free(c->W), free(c->bias), free(c->ref), free(c->mag);
}

/* Max over elements of |y − ref| / (γ(Kp)·mag); ≤ 1 passes. *ulps gets max |y − ref| / (u·mag). */
static double tb_check(const tb_case *c, const float *y, double *ulps) {
    const double u = ldexp(1.0, -24), Kp = c->K + (c->K & 1), gam = Kp * u / (1 - Kp * u);
    double       worst = 0, wu = 0;
    for (size_t i = 0; i < (size_t)c->T * c->N; i++) {
        const double e = fabs((double)y[i] - c->ref[i]);
        if (!(e == e)) return INFINITY;
        const double r = c->mag[i] > 0 ? e / (gam * c->mag[i]) : (e == 0 ? 0 : INFINITY);
        if (r > worst) worst = r;
        if (c->mag[i] > 0 && e / (u * c->mag[i]) > wu) wu = e / (u * c->mag[i]);
    }
    if (ulps) *ulps = wu;
    return worst;
}

typedef int (*tb_ex_fn)(float *, const float *, const gemm_bf16_w *, const float *, int, void *, int);

/* Runs one path (real library or emulated) into a fresh y with a guard zone; -1: unsupported. */
static int tb_run(float **out, const tb_case *c, const gemm_bf16_w *w, tb_ex_fn ex, int path, int *guard_ok) {
    const size_t n = (size_t)c->T * c->N, sb = gemm_bf16_scratch_bytes(c->T, c->K);
    float       *y = malloc(sizeof(float) * (n + 37));
    uint8_t     *s = malloc(sb + 3 + 64);
    for (size_t i = 0; i < n + 37; i++) y[i] = 12345.0f;
    memset(s, 0xA5, sb + 3 + 64);
    const int rc = ex(y, c->x, w, c->bias, c->T, s + 3, path); /* deliberately misaligned scratch */
    int       ok = 1;
    for (size_t i = n; i < n + 37; i++) ok &= y[i] == 12345.0f;
    for (size_t i = sb + 3; i < sb + 3 + 64; i++) ok &= s[i] == 0xA5;
    *guard_ok = ok;
    free(s);
    if (rc != 0) {
        free(y);
        *out = NULL;
        return -1;
    }
    *out = y;
    return 0;
}

static size_t tb_bitdiff(const float *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(a + i, b + i, 4) != 0;
    return d;
}

static const int tb_shapes[][3] = {
    /* T, N, K */
    {1, 1, 1},     {1, 17, 3},    {3, 5, 7},      {2, 16, 2},    {12, 32, 64},  {13, 33, 31},  {24, 64, 128},
    {25, 100, 129}, {1, 300, 777}, {29, 47, 1},   {7, 250, 515}, {37, 600, 61}, {61, 40, 1101}, {17, 531, 1100},
    {200, 70, 300}, /* more than one 192-token sweep (ZTB) */
};

/* Every supported path, with and without bias, against the reference; AVX2 / emulated AVX-512 must equal the
 * scalar path bit for bit (same summation order); real AVX-512 within the bound (bit differences reported). */
static void test_paths_vs_reference(void) {
    double worst_all = 0, ulps_all = 0;
    size_t real512_diff = 0, real512_n = 0;
    for (size_t si = 0; si < sizeof tb_shapes / sizeof tb_shapes[0]; si++)
        for (int wb = 0; wb < 2; wb++) {
            tb_case c;
            const int T = tb_shapes[si][0], N = tb_shapes[si][1], K = tb_shapes[si][2];
            tb_make(&c, T, N, K, wb);
            gemm_bf16_w w, we;
            REQUIRE(gemm_bf16_pack_f32(&w, c.W, N, K) == 0, "pack");
            REQUIRE(emu_gemm_bf16_pack_f32(&we, c.W, N, K) == 0, "emu pack");
            float *ys = NULL;
            int    g;
            REQUIRE(tb_run(&ys, &c, &w, gemm_bf16_ex, GEMM_BF16_SCALAR, &g) == 0, "scalar path refused");
            CHECK(g, "scalar: wrote outside y or scratch (T=%d N=%d K=%d)", T, N, K);
            double ul, r = tb_check(&c, ys, &ul);
            CHECK(r <= 1, "scalar: error %.3g x bound (T=%d N=%d K=%d bias=%d)", r, T, N, K, wb);
            if (r > worst_all) worst_all = r;
            if (ul > ulps_all) ulps_all = ul;
            struct { const char *name; tb_ex_fn ex; const gemm_bf16_w *w; int path, exact; } runs[] = {
                {"avx2", gemm_bf16_ex, &w, GEMM_BF16_AVX2, 1},
                {"avx512", gemm_bf16_ex, &w, GEMM_BF16_AVX512, 0},
                {"auto", gemm_bf16_ex, &w, GEMM_BF16_AUTO, 0},
                {"emu-avx512", emu_gemm_bf16_ex, &we, GEMM_BF16_AVX512, 1},
            };
            for (size_t ri = 0; ri < sizeof runs / sizeof runs[0]; ri++) {
                float *yp = NULL;
                if (tb_run(&yp, &c, runs[ri].w, runs[ri].ex, runs[ri].path, &g) != 0) continue; /* unsupported */
                CHECK(g, "%s: wrote outside y or scratch (T=%d N=%d K=%d)", runs[ri].name, T, N, K);
                r = tb_check(&c, yp, &ul);
                CHECK(r <= 1, "%s: error %.3g x bound (T=%d N=%d K=%d bias=%d)", runs[ri].name, r, T, N, K, wb);
                if (r > worst_all) worst_all = r;
                if (ul > ulps_all) ulps_all = ul;
                const size_t d = tb_bitdiff(yp, ys, (size_t)T * N);
                if (runs[ri].exact)
                    CHECK(d == 0, "%s: %zu of %d elements differ from the scalar path (T=%d N=%d K=%d)",
                          runs[ri].name, d, T * N, T, N, K);
                if (runs[ri].path == GEMM_BF16_AVX512 && runs[ri].ex == gemm_bf16_ex)
                    real512_diff += d, real512_n += (size_t)T * N;
                free(yp);
            }
            free(ys);
            gemm_bf16_free(&w);
            emu_gemm_bf16_free(&we);
            tb_free(&c);
        }
    printf("note: worst error %.3f of the bound gamma(Kp)*sum|wx|, i.e. %.1f u*sum|wx|\n", worst_all, ulps_all);
    if (real512_n)
        printf("note: hardware AVX-512 path: %zu of %zu elements not bit-identical to the scalar path\n",
               real512_diff, real512_n);
    else
        printf("note: no AVX512_BF16 on this CPU (%s): hardware AVX-512 path not run, emulated path run\n",
               cpu_features_string());
}

/* gemm_bf16_pack_f32(W) ≡ gemm_bf16_pack(bf16(W)), and the documented layout. */
static void test_pack_layout(void) {
    const int N = 37, K = 45, Kp = 46, Kp2 = 23;
    float    *W = malloc(sizeof(float) * N * K);
    uint16_t *Wb = malloc(sizeof(uint16_t) * N * K);
    for (int i = 0; i < N * K; i++) W[i] = tb_unif() * 3, Wb[i] = tb_bf16(W[i]);
    gemm_bf16_w a, b;
    REQUIRE(gemm_bf16_pack_f32(&a, W, N, K) == 0 && gemm_bf16_pack(&b, Wb, N, K) == 0, "pack");
    CHECK(a.N == N && a.K == K && a.Kp == Kp, "dims %d %d %d", a.N, a.K, a.Kp);
    CHECK(((uintptr_t)a.packed & 63) == 0, "not 64-byte aligned");
    const size_t bytes = (size_t)48 * Kp * 2;
    CHECK(memcmp(a.packed, b.packed, bytes) == 0, "pack_f32 and pack(bf16) differ");
    int bad = 0;
    for (int p = 0; p < 3; p++)
        for (int q = 0; q < Kp2; q++)
            for (int r = 0; r < 16; r++)
                for (int e = 0; e < 2; e++) {
                    const int      n = 16 * p + r, k = 2 * q + e;
                    const uint16_t want = (n < N && k < K) ? Wb[n * K + k] : 0;
                    bad += a.packed[((p * Kp2 + q) * 16 + r) * 2 + e] != want;
                }
    CHECK(bad == 0, "%d packed values not where the header says", bad);
    gemm_bf16_free(&a);
    gemm_bf16_free(&b);
    CHECK(a.packed == NULL, "free did not clear");
    gemm_bf16_free(&a); /* twice is harmless */
    free(W);
    free(Wb);
}

/* Same bits on two calls and for every thread count (including splits over tokens: few rows, many threads). */
static void test_deterministic_threads(void) {
    const int shapes[][3] = {{100, 700, 1500}, {301, 40, 700}, {1900, 64, 64}};
    const int max0 = omp_get_max_threads();
    for (size_t si = 0; si < 3; si++) {
        const int T = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        float    *x = malloc(sizeof(float) * (size_t)T * K), *W = malloc(sizeof(float) * (size_t)N * K);
        float    *bias = malloc(sizeof(float) * N);
        for (size_t i = 0; i < (size_t)T * K; i++) x[i] = tb_unif();
        for (size_t i = 0; i < (size_t)N * K; i++) W[i] = tb_unif();
        for (int i = 0; i < N; i++) bias[i] = tb_unif();
        gemm_bf16_w w;
        REQUIRE(gemm_bf16_pack_f32(&w, W, N, K) == 0, "pack");
        void  *s = malloc(gemm_bf16_scratch_bytes(T, K));
        float *y0 = malloc(sizeof(float) * (size_t)T * N), *y1 = malloc(sizeof(float) * (size_t)T * N);
        gemm_bf16_w we;
        REQUIRE(emu_gemm_bf16_pack_f32(&we, W, N, K) == 0, "emu pack");
        const int paths[] = {GEMM_BF16_AVX2, GEMM_BF16_AVX512, GEMM_BF16_SCALAR, -GEMM_BF16_AVX512};
        for (int pi = 0; pi < 4; pi++) {
            const int emu = paths[pi] < 0, path = emu ? -paths[pi] : paths[pi];
            if (!emu && !gemm_bf16_path_supported(path)) continue;
            if ((path == GEMM_BF16_SCALAR || emu) && si == 0) continue; /* slow; covered by the others */
            tb_ex_fn          ex = emu ? emu_gemm_bf16_ex : gemm_bf16_ex;
            const gemm_bf16_w *wp = emu ? &we : &w;
            omp_set_num_threads(1);
            ex(y0, x, wp, bias, T, s, path);
            const int nths[] = {1, 2, 3, 4, 7};
            for (int ti = 0; ti < 5; ti++) {
                omp_set_num_threads(nths[ti]);
                memset(y1, 0, sizeof(float) * (size_t)T * N);
                ex(y1, x, wp, bias, T, s, path);
                CHECK(tb_bitdiff(y0, y1, (size_t)T * N) == 0, "%s%s: %d threads differ from 1 (T=%d N=%d K=%d)",
                      emu ? "emu-" : "", gemm_bf16_path_name(path), nths[ti], T, N, K);
            }
        }
        emu_gemm_bf16_free(&we);
        omp_set_num_threads(max0);
        gemm_bf16(y0, x, &w, bias, T, s);
        gemm_bf16(y1, x, &w, bias, T, s);
        CHECK(tb_bitdiff(y0, y1, (size_t)T * N) == 0, "two calls differ");
        gemm_bf16_free(&w);
        free(s), free(y0), free(y1), free(x), free(W), free(bias);
    }
}

/* LMC_NO_AVX512=1 turns the AVX-512 answers off (read on every call) and gemm_bf16 takes the fallback. */
static void test_no_avx512_env(void) {
    const char *old = getenv("LMC_NO_AVX512");
    char        save[64] = "";
    if (old) snprintf(save, sizeof save, "%s", old);
    setenv("LMC_NO_AVX512", "1", 1);
    CHECK(!cpu_has_avx512f() && !cpu_has_avx512bf16(), "LMC_NO_AVX512=1 ignored");
    CHECK(gemm_bf16_auto_path() != GEMM_BF16_AVX512, "auto path still AVX-512");
    CHECK(!gemm_bf16_path_supported(GEMM_BF16_AVX512), "AVX-512 still supported");
    tb_case c;
    tb_make(&c, 9, 70, 300, 1);
    gemm_bf16_w w;
    REQUIRE(gemm_bf16_pack_f32(&w, c.W, c.N, c.K) == 0, "pack");
    float *y = malloc(sizeof(float) * 9 * 70), *s = malloc(gemm_bf16_scratch_bytes(9, 300));
    gemm_bf16(y, c.x, &w, c.bias, c.T, s);
    CHECK(tb_check(&c, y, NULL) <= 1, "fallback result off");
    setenv("LMC_NO_AVX512", "0", 1);
    CHECK(cpu_has_avx512bf16() == gemm_bf16_path_supported(GEMM_BF16_AVX512), "LMC_NO_AVX512=0 not honoured");
    if (old) setenv("LMC_NO_AVX512", save, 1);
    else unsetenv("LMC_NO_AVX512");
    printf("note: cpu features: %s; auto path: %s\n", cpu_features_string(),
           gemm_bf16_path_name(gemm_bf16_auto_path()));
    gemm_bf16_free(&w);
    free(y), free(s);
    tb_free(&c);
}

/* DAZ (subnormal x reads as 0), NaN propagates, K = 0 gives the bias, T = 0 / N = 0 are no-ops. */
static void test_special_values(void) {
    const int T = 3, N = 20, K = 5;
    float     x[15], W[100], bias[20], y[60], y2[60];
    for (int i = 0; i < 15; i++) x[i] = tb_unif();
    for (int i = 0; i < 100; i++) W[i] = tb_unif();
    for (int i = 0; i < 20; i++) bias[i] = tb_unif();
    gemm_bf16_w w;
    REQUIRE(gemm_bf16_pack_f32(&w, W, N, K) == 0, "pack");
    void     *s = malloc(gemm_bf16_scratch_bytes(T, K));
    const int paths[] = {GEMM_BF16_SCALAR, GEMM_BF16_AVX2, GEMM_BF16_AVX512};
    for (int pi = 0; pi < 3; pi++) {
        if (!gemm_bf16_path_supported(paths[pi])) continue;
        const char *pn = gemm_bf16_path_name(paths[pi]);
        float       xs[15];
        memcpy(xs, x, sizeof x);
        xs[2] = 1e-39f;                /* f32 subnormal */
        xs[7] = -3e-40f;
        gemm_bf16_ex(y, xs, &w, bias, T, s, paths[pi]);
        xs[2] = 0.0f, xs[7] = -0.0f;
        gemm_bf16_ex(y2, xs, &w, bias, T, s, paths[pi]);
        CHECK(memcmp(y, y2, sizeof y) == 0, "%s: subnormal input not read as zero", pn);
        memcpy(xs, x, sizeof x);
        xs[K + 1] = NAN; /* token 1 */
        gemm_bf16_ex(y, xs, &w, bias, T, s, paths[pi]);
        int nan_ok = 1;
        for (int n = 0; n < N; n++) nan_ok &= isnan(y[N + n]) && !isnan(y[n]) && !isnan(y[2 * N + n]);
        CHECK(nan_ok, "%s: NaN not confined to its token", pn);
    }
    gemm_bf16_free(&w);
    gemm_bf16_w w0;
    REQUIRE(gemm_bf16_pack_f32(&w0, W, N, 0) == 0, "pack K=0");
    for (int i = 0; i < 60; i++) y[i] = 7;
    gemm_bf16(y, x, &w0, bias, T, s);
    int ok = 1;
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) ok &= y[t * N + n] == bias[n];
    gemm_bf16(y, x, &w0, NULL, T, s);
    for (int i = 0; i < 60; i++) ok &= y[i] == 0;
    CHECK(ok, "K = 0 should give the bias (or 0)");
    for (int i = 0; i < 60; i++) y[i] = 7;
    gemm_bf16(y, x, &w0, bias, 0, s);
    CHECK(y[0] == 7, "T = 0 wrote");
    gemm_bf16_free(&w0);
    CHECK(gemm_bf16_pack_f32(&w0, W, -1, 3) == -1 && w0.packed == NULL, "negative N accepted");
    CHECK(gemm_bf16_path_supported(GEMM_BF16_SCALAR) && !gemm_bf16_path_supported(42), "path_supported");
    CHECK(gemm_bf16_ex(y, x, &w0, NULL, 1, s, 42) == -1, "unknown path accepted");
    free(s);
}

/* bf16-bit input: subnormal bf16 weights read as zero, NaN weights stay NaN. */
static void test_pack_bf16_daz(void) {
    uint16_t Wb[4] = {0x0001, 0x8040, 0x3f80, 0x7fc0}; /* subnormal, -subnormal, 1.0, NaN */
    gemm_bf16_w w;
    REQUIRE(gemm_bf16_pack(&w, Wb, 1, 4) == 0, "pack");
    CHECK(w.packed[0] == 0 && w.packed[1] == 0x8000 && w.packed[32] == 0x3f80 && w.packed[33] == 0x7fc0,
          "got %04x %04x %04x %04x", w.packed[0], w.packed[1], w.packed[32], w.packed[33]);
    gemm_bf16_free(&w);
}

/* Called from inside a parallel region (each thread its own y and scratch): same bits as a top-level call. */
static void test_nested_call(void) {
    tb_case c;
    tb_make(&c, 40, 300, 700, 1);
    gemm_bf16_w w;
    REQUIRE(gemm_bf16_pack_f32(&w, c.W, c.N, c.K) == 0, "pack");
    const size_t n = (size_t)c.T * c.N, sb = gemm_bf16_scratch_bytes(c.T, c.K);
    float       *y0 = malloc(sizeof(float) * n), *ys = malloc(sizeof(float) * n * 2);
    char        *s = malloc(sb * 3);
    gemm_bf16(y0, c.x, &w, c.bias, c.T, s);
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int id = 0; id < 2; id++) gemm_bf16(ys + n * id, c.x, &w, c.bias, c.T, s + sb * (1 + id));
    CHECK(tb_bitdiff(y0, ys, n) == 0 && tb_bitdiff(y0, ys + n, n) == 0, "nested calls differ");
    gemm_bf16_free(&w);
    free(y0), free(ys), free(s);
    tb_free(&c);
}

/* gemm_bf16_multi: several outputs of one input and the fused epilogues give exactly the bits of separate
 * gemm_bf16_ex calls followed by add_inplace / swiglu_poly (kernels/residual.c, activations.c), on every path,
 * with 1, 2, 3 and 9 threads (1, 2: work items taken from a shared counter; 3, 9: an output with fewer row
 * units than threads, so rows and tokens are split statically), and with row counts that are not multiples of
 * the 32-row unit. */
typedef int (*tb_multi_fn)(const float *, int, const gemm_bf16_out *, int, void *, int);
static void test_multi_fused(void) {
    const int T = 205, K = 130, N1 = 80, N2 = 45; /* N2: a ragged last unit; T: two token sweeps */
    float    *x = malloc(sizeof(float) * T * K), *Wa = malloc(sizeof(float) * N1 * K),
             *Wb = malloc(sizeof(float) * N1 * K), *Wc = malloc(sizeof(float) * N2 * K), *bias = malloc(sizeof(float) * N1);
    for (int i = 0; i < T * K; i++) x[i] = tb_unif() * 2;
    for (int i = 0; i < N1 * K; i++) Wa[i] = tb_unif() * 0.1f, Wb[i] = tb_unif() * 0.1f;
    for (int i = 0; i < N2 * K; i++) Wc[i] = tb_unif() * 0.1f;
    for (int i = 0; i < N1; i++) bias[i] = tb_unif();
    const size_t n1 = (size_t)T * N1, n2 = (size_t)T * N2;
    float *ra = malloc(4 * n1), *rb = malloc(4 * n1), *rc = malloc(4 * n2);
    float *ya = malloc(4 * n1), *yb = malloc(4 * n1), *yc = malloc(4 * n2), *res = malloc(4 * n2);
    void *s = malloc(gemm_bf16_scratch_bytes(T, K));
    const int paths[] = {GEMM_BF16_SCALAR, GEMM_BF16_AVX2, GEMM_BF16_AVX512, -GEMM_BF16_AVX512};
    const int max0 = omp_get_max_threads();
    for (int pi = 0; pi < 4; pi++) {
        const int emu = paths[pi] < 0, path = emu ? -paths[pi] : paths[pi];
        if (!emu && !gemm_bf16_path_supported(path)) continue;
        int (*pack)(gemm_bf16_w *, const float *, int, int) = emu ? emu_gemm_bf16_pack_f32 : gemm_bf16_pack_f32;
        tb_ex_fn    ex = emu ? emu_gemm_bf16_ex : gemm_bf16_ex;
        tb_multi_fn multi = emu ? emu_gemm_bf16_multi : gemm_bf16_multi;
        gemm_bf16_w wa, wb, wc;
        REQUIRE(pack(&wa, Wa, N1, K) == 0 && pack(&wb, Wb, N1, K) == 0 && pack(&wc, Wc, N2, K) == 0, "pack");
        /* separate calls, then the unfused element-wise kernels */
        ex(ra, x, &wa, bias, T, s, path);
        ex(rb, x, &wb, NULL, T, s, path);
        ex(rc, x, &wc, NULL, T, s, path);
        swiglu_poly(ra, rb, n1);
        static const int ths[] = {1, 2, 3, 9};
        for (int ti = 0; ti < 4; ti++) {
            const int th = ths[ti];
            omp_set_num_threads(th);
            memset(res, 0, 4 * n2); /* 0 + y = y exactly */
            const gemm_bf16_out outs[3] = {{&wa, bias, ya, GEMM_BF16_STORE, NULL, 0},
                                           {&wb, NULL, yb, GEMM_BF16_SILU_MUL_TO, ya, 0},
                                           {&wc, NULL, yc, GEMM_BF16_ADD_TO, res, 0}};
            REQUIRE(multi(x, T, outs, 3, s, path) == 0, "multi");
            CHECK(tb_bitdiff(ya, ra, n1) == 0, "%s%s %d threads: fused SwiGLU differs from gemm + swiglu_poly",
                  emu ? "emu-" : "", gemm_bf16_path_name(path), th);
            CHECK(tb_bitdiff(yc, rc, n2) == 0 && tb_bitdiff(res, rc, n2) == 0,
                  "%s%s %d threads: ADD_TO into zeros differs from the product", emu ? "emu-" : "",
                  gemm_bf16_path_name(path), th);
        }
        /* ADD_TO onto a non-zero residual: the same bits as add_inplace */
        float *base = malloc(4 * n2), *want = malloc(4 * n2);
        for (size_t i = 0; i < n2; i++) base[i] = tb_unif() * 3;
        memcpy(want, base, 4 * n2);
        add_inplace(want, rc, n2);
        memcpy(res, base, 4 * n2);
        const gemm_bf16_out o = {&wc, NULL, yc, GEMM_BF16_ADD_TO, res, 0};
        REQUIRE(multi(x, T, &o, 1, s, path) == 0, "multi");
        CHECK(tb_bitdiff(res, want, n2) == 0, "%s%s: fused residual add differs from add_inplace",
              emu ? "emu-" : "", gemm_bf16_path_name(path));
        free(base), free(want);
        void (*fr)(gemm_bf16_w *) = emu ? emu_gemm_bf16_free : gemm_bf16_free;
        fr(&wa), fr(&wb), fr(&wc);
    }
    omp_set_num_threads(max0);
    /* outputs of different K are refused, nothing written */
    gemm_bf16_w w1, w2;
    REQUIRE(gemm_bf16_pack_f32(&w1, Wa, N1, K) == 0 && gemm_bf16_pack_f32(&w2, Wa, N1, K - 2) == 0, "pack");
    const gemm_bf16_out bad[2] = {{&w1, NULL, ya, GEMM_BF16_STORE, NULL, 0}, {&w2, NULL, yb, GEMM_BF16_STORE, NULL, 0}};
    CHECK(gemm_bf16_multi(x, T, bad, 2, s, GEMM_BF16_AUTO) == -1, "mixed K accepted");
    gemm_bf16_free(&w1), gemm_bf16_free(&w2);
    free(x), free(Wa), free(Wb), free(Wc), free(bias), free(ra), free(rb), free(rc);
    free(ya), free(yb), free(yc), free(res), free(s);
}

/* A matrix multiplied a chunk of rows at a time, as the streamed linear does (src/model/linear.c): each chunk
 * repacked into one buffer (gemm_bf16_repack), written into its columns of y (ldy = N), x rounded by the first
 * chunk's call only (GEMM_BF16_X_ROUNDED): the bits of one call on the whole matrix, on every path, with chunks
 * of rows that are not multiples of the 16-row panel and a last chunk smaller than the others. */
static void test_chunked_rows(void) {
    const int T = 37, K = 150, N = 100, CH = 40; /* chunks of 40, 40, 20 rows */
    float *x = malloc(sizeof(float) * T * K), *W = malloc(sizeof(float) * N * K), *bias = malloc(sizeof(float) * N);
    float *want = malloc(sizeof(float) * T * N), *got = malloc(sizeof(float) * T * N);
    for (int i = 0; i < T * K; i++) x[i] = tb_unif() * 2;
    for (int i = 0; i < N * K; i++) W[i] = tb_unif() * 0.1f;
    for (int i = 0; i < N; i++) bias[i] = tb_unif();
    void *s = malloc(gemm_bf16_scratch_bytes(T, K));
    const int paths[] = {GEMM_BF16_SCALAR, GEMM_BF16_AVX2, GEMM_BF16_AVX512, -GEMM_BF16_AVX512};
    for (int pi = 0; pi < 4; pi++) {
        const int emu = paths[pi] < 0, path = emu ? -paths[pi] : paths[pi];
        if (!emu && !gemm_bf16_path_supported(path)) continue;
        int (*pack)(gemm_bf16_w *, const float *, int, int) = emu ? emu_gemm_bf16_pack_f32 : gemm_bf16_pack_f32;
        int (*repack)(gemm_bf16_w *, const uint16_t *, const float *, int, int) =
            emu ? emu_gemm_bf16_repack : gemm_bf16_repack;
        void (*fr)(gemm_bf16_w *) = emu ? emu_gemm_bf16_free : gemm_bf16_free;
        tb_ex_fn    ex = emu ? emu_gemm_bf16_ex : gemm_bf16_ex;
        tb_multi_fn multi = emu ? emu_gemm_bf16_multi : gemm_bf16_multi;
        gemm_bf16_w whole, chunk = {0};
        REQUIRE(pack(&whole, W, N, K) == 0, "pack");
        ex(want, x, &whole, bias, T, s, path);
        memset(got, 0xff, sizeof(float) * T * N);
        for (int n0 = 0; n0 < N; n0 += CH) {
            const int n = N - n0 < CH ? N - n0 : CH;
            REQUIRE(repack(&chunk, NULL, W + (size_t)n0 * K, n, K) == 0, "repack");
            const gemm_bf16_out o = {&chunk, bias + n0, got + n0, GEMM_BF16_STORE, NULL, N};
            REQUIRE(multi(x, T, &o, 1, s, n0 ? path | GEMM_BF16_X_ROUNDED : path) == 0, "multi");
        }
        CHECK(tb_bitdiff(got, want, (size_t)T * N) == 0, "%s%s: chunked rows differ from the whole matrix",
              emu ? "emu-" : "", gemm_bf16_path_name(path));
        fr(&whole), fr(&chunk);
    }
    free(x), free(W), free(bias), free(want), free(got), free(s);
}

/* swiglu_poly (the bf16 path's SwiGLU): the three SIMD levels give identical bits (odd lengths, tails,
 * extreme gates), and the result is within 8 ulp-ish (4e-7 relative to |g·u| + tiny) of silu in double. */
static void test_swiglu_poly(void) {
    enum { n = 1003 };
    float g[n], u[n], d[3][n];
    for (int i = 0; i < n; i++) {
        g[i] = tb_unif() * (i % 3 == 0 ? 100.0f : i % 3 == 1 ? 8.0f : 0.5f);
        u[i] = tb_unif() * 4;
    }
    g[0] = 0.0f, g[1] = -0.0f, g[2] = 200.0f, g[3] = -200.0f, g[4] = 80.0f, g[5] = -80.0f, g[6] = 1e-30f;
    const int levels = cpu_has_avx512f() ? 3 : cpu_has_avx2_fma() ? 2 : 1;
    for (int s = 0; s < levels; s++) {
        memcpy(d[s], g, sizeof g);
        swiglu_poly_row(d[s], u, n, s);
    }
    for (int s = 1; s < levels; s++)
        CHECK(tb_bitdiff(d[0], d[s], n) == 0, "SIMD level %d differs from plain C", s);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const double gd = g[i], want = gd / (1.0 + exp(-gd)) * u[i];
        worst = fmax(worst, fabs(d[0][i] - want) / (fabs(gd * u[i]) + 1e-30));
    }
    CHECK(worst < 4e-7, "relative error %.3g", worst);
    CHECK(d[0][2] == 200.0f * u[2] && fabs(d[0][3]) < 1e-30,
          "extremes: silu(200) = 200, silu(-200) ~ 0");
}

int main(void) {
    (void)t_shared, (void)t_full; /* test.h helpers this file does not need */
    RUN(test_pack_layout);
    RUN(test_pack_bf16_daz);
    RUN(test_paths_vs_reference);
    RUN(test_deterministic_threads);
    RUN(test_nested_call);
    RUN(test_multi_fused);
    RUN(test_chunked_rows);
    RUN(test_swiglu_poly);
    RUN(test_no_avx512_env);
    RUN(test_special_values);
    return test_summary();
}
