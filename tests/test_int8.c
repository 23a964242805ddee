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
#include "model/arch/arch.h"
#include "model/model.h"
#include "model/weights.h"
#include "common/threads.h"
#include "common/util.h"
#include "test.h"

#include <dirent.h>
#include <omp.h>
#include <sys/stat.h>
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
    /* K = 96: a row of 32-blocks that is not whole 256-blocks (where llama-quantize falls back to Q5_0/Q8_0) */
    static const int shapes[][3] = {{1, 1, 256}, {5, 17, 256}, {13, 50, 512}, {70, 33, 256}, {9, 300, 768}, {8, 21, 96}};
    int compared = 0;
    for (size_t ti = 0; ti < sizeof TYPES / sizeof TYPES[0]; ti++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int T = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
            if (K % lmc_type_traits_of(TYPES[ti])->block) continue;
            uint8_t *wd = random_weight(TYPES[ti], N, K);
            const gemm_i8_w w = weight_of(TYPES[ti], wd, N, K);
            float *x = random_x(T, K), *bias = random_x(1, N);
            float *ref = run(GEMM_I8_C, 1, x, T, &w, si % 2 ? bias : NULL);
            REQUIRE(ref, "C path failed");
            for (size_t pi = 0; pi < 2 * sizeof PATHS / sizeof PATHS[0]; pi++) {
                static const int threads[] = {1, 2, 3, 9};
                /* the second round without AVX-512: the AVX2 activation quantizer instead of the AVX-512 one */
                if (pi == sizeof PATHS / sizeof PATHS[0]) setenv("LMC_NO_AVX512", "1", 1);
                const int path = PATHS[pi % (sizeof PATHS / sizeof PATHS[0])];
                if (!gemm_i8_path_supported(path)) continue;
                for (int th = 0; th < 4; th++) {
                    float *y = run(path, threads[th], x, T, &w, si % 2 ? bias : NULL);
                    REQUIRE(y, "path %s failed", gemm_i8_path_name(path));
                    CHECK(!memcmp(y, ref, sizeof(float) * (size_t)T * N),
                          "%s T=%d N=%d K=%d: path %s at %d threads%s differs from C", lmc_dtype_name(TYPES[ti]), T,
                          N, K, gemm_i8_path_name(path), threads[th], getenv("LMC_NO_AVX512") ? " (no AVX-512)" : "");
                    compared++;
                    free(y);
                }
            }
            unsetenv("LMC_NO_AVX512");
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

/* The quantizers (lmc bench --weights, and F32/F16/BF16 weights to Q8_0 at load) are the inverses of the
 * dequantizers' layouts: a round trip lands within the type's rounding (relative RMS error below 2 % for Q8_0, 5 %
 * for Q6_K, 15-20 % for the 4-bit types on these data, which hold outliers; a wrong layout gives ~140 %). */
static void test_quantizers_round_trip(void) {
    static const struct { lmc_dtype dt; void (*q)(const float *, void *, int64_t); double rms; } Q[] = {
        {LMC_Q8_0, lmc_quantize_q8_0, 0.02}, {LMC_Q4_0, lmc_quantize_q4_0, 0.2}, {LMC_Q4_K, lmc_quantize_q4_k, 0.15},
        {LMC_Q6_K, lmc_quantize_q6_k, 0.05}};
    enum { n = 4096 };
    float *x = random_x(1, n), *y = malloc(sizeof(float) * n);
    uint8_t *b = malloc(n * 2);
    for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++) {
        Q[i].q(x, b, n);
        lmc_dtype_to_f32(Q[i].dt, b, y, n);
        double e = 0, s = 0;
        for (int j = 0; j < n; j++) e += (y[j] - x[j]) * (double)(y[j] - x[j]), s += x[j] * (double)x[j];
        printf("  %s round trip: relative RMS error %.4f\n", lmc_dtype_name(Q[i].dt), sqrt(e / s));
        CHECK(sqrt(e / s) < Q[i].rms, "%s: relative RMS error %g", lmc_dtype_name(Q[i].dt), sqrt(e / s));
    }
    free(x), free(y), free(b);
}

/* ---- the int8 compute of whole models ----
 * Fidelity bound: |BPC_int8 − BPC_f32| ≤ 1e-3 · BPC_f32 (issue 25). On the demo model this is the BPC of real
 * text; on the random-weight GGUF fixtures (tests/data/gguf) the mean next-token NLL of a fixed sequence (BPC up
 * to a constant factor: the same relative bound). The random-weight architecture fixtures (fixtures/arch, BF16
 * checkpoints, their weights quantized to Q8_0 at load) are ill-conditioned — logits of ±30, NLL far above
 * ln(vocab) — so that bf16 compute itself misses 1e-3 on three of them (measured: mixtral 1.2e-3, deepseek_v2
 * 4.8e-3, qwen1 1.1e-3); int8 is held to 1e-2 there (measured: at most 6.6e-3, mixtral, whose routing flips). */

/* Mean NLL (nats) of ids[t+1] after ids[0..t] under `compute`, and the logits into *out (malloc'ed). */
static double mean_nll(const char *path, lmc_compute compute, float **out, int *vocab) {
    enum { T = 64 };
    lmc_model_opts o = {.compute = compute};
    lmc_model *m;
    lmc_err err = {{0}};
    *out = NULL;
    if (lmc_model_open(path, &o, &m, &err)) { t_note_fail(__FILE__, __LINE__, "%s", err.msg); return -1; }
    int32_t ids[T];
    const int V = *vocab = m->info.vocab;
    for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 37 + 11) % (V < 500 ? V : 500));
    float *y = lmc_xmalloc(sizeof(float) * T * (size_t)V);
    double nll = 0;
    if (lmc_model_logits(m, ids, T, y, &err)) { t_note_fail(__FILE__, __LINE__, "%s: %s", path, err.msg); nll = -1; }
    for (int t = 0; nll >= 0 && t + 1 < T; t++) {
        const float *r = y + (size_t)t * V;
        double mx = r[0], s = 0;
        for (int v = 1; v < V; v++) mx = fmax(mx, r[v]);
        for (int v = 0; v < V; v++) s += exp(r[v] - mx);
        nll += (mx + log(s) - r[ids[t + 1]]) / (T - 1);
    }
    lmc_model_close(m);
    *out = y;
    return nll;
}

static void same_fidelity(const char *label, const char *path, double rel) {
    float *yf, *yi;
    int vf, vi;
    const double t0 = lmc_now();
    const double nf = mean_nll(path, LMC_COMPUTE_F32, &yf, &vf), ni = mean_nll(path, LMC_COMPUTE_INT8, &yi, &vi);
    if (nf >= 0 && ni >= 0) {
        double worst = 0;
        for (size_t i = 0; i < (size_t)64 * vf; i++) worst = fmax(worst, fabs(yi[i] - yf[i]) / fmax(1, fabs(yf[i])));
        printf("  %-28s mean NLL f32 %.6f int8 %.6f (rel %.1e); logits max |Δ|/max(1,|f32|) %.2e (%.1f s)\n", label,
               nf, ni, fabs(ni - nf) / nf, worst, lmc_now() - t0);
        CHECK(fabs(ni - nf) <= rel * nf, "%s: int8 NLL %.6f vs f32 %.6f (bound %g relative)", label, ni, nf, rel);
    }
    free(yf), free(yi);
}

static void test_fidelity_gguf(void) {
    static const char *const files[] = {"llama-q8_0", "llama-q4_0", "gpt2-q8_0", "llama-f32", "gpt2-f32"};
    struct stat st;
    if (stat("tests/data/gguf/llama-q8_0.gguf", &st)) SKIP("tests/data/gguf not found (run from the repository root)");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "tests/data/gguf/%s.gguf", files[i]);
        same_fidelity(files[i], p, 1e-3);
    }
}

static void test_fidelity_arch_fixtures(void) {
    const char *root = t_shared("fixtures/arch");
    if (!root) SKIP("fixtures/arch not found (set LMC_SHARED)");
    static const char *const names[] = {"gpt2", "gptneox", "qwen2", "falcon7b", "mixtral", "deepseek_v2", "qwen1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s/model", root, names[i]);
        struct stat st;
        if (!stat(p, &st)) same_fidelity(names[i], p, 1e-2);
    }
}

/* BPC of real text on the demo model (a few documents, short windows to keep the test fast). */
static void test_fidelity_demo_bpc(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    static const char *const data[] = {"demo-data/python.jsonl", "demo-data/cc.jsonl"};
    lmc_tokenizer *tok;
    lmc_err e;
    REQUIRE(lmc_tokenizer_open("demo-model", &tok, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < 2; i++) {
        double bpc[2];
        for (int c = 0; c < 2; c++) {
            lmc_model_opts mo = {.compute = c ? LMC_COMPUTE_INT8 : LMC_COMPUTE_F32};
            lmc_model *m;
            REQUIRE(lmc_model_open("demo-model", &mo, &m, &e) == 0, "%s", e.msg);
            lmc_eval_opts o = {.block_size = 256, .stride = 128, .file_num = 1};
            lmc_result r;
            int rc = lmc_evaluate(m, tok, data[i], &o, &r, &e);
            lmc_model_close(m);
            REQUIRE(rc == 0, "%s", e.msg);
            bpc[c] = r.bpc;
        }
        printf("  demo-model %-24s BPC f32 %.5f int8 %.5f (rel %.1e)\n", data[i], bpc[0], bpc[1],
               fabs(bpc[1] - bpc[0]) / bpc[0]);
        CHECK(fabs(bpc[1] - bpc[0]) <= 1e-3 * bpc[0], "%s: int8 BPC %.5f vs f32 %.5f", data[i], bpc[1], bpc[0]);
    }
    lmc_tokenizer_free(tok);
}

/* The plan int8 compute gets: int8 linears (the demo model's K = 688 down projection too, padded to 704), fused
 * forms with their scratch, attention as bf16's, the kernels named; the Q8_0 copies counted as held. */
static void test_plan_and_memory(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    lmc_model_opts mo = {.compute = LMC_COMPUTE_INT8};
    lmc_model *m;
    lmc_err e;
    REQUIRE(lmc_model_open("demo-model", &mo, &m, &e) == 0, "%s", e.msg);
    const arch_base *b = m->state;
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    CHECK(b->plan.matmul == LMC_LINEAR_INT8 && b->plan.fused_linear && b->plan.attn_bf16 == gemm_bf16_tile_supported(),
          "plan %d %d %d", b->plan.matmul, b->plan.fused_linear, b->plan.attn_bf16);
    CHECK(strstr(d.kernels, "int8 GEMM") && strstr(d.kernels, "blocks of 32"), "kernels: %s", d.kernels);
    CHECK(b->lm_head.mode == LMC_LINEAR_INT8 && b->lm_head.dtype == LMC_Q8_0, "lm_head mode %d", b->lm_head.mode);
    size_t q8 = 0;
    for (size_t i = 0; i < b->tensors.n; i++) {
        const arch_tensor *t = &b->tensors.v[i];
        if (t->kind != ARCH_LINEAR) continue;
        const lmc_linear *l = t->dst;
        CHECK(l->mode == LMC_LINEAR_INT8 && l->i8.K % 32 == 0 && l->i8.K >= l->K, "%s: mode %d, K %d", t->name, l->mode,
              l->K);
        q8 += (size_t)l->N * l->i8.row_bytes;
    }
    CHECK(q8 > 0 && d.resident_bytes >= q8, "held %zu < Q8_0 copies %zu", d.resident_bytes, q8);
    lmc_model_close(m);
    /* lmc bench --weights q4_k: the layer matrices re-quantized (those whose K is whole 256-blocks), lm_head not */
    mo.int8_weights = LMC_Q4_K;
    REQUIRE(lmc_model_open("demo-model", &mo, &m, &e) == 0, "%s", e.msg);
    b = m->state;
    int q4k = 0, q8_0 = 0;
    for (size_t i = 0; i < b->tensors.n; i++) {
        const arch_tensor *t = &b->tensors.v[i];
        if (t->kind != ARCH_LINEAR) continue;
        const lmc_linear *l = t->dst;
        q4k += l->dtype == LMC_Q4_K && l->i8.unpack == lmc_unpack_q4_k && l->i8.has_min;
        q8_0 += l->dtype == LMC_Q8_0 && l->i8.K % 256 != 0;
    }
    CHECK(q4k > 0 && q8_0 > 0 && b->lm_head.dtype == LMC_Q8_0, "Q4_K %d, Q8_0 %d", q4k, q8_0);
    int32_t ids[16];
    for (int i = 0; i < 16; i++) ids[i] = 5 + 7 * i;
    float *y = malloc(sizeof(float) * 16 * (size_t)m->info.vocab);
    CHECK(lmc_model_logits(m, ids, 16, y, &e) == 0 && isfinite(y[0]), "Q4_K forward: %s", e.msg);
    free(y);
    lmc_model_close(m);
}

int main(void) {
    (void)t_shared;
    RUN(test_paths_same_bits);
    RUN(test_accuracy);
    RUN(test_refusals);
    RUN(test_path_env);
    RUN(test_quantizers_round_trip);
    RUN(test_plan_and_memory);
    RUN(test_fidelity_demo_bpc);
    RUN(test_fidelity_gguf);
    RUN(test_fidelity_arch_fixtures);
    return test_summary();
}
