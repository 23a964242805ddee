/* test_gguf_model.c — GGUF files as a model source (src/model/gguf_weights.c) and quantized weights in the linears
 * (src/model/linear.c).
 *
 * tests/data/gguf holds random-weight checkpoints as HF writes them (BF16 safetensors) and as llama.cpp's
 * converter writes them (F32 GGUF, tools/hf_to_gguf.py; Q8_0 / Q4_0 made by llama.cpp's llama-quantize), see
 * make.sh there. The F32 GGUF holds the same values as the BF16 checkpoint (exact widening), so every logit must
 * be the same bits; a quantized GGUF must give the same bits as its own dequantization written out by
 * `lmc convert` (the "dequantized reference"), since the linears widen each block exactly as ggml does. */
#include "test.h"

#include "convert.h"
#include "dequant.h"
#include "kernels.h"
#include "model/gguf.h"
#include "model/linear.h"
#include "model/model.h"
#include "common/util.h"

#include <stdint.h>
#include <unistd.h>

#define DATA "tests/data/gguf/"
enum { T = 48 };

/* Logits (T, vocab) of a fixed token sequence, malloc'ed; NULL with a failure recorded. */
static float *logits_of(const char *path, lmc_compute compute, size_t pack_limit, int *vocab) {
    lmc_model_opts o = {.compute = compute, .bf16_pack_limit = pack_limit};
    lmc_model *m;
    lmc_err err = {{0}};
    if (lmc_model_open(path, &o, &m, &err)) {
        t_note_fail(__FILE__, __LINE__, "%s", err.msg);
        return NULL;
    }
    int32_t ids[T];
    for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 37 + 11) % 500);
    *vocab = m->info.vocab;
    float *y = lmc_xmalloc(sizeof(float) * T * (size_t)*vocab);
    if (lmc_model_logits(m, ids, T, y, &err)) {
        t_note_fail(__FILE__, __LINE__, "%s: %s", path, err.msg);
        free(y);
        y = NULL;
    }
    lmc_model_close(m);
    return y;
}

/* a and b give the same logits bits under `compute` (pack_limit 1: bf16 streamed). */
static void same_logits(const char *a, const char *b, lmc_compute compute, size_t pack_limit) {
    int va = 0, vb = 0;
    float *ya = logits_of(a, compute, pack_limit, &va), *yb = logits_of(b, compute, pack_limit, &vb);
    if (ya && yb) {
        CHECK(va == vb, "vocab %d vs %d", va, vb);
        size_t diff = 0, n = (size_t)T * (size_t)va;
        for (size_t i = 0; va == vb && i < n; i++) diff += memcmp(&ya[i], &yb[i], 4) != 0;
        CHECK(diff == 0, "%s vs %s (%s%s): %zu of %zu logits differ", a, b,
              compute == LMC_COMPUTE_BF16 ? "bf16" : "f32", pack_limit == 1 ? " streamed" : "", diff, n);
    }
    free(ya);
    free(yb);
}

/* ---- the same checkpoint as HF safetensors and as GGUF F32 ----------------------------------------- */

/* Llama: the GGUF's q/k rows are llama.cpp's interleaved permutation, undone at load. */
static void test_llama_f32_gguf_equals_hf(void) {
    same_logits(DATA "llama-hf", DATA "llama-f32.gguf", LMC_COMPUTE_F32, 0);
    same_logits(DATA "llama-hf", DATA "llama-f32.gguf", LMC_COMPUTE_BF16, 0);
    same_logits(DATA "llama-hf", DATA "llama-f32.gguf", LMC_COMPUTE_BF16, 1);
}

/* GPT-2: Conv1D weights already [out, in], position table, fused QKV with biases. */
static void test_gpt2_f32_gguf_equals_hf(void) {
    same_logits(DATA "gpt2-hf", DATA "gpt2-f32.gguf", LMC_COMPUTE_F32, 0);
    same_logits(DATA "gpt2-hf", DATA "gpt2-f32.gguf", LMC_COMPUTE_BF16, 0);
}

/* ---- quantized files against their dequantization --------------------------------------------------- */

/* `lmc convert` of a quantized GGUF writes ggml's dequantized values as F32 safetensors; the quantized file must
 * compute exactly what that file does (f32: widened chunk by chunk; bf16: dequantized into the packed panels). */
static void quantized_equals_dequantized(const char *gguf, const char *name) {
    lmc_err err = {{0}};
    const char *out = t_tmp(name);
    REQUIRE(lmc_convert(gguf, out, LMC_CONVERT_KEEP_DTYPE, NULL, &err) == 0, "convert %s: %s", gguf, err.msg);
    same_logits(gguf, out, LMC_COMPUTE_F32, 0);
    same_logits(gguf, out, LMC_COMPUTE_BF16, 0);
    same_logits(gguf, out, LMC_COMPUTE_BF16, 1);
    unlink(out);
}

static void test_q8_0_equals_dequantized(void) {
    quantized_equals_dequantized(DATA "llama-q8_0.gguf", "llama-q8_0.safetensors");
    quantized_equals_dequantized(DATA "gpt2-q8_0.gguf", "gpt2-q8_0.safetensors");
}

static void test_q4_0_equals_dequantized(void) {
    quantized_equals_dequantized(DATA "llama-q4_0.gguf", "llama-q4_0.safetensors");
}

/* Mean |Δlogit| of a quantized file against the F32 original, after checking it is small relative to the logits:
 * Q8_0 stores each weight to 1/254 of its 32-block's absolute maximum, Q4_0 to 1/16; through these random
 * 2-layer models (tied, so the quantized embedding is lm_head too) that moved the logits, whose magnitude reaches
 * ~6.5, by a mean of 0.027 (Q8_0) and a max of 0.24. The bounds, mean |Δ| < 2% and max |Δ| < 10% of the largest
 * logit, leave 2-3x margin and still catch a wrong scale, block or row order (errors the size of the logits). */
static double quant_error(const char *f32, const char *quant) {
    int va = 0, vb = 0;
    double mean = -1;
    float *a = logits_of(f32, LMC_COMPUTE_F32, 0, &va), *b = logits_of(quant, LMC_COMPUTE_F32, 0, &vb);
    if (a && b && va == vb) {
        double worst = 0, big = 0, sum = 0;
        for (size_t i = 0; i < (size_t)T * va; i++) {
            double d = fabs((double)a[i] - b[i]);
            if (d > worst) worst = d;
            if (fabs(a[i]) > big) big = fabs(a[i]);
            sum += d;
        }
        mean = sum / ((double)T * va);
        printf("  %s: max |logit| %.3f; vs F32 max |Δ| %.4f, mean |Δ| %.5f\n", quant, big, worst, mean);
        CHECK(mean > 0, "%s: no logit differs from F32: not quantized?", quant);
        if (strstr(quant, "q8_0")) {
            CHECK(mean < 0.02 * big, "%s: mean |Δlogit| %.4f vs F32 (largest logit %.3f)", quant, mean, big);
            CHECK(worst < 0.1 * big, "%s: max |Δlogit| %.4f vs F32 (largest logit %.3f)", quant, worst, big);
        }
    }
    free(a);
    free(b);
    return mean;
}

static void test_quantized_close_to_f32(void) {
    double q8 = quant_error(DATA "llama-f32.gguf", DATA "llama-q8_0.gguf");
    double q4 = quant_error(DATA "llama-f32.gguf", DATA "llama-q4_0.gguf");
    quant_error(DATA "gpt2-f32.gguf", DATA "gpt2-q8_0.gguf");
    CHECK(q4 > q8, "Q4_0 (mean |Δ| %.4f) is not further from F32 than Q8_0 (%.4f)", q4, q8);
}

/* ---- the linears: each quantized type against its dequantized f32 matrix ----------------------------- */

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

/* Random blocks of a quantized dtype, every f16 scale a small finite value (0x2c00 = 1/16, 0x2400 min); for
 * F16 (widened while packing the same way), random values in [-1, 1]. */
static void *random_blocks(lmc_dtype dt, int N, int K, uint64_t seed) {
    size_t bytes = (size_t)N * lmc_dtype_bytes(dt, K);
    if (dt == LMC_F16) {
        float *f = lmc_xmalloc(sizeof(float) * (size_t)N * K);
        uint16_t *h = lmc_xmalloc(bytes);
        for (size_t i = 0; i < (size_t)N * K; i++) f[i] = (float)((int)(rng_next(&seed) % 2001) - 1000) / 1000.0f;
        f32_to_f16(h, f, (size_t)N * K);
        free(f);
        return h;
    }
    uint8_t *p = lmc_xmalloc(bytes);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)rng_next(&seed);
    size_t bb = lmc_dtype_bytes(dt, dt == LMC_Q4_K || dt == LMC_Q6_K ? 256 : 32);
    for (size_t b = 0; b < bytes / bb; b++) {
        uint8_t *q = p + b * bb;
        if (dt == LMC_Q6_K) { q[208] = 0x00; q[209] = 0x2c; }
        else { q[0] = 0x00; q[1] = 0x2c; }
        if (dt == LMC_Q4_K) { q[2] = 0x00; q[3] = 0x24; }
    }
    return p;
}

static void test_linear_quantized_types(void) {
    const lmc_dtype types[] = {LMC_Q8_0, LMC_Q4_0, LMC_Q5_0, LMC_Q4_K, LMC_Q6_K, LMC_F16};
    const int N = 40, K = 512, TT = 5; /* N not a multiple of 16: a partial packed panel */
    lmc_err err = {{0}};
    float *x = lmc_xmalloc(sizeof(float) * TT * K), *wf = lmc_xmalloc(sizeof(float) * N * K);
    float *y1 = lmc_xmalloc(sizeof(float) * TT * N), *y2 = lmc_xmalloc(sizeof(float) * TT * N);
    uint64_t s = 99;
    for (int i = 0; i < TT * K; i++) x[i] = (float)((int)(rng_next(&s) % 2001) - 1000) / 1000.0f;
    const lmc_linear_mode modes[] = {LMC_LINEAR_F32, LMC_LINEAR_BF16_PACKED, LMC_LINEAR_BF16_STREAMED};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        lmc_dtype dt = types[ti];
        void *blocks = random_blocks(dt, N, K, 1234 + ti);
        lmc_dtype_to_f32(dt, blocks, wf, (int64_t)N * K);
        lmc_tensor q = {.name = "q", .dtype = dt, .ndim = 2, .shape = {N, K}, .numel = (int64_t)N * K,
                        .data = blocks, .nbytes = (size_t)N * lmc_dtype_bytes(dt, K)};
        lmc_tensor f = {.name = "f", .dtype = LMC_F32, .ndim = 2, .shape = {N, K}, .numel = (int64_t)N * K,
                        .data = wf, .nbytes = sizeof(float) * N * K};
        for (int mi = 0; mi < 3; mi++) {
            lmc_linear lq, lf;
            REQUIRE(lmc_linear_init(&lq, &q, NULL, N, K, modes[mi], "test", &err) == 0, "%s", err.msg);
            REQUIRE(lmc_linear_init(&lf, &f, NULL, N, K, modes[mi], "test", &err) == 0, "%s", err.msg);
            lmc_linear_apply(&lq, x, y1, TT);
            lmc_linear_apply(&lf, x, y2, TT);
            CHECK(memcmp(y1, y2, sizeof(float) * TT * N) == 0, "%s, mode %d: differs from its dequantized matrix",
                  lmc_dtype_name(dt), mi);
            int finite = 1;
            for (int i = 0; i < TT * N; i++) finite &= isfinite(y1[i]) != 0;
            CHECK(finite, "%s: non-finite output", lmc_dtype_name(dt));
            lmc_linear_free(&lq);
            lmc_linear_free(&lf);
        }
        /* rows from the middle of a quantized tensor (fused layouts) start at a whole row of blocks */
        lmc_linear lq, lf;
        REQUIRE(lmc_linear_init_rows(&lq, &q, NULL, 17, 8, K, LMC_LINEAR_F32, "test", &err) == 0, "%s", err.msg);
        REQUIRE(lmc_linear_init_rows(&lf, &f, NULL, 17, 8, K, LMC_LINEAR_F32, "test", &err) == 0, "%s", err.msg);
        lmc_linear_apply(&lq, x, y1, TT);
        lmc_linear_apply(&lf, x, y2, TT);
        CHECK(memcmp(y1, y2, sizeof(float) * TT * 8) == 0, "%s: rows 17..24 differ", lmc_dtype_name(dt));
        lmc_linear_free(&lq);
        lmc_linear_free(&lf);
        free(blocks);
    }
    free(x); free(wf); free(y1); free(y2);
}

/* ---- what a GGUF model reports ------------------------------------------------------------------------ */

static void test_describe_and_memory(void) {
    lmc_model *m;
    lmc_err err = {{0}};
    lmc_model_opts o = {.compute = LMC_COMPUTE_F32};
    REQUIRE(lmc_model_open(DATA "llama-q8_0.gguf", &o, &m, &err) == 0, "%s", err.msg);
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    CHECK(!strcmp(d.architecture, "LlamaForCausalLM"), "architecture %s", d.architecture);
    CHECK(!strcmp(d.weights_dtype, "Q8_0"), "weights_dtype %s", d.weights_dtype);
    CHECK(d.vocab == 512 && d.dim == 32, "vocab %d dim %d", d.vocab, d.dim);
    /* the owned copies are the un-permuted q and k of 2 layers: (32 + 16) rows of 32 Q8_0 values (34 bytes) */
    size_t qk = 2 * (32 + 16) * 34;
    CHECK(lmc_weights_owned_bytes(m->w) == qk, "owned %zu, expected %zu", lmc_weights_owned_bytes(m->w), qk);
    CHECK(d.mapped_bytes + lmc_weights_owned_bytes(m->w) == lmc_weights_total_bytes(m->w), "mapped %zu",
          d.mapped_bytes);
    CHECK(d.resident_bytes >= qk && d.resident_bytes < qk + 4096, "resident %zu (f32: no packed copies)",
          d.resident_bytes);
    lmc_model_close(m);
    o.compute = LMC_COMPUTE_BF16;
    REQUIRE(lmc_model_open(DATA "llama-q8_0.gguf", &o, &m, &err) == 0, "%s", err.msg);
    lmc_model_describe(m, &d);
    /* bf16 packs every matrix (2 bytes per weight) and lm_head (the tied embedding) */
    CHECK(d.resident_bytes > 2 * (size_t)m->info.n_params, "bf16 resident %zu for %lld parameters",
          d.resident_bytes, (long long)m->info.n_params);
    lmc_model_close(m);
}

/* ---- errors ------------------------------------------------------------------------------------------- */

/* A GGUF of an architecture lmc does not implement: one line naming it. */
static void test_unknown_architecture(void) {
    uint8_t b[256];
    size_t n = 0;
#define PUT(ptr, len) (memcpy(b + n, ptr, len), n += (len))
    uint32_t version = 3, vt = LMC_GGUF_STRING;
    uint64_t n_t = 0, n_kv = 1, klen = 20, vlen = 5;
    PUT("GGUF", 4); PUT(&version, 4); PUT(&n_t, 8); PUT(&n_kv, 8);
    PUT(&klen, 8); PUT("general.architecture", 20); PUT(&vt, 4); PUT(&vlen, 8); PUT("mamba", 5);
#undef PUT
    const char *path = t_tmp("mamba.gguf");
    t_write_file(path, b, n);
    lmc_model *m;
    lmc_err err = {{0}};
    CHECK(lmc_model_open(path, NULL, &m, &err) != 0, "a mamba GGUF opened");
    CHECK(strstr(err.msg, "\"mamba\"") && strstr(err.msg, "not supported") && strstr(err.msg, path) &&
          !strchr(err.msg, '\n'), "message: %s", err.msg);
    unlink(path);
}

/* A tensor of a type lmc has no dequantizer for is named with its type, not reported missing. */
static void test_unsupported_type_named(void) {
    lmc_weights *w = lmc_weights_new("x.gguf", NULL, NULL);
    lmc_weights_add_unsupported(w, "model.layers.0.mlp.up_proj.weight", "Q3_K");
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_finish(w, &err) == 0, "%s", err.msg);
    CHECK(lmc_weights_get(w, "model.layers.0.mlp.up_proj.weight", &err) == NULL && strstr(err.msg, "Q3_K"),
          "message: %s", err.msg);
    lmc_weights_close(w);
}

int main(void) {
    if (access(DATA "llama-f32.gguf", R_OK) != 0 && chdir("..") != 0) return 2; /* run from the repo root */
    RUN(test_llama_f32_gguf_equals_hf);
    RUN(test_gpt2_f32_gguf_equals_hf);
    RUN(test_q8_0_equals_dequantized);
    RUN(test_q4_0_equals_dequantized);
    RUN(test_quantized_close_to_f32);
    RUN(test_linear_quantized_types);
    RUN(test_describe_and_memory);
    RUN(test_unknown_architecture);
    RUN(test_unsupported_type_named);
    t_tmp_cleanup();
    return test_summary();
}
