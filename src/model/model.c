/* model.c — opens a model: a HF checkpoint directory or a file written by `lmc convert`.
 *
 * The config comes from config.json (directory) or the converted file's "lmc.config" metadata; the
 * architecture is chosen by `architectures[0]`; an unknown one is an error that names it. */
#include "model/model.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_config(const char *path, lmc_weights *w, cJSON **out, lmc_err *err) {
    char cfgpath[4200];
    char *text = NULL;
    size_t len = 0;
    const char *origin = cfgpath;
    if (lmc_is_dir(path)) {
        lmc_path_join(cfgpath, sizeof cfgpath, path, "config.json");
        if (lmc_read_file(cfgpath, &text, &len, err)) return -1;
    } else {
        const char *meta = lmc_weights_meta(w, "lmc.config");
        snprintf(cfgpath, sizeof cfgpath, "%s (lmc.config metadata)", path);
        if (!meta)
            return lmc_fail(err, "%s: no \"lmc.config\" in __metadata__: not a file written by `lmc convert` (pass the "
                                 "HF checkpoint directory, or convert it first)", path);
        text = lmc_xstrdup(meta);
        len = strlen(text);
    }
    cJSON *cfg = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cfg || !cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return lmc_fail(err, "%s: malformed JSON", origin);
    }
    *out = cfg;
    return 0;
}

static const lmc_arch *find_arch(const cJSON *cfg, const char *path, lmc_err *err) {
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const cJSON *a0 = cJSON_IsArray(archs) ? cJSON_GetArrayItem(archs, 0) : NULL;
    if (!cJSON_IsString(a0)) {
        lmc_fail(err, "%s: config.json has no \"architectures\" list naming the model class", path);
        return NULL;
    }
    for (int i = 0; lmc_archs[i]; i++)
        if (!strcmp(lmc_archs[i]->name, a0->valuestring)) return lmc_archs[i];
    lmc_buf names = {0};
    for (int i = 0; lmc_archs[i]; i++) lmc_buf_printf(&names, "%s%s", i ? ", " : "", lmc_archs[i]->name);
    lmc_fail(err, "%s: architecture \"%s\" is not supported (supported: %s)", path, a0->valuestring, names.p);
    lmc_buf_free(&names);
    return NULL;
}

/* "F32", "BF16", "F16" or "mixed"; a model with quantized matrices (GGUF) is named by the quantized type that
 * holds the most weights, "Q4_K mixed" when other quantized types hold some (its f32 norms are not counted). */
static void weights_dtype(const lmc_weights *w, char out[16]) {
    int seen[LMC_N_DTYPES] = {0};
    int64_t quant[LMC_N_DTYPES] = {0};
    for (size_t i = 0; i < lmc_weights_count(w); i++) {
        const lmc_tensor *t = lmc_weights_at(w, i);
        if ((unsigned)t->dtype >= LMC_N_DTYPES) continue;
        seen[t->dtype] = 1;
        if (lmc_dtype_quantized(t->dtype)) quant[t->dtype] += t->numel;
    }
    int top = -1, kinds = 0;
    for (int d = 0; d < LMC_N_DTYPES; d++)
        if (quant[d]) { kinds++; if (top < 0 || quant[d] > quant[top]) top = d; }
    if (top >= 0) { snprintf(out, 16, "%s%s", lmc_dtype_name(top), kinds > 1 ? " mixed" : ""); return; }
    int n = seen[0] + seen[1] + seen[2];
    snprintf(out, 16, "%s", n != 1 ? "mixed" : seen[LMC_BF16] ? "BF16" : seen[LMC_F16] ? "F16" : "F32");
}

/* Bytes of the Q8_0 copies int8 compute makes of the F32/F16/BF16 weights (34 per 32 elements). */
static size_t q8_copy_bytes(const lmc_weights *w) {
    size_t b = 0;
    for (size_t i = 0; i < lmc_weights_count(w); i++) {
        const lmc_tensor *t = lmc_weights_at(w, i);
        if (!lmc_dtype_quantized(t->dtype)) b += (size_t)t->numel / 32 * 34;
    }
    return b;
}

/* Bytes of a bf16 packed copy of every weight (2 per element, whatever the file's dtype). */
static size_t packed_bytes(const lmc_weights *w) {
    size_t b = 0;
    for (size_t i = 0; i < lmc_weights_count(w); i++) b += 2 * (size_t)lmc_weights_at(w, i)->numel;
    return b;
}

int lmc_model_open(const char *path, const lmc_model_opts *opts, lmc_model **out, lmc_err *err) {
    lmc_model *m = lmc_xcalloc(1, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    if (opts) m->opts = *opts;
    if (m->opts.threads > 0) lmc_threads_init(m->opts.threads); /* lmc_model_opts.threads (lmc.h) */
    if (lmc_weights_open(path, &m->w, err)) goto fail;
    if (read_config(path, m->w, &m->config, err)) goto fail;
    if (!(m->arch = find_arch(m->config, path, err))) goto fail;
    weights_dtype(m->w, m->dtype);
    /* Refuse before touching the weights when they cannot fit: mmapped pages must become resident. Under bf16
     * compute a packed copy of every matrix (the size of the weights' bf16 form) is kept when weights + copy
     * take at most half of the available memory; otherwise (e.g. a 7B model on 24 GB) each matrix is packed
     * per call instead (LMC_LINEAR_BF16_STREAMED) and only lm_head stays packed. A quantized (GGUF) model's
     * packed copy is larger than its file (bf16: 2 bytes per weight), which the same rule accounts for. */
    size_t weights = lmc_weights_total_bytes(m->w), need = weights;
    size_t avail = m->opts.memory_limit ? m->opts.memory_limit : lmc_memory_available();
    size_t packed = packed_bytes(m->w);
    size_t pack_limit = m->opts.bf16_pack_limit ? m->opts.bf16_pack_limit : avail ? avail / 2 : (size_t)1 << 30;
    int bf16 = m->opts.compute == LMC_COMPUTE_BF16, stream = bf16 && weights + packed > pack_limit;
    int int8 = m->opts.compute == LMC_COMPUTE_INT8;
    lmc_arch_ctx ctx = {m->config, path, m->w,
                        arch_compute_plan(int8 ? LMC_LINEAR_INT8 : !bf16 ? LMC_LINEAR_F32
                                                 : stream        ? LMC_LINEAR_BF16_STREAMED
                                                                 : LMC_LINEAR_BF16_PACKED)};
    if (int8) ctx.plan.int8_requant = (lmc_dtype)m->opts.int8_weights;
    if (bf16 && !stream) need += packed;
    if (int8) need += q8_copy_bytes(m->w); /* an upper bound: norms and embeddings are not copied */
    if (avail && need > avail) {
        lmc_fail(err, "%s: model needs %.2f GB (weights%s) but only %.2f GB of memory + swap is available", path,
                 need / 1e9, need > weights ? (int8 ? " + Q8_0 copy" : " + packed bf16 copy") : "", avail / 1e9);
        goto fail;
    }
    if (arch_open(m->arch, &ctx, &m->state, err)) goto fail;
    arch_base *b = m->state;
    m->info = b->info;
    if (stream && lmc_linear_prepack(&b->lm_head, err)) goto fail;
    *out = m;
    return 0;
fail:
    lmc_model_close(m);
    return -1;
}

int lmc_model_plan(const char *config_json, void **plan, lmc_err *err) {
    cJSON *cfg = cJSON_Parse(config_json);
    const lmc_arch *a;
    int rc = -1;
    if (!cfg || !cJSON_IsObject(cfg)) lmc_fail(err, "config: malformed JSON");
    else if ((a = find_arch(cfg, "config", err))) {
        lmc_arch_ctx ctx = {cfg, "config", NULL, arch_compute_plan(LMC_LINEAR_F32)};
        rc = arch_plan(a, &ctx, plan, err);
    }
    cJSON_Delete(cfg); /* the plan keeps no pointer into it: names are copied into the list */
    return rc;
}

void lmc_model_close(lmc_model *m) {
    if (!m) return;
    if (m->state) arch_close(m->state);
    cJSON_Delete(m->config);
    if (m->w) lmc_weights_close(m->w);
    free(m);
}

void lmc_model_memory(const lmc_model *m, size_t *mapped, size_t *resident) {
    const arch_base *b = m->state;
    size_t own = lmc_weights_owned_bytes(m->w);
    *mapped = lmc_weights_total_bytes(m->w) - own;
    for (size_t i = 0; i < b->tensors.n; i++) {
        const arch_tensor *e = &b->tensors.v[i];
        switch (e->kind) {
        case ARCH_VEC: own += sizeof(float) * (size_t)e->rows; break;
        case ARCH_ROUTER: own += sizeof(float) * (size_t)e->rows * (size_t)e->cols; break;
        case ARCH_LINEAR:
        case ARCH_CONV1D:
        case ARCH_QKV: own += lmc_linear_resident_bytes(e->dst); break;
        case ARCH_EMBED_HEAD: own += lmc_linear_resident_bytes(&b->lm_head); break;
        case ARCH_MATRIX: break;
        }
    }
    *resident = own;
}

size_t lmc_model_working_bytes(const lmc_model *m, int T) {
    return arch_scratch_bytes(m->arch, m->state, T) + (size_t)T * m->info.dim * sizeof(float);
}

int lmc_model_check_window(const lmc_model *m, int T, lmc_err *err) {
    const lmc_model_info *i = &m->info;
    if (i->max_window > 0 && T > i->max_window)
        return lmc_fail(err, "%s: a window of %d tokens exceeds %s; use --block-size %d or less", m->path, T,
                        i->max_window_why, i->max_window);
    return 0;
}

int lmc_model_hidden(lmc_model *m, const int32_t *tokens, int T, float *hidden, lmc_err *err) {
    if (lmc_model_check_window(m, T, err)) return -1;
    return arch_forward(m->arch, m->state, tokens, T, hidden, err);
}

/* The context a config says the model was trained with: the first of the keys families use for it, 0 if none. */
static int trained_context(const cJSON *cfg) {
    static const char *keys[] = {"max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"};
    for (size_t i = 0; cfg && i < sizeof keys / sizeof *keys; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, keys[i]);
        if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 1e9) return (int)v->valuedouble;
    }
    return 0;
}

void lmc_model_describe(const lmc_model *m, lmc_model_desc *d) {
    memset(d, 0, sizeof *d);
    d->path = m->path;
    d->architecture = m->arch->name;
    d->n_params = m->info.n_params;
    d->weights_dtype = m->dtype;
    d->compute = m->opts.compute;
    d->dim = m->info.dim;
    d->vocab = m->info.vocab;
    d->max_window = m->info.max_window;
    d->trained_context = trained_context(m->config);
    const cJSON *nop = cJSON_GetObjectItemCaseSensitive(m->config, "_name_or_path");
    d->name_or_path = cJSON_IsString(nop) && *nop->valuestring ? nop->valuestring : NULL;
    lmc_model_memory(m, &d->mapped_bytes, &d->resident_bytes);
    d->kernels = ((const arch_base *)m->state)->plan.kernels;
}

int lmc_model_logits(lmc_model *m, const int32_t *tokens, int T, float *logits, lmc_err *err) {
    float *hidden = malloc(sizeof(float) * (size_t)T * m->info.dim);
    if (!hidden) return lmc_fail(err, "out of memory for the hidden states of %d tokens", T);
    int rc = lmc_model_hidden(m, tokens, T, hidden, err);
    if (rc == 0) lmc_linear_apply(m->info.lm_head, hidden, logits, T);
    free(hidden);
    return rc;
}

/* ---- incremental decoding ------------------------------------------------------------------------ */

struct lmc_kv {
    const lmc_model *m;      /* the model the cache was made for (steps with another are refused) */
    arch_kv          c;      /* the per-layer keys and values */
    float           *hidden; /* (hidden_rows, info.dim) a step's final hidden states */
    int              hidden_rows;
};

size_t lmc_kv_bytes_per_token(const lmc_model *m) {
    if (!m->arch->kv_shape) return 0;
    int n_layers, kw, vw;
    m->arch->kv_shape(m->state, &n_layers, &kw, &vw);
    return (size_t)n_layers * ((size_t)kw + vw) * sizeof(float);
}

int lmc_kv_open(lmc_model *m, int max_tokens, lmc_kv **out, lmc_err *err) {
    *out = NULL;
    if (!m->arch->kv_shape)
        return lmc_fail(err, "%s: incremental decoding (KV cache) is not supported yet for %s", m->path, m->arch->name);
    /* Under bf16 compute a step's linears run the same bf16 kernels as a prefill (they take any number of rows);
     * the cache and the step's attention stay f32 (attention_prefix), so a step differs from a bf16 prefill by the
     * bf16 rounding of q, k and v that the prefill's attention applies on an AVX512_BF16 CPU (tests/test_step.c
     * states the bound). */
    if (max_tokens < 1) return lmc_fail(err, "%s: a KV cache needs room for at least 1 token, not %d", m->path, max_tokens);
    if (m->info.max_window > 0 && max_tokens > m->info.max_window)
        return lmc_fail(err, "%s: a sequence of %d tokens exceeds %s (at most %d tokens)", m->path, max_tokens,
                        m->info.max_window_why, m->info.max_window);
    size_t per = lmc_kv_bytes_per_token(m), need = per * (size_t)max_tokens + lmc_model_working_bytes(m, 1);
    size_t avail = lmc_memory_available(), weights = lmc_weights_total_bytes(m->w);
    if (m->opts.memory_limit) avail = m->opts.memory_limit > weights ? m->opts.memory_limit - weights : 1;
    if (avail && need > avail)
        return lmc_fail(err, "%s: a KV cache of %d tokens needs %.2f GB (%zu bytes per token) but only %.2f GB of "
                             "memory + swap is available", m->path, max_tokens, need / 1e9, per, avail / 1e9);
    lmc_kv *kv = calloc(1, sizeof *kv);
    if (!kv) return lmc_fail(err, "out of memory for a KV cache");
    kv->m = m;
    arch_kv *c = &kv->c;
    m->arch->kv_shape(m->state, &c->n_layers, &c->k_width, &c->v_width);
    c->cap = max_tokens;
    c->k = malloc(sizeof(float) * (size_t)c->n_layers * c->cap * c->k_width);
    c->v = malloc(sizeof(float) * (size_t)c->n_layers * c->cap * c->v_width);
    if (!c->k || !c->v) {
        lmc_kv_free(kv);
        return lmc_fail(err, "%s: out of memory for a KV cache of %d tokens (%.2f GB)", m->path, max_tokens,
                        per * (double)max_tokens / 1e9);
    }
    *out = kv;
    return 0;
}

void lmc_kv_free(lmc_kv *kv) {
    if (!kv) return;
    free(kv->c.k);
    free(kv->c.v);
    free(kv->hidden);
    free(kv);
}

int  lmc_kv_pos(const lmc_kv *kv) { return kv->c.pos; }
int  lmc_kv_cap(const lmc_kv *kv) { return kv->c.cap; }
void lmc_kv_reset(lmc_kv *kv) { kv->c.pos = 0; }

int lmc_model_step(lmc_model *m, lmc_kv *kv, const int32_t *tokens, int n, float *logits, lmc_err *err) {
    if (kv->m != m) return lmc_fail(err, "%s: the KV cache belongs to another model", m->path);
    if (n < 1) return lmc_fail(err, "%s: a step needs at least 1 token, not %d", m->path, n);
    if (n > kv->c.cap - kv->c.pos)
        return lmc_fail(err, "%s: the KV cache is full: %d of %d positions used, %d more asked", m->path, kv->c.pos,
                        kv->c.cap, n);
    if (n > kv->hidden_rows) {
        float *h = realloc(kv->hidden, sizeof(float) * (size_t)n * m->info.dim);
        if (!h) return lmc_fail(err, "out of memory for a %d-token step", n);
        kv->hidden = h;
        kv->hidden_rows = n;
    }
    if (arch_step(m->arch, m->state, &kv->c, tokens, n, kv->hidden, err)) return -1;
    kv->c.pos += n;
    /* only the last position's logits are asked for: one row through lm_head */
    lmc_linear_apply(m->info.lm_head, kv->hidden + (size_t)(n - 1) * m->info.dim, logits, 1);
    return 0;
}

/* ---- identity and integrity ------------------------------------------------------------------------- */

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const lmc_tensor *const *)a)->name, (*(const lmc_tensor *const *)b)->name);
}

void lmc_model_sha256(const lmc_model *m, char hex[65]) {
    if (m->sha256[0]) {
        memcpy(hex, m->sha256, 65);
        return;
    }
    lmc_sha256 s;
    lmc_sha256_init(&s);
    char *cfg = m->config ? cJSON_PrintUnformatted(m->config) : NULL;
    lmc_sha256_update(&s, "config\n", 7);
    if (cfg) lmc_sha256_update(&s, cfg, strlen(cfg) + 1);
    free(cfg);
    size_t n = lmc_weights_count(m->w), total = lmc_weights_total_bytes(m->w);
    const lmc_tensor **t = lmc_xmalloc((n ? n : 1) * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = lmc_weights_at(m->w, i);
    qsort(t, n, sizeof *t, cmp_tensor_name);
    for (size_t i = 0; i < n; i++) {
        char line[512];
        int len = snprintf(line, sizeof line, "tensor %.300s %s %d [%lld,%lld,%lld,%lld] %zu\n", t[i]->name,
                           lmc_dtype_name(t[i]->dtype), t[i]->ndim, (long long)t[i]->shape[0],
                           (long long)t[i]->shape[1], (long long)t[i]->shape[2], (long long)t[i]->shape[3],
                           t[i]->nbytes);
        lmc_sha256_update(&s, line, (size_t)len);
    }
    const size_t FULL = (size_t)64 << 20, SMALL = (size_t)256 << 10, SLICE = 4096, NSLICE = 64;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *d = t[i]->data;
        size_t nb = t[i]->nbytes;
        if (total <= FULL || nb <= SMALL) {
            lmc_sha256_update(&s, d, nb);
            continue;
        }
        for (size_t j = 0; j < NSLICE; j++) {
            size_t off = (nb - SLICE) / (NSLICE - 1) * j;
            if (j == NSLICE - 1) off = nb - SLICE;
            lmc_sha256_update(&s, d + off, SLICE);
        }
    }
    free(t);
    lmc_sha256_final_hex(&s, hex);
    /* the memo is the one field written after open; a model is not shared between threads while it is asked */
    memcpy(((lmc_model *)m)->sha256, hex, 65);
}

/* ---- weight integrity --------------------------------------------------------------------------- */

/* Index of the first element whose exponent bits are all ones (NaN or ±Inf), or -1. */
static int64_t first_nonfinite(const lmc_tensor *t) {
    int64_t n = t->numel;
    if (lmc_dtype_quantized(t->dtype)) { /* dequantized a row at a time, as the matmul sees the values */
        int64_t row = t->ndim ? t->shape[t->ndim - 1] : n;
        float *v = lmc_xmalloc(sizeof(float) * (size_t)(row ? row : 1));
        size_t rb = lmc_dtype_bytes(t->dtype, row);
        for (int64_t r = 0; row && r < n / row; r++) {
            lmc_dtype_to_f32(t->dtype, (const char *)t->data + (size_t)r * rb, v, row);
            for (int64_t i = 0; i < row; i++)
                if (!isfinite(v[i])) { free(v); return r * row + i; }
        }
        free(v);
        return -1;
    }
    if (t->dtype == LMC_F32) {
        const unsigned char *p = t->data;
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            if ((u & 0x7f800000u) == 0x7f800000u) return i;
        }
    } else {
        uint16_t mask = t->dtype == LMC_BF16 ? 0x7f80 : 0x7c00;
        const unsigned char *p = t->data;
        for (int64_t i = 0; i < n; i++) {
            uint16_t u;
            memcpy(&u, p + 2 * i, 2);
            if ((u & mask) == mask) return i;
        }
    }
    return -1;
}

int lmc_model_check_finite(const lmc_model *m, lmc_err *err) {
    size_t n = lmc_weights_count(m->w);
    for (size_t i = 0; i < n; i++) {
        const lmc_tensor *t = lmc_weights_at(m->w, i);
        int64_t bad = first_nonfinite(t);
        if (bad < 0) continue;
        double v;
        if (t->dtype == LMC_F32) { float f; memcpy(&f, (const char *)t->data + 4 * bad, 4); v = f; }
        else if (lmc_dtype_quantized(t->dtype)) v = NAN; /* which of NaN / Inf: the row says, not worth a copy */
        else {
            uint16_t u;
            memcpy(&u, (const char *)t->data + 2 * bad, 2);
            v = (u & (t->dtype == LMC_BF16 ? 0x7f : 0x3ff)) ? NAN : (u & 0x8000) ? -INFINITY : INFINITY;
        }
        return lmc_fail(err, "%s: tensor '%.200s' (%s) holds a non-finite weight (%s) at element %lld: the model "
                             "file is corrupt", lmc_weights_file_path(m->w, t->file), t->name, lmc_dtype_name(t->dtype),
                        lmc_dtype_quantized(t->dtype) ? "NaN or Inf" : isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf",
                        (long long)bad);
    }
    return 0;
}
