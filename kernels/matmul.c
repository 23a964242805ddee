/* matmul.c — y = x · Wᵀ (+ bias) in f32 through cblas_sgemm.
 *
 * 16-bit weights (bf16 / f16) are widened to f32 one tile of rows at a time (exact), and each tile goes
 * through sgemm straight into its columns of y. The whole matrix is never expanded: a tile is ~4 MiB. */
#include "kernels.h"

#include <cblas.h>
#include <stdlib.h>

/* x: (T, K); W: (N, K); y: (T, N); bias: (N) or NULL. */
void matmul_f32(float *y, const float *x, const float *W, const float *bias, int T, int N, int K) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    if (bias) add_bias_rows(y, bias, T, N);
}

typedef void (*widen_fn)(float *dst, const uint16_t *src, size_t n);

static void matmul_widened(float *y, const float *x, const uint16_t *W, const float *bias, int T, int N, int K,
                           widen_fn widen) {
    int rows = (1 << 20) / (K > 0 ? K : 1); /* ~4 MiB of f32 per tile */
    if (rows < 16) rows = 16;
    if (rows > N) rows = N;
    float *tile = malloc(sizeof(float) * (size_t)rows * K);
    if (!tile) abort(); /* 4 MiB: the engine checked memory before loading the model */
    for (int n0 = 0; n0 < N; n0 += rows) {
        int r = N - n0 < rows ? N - n0 : rows;
        const uint16_t *src = W + (size_t)n0 * K;
#pragma omp parallel for schedule(static)
        for (int i = 0; i < r; i++) widen(tile + (size_t)i * K, src + (size_t)i * K, (size_t)K);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, r, K, 1.0f, x, K, tile, K, 0.0f, y + n0, N);
    }
    free(tile);
    if (bias) add_bias_rows(y, bias, T, N);
}

void matmul_bf16w(float *y, const float *x, const uint16_t *W, const float *bias, int T, int N, int K) {
    matmul_widened(y, x, W, bias, T, N, K, bf16_to_f32);
}

void matmul_f16w(float *y, const float *x, const uint16_t *W, const float *bias, int T, int N, int K) {
    matmul_widened(y, x, W, bias, T, N, K, f16_to_f32);
}
