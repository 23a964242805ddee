/* load.c — opening an architecture's state (see arch.h): its config is read, its tensor list walked and each
 * weight loaded into the form the forward uses (and freed again at close). An architecture file supplies its
 * config reader and its tensor list; the forward's runtime (activations, attention, scratch, timing) is
 * arch/runtime.c.
 *
 * Sections: the tensor list · loading one tensor · the skeleton. */
#include "model/arch/arch.h"
#include "gemm_bf16.h"
#include "kernels.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tensor list ---- */

arch_tensor *arch_add(arch_tensors *t, arch_tensor_kind kind, void *dst, int64_t rows, int64_t cols, int flags,
                      const char *fmt, ...) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->v = lmc_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    arch_tensor *e = &t->v[t->n++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->dst = dst;
    e->rows = rows;
    e->cols = cols;
    e->flags = flags;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    return e;
}

void arch_add_embed_head(arch_tensors *t, const char *embed_name, const char *head_name, int64_t vocab, int64_t dim,
                         int flags, const char *what) {
    arch_tensor *e = arch_add(t, ARCH_EMBED_HEAD, NULL, vocab, dim, flags, "%s", embed_name);
    snprintf(e->name2, sizeof e->name2, "%s", head_name);
    e->what = what;
}

void arch_add_norm(arch_tensors *t, float **w, float **b, int64_t n, const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    arch_add(t, ARCH_VEC, w, n, 0, 0, "%s.weight", name);
    if (b) arch_add(t, ARCH_VEC, b, n, 0, 0, "%s.bias", name);
}

void arch_add_qkv(arch_tensors *t, lmc_linear *dst, int n_heads, int n_kv, int head_dim, int dim, int flags,
                  const char *fmt, ...) {
    arch_tensor *e = arch_add(t, ARCH_QKV, dst, (int64_t)(n_heads + 2 * n_kv) * head_dim, dim, flags, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    e->heads = n_heads;
    e->kv_heads = n_kv;
    e->head_dim = head_dim;
}

/* "<name><suffix>", or NULL with "missing tensor" naming it. */
static const lmc_tensor *need(const lmc_arch_ctx *c, const char *name, const char *suffix, lmc_err *err) {
    char full[192];
    snprintf(full, sizeof full, "%s%s", name, suffix);
    const lmc_tensor *t = lmc_weights_find(c->w, full);
    if (t) return t;
    const char *dt = NULL;
    for (size_t i = 0; i < lmc_weights_unsupported_count(c->w) && !dt; i++) { /* present, of a type lmc lacks? */
        const char *type, *n = lmc_weights_unsupported_at(c->w, i, &type);
        if (!strcmp(n, full)) dt = type;
    }
    if (dt)
        lmc_fail(err, "%s: tensor %s has type %s, which lmc cannot compute with (F32, BF16, F16; from GGUF also "
                 "Q8_0, Q4_0, Q5_0, Q4_K, Q6_K)", c->origin, full, dt);
    else lmc_fail(err, "%s: missing tensor %s", c->origin, full);
    return NULL;
}

static int check_dtype(const lmc_arch_ctx *c, const lmc_tensor *t, lmc_err *err) {
    if (lmc_dtype_name(t->dtype)[0] != '?') return 0;
    return lmc_fail(err, "%s: tensor %s has dtype %s, which lmc cannot compute with", c->origin, t->name,
                    lmc_dtype_name(t->dtype));
}

static int check_matrix(const lmc_arch_ctx *c, const lmc_tensor *t, const arch_tensor *e, lmc_err *err) {
    char sb[96];
    if (t->ndim == 2 && t->shape[0] == e->rows && t->shape[1] == e->cols) return 0;
    return lmc_fail(err, "%s: tensor %s has shape %s, expected [%lld, %lld] (%s)", c->origin, t->name,
                    lmc_shape_str(t, sb, sizeof sb), (long long)e->rows, (long long)e->cols, e->what);
}

static int load_vec(const lmc_arch_ctx *c, const arch_tensor *e, int64_t *params, lmc_err *err) {
    char sb[96];
    const lmc_tensor *t = need(c, e->name, "", err);
    if (!t) return -1;
    if (t->ndim != 1 || t->shape[0] != e->rows)
        return lmc_fail(err, "%s: tensor %s has shape %s, expected [%lld]", c->origin, t->name,
                        lmc_shape_str(t, sb, sizeof sb), (long long)e->rows);
    *params += e->rows;
    return (*(float **)e->dst = lmc_tensor_f32(t, e->rows, c->origin, err)) ? 0 : -1;
}

static int load_linear(const lmc_arch_ctx *c, const arch_tensor *e, int64_t *params, lmc_err *err) {
    const lmc_tensor *w = need(c, e->name, ".weight", err), *b = NULL;
    if (!w || ((e->flags & ARCH_BIAS) && !(b = need(c, e->name, ".bias", err)))) return -1;
    if (lmc_linear_init(e->dst, w, b, (int)e->rows, (int)e->cols, c->plan.matmul, c->origin, err)) return -1;
    *params += w->numel + (b ? b->numel : 0);
    return 0;
}

/* A linear over `data` (N, K) in t's dtype, which the linear owns from now on (freed on failure too), and an
 * optional f32 bias (N) it owns as well. */
static int linear_owned(const lmc_arch_ctx *c, lmc_linear *l, const lmc_tensor *t, void *data, float *bias, int N,
                        int K, lmc_err *err) {
    lmc_tensor view = *t;
    view.ndim = 2;
    view.shape[0] = N;
    view.shape[1] = K;
    view.numel = (int64_t)N * K;
    view.data = data;
    view.nbytes = (size_t)N * lmc_dtype_bytes(t->dtype, K);
    if (lmc_linear_init(l, &view, NULL, N, K, c->plan.matmul, c->origin, err)) {
        free(data);
        free(bias);
        return -1;
    }
    if (l->owned) free(data); /* the linear made a form of its own from it (int8 compute's Q8_0 copy) */
    else l->owned = data;
    l->bias = bias;
    return 0;
}

/* HF Conv1D (GPT-2): weight stored [in = K, out = N], bias (N). Transposed once into an owned (N, K) copy in the
 * file's dtype, so the forward is an ordinary linear. llama.cpp's converter transposes it already (a GGUF holds
 * [out, in], possibly quantized by rows): that is an ordinary linear as it stands. */
static int load_conv1d(const lmc_arch_ctx *c, const arch_tensor *e, int64_t *params, lmc_err *err) {
    char sb[96];
    int N = (int)e->rows, K = (int)e->cols;
    const lmc_tensor *w = need(c, e->name, ".weight", err), *b;
    if (!w || !(b = need(c, e->name, ".bias", err)) || check_dtype(c, w, err)) return -1;
    if (w->gguf_layout) {
        if (lmc_linear_init(e->dst, w, b, N, K, c->plan.matmul, c->origin, err)) return -1;
        *params += w->numel + b->numel;
        return 0;
    }
    if (lmc_dtype_quantized(w->dtype))
        return lmc_fail(err, "%s: tensor %s: a quantized Conv1D weight stored [in, out] cannot be transposed",
                        c->origin, w->name);
    if (w->ndim != 2 || w->shape[0] != K || w->shape[1] != N)
        return lmc_fail(err, "%s: tensor %s has shape %s, expected [%d, %d] (Conv1D [in, out])", c->origin, w->name,
                        lmc_shape_str(w, sb, sizeof sb), K, N);
    if (b->ndim != 1 || b->shape[0] != N)
        return lmc_fail(err, "%s: bias %s has shape %s, expected [%d]", c->origin, b->name,
                        lmc_shape_str(b, sb, sizeof sb), N);
    float *bias = lmc_tensor_f32(b, N, c->origin, err);
    if (!bias) return -1;
    size_t es = lmc_dtype_size(w->dtype);
    char *dst = malloc((size_t)N * K * es);
    if (!dst) { free(bias); return lmc_fail(err, "%s: out of memory transposing %s", c->origin, w->name); }
    const char *src = w->data;
    for (int k = 0; k < K; k++) /* src (K, N) → dst (N, K) */
        for (int n = 0; n < N; n++) memcpy(dst + ((size_t)n * K + k) * es, src + ((size_t)k * N + n) * es, es);
    *params += w->numel + b->numel;
    return linear_owned(c, e->dst, w, dst, bias, N, K, err);
}

/* Fused QKV stored per KV group as [n_heads/n_kv q heads, 1 k head, 1 v head], each head_dim rows
 * (Falcon new_decoder_architecture; n_kv = 1 is Falcon-7B's [all q, k, v]; n_kv = n_heads is the per-head
 * [q, k, v] of GPT-NeoX and Falcon-RW). Loaded as one linear whose output row is
 * [Q (n_heads·hd) | K (n_kv·hd) | V (n_kv·hd)], q head g·r + i being head i of group g (r = n_heads/n_kv),
 * which is the order HF flattens them in. The rows are permuted into an owned copy (none needed when n_kv = 1).
 * llama.cpp's converter writes Falcon's and GPT-NeoX's fused QKV already as [Q | K | V] (a GGUF tensor). */
static int load_qkv(const lmc_arch_ctx *c, const arch_tensor *e, int64_t *params, lmc_err *err) {
    char sb[96];
    int n_heads = e->heads, n_kv = e->kv_heads, head_dim = e->head_dim, dim = (int)e->cols;
    int r = n_heads / n_kv, N = (n_heads + 2 * n_kv) * head_dim;
    const lmc_tensor *w = need(c, e->name, ".weight", err), *b = NULL;
    if (!w || ((e->flags & ARCH_BIAS) && !(b = need(c, e->name, ".bias", err))) || check_dtype(c, w, err)) return -1;
    if (w->ndim != 2 || w->shape[0] != N || w->shape[1] != dim)
        return lmc_fail(err, "%s: tensor %s has shape %s, expected [%d, %d] ((%d q + %d k + %d v heads) x %d, hidden)",
                        c->origin, w->name, lmc_shape_str(w, sb, sizeof sb), N, dim, n_heads, n_kv, n_kv, head_dim);
    if (b && (b->ndim != 1 || b->shape[0] != N))
        return lmc_fail(err, "%s: bias %s has shape %s, expected [%d]", c->origin, b->name,
                        lmc_shape_str(b, sb, sizeof sb), N);
    *params += w->numel + (b ? b->numel : 0);
    if (n_kv == 1 || w->gguf_layout) /* [q heads, k, v] is already [Q | K | V] */
        return lmc_linear_init(e->dst, w, b, N, dim, c->plan.matmul, c->origin, err);
    float *bsrc = b ? lmc_tensor_f32(b, N, c->origin, err) : NULL, *bdst = NULL;
    if (b && !bsrc) return -1;
    size_t row = (size_t)head_dim * lmc_dtype_bytes(w->dtype, dim); /* head_dim whole rows (any dtype) */
    char *dst = malloc((size_t)N / head_dim * row);
    if (b) bdst = malloc(sizeof(float) * (size_t)N);
    if (!dst || (b && !bdst)) {
        free(dst); free(bsrc); free(bdst);
        return lmc_fail(err, "%s: out of memory re-laying out %s", c->origin, w->name);
    }
    const char *src = w->data;
    for (int g = 0; g < n_kv; g++)
        for (int j = 0; j < r + 2; j++) {
            int from = g * (r + 2) + j; /* head slot in the stored layout */
            int to = j < r ? g * r + j : j == r ? n_heads + g : n_heads + n_kv + g;
            memcpy(dst + (size_t)to * row, src + (size_t)from * row, row);
            if (b) memcpy(bdst + (size_t)to * head_dim, bsrc + (size_t)from * head_dim, sizeof(float) * head_dim);
        }
    free(bsrc);
    return linear_owned(c, e->dst, w, dst, bdst, N, dim, err);
}

static int load_matrix(const lmc_arch_ctx *c, const arch_tensor *e, int64_t *params, lmc_err *err) {
    const lmc_tensor *t = need(c, e->name, "", err);
    if (!t || check_matrix(c, t, e, err)) return -1;
    *params += t->numel;
    if (e->kind == ARCH_MATRIX) {
        *(const lmc_tensor **)e->dst = t;
        return 0;
    }
    return (*(float **)e->dst = lmc_tensor_f32(t, t->numel, c->origin, err)) ? 0 : -1; /* ARCH_ROUTER */
}

/* The embedding and lm_head: the head is the embedding when tied, else its own tensor. */
static int load_embed_head(const lmc_arch_ctx *c, arch_base *b, const arch_tensor *e, int64_t *params,
                           lmc_err *err) {
    int tie = e->flags & ARCH_TIED;
    const lmc_tensor *emb = lmc_weights_find(c->w, e->name), *head = NULL;
    if (tie && (e->flags & ARCH_TIED_EITHER)) {
        head = lmc_weights_find(c->w, e->name2);
        if (!head) head = emb;
        if (!emb) emb = head;
    }
    if (!emb) return lmc_fail(err, "%s: missing tensor %s", c->origin, e->name);
    if (check_matrix(c, emb, e, err)) return -1;
    if (!tie && !(head = lmc_weights_find(c->w, e->name2)))
        return lmc_fail(err, "%s: missing tensor %s (config has tie_word_embeddings false)", c->origin, e->name2);
    if (!head) head = emb;
    if (lmc_linear_init(&b->lm_head, head, NULL, (int)e->rows, (int)e->cols, c->plan.matmul, c->origin, err))
        return -1;
    b->embed = emb;
    *params += emb->numel + (head != emb ? head->numel : 0);
    return 0;
}

/* A layer linear's int8 copy requantized to the plan's type as soon as it is made (lmc bench --weights): one
 * float-to-Q8_0 copy held at a time, not every layer's at once. */
static int requant(const lmc_arch_ctx *c, const arch_tensor *e, int rc, lmc_err *err) {
    if (rc || !c->plan.int8_requant) return rc;
    return lmc_linear_requant(e->dst, c->plan.int8_requant, err);
}

static int load_one(const lmc_arch_ctx *c, arch_base *b, const arch_tensor *e, int64_t *params, lmc_err *err) {
    switch (e->kind) {
    case ARCH_VEC: return load_vec(c, e, params, err);
    case ARCH_LINEAR: return requant(c, e, load_linear(c, e, params, err), err);
    case ARCH_CONV1D: return requant(c, e, load_conv1d(c, e, params, err), err);
    case ARCH_QKV: return requant(c, e, load_qkv(c, e, params, err), err);
    case ARCH_MATRIX:
    case ARCH_ROUTER: return load_matrix(c, e, params, err);
    case ARCH_EMBED_HEAD: return load_embed_head(c, b, e, params, err);
    }
    return lmc_fail(err, "%s: tensor %s has an unknown kind", c->origin, e->name);
}

static void free_one(arch_base *b, const arch_tensor *e) {
    switch (e->kind) {
    case ARCH_VEC:
    case ARCH_ROUTER: free(*(float **)e->dst); *(float **)e->dst = NULL; break;
    case ARCH_LINEAR:
    case ARCH_CONV1D:
    case ARCH_QKV: lmc_linear_free(e->dst); break;
    case ARCH_MATRIX: break; /* in the mmap */
    case ARCH_EMBED_HEAD: lmc_linear_free(&b->lm_head); break;
    }
}

/* ---- the skeleton ---- */

void *arch_alloc(arch_base *b, size_t n, size_t size) {
    b->allocs = lmc_xrealloc(b->allocs, (b->n_allocs + 1) * sizeof *b->allocs);
    return b->allocs[b->n_allocs++] = lmc_xcalloc(n, size);
}

void *arch_layers(const lmc_arch_ctx *c, arch_base *b, int dim, int vocab, const char *key, long n_layers,
                  size_t layer_size, lmc_err *err) {
    if (cfg_check_layers(c, key, n_layers, err)) return NULL;
    b->info.dim = dim;
    b->info.vocab = vocab;
    return arch_alloc(b, (size_t)n_layers, layer_size);
}

int arch_open(const lmc_arch *a, const lmc_arch_ctx *c, void **state, lmc_err *err) {
    arch_base *b = lmc_xcalloc(1, a->size);
    int64_t params = 0;
    *state = NULL;
    b->plan = c->plan;
    if (a->config(c, b, err)) goto fail;
    a->tensors(b, &b->tensors);
    for (size_t i = 0; i < b->tensors.n; i++) {
        const arch_tensor *e = &b->tensors.v[i];
        if (load_one(c, b, e, &params, err)) goto fail;
        if (e->kind != ARCH_VEC && e->kind != ARCH_MATRIX && e->kind != ARCH_ROUTER && e->cols > b->max_k)
            b->max_k = (int)e->cols; /* a linear's K */
        /* layer matmuls report their time; lm_head's is the caller's (it runs on scored rows only) */
        if (e->kind == ARCH_LINEAR || e->kind == ARCH_CONV1D || e->kind == ARCH_QKV)
            ((lmc_linear *)e->dst)->prof = &b->prof;
    }
    if (!b->info.routed_share) b->info.routed_share = 1;
    b->info.n_params = params;
    b->info.lm_head = &b->lm_head;
    b->info.prof = &b->prof;
    *state = b;
    return 0;
fail:
    arch_close(b);
    return -1;
}

int arch_plan(const lmc_arch *a, const lmc_arch_ctx *c, void **state, lmc_err *err) {
    arch_base *b = lmc_xcalloc(1, a->size);
    *state = NULL;
    if (a->config(c, b, err)) {
        arch_close(b);
        return -1;
    }
    a->tensors(b, &b->tensors);
    *state = b;
    return 0;
}

void arch_close(void *state) {
    arch_base *b = state;
    if (!b) return;
    for (size_t i = 0; i < b->tensors.n; i++) free_one(b, &b->tensors.v[i]);
    for (size_t i = 0; i < b->n_allocs; i++) free(b->allocs[i]); /* after the walk: it points into them */
    free(b->allocs);
    lmc_rope_free(&b->rope);
    free(b->tensors.v);
    free(b->arena);
    free(b);
}

void arch_limit_window(arch_base *b, int max_window, const char *fmt, ...) {
    b->info.max_window = max_window;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->info.max_window_why, sizeof b->info.max_window_why, fmt, ap);
    va_end(ap);
}
