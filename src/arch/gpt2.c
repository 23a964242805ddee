/* gpt2.c — GPT2LMHeadModel.
 *
 * x = wte[token] + wpe[position]
 * Block: x += c_proj(attn(split(c_attn(n1))))          with n1 = layernorm(x; ln_1)
 *        x += mlp.c_proj(gelu_new(mlp.c_fc(n2)))       with n2 = layernorm(x; ln_2)
 * Out:   layernorm(x; ln_f), head tied to wte (or lm_head.weight when tie_word_embeddings is false).
 * Conv1D weights are stored [in, out] and transposed once at load. Tensor names with or without the
 * "transformer." prefix. Learned positions: a window longer than n_positions is an error naming the limit
 * (info.max_positions). Options: scale_attn_weights, scale_attn_by_inverse_layer_idx, n_inner,
 * activation_function (gelu_new / gelu_pytorch_tanh / gelu_fast / gelu). */
#include "arch.h"
#include "blocks.h"
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gpt2_layer {
    float       *ln1_w, *ln1_b; /* (dim) */
    lmc_linear   qkv;           /* (3*dim, dim): [q | k | v], from c_attn [dim, 3*dim] */
    lmc_linear   proj;          /* (dim, dim), from attn.c_proj */
    float       *ln2_w, *ln2_b; /* (dim) */
    blk_gelu_mlp mlp;           /* up = c_fc (hidden, dim), down = mlp.c_proj (dim, hidden) */
} gpt2_layer;

typedef struct gpt2 {
    int dim, n_layers, n_heads, head_dim, hidden, vocab, n_positions;
    float eps;
    int scale_weights, scale_by_layer;
    const lmc_tensor *wte;   /* (vocab, dim), in the mmap */
    const lmc_tensor *wpe;   /* (n_positions, dim), in the mmap */
    gpt2_layer *layers;      /* (n_layers) */
    float *lnf_w, *lnf_b;    /* (dim) */
    lmc_linear lm_head;      /* (vocab, dim) */
} gpt2;

static size_t gpt2_scratch_bytes(const void *state, int T) {
    const gpt2 *m = state;
    return sizeof(float) * (size_t)T * (6 * (size_t)m->dim + m->hidden); /* x, xb, qkv (3), att, h */
}

static void gpt2_free(void *state) {
    gpt2 *m = state;
    if (!m) return;
    for (int l = 0; m->layers && l < m->n_layers; l++) {
        gpt2_layer *L = &m->layers[l];
        free(L->ln1_w); free(L->ln1_b); free(L->ln2_w); free(L->ln2_b);
        lmc_linear_free(&L->qkv); lmc_linear_free(&L->proj);
        blk_gelu_mlp_free(&L->mlp);
    }
    free(m->layers);
    free(m->lnf_w); free(m->lnf_b);
    lmc_linear_free(&m->lm_head);
    free(m);
}

static int read_config(const lmc_arch_ctx *c, gpt2 *m, int *tie, blk_act *act, lmc_err *err) {
    long dim, layers, heads, vocab, npos, inner;
    double eps;
    const char *actname;
    int reorder, cross;
    if (cfg_int(c, "n_embd", 1, 0, &dim, err) || cfg_int(c, "n_layer", 1, 0, &layers, err) ||
        cfg_int(c, "n_head", 1, 0, &heads, err) || cfg_int(c, "vocab_size", 1, 0, &vocab, err) ||
        cfg_int(c, "n_positions", 1, 0, &npos, err) || cfg_int(c, "n_inner", 0, 4 * dim, &inner, err) ||
        cfg_num_in(c, "layer_norm_epsilon", 1e-5, 0, 1, &eps, err) ||
        cfg_str(c, "activation_function", "gelu_new", &actname, err) ||
        cfg_bool(c, "scale_attn_weights", 1, &m->scale_weights, err) ||
        cfg_bool(c, "scale_attn_by_inverse_layer_idx", 0, &m->scale_by_layer, err) ||
        cfg_bool(c, "reorder_and_upcast_attn", 0, &reorder, err) || /* f32 already: no effect */
        cfg_bool(c, "add_cross_attention", 0, &cross, err) || cfg_bool(c, "tie_word_embeddings", 1, tie, err) ||
        blk_act_parse(c, "activation_function", actname, act, err))
        return -1;
    if (heads == 0 || dim % heads)
        return lmc_fail(err, "%s: n_embd %ld is not a multiple of n_head %ld", c->origin, dim, heads);
    if (cross) return lmc_fail(err, "%s: config.json \"add_cross_attention\" true is not supported", c->origin);
    m->dim = (int)dim; m->n_layers = (int)layers; m->n_heads = (int)heads; m->head_dim = (int)(dim / heads);
    m->hidden = (int)inner; m->vocab = (int)vocab; m->n_positions = (int)npos; m->eps = (float)eps;
    return 0;
}

static int load_layer(const lmc_arch_ctx *c, gpt2 *m, const char *p, int l, blk_act act, int64_t *params,
                      lmc_err *err) {
    gpt2_layer *L = &m->layers[l];
    int d = m->dim;
    L->mlp.hidden = m->hidden;
    L->mlp.act = act;
    if (!(L->ln1_w = blk_vec(c, d, params, err, "%sh.%d.ln_1.weight", p, l)) ||
        !(L->ln1_b = blk_vec(c, d, params, err, "%sh.%d.ln_1.bias", p, l)) ||
        !(L->ln2_w = blk_vec(c, d, params, err, "%sh.%d.ln_2.weight", p, l)) ||
        !(L->ln2_b = blk_vec(c, d, params, err, "%sh.%d.ln_2.bias", p, l)) ||
        blk_conv1d(c, &L->qkv, d, 3 * d, params, err, "%sh.%d.attn.c_attn", p, l) ||
        blk_conv1d(c, &L->proj, d, d, params, err, "%sh.%d.attn.c_proj", p, l) ||
        blk_conv1d(c, &L->mlp.up, d, m->hidden, params, err, "%sh.%d.mlp.c_fc", p, l) ||
        blk_conv1d(c, &L->mlp.down, m->hidden, d, params, err, "%sh.%d.mlp.c_proj", p, l))
        return -1;
    return 0;
}

static int gpt2_load(const lmc_arch_ctx *c, void **state, lmc_model_info *info, lmc_err *err) {
    gpt2 *m = lmc_xcalloc(1, sizeof *m);
    int tie;
    blk_act act;
    int64_t params = 0;
    if (read_config(c, m, &tie, &act, err)) goto fail;
    /* Hub GPT-2 files name tensors "wte.weight", "h.0...."; files saved from GPT2LMHeadModel add "transformer." */
    const char *p = arch_tensor_opt(c, "transformer.wte.weight") ? "transformer." : "";
    if (!(m->wte = blk_matrix(c, m->vocab, m->dim, "vocab_size, n_embd", err, "%swte.weight", p)) ||
        !(m->wpe = blk_matrix(c, m->n_positions, m->dim, "n_positions, n_embd", err, "%swpe.weight", p)))
        goto fail;
    params += m->wte->numel + m->wpe->numel;
    if (blk_lm_head(c, &m->lm_head, m->wte, "lm_head.weight", tie, m->vocab, m->dim, &params, err)) goto fail;
    if (cfg_check_layers(c, "n_layer", m->n_layers, err)) goto fail;
    m->layers = lmc_xcalloc((size_t)m->n_layers, sizeof *m->layers);
    for (int l = 0; l < m->n_layers; l++)
        if (load_layer(c, m, p, l, act, &params, err)) goto fail;
    if (!(m->lnf_w = blk_vec(c, m->dim, &params, err, "%sln_f.weight", p)) ||
        !(m->lnf_b = blk_vec(c, m->dim, &params, err, "%sln_f.bias", p)))
        goto fail;
    /* learned positions: longer windows are an error */
    *info = arch_info(m->dim, m->vocab, m->n_positions, params, &m->lm_head, NULL);
    *state = m;
    return 0;
fail:
    gpt2_free(m);
    return -1;
}

static int gpt2_forward(void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    gpt2 *m = state;
    if (T > m->n_positions)
        return lmc_fail(err, "a window of %d tokens exceeds GPT-2's n_positions %d (learned positions); use "
                             "--block-size %d or less", T, m->n_positions, m->n_positions);
    int d = m->dim;
    float *x = malloc(gpt2_scratch_bytes(m, T));
    if (!x) return lmc_fail(err, "out of memory for activations of a %d-token window", T);
    float *xb = x + (size_t)T * d;        /* (T, dim) normed input / block output */
    float *qkv = xb + (size_t)T * d;      /* (T, 3*dim) [q | k | v] */
    float *att = qkv + (size_t)T * 3 * d; /* (T, dim) */
    float *h = att + (size_t)T * d;       /* (T, hidden) */
    int rc = lmc_embed_rows(m->wte, tokens, T, x, err);
    if (rc == 0) {
        int32_t *pos = lmc_xmalloc(sizeof(int32_t) * (size_t)T);
        for (int t = 0; t < T; t++) pos[t] = t;
        rc = lmc_embed_rows(m->wpe, pos, T, xb, err);
        free(pos);
        add_inplace(x, xb, (size_t)T * d);
    }
    for (int l = 0; rc == 0 && l < m->n_layers; l++) {
        gpt2_layer *L = &m->layers[l];
        float scale = m->scale_weights ? 1.0f / sqrtf((float)m->head_dim) : 1.0f;
        if (m->scale_by_layer) scale /= (float)(l + 1);
        layernorm(xb, x, L->ln1_w, L->ln1_b, T, d, m->eps);
        lmc_linear_apply(&L->qkv, xb, qkv, T);
        attention_causal(att, qkv, 3 * d, qkv + d, 3 * d, qkv + 2 * d, 3 * d, T, m->n_heads, m->n_heads,
                         m->head_dim, m->head_dim, scale);
        lmc_linear_apply(&L->proj, att, xb, T);
        add_inplace(x, xb, (size_t)T * d);
        layernorm(xb, x, L->ln2_w, L->ln2_b, T, d, m->eps);
        blk_gelu_mlp_apply(&L->mlp, xb, att, T, h);
        add_inplace(x, att, (size_t)T * d);
    }
    if (rc == 0) layernorm(hidden, x, m->lnf_w, m->lnf_b, T, d, m->eps);
    free(x);
    return rc;
}

const lmc_arch lmc_arch_gpt2 = {"GPT2LMHeadModel", gpt2_load, gpt2_forward, gpt2_scratch_bytes, gpt2_free};
