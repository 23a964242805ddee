/* blocks.h — pieces shared by the architectures: activations named by config, the SwiGLU and GELU MLPs and the
 * mixture-of-experts dispatcher. Each architecture keeps its own forward; only math that is literally the same
 * lives here. */
#ifndef LMC_ARCH_BLOCKS_H
#define LMC_ARCH_BLOCKS_H

#include "model/arch/arch.h"

/* ---- activations named by a config key ---- */
typedef enum blk_act { BLK_GELU_ERF, BLK_GELU_TANH } blk_act;
/* "gelu" → exact erf GELU; "gelu_new", "gelu_pytorch_tanh", "gelu_fast" → tanh GELU; anything else is an error
 * naming the key and the value. */
int  blk_act_parse(const lmc_arch_ctx *c, const char *key, const char *value, blk_act *out, lmc_err *err);
void blk_act_apply(blk_act act, float *x, size_t n);

/* ---- config shared by the RoPE attention families ---- */
/* num_attention_heads, num_key_value_heads (default: all heads) and head_dim (default dim / heads, even). */
int blk_gqa_config(const lmc_arch_ctx *c, long dim, long *heads, long *kv, long *head_dim, lmc_err *err);
/* hidden_act must be "silu" (the default): the SwiGLU families implement no other. */
int blk_silu_only(const lmc_arch_ctx *c, const char *arch, lmc_err *err);

/* ---- MLPs ---- */
/* down(silu(gate(x)) * up(x)): Llama/Mistral MLP, Mixtral and DeepSeek experts (Qwen-1 uses its own names). */
typedef struct blk_swiglu {
    lmc_linear gate, up; /* (hidden, dim) */
    lmc_linear down;     /* (dim, hidden) */
    int        hidden;
} blk_swiglu;
/* Lists "<prefix>.<gate>" etc. (tensor-list lines, arch.h) and sets m->hidden. */
void blk_swiglu_tensors(arch_tensors *t, blk_swiglu *m, const char *prefix, const char *gate, const char *up,
                        const char *down, int dim, int hidden, int flags);
/* x (T, dim) → out (T, dim); h1, h2: (T, hidden) scratch. */
void blk_swiglu_apply(const blk_swiglu *m, const float *x, float *out, int T, float *h1, float *h2);

/* down(act(up(x))): GPT-2, GPT-NeoX and Falcon MLPs (biases as loaded). */
typedef struct blk_gelu_mlp {
    lmc_linear up;   /* (hidden, dim) */
    lmc_linear down; /* (dim, hidden) */
    int        hidden;
    blk_act    act;
} blk_gelu_mlp;
/* Lists "<prefix>.<up>" and "<prefix>.<down>" and sets m->hidden and m->act. */
void blk_gelu_mlp_tensors(arch_tensors *t, blk_gelu_mlp *m, const char *prefix, const char *up, const char *down,
                          int dim, int hidden, blk_act act, int flags);
/* x (T, dim) → out (T, dim); h: (T, hidden) scratch. */
void blk_gelu_mlp_apply(const blk_gelu_mlp *m, const float *x, float *out, int T, float *h);

/* ---- mixture of experts ---- */
/* Scratch of one dispatch over T tokens, from the architecture's activation table (blk_moe_acts). */
typedef struct blk_moe_scratch {
    float   *yslot;          /* (T·k, dim) expert outputs per (token, slot) */
    float   *xg, *yg;        /* (T, dim) inputs gathered for one expert, its outputs */
    float   *h;              /* (T, 2·hidden) */
    int32_t *order;          /* (T·k) slots grouped by expert */
    int32_t *rows;           /* (T) token of each routed slot */
    int32_t *start, *cursor; /* (n_experts + 1) */
} blk_moe_scratch;
/* Lists a router "<router_name>" (n_experts, dim), kept in f32, into *router, and n_experts SwiGLU experts
 * "<experts_prefix>.<e>.<gate|up|down>" of width hidden, into an array owned by the state (returned). `what`
 * names the config keys behind the router's shape. */
blk_swiglu *blk_moe_tensors(arch_tensors *t, arch_base *b, float **router, const char *router_name, const char *what,
                            const char *experts_prefix, const char *names[3], int n_experts, int dim, int hidden);
/* Appends the scratch's lines to an activation table at tab[n]; returns the new count. */
int  blk_moe_acts(blk_moe_scratch *s, arch_act *tab, int n, int k, int dim, int hidden, int n_experts);
/* out (T, dim) = Σ_{j<k} w[t·k + j] · experts[ids[t·k + j]](x[t]) for each token t, the routing (ids, w) being
 * the caller's. The rows routed to an expert are gathered (in token order) and run as one GEMM per expert, the
 * outputs scattered to per-(token, slot) rows, then each token sums its k slots in slot order: the result does
 * not depend on the thread count. All experts share `hidden`. */
void blk_moe_apply(const blk_swiglu *experts, int n_experts, int k, const int32_t *ids, const float *w,
                   const float *x, float *out, int T, int dim, const blk_moe_scratch *s);

#endif
