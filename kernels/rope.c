/* rope.c — rotary position embeddings. */
#include "cpu.h"
#include "kernels.h"

#include <immintrin.h>

#include <math.h>

/* cos_t, sin_t: (T, rot_dim/2). Angles in double so that large positions (pos · inv_freq up to ~1e5 rad) keep
 * full f32 accuracy after the reduction; HF computes them in f32 (inv_freq f32, pos · inv_freq in f32), so we
 * round the product to f32 first, matching torch's `freqs = pos.float() @ inv_freq.float()`. */
void rope_tables(float *cos_t, float *sin_t, const float *inv_freq, int T, int rot_dim, float mscale) {
    rope_tables_at(cos_t, sin_t, inv_freq, 0, T, rot_dim, mscale);
}

/* A step's rows are computed by the same expression as a prefill's row of the same position, so the cached keys
 * of a step and of a prefill are rotated by identical angles. */
void rope_tables_at(float *cos_t, float *sin_t, const float *inv_freq, int pos0, int n, int rot_dim, float mscale) {
    int half = rot_dim / 2;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < half; i++) {
            float ang = (float)(pos0 + t) * inv_freq[i];
            cos_t[(size_t)t * half + i] = (float)cos((double)ang) * mscale;
            sin_t[(size_t)t * half + i] = (float)sin((double)ang) * mscale;
        }
}

/* rotate_half on the two halves of one head, 8 pairs at a time with AVX2 where the CPU has it: the same
 * multiplications and subtraction / addition per element as the scalar loop (no FMA), hence the same bits. */
static void rotate_halves(float *lo, float *hi, const float *c, const float *s, int n) {
    for (int i = 0; i < n; i++) {
        const float x0 = lo[i], x1 = hi[i];
        lo[i] = x0 * c[i] - x1 * s[i];
        hi[i] = x1 * c[i] + x0 * s[i];
    }
}
__attribute__((target("avx2"))) static void rotate_halves_avx2(float *lo, float *hi, const float *c, const float *s,
                                                               int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x0 = _mm256_loadu_ps(lo + i), x1 = _mm256_loadu_ps(hi + i);
        const __m256 vc = _mm256_loadu_ps(c + i), vs = _mm256_loadu_ps(s + i);
        _mm256_storeu_ps(lo + i, _mm256_sub_ps(_mm256_mul_ps(x0, vc), _mm256_mul_ps(x1, vs)));
        _mm256_storeu_ps(hi + i, _mm256_add_ps(_mm256_mul_ps(x1, vc), _mm256_mul_ps(x0, vs)));
    }
    rotate_halves(lo + i, hi + i, c + i, s + i, n - i);
}

/* x: (T, n_heads, head_dim), row stride `stride` floats. rotate_half pairs dim i with i + rot_dim/2;
 * interleaved (Meta/llama2.c) pairs 2i with 2i+1. Both use frequency i for pair i. */
void rope_apply(float *x, int T, int n_heads, int head_dim, int stride, int rot_dim, const float *cos_t,
                const float *sin_t, int interleaved) {
    int half = rot_dim / 2;
    const int avx2 = cpu_has_avx2_fma();
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)t * stride + (size_t)h * head_dim;
            if (interleaved)
                for (int i = 0; i < half; i++) {
                    float x0 = v[2 * i], x1 = v[2 * i + 1];
                    v[2 * i] = x0 * c[i] - x1 * s[i];
                    v[2 * i + 1] = x1 * c[i] + x0 * s[i];
                }
            else if (avx2) rotate_halves_avx2(v, v + half, c, s, half);
            else rotate_halves(v, v + half, c, s, half);
        }
    }
}
