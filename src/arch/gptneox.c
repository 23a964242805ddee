/* gptneox.c — GPTNeoXForCausalLM (Pythia, GPT-NeoX-20B).
 *
 * Parallel residual (use_parallel_residual, the default):
 *        x += dense(attn(rope(q), rope(k), v)) + mlp(n2)     with qkv from n1 = layernorm(x; input_layernorm),
 *                                                            n2 = layernorm(x; post_attention_layernorm)
 * Sequential:  a = x + dense(attn(...n1...));  x = a + mlp(layernorm(a; post_attention_layernorm))
 * mlp = dense_4h_to_h(gelu(dense_h_to_4h(·))) with hidden_act (exact erf "gelu" for Pythia). Fused
 * query_key_value stored per head [q, k, v] (re-laid-out at load to [Q | K | V]). Partial rotary: rotate_half on
 * the first int(head_dim · rotary_pct) dims of each head. Biases on every linear (attention_bias for qkv/dense).
 * Out: layernorm(x; final_layer_norm), head embed_out (untied unless tie_word_embeddings). */
#include "arch.h"
#include "blocks.h"
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct neox_layer {
    float       *ln1_w, *ln1_b; /* (dim) input_layernorm */
    float       *ln2_w, *ln2_b; /* (dim) post_attention_layernorm */
    lmc_linear   qkv;           /* (3*dim, dim): [Q | K | V] after the per-head re-layout */
    lmc_linear   dense;         /* (dim, dim) */
    blk_gelu_mlp mlp;           /* dense_h_to_4h (hidden, dim), dense_4h_to_h (dim, hidden) */
} neox_layer;

typedef struct neox {
    int dim, n_layers, n_heads, head_dim, hidden, vocab, parallel;
    float eps;
    lmc_rope rope;           /* rot_dim = int(head_dim * rotary_pct) */
    const lmc_tensor *embed; /* (vocab, dim), in the mmap */
    neox_layer *layers;      /* (n_layers) */
    float *lnf_w, *lnf_b;    /* (dim) */
    lmc_linear lm_head;      /* (vocab, dim) embed_out */
} neox;

static size_t neox_scratch_bytes(const void *state, int T) {
    const neox *m = state;
    /* x, n1, n2/ao, qkv (3), att, mo, h, cos, sin */
    return sizeof(float) * (size_t)T * (9 * (size_t)m->dim + m->hidden + m->rope.rot_dim);
}

static void neox_free(void *state) {
    neox *m = state;
    if (!m) return;
    for (int l = 0; m->layers && l < m->n_layers; l++) {
        neox_layer *L = &m->layers[l];
        free(L->ln1_w); free(L->ln1_b); free(L->ln2_w); free(L->ln2_b);
        lmc_linear_free(&L->qkv); lmc_linear_free(&L->dense);
        blk_gelu_mlp_free(&L->mlp);
    }
    free(m->layers);
    free(m->lnf_w); free(m->lnf_b);
    lmc_linear_free(&m->lm_head);
    lmc_rope_free(&m->rope);
    free(m);
}

static int read_config(const lmc_arch_ctx *c, neox *m, int *tie, int *attn_bias, blk_act *act, double *theta,
                       double *pct, lmc_err *err) {
    long dim, layers, heads, hidden, vocab;
    double eps, base;
    const char *actname;
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        cfg_int(c, "num_attention_heads", 1, 0, &heads, err) || cfg_int(c, "intermediate_size", 1, 0, &hidden, err) ||
        cfg_int(c, "vocab_size", 1, 0, &vocab, err) || cfg_num_in(c, "layer_norm_eps", 1e-5, 0, 1, &eps, err) ||
        cfg_num(c, "rotary_emb_base", 0, 10000.0, &base, err) || cfg_num(c, "rope_theta", 0, base, theta, err) ||
        cfg_num_in(c, "rotary_pct", 0.25, 0, 1, pct, err) ||
        cfg_num_in(c, "partial_rotary_factor", *pct, 0, 1, pct, err) ||
        cfg_bool(c, "use_parallel_residual", 1, &m->parallel, err) ||
        cfg_bool(c, "attention_bias", 1, attn_bias, err) || cfg_str(c, "hidden_act", "gelu", &actname, err) ||
        cfg_bool(c, "tie_word_embeddings", 0, tie, err) || blk_act_parse(c, "hidden_act", actname, act, err))
        return -1;
    if (heads == 0 || dim % heads)
        return lmc_fail(err, "%s: hidden_size %ld is not a multiple of num_attention_heads %ld", c->origin, dim, heads);
    m->dim = (int)dim; m->n_layers = (int)layers; m->n_heads = (int)heads; m->head_dim = (int)(dim / heads);
    m->hidden = (int)hidden; m->vocab = (int)vocab; m->eps = (float)eps;
    return 0;
}

static int load_layer(const lmc_arch_ctx *c, neox *m, int l, int attn_bias, blk_act act, int64_t *params,
                      lmc_err *err) {
    neox_layer *L = &m->layers[l];
    int d = m->dim;
    const char *p = "gpt_neox.layers";
    L->mlp.hidden = m->hidden;
    L->mlp.act = act;
    if (!(L->ln1_w = blk_vec(c, d, params, err, "%s.%d.input_layernorm.weight", p, l)) ||
        !(L->ln1_b = blk_vec(c, d, params, err, "%s.%d.input_layernorm.bias", p, l)) ||
        !(L->ln2_w = blk_vec(c, d, params, err, "%s.%d.post_attention_layernorm.weight", p, l)) ||
        !(L->ln2_b = blk_vec(c, d, params, err, "%s.%d.post_attention_layernorm.bias", p, l)) ||
        blk_qkv_grouped(c, &L->qkv, m->n_heads, m->n_heads, m->head_dim, d, attn_bias, params, err,
                        "%s.%d.attention.query_key_value", p, l) ||
        blk_linear(c, &L->dense, d, d, attn_bias, params, err, "%s.%d.attention.dense", p, l) ||
        blk_linear(c, &L->mlp.up, m->hidden, d, 1, params, err, "%s.%d.mlp.dense_h_to_4h", p, l) ||
        blk_linear(c, &L->mlp.down, d, m->hidden, 1, params, err, "%s.%d.mlp.dense_4h_to_h", p, l))
        return -1;
    return 0;
}

static int neox_load(const lmc_arch_ctx *c, void **state, lmc_model_info *info, lmc_err *err) {
    neox *m = lmc_xcalloc(1, sizeof *m);
    int tie, attn_bias;
    blk_act act;
    double theta, pct;
    int64_t params = 0;
    if (read_config(c, m, &tie, &attn_bias, &act, &theta, &pct, err)) goto fail;
    int rot = (int)(m->head_dim * pct); /* HF: int(head_size * rotary_pct) */
    if (rot < 2 || rot % 2 || rot > m->head_dim) {
        lmc_fail(err, "%s: rotary_pct %g gives %d rotary dims of head_dim %d (must be even, 2..head_dim)", c->origin,
                 pct, rot, m->head_dim);
        goto fail;
    }
    if (lmc_rope_from_config(c, theta, rot, 0, &m->rope, err)) goto fail;
    if (!(m->embed = blk_matrix(c, m->vocab, m->dim, "vocab_size, hidden_size", err, "gpt_neox.embed_in.weight")))
        goto fail;
    params += m->embed->numel;
    if (blk_lm_head(c, &m->lm_head, m->embed, "embed_out.weight", tie, m->vocab, m->dim, &params, err)) goto fail;
    if (cfg_check_layers(c, "num_hidden_layers", m->n_layers, err)) goto fail;
    m->layers = lmc_xcalloc((size_t)m->n_layers, sizeof *m->layers);
    for (int l = 0; l < m->n_layers; l++)
        if (load_layer(c, m, l, attn_bias, act, &params, err)) goto fail;
    if (!(m->lnf_w = blk_vec(c, m->dim, &params, err, "gpt_neox.final_layer_norm.weight")) ||
        !(m->lnf_b = blk_vec(c, m->dim, &params, err, "gpt_neox.final_layer_norm.bias")))
        goto fail;
    *info = arch_info(m->dim, m->vocab, 0, params, &m->lm_head, NULL); /* RoPE: any window length */
    *state = m;
    return 0;
fail:
    neox_free(m);
    return -1;
}

static int neox_forward(void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    neox *m = state;
    int d = m->dim, hd = m->head_dim, rot = m->rope.rot_dim;
    float *x = malloc(neox_scratch_bytes(m, T));
    if (!x) return lmc_fail(err, "out of memory for activations of a %d-token window", T);
    float *n1 = x + (size_t)T * d;        /* (T, dim) */
    float *n2 = n1 + (size_t)T * d;       /* (T, dim) */
    float *qkv = n2 + (size_t)T * d;      /* (T, 3*dim) [q | k | v] */
    float *att = qkv + (size_t)T * 3 * d; /* (T, dim) attention, then dense(attention) in n1 */
    float *mo = att + (size_t)T * d;      /* (T, dim) */
    float *h = mo + (size_t)T * d;        /* (T, hidden) */
    float *cos_t = h + (size_t)T * m->hidden, *sin_t = cos_t + (size_t)T * (rot / 2);
    int rc = lmc_embed_rows(m->embed, tokens, T, x, err);
    lmc_rope_tables(&m->rope, T, cos_t, sin_t);
    float scale = 1.0f / sqrtf((float)hd);
    for (int l = 0; rc == 0 && l < m->n_layers; l++) {
        neox_layer *L = &m->layers[l];
        layernorm(n1, x, L->ln1_w, L->ln1_b, T, d, m->eps);
        lmc_linear_apply(&L->qkv, n1, qkv, T);
        rope_apply(qkv, T, m->n_heads, hd, 3 * d, rot, cos_t, sin_t, 0);
        rope_apply(qkv + d, T, m->n_heads, hd, 3 * d, rot, cos_t, sin_t, 0);
        attention_causal(att, qkv, 3 * d, qkv + d, 3 * d, qkv + 2 * d, 3 * d, T, m->n_heads, m->n_heads, hd, hd,
                         scale);
        lmc_linear_apply(&L->dense, att, n1, T); /* n1 ← attention output */
        if (m->parallel) {
            layernorm(n2, x, L->ln2_w, L->ln2_b, T, d, m->eps);
            blk_gelu_mlp_apply(&L->mlp, n2, mo, T, h);
            add_inplace(mo, n1, (size_t)T * d); /* HF: mlp_output + attn_output + hidden_states */
            add_inplace(x, mo, (size_t)T * d);
        } else {
            add_inplace(x, n1, (size_t)T * d);
            layernorm(n2, x, L->ln2_w, L->ln2_b, T, d, m->eps);
            blk_gelu_mlp_apply(&L->mlp, n2, mo, T, h);
            add_inplace(x, mo, (size_t)T * d);
        }
    }
    if (rc == 0) layernorm(hidden, x, m->lnf_w, m->lnf_b, T, d, m->eps);
    free(x);
    return rc;
}

const lmc_arch lmc_arch_gptneox = {"GPTNeoXForCausalLM", neox_load, neox_forward, neox_scratch_bytes, neox_free};
