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
#include "arch.h"
#include "blocks.h"
#include "kernels.h"
#include "kernels_ext.h"
#include "util.h"

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

typedef struct ds2 {
    int dim, n_layers, n_heads, vocab, q_lora, kv_lora, nope, rope_dim, v_dim, qk_dim, hidden;
    int n_experts, n_shared, top_k, moe_hidden, n_group, topk_group, group_limited, norm_topk;
    float eps, routed_scale, attn_scale;
    lmc_rope rope;           /* rot_dim = qk_rope_head_dim, interleaved */
    const lmc_tensor *embed; /* (vocab, dim), in the mmap */
    ds2_layer *layers;       /* (n_layers) */
    float *final_norm;       /* (dim) */
    lmc_linear lm_head;      /* (vocab, dim) */
} ds2;

static const float LATENT_EPS = 1e-6f;

static size_t ds2_acts_floats(const ds2 *m, int T) {
    size_t qd = (size_t)m->n_heads * m->qk_dim, kvb = (size_t)m->n_heads * (m->nope + m->v_dim);
    size_t vd = (size_t)m->n_heads * m->v_dim, h = m->hidden > m->moe_hidden * m->n_shared ? m->hidden
                                                                                          : m->moe_hidden * m->n_shared;
    /* x, xb, mo, so, qa, q, K, ckv, cn, kv, V, att, h1, h2, cos, sin, scores, w */
    return (size_t)T * (4 * (size_t)m->dim + m->q_lora + 2 * qd + m->kv_lora + m->rope_dim + m->kv_lora + kvb + vd +
                        vd + 2 * h + m->rope_dim + 2 * (size_t)m->n_experts);
}

static size_t ds2_scratch_bytes(const void *state, int T) {
    const ds2 *m = state;
    size_t moe = m->n_experts ? blk_moe_scratch_bytes(T, m->top_k, m->dim, m->moe_hidden) : 0;
    return ds2_acts_floats(m, T) * sizeof(float) + (size_t)T * m->top_k * sizeof(int) + moe;
}

static void ds2_free(void *state) {
    ds2 *m = state;
    if (!m) return;
    for (int l = 0; m->layers && l < m->n_layers; l++) {
        ds2_layer *L = &m->layers[l];
        free(L->attn_norm); free(L->q_a_norm); free(L->kv_a_norm); free(L->mlp_norm);
        lmc_linear_free(&L->q_a); lmc_linear_free(&L->q_b); lmc_linear_free(&L->q);
        lmc_linear_free(&L->kv_a); lmc_linear_free(&L->kv_b); lmc_linear_free(&L->o);
        blk_swiglu_free(&L->dense);
        free(L->router);
        for (int e = 0; L->experts && e < m->n_experts; e++) blk_swiglu_free(&L->experts[e]);
        free(L->experts);
        blk_swiglu_free(&L->shared);
    }
    free(m->layers);
    free(m->final_norm);
    lmc_linear_free(&m->lm_head);
    lmc_rope_free(&m->rope);
    free(m);
}

/* A key that may be null (→ *out = 0, *is_null = 1); absent gives dflt. */
static int cfg_int_or_null(const lmc_arch_ctx *c, const char *key, long dflt, long *out, int *is_null, lmc_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->config, key);
    *is_null = v && cJSON_IsNull(v);
    if (*is_null) { *out = 0; return 0; }
    return cfg_int(c, key, 0, dflt, out, err);
}

typedef struct ds2_cfg {
    int  tie, attn_bias;
    long first_dense, moe_freq;
    double theta;
} ds2_cfg;

static int read_config(const lmc_arch_ctx *c, ds2 *m, ds2_cfg *o, lmc_err *err) {
    long dim, layers, heads, vocab, q_lora, kv_lora, nope, rope, vdim, hidden, experts, shared, top_k, moe_hidden;
    long n_group, topk_group;
    int q_null, e_null, s_null;
    double eps, scale;
    const char *act, *scoring, *method;
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
        cfg_num(c, "rope_theta", 0, 10000.0, &o->theta, err) || cfg_str(c, "hidden_act", "silu", &act, err) ||
        cfg_str(c, "scoring_func", "softmax", &scoring, err) || cfg_str(c, "topk_method", "greedy", &method, err) ||
        cfg_bool(c, "norm_topk_prob", 0, &m->norm_topk, err) || cfg_bool(c, "attention_bias", 0, &o->attn_bias, err) ||
        cfg_bool(c, "tie_word_embeddings", 0, &o->tie, err))
        return -1;
    if (strcmp(act, "silu") != 0)
        return lmc_fail(err, "%s: hidden_act \"%s\" is not supported for DeepseekV2ForCausalLM (expected silu)",
                        c->origin, act);
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
        m->group_limited = grouped;
    }
    m->dim = (int)dim; m->n_layers = (int)layers; m->n_heads = (int)heads; m->vocab = (int)vocab;
    m->q_lora = q_null ? 0 : (int)q_lora; m->kv_lora = (int)kv_lora; m->nope = (int)nope; m->rope_dim = (int)rope;
    m->v_dim = (int)vdim; m->qk_dim = (int)(nope + rope); m->hidden = (int)hidden; m->eps = (float)eps;
    m->n_experts = (int)experts; m->n_shared = (int)shared; m->top_k = experts ? (int)top_k : 0;
    m->moe_hidden = (int)moe_hidden; m->n_group = (int)n_group; m->topk_group = (int)topk_group;
    m->routed_scale = (float)scale;
    return 0;
}

/* HF DeepseekV2Attention.softmax_scale: q_head_dim^-0.5, × mscale(factor, mscale_all_dim)² when rope_scaling
 * names a nonzero mscale_all_dim. */
static int attn_scale(const lmc_arch_ctx *c, ds2 *m, lmc_err *err) {
    double s = 1.0 / sqrt((double)m->qk_dim);
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
    m->attn_scale = (float)s;
    return 0;
}

static int load_layer(const lmc_arch_ctx *c, ds2 *m, int l, const ds2_cfg *o, int64_t *params, lmc_err *err) {
    ds2_layer *L = &m->layers[l];
    int d = m->dim, qd = m->n_heads * m->qk_dim, ab = o->attn_bias;
    char p[96];
    snprintf(p, sizeof p, "model.layers.%d", l);
    if (!(L->attn_norm = blk_vec(c, d, params, err, "%s.input_layernorm.weight", p)) ||
        !(L->mlp_norm = blk_vec(c, d, params, err, "%s.post_attention_layernorm.weight", p)))
        return -1;
    if (m->q_lora) {
        if (blk_linear(c, &L->q_a, m->q_lora, d, ab, params, err, "%s.self_attn.q_a_proj", p) ||
            !(L->q_a_norm = blk_vec(c, m->q_lora, params, err, "%s.self_attn.q_a_layernorm.weight", p)) ||
            blk_linear(c, &L->q_b, qd, m->q_lora, 0, params, err, "%s.self_attn.q_b_proj", p))
            return -1;
    } else if (blk_linear(c, &L->q, qd, d, 0, params, err, "%s.self_attn.q_proj", p))
        return -1;
    if (blk_linear(c, &L->kv_a, m->kv_lora + m->rope_dim, d, ab, params, err, "%s.self_attn.kv_a_proj_with_mqa", p) ||
        !(L->kv_a_norm = blk_vec(c, m->kv_lora, params, err, "%s.self_attn.kv_a_layernorm.weight", p)) ||
        blk_linear(c, &L->kv_b, m->n_heads * (m->nope + m->v_dim), m->kv_lora, 0, params, err,
                   "%s.self_attn.kv_b_proj", p) ||
        blk_linear(c, &L->o, d, m->n_heads * m->v_dim, ab, params, err, "%s.self_attn.o_proj", p))
        return -1;
    L->moe = m->n_experts > 0 && l >= o->first_dense && l % o->moe_freq == 0;
    char q[128];
    snprintf(q, sizeof q, "%s.mlp", p);
    if (!L->moe) return blk_swiglu_load(c, &L->dense, q, "gate_proj", "up_proj", "down_proj", d, m->hidden, 0, params,
                                        err);
    /* HF computes the gate in f32 whatever the model dtype */
    const lmc_tensor *g = blk_matrix(c, m->n_experts, d, "n_routed_experts, hidden_size", err, "%s.mlp.gate.weight", p);
    if (!g || !(L->router = lmc_tensor_f32(g, g->numel, c->origin, err))) return -1;
    *params += g->numel;
    L->experts = lmc_xcalloc((size_t)m->n_experts, sizeof *L->experts);
    for (int e = 0; e < m->n_experts; e++) {
        snprintf(q, sizeof q, "%s.mlp.experts.%d", p, e);
        if (blk_swiglu_load(c, &L->experts[e], q, "gate_proj", "up_proj", "down_proj", d, m->moe_hidden, 0, params,
                            err))
            return -1;
    }
    snprintf(q, sizeof q, "%s.mlp.shared_experts", p);
    if (m->n_shared &&
        blk_swiglu_load(c, &L->shared, q, "gate_proj", "up_proj", "down_proj", d, m->moe_hidden * m->n_shared, 0,
                        params, err))
        return -1;
    return 0;
}

static int ds2_load(const lmc_arch_ctx *c, void **state, lmc_model_info *info, lmc_err *err) {
    ds2 *m = lmc_xcalloc(1, sizeof *m);
    ds2_cfg o;
    int64_t params = 0;
    if (read_config(c, m, &o, err) || attn_scale(c, m, err) ||
        lmc_rope_from_config(c, o.theta, m->rope_dim, 1, &m->rope, err))
        goto fail;
    if (!(m->embed = blk_matrix(c, m->vocab, m->dim, "vocab_size, hidden_size", err, "model.embed_tokens.weight")))
        goto fail;
    params += m->embed->numel;
    if (blk_lm_head(c, &m->lm_head, m->embed, "lm_head.weight", o.tie, m->vocab, m->dim, &params, err)) goto fail;
    if (cfg_check_layers(c, "num_hidden_layers", m->n_layers, err)) goto fail;
    m->layers = lmc_xcalloc((size_t)m->n_layers, sizeof *m->layers);
    for (int l = 0; l < m->n_layers; l++)
        if (load_layer(c, m, l, &o, &params, err)) goto fail;
    if (!(m->final_norm = blk_vec(c, m->dim, &params, err, "model.norm.weight"))) goto fail;
    *info = arch_info(m->dim, m->vocab, 0, params, &m->lm_head, NULL); /* RoPE: any window length */
    *state = m;
    return 0;
fail:
    ds2_free(m);
    return -1;
}

/* scores (T, E): softmax probabilities → ids, w (T, k) per HF MoEGate (greedy / group_limited_greedy). */
static void route(const ds2 *m, float *scores, int T, int *ids, float *w) {
    int E = m->n_experts, k = m->top_k, G = m->n_group, per = E / (G ? G : 1);
    softmax_rows(scores, T, E);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *s = scores + (size_t)t * E, *wt = w + (size_t)t * k;
        int *id = ids + (size_t)t * k;
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

static int ds2_forward(void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    ds2 *m = state;
    int d = m->dim, H = m->n_heads, qk = m->qk_dim, nope = m->nope, rd = m->rope_dim, vdim = m->v_dim;
    int qd = H * qk, ckd = m->kv_lora + rd, kvb = H * (nope + vdim), vd = H * vdim, E = m->n_experts, k = m->top_k;
    int hmax = m->hidden > m->moe_hidden * m->n_shared ? m->hidden : m->moe_hidden * m->n_shared;
    float *x = malloc(ds2_acts_floats(m, T) * sizeof(float) + (size_t)T * k * sizeof(int));
    if (!x) return lmc_fail(err, "out of memory for activations of a %d-token window", T);
    float *xb = x + (size_t)T * d;               /* (T, dim) normed input / attention output */
    float *mo = xb + (size_t)T * d;              /* (T, dim) MLP output */
    float *so = mo + (size_t)T * d;              /* (T, dim) shared experts' output */
    float *qa = so + (size_t)T * d;              /* (T, q_lora) */
    float *q = qa + (size_t)T * m->q_lora;       /* (T, H, qk) [nope | pe] per head */
    float *K = q + (size_t)T * qd;               /* (T, H, qk) [k_nope | k_pe] per head */
    float *ckv = K + (size_t)T * qd;             /* (T, kv_lora + rope) */
    float *cn = ckv + (size_t)T * ckd;           /* (T, kv_lora) normed latent */
    float *kv = cn + (size_t)T * m->kv_lora;     /* (T, H, nope + v_dim) */
    float *V = kv + (size_t)T * kvb;             /* (T, H, v_dim) */
    float *att = V + (size_t)T * vd;             /* (T, H, v_dim) */
    float *h1 = att + (size_t)T * vd;            /* (T, hmax) */
    float *h2 = h1 + (size_t)T * hmax;           /* (T, hmax) */
    float *cos_t = h2 + (size_t)T * hmax, *sin_t = cos_t + (size_t)T * (rd / 2);
    float *scores = sin_t + (size_t)T * (rd / 2); /* (T, E) */
    float *w = scores + (size_t)T * E;            /* (T, k) routing weights (E ≥ k) */
    int *ids = (int *)(w + (size_t)T * E);        /* (T, k) */
    int rc = lmc_embed_rows(m->embed, tokens, T, x, err);
    lmc_rope_tables(&m->rope, T, cos_t, sin_t);
    for (int l = 0; rc == 0 && l < m->n_layers; l++) {
        ds2_layer *L = &m->layers[l];
        /* multi-head latent attention */
        rmsnorm(xb, x, L->attn_norm, T, d, m->eps);
        if (m->q_lora) {
            lmc_linear_apply(&L->q_a, xb, qa, T);
            rmsnorm(qa, qa, L->q_a_norm, T, m->q_lora, LATENT_EPS);
            lmc_linear_apply(&L->q_b, qa, q, T);
        } else {
            lmc_linear_apply(&L->q, xb, q, T);
        }
        lmc_linear_apply(&L->kv_a, xb, ckv, T);
        copy_block(cn, m->kv_lora, ckv, ckd, T, m->kv_lora);
        rmsnorm(cn, cn, L->kv_a_norm, T, m->kv_lora, LATENT_EPS);
        lmc_linear_apply(&L->kv_b, cn, kv, T);
        rope_apply(q + nope, T, H, qk, qd, rd, cos_t, sin_t, 1);          /* q_pe of every head */
        rope_apply(ckv + m->kv_lora, T, 1, ckd, ckd, rd, cos_t, sin_t, 1); /* the shared k_pe */
        for (int h = 0; h < H; h++) {
            copy_block(K + h * qk, qd, kv + h * (nope + vdim), kvb, T, nope);
            copy_block(K + h * qk + nope, qd, ckv + m->kv_lora, ckd, T, rd);
            copy_block(V + h * vdim, vd, kv + h * (nope + vdim) + nope, kvb, T, vdim);
        }
        attention_causal(att, q, qd, K, qd, V, vd, T, H, H, qk, vdim, m->attn_scale);
        lmc_linear_apply(&L->o, att, xb, T);
        add_inplace(x, xb, (size_t)T * d);
        /* dense MLP or routed + shared experts */
        rmsnorm(xb, x, L->mlp_norm, T, d, m->eps);
        if (!L->moe) {
            blk_swiglu_apply(&L->dense, xb, mo, T, h1, h2);
        } else {
            router_logits(scores, xb, L->router, T, E, d);
            route(m, scores, T, ids, w);
            rc = blk_moe_apply(L->experts, E, k, ids, w, xb, mo, T, d, err);
            if (m->n_shared) {
                blk_swiglu_apply(&L->shared, xb, so, T, h1, h2);
                add_inplace(mo, so, (size_t)T * d); /* HF: moe_infer(x) + shared_experts(x) */
            }
        }
        add_inplace(x, mo, (size_t)T * d);
    }
    if (rc == 0) rmsnorm(hidden, x, m->final_norm, T, d, m->eps);
    free(x);
    return rc;
}

const lmc_arch lmc_arch_deepseek2 = {"DeepseekV2ForCausalLM", ds2_load, ds2_forward, ds2_scratch_bytes, ds2_free};
