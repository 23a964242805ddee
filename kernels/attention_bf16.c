/* attention_bf16.c — causal multi-head attention with bf16 operands: S = Q·Kᵀ and O += P·V as vdpbf16ps
 * micro-tiles (gemm_bf16_tile), softmax in f32. What a bf16 attention on a GPU computes: Q, K, V and the
 * probabilities P are rounded to bf16, every product is exact and every sum is f32.
 *
 * Per KV head, K (T, qk_dim) and Vᵀ (v_dim, T) are packed once into the GEMM's panel layout and shared by the
 * query heads of its group. One thread owns one (head, block of BQ queries) at a time, walks the key blocks of
 * BK keys up to the diagonal (later blocks skipped, key units past each query group's last query not
 * computed), and keeps the running max m and sum l per query (flash-style online softmax):
 *     S = scale · Q Kᵀ (f32);  m' = max(m, rowmax S);  P = exp(S − m');  l = l·e^{m−m'} + Σ P;
 *     O = O·e^{m−m'} + bf16(P) · V;   finally out = O / l.
 * Every output row is produced by one thread in a fixed order, so the bits do not depend on the thread count.
 *
 * Built with GEMM_BF16_EMU (tests/test_attention_bf16.c), the public function is emu_attention_causal_bf16 and
 * runs on the plain-C model of the instructions, so hardware and model can be compared bit for bit. */
#include "exp_poly.h"
#include "gemm_bf16.h"
#include "kernels.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#ifdef GEMM_BF16_EMU
#define AB_PUB(name) emu_##name
#define gemm_bf16_tile_supported_ emu_gemm_bf16_tile_supported
#define gemm_bf16_round_group_ emu_gemm_bf16_round_group
#define gemm_bf16_pack_into_ emu_gemm_bf16_pack_into
#define gemm_bf16_tile_ emu_gemm_bf16_tile
#else
#define AB_PUB(name) name
#define gemm_bf16_tile_supported_ gemm_bf16_tile_supported
#define gemm_bf16_round_group_ gemm_bf16_round_group
#define gemm_bf16_pack_into_ gemm_bf16_pack_into
#define gemm_bf16_tile_ gemm_bf16_tile
#endif

enum {
    AB_G = GEMM_BF16_GROUP, /* queries per group (one micro-tile's tokens) */
    AB_BQ = 4 * AB_G,       /* queries per block owned by a thread */
    AB_BK = 256,            /* keys per block (a multiple of the 32-key unit) */
};

static inline int ab_min(int a, int b) { return a < b ? a : b; }
static inline size_t ab_pad(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* ---- one row of the online softmax, 16 lanes at a time ----
 * row[0..visible): raw scores q·k. Sets row[j] = exp(scale·row[j] − m') for j < visible and 0 for visible ≤ j <
 * width, where m' = max(m, scale·max row); updates m, l and returns α = e^{m − m'} (the factor for O).
 * exp is exp_poly.h's (≈ 2 ulp, as softmax.c). Written once with AVX-512 intrinsics and once as a plain-C model
 * of the same 16-lane operations (exp_poly1, lane sums in a fixed order), so the emulated build gives the
 * hardware's bits. */
#ifndef GEMM_BF16_EMU
#define AB_TARGET __attribute__((target("avx512f")))
AB_TARGET static inline __m512 ab_exp16(__m512 x) { return exp_poly16(_mm512_max_ps(x, _mm512_set1_ps(-87.0f))); }
AB_TARGET static float ab_softmax_row(float *row, int visible, int width, float scale, float *m, float *l) {
    const __m512 vs = _mm512_set1_ps(scale);
    __m512       vmax = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < visible; j += 16) {
        const __mmask16 k = visible - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (visible - j)) - 1);
        const __m512    x = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), vs);
        _mm512_mask_storeu_ps(row + j, k, x);
        vmax = _mm512_mask_max_ps(vmax, k, vmax, x);
    }
    float lanes[16], bm = -INFINITY;
    _mm512_storeu_ps(lanes, vmax);
    for (int i = 0; i < 16; i++) bm = lanes[i] > bm ? lanes[i] : bm;
    const float  mx = bm > *m ? bm : *m, alpha = expf(*m - mx);
    const __m512 vm = _mm512_set1_ps(mx);
    __m512       acc = _mm512_setzero_ps();
    for (int j = 0; j < width; j += 16) {
        const int       nv = visible - j;
        const __mmask16 kv = nv >= 16 ? (__mmask16)0xffff : nv <= 0 ? 0 : (__mmask16)((1u << nv) - 1);
        const __mmask16 kw = width - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (width - j)) - 1);
        const __m512    e = _mm512_maskz_mov_ps(kv, ab_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(kv, row + j), vm)));
        _mm512_mask_storeu_ps(row + j, kw, e);
        acc = _mm512_add_ps(acc, e);
    }
    _mm512_storeu_ps(lanes, acc);
    float sum = 0;
    for (int i = 0; i < 16; i++) sum += lanes[i];
    *l = *l * alpha + sum;
    *m = mx;
    return alpha;
}
#else
static inline float ab_exp1(float x) { return exp_poly1(x > -87.0f ? x : -87.0f); } /* a lane of ab_exp16 */
static float ab_softmax_row(float *row, int visible, int width, float scale, float *m, float *l) {
    float lanes[16];
    for (int i = 0; i < 16; i++) lanes[i] = -INFINITY;
    for (int j = 0; j < visible; j++) {
        row[j] *= scale;
        lanes[j % 16] = row[j] > lanes[j % 16] ? row[j] : lanes[j % 16];
    }
    float bm = -INFINITY;
    for (int i = 0; i < 16; i++) bm = lanes[i] > bm ? lanes[i] : bm;
    const float mx = bm > *m ? bm : *m, alpha = expf(*m - mx);
    for (int i = 0; i < 16; i++) lanes[i] = 0.0f;
    for (int j = 0; j < width; j++) {
        const float e = j < visible ? ab_exp1(row[j] - mx) : 0.0f;
        row[j] = e;
        lanes[j % 16] += e;
    }
    float sum = 0;
    for (int i = 0; i < 16; i++) sum += lanes[i];
    *l = *l * alpha + sum;
    *m = mx;
    return alpha;
}
#endif

/* Layout of the shared part of the scratch (packed K and Vᵀ per KV head) and of each thread's part. */
typedef struct ab_sizes {
    size_t k_head, v_head; /* uint16 values per KV head */
    size_t shared;         /* bytes, 64-aligned */
    size_t qz, pz, s, o;   /* per thread: dwords, dwords, floats, floats */
    size_t thread;         /* bytes, 64-aligned */
} ab_sizes;

static ab_sizes ab_layout(int T, int n_kv, int qk_dim, int v_dim) {
    ab_sizes z;
    z.k_head = ab_pad((size_t)T, 16) * ab_pad((size_t)qk_dim, 2);
    z.v_head = ab_pad((size_t)v_dim, 16) * ab_pad((size_t)T, 2);
    z.shared = ab_pad((size_t)n_kv * (z.k_head + z.v_head) * 2, 64);
    z.qz = (size_t)(AB_BQ / AB_G) * ((size_t)(qk_dim + 1) / 2) * AB_G;
    z.pz = (size_t)(AB_BQ / AB_G) * (AB_BK / 2) * AB_G;
    z.s = (size_t)AB_BQ * AB_BK;
    z.o = (size_t)AB_BQ * v_dim;
    z.thread = ab_pad((z.qz + z.pz) * 4 + (z.s + z.o + 2 * AB_BQ) * 4, 64);
    return z;
}

size_t AB_PUB(attention_bf16_scratch_bytes)(int T, int n_kv_heads, int qk_dim, int v_dim, int threads) {
    const ab_sizes z = ab_layout(T, n_kv_heads, qk_dim, v_dim);
    return z.shared + (size_t)(threads > 0 ? threads : 1) * z.thread + 64;
}

typedef struct ab_job {
    float       *out;
    const float *q;
    int          q_stride, T, n_heads, group, qk_dim, v_dim;
    float        scale;
    const uint16_t *kp, *vp; /* packed K, Vᵀ of KV head 0; head g at + g·k_head / g·v_head */
    ab_sizes     z;
} ab_job;

/* One (head h, queries t0 .. t0+bq) block. ws: this thread's scratch. */
static void ab_block(const ab_job *J, int h, int t0, char *ws) {
    const int T = J->T, D = J->qk_dim, Dv = J->v_dim, D2 = (D + 1) / 2, T2 = (T + 1) / 2;
    const int bq = ab_min(AB_BQ, T - t0), ng = (bq + AB_G - 1) / AB_G;
    uint32_t *qz = (uint32_t *)ws, *pz = qz + J->z.qz;
    float    *S = (float *)(pz + J->z.pz), *O = S + J->z.s, *m = O + J->z.o, *l = m + AB_BQ;
    const uint16_t *kp = J->kp + (size_t)(h / J->group) * J->z.k_head;
    const uint16_t *vp = J->vp + (size_t)(h / J->group) * J->z.v_head;
    const size_t k_panel = (size_t)D2 * 32, v_panel = (size_t)T2 * 32;

    for (int g = 0; g < ng; g++) {
        const int nt = ab_min(AB_G, bq - g * AB_G);
        gemm_bf16_round_group_(qz + (size_t)g * D2 * AB_G,
                               J->q + (size_t)(t0 + g * AB_G) * J->q_stride + (size_t)h * D, J->q_stride, nt, D);
    }
    memset(O, 0, sizeof(float) * (size_t)bq * Dv);
    for (int i = 0; i < bq; i++) m[i] = -INFINITY, l[i] = 0.0f;

    const int last = t0 + bq; /* keys < last are visible to some query of the block */
    for (int s0 = 0; s0 < last; s0 += AB_BK) {
        const int bk = ab_min(AB_BK, last - s0), bk2 = (bk + 1) / 2;
        /* S = Q Kᵀ, key units of 32 that some query of the group can see */
        for (int g = 0; g < ng; g++) {
            const int nt = ab_min(AB_G, bq - g * AB_G), tmax = t0 + g * AB_G + nt - 1;
            for (int n0 = 0; n0 < bk && s0 + n0 <= tmax; n0 += 32)
                gemm_bf16_tile_(S + (size_t)g * AB_G * AB_BK + n0, AB_BK,
                                kp + (size_t)((s0 + n0) / 16) * k_panel, k_panel, ab_min(32, bk - n0),
                                qz + (size_t)g * D2 * AB_G, nt, D2, 0);
        }
        /* online softmax per query row; P (unnormalised, masked, zero-padded to bk2 pairs) back into S */
        for (int i = 0; i < bq; i++) {
            const int visible = ab_min(t0 + i - s0 + 1, bk); /* keys s0 .. t0+i */
            if (visible <= 0) { /* the whole block is in this query's future */
                memset(S + (size_t)i * AB_BK, 0, sizeof(float) * 2 * bk2);
                continue;
            }
            const float alpha = ab_softmax_row(S + (size_t)i * AB_BK, visible, 2 * bk2, J->scale, &m[i], &l[i]);
            if (alpha != 1.0f) {
                float *o = O + (size_t)i * Dv;
                for (int d = 0; d < Dv; d++) o[d] *= alpha;
            }
        }
        /* O += P · V: P rows in the group layout, Vᵀ panels at key pair s0/2 */
        for (int g = 0; g < ng; g++) {
            const int nt = ab_min(AB_G, bq - g * AB_G), tmax = t0 + g * AB_G + nt - 1;
            const int kv = ab_min(bk, tmax - s0 + 1), nk = (kv + 1) / 2; /* pairs with a visible key */
            if (nk <= 0) continue;
            uint32_t *pg = pz + (size_t)g * (AB_BK / 2) * AB_G;
            gemm_bf16_round_group_(pg, S + (size_t)g * AB_G * AB_BK, AB_BK, nt, 2 * nk);
            for (int d0 = 0; d0 < Dv; d0 += 32)
                gemm_bf16_tile_(O + (size_t)g * AB_G * Dv + d0, Dv, vp + (size_t)(d0 / 16) * v_panel + (size_t)s0 / 2 * 32,
                                v_panel, ab_min(32, Dv - d0), pg, nt, nk, 1);
        }
    }
    for (int i = 0; i < bq; i++) {
        const float inv = 1.0f / l[i];
        float      *dst = J->out + ((size_t)(t0 + i) * J->n_heads + h) * Dv;
        for (int d = 0; d < Dv; d++) dst[d] = O[(size_t)i * Dv + d] * inv;
    }
}

int AB_PUB(attention_causal_bf16)(float *out, const float *q, int q_stride, const float *k, int k_stride,
                                  const float *v, int v_stride, int T, int n_heads, int n_kv_heads, int qk_dim,
                                  int v_dim, float scale, void *scratch, int threads) {
    if (!gemm_bf16_tile_supported_()) return -1;
    if (T <= 0) return 0;
    const ab_sizes z = ab_layout(T, n_kv_heads, qk_dim, v_dim);
    char          *base = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    uint16_t      *kp = (uint16_t *)base, *vp = kp + (size_t)n_kv_heads * z.k_head;
    const ab_job   J = {out, q, q_stride, T, n_heads, n_heads / n_kv_heads, qk_dim, v_dim, scale, kp, vp, z};
    const int      n_qblocks = (T + AB_BQ - 1) / AB_BQ;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        /* pack K and Vᵀ of every KV head (rounded to bf16 once, shared by the group's query heads) */
#pragma omp for schedule(static)
        for (int i = 0; i < 2 * n_kv_heads; i++) {
            const int g = i / 2;
            if (i % 2 == 0) gemm_bf16_pack_into_(kp + (size_t)g * z.k_head, k + (size_t)g * qk_dim, k_stride, T, qk_dim, 0);
            else gemm_bf16_pack_into_(vp + (size_t)g * z.v_head, v + (size_t)g * v_dim, v_stride, v_dim, T, 1);
        }
        char *ws = base + z.shared + (size_t)omp_get_thread_num() * z.thread;
        /* later query blocks do more work: hand them out first */
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int qb = n_qblocks - 1; qb >= 0; qb--)
            for (int h = 0; h < n_heads; h++) ab_block(&J, h, qb * AB_BQ, ws);
    }
    return 0;
}
