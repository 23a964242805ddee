/* mixtral.c — MixtralForCausalLM: Mistral attention with a sparse mixture-of-experts MLP.
 *
 * Block: x += o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))   with n1 = rmsnorm(x)
 *        x += Σ_{e ∈ top-k} w_e · w2_e(silu(w1_e(n2)) * w3_e(n2))            with n2 = rmsnorm(x)
 * Routing as HF MixtralSparseMoeBlock: p = softmax over all num_local_experts router logits, the top
 * num_experts_per_tok of p, renormalised to sum 1 over those k. The router runs in f32 (double sums) even under
 * bf16 compute (a flipped expert choice is a large error, not a rounding one), with a thread-count-independent
 * kernel, as is the dispatch (blocks.c). GQA, rope_scaling, optional tied embeddings;
 * a window longer than a non-null sliding_window is an error (lmc does not implement the sliding mask). */
#include "arch.h"
#include "blocks.h"
#include "kernels.h"
#include "kernels_ext.h"
#include "util.h"

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

typedef struct mixtral {
    int dim, n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab, n_experts, top_k, sliding_window;
    float eps;
    lmc_rope rope;
    const lmc_tensor *embed; /* (vocab, dim), in the mmap */
    mixtral_layer *layers;   /* (n_layers) */
    float *final_norm;       /* (dim) */
    lmc_linear lm_head;      /* (vocab, dim) */
} mixtral;

static size_t mixtral_scratch_bytes(const void *state, int T) {
    const mixtral *m = state;
    size_t qd = (size_t)m->n_heads * m->head_dim, kvd = (size_t)m->n_kv_heads * m->head_dim;
    size_t floats = (size_t)T * (3 * m->dim + 2 * qd + 2 * kvd + m->head_dim + 2 * (size_t)m->n_experts);
    return floats * sizeof(float) + (size_t)T * m->top_k * sizeof(int) +
           blk_moe_scratch_bytes(T, m->top_k, m->dim, m->hidden);
}

static void mixtral_free(void *state) {
    mixtral *m = state;
    if (!m) return;
    for (int l = 0; m->layers && l < m->n_layers; l++) {
        mixtral_layer *L = &m->layers[l];
        free(L->attn_norm); free(L->moe_norm);
        lmc_linear_free(&L->q); lmc_linear_free(&L->k); lmc_linear_free(&L->v); lmc_linear_free(&L->o);
        free(L->router);
        for (int e = 0; L->experts && e < m->n_experts; e++) blk_swiglu_free(&L->experts[e]);
        free(L->experts);
    }
    free(m->layers);
    free(m->final_norm);
    lmc_linear_free(&m->lm_head);
    lmc_rope_free(&m->rope);
    free(m);
}

static int read_config(const lmc_arch_ctx *c, mixtral *m, int *tie, double *theta, lmc_err *err) {
    long dim, layers, heads, kv, hidden, vocab, head_dim, experts, top_k, sw;
    double eps;
    const char *act;
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        cfg_int(c, "num_attention_heads", 1, 0, &heads, err) ||
        cfg_int(c, "num_key_value_heads", 0, heads, &kv, err) ||
        cfg_int(c, "intermediate_size", 1, 0, &hidden, err) || cfg_int(c, "vocab_size", 1, 0, &vocab, err) ||
        cfg_int(c, "num_local_experts", 1, 0, &experts, err) ||
        cfg_int(c, "num_experts_per_tok", 1, 0, &top_k, err) || cfg_int(c, "sliding_window", 0, 0, &sw, err) ||
        cfg_num_in(c, "rms_norm_eps", 1e-5, 0, 1, &eps, err) || cfg_num(c, "rope_theta", 0, 1e6, theta, err) ||
        cfg_str(c, "hidden_act", "silu", &act, err) || cfg_bool(c, "tie_word_embeddings", 0, tie, err))
        return -1;
    if (heads == 0 || kv == 0 || heads % kv)
        return lmc_fail(err, "%s: num_attention_heads %ld is not a multiple of num_key_value_heads %ld", c->origin,
                        heads, kv);
    if (cfg_int(c, "head_dim", 0, dim / heads, &head_dim, err)) return -1;
    if (head_dim == 0 || head_dim % 2) return lmc_fail(err, "%s: head_dim %ld must be even", c->origin, head_dim);
    if (strcmp(act, "silu") != 0)
        return lmc_fail(err, "%s: hidden_act \"%s\" is not supported for MixtralForCausalLM (expected silu)",
                        c->origin, act);
    if (experts == 0 || top_k == 0 || top_k > experts)
        return lmc_fail(err, "%s: num_experts_per_tok %ld must be in 1..num_local_experts (%ld)", c->origin, top_k,
                        experts);
    m->dim = (int)dim; m->n_layers = (int)layers; m->n_heads = (int)heads; m->n_kv_heads = (int)kv;
    m->head_dim = (int)head_dim; m->hidden = (int)hidden; m->vocab = (int)vocab; m->eps = (float)eps;
    m->n_experts = (int)experts; m->top_k = (int)top_k; m->sliding_window = (int)sw;
    return 0;
}

static int load_layer(const lmc_arch_ctx *c, mixtral *m, int l, int64_t *params, lmc_err *err) {
    mixtral_layer *L = &m->layers[l];
    int qd = m->n_heads * m->head_dim, kvd = m->n_kv_heads * m->head_dim;
    const char *p = "model.layers";
    if (!(L->attn_norm = blk_vec(c, m->dim, params, err, "%s.%d.input_layernorm.weight", p, l)) ||
        !(L->moe_norm = blk_vec(c, m->dim, params, err, "%s.%d.post_attention_layernorm.weight", p, l)) ||
        blk_linear(c, &L->q, qd, m->dim, 0, params, err, "%s.%d.self_attn.q_proj", p, l) ||
        blk_linear(c, &L->k, kvd, m->dim, 0, params, err, "%s.%d.self_attn.k_proj", p, l) ||
        blk_linear(c, &L->v, kvd, m->dim, 0, params, err, "%s.%d.self_attn.v_proj", p, l) ||
        blk_linear(c, &L->o, m->dim, qd, 0, params, err, "%s.%d.self_attn.o_proj", p, l))
        return -1;
    const lmc_tensor *g = blk_matrix(c, m->n_experts, m->dim, "num_local_experts, hidden_size", err,
                                     "%s.%d.block_sparse_moe.gate.weight", p, l);
    if (!g || !(L->router = lmc_tensor_f32(g, g->numel, c->origin, err))) return -1;
    *params += g->numel;
    L->experts = lmc_xcalloc((size_t)m->n_experts, sizeof *L->experts);
    char prefix[128];
    for (int e = 0; e < m->n_experts; e++) {
        snprintf(prefix, sizeof prefix, "%s.%d.block_sparse_moe.experts.%d", p, l, e);
        if (blk_swiglu_load(c, &L->experts[e], prefix, "w1", "w3", "w2", m->dim, m->hidden, 0, params, err)) return -1;
    }
    return 0;
}

static int mixtral_load(const lmc_arch_ctx *c, void **state, lmc_model_info *info, lmc_err *err) {
    mixtral *m = lmc_xcalloc(1, sizeof *m);
    int tie;
    double theta;
    int64_t params = 0;
    if (read_config(c, m, &tie, &theta, err) ||
        lmc_rope_from_config(c, theta, m->head_dim, 0, &m->rope, err))
        goto fail;
    if (!(m->embed = blk_matrix(c, m->vocab, m->dim, "vocab_size, hidden_size", err, "model.embed_tokens.weight")))
        goto fail;
    params += m->embed->numel;
    if (blk_lm_head(c, &m->lm_head, m->embed, "lm_head.weight", tie, m->vocab, m->dim, &params, err)) goto fail;
    if (cfg_check_layers(c, "num_hidden_layers", m->n_layers, err)) goto fail;
    m->layers = lmc_xcalloc((size_t)m->n_layers, sizeof *m->layers);
    for (int l = 0; l < m->n_layers; l++)
        if (load_layer(c, m, l, &params, err)) goto fail;
    if (!(m->final_norm = blk_vec(c, m->dim, &params, err, "model.norm.weight"))) goto fail;
    *info = arch_info(m->dim, m->vocab, 0, params, &m->lm_head, NULL); /* RoPE: any window length */
    *state = m;
    return 0;
fail:
    mixtral_free(m);
    return -1;
}

/* Router: softmax over all experts, top-k, renormalised over the k (HF MixtralSparseMoeBlock). */
static void route(const mixtral *m, float *probs, int T, int *ids, float *w) {
    int E = m->n_experts, k = m->top_k;
    softmax_rows(probs, T, E);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        int *id = ids + (size_t)t * k;
        float *wt = w + (size_t)t * k, sum = 0;
        topk_desc(probs + (size_t)t * E, E, k, id, wt);
        for (int j = 0; j < k; j++) sum += wt[j];
        for (int j = 0; j < k; j++) wt[j] /= sum;
    }
}

static int mixtral_forward(void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    mixtral *m = state;
    if (m->sliding_window > 0 && T > m->sliding_window)
        return lmc_fail(err, "window of %d tokens exceeds the model's sliding_window %d, which lmc does not "
                             "implement; use --block-size %d or less", T, m->sliding_window, m->sliding_window);
    int qd = m->n_heads * m->head_dim, kvd = m->n_kv_heads * m->head_dim, E = m->n_experts, k = m->top_k;
    float *x = malloc(mixtral_scratch_bytes(m, T) - blk_moe_scratch_bytes(T, k, m->dim, m->hidden));
    if (!x) return lmc_fail(err, "out of memory for activations of a %d-token window", T);
    float *xb = x + (size_t)T * m->dim;            /* (T, dim) normed input / attention output */
    float *mo = xb + (size_t)T * m->dim;           /* (T, dim) MoE output */
    float *q = mo + (size_t)T * m->dim;            /* (T, qd) */
    float *att = q + (size_t)T * qd;               /* (T, qd) */
    float *kk = att + (size_t)T * qd;              /* (T, kvd) */
    float *v = kk + (size_t)T * kvd;               /* (T, kvd) */
    float *cos_t = v + (size_t)T * kvd;            /* (T, head_dim/2) */
    float *sin_t = cos_t + (size_t)T * (m->head_dim / 2);
    float *probs = sin_t + (size_t)T * (m->head_dim / 2); /* (T, E) */
    float *w = probs + (size_t)T * E;              /* (T, k) routing weights (E ≥ k floats per token) */
    int *ids = (int *)(w + (size_t)T * E);         /* (T, k) */
    int rc = lmc_embed_rows(m->embed, tokens, T, x, err);
    lmc_rope_tables(&m->rope, T, cos_t, sin_t);
    float scale = 1.0f / sqrtf((float)m->head_dim);
    for (int l = 0; rc == 0 && l < m->n_layers; l++) {
        mixtral_layer *L = &m->layers[l];
        /* attention */
        rmsnorm(xb, x, L->attn_norm, T, m->dim, m->eps);
        lmc_linear_apply(&L->q, xb, q, T);
        lmc_linear_apply(&L->k, xb, kk, T);
        lmc_linear_apply(&L->v, xb, v, T);
        rope_apply(q, T, m->n_heads, m->head_dim, qd, m->head_dim, cos_t, sin_t, 0);
        rope_apply(kk, T, m->n_kv_heads, m->head_dim, kvd, m->head_dim, cos_t, sin_t, 0);
        attention_causal(att, q, qd, kk, kvd, v, kvd, T, m->n_heads, m->n_kv_heads, m->head_dim, m->head_dim, scale);
        lmc_linear_apply(&L->o, att, xb, T);
        add_inplace(x, xb, (size_t)T * m->dim);
        /* sparse MoE */
        rmsnorm(xb, x, L->moe_norm, T, m->dim, m->eps);
        router_logits(probs, xb, L->router, T, E, m->dim);
        route(m, probs, T, ids, w);
        rc = blk_moe_apply(L->experts, E, k, ids, w, xb, mo, T, m->dim, err);
        add_inplace(x, mo, (size_t)T * m->dim);
    }
    if (rc == 0) rmsnorm(hidden, x, m->final_norm, T, m->dim, m->eps);
    free(x);
    return rc;
}

const lmc_arch lmc_arch_mixtral = {"MixtralForCausalLM", mixtral_load, mixtral_forward, mixtral_scratch_bytes,
                                   mixtral_free};
