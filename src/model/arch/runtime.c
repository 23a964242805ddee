/* runtime.c — what a forward runs on, shared by every architecture (see arch.h): the compute plan, one arena
 * per forward holding the activations (pointed from the architecture's table) and the scratch the plan's
 * kernels need, attention (a window's, or a step's over the KV cache), and the time split of a forward. The
 * weights are loaded by arch/load.c.
 *
 * Sections: the plan · the arena · a forward · attention. */
#include "model/arch/arch.h"
#include "gemm_bf16.h"
#include "kernels.h"
#include "common/util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the plan ---- */

lmc_compute_plan arch_compute_plan(lmc_linear_mode matmul) {
    lmc_compute_plan p = {.matmul = matmul};
    if (matmul == LMC_LINEAR_F32) {
        snprintf(p.kernels, sizeof p.kernels, "f32 sgemm (OpenBLAS), f32 attention");
        return p;
    }
    p.attn_bf16 = gemm_bf16_tile_supported();
    p.fused_linear = matmul == LMC_LINEAR_BF16_PACKED || matmul == LMC_LINEAR_INT8;
    const int path = gemm_bf16_auto_path();
    const char *gemm = path == GEMM_BF16_AVX512 ? "avx512bf16"
                     : path == GEMM_BF16_AVX2   ? "avx2 (bf16 widened to f32)"
                                                : "plain C";
    const char *attn = p.attn_bf16 ? "bf16 attention"
                     : gemm_bf16_path_supported(GEMM_BF16_AVX2) ? "f32 attention (no AVX512_BF16)"
                                                                : "f32 attention (no AVX2)";
    if (matmul == LMC_LINEAR_INT8)
        snprintf(p.kernels, sizeof p.kernels, "int8 GEMM %s (activation blocks of %d), %s",
                 gemm_i8_path_name(gemm_i8_auto_path()), GEMM_I8_QK, attn);
    else snprintf(p.kernels, sizeof p.kernels, "bf16 GEMM %s, %s", gemm, attn);
    return p;
}

/* ---- the arena ----
 * A T-token forward's memory, in order: the activations (the architecture's table, each buffer 64-byte aligned),
 * the fused linears' scratch, the bf16 attention's scratch. Allocated for the first window and grown only when a
 * longer one arrives, so T = 1 steps and later windows allocate nothing. */

int arch_acts_copy(arch_act *tab, const arch_act *lines, size_t n) {
    memcpy(tab, lines, n * sizeof *lines);
    return (int)n;
}

/* Each buffer starts on a 64-byte boundary (16 floats), as a fresh malloc would give the widest loads. */
static size_t act_floats(const arch_act *e, int T) { return (e->per_token * (size_t)T + e->fixed + 15) / 16 * 16; }

static size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* The arena's parts for T tokens and `threads` threads: activations, then each scratch use (0 when unused). */
static size_t arena_parts(const lmc_arch *a, void *state, int T, int threads, size_t scratch[ARCH_SCRATCH_N]) {
    const arch_base *b = state;
    arch_act tab[ARCH_MAX_ACTS];
    int n = a->acts(state, tab);
    size_t acts = 0;
    for (int i = 0; i < n; i++) acts += act_floats(&tab[i], T) * sizeof(float);
    scratch[ARCH_SCRATCH_LINEAR] = b->plan.fused_linear ? round64(lmc_linear_scratch_bytes(T, b->max_k)) : 0;
    scratch[ARCH_SCRATCH_ATTENTION] =
        b->plan.attn_bf16 ? round64(attention_bf16_scratch_bytes(T, &b->attn, threads)) : 0;
    return acts;
}

size_t arch_scratch_bytes(const lmc_arch *a, void *state, int T) {
    size_t scratch[ARCH_SCRATCH_N], bytes = arena_parts(a, state, T, omp_get_max_threads(), scratch);
    for (int u = 0; u < ARCH_SCRATCH_N; u++) bytes += scratch[u];
    return bytes;
}

/* Points the activation table and the scratch for T tokens, growing the arena when it is too small. */
static int point_arena(const lmc_arch *a, void *state, int T, lmc_err *err) {
    arch_base *b = state;
    arch_act tab[ARCH_MAX_ACTS];
    int n = a->acts(state, tab);
    size_t scratch[ARCH_SCRATCH_N], acts = arena_parts(a, state, T, b->threads = omp_get_max_threads(), scratch);
    size_t bytes = acts + scratch[ARCH_SCRATCH_LINEAR] + scratch[ARCH_SCRATCH_ATTENTION];
    if (bytes > b->arena_bytes) { /* the first window, or a longer one than any before */
        free(b->arena);
        b->arena_bytes = 0;
        if (!(b->arena = aligned_alloc(64, bytes)))
            return lmc_fail(err, "out of memory for the activations and scratch of a %d-token window (%.1f MB)", T,
                            bytes / 1e6);
        b->arena_bytes = bytes;
    }
    float *p = b->arena;
    for (int i = 0; i < n; i++) {
        if (tab[i].p) *tab[i].p = p;
        else *tab[i].ip = (int32_t *)p; /* malloc'ed memory: any 4-byte type may live there */
        p += act_floats(&tab[i], T);
    }
    char *s = (char *)b->arena + acts;
    for (int u = 0; u < ARCH_SCRATCH_N; u++) {
        b->scratch[u] = scratch[u] ? s : NULL;
        s += scratch[u];
    }
    return 0;
}

void *arch_linear_scratch(const arch_base *b) { return b->scratch[ARCH_SCRATCH_LINEAR]; }

/* ---- a forward ---- */

/* Points the activations for T, runs the forward (a window or a step) and adds its time split. Matmuls and
 * attention time themselves; the rest of the forward (norms, RoPE, activations, residual adds, embedding,
 * routing) is what remains, so a forward needs no timing code of its own. */
static int timed_run(const lmc_arch *a, void *state, arch_kv *kv, const int32_t *tokens, int T, float *hidden,
                     lmc_err *err) {
    arch_base *b = state;
    if (point_arena(a, state, T, err)) return -1;
    lmc_prof *pr = &b->prof;
    double t0 = lmc_now(), k0 = pr->seconds[PROF_MATMUL] + pr->seconds[PROF_ATTENTION];
    int rc = a->run(state, kv, tokens, T, hidden, err);
    double k1 = pr->seconds[PROF_MATMUL] + pr->seconds[PROF_ATTENTION];
    pr->seconds[PROF_ELEMWISE] += (lmc_now() - t0) - (k1 - k0);
    return rc;
}

int arch_forward(const lmc_arch *a, void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    return timed_run(a, state, NULL, tokens, T, hidden, err);
}

int arch_step(const lmc_arch *a, void *state, arch_kv *kv, const int32_t *tokens, int n, float *hidden,
              lmc_err *err) {
    return timed_run(a, state, kv, tokens, n, hidden, err);
}

/* ---- attention ---- */

void arch_set_attention(arch_base *b, int n_layers, attn_shape s) {
    b->attn = s;
    b->info.attn_dims = (double)n_layers * s.n_heads * (s.qk_dim + s.v_dim);
}

/* A window's causal attention, timed into the model's profiler: bf16 operands where the plan says so (bf16
 * compute on an AVX512_BF16 CPU, as a bf16 evaluation on a GPU does), else f32. The bf16 kernel refuses only a
 * CPU without AVX512_BF16, which the plan has ruled out; its scratch was sized for this T in the arena. */
static void attention_window(arch_base *b, float *out, const float *q, const float *k, const float *v, int T,
                             const attn_shape *s) {
    double t0 = lmc_now();
    if (b->plan.attn_bf16) attention_causal_bf16(out, q, k, v, T, s, b->scratch[ARCH_SCRATCH_ATTENTION], b->threads);
    else if (attention_causal(out, q, k, v, T, s)) lmc_oom(attention_causal_bytes(s), "attention's score tiles");
    b->prof.seconds[PROF_ATTENTION] += lmc_now() - t0;
}

/* A step's attention: the T new queries over layer l of the cache, to which their keys and values are appended
 * first. The cache holds exactly what the prefill's attention reads (keys after RoPE, values), one row per
 * position, so a step's attention sees the same numbers as a prefill of the whole sequence would. */
static void attention_step(arch_base *b, arch_kv *kv, int l, float *out, const float *q, const float *k,
                           const float *v, int T, const attn_shape *s) {
    size_t kw = (size_t)kv->k_width, vw = (size_t)kv->v_width;
    float *kc = arch_kv_k(kv, l), *vc = arch_kv_v(kv, l);
    for (int t = 0; t < T; t++) {
        memcpy(kc + (size_t)(kv->pos + t) * kw, k + (size_t)t * s->k_stride, sizeof(float) * kw);
        memcpy(vc + (size_t)(kv->pos + t) * vw, v + (size_t)t * s->v_stride, sizeof(float) * vw);
    }
    attn_shape cached = *s; /* the cache's rows are one position's keys / values, packed */
    cached.k_stride = (int)kw;
    cached.v_stride = (int)vw;
    double t0 = lmc_now();
    if (attention_prefix(out, q, kc, vc, T, kv->pos, &cached))
        lmc_oom(attention_prefix_bytes(T, kv->pos), "attention's score rows over the KV cache");
    b->prof.seconds[PROF_ATTENTION] += lmc_now() - t0;
}

void arch_attend(arch_base *b, arch_kv *kv, int l, float *out, const float *q, const float *k, const float *v, int T,
                 const attn_shape *s) {
    if (kv) attention_step(b, kv, l, out, q, k, v, T, s);
    else attention_window(b, out, q, k, v, T, s);
}
