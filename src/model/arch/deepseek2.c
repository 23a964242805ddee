/* deepseek2.c — DeepseekV2ForCausalLM (DeepSeek-V2, V2-Lite, V2.5): multi-head latent attention + MoE.
 *
 * Attention (MLA), per token, n1 = rmsnorm(x; input_layernorm):
 *   q  = q_b_proj(rmsnorm(q_a_proj(n1); q_a_layernorm))   or q_proj(n1) when q_lora_rank is null
 *        per head [nope (qk_nope_head_dim) | pe (qk_rope_head_dim)]
 *   c, k_pe = split(kv_a_proj_with_mqa(n1), [kv_lora_rank, qk_rope_head_dim])     (k_pe shared by all heads)
 *   k_nope, v = split per head(kv_b_proj(rmsnorm(c; kv_a_layernorm)), [qk_nope_head_dim, v_head_dim])
 *   q_pe, k_pe rotated with RoPE on interleaved pairs (2i, 2i+1): HF de-interleaves them and applies
 *   rotate_half, which is the same rotation up to a permutation of dims that q·k does not see.
 *   x += o_proj(softmax(q·k · s) v), s = (nope + rope)^-0.5 · mscale(factor, mscale_all_dim)² when
 *   rope_scaling has mscale_all_dim (YaRN: rope_freq.c), else (nope + rope)^-0.5.
 * MLP, n2 = rmsnorm(x; post_attention_layernorm):
 *   layers < first_k_dense_replace, or with l % moe_layer_freq != 0, or n_routed_experts null: dense SwiGLU
 *   (intermediate_size); otherwise MoE: scores = softmax(gate(n2)) over n_routed_experts (f32), top
 *   num_experts_per_tok by topk_method "greedy" or "group_limited_greedy" (n_group groups, each scored by its
 *   max expert; the topk_group best groups are kept, the others' scores zeroed), weights = the chosen scores,
 *   normalised to sum 1 (+1e-20) when norm_topk_prob and k > 1, else × routed_scaling_factor; routed experts
 *   (moe_intermediate_size) + shared_experts (moe_intermediate_size × n_shared_experts) when n_shared_experts.
 * Out: rmsnorm(x; model.norm), lm_head (tied only if tie_word_embeddings). The latent norms use eps 1e-6 (HF
 * DeepseekV2RMSNorm's default: they are built without rms_norm_eps). */
#include "model/arch/arch.h"
#include "model/arch/blocks.h"
#include "kernels.h"
#include "kernels_ext.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ds2_layer {
    float      *attn_norm;        /* (dim) */
    lmc_linear  q_a, q_b, q;      /* q_a: (q_lora, dim), q_b: (n_heads*qk_dim, q_lora) | q: (n_heads*qk_dim, dim) */
    float      *q_a_norm;         /* (q_lora) */
    lmc_linear  kv_a;             /* (kv_lora + rope, dim) */
    float      *kv_a_norm;        /* (kv_lora) */
    lmc_linear  kv_b;             /* (n_heads*(nope + v_dim), kv_lora) */
    lmc_linear  o;                /* (dim, n_heads*v_dim) */
    float      *mlp_norm;         /* (dim) */
    int         moe;              /* 0: dense */
    blk_swiglu  dense;            /* (intermediate_size) when !moe */
    float      *router;           /* (n_experts, dim) f32: mlp.gate */
    blk_swiglu *experts;          /* (n_experts) of moe_intermediate_size */
    blk_swiglu  shared;           /* moe_intermediate_size * n_shared, when n_shared > 0 */
} ds2_layer;

typedef struct ds2_cfg {
    int    dim, n_layers, n_heads, vocab, q_lora, kv_lora, nope, rope_dim, v_dim, qk_dim, hidden;
    int    n_experts, n_shared, top_k, moe_hidden, n_group, topk_group, group_limited, norm_topk;
    float  eps, routed_scale, attn_scale;
    int    tie, attn_bias;
    long   first_dense, moe_freq;
    double theta;
} ds2_cfg;

typedef struct ds2_acts {
    float *x;             /* (T, dim) residual stream */
    float *xb;            /* (T, dim) normed input / attention output */
    float *mo, *so;       /* (T, dim) MLP output, shared experts' output */
    float *qa;            /* (T, q_lora) */
    float *q, *K;         /* (T, H, qk) [nope | pe] per head */
    float *ckv;           /* (T, kv_lora + rope) */
    float *cn;            /* (T, kv_lora) normed latent */
    float *kv;            /* (T, H, nope + v_dim) */
    float *V, *att;       /* (T, H, v_dim) */
    float *h1, *h2;       /* (T, max(hidden, moe_hidden·n_shared)) */
    float *cos_t, *sin_t; /* (T, rope/2) */
    float *scores;        /* (T, n_experts) */
    float *w;             /* (T, k) routing weights */
    int32_t *ids;         /* (T, k) routed experts */
    blk_moe_scratch moe;
} ds2_acts;

typedef struct ds2 {
    arch_base  base;   /* embed, lm_head, tensor list, arena, profiler */
    ds2_cfg    cfg;
    ds2_layer *layers; /* (n_layers) */
    float     *final_norm; /* (dim) */
    ds2_acts   a;
} ds2;

static const float LATENT_EPS = 1e-6f;

/* A key that may be null (→ *out = 0, *is_null = 1); absent gives dflt. */
static int cfg_int_or_null(const lmc_arch_ctx *c, const char *key, long dflt, long *out, int *is_null, lmc_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->config, key);
    *is_null = v && cJSON_IsNull(v);
    if (*is_null) { *out = 0; return 0; }
    return cfg_int(c, key, 0, dflt, out, err);
}

static int read_config(const lmc_arch_ctx *c, ds2_cfg *o, lmc_err *err) {
    long dim, layers, heads, vocab, q_lora, kv_lora, nope, rope, vdim, hidden, experts, shared, top_k, moe_hidden;
    long n_group, topk_group;
    int q_null, e_null, s_null;
    double eps, scale;
    const char *scoring, *method;
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        cfg_int(c, "num_attention_heads", 1, 0, &heads, err) || cfg_int(c, "vocab_size", 1, 0, &vocab, err) ||
        cfg_int_or_null(c, "q_lora_rank", 1536, &q_lora, &q_null, err) ||
        cfg_int(c, "kv_lora_rank", 0, 512, &kv_lora, err) || cfg_int(c, "qk_nope_head_dim", 0, 128, &nope, err) ||
        cfg_int(c, "qk_rope_head_dim", 0, 64, &rope, err) || cfg_int(c, "v_head_dim", 0, 128, &vdim, err) ||
        cfg_int(c, "intermediate_size", 1, 0, &hidden, err) ||
        cfg_int_or_null(c, "n_routed_experts", 0, &experts, &e_null, err) ||
        cfg_int_or_null(c, "n_shared_experts", 0, &shared, &s_null, err) ||
        cfg_int(c, "num_experts_per_tok", 0, 0, &top_k, err) ||
        cfg_int(c, "moe_intermediate_size", 0, 1407, &moe_hidden, err) ||
        cfg_int(c, "first_k_dense_replace", 0, 0, &o->first_dense, err) ||
        cfg_int(c, "moe_layer_freq", 0, 1, &o->moe_freq, err) || cfg_int(c, "n_group", 0, 1, &n_group, err) ||
        cfg_int(c, "topk_group", 0, 1, &topk_group, err) ||
        cfg_num(c, "routed_scaling_factor", 0, 1.0, &scale, err) || cfg_num_in(c, "rms_norm_eps", 1e-6, 0, 1, &eps, err) ||
        cfg_num(c, "rope_theta", 0, 10000.0, &o->theta, err) || blk_silu_only(c, "DeepseekV2ForCausalLM", err) ||
        cfg_str(c, "scoring_func", "softmax", &scoring, err) || cfg_str(c, "topk_method", "greedy", &method, err) ||
        cfg_bool(c, "norm_topk_prob", 0, &o->norm_topk, err) || cfg_bool(c, "attention_bias", 0, &o->attn_bias, err) ||
        cfg_bool(c, "tie_word_embeddings", 0, &o->tie, err))
        return -1;
    if (heads == 0 || kv_lora == 0 || nope == 0 || vdim == 0 || rope < 2 || rope % 2)
        return lmc_fail(err, "%s: invalid MLA dims (num_attention_heads %ld, kv_lora_rank %ld, qk_nope_head_dim %ld, "
                             "qk_rope_head_dim %ld (even), v_head_dim %ld)", c->origin, heads, kv_lora, nope, rope, vdim);
    if (!q_null && q_lora == 0) return lmc_fail(err, "%s: q_lora_rank must be positive or null", c->origin);
    if (experts > 0) {
        if (strcmp(scoring, "softmax") != 0)
            return lmc_fail(err, "%s: scoring_func \"%s\" is not supported (DeepSeek-V2 routing: softmax)", c->origin,
                            scoring);
        int grouped = !strcmp(method, "group_limited_greedy");
        if (!grouped && strcmp(method, "greedy") != 0)
            return lmc_fail(err, "%s: topk_method \"%s\" is not supported (supported: greedy, group_limited_greedy)",
                            c->origin, method);
        if (top_k == 0 || top_k > experts)
            return lmc_fail(err, "%s: num_experts_per_tok %ld must be in 1..n_routed_experts (%ld)", c->origin, top_k,
                            experts);
        if (grouped && (experts > 1024 || n_group > 256))
            return lmc_fail(err, "%s: group_limited_greedy supports at most 1024 experts in 256 groups", c->origin);
        if (grouped && (n_group == 0 || experts % n_group || topk_group == 0 || topk_group > n_group ||
                        top_k > topk_group * (experts / n_group)))
            return lmc_fail(err, "%s: group_limited_greedy needs n_group (%ld) dividing n_routed_experts (%ld) and "
                                 "num_experts_per_tok (%ld) <= topk_group (%ld) x experts per group", c->origin,
                            n_group, experts, top_k, topk_group);
        if (o->moe_freq == 0) return lmc_fail(err, "%s: moe_layer_freq must be positive", c->origin);
        o->group_limited = grouped;
    }
    o->dim = (int)dim; o->n_layers = (int)layers; o->n_heads = (int)heads; o->vocab = (int)vocab;
    o->q_lora = q_null ? 0 : (int)q_lora; o->kv_lora = (int)kv_lora; o->nope = (int)nope; o->rope_dim = (int)rope;
    o->v_dim = (int)vdim; o->qk_dim = (int)(nope + rope); o->hidden = (int)hidden; o->eps = (float)eps;
    o->n_experts = (int)experts; o->n_shared = (int)shared; o->top_k = experts ? (int)top_k : 0;
    o->moe_hidden = (int)moe_hidden; o->n_group = (int)n_group; o->topk_group = (int)topk_group;
    o->routed_scale = (float)scale;
    return 0;
}

/* HF DeepseekV2Attention.softmax_scale: q_head_dim^-0.5, × mscale(factor, mscale_all_dim)² when rope_scaling
 * names a nonzero mscale_all_dim. */
static int attn_scale(const lmc_arch_ctx *c, ds2_cfg *o, lmc_err *err) {
    double s = 1.0 / sqrt((double)o->qk_dim);
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c->config, "rope_scaling");
    if (cJSON_IsObject(rs)) {
        double mad, factor;
        if (cfg_obj_num(c, rs, "rope_scaling", "mscale_all_dim", 0, 0, &mad, err)) return -1;
        if (mad != 0) {
            if (cfg_obj_num(c, rs, "rope_scaling", "factor", 1, 0, &factor, err)) return -1;
            double ms = lmc_yarn_get_mscale(factor, mad);
            s *= ms * ms;
        }
    }
    o->attn_scale = (float)s;
    return 0;
}

static int ds2_config(const lmc_arch_ctx *c, void *state, lmc_err *err) {
    ds2 *m = state;
    if (read_config(c, &m->cfg, err) || attn_scale(c, &m->cfg, err) ||
        lmc_rope_from_config(c, m->cfg.theta, m->cfg.rope_dim, 1, &m->base.rope, err))
        return -1;
    const ds2_cfg *o = &m->cfg;
    int H = o->n_heads, qd = H * o->qk_dim, vd = H * o->v_dim; /* K is rebuilt per head, laid out as q */
    arch_set_attention(&m->base, o->n_layers, (attn_shape){H, H, o->qk_dim, o->v_dim, qd, qd, vd, o->attn_scale});
    if (m->cfg.n_experts) m->base.info.routed_share = (double)m->cfg.top_k / m->cfg.n_experts;
    m->layers = arch_layers(c, &m->base, m->cfg.dim, m->cfg.vocab, "num_hidden_layers", m->cfg.n_layers, sizeof *m->layers, err);
    return m->layers ? 0 : -1;
}

static void layer_tensors(ds2 *m, int l, arch_tensors *t) {
    const ds2_cfg *o = &m->cfg;
    ds2_layer *L = &m->layers[l];
    int d = o->dim, qd = o->n_heads * o->qk_dim, ab = o->attn_bias ? ARCH_BIAS : 0;
    const char *proj[3] = {"gate_proj", "up_proj", "down_proj"};
    char p[64], q[96];
    snprintf(p, sizeof p, "model.layers.%d", l);
    arch_add(t, ARCH_VEC, &L->attn_norm, d, 0, 0, "%s.input_layernorm.weight", p);
    arch_add(t, ARCH_VEC, &L->mlp_norm, d, 0, 0, "%s.post_attention_layernorm.weight", p);
    if (o->q_lora) {
        arch_add(t, ARCH_LINEAR, &L->q_a, o->q_lora, d, ab, "%s.self_attn.q_a_proj", p);
        arch_add(t, ARCH_VEC, &L->q_a_norm, o->q_lora, 0, 0, "%s.self_attn.q_a_layernorm.weight", p);
        arch_add(t, ARCH_LINEAR, &L->q_b, qd, o->q_lora, 0, "%s.self_attn.q_b_proj", p);
    } else {
        arch_add(t, ARCH_LINEAR, &L->q, qd, d, 0, "%s.self_attn.q_proj", p);
    }
    arch_add(t, ARCH_LINEAR, &L->kv_a, o->kv_lora + o->rope_dim, d, ab, "%s.self_attn.kv_a_proj_with_mqa", p);
    arch_add(t, ARCH_VEC, &L->kv_a_norm, o->kv_lora, 0, 0, "%s.self_attn.kv_a_layernorm.weight", p);
    arch_add(t, ARCH_LINEAR, &L->kv_b, o->n_heads * (o->nope + o->v_dim), o->kv_lora, 0, "%s.self_attn.kv_b_proj", p);
    arch_add(t, ARCH_LINEAR, &L->o, d, o->n_heads * o->v_dim, ab, "%s.self_attn.o_proj", p);
    L->moe = o->n_experts > 0 && l >= o->first_dense && l % o->moe_freq == 0;
    snprintf(q, sizeof q, "%s.mlp", p);
    if (!L->moe) {
        blk_swiglu_tensors(t, &L->dense, q, proj[0], proj[1], proj[2], d, o->hidden, 0);
        return;
    }
    /* HF computes the gate in f32 whatever the model dtype */
    char g[96];
    snprintf(g, sizeof g, "%s.mlp.gate.weight", p);
    snprintf(q, sizeof q, "%s.mlp.experts", p);
    L->experts = blk_moe_tensors(t, &m->base, &L->router, g, "n_routed_experts, hidden_size", q, proj, o->n_experts,
                                 d, o->moe_hidden);
    snprintf(q, sizeof q, "%s.mlp.shared_experts", p);
    if (o->n_shared)
        blk_swiglu_tensors(t, &L->shared, q, proj[0], proj[1], proj[2], d, o->moe_hidden * o->n_shared, 0);
}

static void ds2_tensors(void *state, arch_tensors *t) {
    ds2 *m = state;
    arch_add_embed_head(t, "model.embed_tokens.weight", "lm_head.weight", m->cfg.vocab, m->cfg.dim,
                        m->cfg.tie ? ARCH_TIED : 0, "vocab_size, hidden_size");
    for (int l = 0; l < m->cfg.n_layers; l++) layer_tensors(m, l, t);
    arch_add(t, ARCH_VEC, &m->final_norm, m->cfg.dim, 0, 0, "model.norm.weight");
}

static int ds2_acts_table(void *state, arch_act *tab) {
    ds2 *m = state;
    const ds2_cfg *o = &m->cfg;
    ds2_acts *a = &m->a;
    size_t d = o->dim, qd = (size_t)o->n_heads * o->qk_dim, kvb = (size_t)o->n_heads * (o->nope + o->v_dim);
    size_t vd = (size_t)o->n_heads * o->v_dim, sh = (size_t)o->moe_hidden * o->n_shared;
    size_t h = (size_t)o->hidden > sh ? (size_t)o->hidden : sh, r2 = (size_t)o->rope_dim / 2;
    arch_act lines[] = {
        ARCH_FLOATS(&a->x, d, 0), ARCH_FLOATS(&a->xb, d, 0), ARCH_FLOATS(&a->mo, d, 0), ARCH_FLOATS(&a->so, d, 0),
        ARCH_FLOATS(&a->qa, o->q_lora, 0), ARCH_FLOATS(&a->q, qd, 0), ARCH_FLOATS(&a->K, qd, 0),
        ARCH_FLOATS(&a->ckv, (size_t)o->kv_lora + o->rope_dim, 0), ARCH_FLOATS(&a->cn, o->kv_lora, 0),
        ARCH_FLOATS(&a->kv, kvb, 0), ARCH_FLOATS(&a->V, vd, 0), ARCH_FLOATS(&a->att, vd, 0),
        ARCH_FLOATS(&a->h1, h, 0), ARCH_FLOATS(&a->h2, h, 0), ARCH_FLOATS(&a->cos_t, r2, 0),
        ARCH_FLOATS(&a->sin_t, r2, 0), ARCH_FLOATS(&a->scores, o->n_experts, 0), ARCH_FLOATS(&a->w, o->top_k, 0),
        ARCH_INTS(&a->ids, o->top_k, 0),
    };
    int n = (int)(sizeof lines / sizeof lines[0]);
    memcpy(tab, lines, sizeof lines);
    return o->n_experts ? blk_moe_acts(&a->moe, tab, n, o->top_k, o->dim, o->moe_hidden, o->n_experts) : n;
}

/* scores (T, E): softmax probabilities → ids, w (T, k) per HF MoEGate (greedy / group_limited_greedy). */
static void route(const ds2_cfg *m, float *scores, int T, int32_t *ids, float *w) {
    int E = m->n_experts, k = m->top_k, G = m->n_group, per = E / (G ? G : 1);
    softmax_rows(scores, T, E);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *s = scores + (size_t)t * E, *wt = w + (size_t)t * k;
        int32_t *id = ids + (size_t)t * k;
        if (m->group_limited) {
            float gs[256], masked[1024];
            int keep[256], gsel[256];
            for (int g = 0; g < G; g++) {
                gs[g] = s[g * per];
                for (int i = 1; i < per; i++) gs[g] = s[g * per + i] > gs[g] ? s[g * per + i] : gs[g];
                keep[g] = 0;
            }
            topk_desc(gs, G, m->topk_group, gsel, NULL);
            for (int j = 0; j < m->topk_group; j++) keep[gsel[j]] = 1;
            for (int e = 0; e < E; e++) masked[e] = keep[e / per] ? s[e] : 0.0f;
            topk_desc(masked, E, k, id, wt);
        } else {
            topk_desc(s, E, k, id, wt);
        }
        if (k > 1 && m->norm_topk) {
            float sum = 1e-20f;
            for (int j = 0; j < k; j++) sum += wt[j];
            for (int j = 0; j < k; j++) wt[j] /= sum;
        } else {
            for (int j = 0; j < k; j++) wt[j] *= m->routed_scale;
        }
    }
}

/* One pass for a prefill (kv NULL: positions 0..T-1, causal attention among the T tokens) or a decoding step
 * (positions kv->pos.., attention over the cache): only the RoPE rows and the attention call (arch_attend)
 * differ. The cache holds the per-head keys and values the attention reads (K = [k_nope | k_pe] with the shared
 * k_pe already rotated at its own position, V), not the latent: a step then costs no kv_b_proj over the past
 * and computes the prefill's own numbers. Routing is per token, as in the prefill. */
static int ds2_run(void *state, arch_kv *kv, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    ds2 *m = state;
    const ds2_cfg *o = &m->cfg;
    const ds2_acts *a = &m->a;
    int d = o->dim, H = o->n_heads, qk = o->qk_dim, nope = o->nope, rd = o->rope_dim, vdim = o->v_dim;
    int qd = H * qk, ckd = o->kv_lora + rd, kvb = H * (nope + vdim), vd = H * vdim, E = o->n_experts, k = o->top_k;
    int32_t *ids = a->ids;
    float *x = a->x, *xb = a->xb, *mo = a->mo, *q = a->q, *K = a->K, *ckv = a->ckv, *cn = a->cn, *V = a->V;
    if (lmc_embed_rows(m->base.embed, tokens, T, x, err)) return -1;
    lmc_rope_tables_at(&m->base.rope, kv ? kv->pos : 0, T, a->cos_t, a->sin_t);
    for (int l = 0; l < o->n_layers; l++) {
        ds2_layer *L = &m->layers[l];
        /* multi-head latent attention */
        rmsnorm(xb, x, L->attn_norm, T, d, o->eps);
        if (o->q_lora) {
            lmc_linear_apply(&L->q_a, xb, a->qa, T);
            rmsnorm(a->qa, a->qa, L->q_a_norm, T, o->q_lora, LATENT_EPS);
            lmc_linear_apply(&L->q_b, a->qa, q, T);
        } else {
            lmc_linear_apply(&L->q, xb, q, T);
        }
        lmc_linear_apply(&L->kv_a, xb, ckv, T);
        copy_block(cn, o->kv_lora, ckv, ckd, T, o->kv_lora);
        rmsnorm(cn, cn, L->kv_a_norm, T, o->kv_lora, LATENT_EPS);
        lmc_linear_apply(&L->kv_b, cn, a->kv, T);
        rope_apply(q + nope, T, H, qk, qd, rd, a->cos_t, a->sin_t, 1);          /* q_pe of every head */
        rope_apply(ckv + o->kv_lora, T, 1, ckd, ckd, rd, a->cos_t, a->sin_t, 1); /* the shared k_pe */
        for (int h = 0; h < H; h++) {
            copy_block(K + h * qk, qd, a->kv + h * (nope + vdim), kvb, T, nope);
            copy_block(K + h * qk + nope, qd, ckv + o->kv_lora, ckd, T, rd);
            copy_block(V + h * vdim, vd, a->kv + h * (nope + vdim) + nope, kvb, T, vdim);
        }
        arch_attend(&m->base, kv, l, a->att, q, K, V, T, &m->base.attn);
        lmc_linear_apply(&L->o, a->att, xb, T);
        add_inplace(x, xb, (size_t)T * d);
        /* dense MLP or routed + shared experts */
        rmsnorm(xb, x, L->mlp_norm, T, d, o->eps);
        if (!L->moe) {
            blk_swiglu_apply(&L->dense, xb, mo, T, a->h1, a->h2);
        } else {
            router_logits(a->scores, xb, L->router, T, E, d);
            route(o, a->scores, T, ids, a->w);
            blk_moe_apply(L->experts, E, k, ids, a->w, xb, mo, T, d, &a->moe);
            if (o->n_shared) {
                blk_swiglu_apply(&L->shared, xb, a->so, T, a->h1, a->h2);
                add_inplace(mo, a->so, (size_t)T * d); /* HF: moe_infer(x) + shared_experts(x) */
            }
        }
        add_inplace(x, mo, (size_t)T * d);
    }
    rmsnorm(hidden, x, m->final_norm, T, d, o->eps);
    return 0;
}

static void ds2_kv_shape(void *state, int *n_layers, int *k_width, int *v_width) {
    const ds2_cfg *o = &((ds2 *)state)->cfg;
    *n_layers = o->n_layers;
    *k_width = o->n_heads * o->qk_dim; /* per head [nope | rope]: k_pe repeated per head, as the attention reads it */
    *v_width = o->n_heads * o->v_dim;
}

const lmc_arch lmc_arch_deepseek2 = {"DeepseekV2ForCausalLM", sizeof(ds2), ds2_config, ds2_tensors, ds2_acts_table,
                                     ds2_run, ds2_kv_shape};
