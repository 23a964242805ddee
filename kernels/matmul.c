/* matmul.c — y = x · weightᵀ (+ bias) in f32 through cblas_sgemm.
 *
 * The output is cut into fixed tiles of TILE_T tokens × CHUNK rows of weight, and each tile is one
 * single-threaded sgemm inside an OpenMP loop (OpenBLAS's OpenMP build runs single-threaded inside a parallel
 * region). OpenBLAS's own threading changes its blocking with the thread count, and with it the rounding of
 * the result; fixed chunks make every output element's summation independent of the thread count, so BPC is
 * bit-identical for any --threads.
 *
 * 16-bit weights (bf16 / f16) are widened to f32 one chunk at a time by the thread that multiplies it (exact),
 * so the whole matrix is never expanded: a chunk is CHUNK × K floats (2 MiB at K = 2048). Block-quantized
 * weights (GGUF's Q8_0, Q4_K, ...) are dequantized the same way, chunk by chunk. */
#include "kernels.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

enum { CHUNK = 256, TILE_T = 256 };

typedef void (*widen_fn)(const void *src, float *dst, int64_t n);

static void widen_bf16(const void *src, float *dst, int64_t n) { bf16_to_f32(dst, src, (size_t)n); }
static void widen_f16(const void *src, float *dst, int64_t n) { f16_to_f32(dst, src, (size_t)n); }

size_t matmul_tiles_bytes(int K) { return sizeof(float) * (size_t)CHUNK * (size_t)K * (size_t)omp_get_max_threads(); }

/* weight is f32 (widen == NULL) or rows of row_bytes bytes widened with `widen`. The widening tiles (one per
 * thread) are allocated before the parallel region, so that a failure is returned (-1) rather than met inside
 * it, where no thread could report it. */
static int matmul_chunked(float *y, const float *x, const void *weight, size_t row_bytes, widen_fn widen,
                          const float *bias, int T, int N, int K) {
    int chunks = (N + CHUNK - 1) / CHUNK, tiles = (T + TILE_T - 1) / TILE_T, threads = omp_get_max_threads();
    float *all = widen ? malloc(matmul_tiles_bytes(K)) : NULL;
    if (widen && !all) return -1;
    (void)threads; /* read by the pragma only: a build without OpenMP ignores it */
#pragma omp parallel num_threads(threads)
    {
        float *tile = widen ? all + (size_t)omp_get_thread_num() * CHUNK * (size_t)K : NULL;
        int widened = -1; /* chunk currently in `tile` */
        /* chunk-major order: a thread's consecutive tiles mostly share a chunk, so it is widened once */
#pragma omp for schedule(static)
        for (int ct = 0; ct < chunks * tiles; ct++) {
            int c = ct / tiles, t0 = (ct % tiles) * TILE_T, tn = T - t0 < TILE_T ? T - t0 : TILE_T;
            int n0 = c * CHUNK, r = N - n0 < CHUNK ? N - n0 : CHUNK;
            const float *rows;
            if (widen) {
                if (widened != c) widen((const char *)weight + (size_t)n0 * row_bytes, tile, (int64_t)r * K);
                widened = c;
                rows = tile;
            } else {
                rows = (const float *)weight + (size_t)n0 * K;
            }
            float *yt = y + (size_t)t0 * N + n0;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tn, r, K, 1.0f, x + (size_t)t0 * K, K, rows, K, 0.0f,
                        yt, N);
            if (bias)
                for (int t = 0; t < tn; t++)
                    for (int j = 0; j < r; j++) yt[(size_t)t * N + j] += bias[n0 + j];
        }
    }
    free(all);
    return 0;
}

/* x: (T, K); weight: (N, K) f32; y: (T, N); bias: (N) or NULL. */
void matmul_f32(float *y, const float *x, const float *weight, const float *bias, int T, int N, int K) {
    (void)matmul_chunked(y, x, weight, 0, NULL, bias, T, N, K);
}

int matmul_bf16w(float *y, const float *x, const uint16_t *weight, const float *bias, int T, int N, int K) {
    return matmul_chunked(y, x, weight, (size_t)K * 2, widen_bf16, bias, T, N, K);
}

int matmul_f16w(float *y, const float *x, const uint16_t *weight, const float *bias, int T, int N, int K) {
    return matmul_chunked(y, x, weight, (size_t)K * 2, widen_f16, bias, T, N, K);
}

int matmul_rows_w(float *y, const float *x, const void *weight, size_t row_bytes,
                  void (*dequant)(const void *src, float *dst, int64_t n), const float *bias, int T, int N, int K) {
    return matmul_chunked(y, x, weight, row_bytes, dequant, bias, T, N, K);
}
