/* exp_poly.h — e^x = 2^n · p(f), n = round(x·log2 e), f = x − n·ln 2 (Cody–Waite split in two constants), p a
 * degree-6 polynomial: ≈ 2 ulp. One definition for the vectorised softmax (softmax.c), the bf16 path's SwiGLU
 * (activations.c) and bf16 attention (attention_bf16.c).
 *
 * The caller clamps x first so that n stays in [−126, 127] (e.g. to [−87, 88]). The three variants perform the
 * same operations on each lane, each fused multiply-add rounded once, so they give identical bits; that is what
 * lets an emulated or AVX2 build reproduce the AVX-512 results. */
#ifndef LMC_EXP_POLY_H
#define LMC_EXP_POLY_H

#include <immintrin.h>
#include <math.h>

#define EXP_LN2_HI 0.693145751953125f
#define EXP_LN2_LO 1.42860682030941723212e-6f
#define EXP_LOG2E  1.44269504088896341f
#define EXP_P0 1.3981999507e-3f
#define EXP_P1 8.3334519073e-3f
#define EXP_P2 4.1665795894e-2f
#define EXP_P3 1.6666665459e-1f
#define EXP_P4 5.0000001201e-1f

__attribute__((target("avx512f"))) static inline __m512 exp_poly16(__m512 x) {
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x);
    f = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), f);
    __m512 p = _mm512_set1_ps(EXP_P0);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP_P1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP_P2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP_P3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP_P4));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, f), f, _mm512_add_ps(f, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n); /* p · 2^n */
}

__attribute__((target("avx2,fma"))) static inline __m256 exp_poly8(__m256 x) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x);
    f = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), f);
    __m256 p = _mm256_set1_ps(EXP_P0);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP_P1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP_P2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP_P3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP_P4));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, f), f, _mm256_add_ps(f, _mm256_set1_ps(1.0f)));
    /* 2^n through the exponent field (exact for n in [−126, 127]) */
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline float exp_poly1(float x) {
    const float n = nearbyintf(x * EXP_LOG2E);
    float       f = fmaf(-n, EXP_LN2_HI, x);
    f = fmaf(-n, EXP_LN2_LO, f);
    float p = EXP_P0;
    p = fmaf(p, f, EXP_P1);
    p = fmaf(p, f, EXP_P2);
    p = fmaf(p, f, EXP_P3);
    p = fmaf(p, f, EXP_P4);
    p = fmaf(p * f, f, f + 1.0f);
    return ldexpf(p, (int)n);
}

#endif
