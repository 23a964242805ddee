/* softmax.c — log-sum-exp of a logits row, the normaliser of log-softmax.
 *
 * Scoring a corpus evaluates this over the whole vocabulary for every scored token (50k–150k exponentials per
 * token), so it is vectorised: AVX-512 and AVX2 paths (selected at run time) and a portable path with the same
 * polynomial. exp(x) for x ≤ 0 = 2^n · p(f) with n = round(x·log2 e), f = x − n·ln 2 (Cody–Waite split), p a
 * degree-6 polynomial: relative error ≈ 2 ulp, far below what a 1e-6 BPC tolerance needs. Lane sums are f32
 * over blocks of at most 1024 elements, then added in double. */
#include "cpu.h"
#include "exp_poly.h"
#include "kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define LN2_HI 0.693145751953125f
#define LN2_LO 1.42860682030941723212e-6f
#define LOG2E  1.44269504088896341f

/* e^x for x in [-104, 0]; below that the result underflows to 0 (exactly what a sum of exponentials needs). */
static inline float exp_neg(float x) {
    if (!(x >= -87.0f)) return x != x ? x : 0.0f; /* NaN propagates (no undefined float->int cast below) */
    float n = nearbyintf(x * LOG2E);
    float f = x - n * LN2_HI;
    f = f - n * LN2_LO;
    float p = 1.3981999507e-3f;
    p = p * f + 8.3334519073e-3f;
    p = p * f + 4.1665795894e-2f;
    p = p * f + 1.6666665459e-1f;
    p = p * f + 5.0000001201e-1f;
    p = p * f * f + f + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, 4);
    return p * scale;
}

static double sum_exp_scalar(const float *x, int n, float m) {
    double total = 0;
    for (int b = 0; b < n; b += 1024) {
        int e = n - b < 1024 ? n - b : 1024;
        float s = 0;
        for (int i = 0; i < e; i++) s += exp_neg(x[b + i] - m);
        total += s;
    }
    return total;
}

__attribute__((target("avx512f"))) static inline __m512 exp_neg16(__m512 x) {
    return exp_poly16(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)));
}

__attribute__((target("avx512f"))) static double sum_exp_avx512(const float *x, int n, float m) {
    __m512 vm = _mm512_set1_ps(m);
    double total = 0;
    for (int b = 0; b < n; b += 1024) {
        int e = n - b < 1024 ? n - b : 1024;
        __m512 acc = _mm512_setzero_ps();
        int i = 0;
        for (; i + 16 <= e; i += 16) acc = _mm512_add_ps(acc, exp_neg16(_mm512_sub_ps(_mm512_loadu_ps(x + b + i), vm)));
        if (i < e) {
            __mmask16 k = (__mmask16)((1u << (e - i)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(k, x + b + i);
            acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(k, exp_neg16(_mm512_sub_ps(v, vm))));
        }
        total += _mm512_reduce_add_ps(acc);
    }
    return total;
}

__attribute__((target("avx512f"))) static float max_avx512(const float *x, int n) {
    __m512 acc = _mm512_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_max_ps(acc, _mm512_loadu_ps(x + i));
    if (i < n) acc = _mm512_mask_max_ps(acc, (__mmask16)((1u << (n - i)) - 1), acc, _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1), x + i));
    return _mm512_reduce_max_ps(acc);
}

__attribute__((target("avx2,fma"))) static inline __m256 exp_neg8(__m256 x) {
    return exp_poly8(_mm256_max_ps(x, _mm256_set1_ps(-87.0f))); /* n ≥ −126: the result stays normal */
}

__attribute__((target("avx2,fma"))) static double sum_exp_avx2(const float *x, int n, float m) {
    __m256 vm = _mm256_set1_ps(m);
    double total = 0;
    for (int b = 0; b < n; b += 1024) {
        int e = n - b < 1024 ? n - b : 1024;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 16 <= e; i += 16) {
            acc0 = _mm256_add_ps(acc0, exp_neg8(_mm256_sub_ps(_mm256_loadu_ps(x + b + i), vm)));
            acc1 = _mm256_add_ps(acc1, exp_neg8(_mm256_sub_ps(_mm256_loadu_ps(x + b + i + 8), vm)));
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, _mm256_add_ps(acc0, acc1));
        float s = 0;
        for (int j = 0; j < 8; j++) s += lanes[j];
        for (; i < e; i++) s += exp_neg(x[b + i] - m);
        total += s;
    }
    return total;
}

__attribute__((target("avx2"))) static float max_avx2(const float *x, int n) {
    __m256 acc = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_max_ps(acc, _mm256_loadu_ps(x + i));
    float lanes[8], m = -INFINITY;
    _mm256_storeu_ps(lanes, acc);
    for (int j = 0; j < 8; j++) m = lanes[j] > m ? lanes[j] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

__attribute__((target("avx512f"))) static float exp_sub_inplace_avx512(float *x, int n, float m) {
    __m512 vm = _mm512_set1_ps(m), acc = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp_neg16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m512 e = _mm512_maskz_mov_ps(k, exp_neg16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm)));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = _mm512_add_ps(acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}

__attribute__((target("avx2,fma"))) static float exp_sub_inplace_avx2(float *x, int n, float m) {
    __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp_neg8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8], s = 0;
    _mm256_storeu_ps(lanes, acc);
    for (int j = 0; j < 8; j++) s += lanes[j];
    for (; i < n; i++) { x[i] = exp_neg(x[i] - m); s += x[i]; }
    return s;
}

float vec_max(const float *x, int n) {
    if (cpu_has_avx512f()) return max_avx512(x, n);
    if (cpu_has_avx2_fma()) return max_avx2(x, n);
    float m = -INFINITY;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

float vec_exp_sub_sum(float *x, int n, float m) {
    if (cpu_has_avx512f()) return exp_sub_inplace_avx512(x, n, m);
    if (cpu_has_avx2_fma()) return exp_sub_inplace_avx2(x, n, m);
    float s = 0;
    for (int i = 0; i < n; i++) { x[i] = exp_neg(x[i] - m); s += x[i]; }
    return s;
}

/* logits: (n). Returns log Σ exp(logits) in double. */
double logsumexp_f32(const float *logits, int n) {
    int simd = cpu_has_avx512f() ? 2 : cpu_has_avx2_fma() ? 1 : 0;
    float m;
    if (simd == 2) m = max_avx512(logits, n);
    else if (simd == 1) m = max_avx2(logits, n);
    else {
        m = -INFINITY;
        for (int i = 0; i < n; i++) m = logits[i] > m ? logits[i] : m;
    }
    if (!isfinite(m)) return m; /* all -inf, or a NaN/inf logit: propagate, the caller reports it */
    double s = simd == 2 ? sum_exp_avx512(logits, n, m) : simd == 1 ? sum_exp_avx2(logits, n, m)
                                                                    : sum_exp_scalar(logits, n, m);
    return (double)m + log(s);
}
