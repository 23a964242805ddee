/* linear.h — "y = x · Wᵀ + b" over a weight of any dtype: the one place that decides how a matmul runs.
 * Architecture code calls lmc_linear_apply and never branches on dtype. */
#ifndef LMC_LINEAR_H
#define LMC_LINEAR_H

#include "lmc.h"
#include "safetensors.h"
#include "gemm_bf16.h"

typedef struct lmc_linear {
    int         N, K;       /* output features, input features */
    lmc_dtype   dtype;      /* of w */
    const void *w;          /* (N, K) row-major, in the mmapped file (or owned when `owned` != NULL) */
    float      *bias;       /* (N) f32 copy, or NULL */
    int         bf16;       /* compute path: 1 = packed bf16 x bf16 GEMM */
    gemm_bf16_w packed;     /* valid when bf16 */
    void       *owned;      /* memory this linear allocated for w (e.g. a slice of a fused tensor), or NULL */
} lmc_linear;

/* Checks that `w` is (N, K) (and `bias`, if given, is (N)), then prepares it for `compute`.
 * `origin` names the file in errors. */
int lmc_linear_init(lmc_linear *l, const lmc_tensor *w, const lmc_tensor *bias, int N, int K,
                    lmc_compute compute, const char *origin, lmc_err *err);

/* Same, from rows [row0, row0 + N) of a larger (rows, K) tensor (fused QKV layouts). */
int lmc_linear_init_rows(lmc_linear *l, const lmc_tensor *w, const lmc_tensor *bias, int row0, int N, int K,
                         lmc_compute compute, const char *origin, lmc_err *err);

/* x: (T, K) → y: (T, N). */
void lmc_linear_apply(const lmc_linear *l, const float *x, float *y, int T);
void lmc_linear_free(lmc_linear *l);

/* A small tensor (norm weight, bias) widened to a malloc'ed f32 array after checking it has `numel`
 * elements. NULL with an error otherwise. */
float *lmc_tensor_f32(const lmc_tensor *t, int64_t numel, const char *origin, lmc_err *err);

/* Rows `ids` (n) of an (rows, dim) embedding tensor, widened into out (n, dim). Fails on an id ≥ rows. */
int lmc_embed_rows(const lmc_tensor *emb, const int32_t *ids, int n, float *out, lmc_err *err);

/* Describes a tensor's shape as "[a, b]" into buf. */
const char *lmc_shape_str(const lmc_tensor *t, char *buf, size_t cap);

#endif
