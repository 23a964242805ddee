/* attention_bf16.c — causal multi-head attention with bf16 operands: S = Q·Kᵀ and O += P·V as vdpbf16ps
 * micro-tiles (gemm_bf16_tile), softmax in f32. What a bf16 attention on a GPU computes: Q, K, V and the
 * probabilities P are rounded to bf16, every product is exact and every sum is f32.
 *
 * Orientation: queries are the GEMM's "rows" (the 32 lanes of a micro-tile), keys and value dimensions its
 * "tokens". So a score block S is stored key by key, S[j][r] = q_r · k_j with the 32 queries of a block in the
 * lanes, and the whole online softmax is lane-wise vector arithmetic: no horizontal max or sum, no transposes;
 * the probabilities are rounded straight into the panel layout the P·V tile reads, and O is kept as
 * O[d][r] (value dimension by query) until the block is done.
 *
 * Per KV head, K and V are rounded to bf16 once, in the GEMM's token-group layout (K: groups of 12 keys over
 * qk_dim pairs; V: groups of 12 value dimensions over key pairs), and shared by the query heads of its group.
 * One thread owns one (head, block of 32 queries) at a time and walks the key blocks of BK keys up to the
 * diagonal (later blocks skipped), keeping the running max m and sum l per query (flash-style online softmax):
 *     S = Q Kᵀ (f32);  m' = max(m, scale·rowmax S);  P = exp(fma(S, scale, −m'));  l = l·e^{m−m'} + Σ P;
 *     O = O·e^{m−m'} + bf16(P) · V;   finally out = O / l.          (scale > 0)
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
#define gemm_bf16_round_pairs_ emu_gemm_bf16_round_pairs
#define gemm_bf16_pack_into_ emu_gemm_bf16_pack_into
#define gemm_bf16_transpose16_ emu_gemm_bf16_transpose16
#define gemm_bf16_tile_ emu_gemm_bf16_tile
#else
#define AB_PUB(name) name
#define gemm_bf16_tile_supported_ gemm_bf16_tile_supported
#define gemm_bf16_round_group_ gemm_bf16_round_group
#define gemm_bf16_round_pairs_ gemm_bf16_round_pairs
#define gemm_bf16_pack_into_ gemm_bf16_pack_into
#define gemm_bf16_transpose16_ gemm_bf16_transpose16
#define gemm_bf16_tile_ gemm_bf16_tile
#endif

enum {
    AB_G = GEMM_BF16_GROUP, /* keys (value dimensions) per token group of a tile */
    AB_BQ = 32,             /* queries per block owned by a thread: the 32 rows of a micro-tile */
    AB_HC = 8,              /* heads per work item (one query block): the thread runs them in order */
};
/* Keys per block, a multiple of the group so that blocks start on a group: S is 192 × 32 f32 = 24 KiB and stays
 * in L1 with P and O. */
#ifndef AB_BK
#define AB_BK (16 * AB_G)
#endif

static inline int ab_min(int a, int b) { return a < b ? a : b; }
static inline size_t ab_pad(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* ---- the online softmax of one key block, lane-wise ----
 * S[j·32 + r]: raw scores of key s0 + j (j < bk) and query t0 + r (r < 32; lanes ≥ bq are computed but never
 * used). Query t0 + r sees key s0 + j when s0 + j ≤ t0 + r. Updates m, l (32), scales O (dv rows of 32) by
 * α = e^{m − m'}, and writes the probabilities as bf16 pairs of keys (2i, 2i + 1) into the P panels: query r's
 * pair i at pp[(r / 16)·pstride + i·16 + r % 16] (dwords), for i < ceil(bk / 2) (an odd last key pairs with 0).
 * exp is exp_poly.h's with its argument clamped at AB_EXP_MIN = −80: e^{−∞} never reaches it and no result is
 * subnormal (e^{−80} ≈ 1.8e−35; a weight that small next to the row's maximum, whose weight is 1, is below
 * f32 resolution anyway), so the bf16 rounding needs no flush. The AVX-512 code and the plain-C model below
 * perform the same operations on each lane in the same order. */
#define AB_EXP_MIN (-80.0f)
#ifndef GEMM_BF16_EMU
#define AB_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))
AB_TARGET static inline __m512 ab_exp16(__m512 x) { return exp_poly16(_mm512_max_ps(x, _mm512_set1_ps(AB_EXP_MIN))); }
/* lanes r of a 16-query half (queries t0 + r0 + r) that see key s0 + j */
static inline __mmask16 ab_visible(int s0, int j, int t0, int r0) {
    const int first = s0 + j - t0 - r0; /* the first lane that sees the key */
    return first <= 0 ? (__mmask16)0xffff : first >= 16 ? (__mmask16)0 : (__mmask16)(0xffffu << first);
}
/* two rows of 16 probabilities (normal or zero) → 16 dwords (lo: even key, hi: odd key) */
AB_TARGET static inline __m512i ab_pairs(__m512 e0, __m512 e1) {
    const __m512i h = (__m512i)_mm512_cvtne2ps_pbh(e1, e0);
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, h);
}
AB_TARGET static void ab_softmax(const float *S, int bk, int bq, int s0, int t0, float scale, float *m, float *l,
                                 uint32_t *pp, size_t pstride, float *O, int dv) {
    const __m512 vs = _mm512_set1_ps(scale), zero = _mm512_setzero_ps();
    const int full = s0 + bk - 1 <= t0; /* every query of the block sees every key of this block */
    for (int r0 = 0; r0 < bq; r0 += 16) {
        /* the row maxima in four chains (max is exact in any order; a single chain waits on every max) */
        __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
        int    j = 0;
#define AB_S(j) _mm512_loadu_ps(S + (size_t)(j) * AB_BQ + r0)
        if (full) {
            for (; j + 4 <= bk; j += 4) {
                m0 = _mm512_max_ps(m0, AB_S(j));
                m1 = _mm512_max_ps(m1, AB_S(j + 1));
                m2 = _mm512_max_ps(m2, AB_S(j + 2));
                m3 = _mm512_max_ps(m3, AB_S(j + 3));
            }
            for (; j < bk; j++) m0 = _mm512_max_ps(m0, AB_S(j));
        } else {
            for (; j + 4 <= bk; j += 4) {
                m0 = _mm512_mask_max_ps(m0, ab_visible(s0, j, t0, r0), m0, AB_S(j));
                m1 = _mm512_mask_max_ps(m1, ab_visible(s0, j + 1, t0, r0), m1, AB_S(j + 1));
                m2 = _mm512_mask_max_ps(m2, ab_visible(s0, j + 2, t0, r0), m2, AB_S(j + 2));
                m3 = _mm512_mask_max_ps(m3, ab_visible(s0, j + 3, t0, r0), m3, AB_S(j + 3));
            }
            for (; j < bk; j++) m0 = _mm512_mask_max_ps(m0, ab_visible(s0, j, t0, r0), m0, AB_S(j));
        }
#undef AB_S
        const __m512 mx = _mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3));
        const __m512 mold = _mm512_loadu_ps(m + r0);
        const __m512 mnew = _mm512_max_ps(mold, _mm512_mul_ps(mx, vs)), nm = _mm512_sub_ps(zero, mnew);
        const __m512 alpha = ab_exp16(_mm512_sub_ps(mold, mnew));
        __m512       sum = zero;
        uint32_t    *dst = pp + (size_t)(r0 / 16) * pstride;
        if (full && bk % 2 == 0)
            for (int j = 0; j < bk; j += 2) {
                const __m512 e0 = ab_exp16(_mm512_fmadd_ps(_mm512_loadu_ps(S + (size_t)j * AB_BQ + r0), vs, nm));
                const __m512 e1 = ab_exp16(_mm512_fmadd_ps(_mm512_loadu_ps(S + (size_t)(j + 1) * AB_BQ + r0), vs, nm));
                sum = _mm512_add_ps(_mm512_add_ps(sum, e0), e1);
                _mm512_store_si512((void *)(dst + (size_t)j / 2 * 16), ab_pairs(e0, e1));
            }
        else for (int j = 0; j < bk; j += 2) {
            const __m512 x0 = _mm512_loadu_ps(S + (size_t)j * AB_BQ + r0);
            const __m512 e0 = _mm512_maskz_mov_ps(ab_visible(s0, j, t0, r0), ab_exp16(_mm512_fmadd_ps(x0, vs, nm)));
            __m512       e1 = zero;
            if (j + 1 < bk) {
                const __m512 x1 = _mm512_loadu_ps(S + (size_t)(j + 1) * AB_BQ + r0);
                e1 = _mm512_maskz_mov_ps(ab_visible(s0, j + 1, t0, r0), ab_exp16(_mm512_fmadd_ps(x1, vs, nm)));
            }
            sum = _mm512_add_ps(_mm512_add_ps(sum, e0), e1);
            _mm512_store_si512((void *)(dst + (size_t)j / 2 * 16), ab_pairs(e0, e1));
        }
        _mm512_storeu_ps(l + r0, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(l + r0), alpha), sum));
        _mm512_storeu_ps(m + r0, mnew);
        for (int d = 0; d < dv; d++) {
            float *o = O + (size_t)d * AB_BQ + r0;
            _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_loadu_ps(o), alpha));
        }
    }
}
#else
static inline float ab_exp1(float x) { return exp_poly1(x > AB_EXP_MIN ? x : AB_EXP_MIN); } /* a lane of ab_exp16 */
static void ab_softmax(const float *S, int bk, int bq, int s0, int t0, float scale, float *m, float *l,
                       uint32_t *pp, size_t pstride, float *O, int dv) {
    for (int r = 0; r < bq; r++) {
        const int q = t0 + r;
        float     mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < bk && s0 + j <= q; j++) mx = S[(size_t)j * AB_BQ + r] > mx ? S[(size_t)j * AB_BQ + r] : mx;
        const float mnew = m[r] > mx * scale ? m[r] : mx * scale, alpha = ab_exp1(m[r] - mnew);
        float       e[2];
        for (int j = 0; j < bk; j += 2) {
            for (int u = 0; u < 2; u++)
                e[u] = j + u < bk && s0 + j + u <= q ? ab_exp1(fmaf(S[(size_t)(j + u) * AB_BQ + r], scale, 0.0f - mnew))
                                                     : 0.0f;
            sum = (sum + e[0]) + e[1];
            gemm_bf16_round_pairs_(pp + (size_t)(r / 16) * pstride + (size_t)j / 2 * 16 + r % 16, &e[0], &e[1], 1);
        }
        l[r] = l[r] * alpha + sum;
        m[r] = mnew;
        for (int d = 0; d < dv; d++) O[(size_t)d * AB_BQ + r] *= alpha;
    }
}
#endif

/* out row r (stride ldo) = O[·][r] / l[r] for r < bq, d < dv, in 16 × 16 blocks transposed in registers. */
static void ab_store(float *out, size_t ldo, const float *O, const float *l, int bq, int dv) {
    uint32_t t[16][16];
    for (int r0 = 0; r0 < bq; r0 += 16) {
        float inv[16];
        for (int r = 0; r < 16; r++) inv[r] = 1.0f / l[r0 + r];
        for (int d0 = 0; d0 < dv; d0 += 16) {
            const int nd = ab_min(16, dv - d0);
            for (int i = 0; i < nd; i++) {
                float row[16];
                for (int r = 0; r < 16; r++) row[r] = O[(size_t)(d0 + i) * AB_BQ + r0 + r] * inv[r];
                memcpy(t[i], row, sizeof row);
            }
            gemm_bf16_transpose16_((uint32_t *)(out + (size_t)r0 * ldo + d0), ldo, nd, t, nd, ab_min(16, bq - r0));
        }
    }
}

/* Layout of the shared part of the scratch (K and V per KV head) and of each thread's part. */
typedef struct ab_sizes {
    size_t k_head, v_head; /* dwords per KV head: K ceil(T/12) groups × ceil(qk/2) pairs × 12; V ceil(dv/12)
                            * groups × ceil(T/2) key pairs × 12 */
    size_t shared;         /* bytes, 64-aligned */
    size_t qp, pp, s, o;   /* per thread: dwords (Q panels), dwords (P panels), floats (S), floats (O) */
    size_t thread;         /* bytes, 64-aligned */
} ab_sizes;

static ab_sizes ab_layout(int T, int n_kv, int qk_dim, int v_dim) {
    ab_sizes z;
    z.k_head = ab_pad((size_t)T, AB_G) * ((size_t)(qk_dim + 1) / 2);
    z.v_head = ab_pad((size_t)v_dim, AB_G) * ((size_t)(T + 1) / 2);
    z.shared = ab_pad((size_t)n_kv * (z.k_head + z.v_head) * 4, 64);
    z.qp = (size_t)AB_BQ * ((size_t)(qk_dim + 1) / 2);
    z.pp = (size_t)AB_BQ * (AB_BK / 2);
    z.s = (size_t)AB_BQ * AB_BK;
    z.o = (size_t)AB_BQ * (size_t)v_dim;
    z.thread = ab_pad((z.qp + z.pp + z.s + z.o + 2 * AB_BQ) * 4, 64);
    return z;
}

size_t AB_PUB(attention_bf16_scratch_bytes)(int T, const attn_shape *s, int threads) {
    const ab_sizes z = ab_layout(T, s->n_kv_heads, s->qk_dim, s->v_dim);
    return z.shared + (size_t)(threads > 0 ? threads : 1) * z.thread + 64;
}

typedef struct ab_job {
    float          *out;
    const float    *q;
    int             q_stride, T, n_heads, group, qk_dim, v_dim;
    float           scale;
    const uint32_t *kx, *vx; /* K and V of KV head 0 in the group layouts; head g at + g·k_head / g·v_head */
    ab_sizes        z;
} ab_job;

/* V (T, v_dim) of one KV head, row stride ldv → vx[g][p][j] = the pair (V[2p][12g + j], V[2p + 1][12g + j]);
 * a missing last key and dimensions past v_dim are zero. */
static void ab_pack_v(uint32_t *vx, const float *v, int ldv, int T, int dv) {
    const int T2 = (T + 1) / 2, G = (dv + AB_G - 1) / AB_G;
    uint32_t  row[G * AB_G];
    memset(row, 0, sizeof row);
    for (int p = 0; p < T2; p++) {
        const float *v0 = v + (size_t)(2 * p) * ldv;
        gemm_bf16_round_pairs_(row, v0, 2 * p + 1 < T ? v0 + ldv : NULL, dv);
        for (int g = 0; g < G; g++) memcpy(vx + ((size_t)g * T2 + p) * AB_G, row + g * AB_G, AB_G * 4);
    }
}

/* The rows of head h's queries t0 .. t0+bq in q and in out, prefetched into L2 while the head before it runs:
 * they are 32 rows a whole q / out row apart (n_heads · dim floats), which the hardware prefetchers do not
 * foresee, and reading them was ~10 % of the kernel's time. */
static void ab_prefetch_rows(const ab_job *J, int h, int t0) {
    const int    bq = ab_min(AB_BQ, J->T - t0);
    const float *q = J->q + (size_t)t0 * J->q_stride + (size_t)h * J->qk_dim;
    float       *o = J->out + ((size_t)t0 * J->n_heads + h) * J->v_dim;
    for (int r = 0; r < bq; r++) {
        for (int c = 0; c < J->qk_dim; c += 16) __builtin_prefetch(q + (size_t)r * J->q_stride + c, 0, 2);
        for (int c = 0; c < J->v_dim; c += 16) __builtin_prefetch(o + (size_t)r * J->n_heads * J->v_dim + c, 1, 2);
    }
}

/* One (head h, queries t0 .. t0+bq) block. ws: this thread's scratch. */
static void ab_block(const ab_job *J, int h, int t0, char *ws) {
    const int T = J->T, D = J->qk_dim, Dv = J->v_dim, D2 = (D + 1) / 2, T2 = (T + 1) / 2;
    const int bq = ab_min(AB_BQ, T - t0);
    uint32_t *qp = (uint32_t *)ws, *pp = qp + J->z.qp;
    float    *S = (float *)(pp + J->z.pp), *O = S + J->z.s, *m = O + J->z.o, *l = m + AB_BQ;
    const uint32_t *kx = J->kx + (size_t)(h / J->group) * J->z.k_head;
    const uint32_t *vx = J->vx + (size_t)(h / J->group) * J->z.v_head;
    const size_t    q_panel = (size_t)D2 * 32, p_panel = (size_t)(AB_BK / 2) * 32; /* uint16 per panel */

    gemm_bf16_pack_into_((uint16_t *)qp, J->q + (size_t)t0 * J->q_stride + (size_t)h * D, (size_t)J->q_stride, bq, D);
    memset(O, 0, sizeof(float) * (size_t)AB_BQ * Dv);
    for (int i = 0; i < AB_BQ; i++) m[i] = -INFINITY, l[i] = 0.0f;

    const int last = t0 + bq; /* keys < last are visible to some query of the block */
    for (int s0 = 0; s0 < last; s0 += AB_BK) {
        const int bk = ab_min(AB_BK, last - s0);
        for (int j0 = 0; j0 < bk; j0 += AB_G) /* S[j][r] = q_r · k_{s0+j}, 12 keys per tile */
            gemm_bf16_tile_(S + (size_t)j0 * AB_BQ, AB_BQ, (const uint16_t *)qp, q_panel, bq,
                            kx + (size_t)(s0 + j0) / AB_G * D2 * AB_G, ab_min(AB_G, bk - j0), D2, 0);
        ab_softmax(S, bk, bq, s0, t0, J->scale, m, l, pp, p_panel / 2, O, Dv);
        for (int d0 = 0; d0 < Dv; d0 += AB_G) /* O[d][r] += Σ_j P[r][j] · V[s0+j][d], 12 dimensions per tile */
            gemm_bf16_tile_(O + (size_t)d0 * AB_BQ, AB_BQ, (const uint16_t *)pp, p_panel, bq,
                            vx + ((size_t)(d0 / AB_G) * T2 + (size_t)s0 / 2) * AB_G, ab_min(AB_G, Dv - d0),
                            (bk + 1) / 2, 1);
    }
    ab_store(J->out + ((size_t)t0 * J->n_heads + h) * Dv, (size_t)J->n_heads * Dv, O, l, bq, Dv);
}

int AB_PUB(attention_causal_bf16)(float *out, const float *q, const float *k, const float *v, int T,
                                  const attn_shape *s, void *scratch, int threads) {
    const int q_stride = s->q_stride, k_stride = s->k_stride, v_stride = s->v_stride, n_heads = s->n_heads;
    const int n_kv_heads = s->n_kv_heads, qk_dim = s->qk_dim, v_dim = s->v_dim;
    const float scale = s->scale;
    if (!gemm_bf16_tile_supported_()) return -1;
    if (T <= 0) return 0;
    const ab_sizes z = ab_layout(T, n_kv_heads, qk_dim, v_dim);
    char          *base = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    uint32_t      *kx = (uint32_t *)base, *vx = kx + (size_t)n_kv_heads * z.k_head;
    const ab_job   J = {out, q, q_stride, T, n_heads, n_heads / n_kv_heads, qk_dim, v_dim, scale, kx, vx, z};
    const int      n_qblocks = (T + AB_BQ - 1) / AB_BQ, n_kgroups = (T + AB_G - 1) / AB_G;
    const int      D2 = (qk_dim + 1) / 2, n_hchunks = (n_heads + AB_HC - 1) / AB_HC;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        /* K and V of every KV head rounded to bf16 once, shared by the group's query heads */
#pragma omp for schedule(static)
        for (int i = 0; i < n_kv_heads * (n_kgroups + 1); i++) {
            const int g = i / (n_kgroups + 1), u = i % (n_kgroups + 1);
            if (u < n_kgroups)
                gemm_bf16_round_group_(kx + (size_t)g * z.k_head + (size_t)u * D2 * AB_G,
                                       k + (size_t)u * AB_G * k_stride + (size_t)g * qk_dim, (size_t)k_stride,
                                       ab_min(AB_G, T - u * AB_G), qk_dim);
            else ab_pack_v(vx + (size_t)g * z.v_head, v + (size_t)g * v_dim, v_stride, T, v_dim);
        }
        char *ws = base + z.shared + (size_t)omp_get_thread_num() * z.thread;
        /* later query blocks do more work: hand them out first; a thread takes AB_HC heads of a query block at a
         * time, so it knows the next head's rows and prefetches them */
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int qb = n_qblocks - 1; qb >= 0; qb--)
            for (int hc = 0; hc < n_hchunks; hc++) {
                const int h_end = ab_min(n_heads, (hc + 1) * AB_HC);
                for (int h = hc * AB_HC; h < h_end; h++) {
                    if (h + 1 < h_end) ab_prefetch_rows(&J, h + 1, qb * AB_BQ);
                    ab_block(&J, h, qb * AB_BQ, ws);
                }
            }
    }
    return 0;
}
