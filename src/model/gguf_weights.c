/* gguf_weights.c — a GGUF file (llama.cpp's format) as the HF checkpoint it was converted from: tensors under
 * their HF names and a config.json synthesized from the `<arch>.*` metadata, so that the architecture files
 * load it exactly as they load the safetensors checkpoint (lmc_gguf_weights_open, gguf.h; beneath weights.h).
 *
 * What llama.cpp's converter (convert_hf_to_gguf.py and its conversion/ modules) does to a checkpoint, and what is undone
 * here:
 *   - names: `blk.N.attn_q.weight` for `model.layers.N.self_attn.q_proj.weight` etc. (one table per
 *     architecture below, from gguf-py's tensor_mapping.py);
 *   - shapes: ggml order, ne = {in, out}: reversed into the [out, in] of the HF tensor;
 *   - Llama (and Mistral, converted as "llama"): q_proj and k_proj rows permuted from HF's rotate_half layout to
 *     interleaved pairs (LlamaModel.permute: within each head, row 2i + j of the GGUF is row j·hd/2 + i of HF).
 *     Undone by reordering whole rows into an owned copy of those two tensors (a row is whole quantization
 *     blocks, so no dequantization is needed). Qwen2 is converted without it;
 *   - GPT-2: Conv1D weights transposed to [out, in]; Falcon and GPT-NeoX: fused QKV re-laid out to
 *     [Q | K | V]. Both kept as they are and marked (lmc_tensor.gguf_layout) so that arch/load.c skips its own
 *     re-layout;
 *   - config: hyperparameters as `<arch>.embedding_length`, `<arch>.block_count`, ...; the vocabulary size is the
 *     embedding's row count, tied output when `output.weight` is absent, optional biases when present.
 * Tensor data stays in the GGUF's mmap (lmc_gguf); quantized types are widened by the linears (linear.c).
 *
 * Sections: name tables · metadata lookups · configs per architecture · tensors · open. */
#include "model/gguf.h"
#include "model/weights.h"

#include "common/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- name tables ------------------------------------------------------------------------------ */

/* GGUF name → HF name. Block tensors are "blk.N.<gguf>" ↔ "<layer prefix with N><hf>"; the ".weight" / ".bias"
 * suffix carries over. `layout`: the GGUF tensor's layout differs from HF's in a way arch/load.c must know. */
typedef struct gg_name {
    const char *gguf, *hf;
    int         layout;
} gg_name;

static const gg_name LLAMA_GLOBAL[] = {
    {"token_embd", "model.embed_tokens", 0}, {"output_norm", "model.norm", 0}, {"output", "lm_head", 0}, {0}};
static const gg_name LLAMA_BLOCK[] = {
    {"attn_norm", "input_layernorm", 0},   {"attn_q", "self_attn.q_proj", 0},     {"attn_k", "self_attn.k_proj", 0},
    {"attn_v", "self_attn.v_proj", 0},     {"attn_output", "self_attn.o_proj", 0},
    {"ffn_norm", "post_attention_layernorm", 0}, {"ffn_gate", "mlp.gate_proj", 0}, {"ffn_up", "mlp.up_proj", 0},
    {"ffn_down", "mlp.down_proj", 0},      {0}};

static const gg_name GPT2_GLOBAL[] = {
    {"token_embd", "wte", 0}, {"position_embd", "wpe", 0}, {"output_norm", "ln_f", 0}, {"output", "lm_head", 0}, {0}};
static const gg_name GPT2_BLOCK[] = {
    {"attn_norm", "ln_1", 0},   {"attn_qkv", "attn.c_attn", 1}, {"attn_output", "attn.c_proj", 1},
    {"ffn_norm", "ln_2", 0},    {"ffn_up", "mlp.c_fc", 1},      {"ffn_down", "mlp.c_proj", 1}, {0}};

static const gg_name NEOX_GLOBAL[] = {{"token_embd", "gpt_neox.embed_in", 0},
                                      {"output_norm", "gpt_neox.final_layer_norm", 0},
                                      {"output", "embed_out", 0}, {0}};
static const gg_name NEOX_BLOCK[] = {
    {"attn_norm", "input_layernorm", 0},  {"attn_qkv", "attention.query_key_value", 1},
    {"attn_output", "attention.dense", 0}, {"ffn_norm", "post_attention_layernorm", 0},
    {"ffn_up", "mlp.dense_h_to_4h", 0},   {"ffn_down", "mlp.dense_4h_to_h", 0}, {0}};

static const gg_name FALCON_GLOBAL[] = {{"token_embd", "transformer.word_embeddings", 0},
                                        {"output_norm", "transformer.ln_f", 0}, {"output", "lm_head", 0}, {0}};
/* attn_norm is Falcon-7B's input_layernorm or, with attn_norm_2 beside it, Falcon-40B's ln_attn (see open) */
static const gg_name FALCON_BLOCK[] = {
    {"attn_norm", "input_layernorm", 0},   {"attn_norm_2", "ln_mlp", 0},
    {"attn_qkv", "self_attention.query_key_value", 1}, {"attn_output", "self_attention.dense", 0},
    {"ffn_up", "mlp.dense_h_to_4h", 0},    {"ffn_down", "mlp.dense_4h_to_h", 0}, {0}};
static const gg_name FALCON40_BLOCK[] = {
    {"attn_norm", "ln_attn", 0},           {"attn_norm_2", "ln_mlp", 0},
    {"attn_qkv", "self_attention.query_key_value", 1}, {"attn_output", "self_attention.dense", 0},
    {"ffn_up", "mlp.dense_h_to_4h", 0},    {"ffn_down", "mlp.dense_4h_to_h", 0}, {0}};

typedef struct gg_ctx gg_ctx;
typedef struct gg_arch {
    const char    *name;         /* general.architecture */
    const char    *layer_prefix; /* HF block prefix, printf with the block index */
    const gg_name *global, *block;
    int            permute_qk;   /* Llama: undo LlamaModel.permute on q/k rows */
    int          (*config)(gg_ctx *c, cJSON *cfg);
} gg_arch;

struct gg_ctx {
    const lmc_gguf *g;
    const gg_arch  *a;
    const char     *path;
    lmc_err        *err;
    int64_t         n_head, n_head_kv; /* for the Q/K permutation */
};

/* ---- metadata lookups ------------------------------------------------------------------------- */

/* The scalar "<arch>.<suffix>": *kv = NULL when absent and not required, else an error naming the key. */
static int meta_scalar(gg_ctx *c, const char *suffix, int required, const lmc_gguf_kv **kv, char *key, size_t cap) {
    snprintf(key, cap, "%s.%s", c->a->name, suffix);
    *kv = lmc_gguf_find_kv(c->g, key);
    if (!*kv && required) return lmc_fail(c->err, "%s: GGUF metadata has no %s", c->path, key);
    return 0;
}

/* "<arch>.<suffix>" as an integer / number; absent → dflt when not required, else an error naming the key. */
static int meta_int(gg_ctx *c, const char *suffix, int required, int64_t dflt, int64_t *out) {
    char key[128];
    const lmc_gguf_kv *kv;
    if (meta_scalar(c, suffix, required, &kv, key, sizeof key)) return -1;
    *out = dflt;
    if (kv && (kv->type == LMC_GGUF_ARRAY || lmc_gguf_kv_int(kv, 0, out)))
        return lmc_fail(c->err, "%s: GGUF metadata %s is a %s, not an integer", c->path, key,
                        lmc_gguf_vtype_name(kv->type));
    return 0;
}

static int meta_num(gg_ctx *c, const char *suffix, int required, double dflt, double *out) {
    char key[128];
    const lmc_gguf_kv *kv;
    if (meta_scalar(c, suffix, required, &kv, key, sizeof key)) return -1;
    *out = dflt;
    if (kv && (kv->type == LMC_GGUF_ARRAY || lmc_gguf_kv_float(kv, 0, out)))
        return lmc_fail(c->err, "%s: GGUF metadata %s is a %s, not a number", c->path, key,
                        lmc_gguf_vtype_name(kv->type));
    return 0;
}

static const lmc_gguf_tensor *tensor(gg_ctx *c, const char *name) { return lmc_gguf_find_tensor(c->g, name); }

/* Rows of a GGUF matrix (its last ggml dimension = HF's first), or -1 with an error when absent. */
static int64_t rows_of(gg_ctx *c, const char *name) {
    const lmc_gguf_tensor *t = tensor(c, name);
    if (!t || t->ndim != 2) {
        lmc_fail(c->err, "%s: GGUF has no 2-D tensor %s", c->path, name);
        return -1;
    }
    return t->ne[1];
}

static void put_int(cJSON *cfg, const char *key, int64_t v) { cJSON_AddNumberToObject(cfg, key, (double)v); }

/* ---- configs per architecture ------------------------------------------------------------------ */

/* The keys every family's config needs: the HF class, the block count, the vocabulary (embedding rows), and
 * whether the output head is the embedding. */
static int config_common(gg_ctx *c, cJSON *cfg, const char *hf_arch, int64_t *vocab) {
    cJSON *archs = cJSON_AddArrayToObject(cfg, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(hf_arch));
    cJSON_AddStringToObject(cfg, "lmc_source_format", "gguf");
    if ((*vocab = rows_of(c, "token_embd.weight")) < 0) return -1;
    cJSON_AddBoolToObject(cfg, "tie_word_embeddings", tensor(c, "output.weight") == NULL);
    return 0;
}

/* rope_scaling from <arch>.rope.scaling.type / factor / original_context_length (linear and YaRN; Llama 3's
 * frequency factors come as a rope_freqs tensor, refused in open). */
static int config_rope_scaling(gg_ctx *c, cJSON *cfg) {
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", c->a->name);
    const lmc_gguf_kv *kv = lmc_gguf_find_kv(c->g, key);
    const char *s;
    size_t n;
    if (!kv) return 0;
    if (lmc_gguf_kv_str(kv, 0, &s, &n)) return lmc_fail(c->err, "%s: GGUF metadata %s is not a string", c->path, key);
    if (n == 4 && !memcmp(s, "none", 4)) return 0;
    double factor;
    int64_t orig;
    if (meta_num(c, "rope.scaling.factor", 1, 0, &factor) ||
        meta_int(c, "rope.scaling.original_context_length", 0, 0, &orig))
        return -1;
    cJSON *rs = cJSON_AddObjectToObject(cfg, "rope_scaling");
    if (n == 6 && !memcmp(s, "linear", 6)) cJSON_AddStringToObject(rs, "rope_type", "linear");
    else if (n == 4 && !memcmp(s, "yarn", 4)) cJSON_AddStringToObject(rs, "rope_type", "yarn");
    else return lmc_fail(c->err, "%s: GGUF rope scaling \"%.*s\" is not supported (linear, yarn)", c->path, (int)n, s);
    cJSON_AddNumberToObject(rs, "factor", factor);
    if (orig) put_int(rs, "original_max_position_embeddings", orig);
    return 0;
}

/* Llama / Mistral ("llama") and Qwen2 ("qwen2"): LlamaModel / Qwen2Model's set_gguf_parameters. */
static int config_llama(gg_ctx *c, cJSON *cfg) {
    int64_t dim, layers, ff, heads, kv, ctx, vocab, key_len, rope_dim;
    double eps, theta;
    int qwen2 = !strcmp(c->a->name, "qwen2");
    if (config_common(c, cfg, qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM", &vocab) ||
        meta_int(c, "embedding_length", 1, 0, &dim) || meta_int(c, "block_count", 1, 0, &layers) ||
        meta_int(c, "feed_forward_length", 1, 0, &ff) || meta_int(c, "attention.head_count", 1, 0, &heads) ||
        meta_int(c, "attention.head_count_kv", 0, heads, &kv) || meta_int(c, "context_length", 0, 2048, &ctx) ||
        meta_num(c, "attention.layer_norm_rms_epsilon", 1, 0, &eps) ||
        meta_num(c, "rope.freq_base", 0, 10000.0, &theta))
        return -1;
    if (heads <= 0 || dim % heads) return lmc_fail(c->err, "%s: %s.attention.head_count %lld does not divide "
                                                   "embedding_length %lld", c->path, c->a->name, (long long)heads,
                                                   (long long)dim);
    if (meta_int(c, "attention.key_length", 0, dim / heads, &key_len) ||
        meta_int(c, "rope.dimension_count", 0, key_len, &rope_dim))
        return -1;
    if (rope_dim != key_len)
        return lmc_fail(c->err, "%s: %s.rope.dimension_count %lld differs from the head size %lld (partial rotary "
                        "is not supported for %s)", c->path, c->a->name, (long long)rope_dim, (long long)key_len,
                        c->a->name);
    c->n_head = heads;
    c->n_head_kv = kv;
    cJSON_AddStringToObject(cfg, "model_type", qwen2 ? "qwen2" : "llama");
    put_int(cfg, "hidden_size", dim);
    put_int(cfg, "num_hidden_layers", layers);
    put_int(cfg, "intermediate_size", ff);
    put_int(cfg, "num_attention_heads", heads);
    put_int(cfg, "num_key_value_heads", kv);
    put_int(cfg, "head_dim", key_len);
    put_int(cfg, "max_position_embeddings", ctx);
    put_int(cfg, "vocab_size", vocab);
    cJSON_AddNumberToObject(cfg, "rms_norm_eps", eps);
    cJSON_AddNumberToObject(cfg, "rope_theta", theta);
    cJSON_AddStringToObject(cfg, "hidden_act", "silu");
    if (!qwen2) {
        cJSON_AddBoolToObject(cfg, "attention_bias", tensor(c, "blk.0.attn_q.bias") != NULL);
        cJSON_AddBoolToObject(cfg, "mlp_bias", tensor(c, "blk.0.ffn_up.bias") != NULL);
    }
    return config_rope_scaling(c, cfg);
}

/* GPT-2: GPT2Model's set_gguf_parameters writes feed_forward_length as 4·n_embd whatever n_inner is, so the
 * inner size is read from ffn_up's rows. */
static int config_gpt2(gg_ctx *c, cJSON *cfg) {
    int64_t dim, layers, heads, ctx, vocab, inner;
    double eps;
    if (config_common(c, cfg, "GPT2LMHeadModel", &vocab) || meta_int(c, "embedding_length", 1, 0, &dim) ||
        meta_int(c, "block_count", 1, 0, &layers) || meta_int(c, "attention.head_count", 1, 0, &heads) ||
        meta_int(c, "context_length", 1, 0, &ctx) || meta_num(c, "attention.layer_norm_epsilon", 0, 1e-5, &eps) ||
        (inner = rows_of(c, "blk.0.ffn_up.weight")) < 0)
        return -1;
    cJSON_AddStringToObject(cfg, "model_type", "gpt2");
    put_int(cfg, "n_embd", dim);
    put_int(cfg, "n_layer", layers);
    put_int(cfg, "n_head", heads);
    put_int(cfg, "n_positions", ctx);
    put_int(cfg, "n_ctx", ctx);
    put_int(cfg, "n_inner", inner);
    put_int(cfg, "vocab_size", vocab);
    cJSON_AddNumberToObject(cfg, "layer_norm_epsilon", eps);
    cJSON_AddStringToObject(cfg, "activation_function", "gelu_new");
    return 0;
}

/* GPT-NeoX: rotary_pct from rope.dimension_count / head size; the rotary base is not written by the converter
 * (llama.cpp uses 10000), but honoured when present. */
static int config_gptneox(gg_ctx *c, cJSON *cfg) {
    int64_t dim, layers, heads, ctx, vocab, ff, rope_dim, parallel;
    double eps, theta;
    if (config_common(c, cfg, "GPTNeoXForCausalLM", &vocab) || meta_int(c, "embedding_length", 1, 0, &dim) ||
        meta_int(c, "block_count", 1, 0, &layers) || meta_int(c, "attention.head_count", 1, 0, &heads) ||
        meta_int(c, "context_length", 1, 0, &ctx) || meta_int(c, "feed_forward_length", 1, 0, &ff) ||
        meta_num(c, "attention.layer_norm_epsilon", 0, 1e-5, &eps) || meta_num(c, "rope.freq_base", 0, 10000, &theta) ||
        meta_int(c, "use_parallel_residual", 0, 1, &parallel))
        return -1;
    if (heads <= 0 || dim % heads)
        return lmc_fail(c->err, "%s: gptneox.attention.head_count %lld does not divide embedding_length %lld",
                        c->path, (long long)heads, (long long)dim);
    if (meta_int(c, "rope.dimension_count", 0, dim / heads, &rope_dim)) return -1;
    cJSON_AddStringToObject(cfg, "model_type", "gpt_neox");
    put_int(cfg, "hidden_size", dim);
    put_int(cfg, "num_hidden_layers", layers);
    put_int(cfg, "num_attention_heads", heads);
    put_int(cfg, "intermediate_size", ff);
    put_int(cfg, "max_position_embeddings", ctx);
    put_int(cfg, "vocab_size", vocab);
    cJSON_AddNumberToObject(cfg, "rotary_pct", (double)rope_dim / (double)(dim / heads));
    cJSON_AddNumberToObject(cfg, "rope_theta", theta);
    cJSON_AddNumberToObject(cfg, "layer_norm_eps", eps);
    cJSON_AddBoolToObject(cfg, "use_parallel_residual", parallel != 0);
    cJSON_AddBoolToObject(cfg, "attention_bias", tensor(c, "blk.0.attn_qkv.bias") != NULL);
    cJSON_AddStringToObject(cfg, "hidden_act", "gelu");
    return 0;
}

/* Falcon: the converter records no decoder variant; llama.cpp tells them apart by attn_norm_2 (Falcon-40B's
 * ln_mlp), and so does this. head_count_kv 1 without it is Falcon-7B's multi-query attention. */
static int config_falcon(gg_ctx *c, cJSON *cfg) {
    int64_t dim, layers, heads, kv, ctx, vocab, ff;
    double eps, theta;
    if (config_common(c, cfg, "FalconForCausalLM", &vocab) || meta_int(c, "embedding_length", 1, 0, &dim) ||
        meta_int(c, "block_count", 1, 0, &layers) || meta_int(c, "attention.head_count", 1, 0, &heads) ||
        meta_int(c, "attention.head_count_kv", 0, 1, &kv) || meta_int(c, "context_length", 0, 2048, &ctx) ||
        meta_num(c, "attention.layer_norm_epsilon", 0, 1e-5, &eps) ||
        meta_num(c, "rope.freq_base", 0, 10000, &theta) || (ff = rows_of(c, "blk.0.ffn_up.weight")) < 0)
        return -1;
    int two_ln = tensor(c, "blk.0.attn_norm_2.weight") != NULL, new_arch = two_ln || kv > 1;
    cJSON_AddStringToObject(cfg, "model_type", "falcon");
    put_int(cfg, "hidden_size", dim);
    put_int(cfg, "num_hidden_layers", layers);
    put_int(cfg, "num_attention_heads", heads);
    put_int(cfg, "num_kv_heads", kv);
    put_int(cfg, "ffn_hidden_size", ff);
    put_int(cfg, "max_position_embeddings", ctx);
    put_int(cfg, "vocab_size", vocab);
    cJSON_AddNumberToObject(cfg, "layer_norm_epsilon", eps);
    cJSON_AddNumberToObject(cfg, "rope_theta", theta);
    cJSON_AddBoolToObject(cfg, "new_decoder_architecture", new_arch);
    cJSON_AddBoolToObject(cfg, "multi_query", !new_arch && kv == 1);
    put_int(cfg, "num_ln_in_parallel_attn", two_ln ? 2 : 1);
    cJSON_AddBoolToObject(cfg, "parallel_attn", 1);
    cJSON_AddBoolToObject(cfg, "alibi", 0);
    cJSON_AddBoolToObject(cfg, "bias", tensor(c, "blk.0.attn_qkv.bias") != NULL);
    return 0;
}

static const gg_arch ARCHS[] = {
    {"llama", "model.layers.%d.", LLAMA_GLOBAL, LLAMA_BLOCK, 1, config_llama},
    {"qwen2", "model.layers.%d.", LLAMA_GLOBAL, LLAMA_BLOCK, 0, config_llama},
    {"gpt2", "h.%d.", GPT2_GLOBAL, GPT2_BLOCK, 0, config_gpt2},
    {"gptneox", "gpt_neox.layers.%d.", NEOX_GLOBAL, NEOX_BLOCK, 0, config_gptneox},
    {"falcon", "transformer.h.%d.", FALCON_GLOBAL, FALCON_BLOCK, 0, config_falcon},
};

/* ---- tensors ----------------------------------------------------------------------------------- */

/* The HF name of GGUF tensor `name` (and whether its layout is llama.cpp's), or the GGUF name itself when the
 * table has none (the architecture then reports it missing under the HF name it wanted). */
static void hf_name(const gg_arch *a, const gg_name *block, const char *name, char *out, size_t cap, int *layout) {
    *layout = 0;
    int blk, used = 0;
    const char *rest = name;
    if (sscanf(name, "blk.%d.%n", &blk, &used) == 1 && used > 0) rest = name + used;
    const gg_name *tab = used > 0 ? block : a->global;
    const char *dot = strrchr(rest, '.');
    size_t stem = dot ? (size_t)(dot - rest) : strlen(rest);
    for (const gg_name *e = tab; e->gguf; e++) {
        if (strlen(e->gguf) != stem || strncmp(rest, e->gguf, stem)) continue;
        char prefix[64] = "";
        if (used > 0) snprintf(prefix, sizeof prefix, a->layer_prefix, blk);
        snprintf(out, cap, "%s%s%s", prefix, e->hf, dot ? dot : "");
        *layout = e->layout && dot && !strcmp(dot, ".weight");
        return;
    }
    snprintf(out, cap, "%s", name);
}

/* LlamaModel.permute undone: within each of n_head heads of hd rows, HF row j·hd/2 + i is GGUF row 2i + j.
 * Whole rows (row_bytes each) are moved, so any dtype works; the copy is owned by the weights. */
static void *unpermute_rows(const lmc_gguf_tensor *t, int64_t n_head, size_t row_bytes) {
    int64_t rows = t->ndim == 2 ? t->ne[1] : t->ne[0], hd = rows / n_head;
    char *dst = lmc_xmalloc(t->nbytes ? t->nbytes : 1);
    const char *src = t->data;
    for (int64_t r = 0; r < rows; r++) {
        int64_t h = r / hd, j = (r % hd) / (hd / 2), i = (r % hd) % (hd / 2);
        memcpy(dst + (size_t)r * row_bytes, src + (size_t)(h * hd + 2 * i + j) * row_bytes, row_bytes);
    }
    return dst;
}

/* Adds GGUF tensor t to w under its HF name. */
static int add_tensor(gg_ctx *c, lmc_weights *w, const gg_name *block, const lmc_gguf_tensor *t) {
    char name[256];
    int layout;
    hf_name(c->a, block, t->name, name, sizeof name, &layout);
    lmc_dtype dt;
    if (lmc_dtype_from_ggml(t->type, &dt)) {
        lmc_weights_add_unsupported(w, name, lmc_ggml_type_name(t->type));
        return 0;
    }
    lmc_tensor v = {.name = name, .dtype = dt, .ndim = t->ndim, .numel = t->numel, .data = t->data,
                    .nbytes = t->nbytes, .gguf_layout = layout};
    for (int d = 0; d < t->ndim; d++) v.shape[d] = t->ne[t->ndim - 1 - d]; /* ggml order reversed */
    void *owned = NULL;
    int is_q = strstr(t->name, ".attn_q.") != NULL, is_k = strstr(t->name, ".attn_k.") != NULL;
    if (c->a->permute_qk && (is_q || is_k)) {
        int64_t n_head = is_q ? c->n_head : c->n_head_kv, rows = v.shape[0];
        if (t->ndim < 1 || t->ndim > 2 || n_head <= 0 || rows % n_head || (rows / n_head) % 2)
            return lmc_fail(c->err, "%s: tensor %s: %lld rows are not %lld heads of an even size", c->path, t->name,
                            (long long)rows, (long long)n_head);
        size_t row_bytes = t->ndim == 2 ? lmc_dtype_bytes(dt, t->ne[0]) : lmc_dtype_size(dt);
        if (!row_bytes)
            return lmc_fail(c->err, "%s: tensor %s: a quantized 1-D tensor cannot be re-ordered", c->path, t->name);
        owned = unpermute_rows(t, n_head, row_bytes);
        v.data = owned;
    }
    lmc_weights_add(w, &v, owned);
    return 0;
}

/* ---- open -------------------------------------------------------------------------------------- */

static void release_gguf(void *g) { lmc_gguf_close(g); }

/* Copies the GGUF's string-valued general.* keys into the metadata (what `lmc convert` keeps of them). */
static void copy_general(const lmc_gguf *g, lmc_weights *w) {
    for (size_t i = 0; i < lmc_gguf_kv_count(g); i++) {
        const lmc_gguf_kv *kv = lmc_gguf_kv_at(g, i);
        const char *s;
        size_t n;
        if (strncmp(kv->key, "general.", 8) || kv->type != LMC_GGUF_STRING || lmc_gguf_kv_str(kv, 0, &s, &n)) continue;
        char key[256], *val = lmc_xmalloc(n + 1);
        memcpy(val, s, n);
        val[n] = 0;
        if (strlen(val) == n) { /* no NUL inside: a C string */
            snprintf(key, sizeof key, "gguf.%s", kv->key);
            lmc_weights_set_meta(w, key, val);
        }
        free(val);
    }
}

int lmc_gguf_weights_open(const char *path, lmc_weights **out, lmc_err *err) {
    *out = NULL;
    lmc_gguf *g;
    if (lmc_gguf_open(path, &g, err)) return -1;
    const char *an;
    size_t an_len;
    if (lmc_gguf_get_str(g, "general.architecture", &an, &an_len, err)) { lmc_gguf_close(g); return -1; }
    const gg_arch *a = NULL;
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (strlen(ARCHS[i].name) == an_len && !memcmp(ARCHS[i].name, an, an_len)) a = &ARCHS[i];
    if (!a) {
        lmc_fail(err, "%s: GGUF architecture \"%.*s\" is not supported (supported: llama, qwen2, gpt2, gptneox, "
                 "falcon)", path, (int)(an_len > 64 ? 64 : an_len), an);
        lmc_gguf_close(g);
        return -1;
    }
    gg_ctx c = {g, a, path, err, 0, 0};
    if (lmc_gguf_find_tensor(g, "rope_freqs.weight")) {
        lmc_fail(err, "%s: GGUF tensor rope_freqs.weight (Llama 3 style RoPE frequency factors) is not supported",
                 path);
        lmc_gguf_close(g);
        return -1;
    }
    cJSON *cfg = cJSON_CreateObject();
    if (a->config(&c, cfg)) {
        cJSON_Delete(cfg);
        lmc_gguf_close(g);
        return -1;
    }
    char *cfg_text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    const gg_name *block = a->block;
    if (a->block == FALCON_BLOCK && lmc_gguf_find_tensor(g, "blk.0.attn_norm_2.weight")) block = FALCON40_BLOCK;

    lmc_weights *w = lmc_weights_new(path, g, release_gguf); /* from here on, closing w closes g */
    lmc_weights_set_meta(w, "lmc.config", cfg_text);
    lmc_weights_set_meta(w, "lmc.source_format", "gguf");
    free(cfg_text);
    copy_general(g, w);
    for (size_t i = 0; i < lmc_gguf_tensor_count(g); i++)
        if (add_tensor(&c, w, block, lmc_gguf_tensor_at(g, i))) {
            lmc_weights_close(w);
            return -1;
        }
    if (lmc_weights_finish(w, err)) return -1;
    *out = w;
    return 0;
}
