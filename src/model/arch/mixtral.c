/* mixtral.c — MixtralForCausalLM: Mistral attention with a sparse mixture-of-experts MLP.
 *
 * Block: x += o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))   with n1 = rmsnorm(x)
 *        x += Σ_{e ∈ top-k} w_e · w2_e(silu(w1_e(n2)) * w3_e(n2))            with n2 = rmsnorm(x)
 * Routing as HF MixtralSparseMoeBlock: p = softmax over all num_local_experts router logits, the top
 * num_experts_per_tok of p, renormalised to sum 1 over those k. The router runs in f32 (double sums) even under
 * bf16 compute (a flipped expert choice is a large error, not a rounding one), with a thread-count-independent
 * kernel, as is the dispatch (blocks.c). GQA, rope_scaling, optional tied embeddings;
 * a window longer than a non-null sliding_window is an error (lmc does not implement the sliding mask). */
#include "model/arch/arch.h"
#include "model/arch/blocks.h"
#include "kernels.h"
#include "kernels_ext.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mixtral_layer {
    float      *attn_norm;  /* (dim) */
    lmc_linear  q, k, v, o; /* q: (n_heads*head_dim, dim); k, v: (n_kv*head_dim, dim); o: (dim, n_heads*head_dim) */
    float      *moe_norm;   /* (dim) */
    float      *router;     /* (n_experts, dim) f32: block_sparse_moe.gate */
    blk_swiglu *experts;    /* (n_experts): w1 = gate, w3 = up: (hidden, dim); w2 = down: (dim, hidden) */
} mixtral_layer;

typedef struct mixtral_cfg {
    int    dim, n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab, n_experts, top_k, tie;
    float  eps;
    double theta;
} mixtral_cfg;

typedef struct mixtral_acts {
    float *x;             /* (T, dim) residual stream */
    float *xb;            /* (T, dim) normed input / attention output */
    float *mo;            /* (T, dim) MoE output */
    float *q, *att;       /* (T, n_heads*head_dim) */
    float *k, *v;         /* (T, n_kv*head_dim) */
    float *cos_t, *sin_t; /* (T, head_dim/2) */
    float *probs;         /* (T, n_experts) router probabilities */
    float *w;             /* (T, k) routing weights */
    int32_t *ids;         /* (T, k) routed experts */
    blk_moe_scratch moe;
} mixtral_acts;

typedef struct mixtral {
    arch_base      base;   /* embed, lm_head, tensor list, arena, profiler */
    mixtral_cfg    cfg;
    mixtral_layer *layers; /* (n_layers) */
    float         *final_norm; /* (dim) */
    mixtral_acts   a;
} mixtral;

static int mixtral_config(const lmc_arch_ctx *c, void *state, lmc_err *err) {
    mixtral *m = state;
    mixtral_cfg *o = &m->cfg;
    long dim, layers, heads, kv, hidden, vocab, head_dim, experts, top_k, sw;
    double eps;
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        blk_gqa_config(c, dim, &heads, &kv, &head_dim, err) || cfg_int(c, "intermediate_size", 1, 0, &hidden, err) ||
        cfg_int(c, "vocab_size", 1, 0, &vocab, err) || cfg_int(c, "num_local_experts", 1, 0, &experts, err) ||
        cfg_int(c, "num_experts_per_tok", 1, 0, &top_k, err) || cfg_int(c, "sliding_window", 0, 0, &sw, err) ||
        cfg_num_in(c, "rms_norm_eps", 1e-5, 0, 1, &eps, err) || cfg_num(c, "rope_theta", 0, 1e6, &o->theta, err) ||
        blk_silu_only(c, "MixtralForCausalLM", err) || cfg_bool(c, "tie_word_embeddings", 0, &o->tie, err))
        return -1;
    if (experts == 0 || top_k == 0 || top_k > experts)
        return lmc_fail(err, "%s: num_experts_per_tok %ld must be in 1..num_local_experts (%ld)", c->origin, top_k,
                        experts);
    if (sw > 0) /* the sliding mask is not implemented: a longer window would silently differ from HF */
        arch_limit_window(&m->base, (int)sw, "the model's sliding_window %ld, which lmc does not implement", sw);
    o->dim = (int)dim; o->n_layers = (int)layers; o->n_heads = (int)heads; o->n_kv_heads = (int)kv;
    o->head_dim = (int)head_dim; o->hidden = (int)hidden; o->vocab = (int)vocab; o->eps = (float)eps;
    o->n_experts = (int)experts; o->top_k = (int)top_k;
    if (lmc_rope_from_config(c, o->theta, o->head_dim, 0, &m->base.rope, err)) return -1;
    int hd = o->head_dim, qd = o->n_heads * hd, kvd = o->n_kv_heads * hd;
    arch_set_attention(&m->base, o->n_layers,
                       (attn_shape){o->n_heads, o->n_kv_heads, hd, hd, qd, kvd, kvd, 1.0f / sqrtf((float)hd)});
    m->base.info.routed_share = (double)o->top_k / o->n_experts;
    m->layers = arch_layers(c, &m->base, o->dim, o->vocab, "num_hidden_layers", o->n_layers, sizeof *m->layers, err);
    return m->layers ? 0 : -1;
}

static void mixtral_tensors(void *state, arch_tensors *t) {
    mixtral *m = state;
    const mixtral_cfg *o = &m->cfg;
    int d = o->dim, qd = o->n_heads * o->head_dim, kvd = o->n_kv_heads * o->head_dim;
    const char *w[3] = {"w1", "w3", "w2"}; /* gate, up, down */
    arch_add_embed_head(t, "model.embed_tokens.weight", "lm_head.weight", o->vocab, d, o->tie ? ARCH_TIED : 0,
                        "vocab_size, hidden_size");
    for (int l = 0; l < o->n_layers; l++) {
        mixtral_layer *L = &m->layers[l];
        char p[64], g[128], e[128];
        snprintf(p, sizeof p, "model.layers.%d", l);
        arch_add(t, ARCH_VEC, &L->attn_norm, d, 0, 0, "%s.input_layernorm.weight", p);
        arch_add(t, ARCH_VEC, &L->moe_norm, d, 0, 0, "%s.post_attention_layernorm.weight", p);
        arch_add(t, ARCH_LINEAR, &L->q, qd, d, 0, "%s.self_attn.q_proj", p);
        arch_add(t, ARCH_LINEAR, &L->k, kvd, d, 0, "%s.self_attn.k_proj", p);
        arch_add(t, ARCH_LINEAR, &L->v, kvd, d, 0, "%s.self_attn.v_proj", p);
        arch_add(t, ARCH_LINEAR, &L->o, d, qd, 0, "%s.self_attn.o_proj", p);
        snprintf(g, sizeof g, "%s.block_sparse_moe.gate.weight", p);
        snprintf(e, sizeof e, "%s.block_sparse_moe.experts", p);
        L->experts = blk_moe_tensors(t, &m->base, &L->router, g, "num_local_experts, hidden_size", e, w, o->n_experts,
                                     d, o->hidden);
    }
    arch_add(t, ARCH_VEC, &m->final_norm, d, 0, 0, "model.norm.weight");
}

static int mixtral_acts_table(void *state, arch_act *tab) {
    mixtral *m = state;
    const mixtral_cfg *o = &m->cfg;
    size_t d = o->dim, qd = (size_t)o->n_heads * o->head_dim, kvd = (size_t)o->n_kv_heads * o->head_dim;
    mixtral_acts *a = &m->a;
    arch_act lines[] = {
        ARCH_FLOATS(&a->x, d, 0), ARCH_FLOATS(&a->xb, d, 0), ARCH_FLOATS(&a->mo, d, 0), ARCH_FLOATS(&a->q, qd, 0),
        ARCH_FLOATS(&a->att, qd, 0), ARCH_FLOATS(&a->k, kvd, 0), ARCH_FLOATS(&a->v, kvd, 0),
        ARCH_FLOATS(&a->cos_t, o->head_dim / 2, 0), ARCH_FLOATS(&a->sin_t, o->head_dim / 2, 0),
        ARCH_FLOATS(&a->probs, o->n_experts, 0), ARCH_FLOATS(&a->w, o->top_k, 0), ARCH_INTS(&a->ids, o->top_k, 0),
    };
    memcpy(tab, lines, sizeof lines);
    return blk_moe_acts(&a->moe, tab, (int)(sizeof lines / sizeof lines[0]), o->top_k, o->dim, o->hidden,
                        o->n_experts);
}

/* Router: softmax over all experts, top-k, renormalised over the k (HF MixtralSparseMoeBlock). */
static void route(const mixtral *m, float *probs, int T, int32_t *ids, float *w) {
    int E = m->cfg.n_experts, k = m->cfg.top_k;
    softmax_rows(probs, T, E);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        int32_t *id = ids + (size_t)t * k;
        float *wt = w + (size_t)t * k, sum = 0;
        topk_desc(probs + (size_t)t * E, E, k, id, wt);
        for (int j = 0; j < k; j++) sum += wt[j];
        for (int j = 0; j < k; j++) wt[j] /= sum;
    }
}

/* One pass for a prefill (kv NULL: positions 0..T-1, causal attention among the T tokens) or a decoding step
 * (positions kv->pos.., attention over the cache): only the RoPE rows and the attention call (arch_attend)
 * differ. Routing is per token, so a token picks the same experts in a step as in a prefill. */
static int mixtral_run(void *state, arch_kv *kv, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    mixtral *m = state;
    const mixtral_cfg *o = &m->cfg;
    const mixtral_acts *a = &m->a;
    int d = o->dim, hd = o->head_dim, qd = o->n_heads * hd, kvd = o->n_kv_heads * hd, E = o->n_experts;
    int32_t *ids = a->ids;
    if (lmc_embed_rows(m->base.embed, tokens, T, a->x, err)) return -1;
    lmc_rope_tables_at(&m->base.rope, kv ? kv->pos : 0, T, a->cos_t, a->sin_t);
    for (int l = 0; l < o->n_layers; l++) {
        mixtral_layer *L = &m->layers[l];
        /* attention */
        rmsnorm(a->xb, a->x, L->attn_norm, T, d, o->eps);
        lmc_linear_apply(&L->q, a->xb, a->q, T);
        lmc_linear_apply(&L->k, a->xb, a->k, T);
        lmc_linear_apply(&L->v, a->xb, a->v, T);
        rope_apply(a->q, T, o->n_heads, hd, qd, hd, a->cos_t, a->sin_t, 0);
        rope_apply(a->k, T, o->n_kv_heads, hd, kvd, hd, a->cos_t, a->sin_t, 0);
        arch_attend(&m->base, kv, l, a->att, a->q, a->k, a->v, T, &m->base.attn);
        lmc_linear_apply(&L->o, a->att, a->xb, T);
        add_inplace(a->x, a->xb, (size_t)T * d);
        /* sparse MoE */
        rmsnorm(a->xb, a->x, L->moe_norm, T, d, o->eps);
        router_logits(a->probs, a->xb, L->router, T, E, d);
        route(m, a->probs, T, ids, a->w);
        blk_moe_apply(L->experts, E, o->top_k, ids, a->w, a->xb, a->mo, T, d, &a->moe);
        add_inplace(a->x, a->mo, (size_t)T * d);
    }
    rmsnorm(hidden, a->x, m->final_norm, T, d, o->eps);
    return 0;
}

static void mixtral_kv_shape(void *state, int *n_layers, int *k_width, int *v_width) {
    const mixtral_cfg *o = &((mixtral *)state)->cfg;
    *n_layers = o->n_layers;
    *k_width = *v_width = o->n_kv_heads * o->head_dim; /* grouped heads are cached once */
}

const lmc_arch lmc_arch_mixtral = {"MixtralForCausalLM", sizeof(mixtral), mixtral_config, mixtral_tensors, mixtral_acts_table,
                                   mixtral_run, mixtral_kv_shape};
