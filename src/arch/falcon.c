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
#include "arch.h"
#include "blocks.h"
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct falcon_layer {
    float       *na_w, *na_b; /* (dim) ln_attn, or input_layernorm */
    float       *nm_w, *nm_b; /* (dim) ln_mlp or post_attention_layernorm; NULL when the MLP reads na */
    lmc_linear   qkv;         /* ((n_heads + 2*n_kv)*head_dim, dim): [Q | K | V] after re-layout */
    lmc_linear   dense;       /* (dim, dim) */
    blk_gelu_mlp mlp;         /* dense_h_to_4h (ffn, dim), dense_4h_to_h (dim, ffn) */
} falcon_layer;

typedef struct falcon {
    int dim, n_layers, n_heads, n_kv_heads, head_dim, ffn, vocab, parallel;
    float eps;
    lmc_rope rope;
    const lmc_tensor *embed; /* (vocab, dim), in the mmap */
    falcon_layer *layers;    /* (n_layers) */
    float *lnf_w, *lnf_b;    /* (dim) */
    lmc_linear lm_head;      /* (vocab, dim) */
} falcon;

static size_t falcon_scratch_bytes(const void *state, int T) {
    const falcon *m = state;
    size_t qkvd = (size_t)(m->n_heads + 2 * m->n_kv_heads) * m->head_dim;
    /* x, na, nm, att, ao, mo, qkv, h, cos, sin */
    return sizeof(float) * (size_t)T * (6 * (size_t)m->dim + qkvd + m->ffn + m->head_dim);
}

static void falcon_free(void *state) {
    falcon *m = state;
    if (!m) return;
    for (int l = 0; m->layers && l < m->n_layers; l++) {
        falcon_layer *L = &m->layers[l];
        free(L->na_w); free(L->na_b); free(L->nm_w); free(L->nm_b);
        lmc_linear_free(&L->qkv); lmc_linear_free(&L->dense);
        blk_gelu_mlp_free(&L->mlp);
    }
    free(m->layers);
    free(m->lnf_w); free(m->lnf_b);
    lmc_linear_free(&m->lm_head);
    lmc_rope_free(&m->rope);
    free(m);
}

/* An integer config key with an older RW-config spelling as fallback (FalconConfig's attribute aliases). */
static int cfg_int2(const lmc_arch_ctx *c, const char *key, const char *alias, int required, long dflt, long *out,
                    lmc_err *err) {
    if (cJSON_GetObjectItemCaseSensitive(c->config, key) || !alias) return cfg_int(c, key, required, dflt, out, err);
    if (cJSON_GetObjectItemCaseSensitive(c->config, alias)) return cfg_int(c, alias, required, dflt, out, err);
    return cfg_int(c, key, required, dflt, out, err);
}

typedef struct falcon_opts {
    int new_arch, two_ln, bias, tie;
    blk_act act;
    double theta;
} falcon_opts;

static int read_config(const lmc_arch_ctx *c, falcon *m, falcon_opts *o, lmc_err *err) {
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
        cfg_bool(c, "parallel_attn", 1, &m->parallel, err) || cfg_bool(c, "bias", 0, &o->bias, err) ||
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
    if (o->new_arch && !m->parallel)
        return lmc_fail(err, "%s: new_decoder_architecture with parallel_attn false is not supported (HF Falcon "
                             "cannot run it either)", c->origin);
    o->two_ln = o->new_arch && n_ln == 2;
    m->dim = (int)dim; m->n_layers = (int)layers; m->n_heads = (int)heads; m->n_kv_heads = (int)kv;
    m->head_dim = (int)(dim / heads); m->ffn = (int)ffn; m->vocab = (int)vocab; m->eps = (float)eps;
    if (m->head_dim % 2) return lmc_fail(err, "%s: head_dim %d must be even", c->origin, m->head_dim);
    return 0;
}

static int load_layer(const lmc_arch_ctx *c, falcon *m, int l, const falcon_opts *o, int64_t *params,
                      lmc_err *err) {
    falcon_layer *L = &m->layers[l];
    int d = m->dim;
    const char *p = "transformer.h";
    const char *na = o->two_ln ? "ln_attn" : "input_layernorm";
    const char *nm = o->two_ln ? "ln_mlp" : m->parallel ? NULL : "post_attention_layernorm";
    L->mlp.hidden = m->ffn;
    L->mlp.act = o->act;
    if (!(L->na_w = blk_vec(c, d, params, err, "%s.%d.%s.weight", p, l, na)) ||
        !(L->na_b = blk_vec(c, d, params, err, "%s.%d.%s.bias", p, l, na)))
        return -1;
    if (nm && (!(L->nm_w = blk_vec(c, d, params, err, "%s.%d.%s.weight", p, l, nm)) ||
               !(L->nm_b = blk_vec(c, d, params, err, "%s.%d.%s.bias", p, l, nm))))
        return -1;
    if (blk_qkv_grouped(c, &L->qkv, m->n_heads, m->n_kv_heads, m->head_dim, d, o->bias, params, err,
                        "%s.%d.self_attention.query_key_value", p, l) ||
        blk_linear(c, &L->dense, d, d, o->bias, params, err, "%s.%d.self_attention.dense", p, l) ||
        blk_linear(c, &L->mlp.up, m->ffn, d, o->bias, params, err, "%s.%d.mlp.dense_h_to_4h", p, l) ||
        blk_linear(c, &L->mlp.down, d, m->ffn, o->bias, params, err, "%s.%d.mlp.dense_4h_to_h", p, l))
        return -1;
    return 0;
}

static int falcon_load(const lmc_arch_ctx *c, void **state, lmc_model_info *info, lmc_err *err) {
    falcon *m = lmc_xcalloc(1, sizeof *m);
    falcon_opts o;
    int64_t params = 0;
    if (read_config(c, m, &o, err) || lmc_rope_from_config(c, o.theta, m->head_dim, 0, &m->rope, err)) goto fail;
    if (!(m->embed = blk_matrix(c, m->vocab, m->dim, "vocab_size, hidden_size", err,
                                "transformer.word_embeddings.weight")))
        goto fail;
    params += m->embed->numel;
    if (blk_lm_head(c, &m->lm_head, m->embed, "lm_head.weight", o.tie, m->vocab, m->dim, &params, err)) goto fail;
    if (cfg_check_layers(c, "num_hidden_layers", m->n_layers, err)) goto fail;
    m->layers = lmc_xcalloc((size_t)m->n_layers, sizeof *m->layers);
    for (int l = 0; l < m->n_layers; l++)
        if (load_layer(c, m, l, &o, &params, err)) goto fail;
    if (!(m->lnf_w = blk_vec(c, m->dim, &params, err, "transformer.ln_f.weight")) ||
        !(m->lnf_b = blk_vec(c, m->dim, &params, err, "transformer.ln_f.bias")))
        goto fail;
    *info = arch_info(m->dim, m->vocab, 0, params, &m->lm_head, NULL); /* RoPE: any window length */
    *state = m;
    return 0;
fail:
    falcon_free(m);
    return -1;
}

static int falcon_forward(void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    falcon *m = state;
    int d = m->dim, hd = m->head_dim, qd = m->n_heads * hd, kvd = m->n_kv_heads * hd, N = qd + 2 * kvd;
    float *x = malloc(falcon_scratch_bytes(m, T));
    if (!x) return lmc_fail(err, "out of memory for activations of a %d-token window", T);
    float *na = x + (size_t)T * d;     /* (T, dim) attention input */
    float *nm = na + (size_t)T * d;    /* (T, dim) MLP input (own norm) */
    float *att = nm + (size_t)T * d;   /* (T, dim) */
    float *ao = att + (size_t)T * d;   /* (T, dim) dense(attention) */
    float *mo = ao + (size_t)T * d;    /* (T, dim) mlp output */
    float *qkv = mo + (size_t)T * d;   /* (T, N) [q | k | v] */
    float *h = qkv + (size_t)T * N;    /* (T, ffn) */
    float *cos_t = h + (size_t)T * m->ffn, *sin_t = cos_t + (size_t)T * (hd / 2);
    int rc = lmc_embed_rows(m->embed, tokens, T, x, err);
    lmc_rope_tables(&m->rope, T, cos_t, sin_t);
    float scale = 1.0f / sqrtf((float)hd);
    for (int l = 0; rc == 0 && l < m->n_layers; l++) {
        falcon_layer *L = &m->layers[l];
        layernorm(na, x, L->na_w, L->na_b, T, d, m->eps);
        lmc_linear_apply(&L->qkv, na, qkv, T);
        rope_apply(qkv, T, m->n_heads, hd, N, hd, cos_t, sin_t, 0);
        rope_apply(qkv + qd, T, m->n_kv_heads, hd, N, hd, cos_t, sin_t, 0);
        attention_causal(att, qkv, N, qkv + qd, N, qkv + qd + kvd, N, T, m->n_heads, m->n_kv_heads, hd, hd, scale);
        lmc_linear_apply(&L->dense, att, ao, T);
        if (m->parallel) {
            const float *in = na;
            if (L->nm_w) { layernorm(nm, x, L->nm_w, L->nm_b, T, d, m->eps); in = nm; }
            blk_gelu_mlp_apply(&L->mlp, in, mo, T, h);
            add_inplace(mo, ao, (size_t)T * d); /* HF: mlp_output += attention_output; output = mlp + residual */
            add_inplace(x, mo, (size_t)T * d);
        } else {
            add_inplace(x, ao, (size_t)T * d);
            layernorm(nm, x, L->nm_w, L->nm_b, T, d, m->eps);
            blk_gelu_mlp_apply(&L->mlp, nm, mo, T, h);
            add_inplace(x, mo, (size_t)T * d);
        }
    }
    if (rc == 0) layernorm(hidden, x, m->lnf_w, m->lnf_b, T, d, m->eps);
    free(x);
    return rc;
}

const lmc_arch lmc_arch_falcon = {"FalconForCausalLM", falcon_load, falcon_forward, falcon_scratch_bytes,
                                  falcon_free};
