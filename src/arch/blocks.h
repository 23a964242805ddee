/* blocks.h — pieces shared by the non-Llama architectures (mixtral, deepseek2, falcon, gpt2, gptneox, qwen1):
 * tensor loading with shape errors, weights re-laid-out at load (Conv1D, grouped fused QKV), the SwiGLU and
 * GELU MLPs and the mixture-of-experts dispatcher. Each architecture keeps its own forward; only math that is
 * literally the same lives here. */
#ifndef LMC_ARCH_BLOCKS_H
#define LMC_ARCH_BLOCKS_H

#include "arch.h"

/* ---- activations named by a config key ---- */
typedef enum blk_act { BLK_GELU_ERF, BLK_GELU_TANH } blk_act;
/* "gelu" → exact erf GELU; "gelu_new", "gelu_pytorch_tanh", "gelu_fast" → tanh GELU; anything else is an error
 * naming the key and the value. */
int  blk_act_parse(const lmc_arch_ctx *c, const char *key, const char *value, blk_act *out, lmc_err *err);
void blk_act_apply(blk_act act, float *x, size_t n);

/* ---- loading ---- */
/* "<name>.weight" (N, K) and, when bias is set, "<name>.bias" (N) into l; adds their sizes to *params.
 * The name is printf-formatted; errors name the tensor and the expected shape. */
int blk_linear(const lmc_arch_ctx *c, lmc_linear *l, int N, int K, int bias, int64_t *params, lmc_err *err,
               const char *fmt, ...) __attribute__((format(printf, 8, 9)));
/* A norm weight (or bias) "<name>" of n elements, widened to f32. NULL (and an error) when absent or misshaped. */
float *blk_vec(const lmc_arch_ctx *c, int n, int64_t *params, lmc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The (rows, cols) tensor "<name>", shape-checked (embeddings, position tables). */
const lmc_tensor *blk_matrix(const lmc_arch_ctx *c, int64_t rows, int64_t cols, const char *what, lmc_err *err,
                             const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* HF Conv1D (GPT-2): weight stored [in = K, out = N], bias (N). Transposed once at load into an owned (N, K)
 * copy in the file's dtype, so the forward is an ordinary linear. */
int blk_conv1d(const lmc_arch_ctx *c, lmc_linear *l, int K, int N, int64_t *params, lmc_err *err,
               const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Fused QKV stored per KV group as [n_heads/n_kv q heads, 1 k head, 1 v head], each head_dim rows
 * (Falcon new_decoder_architecture; n_kv = 1 is Falcon-7B's [all q, k, v]; n_kv = n_heads is the per-head
 * [q, k, v] of GPT-NeoX and Falcon-RW). Loaded as one linear whose output row is
 * [Q (n_heads·hd) | K (n_kv·hd) | V (n_kv·hd)], q head g·r + i being head i of group g (r = n_heads/n_kv),
 * which is the order HF flattens them in. The rows are permuted at load into an owned copy (none needed
 * when n_kv = 1). */
int blk_qkv_grouped(const lmc_arch_ctx *c, lmc_linear *l, int n_heads, int n_kv, int head_dim, int dim, int bias,
                    int64_t *params, lmc_err *err, const char *fmt, ...) __attribute__((format(printf, 10, 11)));

/* ---- MLPs ---- */
/* down(silu(gate(x)) * up(x)): Llama/Mistral MLP, Mixtral and DeepSeek experts (Qwen-1 uses its own names). */
typedef struct blk_swiglu {
    lmc_linear gate, up; /* (hidden, dim) */
    lmc_linear down;     /* (dim, hidden) */
    int        hidden;
} blk_swiglu;
/* Tensors "<prefix>.<gate>.weight" etc. */
int  blk_swiglu_load(const lmc_arch_ctx *c, blk_swiglu *m, const char *prefix, const char *gate, const char *up,
                     const char *down, int dim, int hidden, int bias, int64_t *params, lmc_err *err);
/* x (T, dim) → out (T, dim); h1, h2: (T, hidden) scratch. */
void blk_swiglu_apply(const blk_swiglu *m, const float *x, float *out, int T, float *h1, float *h2);
void blk_swiglu_free(blk_swiglu *m);

/* down(act(up(x))): GPT-2, GPT-NeoX and Falcon MLPs (biases as loaded). */
typedef struct blk_gelu_mlp {
    lmc_linear up;   /* (hidden, dim) */
    lmc_linear down; /* (dim, hidden) */
    int        hidden;
    blk_act    act;
} blk_gelu_mlp;
/* x (T, dim) → out (T, dim); h: (T, hidden) scratch. */
void blk_gelu_mlp_apply(const blk_gelu_mlp *m, const float *x, float *out, int T, float *h);
void blk_gelu_mlp_free(blk_gelu_mlp *m);

/* ---- mixture of experts ---- */
/* out (T, dim) = Σ_{j<k} w[t·k + j] · experts[ids[t·k + j]](x[t]) for each token t, the routing (ids, w) being
 * the caller's. The rows routed to an expert are gathered (in token order) and run as one GEMM per expert, the
 * outputs scattered to per-(token, slot) rows, then each token sums its k slots in slot order: the result does
 * not depend on the thread count. All experts share `hidden`. */
int    blk_moe_apply(const blk_swiglu *experts, int n_experts, int k, const int *ids, const float *w, const float *x,
                     float *out, int T, int dim, lmc_err *err);
size_t blk_moe_scratch_bytes(int T, int k, int dim, int hidden);

/* lm_head for a model whose head may be tied to the embedding: `head` when present, else (tie) `emb`. */
int blk_lm_head(const lmc_arch_ctx *c, lmc_linear *l, const lmc_tensor *emb, const char *head_name, int tie,
                int vocab, int dim, int64_t *params, lmc_err *err);

#endif
