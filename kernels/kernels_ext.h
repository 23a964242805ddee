/* kernels_ext.h — kernels for the non-Llama architectures (mixture-of-experts routing, strided copies,
 * per-row scaling). Same rules as kernels.h: plain arrays, row-major, no files, models or errors. */
#ifndef LMC_KERNELS_EXT_H
#define LMC_KERNELS_EXT_H

#include <stddef.h>
#include <stdint.h>

/* ---- routing (moe.c) ---- */
/* y (T, N) = x (T, K) · weightᵀ, weight (N, K) f32, for small N (MoE routers): each output is summed in double
 * in index order, rounded once; parallel over tokens only, so the result is bit-identical for every thread
 * count. */
void router_logits(float *y, const float *x, const float *weight, int T, int N, int K);
/* x: (T, n), in place: each row becomes softmax(row). Max-shifted, exponentials in f32, sum in double. */
void softmax_rows(float *x, int T, int n);
/* The k largest of x (n), in descending order, into idx (k) (and their values into val (k), may be NULL).
 * Ties go to the lower index, so the choice never depends on anything but x. k ≤ n. */
void topk_desc(const float *x, int n, int k, int *idx, float *val);

/* ---- data movement (moe.c) ---- */
/* dst (rows, cols) with row stride dst_stride ← src with row stride src_stride: copies a column block. */
void copy_block(float *dst, int dst_stride, const float *src, int src_stride, int rows, int cols);
/* dst (n, dim) ← rows ids[0..n) of src (·, dim). */
void gather_rows(float *dst, const float *src, const int *ids, int n, int dim);
/* x: (T, ·) row stride `stride`; the first `cols` values of row t are multiplied by s[t]. */
void scale_rows(float *x, int stride, int T, int cols, const float *s);

#endif
