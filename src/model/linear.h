/* linear.h — "y = x · weightᵀ + b" over a weight of any dtype: the one place that decides how a matmul runs.
 * Architecture code calls lmc_linear_apply and never branches on dtype. */
#ifndef LMC_LINEAR_H
#define LMC_LINEAR_H

#include "lmc.h"
#include "model/weights.h"
#include "gemm_bf16.h"
#include "gemm_i8.h"
#include "common/prof.h"

/* How a linear multiplies, chosen once per model by lmc_model_open from the compute dtype and the memory. */
typedef enum lmc_linear_mode {
    LMC_LINEAR_F32 = 0,       /* f32 activations; 16-bit and quantized weights widened tile by tile
                               * (LMC_COMPUTE_F32) */
    /* bf16 x bf16 GEMM, the weight packed for vdpbf16ps once at load. A quantized (GGUF) weight is dequantized
     * into the panels while packing: the packed copy is bf16, 2 bytes per weight, more than the file's Q8_0
     * (1.06) or Q4_K (0.56); lmc_model_open counts it and streams instead when it does not fit */
    LMC_LINEAR_BF16_PACKED,
    /* bf16 x bf16 for models too large to keep a packed copy: the weight is packed one row chunk at a time inside
     * each call (one extra pass over the weights per window: a few % of a window's time) */
    LMC_LINEAR_BF16_STREAMED,
    /* int8 x int8 (LMC_COMPUTE_INT8, kernels/gemm_i8.h): a GGUF weight read as stored (Q8_0, Q4_0, Q5_0, Q4_K,
     * Q6_K), converted to int8 panels inside each call; an F32/F16/BF16 weight quantized once at init to an
     * owned Q8_0 copy (1.06 bytes per weight; ggml's quantize_row_q8_0; rows padded with zeros to a multiple of
     * 32 values, l->i8.K, then l->dtype is Q8_0 and l->w that copy). x is quantized to int8 in blocks of 32 once per call (once for all
     * outputs of the fused forms). */
    LMC_LINEAR_INT8,
} lmc_linear_mode;

typedef struct lmc_linear {
    int         N, K;       /* output features, input features */
    lmc_dtype   dtype;      /* of w */
    const void *w;          /* (N, K) row-major, in the mmapped file (or owned when `owned` != NULL) */
    float      *bias;       /* (N) f32 copy, or NULL */
    lmc_linear_mode mode;
    gemm_bf16_w packed;     /* valid when mode is LMC_LINEAR_BF16_PACKED */
    gemm_i8_w   i8;         /* valid when mode is LMC_LINEAR_INT8: w as the int8 GEMM reads it */
    void       *owned;      /* memory this linear allocated for w (e.g. a slice of a fused tensor), or NULL */
    lmc_prof   *prof;       /* the model's profiler, which each apply adds its time to (PROF_MATMUL), or NULL */
} lmc_linear;

/* Checks that `w` is (N, K) (and `bias`, if given, is (N)), then prepares it for `mode`.
 * `origin` names the file in errors. */
int lmc_linear_init(lmc_linear *l, const lmc_tensor *w, const lmc_tensor *bias, int N, int K,
                    lmc_linear_mode mode, const char *origin, lmc_err *err);

/* Same, from rows [row0, row0 + N) of a larger (rows, K) tensor (fused QKV layouts). */
int lmc_linear_init_rows(lmc_linear *l, const lmc_tensor *w, const lmc_tensor *bias, int row0, int N, int K,
                         lmc_linear_mode mode, const char *origin, lmc_err *err);

/* Packs a streamed bf16 linear once, making it LMC_LINEAR_BF16_PACKED (used for lm_head, which is applied in
 * several small row blocks per window). No-op for other modes. */
int lmc_linear_prepack(lmc_linear *l, lmc_err *err);

/* An int8 linear holding a Q8_0 copy of a float weight: that copy re-quantized to `to` (Q4_0, Q4_K, Q6_K; rows
 * that are not whole blocks of it stay Q8_0), as if the file had held it so — for lmc bench --weights, whose
 * random weights have no quantized file. No-op for any other linear. */
int lmc_linear_requant(lmc_linear *l, lmc_dtype to, lmc_err *err);

/* Bytes a bf16 packed copy of an (N, K) weight takes. */
size_t lmc_linear_packed_bytes(int N, int K);
/* Bytes this linear holds in memory of its own (packed copy, owned re-laid-out weight, bias), beyond the mmap. */
size_t lmc_linear_resident_bytes(const lmc_linear *l);

/* x: (T, K) → y: (T, N). Timed into l->prof when set. */
void lmc_linear_apply(const lmc_linear *l, const float *x, float *y, int T);
/* Fused forms: the same bits as the unfused calls named, with less memory traffic on the packed bf16 path
 * (x rounded once for all outputs, epilogues applied to each tile while it is in cache). `scratch`:
 * lmc_linear_scratch_bytes(T, K) bytes not shared with a concurrent call, or NULL (then the unfused calls run).
 * Timed into the linears' profiler like lmc_linear_apply.
 * ys[i] = x · W_iᵀ (+ b_i) for n ≤ GEMM_BF16_MAX_OUTS linears with the same K (= n lmc_linear_apply calls). */
void lmc_linear_apply_n(const lmc_linear *const *ls, int n, const float *x, float *const *ys, int T, void *scratch);
/* SwiGLU: h = silu(x · Gᵀ + bg) ⊙ (x · Uᵀ + bu) (= apply gate → h, apply up → tmp, then lmc_swiglu(h, tmp)).
 * h, tmp: (T, N). */
void lmc_linear_apply_swiglu(const lmc_linear *gate, const lmc_linear *up, const float *x, float *h, float *tmp,
                             int T, void *scratch);
/* Residual: res += x · weightᵀ (+ b) (= apply → tmp, add_inplace(res, tmp)). res, tmp: (T, N). */
void lmc_linear_apply_add(const lmc_linear *l, const float *x, float *res, float *tmp, int T, void *scratch);
/* Scratch the fused forms need for T tokens of K input features. */
size_t lmc_linear_scratch_bytes(int T, int K);
/* d = silu(d) ⊙ u over n values, as the compute mode of `l` defines it: libm's expf on the f32 path (silu_mul),
 * the polynomial exp of the bf16 path (swiglu_poly). */
void lmc_swiglu(const lmc_linear *l, float *d, const float *u, size_t n);
void lmc_linear_free(lmc_linear *l);

/* A small tensor (norm weight, bias) widened to a malloc'ed f32 array after checking it has `numel`
 * elements. NULL with an error otherwise. */
float *lmc_tensor_f32(const lmc_tensor *t, int64_t numel, const char *origin, lmc_err *err);

/* Rows `ids` (n) of an (rows, dim) embedding tensor, widened into out (n, dim). Fails on an id ≥ rows. */
int lmc_embed_rows(const lmc_tensor *emb, const int32_t *ids, int n, float *out, lmc_err *err);

/* Describes a tensor's shape as "[a, b]" into buf. */
const char *lmc_shape_str(const lmc_tensor *t, char *buf, size_t cap);

#endif
