/* llama.c — the Llama family: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM.
 *
 * Block: x += o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))  with n1 = rmsnorm(x)
 *        x += down_proj(silu(gate_proj(n2)) * up_proj(n2))                  with n2 = rmsnorm(x)
 * Options: GQA/MQA, q/k/v biases (Qwen2 always; Llama `attention_bias`), `mlp_bias`, rope_scaling, tied
 * embeddings (the matrix may be stored as either name), Meta-interleaved RoPE for imported llama2.c files. */
#include "arch.h"
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct llama_layer {
    float     *attn_norm;      /* (dim) */
    lmc_linear q, k, v, o;     /* q: (n_heads*head_dim, dim); k, v: (n_kv*head_dim, dim); o: (dim, n_heads*head_dim) */
    float     *mlp_norm;       /* (dim) */
    lmc_linear gate, up, down; /* gate, up: (hidden, dim); down: (dim, hidden) */
} llama_layer;

typedef struct llama {
    int dim, n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab, sliding_window;
    float eps;
    lmc_rope rope;
    const lmc_tensor *embed; /* (vocab, dim), in the mmap */
    llama_layer *layers;     /* (n_layers) */
    float *final_norm;       /* (dim) */
    lmc_linear lm_head;      /* (vocab, dim) */
    lmc_prof prof;           /* kernel time split, accumulated by forward */
} llama;

/* Activations of one forward, sized for T tokens. */
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

static size_t llama_scratch_bytes(const void *state, int T) {
    const llama *m = state;
    size_t qd = (size_t)m->n_heads * m->head_dim, kvd = (size_t)m->n_kv_heads * m->head_dim;
    size_t floats = (size_t)T * (2 * m->dim + 2 * qd + 2 * kvd + 2 * (size_t)m->hidden + m->head_dim);
    return floats * sizeof(float);
}

static void llama_free(void *state) {
    llama *m = state;
    if (!m) return;
    if (m->layers)
        for (int l = 0; l < m->n_layers; l++) {
            llama_layer *L = &m->layers[l];
            free(L->attn_norm); free(L->mlp_norm);
            lmc_linear_free(&L->q); lmc_linear_free(&L->k); lmc_linear_free(&L->v); lmc_linear_free(&L->o);
            lmc_linear_free(&L->gate); lmc_linear_free(&L->up); lmc_linear_free(&L->down);
        }
    free(m->layers);
    free(m->final_norm);
    lmc_linear_free(&m->lm_head);
    lmc_rope_free(&m->rope);
    free(m);
}

static int read_config(const lmc_arch_ctx *c, llama *m, int *qkv_bias, int *o_bias, int *mlp_bias, int *tie,
                       double *theta, int *interleaved, lmc_err *err) {
    long dim, layers, heads, kv, hidden, vocab, head_dim, sw = 0;
    double eps;
    const char *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(c->config, "architectures"), 0)->valuestring;
    int is_qwen2 = !strcmp(arch, "Qwen2ForCausalLM"), is_mistral = !strcmp(arch, "MistralForCausalLM");
    const char *act;
    if (cfg_int(c, "hidden_size", 1, 0, &dim, err) || cfg_int(c, "num_hidden_layers", 1, 0, &layers, err) ||
        cfg_int(c, "num_attention_heads", 1, 0, &heads, err) ||
        cfg_int(c, "num_key_value_heads", 0, heads, &kv, err) ||
        cfg_int(c, "intermediate_size", 1, 0, &hidden, err) || cfg_int(c, "vocab_size", 1, 0, &vocab, err) ||
        cfg_num_in(c, "rms_norm_eps", 1e-6, 0, 1, &eps, err) || cfg_num(c, "rope_theta", 0, 10000.0, theta, err) ||
        cfg_str(c, "hidden_act", "silu", &act, err) ||
        cfg_bool(c, "tie_word_embeddings", 0, tie, err) || cfg_bool(c, "lmc_rope_interleaved", 0, interleaved, err))
        return -1;
    if (heads == 0 || kv == 0 || heads % kv)
        return lmc_fail(err, "%s: num_attention_heads %ld is not a multiple of num_key_value_heads %ld", c->origin,
                        heads, kv);
    if (cfg_int(c, "head_dim", 0, dim / heads, &head_dim, err)) return -1;
    if (head_dim == 0 || head_dim % 2) return lmc_fail(err, "%s: head_dim %ld must be even", c->origin, head_dim);
    if (strcmp(act, "silu") != 0)
        return lmc_fail(err, "%s: hidden_act \"%s\" is not supported for %s (expected silu)", c->origin, act, arch);
    double pretraining_tp;
    if (cfg_num(c, "pretraining_tp", 0, 1, &pretraining_tp, err)) return -1;
    if (is_qwen2) {
        *qkv_bias = 1;
        *o_bias = 0;
        *mlp_bias = 0;
        int use_sw;
        if (cfg_bool(c, "use_sliding_window", 0, &use_sw, err)) return -1;
        if (use_sw && cfg_int(c, "sliding_window", 0, 0, &sw, err)) return -1;
        if (!use_sw) sw = 0;
    } else {
        int ab = 0, mb = 0;
        if (cfg_bool(c, "attention_bias", 0, &ab, err) || cfg_bool(c, "mlp_bias", 0, &mb, err)) return -1;
        *qkv_bias = *o_bias = ab;
        *mlp_bias = mb;
        if (is_mistral && cfg_int(c, "sliding_window", 0, 0, &sw, err)) return -1;
    }
    m->dim = (int)dim; m->n_layers = (int)layers; m->n_heads = (int)heads; m->n_kv_heads = (int)kv;
    m->head_dim = (int)head_dim; m->hidden = (int)hidden; m->vocab = (int)vocab; m->eps = (float)eps;
    m->sliding_window = (int)sw;
    return 0;
}

static int load_layer(const lmc_arch_ctx *c, llama *m, int l, int qkv_bias, int o_bias, int mlp_bias,
                      int64_t *params, lmc_err *err) {
    llama_layer *L = &m->layers[l];
    const char *o = c->origin;
    lmc_compute cp = c->opts.compute;
    int qd = m->n_heads * m->head_dim, kvd = m->n_kv_heads * m->head_dim;
    const char *p = "model.layers";
    const lmc_tensor *t;
#define NEED(var, ...) if (!(var = arch_tensor(c, err, __VA_ARGS__))) return -1
#define BIAS(on, ...) ((on) ? arch_tensor(c, err, __VA_ARGS__) : NULL)
    NEED(t, "%s.%d.input_layernorm.weight", p, l);
    if (!(L->attn_norm = lmc_tensor_f32(t, m->dim, o, err))) return -1;
    NEED(t, "%s.%d.post_attention_layernorm.weight", p, l);
    if (!(L->mlp_norm = lmc_tensor_f32(t, m->dim, o, err))) return -1;
    struct { lmc_linear *lin; const char *name; int N, K, bias; } mats[] = {
        {&L->q, "self_attn.q_proj", qd, m->dim, qkv_bias},   {&L->k, "self_attn.k_proj", kvd, m->dim, qkv_bias},
        {&L->v, "self_attn.v_proj", kvd, m->dim, qkv_bias},  {&L->o, "self_attn.o_proj", m->dim, qd, o_bias},
        {&L->gate, "mlp.gate_proj", m->hidden, m->dim, mlp_bias}, {&L->up, "mlp.up_proj", m->hidden, m->dim, mlp_bias},
        {&L->down, "mlp.down_proj", m->dim, m->hidden, mlp_bias},
    };
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
        const lmc_tensor *w, *b = NULL;
        NEED(w, "%s.%d.%s.weight", p, l, mats[i].name);
        if (mats[i].bias && !(b = BIAS(1, "%s.%d.%s.bias", p, l, mats[i].name))) return -1;
        if (lmc_linear_init(mats[i].lin, w, b, mats[i].N, mats[i].K, cp, o, err)) return -1;
        *params += w->numel + (b ? b->numel : 0);
    }
    *params += 2 * m->dim;
#undef NEED
#undef BIAS
    return 0;
}

static int llama_load(const lmc_arch_ctx *c, void **state, lmc_model_info *info, lmc_err *err) {
    llama *m = lmc_xcalloc(1, sizeof *m);
    int qkv_bias = 0, o_bias = 0, mlp_bias = 0, tie = 0, interleaved = 0;
    double theta;
    int64_t params = 0;
    if (read_config(c, m, &qkv_bias, &o_bias, &mlp_bias, &tie, &theta, &interleaved, err)) goto fail;
    if (lmc_rope_from_config(c, theta, m->head_dim, interleaved, &m->rope, err)) goto fail;
    /* Tied checkpoints store the shared matrix under either name (TinyStories-656K-f32 keeps only lm_head). */
    const lmc_tensor *emb = arch_tensor_opt(c, "model.embed_tokens.weight");
    const lmc_tensor *head = arch_tensor_opt(c, "lm_head.weight");
    if (tie && !head) head = emb;
    if (tie && !emb) emb = head;
    if (!emb) { lmc_fail(err, "%s: missing tensor model.embed_tokens.weight", c->origin); goto fail; }
    if (!head) { lmc_fail(err, "%s: missing tensor lm_head.weight (config has tie_word_embeddings false)", c->origin); goto fail; }
    char sb[96];
    if (emb->ndim != 2 || emb->shape[0] != m->vocab || emb->shape[1] != m->dim) {
        lmc_fail(err, "%s: tensor %s has shape %s, expected [%d, %d] (vocab_size, hidden_size)", c->origin,
                 emb->name, lmc_shape_str(emb, sb, sizeof sb), m->vocab, m->dim);
        goto fail;
    }
    m->embed = emb;
    if (lmc_linear_init(&m->lm_head, head, NULL, m->vocab, m->dim, c->opts.compute, c->origin, err)) goto fail;
    params += emb->numel + (head != emb ? head->numel : 0);
    if (cfg_check_layers(c, "num_hidden_layers", m->n_layers, err)) goto fail;
    m->layers = lmc_xcalloc((size_t)m->n_layers, sizeof *m->layers);
    for (int l = 0; l < m->n_layers; l++)
        if (load_layer(c, m, l, qkv_bias, o_bias, mlp_bias, &params, err)) goto fail;
    const lmc_tensor *fn = arch_tensor(c, err, "model.norm.weight");
    if (!fn || !(m->final_norm = lmc_tensor_f32(fn, m->dim, c->origin, err))) goto fail;
    params += m->dim;
    *info = arch_info(m->dim, m->vocab, 0, params, &m->lm_head, &m->prof); /* RoPE: any window length */
    *state = m;
    return 0;
fail:
    llama_free(m);
    return -1;
}

static int alloc_acts(const llama *m, int T, llama_acts *a, lmc_err *err) {
    size_t qd = (size_t)m->n_heads * m->head_dim, kvd = (size_t)m->n_kv_heads * m->head_dim;
    float *base = malloc(llama_scratch_bytes(m, T));
    if (!base) return lmc_fail(err, "out of memory for activations of a %d-token window", T);
    a->x = base;
    a->xb = a->x + (size_t)T * m->dim;
    a->q = a->xb + (size_t)T * m->dim;
    a->att = a->q + (size_t)T * qd;
    a->k = a->att + (size_t)T * qd;
    a->v = a->k + (size_t)T * kvd;
    a->h1 = a->v + (size_t)T * kvd;
    a->h2 = a->h1 + (size_t)T * m->hidden;
    a->cos_t = a->h2 + (size_t)T * m->hidden;
    a->sin_t = a->cos_t + (size_t)T * (m->head_dim / 2);
    return 0;
}

static int llama_forward(void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    llama *m = state;
    if (m->sliding_window > 0 && T > m->sliding_window)
        return lmc_fail(err, "window of %d tokens exceeds the model's sliding_window %d, which lmc does not "
                             "implement; use --block-size %d or less", T, m->sliding_window, m->sliding_window);
    llama_acts a = {0};
    if (alloc_acts(m, T, &a, err)) return -1;
    lmc_prof *p = &m->prof;
    int rc;
    PROF(p, PROF_ELEMWISE, rc = lmc_embed_rows(m->embed, tokens, T, a.x, err));
    if (rc) { free(a.x); return -1; }
    int qd = m->n_heads * m->head_dim, kvd = m->n_kv_heads * m->head_dim, hd = m->head_dim, il = m->rope.interleaved;
    PROF(p, PROF_ELEMWISE, lmc_rope_tables(&m->rope, T, a.cos_t, a.sin_t));
    float scale = 1.0f / sqrtf((float)m->head_dim);
    for (int l = 0; l < m->n_layers; l++) {
        llama_layer *L = &m->layers[l];
        /* attention */
        PROF(p, PROF_ELEMWISE, rmsnorm(a.xb, a.x, L->attn_norm, T, m->dim, m->eps));
        PROF(p, PROF_MATMUL, lmc_linear_apply(&L->q, a.xb, a.q, T); lmc_linear_apply(&L->k, a.xb, a.k, T);
                             lmc_linear_apply(&L->v, a.xb, a.v, T));
        PROF(p, PROF_ELEMWISE, rope_apply(a.q, T, m->n_heads, hd, qd, hd, a.cos_t, a.sin_t, il);
                               rope_apply(a.k, T, m->n_kv_heads, hd, kvd, hd, a.cos_t, a.sin_t, il));
        PROF(p, PROF_ATTENTION, attention_causal(a.att, a.q, qd, a.k, kvd, a.v, kvd, T, m->n_heads, m->n_kv_heads,
                                                 hd, hd, scale));
        PROF(p, PROF_MATMUL, lmc_linear_apply(&L->o, a.att, a.xb, T));
        PROF(p, PROF_ELEMWISE, add_inplace(a.x, a.xb, (size_t)T * m->dim));
        /* SwiGLU MLP */
        PROF(p, PROF_ELEMWISE, rmsnorm(a.xb, a.x, L->mlp_norm, T, m->dim, m->eps));
        PROF(p, PROF_MATMUL, lmc_linear_apply(&L->gate, a.xb, a.h1, T); lmc_linear_apply(&L->up, a.xb, a.h2, T));
        PROF(p, PROF_ELEMWISE, silu_mul(a.h1, a.h1, a.h2, (size_t)T * m->hidden));
        PROF(p, PROF_MATMUL, lmc_linear_apply(&L->down, a.h1, a.xb, T));
        PROF(p, PROF_ELEMWISE, add_inplace(a.x, a.xb, (size_t)T * m->dim));
    }
    PROF(p, PROF_ELEMWISE, rmsnorm(hidden, a.x, m->final_norm, T, m->dim, m->eps));
    free(a.x);
    return 0;
}

const lmc_arch lmc_arch_llama = {"LlamaForCausalLM", llama_load, llama_forward, llama_scratch_bytes, llama_free};
const lmc_arch lmc_arch_mistral = {"MistralForCausalLM", llama_load, llama_forward, llama_scratch_bytes, llama_free};
const lmc_arch lmc_arch_qwen2 = {"Qwen2ForCausalLM", llama_load, llama_forward, llama_scratch_bytes, llama_free};
