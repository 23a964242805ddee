/* gpt2.c — GPT2LMHeadModel.
 *
 * x = wte[token] + wpe[position]
 * Block: x += c_proj(attn(split(c_attn(n1))))          with n1 = layernorm(x; ln_1)
 *        x += mlp.c_proj(gelu_new(mlp.c_fc(n2)))       with n2 = layernorm(x; ln_2)
 * Out:   layernorm(x; ln_f), head tied to wte (or lm_head.weight when tie_word_embeddings is false).
 * Conv1D weights are stored [in, out] and transposed once at load. Tensor names with or without the
 * "transformer." prefix. Learned positions: a window longer than n_positions is an error naming the limit
 * (info.max_window). Options: scale_attn_weights, scale_attn_by_inverse_layer_idx, n_inner,
 * activation_function (gelu_new / gelu_pytorch_tanh / gelu_fast / gelu). */
#include "model/arch/arch.h"
#include "model/arch/blocks.h"
#include "kernels.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gpt2_layer {
    float       *ln1_w, *ln1_b; /* (dim) */
    lmc_linear   qkv;           /* (3*dim, dim): [q | k | v], from c_attn [dim, 3*dim] */
    lmc_linear   proj;          /* (dim, dim), from attn.c_proj */
    float       *ln2_w, *ln2_b; /* (dim) */
    blk_gelu_mlp mlp;           /* up = c_fc (hidden, dim), down = mlp.c_proj (dim, hidden) */
} gpt2_layer;

typedef struct gpt2_cfg {
    int         dim, n_layers, n_heads, head_dim, hidden, vocab, n_positions;
    float       eps;
    int         scale_weights, scale_by_layer, tie;
    blk_act     act;
    const char *prefix; /* "transformer." or "" (see gpt2_config) */
} gpt2_cfg;

typedef struct gpt2_acts {
    float *x;   /* (T, dim) residual stream */
    float *xb;  /* (T, dim) normed input / block output */
    float *qkv; /* (T, 3*dim) [q | k | v] */
    float *att; /* (T, dim) */
    float *h;   /* (T, hidden) */
    int32_t *pos; /* (T) positions (0..T-1, or kv->pos.. in a step) */
} gpt2_acts;

typedef struct gpt2 {
    arch_base         base;   /* wte (embed), lm_head, tensor list, arena, profiler */
    gpt2_cfg          cfg;
    const lmc_tensor *wpe;    /* (n_positions, dim), in the mmap */
    gpt2_layer       *layers; /* (n_layers) */
    float            *lnf_w, *lnf_b; /* (dim) */
    gpt2_acts         a;
} gpt2;

static int read_config(const lmc_arch_ctx *c, gpt2_cfg *o, lmc_err *err) {
    long dim, layers, heads, vocab, npos, inner;
    double eps;
    const char *actname;
    int reorder, cross;
    if (cfg_int(c, "n_embd", 1, 0, &dim, err) || cfg_int(c, "n_layer", 1, 0, &layers, err) ||
        cfg_int(c, "n_head", 1, 0, &heads, err) || cfg_int(c, "vocab_size", 1, 0, &vocab, err) ||
        cfg_int(c, "n_positions", 1, 0, &npos, err) || cfg_int(c, "n_inner", 0, 4 * dim, &inner, err) ||
        cfg_num_in(c, "layer_norm_epsilon", 1e-5, 0, 1, &eps, err) ||
        cfg_str(c, "activation_function", "gelu_new", &actname, err) ||
        cfg_bool(c, "scale_attn_weights", 1, &o->scale_weights, err) ||
        cfg_bool(c, "scale_attn_by_inverse_layer_idx", 0, &o->scale_by_layer, err) ||
        cfg_bool(c, "reorder_and_upcast_attn", 0, &reorder, err) || /* f32 already: no effect */
        cfg_bool(c, "add_cross_attention", 0, &cross, err) || cfg_bool(c, "tie_word_embeddings", 1, &o->tie, err) ||
        blk_act_parse(c, "activation_function", actname, &o->act, err))
        return -1;
    if (heads == 0 || dim % heads)
        return lmc_fail(err, "%s: n_embd %ld is not a multiple of n_head %ld", c->origin, dim, heads);
    if (cross) return lmc_fail(err, "%s: config.json \"add_cross_attention\" true is not supported", c->origin);
    o->dim = (int)dim; o->n_layers = (int)layers; o->n_heads = (int)heads; o->head_dim = (int)(dim / heads);
    o->hidden = (int)inner; o->vocab = (int)vocab; o->n_positions = (int)npos; o->eps = (float)eps;
    return 0;
}

static int gpt2_config(const lmc_arch_ctx *c, void *state, lmc_err *err) {
    gpt2 *m = state;
    gpt2_cfg *o = &m->cfg;
    if (read_config(c, o, err)) return -1;
    /* Hub GPT-2 files name tensors "wte.weight", "h.0...."; files saved from GPT2LMHeadModel add "transformer." */
    o->prefix = cfg_has_tensor(c, "transformer.wte.weight") ? "transformer." : "";
    arch_limit_window(&m->base, o->n_positions, "the model's %d learned positions (n_positions)", o->n_positions);
    int d = o->dim, hd = o->head_dim;
    arch_set_attention(&m->base, o->n_layers, (attn_shape){o->n_heads, o->n_heads, hd, hd, 3 * d, 3 * d, 3 * d,
                                                           o->scale_weights ? 1.0f / sqrtf((float)hd) : 1.0f});
    m->layers = arch_layers(c, &m->base, o->dim, o->vocab, "n_layer", o->n_layers, sizeof *m->layers, err);
    return m->layers ? 0 : -1;
}

static void gpt2_tensors(void *state, arch_tensors *t) {
    gpt2 *m = state;
    const gpt2_cfg *o = &m->cfg;
    const char *p = o->prefix;
    int d = o->dim;
    char wte[32], hp[48];
    snprintf(wte, sizeof wte, "%swte.weight", p);
    arch_add_embed_head(t, wte, "lm_head.weight", o->vocab, d, o->tie ? ARCH_TIED : 0, "vocab_size, n_embd");
    arch_add(t, ARCH_MATRIX, &m->wpe, o->n_positions, d, 0, "%swpe.weight", p)->what = "n_positions, n_embd";
    for (int l = 0; l < o->n_layers; l++) {
        gpt2_layer *L = &m->layers[l];
        snprintf(hp, sizeof hp, "%sh.%d", p, l);
        L->mlp.hidden = o->hidden;
        L->mlp.act = o->act;
        arch_add_norm(t, &L->ln1_w, &L->ln1_b, d, "%s.ln_1", hp);
        arch_add_norm(t, &L->ln2_w, &L->ln2_b, d, "%s.ln_2", hp);
        arch_add(t, ARCH_CONV1D, &L->qkv, 3 * d, d, 0, "%s.attn.c_attn", hp);
        arch_add(t, ARCH_CONV1D, &L->proj, d, d, 0, "%s.attn.c_proj", hp);
        arch_add(t, ARCH_CONV1D, &L->mlp.up, o->hidden, d, 0, "%s.mlp.c_fc", hp);
        arch_add(t, ARCH_CONV1D, &L->mlp.down, d, o->hidden, 0, "%s.mlp.c_proj", hp);
    }
    arch_add_norm(t, &m->lnf_w, &m->lnf_b, d, "%sln_f", p);
}

static int gpt2_acts_table(void *state, arch_act *tab) {
    gpt2 *m = state;
    gpt2_acts *a = &m->a;
    size_t d = m->cfg.dim;
    arch_act lines[] = {
        ARCH_FLOATS(&a->x, d, 0), ARCH_FLOATS(&a->xb, d, 0), ARCH_FLOATS(&a->qkv, 3 * d, 0),
        ARCH_FLOATS(&a->att, d, 0), ARCH_FLOATS(&a->h, m->cfg.hidden, 0), ARCH_INTS(&a->pos, 1, 0),
    };
    return ARCH_ACTS(tab, lines);
}

/* One pass for a prefill (kv NULL: positions 0..T-1, causal attention among the T tokens) or a decoding step
 * (positions kv->pos.., attention over the cache): the two differ only in the position rows read from wpe and
 * the attention call (arch_attend), so a step runs the prefill's own layer code. */
static int gpt2_run(void *state, arch_kv *kv, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    gpt2 *m = state;
    const gpt2_cfg *o = &m->cfg;
    const gpt2_acts *a = &m->a;
    int d = o->dim, pos0 = kv ? kv->pos : 0;
    int32_t *pos = a->pos;
    for (int t = 0; t < T; t++) pos[t] = pos0 + t; /* learned positions: lmc_kv_open keeps them < n_positions */
    if (lmc_embed_rows(m->base.embed, tokens, T, a->x, err) || lmc_embed_rows(m->wpe, pos, T, a->xb, err)) return -1;
    add_inplace(a->x, a->xb, (size_t)T * d);
    for (int l = 0; l < o->n_layers; l++) {
        gpt2_layer *L = &m->layers[l];
        attn_shape s = m->base.attn;
        if (o->scale_by_layer) s.scale /= (float)(l + 1);
        layernorm(a->xb, a->x, L->ln1_w, L->ln1_b, T, d, o->eps);
        lmc_linear_apply(&L->qkv, a->xb, a->qkv, T);
        arch_attend(&m->base, kv, l, a->att, a->qkv, a->qkv + d, a->qkv + 2 * d, T, &s);
        lmc_linear_apply(&L->proj, a->att, a->xb, T);
        add_inplace(a->x, a->xb, (size_t)T * d);
        layernorm(a->xb, a->x, L->ln2_w, L->ln2_b, T, d, o->eps);
        blk_gelu_mlp_apply(&L->mlp, a->xb, a->att, T, a->h);
        add_inplace(a->x, a->att, (size_t)T * d);
    }
    layernorm(hidden, a->x, m->lnf_w, m->lnf_b, T, d, o->eps);
    return 0;
}

static void gpt2_kv_shape(void *state, int *n_layers, int *k_width, int *v_width) {
    const gpt2_cfg *o = &((gpt2 *)state)->cfg;
    *n_layers = o->n_layers;
    *k_width = *v_width = o->dim; /* n_heads · head_dim */
}

const lmc_arch lmc_arch_gpt2 = {"GPT2LMHeadModel", sizeof(gpt2), gpt2_config, gpt2_tensors, gpt2_acts_table,
                                gpt2_run, gpt2_kv_shape};
