/* falcon.c — FalconForCausalLM (Falcon-7B/40B/180B, Falcon-RW without alibi).
 *
 * Parallel block (parallel_attn, the default):
 *        x += (mlp(nm) + dense(attn(rope(q), rope(k), v)))   with q, k, v = query_key_value(na)
 *   Falcon-7B style (new_decoder_architecture false): na = nm = layernorm(x; input_layernorm)
 *   Falcon-40B style (new_decoder_architecture true):  na = layernorm(x; ln_attn), nm = layernorm(x; ln_mlp)
 *                                                      (num_ln_in_parallel_attn 1: one input_layernorm)
 * Sequential block (parallel_attn false, old architecture only):
 *        x += dense(attn(...input_layernorm(x)...));  x += mlp(layernorm(x; post_attention_layernorm))
 * mlp = dense_4h_to_h(act(dense_h_to_4h(·))) of width ffn_hidden_size (default 4·hidden), act = `activation`
 * ("gelu": exact erf). Fused query_key_value: new architecture per KV group [n_head/n_kv q, k, v]; multi_query
 * [all q, k, v] with one KV head; otherwise per head [q, k, v]. Rotary (rotate_half) over the whole head.
 * Linear biases only when `bias` is true. LayerNorms with bias. Out: layernorm(x; ln_f), head tied to
 * word_embeddings unless tie_word_embeddings is false. alibi true is an error (lmc implements Falcon's rotary
 * variant only). */
#include "model/arch/arch.h"
#include "model/arch/blocks.h"
#include "kernels.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct falcon_layer {
    float       *na_w, *na_b; /* (dim) ln_attn, or input_layernorm */
    float       *nm_w, *nm_b; /* (dim) ln_mlp or post_attention_layernorm; NULL when the MLP reads na */
    lmc_linear   qkv;         /* ((n_heads + 2*n_kv)*head_dim, dim): [Q | K | V] after re-layout */
    lmc_linear   dense;       /* (dim, dim) */
    blk_gelu_mlp mlp;         /* dense_h_to_4h (ffn, dim), dense_4h_to_h (dim, ffn) */
} falcon_layer;

typedef struct falcon_cfg {
    int     dim, n_layers, n_heads, n_kv_heads, head_dim, ffn, vocab, parallel;
    float   eps;
    int     new_arch, two_ln, bias, tie;
    blk_act act;
    double  theta;
} falcon_cfg;

typedef struct falcon_acts {
    float *x;             /* (T, dim) residual stream */
    float *na, *nm;       /* (T, dim) attention input, MLP input (own norm) */
    float *att, *ao, *mo; /* (T, dim) attention, dense(attention), mlp output */
    float *qkv;           /* (T, (n_heads + 2*n_kv)*head_dim) [q | k | v] */
    float *h;             /* (T, ffn) */
    float *cos_t, *sin_t; /* (T, head_dim/2) */
} falcon_acts;

typedef struct falcon {
    arch_base     base;   /* embed, lm_head, tensor list, arena, profiler */
    falcon_cfg    cfg;
    falcon_layer *layers; /* (n_layers) */
    float        *lnf_w, *lnf_b; /* (dim) */
    falcon_acts   a;
} falcon;

/* An integer config key with an older RW-config spelling as fallback (FalconConfig's attribute aliases). */
static int cfg_int2(const lmc_arch_ctx *c, const char *key, const char *alias, int required, long dflt, long *out,
                    lmc_err *err) {
    if (cJSON_GetObjectItemCaseSensitive(c->config, key) || !alias) return cfg_int(c, key, required, dflt, out, err);
    if (cJSON_GetObjectItemCaseSensitive(c->config, alias)) return cfg_int(c, alias, required, dflt, out, err);
    return cfg_int(c, key, required, dflt, out, err);
}

static int read_config(const lmc_arch_ctx *c, falcon_cfg *o, lmc_err *err) {
    long dim, layers, heads, kv, ffn, vocab, n_ln;
    double eps;
    int alibi, mq, post_ln;
    const char *actname;
    if (cfg_int2(c, "hidden_size", "n_embed", 1, 0, &dim, err) ||
        cfg_int2(c, "num_hidden_layers", "n_layer", 1, 0, &layers, err) ||
        cfg_int2(c, "num_attention_heads", "n_head", 1, 0, &heads, err) ||
        cfg_int2(c, "num_kv_heads", "n_head_kv", 0, heads, &kv, err) ||
        cfg_int(c, "vocab_size", 1, 0, &vocab, err) || cfg_int(c, "ffn_hidden_size", 0, 4 * dim, &ffn, err) ||
        cfg_num_in(c, "layer_norm_epsilon", 1e-5, 0, 1, &eps, err) || cfg_num(c, "rope_theta", 0, 10000.0, &o->theta, err) ||
        cfg_bool(c, "alibi", 0, &alibi, err) || cfg_bool(c, "multi_query", 1, &mq, err) ||
        cfg_bool(c, "new_decoder_architecture", 0, &o->new_arch, err) ||
        cfg_bool(c, "parallel_attn", 1, &o->parallel, err) || cfg_bool(c, "bias", 0, &o->bias, err) ||
        cfg_bool(c, "apply_residual_connection_post_layernorm", 0, &post_ln, err) ||
        cfg_bool(c, "tie_word_embeddings", 1, &o->tie, err) || cfg_str(c, "activation", "gelu", &actname, err) ||
        blk_act_parse(c, "activation", actname, &o->act, err))
        return -1;
    if (alibi)
        return lmc_fail(err, "%s: config.json \"alibi\": true is not supported (lmc implements Falcon with rotary "
                             "position embeddings only)", c->origin);
    if (post_ln)
        return lmc_fail(err, "%s: config.json \"apply_residual_connection_post_layernorm\": true is not supported",
                        c->origin);
    if (heads == 0 || dim % heads)
        return lmc_fail(err, "%s: hidden_size %ld is not a multiple of num_attention_heads %ld", c->origin, dim, heads);
    /* HF FalconAttention: KV heads are num_kv_heads (new architecture), 1 (multi_query), else num_kv_heads */
    if (!o->new_arch && mq) kv = 1;
    if (kv == 0 || heads % kv)
        return lmc_fail(err, "%s: num_attention_heads %ld is not a multiple of num_kv_heads %ld", c->origin, heads, kv);
    if (!o->new_arch && !mq && kv != heads)
        return lmc_fail(err, "%s: num_kv_heads %ld must equal num_attention_heads %ld when multi_query and "
                             "new_decoder_architecture are false", c->origin, kv, heads);
    if (cfg_int(c, "num_ln_in_parallel_attn", 0, o->new_arch ? 2 : 1, &n_ln, err)) return -1;
    if (o->new_arch && !o->parallel)
        return lmc_fail(err, "%s: new_decoder_architecture with parallel_attn false is not supported (HF Falcon "
                             "cannot run it either)", c->origin);
    o->two_ln = o->new_arch && n_ln == 2;
    o->dim = (int)dim; o->n_layers = (int)layers; o->n_heads = (int)heads; o->n_kv_heads = (int)kv;
    o->head_dim = (int)(dim / heads); o->ffn = (int)ffn; o->vocab = (int)vocab; o->eps = (float)eps;
    if (o->head_dim % 2) return lmc_fail(err, "%s: head_dim %d must be even", c->origin, o->head_dim);
    return 0;
}

static int falcon_config(const lmc_arch_ctx *c, void *state, lmc_err *err) {
    falcon *m = state;
    if (read_config(c, &m->cfg, err) || lmc_rope_from_config(c, m->cfg.theta, m->cfg.head_dim, 0, &m->base.rope, err))
        return -1;
    const falcon_cfg *o = &m->cfg;
    int hd = o->head_dim, N = (o->n_heads + 2 * o->n_kv_heads) * hd; /* a fused QKV row */
    arch_set_attention(&m->base, o->n_layers,
                       (attn_shape){o->n_heads, o->n_kv_heads, hd, hd, N, N, N, 1.0f / sqrtf((float)hd)});
    m->layers = arch_layers(c, &m->base, m->cfg.dim, m->cfg.vocab, "num_hidden_layers", m->cfg.n_layers, sizeof *m->layers, err);
    return m->layers ? 0 : -1;
}

static void falcon_tensors(void *state, arch_tensors *t) {
    falcon *m = state;
    const falcon_cfg *o = &m->cfg;
    int d = o->dim, b = o->bias ? ARCH_BIAS : 0;
    const char *na = o->two_ln ? "ln_attn" : "input_layernorm";
    const char *nm = o->two_ln ? "ln_mlp" : o->parallel ? NULL : "post_attention_layernorm";
    arch_add_embed_head(t, "transformer.word_embeddings.weight", "lm_head.weight", o->vocab, d,
                        o->tie ? ARCH_TIED : 0, "vocab_size, hidden_size");
    for (int l = 0; l < o->n_layers; l++) {
        falcon_layer *L = &m->layers[l];
        char p[64];
        snprintf(p, sizeof p, "transformer.h.%d", l);
        arch_add_norm(t, &L->na_w, &L->na_b, d, "%s.%s", p, na);
        if (nm) arch_add_norm(t, &L->nm_w, &L->nm_b, d, "%s.%s", p, nm);
        arch_add_qkv(t, &L->qkv, o->n_heads, o->n_kv_heads, o->head_dim, d, b, "%s.self_attention.query_key_value", p);
        arch_add(t, ARCH_LINEAR, &L->dense, d, d, b, "%s.self_attention.dense", p);
        blk_gelu_mlp_tensors(t, &L->mlp, p, "mlp.dense_h_to_4h", "mlp.dense_4h_to_h", d, o->ffn, o->act, b);
    }
    arch_add_norm(t, &m->lnf_w, &m->lnf_b, d, "transformer.ln_f");
}

static int falcon_acts_table(void *state, arch_act *tab) {
    falcon *m = state;
    const falcon_cfg *o = &m->cfg;
    falcon_acts *a = &m->a;
    size_t d = o->dim, N = (size_t)(o->n_heads + 2 * o->n_kv_heads) * o->head_dim;
    arch_act lines[] = {
        ARCH_FLOATS(&a->x, d, 0), ARCH_FLOATS(&a->na, d, 0), ARCH_FLOATS(&a->nm, d, 0), ARCH_FLOATS(&a->att, d, 0),
        ARCH_FLOATS(&a->ao, d, 0), ARCH_FLOATS(&a->mo, d, 0), ARCH_FLOATS(&a->qkv, N, 0),
        ARCH_FLOATS(&a->h, o->ffn, 0), ARCH_FLOATS(&a->cos_t, o->head_dim / 2, 0),
        ARCH_FLOATS(&a->sin_t, o->head_dim / 2, 0),
    };
    return ARCH_ACTS(tab, lines);
}

/* One pass for a prefill (kv NULL: positions 0..T-1, causal attention among the T tokens) or a decoding step
 * (positions kv->pos.., attention over the cache): only the RoPE rows and the attention call (arch_attend)
 * differ. */
static int falcon_run(void *state, arch_kv *kv, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    falcon *m = state;
    const falcon_cfg *o = &m->cfg;
    const falcon_acts *a = &m->a;
    int d = o->dim, hd = o->head_dim, qd = o->n_heads * hd, kvd = o->n_kv_heads * hd, N = qd + 2 * kvd;
    float *x = a->x, *qkv = a->qkv;
    if (lmc_embed_rows(m->base.embed, tokens, T, x, err)) return -1;
    lmc_rope_tables_at(&m->base.rope, kv ? kv->pos : 0, T, a->cos_t, a->sin_t);
    for (int l = 0; l < o->n_layers; l++) {
        falcon_layer *L = &m->layers[l];
        layernorm(a->na, x, L->na_w, L->na_b, T, d, o->eps);
        lmc_linear_apply(&L->qkv, a->na, qkv, T);
        rope_apply(qkv, T, o->n_heads, hd, N, hd, a->cos_t, a->sin_t, 0);
        rope_apply(qkv + qd, T, o->n_kv_heads, hd, N, hd, a->cos_t, a->sin_t, 0);
        arch_attend(&m->base, kv, l, a->att, qkv, qkv + qd, qkv + qd + kvd, T, &m->base.attn);
        lmc_linear_apply(&L->dense, a->att, a->ao, T);
        if (o->parallel) {
            const float *in = a->na;
            if (L->nm_w) { layernorm(a->nm, x, L->nm_w, L->nm_b, T, d, o->eps); in = a->nm; }
            blk_gelu_mlp_apply(&L->mlp, in, a->mo, T, a->h);
            add_inplace(a->mo, a->ao, (size_t)T * d); /* HF: mlp_output += attention_output; output = mlp + residual */
            add_inplace(x, a->mo, (size_t)T * d);
        } else {
            add_inplace(x, a->ao, (size_t)T * d);
            layernorm(a->nm, x, L->nm_w, L->nm_b, T, d, o->eps);
            blk_gelu_mlp_apply(&L->mlp, a->nm, a->mo, T, a->h);
            add_inplace(x, a->mo, (size_t)T * d);
        }
    }
    layernorm(hidden, x, m->lnf_w, m->lnf_b, T, d, o->eps);
    return 0;
}

/* 7B (multi_query: one KV head) and 40B (num_kv_heads groups) alike cache each KV head once. */
static void falcon_kv_shape(void *state, int *n_layers, int *k_width, int *v_width) {
    const falcon_cfg *o = &((falcon *)state)->cfg;
    *n_layers = o->n_layers;
    *k_width = *v_width = o->n_kv_heads * o->head_dim;
}

const lmc_arch lmc_arch_falcon = {"FalconForCausalLM", sizeof(falcon), falcon_config, falcon_tensors, falcon_acts_table,
                                  falcon_run, falcon_kv_shape};
