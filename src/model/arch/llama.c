/* llama.c — the Llama family: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM.
 *
 * Block: x += o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))  with n1 = rmsnorm(x)
 *        x += down_proj(silu(gate_proj(n2)) * up_proj(n2))                  with n2 = rmsnorm(x)
 * Options: GQA/MQA, q/k/v biases (Qwen2 always; Llama `attention_bias`), `mlp_bias`, rope_scaling, tied
 * embeddings (the matrix may be stored as either name), Meta-interleaved RoPE for imported llama2.c files. */
#include "model/arch/arch.h"
#include "model/arch/blocks.h"
#include "kernels.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct llama_layer {
    float     *attn_norm;      /* (dim) */
    lmc_linear q, k, v, o;     /* q: (n_heads*head_dim, dim); k, v: (n_kv*head_dim, dim); o: (dim, n_heads*head_dim) */
    float     *mlp_norm;       /* (dim) */
    blk_swiglu mlp;            /* gate, up: (hidden, dim); down: (dim, hidden) */
} llama_layer;

typedef struct llama_cfg {
    int    dim, n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab;
    float  eps;
    int    qkv_bias, o_bias, mlp_bias, tie, interleaved;
    double theta;
} llama_cfg;

/* Activations of one forward, for T tokens (pointed by arch_forward from llama_acts). */
typedef struct llama_acts {
    float *x;    /* (T, dim) residual stream */
    float *xb;   /* (T, dim) normed input */
    float *q;    /* (T, n_heads*head_dim) */
    float *k;    /* (T, n_kv*head_dim) */
    float *v;    /* (T, n_kv*head_dim) */
    float *att;  /* (T, n_heads*head_dim) */
    float *h1;   /* (T, hidden) gate, then silu(gate)*up */
    float *h2;   /* (T, hidden) up */
    float *cos_t, *sin_t; /* (T, head_dim/2) */
} llama_acts;

typedef struct llama {
    arch_base    base;   /* embed, lm_head, tensor list, arena, profiler */
    llama_cfg    cfg;
    llama_layer *layers; /* (n_layers) */
    float       *final_norm; /* (dim) */
    llama_acts   a;
} llama;

/* Sliding-window attention is not implemented: a window beyond it would silently differ from HF. */
static int sliding_window(const lmc_arch_ctx *c, arch_base *b, int is_qwen2, int is_mistral, lmc_err *err) {
    long sw = 0;
    int use_sw = 1;
    if (is_qwen2 && cfg_bool(c, "use_sliding_window", 0, &use_sw, err)) return -1;
    if ((is_qwen2 || is_mistral) && use_sw && cfg_int(c, "sliding_window", 0, 0, &sw, err)) return -1;
    if (use_sw && sw > 0)
        arch_limit_window(b, (int)sw, "the model's sliding_window %ld, which lmc does not implement", sw);
    return 0;
}

static int llama_config(const lmc_arch_ctx *c, void *state, lmc_err *err) {
    llama *m = state;
    llama_cfg *o = &m->cfg;
    long dim, layers, heads, kv, hidden, vocab, head_dim;
    double eps, pretraining_tp;
    const char *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(c->config, "architectures"), 0)->valuestring;
    int is_qwen2 = !strcmp(arch, "Qwen2ForCausalLM"), is_mistral = !strcmp(arch, "MistralForCausalLM");
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        blk_gqa_config(c, dim, &heads, &kv, &head_dim, err) || cfg_int(c, "intermediate_size", 1, 0, &hidden, err) ||
        cfg_int(c, "vocab_size", 1, 0, &vocab, err) || cfg_num_in(c, "rms_norm_eps", 1e-6, 0, 1, &eps, err) ||
        cfg_num(c, "rope_theta", 0, 10000.0, &o->theta, err) || blk_silu_only(c, arch, err) ||
        cfg_bool(c, "tie_word_embeddings", 0, &o->tie, err) ||
        cfg_bool(c, "lmc_rope_interleaved", 0, &o->interleaved, err) ||
        cfg_num(c, "pretraining_tp", 0, 1, &pretraining_tp, err))
        return -1;
    if (is_qwen2) /* Qwen2: q/k/v biases always, none elsewhere */
        o->qkv_bias = 1;
    else if (cfg_bool(c, "attention_bias", 0, &o->qkv_bias, err) || cfg_bool(c, "mlp_bias", 0, &o->mlp_bias, err))
        return -1;
    o->o_bias = is_qwen2 ? 0 : o->qkv_bias;
    if (sliding_window(c, &m->base, is_qwen2, is_mistral, err)) return -1;
    o->dim = (int)dim; o->n_layers = (int)layers; o->n_heads = (int)heads; o->n_kv_heads = (int)kv;
    o->head_dim = (int)head_dim; o->hidden = (int)hidden; o->vocab = (int)vocab; o->eps = (float)eps;
    if (lmc_rope_from_config(c, o->theta, o->head_dim, o->interleaved, &m->base.rope, err)) return -1;
    int hd = o->head_dim, qd = o->n_heads * hd, kvd = o->n_kv_heads * hd;
    arch_set_attention(&m->base, o->n_layers,
                       (attn_shape){o->n_heads, o->n_kv_heads, hd, hd, qd, kvd, kvd, 1.0f / sqrtf((float)hd)});
    m->layers = arch_layers(c, &m->base, o->dim, o->vocab, "num_hidden_layers", o->n_layers, sizeof *m->layers, err);
    return m->layers ? 0 : -1;
}

static void llama_tensors(void *state, arch_tensors *t) {
    llama *m = state;
    const llama_cfg *o = &m->cfg;
    int d = o->dim, qd = o->n_heads * o->head_dim, kvd = o->n_kv_heads * o->head_dim;
    int qb = o->qkv_bias ? ARCH_BIAS : 0, ob = o->o_bias ? ARCH_BIAS : 0, mb = o->mlp_bias ? ARCH_BIAS : 0;
    arch_add_embed_head(t, "model.embed_tokens.weight", "lm_head.weight", o->vocab, d,
                        o->tie ? ARCH_TIED | ARCH_TIED_EITHER : 0, "vocab_size, hidden_size");
    for (int l = 0; l < o->n_layers; l++) {
        llama_layer *L = &m->layers[l];
        char p[64];
        snprintf(p, sizeof p, "model.layers.%d", l);
        arch_add(t, ARCH_VEC, &L->attn_norm, d, 0, 0, "%s.input_layernorm.weight", p);
        arch_add(t, ARCH_VEC, &L->mlp_norm, d, 0, 0, "%s.post_attention_layernorm.weight", p);
        arch_add(t, ARCH_LINEAR, &L->q, qd, d, qb, "%s.self_attn.q_proj", p);
        arch_add(t, ARCH_LINEAR, &L->k, kvd, d, qb, "%s.self_attn.k_proj", p);
        arch_add(t, ARCH_LINEAR, &L->v, kvd, d, qb, "%s.self_attn.v_proj", p);
        arch_add(t, ARCH_LINEAR, &L->o, d, qd, ob, "%s.self_attn.o_proj", p);
        blk_swiglu_tensors(t, &L->mlp, p, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", d, o->hidden, mb);
    }
    arch_add(t, ARCH_VEC, &m->final_norm, d, 0, 0, "model.norm.weight");
}

static int llama_acts_table(void *state, arch_act *tab) {
    llama *m = state;
    const llama_cfg *o = &m->cfg;
    size_t d = o->dim, qd = (size_t)o->n_heads * o->head_dim, kvd = (size_t)o->n_kv_heads * o->head_dim;
    llama_acts *a = &m->a;
    arch_act lines[] = {
        ARCH_FLOATS(&a->x, d, 0), ARCH_FLOATS(&a->xb, d, 0), ARCH_FLOATS(&a->q, qd, 0), ARCH_FLOATS(&a->att, qd, 0),
        ARCH_FLOATS(&a->k, kvd, 0), ARCH_FLOATS(&a->v, kvd, 0), ARCH_FLOATS(&a->h1, o->hidden, 0),
        ARCH_FLOATS(&a->h2, o->hidden, 0), ARCH_FLOATS(&a->cos_t, o->head_dim / 2, 0),
        ARCH_FLOATS(&a->sin_t, o->head_dim / 2, 0),
    };
    return ARCH_ACTS(tab, lines);
}

/* One pass for a prefill (kv NULL: tokens at positions 0..T-1, attention among themselves) or a decoding step
 * (tokens at kv->pos.., their keys and values appended to the cache, attention over all of it). The two differ
 * only in the RoPE rows and the attention call, so a step is the prefill's arithmetic wherever it can be. */
static int llama_run(void *state, arch_kv *kv, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    llama *m = state;
    const llama_cfg *o = &m->cfg;
    const llama_acts *a = &m->a;
    int d = o->dim, qd = o->n_heads * o->head_dim, kvd = o->n_kv_heads * o->head_dim, hd = o->head_dim;
    int il = m->base.rope.interleaved, pos = kv ? kv->pos : 0;
    if (lmc_embed_rows(m->base.embed, tokens, T, a->x, err)) return -1;
    lmc_rope_tables_at(&m->base.rope, pos, T, a->cos_t, a->sin_t);
    /* the packed bf16 path's fused matmuls round each input once (NULL where the plan runs them unfused, with the
     * same bits) */
    void *xs = arch_linear_scratch(&m->base);
    for (int l = 0; l < o->n_layers; l++) {
        llama_layer *L = &m->layers[l];
        /* attention */
        rmsnorm(a->xb, a->x, L->attn_norm, T, d, o->eps);
        const lmc_linear *qkv[3] = {&L->q, &L->k, &L->v};
        float *const qkv_out[3] = {a->q, a->k, a->v};
        lmc_linear_apply_n(qkv, 3, a->xb, qkv_out, T, xs);
        rope_apply(a->q, T, o->n_heads, hd, qd, hd, a->cos_t, a->sin_t, il);
        rope_apply(a->k, T, o->n_kv_heads, hd, kvd, hd, a->cos_t, a->sin_t, il);
        arch_attend(&m->base, kv, l, a->att, a->q, a->k, a->v, T, &m->base.attn);
        lmc_linear_apply_add(&L->o, a->att, a->x, a->xb, T, xs);
        /* SwiGLU MLP */
        rmsnorm(a->xb, a->x, L->mlp_norm, T, d, o->eps);
        lmc_linear_apply_swiglu(&L->mlp.gate, &L->mlp.up, a->xb, a->h1, a->h2, T, xs);
        lmc_linear_apply_add(&L->mlp.down, a->h1, a->x, a->xb, T, xs);
    }
    rmsnorm(hidden, a->x, m->final_norm, T, d, o->eps);
    return 0;
}

static void llama_kv_shape(void *state, int *n_layers, int *k_width, int *v_width) {
    const llama_cfg *o = &((llama *)state)->cfg;
    *n_layers = o->n_layers;
    *k_width = *v_width = o->n_kv_heads * o->head_dim; /* grouped heads are cached once, not per query head */
}

#define LLAMA_FAMILY(sym, hf_name)                                                                         \
    const lmc_arch sym = {hf_name, sizeof(llama), llama_config, llama_tensors, llama_acts_table,            \
                          llama_run, llama_kv_shape}
LLAMA_FAMILY(lmc_arch_llama, "LlamaForCausalLM");
LLAMA_FAMILY(lmc_arch_mistral, "MistralForCausalLM");
LLAMA_FAMILY(lmc_arch_qwen2, "Qwen2ForCausalLM");
