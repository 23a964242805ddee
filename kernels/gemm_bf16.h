/* gemm_bf16.h — y (T, N) = x (T, K) · Wᵀ (+ bias) with bf16 operands and f32 accumulation: the semantics of
 * AVX512_BF16's vdpbf16ps.
 *
 *   - weight (N, K) is rounded to bf16 once, at pack time (gemm_bf16_pack_f32: round to nearest even; or given as
 *     bf16 bits to gemm_bf16_pack), and repacked into the layout vdpbf16ps consumes.
 *   - x (T, K) f32 is rounded to bf16 (nearest even) once per call, into caller-provided scratch.
 *   - As vdpbf16ps does (DAZ), bf16 subnormals in the weight and x are read as zero (sign kept); NaN stays NaN.
 *   - Every output element is summed in one fixed order that depends on nothing but K (not on the thread
 *     count, the blocking or the token position): acc = 0; for each k pair p = 0..Kp/2-1:
 *     acc += weight[n][2p+1]·x[t][2p+1]; acc += weight[n][2p]·x[t][2p] (each product of two bf16 is exact in f32, so
 *     each step is one f32 rounding); then y = acc + bias[n]. The results are bit-identical for every
 *     thread count. The AVX2 and plain-C paths follow the same order and agree bit for bit with each other;
 *     the AVX-512 path does too wherever the hardware's vdpbf16ps rounds each of its two steps as Intel's
 *     pseudocode says (outputs that would be f32 subnormal are flushed to zero there: FTZ).
 *
 * Packed layout (Np = N rounded up to 16, Kp = K rounded up to 2, missing rows/columns are zero):
 *   packed[((p · Kp/2 + q) · 16 + r) · 2 + e] = bf16(weight[16p + r][2q + e])
 * i.e. panels of 16 rows; within a panel, for each k pair q, one 64-byte vector holds the 16 rows' pairs
 * (weight[n][2q] in the low half of the dword, weight[n][2q+1] in the high half). The buffer is 64-byte aligned.
 *
 * Threads: OpenMP (one parallel region per call, one barrier inside it), using the current OpenMP thread
 * count. Work is split statically and contiguously: rows (in 32-row units) across threads, and also token
 * groups when there are fewer row units than threads. Calls from inside a parallel region run on one thread.
 */
#ifndef LMC_GEMM_BF16_H
#define LMC_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

typedef struct gemm_bf16_w {
    int       N, K, Kp; /* Kp = K rounded up to even */
    uint16_t *packed;   /* (N rounded up to 16) · Kp bf16 values, layout above; malloc'ed, 64-byte aligned */
} gemm_bf16_w;

/* W_bf16: (N, K) bf16 bits, row-major. Returns 0, or -1 when out of memory (or N, K < 0); *w is zeroed then. */
int  gemm_bf16_pack(gemm_bf16_w *w, const uint16_t *W_bf16, int N, int K);
/* weight: (N, K) f32, rounded to bf16 (nearest even). Identical result to gemm_bf16_pack on the rounded bits. */
int  gemm_bf16_pack_f32(gemm_bf16_w *w, const float *weight, int N, int K);
void gemm_bf16_free(gemm_bf16_w *w);
/* Packs W_bf16 (or, when it is NULL, weight) as the two above, into w's buffer when it is large enough (w from an
 * earlier pack or repack, or zeroed), else into a new one: a matrix packed piece after piece into one buffer. */
int  gemm_bf16_repack(gemm_bf16_w *w, const uint16_t *W_bf16, const float *weight, int N, int K);

/* Bytes of scratch that gemm_bf16 needs for T tokens of K features (enough for every path). */
size_t gemm_bf16_scratch_bytes(int T, int K);

/* y: (T, N) row-major, fully overwritten; x: (T, K) f32 row-major; bias: (N) or NULL; scratch: at least
 * gemm_bf16_scratch_bytes(T, w->K) bytes (any alignment), not shared with a concurrent call. y must not
 * overlap x or scratch. */
void gemm_bf16(float *y, const float *x, const gemm_bf16_w *w, const float *bias, int T, void *scratch);

/* ---- several outputs from one input, with fused epilogues ---- */
/* What happens to a finished tile of y = x · weightᵀ (+ bias). The fused forms give the same bits as the separate
 * kernels (add_inplace, swiglu_poly) applied after the GEMM, while the tile is still in cache. */
enum {
    GEMM_BF16_STORE       = 0, /* y only */
    GEMM_BF16_ADD_TO      = 1, /* then dst += y (a residual add) */
    GEMM_BF16_SILU_MUL_TO = 2, /* then dst = silu(dst) · y as swiglu_poly (SwiGLU: dst the gate, y the up proj.) */
};
#define GEMM_BF16_MAX_OUTS 8
typedef struct gemm_bf16_out {
    const gemm_bf16_w *w;    /* (N, K) packed; every output of one call has the same K */
    const float       *bias; /* (N) or NULL */
    float             *y;    /* (T, N), fully overwritten (scratch when only dst matters) */
    int                epi;  /* GEMM_BF16_STORE / ADD_TO / SILU_MUL_TO */
    float             *dst;  /* (T, N) for ADD_TO / SILU_MUL_TO. For SILU_MUL_TO it may be the y of an earlier
                              * output of the same call with the same N (the gate): outputs with equal N are
                              * computed in lockstep by the same threads, each gate tile before its up tile. */
    int                ldy;  /* row stride of y and dst in floats (≥ N), 0 for N: columns of a wider matrix */
} gemm_bf16_out;

/* outs[0..n) (n ≤ GEMM_BF16_MAX_OUTS) from one input x (T, K): x is rounded to bf16 once, in one parallel
 * region. Each y equals what gemm_bf16 gives for its weight. scratch: gemm_bf16_scratch_bytes(T, K). Returns
 * 0, or -1 (nothing written) when the path is unsupported, n is too large or the Ks differ. path may carry
 * GEMM_BF16_X_ROUNDED: scratch already holds x rounded by the call before, with the same x, T, K, path and
 * scratch (weights multiplied a piece at a time skip rounding x again). */
#define GEMM_BF16_X_ROUNDED 0x100
int gemm_bf16_multi(const float *x, int T, const gemm_bf16_out *outs, int n, void *scratch, int path);

/* ---- the AVX-512 micro-kernel as building blocks (kernels/attention_bf16.c); AVX512_BF16 only ---- */
#define GEMM_BF16_GROUP 12 /* tokens per activation group */
/* 1 when the functions below may be called (AVX512_BF16 present, LMC_NO_AVX512 unset). */
int  gemm_bf16_tile_supported(void);
/* Rounds nt ≤ 12 rows of x (K floats each, row stride ldx) to bf16 into the group layout xz[q·12 + j] = pair q
 * of row j (xz: ceil(K/2)·12 dwords; rows nt..11 and a missing odd k are zero). */
void gemm_bf16_round_group(uint32_t *xz, const float *x, size_t ldx, int nt, int K);
/* Packs weight (N, K) with row stride ldw into the panel layout above at dst (ceil(N/16)·16 · ceil(K/2)·2 values,
 * rows N.. and a missing odd k zero), rounding as gemm_bf16_round_group. */
void gemm_bf16_pack_into(uint16_t *dst, const float *weight, size_t ldw, int N, int K);
/* dst[i] = the pair (bf16 lo[i], bf16 hi[i]) as one dword (lo in the low half), i < n; hi NULL → 0. */
void gemm_bf16_round_pairs(uint32_t *dst, const float *lo, const float *hi, int n);
/* dst[i·ldd + j] = src[j][i] for i < cnt ≤ 16, j < lanes ≤ 16 (rows nrows.. of src read as zero): a 16 × 16
 * dword transpose in registers. */
void gemm_bf16_transpose16(uint32_t *dst, size_t ldd, int lanes, uint32_t src[][16], int nrows, int cnt);
/* One micro-tile: y[j·ldy + r] = (accumulate ? y[j·ldy + r] : 0) + Σ_{q < nk} (odd, then even element of the
 * pair) w[r][q] · x[q][j], for tokens j < nt ≤ 12 and rows r < rows ≤ 32 of the panels at w0 and
 * w0 + panel_stride (the second read only when rows > 16), x in the group layout. */
void gemm_bf16_tile(float *y, int ldy, const uint16_t *w0, size_t panel_stride, int rows, const uint32_t *xz,
                    int nt, int nk, int accumulate);

/* ---- paths (for tests and benchmarks; gemm_bf16 picks GEMM_BF16_AUTO) ---- */
enum {
    GEMM_BF16_AUTO   = 0, /* the best supported: AVX512 > AVX2 > SCALAR (LMC_NO_AVX512=1 rules out AVX512) */
    GEMM_BF16_SCALAR = 1, /* plain C */
    GEMM_BF16_AVX2   = 2, /* AVX2 + FMA: bf16 widened in registers, f32 FMA in the same order */
    GEMM_BF16_AVX512 = 3, /* AVX512_BF16 vdpbf16ps */
};
/* The path GEMM_BF16_AUTO resolves to now (cpu.h, LMC_NO_AVX512). */
int         gemm_bf16_auto_path(void);
/* 1 when `path` can run on this CPU (AUTO and SCALAR always can). */
int         gemm_bf16_path_supported(int path);
const char *gemm_bf16_path_name(int path);
/* gemm_bf16 on a given path. Returns 0, or -1 (y untouched) when the path is not supported here. */
int         gemm_bf16_ex(float *y, const float *x, const gemm_bf16_w *w, const float *bias, int T, void *scratch,
                         int path);

#endif
