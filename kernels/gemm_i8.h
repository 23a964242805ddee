/* gemm_i8.h — y (T, N) = x (T, K) · weightᵀ (+ bias) with int8 operands: the weight as its file stores it
 * (block-quantized, converted block by block inside each call), x quantized to int8 once per call.
 *
 *   - x is quantized per token in blocks of GEMM_I8_QK = 32 values: d = max|x| / 127, q = round-to-nearest-even
 *     (x · (1/d)), clamped to [−127, 127]; d is kept as an f32 (not rounded to f16). 32, not 256: it is the
 *     block of Q8_0 / Q4_0 / Q5_0 and the sub-block of Q4_K, so every weight sub-block meets exactly one
 *     activation scale; a 256-block (ggml's Q8_K) would share one scale across 8× more values and lose up to 3
 *     bits of activation precision wherever a block holds one large value (attention outputs, SwiGLU products).
 *   - The weight reaches the kernel as int8 values with one f32 scale (and, for Q4_K, one f32 offset) per
 *     sub-block of `sub` = 32 values (16 for Q6_K, whose 16-value sub-blocks carry their own scales): w = dw·q + mw.
 *   - Each output is, in this fixed order over the sub-blocks b = 0, 1, ...:
 *         acc = 0;  acc = fma((float)Σ_k q_x·q_w, dw[b]·dx[b'], acc);  [Q4_K: acc = fma(mw[b], dx[b']·Σ_k q_x, acc)]
 *         y = acc + bias   (bias 0 when there is none)
 *     with b' the activation block holding sub-block b. The integer sums are exact on every path (bounds below),
 *     so every path — AVX512-VNNI, AVX-VNNI, AVX2, plain C — and every thread count gives the same bits.
 *
 * Per call, each thread converts up to GEMM_I8_PANEL_BYTES of weight rows at a time into row-interleaved int8
 * panels of 16 rows (its own scratch, malloc'ed per call: the weights are never copied whole), and runs every
 * token over them; besides the panels it holds 16 unpacked rows (16·K bytes) while converting. */
#ifndef LMC_GEMM_I8_H
#define LMC_GEMM_I8_H

#include <stddef.h>
#include <stdint.h>

#define GEMM_I8_QK 32                      /* activation block (values per scale) */
#define GEMM_I8_PANEL_BYTES (384u << 10)   /* per-thread panel scratch target: fits Zen 5's 1 MiB L2 with x */

/* Paths (LMC_INT8_PATH=c|avx2|vnni256|vnni512 overrides the automatic choice; cpu.h). */
enum {
    GEMM_I8_AUTO = 0,
    GEMM_I8_C = 1,       /* plain C: the reference */
    GEMM_I8_AVX2 = 2,    /* vpmaddwd on sign-extended int16 */
    GEMM_I8_VNNI256 = 3, /* AVX-VNNI vpdpbusd ymm */
    GEMM_I8_VNNI512 = 4, /* AVX512-VNNI vpdpbusd zmm */
};
int         gemm_i8_auto_path(void);          /* LMC_INT8_PATH if set and supported, else the best supported */
int         gemm_i8_path_supported(int path); /* AUTO and C always */
const char *gemm_i8_path_name(int path);      /* "c", "avx2", "vnni256", "vnni512" */
/* The register-only peak (peak.h PEAK_*) a path's kernel is measured against, its instruction's name in *name;
 * -1 for the plain C path (no peak). */
int         gemm_i8_peak_kind(int path, const char **name);

/* A weight sub-block run widened to int8: n values (a multiple of sub) of src → q (n), dw (n / sub), and, for a
 * type with offsets, mw (n / sub); src any alignment. */
typedef void (*gemm_i8_unpack_fn)(const void *src, int8_t *q, float *dw, float *mw, int64_t n);

/* A weight as stored: N rows of row_bytes, each K values (K a multiple of 32 and of sub; the quantized x's K). */
typedef struct gemm_i8_w {
    int               N, K;
    const void       *data;      /* (N, row_bytes) */
    size_t            row_bytes;
    gemm_i8_unpack_fn unpack;
    int               sub;       /* 32, or 16 (Q6_K) */
    int               has_min;   /* 1: mw is used (Q4_K) */
} gemm_i8_w;

/* x quantized for one path. */
typedef struct gemm_i8_x {
    int      T, K, path; /* K: x's K rounded up to 32 (the values past x's K are zeros) */
    void    *q;   /* (T, K): int8 (C), int8 + 128 as u8 (VNNI), int16 (AVX2) */
    float   *d;   /* (T, K / 32) scales */
    float   *ds;  /* (T, K / 32) d · Σ q over the block (for the Q4_K offsets) */
} gemm_i8_x;

/* Bytes of scratch gemm_i8_quantize needs for T × K. */
size_t gemm_i8_x_bytes(int T, int K);
/* Quantizes x (T, K) for `path` (AUTO resolved) into scratch (gemm_i8_x_bytes, any alignment); K need not be a
 * multiple of 32: the last block is padded with zeros (for a weight padded so, e.g. an F32 one copied to Q8_0). */
void   gemm_i8_quantize(gemm_i8_x *xq, const float *x, int T, int K, int path, void *scratch);

/* y (T, N) = xq · wᵀ (+ bias (N) or NULL), on xq's path. w->K must equal xq->K. Returns 0, or -1 (y untouched)
 * when the path is unsupported here or the shapes disagree. Out of memory for the panels → lmc_oom. */
int    gemm_i8(float *y, const gemm_i8_x *xq, const gemm_i8_w *w, const float *bias);

#endif
