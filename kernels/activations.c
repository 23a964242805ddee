/* activations.c — element-wise activation functions, computed as the HF modules define them. */
#include "kernels.h"

#include "cpu.h"
#include "exp_poly.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

void silu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

/* SwiGLU: out = silu(gate) * up. */
void silu_mul(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* torch.nn.GELU() / F.gelu: 0.5 x (1 + erf(x / sqrt 2)). */
void gelu_erf(float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* HF gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))). */
void gelu_tanh(float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
}

/* ---- SwiGLU with a polynomial exp (the bf16 compute path) ----
 * d[i] = silu(d[i]) · u[i] with silu(g) = g / (1 + e^{−g}), e^x from exp_poly.h (≈ 2 ulp), x clamped to
 * [−80, 80] so every value stays a normal float (beyond that silu(g) is g, or 0 to far below f32 resolution of
 * the product). The three SIMD levels perform the same per-lane operations (exp_poly.h, IEEE division), so they
 * give identical bits; lanes are independent, so the split into vectors does not matter either. */
static void swiglu_poly_scalar(float *d, const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float g = d[i];
        float       x = -g;
        x = x > -80.0f ? x : -80.0f;
        x = x < 80.0f ? x : 80.0f;
        d[i] = g / (1.0f + exp_poly1(x)) * u[i];
    }
}

__attribute__((target("avx2,fma"))) static void swiglu_poly_avx2(float *d, const float *u, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(d + i);
        __m256       x = _mm256_sub_ps(_mm256_setzero_ps(), g);
        x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-80.0f)), _mm256_set1_ps(80.0f));
        const __m256 den = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_poly8(x));
        _mm256_storeu_ps(d + i, _mm256_mul_ps(_mm256_div_ps(g, den), _mm256_loadu_ps(u + i)));
    }
    swiglu_poly_scalar(d + i, u + i, n - i);
}

__attribute__((target("avx512f"))) static void swiglu_poly_avx512(float *d, const float *u, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512    g = _mm512_maskz_loadu_ps(k, d + i);
        __m512          x = _mm512_sub_ps(_mm512_setzero_ps(), g);
        x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-80.0f)), _mm512_set1_ps(80.0f));
        const __m512 den = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_poly16(x));
        _mm512_mask_storeu_ps(d + i, k, _mm512_mul_ps(_mm512_div_ps(g, den), _mm512_maskz_loadu_ps(k, u + i)));
    }
}

void swiglu_poly_row(float *d, const float *u, size_t n, int simd) {
    if (simd >= 2) swiglu_poly_avx512(d, u, n);
    else if (simd == 1) swiglu_poly_avx2(d, u, n);
    else swiglu_poly_scalar(d, u, n);
}

void swiglu_poly(float *d, const float *u, size_t n) {
    const int    simd = cpu_has_avx512f() ? 2 : cpu_has_avx2_fma() ? 1 : 0;
    const size_t chunk = 4096;
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < (n + chunk - 1) / chunk; c++) {
        const size_t i = c * chunk;
        swiglu_poly_row(d + i, u + i, n - i < chunk ? n - i : chunk, simd);
    }
}
