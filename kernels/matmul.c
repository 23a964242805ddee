/* matmul.c — y = x · Wᵀ (+ bias) in f32 through cblas_sgemm.
 *
 * The output columns (rows of W) are cut into fixed chunks of CHUNK rows, and each chunk is one
 * single-threaded sgemm inside an OpenMP loop (OpenBLAS's OpenMP build runs single-threaded inside a parallel
 * region). OpenBLAS's own threading changes its blocking with the thread count, and with it the rounding of
 * the result; fixed chunks make every output element's summation independent of the thread count, so BPC is
 * bit-identical for any --threads.
 *
 * 16-bit weights (bf16 / f16) are widened to f32 one chunk at a time by the thread that multiplies it (exact),
 * so the whole matrix is never expanded: a chunk is CHUNK × K floats (2 MiB at K = 2048). */
#include "kernels.h"

#include <cblas.h>
#include <stdlib.h>

enum { CHUNK = 256 };

typedef void (*widen_fn)(float *dst, const uint16_t *src, size_t n);

/* W is f32 (widen == NULL) or 16-bit bits widened with `widen`. */
static void matmul_chunked(float *y, const float *x, const void *W, widen_fn widen, const float *bias, int T,
                           int N, int K) {
    int chunks = (N + CHUNK - 1) / CHUNK;
#pragma omp parallel
    {
        float *tile = widen ? malloc(sizeof(float) * (size_t)CHUNK * K) : NULL;
        if (widen && !tile) abort(); /* CHUNK × K floats: the engine checked memory before loading the model */
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < chunks; c++) {
            int n0 = c * CHUNK, r = N - n0 < CHUNK ? N - n0 : CHUNK;
            const float *w;
            if (widen) {
                widen(tile, (const uint16_t *)W + (size_t)n0 * K, (size_t)r * K);
                w = tile;
            } else {
                w = (const float *)W + (size_t)n0 * K;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, r, K, 1.0f, x, K, w, K, 0.0f, y + n0, N);
            if (bias)
                for (int t = 0; t < T; t++)
                    for (int j = 0; j < r; j++) y[(size_t)t * N + n0 + j] += bias[n0 + j];
        }
        free(tile);
    }
}

/* x: (T, K); W: (N, K) f32; y: (T, N); bias: (N) or NULL. */
void matmul_f32(float *y, const float *x, const float *W, const float *bias, int T, int N, int K) {
    matmul_chunked(y, x, W, NULL, bias, T, N, K);
}

void matmul_bf16w(float *y, const float *x, const uint16_t *W, const float *bias, int T, int N, int K) {
    matmul_chunked(y, x, W, bf16_to_f32, bias, T, N, K);
}

void matmul_f16w(float *y, const float *x, const uint16_t *W, const float *bias, int T, int N, int K) {
    matmul_chunked(y, x, W, f16_to_f32, bias, T, N, K);
}
