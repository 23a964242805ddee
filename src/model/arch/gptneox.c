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
#include "model/arch/arch.h"
#include "model/arch/blocks.h"
#include "kernels.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct neox_layer {
    float       *ln1_w, *ln1_b; /* (dim) input_layernorm */
    float       *ln2_w, *ln2_b; /* (dim) post_attention_layernorm */
    lmc_linear   qkv;           /* (3*dim, dim): [Q | K | V] after the per-head re-layout */
    lmc_linear   dense;         /* (dim, dim) */
    blk_gelu_mlp mlp;           /* dense_h_to_4h (hidden, dim), dense_4h_to_h (dim, hidden) */
} neox_layer;

typedef struct neox_cfg {
    int     dim, n_layers, n_heads, head_dim, hidden, vocab, parallel, rot;
    float   eps;
    int     tie, attn_bias;
    blk_act act;
    double  theta;
} neox_cfg;

typedef struct neox_acts {
    float *x;             /* (T, dim) residual stream */
    float *n1;            /* (T, dim) input_layernorm, then dense(attention) */
    float *n2;            /* (T, dim) post_attention_layernorm */
    float *qkv;           /* (T, 3*dim) [q | k | v] */
    float *att, *mo;      /* (T, dim) attention, mlp output */
    float *h;             /* (T, hidden) */
    float *cos_t, *sin_t; /* (T, rot/2) */
} neox_acts;

typedef struct neox {
    arch_base   base;   /* embed_in, embed_out (lm_head), tensor list, arena, profiler */
    neox_cfg    cfg;
    neox_layer *layers; /* (n_layers) */
    float      *lnf_w, *lnf_b; /* (dim) */
    neox_acts   a;
} neox;

static int read_config(const lmc_arch_ctx *c, neox_cfg *o, lmc_err *err) {
    long dim, layers, heads, hidden, vocab;
    double eps, base, pct;
    const char *actname;
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        cfg_int(c, "num_attention_heads", 1, 0, &heads, err) || cfg_int(c, "intermediate_size", 1, 0, &hidden, err) ||
        cfg_int(c, "vocab_size", 1, 0, &vocab, err) || cfg_num_in(c, "layer_norm_eps", 1e-5, 0, 1, &eps, err) ||
        cfg_num(c, "rotary_emb_base", 0, 10000.0, &base, err) || cfg_num(c, "rope_theta", 0, base, &o->theta, err) ||
        cfg_num_in(c, "rotary_pct", 0.25, 0, 1, &pct, err) ||
        cfg_num_in(c, "partial_rotary_factor", pct, 0, 1, &pct, err) ||
        cfg_bool(c, "use_parallel_residual", 1, &o->parallel, err) ||
        cfg_bool(c, "attention_bias", 1, &o->attn_bias, err) || cfg_str(c, "hidden_act", "gelu", &actname, err) ||
        cfg_bool(c, "tie_word_embeddings", 0, &o->tie, err) || blk_act_parse(c, "hidden_act", actname, &o->act, err))
        return -1;
    if (heads == 0 || dim % heads)
        return lmc_fail(err, "%s: hidden_size %ld is not a multiple of num_attention_heads %ld", c->origin, dim, heads);
    o->dim = (int)dim; o->n_layers = (int)layers; o->n_heads = (int)heads; o->head_dim = (int)(dim / heads);
    o->hidden = (int)hidden; o->vocab = (int)vocab; o->eps = (float)eps;
    o->rot = (int)(o->head_dim * pct); /* HF: int(head_size * rotary_pct) */
    if (o->rot < 2 || o->rot % 2 || o->rot > o->head_dim)
        return lmc_fail(err, "%s: rotary_pct %g gives %d rotary dims of head_dim %d (must be even, 2..head_dim)",
                        c->origin, pct, o->rot, o->head_dim);
    return 0;
}

static int neox_config(const lmc_arch_ctx *c, void *state, lmc_err *err) {
    neox *m = state;
    if (read_config(c, &m->cfg, err) || lmc_rope_from_config(c, m->cfg.theta, m->cfg.rot, 0, &m->base.rope, err))
        return -1;
    const neox_cfg *o = &m->cfg;
    arch_set_attention(&m->base, o->n_layers, (attn_shape){o->n_heads, o->n_heads, o->head_dim, o->head_dim, 3 * o->dim,
                                                           3 * o->dim, 3 * o->dim, 1.0f / sqrtf((float)o->head_dim)});
    m->layers = arch_layers(c, &m->base, m->cfg.dim, m->cfg.vocab, "num_hidden_layers", m->cfg.n_layers, sizeof *m->layers, err);
    return m->layers ? 0 : -1;
}

static void neox_tensors(void *state, arch_tensors *t) {
    neox *m = state;
    const neox_cfg *o = &m->cfg;
    int d = o->dim, ab = o->attn_bias ? ARCH_BIAS : 0;
    arch_add_embed_head(t, "gpt_neox.embed_in.weight", "embed_out.weight", o->vocab, d, o->tie ? ARCH_TIED : 0,
                        "vocab_size, hidden_size");
    for (int l = 0; l < o->n_layers; l++) {
        neox_layer *L = &m->layers[l];
        char p[64];
        snprintf(p, sizeof p, "gpt_neox.layers.%d", l);
        arch_add_norm(t, &L->ln1_w, &L->ln1_b, d, "%s.input_layernorm", p);
        arch_add_norm(t, &L->ln2_w, &L->ln2_b, d, "%s.post_attention_layernorm", p);
        arch_add_qkv(t, &L->qkv, o->n_heads, o->n_heads, o->head_dim, d, ab, "%s.attention.query_key_value", p);
        arch_add(t, ARCH_LINEAR, &L->dense, d, d, ab, "%s.attention.dense", p);
        blk_gelu_mlp_tensors(t, &L->mlp, p, "mlp.dense_h_to_4h", "mlp.dense_4h_to_h", d, o->hidden, o->act, ARCH_BIAS);
    }
    arch_add_norm(t, &m->lnf_w, &m->lnf_b, d, "gpt_neox.final_layer_norm");
}

static int neox_acts_table(void *state, arch_act *tab) {
    neox *m = state;
    neox_acts *a = &m->a;
    size_t d = m->cfg.dim, r2 = (size_t)m->cfg.rot / 2;
    arch_act lines[] = {
        ARCH_FLOATS(&a->x, d, 0), ARCH_FLOATS(&a->n1, d, 0), ARCH_FLOATS(&a->n2, d, 0),
        ARCH_FLOATS(&a->qkv, 3 * d, 0), ARCH_FLOATS(&a->att, d, 0), ARCH_FLOATS(&a->mo, d, 0),
        ARCH_FLOATS(&a->h, m->cfg.hidden, 0), ARCH_FLOATS(&a->cos_t, r2, 0), ARCH_FLOATS(&a->sin_t, r2, 0),
    };
    return ARCH_ACTS(tab, lines);
}

/* One pass for a prefill (kv NULL: positions 0..T-1, causal attention among the T tokens) or a decoding step
 * (positions kv->pos.., attention over the cache): only the RoPE rows and the attention call (arch_attend)
 * differ. */
static int neox_run(void *state, arch_kv *kv, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    neox *m = state;
    const neox_cfg *o = &m->cfg;
    const neox_acts *a = &m->a;
    int d = o->dim, hd = o->head_dim, rot = o->rot;
    float *x = a->x, *n1 = a->n1, *n2 = a->n2, *qkv = a->qkv, *mo = a->mo;
    if (lmc_embed_rows(m->base.embed, tokens, T, x, err)) return -1;
    lmc_rope_tables_at(&m->base.rope, kv ? kv->pos : 0, T, a->cos_t, a->sin_t);
    for (int l = 0; l < o->n_layers; l++) {
        neox_layer *L = &m->layers[l];
        layernorm(n1, x, L->ln1_w, L->ln1_b, T, d, o->eps);
        lmc_linear_apply(&L->qkv, n1, qkv, T);
        /* partial rotary: the first rot dims of each head turn, the rest pass through into the cache as they are */
        rope_apply(qkv, T, o->n_heads, hd, 3 * d, rot, a->cos_t, a->sin_t, 0);
        rope_apply(qkv + d, T, o->n_heads, hd, 3 * d, rot, a->cos_t, a->sin_t, 0);
        arch_attend(&m->base, kv, l, a->att, qkv, qkv + d, qkv + 2 * d, T, &m->base.attn);
        lmc_linear_apply(&L->dense, a->att, n1, T); /* n1 ← attention output */
        if (o->parallel) {
            layernorm(n2, x, L->ln2_w, L->ln2_b, T, d, o->eps);
            blk_gelu_mlp_apply(&L->mlp, n2, mo, T, a->h);
            add_inplace(mo, n1, (size_t)T * d); /* HF: mlp_output + attn_output + hidden_states */
            add_inplace(x, mo, (size_t)T * d);
        } else {
            add_inplace(x, n1, (size_t)T * d);
            layernorm(n2, x, L->ln2_w, L->ln2_b, T, d, o->eps);
            blk_gelu_mlp_apply(&L->mlp, n2, mo, T, a->h);
            add_inplace(x, mo, (size_t)T * d);
        }
    }
    layernorm(hidden, x, m->lnf_w, m->lnf_b, T, d, o->eps);
    return 0;
}

static void neox_kv_shape(void *state, int *n_layers, int *k_width, int *v_width) {
    const neox_cfg *o = &((neox *)state)->cfg;
    *n_layers = o->n_layers;
    *k_width = *v_width = o->dim; /* n_heads · head_dim */
}

const lmc_arch lmc_arch_gptneox = {"GPTNeoXForCausalLM", sizeof(neox), neox_config, neox_tensors, neox_acts_table,
                                   neox_run, neox_kv_shape};
