/* convert.c — `lmc convert`: a HF checkpoint directory, a llama2.c .bin, or an lmc file → one self-describing
 * .safetensors file (see convert.h for the output contract).
 *
 * Every source is reduced to the same two things: a list of lmc_st_entry (name, shape, pointer into an
 * mmapped source, source dtype) and a list of __metadata__ pairs. lmc_st_write then streams the data, converting
 * dtypes chunk by chunk, into a tmp file that is renamed into place only when complete.
 *
 * Sections: metadata lists · side files · tensors from an lmc_weights · HF directories · llama2.c · entry. */
#include "convert.h"

#include "model/safetensors.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- metadata lists -------------------------------------------------------------------------- */

/* Flat key/value list in the layout lmc_st_write takes: kv[2i] key, kv[2i+1] value, both owned. Keys are
 * unique: the first put of a key wins, so the converter's own keys (put first) override a source's. */
typedef struct kvlist {
    char **kv;
    size_t n, cap; /* pairs */
} kvlist;

static bool kv_has(const kvlist *l, const char *key) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->kv[2 * i], key) == 0) return true;
    return false;
}

/* Takes ownership of val. */
static void kv_put_owned(kvlist *l, const char *key, char *val) {
    if (kv_has(l, key)) { free(val); return; }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->kv = lmc_xrealloc(l->kv, 2 * l->cap * sizeof *l->kv);
    }
    l->kv[2 * l->n] = lmc_xstrdup(key);
    l->kv[2 * l->n + 1] = val;
    l->n++;
}

static void kv_put(kvlist *l, const char *key, const char *val) { kv_put_owned(l, key, lmc_xstrdup(val)); }

static void kv_free(kvlist *l) {
    for (size_t i = 0; i < 2 * l->n; i++) free(l->kv[i]);
    free(l->kv);
    memset(l, 0, sizeof *l);
}

/* The keys every output has. */
static void kv_put_common(kvlist *kv, const char *src) {
    kv_put(kv, "format", "pt");
    kv_put(kv, "lmc.format", "1");
    kv_put(kv, "lmc.source", src);
}

static void dir_of(const char *path, char *dir, size_t cap);

/* ---- side files ------------------------------------------------------------------------------ */

/* Reads path (or path.gz) as text. Metadata values are C strings, so an embedded NUL is an error. */
static int read_text(const char *path, char **out, lmc_err *err) {
    char found[4200];
    size_t len;
    if (lmc_read_file_or_gz(path, out, &len, found, sizeof found, err)) return -1;
    if (strlen(*out) != len) {
        free(*out);
        return lmc_fail(err, "%s: contains a NUL byte; not a text file", found);
    }
    return 0;
}

/* Puts dir/name (or dir/name.gz) under `key` when it exists. A file that exists but cannot be read is an
 * error: silently leaving a tokenizer out would only fail later, less clearly. */
static int put_optional_file(kvlist *kv, const char *key, const char *dir, const char *name, lmc_err *err) {
    char path[4096], gz[4200];
    lmc_path_join(path, sizeof path, dir, name);
    snprintf(gz, sizeof gz, "%s.gz", path);
    if (!lmc_file_exists(path) && !lmc_file_exists(gz)) return 0;
    char *text;
    if (read_text(path, &text, err)) return -1;
    kv_put_owned(kv, key, text);
    return 0;
}

/* ---- tensors from an lmc_weights ------------------------------------------------------------- */

/* write_weights' dtype for a GGUF source kept as it is: each tensor its own type, quantized ones as F32. */
#define LMC_CONVERT_KEEP_F32_FOR_QUANT (-2)

/* Writes every usable tensor of w, in file order, as `dtype` (or its own), with kv plus w's first-file
 * metadata (keys already in kv win) and an "lmc.dropped" note of the tensors lmc cannot use. */
static int write_weights(const lmc_weights *w, const char *src, const char *out, int dtype, kvlist *kv,
                         lmc_err *err) {
    size_t n = lmc_weights_count(w);
    if (n == 0) return lmc_fail(err, "%s: no tensors of a dtype lmc reads (F32, BF16, F16)", src);

    size_t nd = lmc_weights_unsupported_count(w);
    if (nd) {
        lmc_buf b = {0};
        for (size_t i = 0; i < nd; i++) {
            const char *dt, *name = lmc_weights_unsupported_at(w, i, &dt);
            lmc_buf_printf(&b, "%s%s (%s)", i ? ", " : "", name, dt);
        }
        kv_put_owned(kv, "lmc.dropped", b.p);
    }
    for (size_t i = 0; i < lmc_weights_meta_count(w); i++) {
        const char *val, *key = lmc_weights_meta_at(w, i, &val);
        kv_put(kv, key, val);
    }

    lmc_st_entry *e = lmc_xcalloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        const lmc_tensor *t = lmc_weights_at(w, i);
        e[i].name = t->name;
        if (dtype == LMC_CONVERT_KEEP_F32_FOR_QUANT) e[i].dtype = lmc_dtype_quantized(t->dtype) ? LMC_F32 : t->dtype;
        else e[i].dtype = dtype == LMC_CONVERT_KEEP_DTYPE ? t->dtype : (lmc_dtype)dtype;
        e[i].ndim = t->ndim;
        memcpy(e[i].shape, t->shape, sizeof t->shape);
        e[i].src = t->data;
        e[i].src_dtype = t->dtype;
    }
    int rc = lmc_st_write(out, e, n, (const char *const *)kv->kv, kv->n, err);
    free(e);
    return rc;
}

/* ---- HF directories -------------------------------------------------------------------------- */

static int convert_hf_dir(const char *dir, const char *out, int dtype, lmc_err *err) {
    char path[4096];
    lmc_path_join(path, sizeof path, dir, "config.json");
    char *config;
    if (read_text(path, &config, err)) return -1;
    cJSON *cj = cJSON_Parse(config);
    bool ok = cJSON_IsObject(cj);
    cJSON_Delete(cj);
    if (!ok) { free(config); return lmc_fail(err, "%s: not a valid JSON object", path); }

    kvlist kv = {0};
    kv_put_common(&kv, dir);
    kv_put_owned(&kv, "lmc.config", config);
    lmc_weights *w = NULL;
    int rc = put_optional_file(&kv, "lmc.tokenizer", dir, "tokenizer.json", err);
    if (!rc) rc = put_optional_file(&kv, "lmc.tokenizer_config", dir, "tokenizer_config.json", err);
    if (!rc) rc = put_optional_file(&kv, "lmc.tiktoken", dir, "qwen.tiktoken", err);
    if (!rc) rc = lmc_weights_open(dir, &w, err);
    if (!rc) rc = write_weights(w, dir, out, dtype, &kv, err);
    lmc_weights_close(w);
    kv_free(&kv);
    return rc;
}

/* A file lmc convert wrote: its metadata already says everything; only the dtype (and lmc.source) change. */
static int convert_lmc_file(const char *file, const char *out, int dtype, lmc_err *err) {
    lmc_weights *w;
    if (lmc_weights_open(file, &w, err)) return -1;
    int rc;
    if (!lmc_weights_meta(w, "lmc.format") || !lmc_weights_meta(w, "lmc.config")) {
        rc = lmc_fail(err, "%s: not a file written by lmc convert; pass the HF checkpoint directory (with "
                      "config.json) instead", file);
    } else {
        kvlist kv = {0};
        kv_put_common(&kv, file);
        rc = write_weights(w, file, out, dtype, &kv, err);
        kv_free(&kv);
    }
    lmc_weights_close(w);
    return rc;
}

/* ---- GGUF ------------------------------------------------------------------------------------ */

/* A tokenizer given with --tokenizer for a source that has none lmc reads (a GGUF): a HF directory or a
 * tokenizer.json (stored as lmc.tokenizer, with tokenizer_config.json beside it when present), or a llama2.c
 * tokenizer.bin (lmc.tokenizer_llama2c). */
static int put_tokenizer_arg(kvlist *kv, const char *tok, lmc_err *err) {
    char dir[4096];
    size_t n = strlen(tok);
    if (lmc_is_dir(tok)) {
        if (put_optional_file(kv, "lmc.tokenizer", tok, "tokenizer.json", err) ||
            put_optional_file(kv, "lmc.tokenizer_config", tok, "tokenizer_config.json", err) ||
            put_optional_file(kv, "lmc.tiktoken", tok, "qwen.tiktoken", err))
            return -1;
        if (!kv_has(kv, "lmc.tokenizer") && !kv_has(kv, "lmc.tiktoken"))
            return lmc_fail(err, "%s: no tokenizer.json or qwen.tiktoken in this directory", tok);
        return 0;
    }
    if (n > 5 && (!strcmp(tok + n - 5, ".json") || (n > 8 && !strcmp(tok + n - 8, ".json.gz")))) {
        char *text;
        if (read_text(tok, &text, err)) return -1;
        kv_put_owned(kv, "lmc.tokenizer", text);
        dir_of(tok, dir, sizeof dir);
        return put_optional_file(kv, "lmc.tokenizer_config", dir, "tokenizer_config.json", err);
    }
    char *bin;
    size_t len;
    if (lmc_read_file(tok, &bin, &len, err)) return -1;
    kv_put_owned(kv, "lmc.tokenizer_llama2c", lmc_base64_encode(bin, len));
    free(bin);
    return 0;
}

/* A GGUF file: lmc_weights_open presents it under HF names with a synthesized config (src/model/gguf_weights.c).
 * Quantized tensors are written dequantized (ggml's values, exactly: F32 by default, or rounded to --dtype);
 * f32/f16/bf16 keep their type unless --dtype says otherwise. */
static int convert_gguf(const char *file, const char *out, int dtype, const char *tok, lmc_err *err) {
    lmc_weights *w;
    if (lmc_weights_open(file, &w, err)) return -1;
    kvlist kv = {0};
    kv_put_common(&kv, file);
    int rc = tok ? put_tokenizer_arg(&kv, tok, err) : 0;
    lmc_buf layout = {0}; /* tensors left in llama.cpp's layout, which the loader must know (safetensors.c) */
    for (size_t i = 0; i < lmc_weights_count(w); i++)
        if (lmc_weights_at(w, i)->gguf_layout)
            lmc_buf_printf(&layout, "%s%s", layout.len ? "," : "", lmc_weights_at(w, i)->name);
    if (layout.len) kv_put_owned(&kv, "lmc.gguf_layout", layout.p);
    else lmc_buf_free(&layout);
    if (!rc) {
        /* write_weights takes one dtype for all or each tensor's own; quantized ones have no safetensors dtype */
        size_t n = lmc_weights_count(w);
        int quant = 0;
        for (size_t i = 0; i < n; i++) quant |= lmc_dtype_quantized(lmc_weights_at(w, i)->dtype);
        rc = write_weights(w, file, out, dtype == LMC_CONVERT_KEEP_DTYPE && quant ? LMC_CONVERT_KEEP_F32_FOR_QUANT
                                                                                  : dtype, &kv, err);
    }
    kv_free(&kv);
    lmc_weights_close(w);
    return rc;
}

/* ---- llama2.c -------------------------------------------------------------------------------- */

/* The "version 0" header of llama2.c's export (7 little-endian int32). vocab_size < 0 means the classifier is
 * stored separately after the weights; > 0 that it is the token embedding. */
typedef struct l2c_config {
    int  dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    bool shared;
} l2c_config;

/* Implausibility bounds: keep every size product below 2^62 and catch files that are not llama2.c at all. */
#define L2C_MAX_DIM    (1 << 16)
#define L2C_MAX_HIDDEN (1 << 18)
#define L2C_MAX_LAYERS (1 << 10)
#define L2C_MAX_VOCAB  (1 << 22)
#define L2C_MAX_SEQ    (1 << 22)

static int l2c_parse_header(const char *path, const uint8_t *map, size_t size, l2c_config *c, lmc_err *err) {
    if (size >= 4 && memcmp(map, "PK\3\4", 4) == 0)
        return lmc_fail(err, "%s: a PyTorch (zip) checkpoint, not a llama2.c .bin; not supported", path);
    if (size < 28) return lmc_fail(err, "%s: %zu bytes, too short for a llama2.c header (28 bytes)", path, size);
    int32_t h[7];
    memcpy(h, map, sizeof h);
    if ((uint32_t)h[0] == 0x616b3432u) /* "ak42": llama2.c export.py version ≥ 1 */
        return lmc_fail(err, "%s: llama2.c export version %d (magic ak42) is not supported: lmc reads the legacy "
                        "version-0 .bin (export.py --version 0)", path, h[1]);
    /* |vocab_size|; INT32_MIN has none in int32 (refused below, as 0 is) */
    int32_t vocab = h[5] == INT32_MIN ? 0 : h[5] < 0 ? -h[5] : h[5];
    *c = (l2c_config){h[0], h[1], h[2], h[3], h[4], vocab, h[6], h[5] > 0};
    if (c->dim <= 0 || c->dim > L2C_MAX_DIM || c->hidden_dim <= 0 || c->hidden_dim > L2C_MAX_HIDDEN ||
        c->n_layers <= 0 || c->n_layers > L2C_MAX_LAYERS || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        h[5] == 0 || h[5] == INT32_MIN || c->vocab_size > L2C_MAX_VOCAB || c->seq_len <= 0 ||
        c->seq_len > L2C_MAX_SEQ)
        return lmc_fail(err, "%s: implausible llama2.c header (dim=%d hidden_dim=%d n_layers=%d n_heads=%d "
                        "n_kv_heads=%d vocab_size=%d seq_len=%d): not a llama2.c checkpoint?", path, h[0], h[1],
                        h[2], h[3], h[4], h[5], h[6]);
    if (c->dim % c->n_heads || c->n_heads % c->n_kv_heads || (c->dim / c->n_heads) % 2)
        return lmc_fail(err, "%s: llama2.c header: dim=%d, n_heads=%d, n_kv_heads=%d do not give an even head "
                        "size shared by whole KV groups", path, c->dim, c->n_heads, c->n_kv_heads);
    return 0;
}

/* Bytes a version-0 file with config c must have: header, weights, the two unused RoPE tables, and the
 * classifier when it is not shared. Bounded above by the L2C_MAX_* limits: no overflow. */
static uint64_t l2c_expected_size(const l2c_config *c) {
    uint64_t D = (uint64_t)c->dim, H = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers;
    uint64_t V = (uint64_t)c->vocab_size, head = D / (uint64_t)c->n_heads, KV = head * (uint64_t)c->n_kv_heads;
    uint64_t floats = V * D                         /* token_embedding */
                      + L * D                       /* rms_att */
                      + L * D * D + 2 * L * KV * D  /* wq, wk, wv */
                      + L * D * D                   /* wo */
                      + L * D                       /* rms_ffn */
                      + 3 * L * H * D               /* w1, w2, w3 */
                      + D                           /* rms_final */
                      + (uint64_t)c->seq_len * head /* freq_cis_real + freq_cis_imag, seq_len × head/2 each */
                      + (c->shared ? 0 : V * D);    /* wcls */
    return 28 + 4 * floats;
}

static bool is_tok_bin(const char *name) {
    size_t n = strlen(name);
    return n >= 7 && strncmp(name, "tok", 3) == 0 && strcmp(name + n - 4, ".bin") == 0;
}

/* The directory part of path ("." when it has none). */
static void dir_of(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, cap, ".");
    else if (slash == path) snprintf(dir, cap, "/");
    else snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

/* The one tok*.bin beside bin (tokenizer.bin, tok512.bin, ...), other than bin itself. */
static int l2c_find_tokenizer(const char *bin, char *out, size_t cap, lmc_err *err) {
    char dir[4096];
    dir_of(bin, dir, sizeof dir);
    const char *base = strrchr(bin, '/');
    base = base ? base + 1 : bin;
    DIR *d = opendir(dir);
    if (!d) return lmc_fail(err, "%s: cannot list its directory to find tokenizer.bin: %s", bin, strerror(errno));
    char found[3][256];
    int n = 0;
    char path[4096];
    for (struct dirent *de; (de = readdir(d));) {
        if (!is_tok_bin(de->d_name) || strcmp(de->d_name, base) == 0) continue;
        if (!lmc_file_exists(lmc_path_join(path, sizeof path, dir, de->d_name))) continue;
        if (n < 3) snprintf(found[n], sizeof found[n], "%s", de->d_name);
        n++;
    }
    closedir(d);
    if (n == 0)
        return lmc_fail(err, "%s: no llama2.c tokenizer (tokenizer.bin or tok*.bin) beside it; pass one with "
                        "--tokenizer", bin);
    if (n > 1)
        return lmc_fail(err, "%s: %d candidate tokenizers beside it (%s, %s%s); choose one with --tokenizer", bin,
                        n, found[0], found[1], n > 2 ? ", ..." : "");
    lmc_path_join(out, cap, dir, found[0]);
    return 0;
}

/* llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes. It must
 * hold exactly the model's vocab_size tokens: a tokenizer for another model is caught here, not at eval. */
static int l2c_check_tokenizer(const char *path, const uint8_t *d, size_t n, int vocab, lmc_err *err) {
    if (n < 4) return lmc_fail(err, "%s: %zu bytes, too short for a llama2.c tokenizer", path, n);
    size_t off = 4;
    for (int i = 0; i < vocab; i++) {
        int32_t len = 0;
        if (n - off >= 8) memcpy(&len, d + off + 4, 4);
        if (len < 0)
            return lmc_fail(err, "%s: token %d has negative length %d: not a llama2.c tokenizer", path, i, len);
        if (n - off < 8 || n - off - 8 < (size_t)len)
            return lmc_fail(err, "%s: truncated llama2.c tokenizer: ends at token %d of the model's %d", path, i,
                            vocab);
        off += 8 + (size_t)len;
    }
    if (off != n)
        return lmc_fail(err, "%s: %zu bytes left after the model's %d tokens: a tokenizer for another model?", path,
                        n - off, vocab);
    return 0;
}

/* Synthesized HF config for a llama2.c model. The weights keep Meta's q/k layout, so the engine must use
 * interleaved-pair RoPE: lmc_rope_interleaved says so. */
static char *l2c_config_json(const l2c_config *c) {
    lmc_buf b = {0};
    lmc_buf_printf(&b,
                   "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
                   "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
                   "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n"
                   "  \"max_position_embeddings\": %d,\n",
                   c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len);
    lmc_buf_printf(&b,
                   "  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 10000.0,\n  \"hidden_act\": \"silu\",\n"
                   "  \"tie_word_embeddings\": %s,\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n"
                   "  \"torch_dtype\": \"float32\",\n  \"lmc_rope_interleaved\": true,\n"
                   "  \"lmc_source_format\": \"llama2c\"\n}\n",
                   c->shared ? "true" : "false");
    return b.p;
}

/* Tensor list under construction; names owned. */
typedef struct l2c_list {
    lmc_st_entry *e;
    char        **names;
    size_t        n, cap;
} l2c_list;

static void l2c_add(l2c_list *l, const char *name, int64_t rows, int64_t cols, const float *src, int dtype) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->e = lmc_xrealloc(l->e, l->cap * sizeof *l->e);
        l->names = lmc_xrealloc(l->names, l->cap * sizeof *l->names);
    }
    l->names[l->n] = lmc_xstrdup(name);
    lmc_st_entry *e = &l->e[l->n++];
    memset(e, 0, sizeof *e);
    e->name = l->names[l->n - 1];
    e->dtype = dtype == LMC_CONVERT_KEEP_DTYPE ? LMC_F32 : (lmc_dtype)dtype;
    e->ndim = cols ? 2 : 1;
    e->shape[0] = rows;
    e->shape[1] = cols;
    e->src = src;
    e->src_dtype = LMC_F32;
}

/* Walks the version-0 weight arrays in file order and lists them under HF Llama names. llama2.c stores every
 * matrix as (out, in), the nn.Linear layout HF uses, so no transposition is needed. */
static void l2c_tensors(const l2c_config *c, const float *p, int dtype, l2c_list *l) {
    int64_t D = c->dim, H = c->hidden_dim, L = c->n_layers, V = c->vocab_size;
    int64_t head = D / c->n_heads, KV = head * c->n_kv_heads;
    const float *emb = p;      p += V * D;
    const float *rms_att = p;  p += L * D;
    const float *wq = p;       p += L * D * D;
    const float *wk = p;       p += L * KV * D;
    const float *wv = p;       p += L * KV * D;
    const float *wo = p;       p += L * D * D;
    const float *rms_ffn = p;  p += L * D;
    const float *w1 = p;       p += L * H * D;
    const float *w2 = p;       p += L * D * H;
    const float *w3 = p;       p += L * H * D;
    const float *rms_fin = p;  p += D;
    p += c->seq_len * head; /* freq_cis_real, freq_cis_imag: recomputed by the engine */
    const float *wcls = p;

    char name[128];
    l2c_add(l, "model.embed_tokens.weight", V, D, emb, dtype);
    for (int64_t i = 0; i < L; i++) {
#define NAME(suffix) (snprintf(name, sizeof name, "model.layers.%lld." suffix, (long long)i), name)
        l2c_add(l, NAME("input_layernorm.weight"), D, 0, rms_att + i * D, dtype);
        l2c_add(l, NAME("self_attn.q_proj.weight"), D, D, wq + i * D * D, dtype);
        l2c_add(l, NAME("self_attn.k_proj.weight"), KV, D, wk + i * KV * D, dtype);
        l2c_add(l, NAME("self_attn.v_proj.weight"), KV, D, wv + i * KV * D, dtype);
        l2c_add(l, NAME("self_attn.o_proj.weight"), D, D, wo + i * D * D, dtype);
        l2c_add(l, NAME("post_attention_layernorm.weight"), D, 0, rms_ffn + i * D, dtype);
        l2c_add(l, NAME("mlp.gate_proj.weight"), H, D, w1 + i * H * D, dtype);
        l2c_add(l, NAME("mlp.down_proj.weight"), D, H, w2 + i * D * H, dtype);
        l2c_add(l, NAME("mlp.up_proj.weight"), H, D, w3 + i * H * D, dtype);
#undef NAME
    }
    l2c_add(l, "model.norm.weight", D, 0, rms_fin, dtype);
    if (!c->shared) l2c_add(l, "lm_head.weight", V, D, wcls, dtype);
}

static int convert_llama2c(const char *bin, const char *tok_arg, const char *out, int dtype, lmc_err *err) {
    lmc_map file;
    if (lmc_map_file(bin, &file, err)) return -1;
    const uint8_t *map = file.data;
    size_t size = file.size;
    l2c_config c = {0};
    char tok_path[4096];
    char *tok = NULL;
    size_t tok_len = 0;
    kvlist kv = {0};
    l2c_list l = {0};
    int rc = l2c_parse_header(bin, map, size, &c, err);
    if (!rc) {
        uint64_t want = l2c_expected_size(&c);
        if ((uint64_t)size != want)
            rc = lmc_fail(err, "%s: %zu bytes, but a llama2.c version-0 checkpoint with dim=%d hidden_dim=%d "
                          "n_layers=%d n_heads=%d n_kv_heads=%d vocab_size=%d (%s classifier) seq_len=%d has %llu: %s",
                          bin, size, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size,
                          c.shared ? "shared" : "separate", c.seq_len, (unsigned long long)want,
                          (uint64_t)size < want ? "truncated" : "trailing bytes (another format version?)");
    }
    if (!rc) {
        if (tok_arg) snprintf(tok_path, sizeof tok_path, "%s", tok_arg);
        else rc = l2c_find_tokenizer(bin, tok_path, sizeof tok_path, err);
    }
    if (!rc) rc = lmc_read_file(tok_path, &tok, &tok_len, err);
    if (!rc) rc = l2c_check_tokenizer(tok_path, (const uint8_t *)tok, tok_len, c.vocab_size, err);
    if (!rc) {
        kv_put_common(&kv, bin);
        kv_put_owned(&kv, "lmc.config", l2c_config_json(&c));
        kv_put_owned(&kv, "lmc.tokenizer_llama2c", lmc_base64_encode(tok, tok_len));
        l2c_tensors(&c, (const float *)(map + 28), dtype, &l); /* 28: 4-byte aligned in a page-aligned map */
        rc = lmc_st_write(out, l.e, l.n, (const char *const *)kv.kv, kv.n, err);
    }
    for (size_t i = 0; i < l.n; i++) free(l.names[i]);
    free(l.names);
    free(l.e);
    kv_free(&kv);
    free(tok);
    lmc_unmap(&file);
    return rc;
}

/* A directory without config.json may hold a llama2.c model: exactly one .bin that is not a tokenizer. */
static int l2c_find_model_in_dir(const char *dir, char *out, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    char path[4096];
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".bin") != 0 || is_tok_bin(de->d_name)) continue;
        if (!lmc_file_exists(lmc_path_join(path, sizeof path, dir, de->d_name))) continue;
        if (n++ == 0) snprintf(out, cap, "%s", path);
    }
    closedir(d);
    return n == 1 ? 0 : -1;
}

/* ---- entry ----------------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int lmc_convert_check_output(const char *out_path, lmc_err *err) {
    if (!out_path || !*out_path) return lmc_fail(err, "convert: no output path given (-o OUT.safetensors)");
    if (ends_with(out_path, ".safetensors")) return 0;
    if (ends_with(out_path, ".gguf"))
        return lmc_fail(err, "%s: lmc convert writes safetensors only (-o OUT.safetensors); for a GGUF file use "
                             "tools/hf_to_gguf.py", out_path);
    return lmc_fail(err, "%s: lmc convert writes a safetensors file: name it OUT.safetensors", out_path);
}

int lmc_convert(const char *src, const char *out_path, int dtype, const char *llama2c_tokenizer, lmc_err *err) {
    if (!src || !*src) return lmc_fail(err, "convert: no source given");
    if (lmc_convert_check_output(out_path, err)) return -1;
    if (dtype != LMC_CONVERT_KEEP_DTYPE && dtype != LMC_F32 && dtype != LMC_BF16 && dtype != LMC_F16)
        return lmc_fail(err, "convert: unknown dtype %d (f32, bf16 or f16)", dtype);
    if (lmc_is_dir(src)) {
        char path[4096];
        if (lmc_file_exists(lmc_path_join(path, sizeof path, src, "config.json")))
            return convert_hf_dir(src, out_path, dtype, err);
        if (l2c_find_model_in_dir(src, path, sizeof path) == 0)
            return convert_llama2c(path, llama2c_tokenizer, out_path, dtype, err);
        return lmc_fail(err, "%s: no config.json (HF checkpoint) and no single llama2.c .bin to convert", src);
    }
    if (!lmc_file_exists(src)) return lmc_fail(err, "%s: no such file or directory", src);
    if (ends_with(src, ".safetensors")) return convert_lmc_file(src, out_path, dtype, err);
    if (ends_with(src, ".gguf")) return convert_gguf(src, out_path, dtype, llama2c_tokenizer, err);
    if (ends_with(src, ".json"))
        return lmc_fail(err, "%s: pass the checkpoint directory, not one of its files", src);
    return convert_llama2c(src, llama2c_tokenizer, out_path, dtype, err);
}
