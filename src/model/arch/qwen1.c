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
 * For T ≤ seq_length both are exactly no-ops (α = 1, factors 1), which is the case the fixture checks. A decoding
 * step applies logn by absolute position and picks α for the length so far (qwen1_rope). */
#include "model/arch/arch.h"
#include "model/arch/blocks.h"
#include "kernels.h"
#include "kernels_ext.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
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

typedef struct qwen1_cfg {
    int    dim, n_layers, n_heads, head_dim, ffn, vocab, rot_dim, seq_length, dynamic_ntk, logn_attn, scale_attn;
    float  eps;
    double base;
    int    no_bias, tie;
} qwen1_cfg;

typedef struct qwen1_acts {
    float *x;             /* (T, dim) residual stream */
    float *xb;            /* (T, dim) */
    float *qkv;           /* (T, 3*dim) [q | k | v] */
    float *att;           /* (T, dim) */
    float *h1, *h2;       /* (T, ffn) */
    float *cos_t, *sin_t; /* (T, rot_dim/2) */
    float *logn;          /* (T) */
    float *inv;           /* (rot_dim/2) */
} qwen1_acts;

typedef struct qwen1 {
    arch_base    base;   /* embed, lm_head, tensor list, arena, profiler */
    qwen1_cfg    cfg;
    qwen1_layer *layers; /* (n_layers) */
    float       *final_norm; /* (dim) */
    qwen1_acts   a;
} qwen1;

static int read_config(const lmc_arch_ctx *c, qwen1_cfg *m, lmc_err *err) {
    long dim, layers, heads, kvc, inter, vocab, seq;
    double eps, pct;
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        cfg_int(c, "num_attention_heads", 1, 0, &heads, err) || cfg_int(c, "kv_channels", 1, 0, &kvc, err) ||
        cfg_int(c, "intermediate_size", 1, 0, &inter, err) || cfg_int(c, "vocab_size", 1, 0, &vocab, err) ||
        cfg_num_in(c, "layer_norm_epsilon", 1e-6, 0, 1, &eps, err) ||
        cfg_num(c, "rotary_emb_base", 0, 10000.0, &m->base, err) || cfg_num_in(c, "rotary_pct", 1.0, 0, 1, &pct, err) ||
        cfg_int(c, "seq_length", 0, 8192, &seq, err) || cfg_bool(c, "use_dynamic_ntk", 1, &m->dynamic_ntk, err) ||
        cfg_bool(c, "use_logn_attn", 1, &m->logn_attn, err) ||
        cfg_bool(c, "scale_attn_weights", 1, &m->scale_attn, err) || cfg_bool(c, "no_bias", 1, &m->no_bias, err) ||
        cfg_bool(c, "tie_word_embeddings", 0, &m->tie, err))
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

static int qwen1_config(const lmc_arch_ctx *c, void *state, lmc_err *err) {
    qwen1 *m = state;
    if (read_config(c, &m->cfg, err)) return -1;
    const qwen1_cfg *o = &m->cfg;
    int hd = o->head_dim, d = o->dim;
    arch_set_attention(&m->base, o->n_layers, (attn_shape){o->n_heads, o->n_heads, hd, hd, 3 * d, 3 * d, 3 * d,
                                                           o->scale_attn ? 1.0f / sqrtf((float)hd) : 1.0f});
    if (m->cfg.logn_attn)
        arch_limit_window(&m->base, QWEN_LOGN_POSITIONS, "Qwen's use_logn_attn table (%d positions)",
                          QWEN_LOGN_POSITIONS);
    m->layers = arch_layers(c, &m->base, m->cfg.dim, m->cfg.vocab, "num_hidden_layers", m->cfg.n_layers, sizeof *m->layers, err);
    return m->layers ? 0 : -1;
}

static void qwen1_tensors(void *state, arch_tensors *t) {
    qwen1 *m = state;
    const qwen1_cfg *o = &m->cfg;
    int d = o->dim, b = o->no_bias ? 0 : ARCH_BIAS;
    arch_add_embed_head(t, "transformer.wte.weight", "lm_head.weight", o->vocab, d, o->tie ? ARCH_TIED : 0,
                        "vocab_size, hidden_size");
    for (int l = 0; l < o->n_layers; l++) {
        qwen1_layer *L = &m->layers[l];
        char p[64];
        snprintf(p, sizeof p, "transformer.h.%d", l);
        arch_add(t, ARCH_VEC, &L->ln1, d, 0, 0, "%s.ln_1.weight", p);
        arch_add(t, ARCH_VEC, &L->ln2, d, 0, 0, "%s.ln_2.weight", p);
        arch_add(t, ARCH_LINEAR, &L->c_attn, 3 * d, d, ARCH_BIAS, "%s.attn.c_attn", p);
        arch_add(t, ARCH_LINEAR, &L->c_proj, d, d, b, "%s.attn.c_proj", p);
        arch_add(t, ARCH_LINEAR, &L->w1, o->ffn, d, b, "%s.mlp.w1", p);
        arch_add(t, ARCH_LINEAR, &L->w2, o->ffn, d, b, "%s.mlp.w2", p);
        arch_add(t, ARCH_LINEAR, &L->mlp_proj, d, o->ffn, b, "%s.mlp.c_proj", p);
    }
    arch_add(t, ARCH_VEC, &m->final_norm, d, 0, 0, "transformer.ln_f.weight");
}

static int qwen1_acts_table(void *state, arch_act *tab) {
    qwen1 *m = state;
    qwen1_acts *a = &m->a;
    size_t d = m->cfg.dim, f = m->cfg.ffn, r2 = (size_t)m->cfg.rot_dim / 2;
    arch_act lines[] = {
        ARCH_FLOATS(&a->x, d, 0), ARCH_FLOATS(&a->xb, d, 0), ARCH_FLOATS(&a->qkv, 3 * d, 0),
        ARCH_FLOATS(&a->att, d, 0), ARCH_FLOATS(&a->h1, f, 0), ARCH_FLOATS(&a->h2, f, 0),
        ARCH_FLOATS(&a->cos_t, r2, 0), ARCH_FLOATS(&a->sin_t, r2, 0), ARCH_FLOATS(&a->logn, 1, 0),
        ARCH_FLOATS(&a->inv, 0, r2),
    };
    return ARCH_ACTS(tab, lines);
}

/* Rotary rows for positions pos..pos+n-1, with Qwen's dynamic-NTK base when the input reaches past seq_length.
 * The base is chosen for the length so far (pos + n), as lmc_rope_tables_at does for HF's dynamic NTK; Qwen's
 * own generate keeps the α of its first call while decoding, so past seq_length a decoded continuation differs
 * from Qwen's (as HF dynamic NTK's does from a prefill). Below seq_length α = 1 and both agree exactly. */
static void qwen1_rope(const qwen1_cfg *m, int pos, int n, float *inv, float *cos_t, float *sin_t) {
    double base = m->base;
    int T = pos + n;
    if (m->dynamic_ntk && T > m->seq_length) {
        double context = log2((double)T / m->seq_length) + 1;
        double alpha = pow(2.0, ceil(context)) - 1;
        if (alpha < 1) alpha = 1;
        base = m->base * pow(alpha, (double)m->rot_dim / (m->rot_dim - 2));
    }
    for (int i = 0; i < m->rot_dim / 2; i++) inv[i] = (float)(1.0 / pow(base, (double)(2 * i) / m->rot_dim));
    rope_tables_at(cos_t, sin_t, inv, pos, n, m->rot_dim, 1.0f);
}

/* One pass for a prefill (kv NULL: positions 0..T-1, causal attention among the T tokens) or a decoding step
 * (positions kv->pos.., attention over the cache): only the RoPE rows, the logn factors (per absolute position)
 * and the attention call (arch_attend) differ. */
static int qwen1_run(void *state, arch_kv *kv, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    qwen1 *m = state;
    const qwen1_cfg *o = &m->cfg;
    const qwen1_acts *a = &m->a;
    int d = o->dim, hd = o->head_dim, pos = kv ? kv->pos : 0;
    float *x = a->x, *xb = a->xb, *qkv = a->qkv, *h1 = a->h1, *h2 = a->h2;
    if (lmc_embed_rows(m->base.embed, tokens, T, x, err)) return -1;
    qwen1_rope(o, pos, T, a->inv, a->cos_t, a->sin_t);
    int use_logn = o->logn_attn && pos + T > o->seq_length;
    for (int t = 0; use_logn && t < T; t++) {
        int p = pos + t;
        a->logn[t] = p + 1 > o->seq_length ? (float)(log(p + 1.0) / log((double)o->seq_length)) : 1.0f;
    }
    for (int l = 0; l < o->n_layers; l++) {
        qwen1_layer *L = &m->layers[l];
        rmsnorm(xb, x, L->ln1, T, d, o->eps);
        lmc_linear_apply(&L->c_attn, xb, qkv, T);
        rope_apply(qkv, T, o->n_heads, hd, 3 * d, o->rot_dim, a->cos_t, a->sin_t, 0);
        rope_apply(qkv + d, T, o->n_heads, hd, 3 * d, o->rot_dim, a->cos_t, a->sin_t, 0);
        if (use_logn) scale_rows(qkv, 3 * d, T, d, a->logn);
        arch_attend(&m->base, kv, l, a->att, qkv, qkv + d, qkv + 2 * d, T, &m->base.attn);
        lmc_linear_apply(&L->c_proj, a->att, xb, T);
        add_inplace(x, xb, (size_t)T * d);
        rmsnorm(xb, x, L->ln2, T, d, o->eps);
        lmc_linear_apply(&L->w1, xb, h1, T);
        lmc_linear_apply(&L->w2, xb, h2, T);
        silu_mul(h1, h2, h1, (size_t)T * o->ffn); /* silu(w2(x)) * w1(x) */
        lmc_linear_apply(&L->mlp_proj, h1, xb, T);
        add_inplace(x, xb, (size_t)T * d);
    }
    rmsnorm(hidden, x, m->final_norm, T, d, o->eps);
    return 0;
}

static void qwen1_kv_shape(void *state, int *n_layers, int *k_width, int *v_width) {
    const qwen1_cfg *o = &((qwen1 *)state)->cfg;
    *n_layers = o->n_layers;
    *k_width = *v_width = o->dim; /* n_heads · kv_channels */
}

const lmc_arch lmc_arch_qwen1 = {"QWenLMHeadModel", sizeof(qwen1), qwen1_config, qwen1_tensors, qwen1_acts_table,
                                 qwen1_run, qwen1_kv_shape};
