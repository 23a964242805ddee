/* qwen1.c — Qwen-1 (remote-code QWenLMHeadModel: Qwen-1.8B/7B/14B/72B).
 *
 * Block: x += attn.c_proj(attn(rope(q), rope(k), v))       with q, k, v = attn.c_attn(rmsnorm(x; ln_1))
 *        x += mlp.c_proj(w1(n2) * silu(w2(n2)))            with n2 = rmsnorm(x; ln_2)
 * Out:   rmsnorm(x; ln_f), untied lm_head. c_attn always has a bias; the other linears have one only when
 * no_bias is false. intermediate_size is twice the MLP width (w1, w2: intermediate_size/2 rows). Head dim
 * kv_channels; rotary (rotate_half) on the first int(kv_channels · rotary_pct) dims, base rotary_emb_base.
 *
 * Beyond seq_length (use_dynamic_ntk, use_logn_attn): implemented exactly as Qwen's modeling_qwen.py does for a
 * T-token input, since lmc evaluates each window as one such input (positions 0..T-1):
 *   - use_dynamic_ntk and T > seq_length: α = max(2^ceil(log2(T / seq_length) + 1) − 1, 1), and the rotary
 *     base becomes rotary_emb_base · α^(d / (d − 2)) for the whole window (d = rotary dims);
 *   - use_logn_attn: the query at position p is multiplied by log(p + 1) / log(seq_length) when
 *     p + 1 > seq_length (after rotary). Qwen's table covers positions below 32767 only, so with
 *     use_logn_attn a window longer than 32767 tokens is an error naming that limit.
 * For T ≤ seq_length both are exactly no-ops (α = 1, factors 1), which is the case the fixture checks. */
#include "arch.h"
#include "blocks.h"
#include "kernels.h"
#include "kernels_ext.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { QWEN_LOGN_POSITIONS = 32767 }; /* Qwen's logn_list: range(1, 32768) */

typedef struct qwen1_layer {
    float     *ln1, *ln2;      /* (dim) */
    lmc_linear c_attn;         /* (3*dim, dim) [q | k | v], with bias */
    lmc_linear c_proj;         /* (dim, dim) */
    lmc_linear w1, w2;         /* (ffn, dim): w1(x) * silu(w2(x)) */
    lmc_linear mlp_proj;       /* (dim, ffn) */
} qwen1_layer;

typedef struct qwen1 {
    int dim, n_layers, n_heads, head_dim, ffn, vocab, rot_dim, seq_length, dynamic_ntk, logn_attn, scale_attn;
    float eps;
    double base;
    const lmc_tensor *embed; /* (vocab, dim), in the mmap */
    qwen1_layer *layers;     /* (n_layers) */
    float *final_norm;       /* (dim) */
    lmc_linear lm_head;      /* (vocab, dim) */
} qwen1;

static size_t qwen1_scratch_bytes(const void *state, int T) {
    const qwen1 *m = state;
    /* x, xb, qkv (3), att, h1, h2, cos, sin, logn */
    return sizeof(float) * ((size_t)T * (6 * (size_t)m->dim + 2 * (size_t)m->ffn + m->rot_dim + 1) + m->rot_dim);
}

static void qwen1_free(void *state) {
    qwen1 *m = state;
    if (!m) return;
    for (int l = 0; m->layers && l < m->n_layers; l++) {
        qwen1_layer *L = &m->layers[l];
        free(L->ln1); free(L->ln2);
        lmc_linear_free(&L->c_attn); lmc_linear_free(&L->c_proj);
        lmc_linear_free(&L->w1); lmc_linear_free(&L->w2); lmc_linear_free(&L->mlp_proj);
    }
    free(m->layers);
    free(m->final_norm);
    lmc_linear_free(&m->lm_head);
    free(m);
}

static int read_config(const lmc_arch_ctx *c, qwen1 *m, int *no_bias, int *tie, lmc_err *err) {
    long dim, layers, heads, kvc, inter, vocab, seq;
    double eps, pct;
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        cfg_int(c, "num_attention_heads", 1, 0, &heads, err) || cfg_int(c, "kv_channels", 1, 0, &kvc, err) ||
        cfg_int(c, "intermediate_size", 1, 0, &inter, err) || cfg_int(c, "vocab_size", 1, 0, &vocab, err) ||
        cfg_num_in(c, "layer_norm_epsilon", 1e-6, 0, 1, &eps, err) ||
        cfg_num(c, "rotary_emb_base", 0, 10000.0, &m->base, err) || cfg_num_in(c, "rotary_pct", 1.0, 0, 1, &pct, err) ||
        cfg_int(c, "seq_length", 0, 8192, &seq, err) || cfg_bool(c, "use_dynamic_ntk", 1, &m->dynamic_ntk, err) ||
        cfg_bool(c, "use_logn_attn", 1, &m->logn_attn, err) ||
        cfg_bool(c, "scale_attn_weights", 1, &m->scale_attn, err) || cfg_bool(c, "no_bias", 1, no_bias, err) ||
        cfg_bool(c, "tie_word_embeddings", 0, tie, err))
        return -1;
    if (heads == 0 || kvc * heads != dim)
        return lmc_fail(err, "%s: kv_channels %ld x num_attention_heads %ld must equal hidden_size %ld", c->origin,
                        kvc, heads, dim);
    if (inter % 2) return lmc_fail(err, "%s: intermediate_size %ld must be even (the MLP width is half of it)",
                                   c->origin, inter);
    if (seq < 2) return lmc_fail(err, "%s: seq_length %ld must be at least 2", c->origin, seq);
    if (!(m->base > 0))
        return lmc_fail(err, "%s: config.json \"rotary_emb_base\" is %g; it must be positive", c->origin, m->base);
    int rot = (int)(kvc * pct);
    if (rot < 2 || rot % 2 || rot > kvc)
        return lmc_fail(err, "%s: rotary_pct %g gives %d rotary dims of kv_channels %ld (must be even, 2..%ld)",
                        c->origin, pct, rot, kvc, kvc);
    m->dim = (int)dim; m->n_layers = (int)layers; m->n_heads = (int)heads; m->head_dim = (int)kvc;
    m->ffn = (int)(inter / 2); m->vocab = (int)vocab; m->eps = (float)eps; m->rot_dim = rot;
    m->seq_length = (int)seq;
    return 0;
}

static int load_layer(const lmc_arch_ctx *c, qwen1 *m, int l, int bias, int64_t *params, lmc_err *err) {
    qwen1_layer *L = &m->layers[l];
    int d = m->dim;
    const char *p = "transformer.h";
    if (!(L->ln1 = blk_vec(c, d, params, err, "%s.%d.ln_1.weight", p, l)) ||
        !(L->ln2 = blk_vec(c, d, params, err, "%s.%d.ln_2.weight", p, l)) ||
        blk_linear(c, &L->c_attn, 3 * d, d, 1, params, err, "%s.%d.attn.c_attn", p, l) ||
        blk_linear(c, &L->c_proj, d, d, bias, params, err, "%s.%d.attn.c_proj", p, l) ||
        blk_linear(c, &L->w1, m->ffn, d, bias, params, err, "%s.%d.mlp.w1", p, l) ||
        blk_linear(c, &L->w2, m->ffn, d, bias, params, err, "%s.%d.mlp.w2", p, l) ||
        blk_linear(c, &L->mlp_proj, d, m->ffn, bias, params, err, "%s.%d.mlp.c_proj", p, l))
        return -1;
    return 0;
}

static int qwen1_load(const lmc_arch_ctx *c, void **state, lmc_model_info *info, lmc_err *err) {
    qwen1 *m = lmc_xcalloc(1, sizeof *m);
    int no_bias, tie;
    int64_t params = 0;
    if (read_config(c, m, &no_bias, &tie, err)) goto fail;
    if (!(m->embed = blk_matrix(c, m->vocab, m->dim, "vocab_size, hidden_size", err, "transformer.wte.weight")))
        goto fail;
    params += m->embed->numel;
    if (blk_lm_head(c, &m->lm_head, m->embed, "lm_head.weight", tie, m->vocab, m->dim, &params, err)) goto fail;
    if (cfg_check_layers(c, "num_hidden_layers", m->n_layers, err)) goto fail;
    m->layers = lmc_xcalloc((size_t)m->n_layers, sizeof *m->layers);
    for (int l = 0; l < m->n_layers; l++)
        if (load_layer(c, m, l, !no_bias, &params, err)) goto fail;
    if (!(m->final_norm = blk_vec(c, m->dim, &params, err, "transformer.ln_f.weight"))) goto fail;
    /* RoPE; the use_logn_attn table limit is checked by the forward */
    *info = arch_info(m->dim, m->vocab, 0, params, &m->lm_head, NULL);
    *state = m;
    return 0;
fail:
    qwen1_free(m);
    return -1;
}

/* Rotary tables for a T-token input, with Qwen's dynamic-NTK base when T > seq_length. */
static void qwen1_rope(const qwen1 *m, int T, float *inv, float *cos_t, float *sin_t) {
    double base = m->base;
    if (m->dynamic_ntk && T > m->seq_length) {
        double context = log2((double)T / m->seq_length) + 1;
        double alpha = pow(2.0, ceil(context)) - 1;
        if (alpha < 1) alpha = 1;
        base = m->base * pow(alpha, (double)m->rot_dim / (m->rot_dim - 2));
    }
    for (int i = 0; i < m->rot_dim / 2; i++) inv[i] = (float)(1.0 / pow(base, (double)(2 * i) / m->rot_dim));
    rope_tables(cos_t, sin_t, inv, T, m->rot_dim, 1.0f);
}

static int qwen1_forward(void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    qwen1 *m = state;
    if (m->logn_attn && T > QWEN_LOGN_POSITIONS)
        return lmc_fail(err, "a window of %d tokens exceeds Qwen's use_logn_attn table (%d positions); use "
                             "--block-size %d or less", T, QWEN_LOGN_POSITIONS, QWEN_LOGN_POSITIONS);
    int d = m->dim, hd = m->head_dim;
    float *x = malloc(qwen1_scratch_bytes(m, T));
    if (!x) return lmc_fail(err, "out of memory for activations of a %d-token window", T);
    float *xb = x + (size_t)T * d;         /* (T, dim) */
    float *qkv = xb + (size_t)T * d;       /* (T, 3*dim) [q | k | v] */
    float *att = qkv + (size_t)T * 3 * d;  /* (T, dim) */
    float *h1 = att + (size_t)T * d;       /* (T, ffn) */
    float *h2 = h1 + (size_t)T * m->ffn;   /* (T, ffn) */
    float *cos_t = h2 + (size_t)T * m->ffn, *sin_t = cos_t + (size_t)T * (m->rot_dim / 2);
    float *logn = sin_t + (size_t)T * (m->rot_dim / 2); /* (T) */
    float *inv = logn + T;                              /* (rot_dim/2) */
    int rc = lmc_embed_rows(m->embed, tokens, T, x, err);
    qwen1_rope(m, T, inv, cos_t, sin_t);
    int use_logn = m->logn_attn && T > m->seq_length;
    for (int t = 0; use_logn && t < T; t++)
        logn[t] = t + 1 > m->seq_length ? (float)(log(t + 1.0) / log((double)m->seq_length)) : 1.0f;
    float scale = m->scale_attn ? 1.0f / sqrtf((float)hd) : 1.0f;
    for (int l = 0; rc == 0 && l < m->n_layers; l++) {
        qwen1_layer *L = &m->layers[l];
        rmsnorm(xb, x, L->ln1, T, d, m->eps);
        lmc_linear_apply(&L->c_attn, xb, qkv, T);
        rope_apply(qkv, T, m->n_heads, hd, 3 * d, m->rot_dim, cos_t, sin_t, 0);
        rope_apply(qkv + d, T, m->n_heads, hd, 3 * d, m->rot_dim, cos_t, sin_t, 0);
        if (use_logn) scale_rows(qkv, 3 * d, T, d, logn);
        attention_causal(att, qkv, 3 * d, qkv + d, 3 * d, qkv + 2 * d, 3 * d, T, m->n_heads, m->n_heads, hd, hd,
                         scale);
        lmc_linear_apply(&L->c_proj, att, xb, T);
        add_inplace(x, xb, (size_t)T * d);
        rmsnorm(xb, x, L->ln2, T, d, m->eps);
        lmc_linear_apply(&L->w1, xb, h1, T);
        lmc_linear_apply(&L->w2, xb, h2, T);
        silu_mul(h1, h2, h1, (size_t)T * m->ffn); /* silu(w2(x)) * w1(x) */
        lmc_linear_apply(&L->mlp_proj, h1, xb, T);
        add_inplace(x, xb, (size_t)T * d);
    }
    if (rc == 0) rmsnorm(hidden, x, m->final_norm, T, d, m->eps);
    free(x);
    return rc;
}

const lmc_arch lmc_arch_qwen1 = {"QWenLMHeadModel", qwen1_load, qwen1_forward, qwen1_scratch_bytes, qwen1_free};
