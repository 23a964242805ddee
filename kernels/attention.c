/* attention.c — causal multi-head attention for a prefill, tiled flash-style.
 *
 * For each (head, block of BQ queries) one thread walks the key blocks up to the diagonal: S = Q·Kᵀ (sgemm),
 * causal mask on the diagonal block, online softmax (running max m and sum l per row), O = O·α + P·V (sgemm).
 * Blocks past the diagonal are skipped, and no T×T score matrix ever exists. Each output row is produced by
 * one thread in a fixed order, so the result does not depend on the thread count. */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { BQ = 64, BK = 512 };

/* Query head h (reading KV head g), queries t0 .. t0+BQ: S, O, m, l are the calling thread's tiles. */
static void attend_block(float *out, const float *q, const float *k, const float *v, int T, const attn_shape *s,
                         int h, int g, int t0, float *S, float *O, float *m, float *l) {
    const int q_stride = s->q_stride, k_stride = s->k_stride, v_stride = s->v_stride, n_heads = s->n_heads;
    const int qk_dim = s->qk_dim, v_dim = s->v_dim;
    const float scale = s->scale;
    int bq = T - t0 < BQ ? T - t0 : BQ;
    const float *qb = q + (size_t)t0 * q_stride + (size_t)h * qk_dim;
    memset(O, 0, sizeof(float) * (size_t)bq * v_dim);
    for (int i = 0; i < bq; i++) { m[i] = -INFINITY; l[i] = 0; }
    int last = t0 + bq; /* keys < last can be visible */
    for (int s0 = 0; s0 < last; s0 += BK) {
        int bk = last - s0 < BK ? last - s0 : BK;
        const float *kb = k + (size_t)s0 * k_stride + (size_t)g * qk_dim;
        const float *vb = v + (size_t)s0 * v_stride + (size_t)g * v_dim;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bk, qk_dim, scale, qb, q_stride, kb, k_stride,
                    0.0f, S, BK);
        for (int i = 0; i < bq; i++) {
            float *row = S + (size_t)i * BK;
            int visible = t0 + i - s0 + 1; /* keys s0 .. t0+i */
            if (visible > bk) visible = bk;
            float bm = vec_max(row, visible), mx = bm > m[i] ? bm : m[i];
            float alpha = expf(m[i] - mx); /* 0 on the first block (m = -inf) */
            float sum = vec_exp_sub_sum(row, visible, mx);
            for (int j = visible; j < bk; j++) row[j] = 0.0f;
            l[i] = l[i] * alpha + sum;
            m[i] = mx;
            float *o = O + (size_t)i * v_dim;
            for (int d = 0; d < v_dim; d++) o[d] *= alpha;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, v_dim, bk, 1.0f, S, BK, vb, v_stride, 1.0f,
                    O, v_dim);
    }
    for (int i = 0; i < bq; i++) {
        float inv = 1.0f / l[i];
        float *dst = out + ((size_t)(t0 + i) * n_heads + h) * v_dim;
        for (int d = 0; d < v_dim; d++) dst[d] = O[(size_t)i * v_dim + d] * inv;
    }
}

size_t attention_causal_bytes(const attn_shape *s) {
    return sizeof(float) * (size_t)BQ * ((size_t)BK + (size_t)s->v_dim) * (size_t)omp_get_max_threads();
}

/* The threads' tiles are allocated before the parallel region, where a failure can be returned. */
int attention_causal(float *out, const float *q, const float *k, const float *v, int T, const attn_shape *s) {
    const int n_heads = s->n_heads, v_dim = s->v_dim, threads = omp_get_max_threads();
    int n_qblocks = (T + BQ - 1) / BQ, group = n_heads / s->n_kv_heads;
    float *tiles = malloc(attention_causal_bytes(s));
    if (!tiles) return -1;
    (void)threads; /* read by the pragma only: a build without OpenMP ignores it */
#pragma omp parallel num_threads(threads)
    {
        float *S = tiles + (size_t)omp_get_thread_num() * BQ * ((size_t)BK + (size_t)v_dim);
        float *O = S + (size_t)BQ * BK;
        float m[BQ], l[BQ];
        /* Later query blocks do more work: hand them out first, dynamically. */
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int qb = n_qblocks - 1; qb >= 0; qb--)
            for (int h = 0; h < n_heads; h++)
                attend_block(out, q, k, v, T, s, h, h / group, qb * BQ, S, O, m, l);
    }
    free(tiles);
    return 0;
}

/* ---- attention over a KV cache (incremental decoding) ----
 * n new queries at positions pos..pos+n-1 against the cached keys 0..pos+n-1 (the new ones already appended).
 * A step has few queries and many keys, so each (query, head) is one thread's row: scores by sgemv, an exact
 * softmax over the visible keys (max first, then exp and sum, no online rescaling) and the weighted sum of V
 * by a second sgemv. The summation order differs from attention_causal's blocked one, so a step agrees with a
 * prefill to rounding, not bit for bit; each row is still computed by one thread in a fixed order, so the result
 * does not depend on the thread count. */
size_t attention_prefix_bytes(int n, int pos) { return sizeof(float) * (size_t)(pos + n) * (size_t)omp_get_max_threads(); }

int attention_prefix(float *out, const float *q, const float *k, const float *v, int n, int pos,
                     const attn_shape *s) {
    const int q_stride = s->q_stride, k_stride = s->k_stride, v_stride = s->v_stride, n_heads = s->n_heads;
    const int qk_dim = s->qk_dim, v_dim = s->v_dim, group = n_heads / s->n_kv_heads, threads = omp_get_max_threads();
    const float scale = s->scale;
    float *rows = malloc(attention_prefix_bytes(n, pos));
    if (!rows) return -1;
    (void)threads; /* read by the pragma only */
#pragma omp parallel num_threads(threads)
    {
        float *S = rows + (size_t)omp_get_thread_num() * (size_t)(pos + n);
#pragma omp for schedule(static) collapse(2)
        for (int i = 0; i < n; i++)
            for (int h = 0; h < n_heads; h++) {
                int g = h / group, L = pos + i + 1; /* keys 0 .. pos+i are visible */
                const float *qi = q + (size_t)i * q_stride + (size_t)h * qk_dim;
                float *o = out + ((size_t)i * n_heads + h) * v_dim;
                cblas_sgemv(CblasRowMajor, CblasNoTrans, L, qk_dim, scale, k + (size_t)g * qk_dim, k_stride, qi, 1,
                            0.0f, S, 1);
                float mx = vec_max(S, L), sum = vec_exp_sub_sum(S, L, mx);
                cblas_sgemv(CblasRowMajor, CblasTrans, L, v_dim, 1.0f / sum, v + (size_t)g * v_dim, v_stride, S, 1,
                            0.0f, o, 1);
            }
    }
    free(rows);
    return 0;
}
