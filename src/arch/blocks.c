/* blocks.c — see blocks.h. */
#include "blocks.h"
#include "kernels.h"
#include "kernels_ext.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int blk_act_parse(const lmc_arch_ctx *c, const char *key, const char *value, blk_act *out, lmc_err *err) {
    if (!strcmp(value, "gelu")) { *out = BLK_GELU_ERF; return 0; }
    if (!strcmp(value, "gelu_new") || !strcmp(value, "gelu_pytorch_tanh") || !strcmp(value, "gelu_fast")) {
        *out = BLK_GELU_TANH;
        return 0;
    }
    return lmc_fail(err, "%s: config.json \"%s\" is \"%s\", which lmc does not implement (supported: gelu, gelu_new, "
                         "gelu_pytorch_tanh, gelu_fast)", c->origin, key, value);
}

void blk_act_apply(blk_act act, float *x, size_t n) {
    if (act == BLK_GELU_ERF) gelu_erf(x, n);
    else gelu_tanh(x, n);
}

static const lmc_tensor *vtensor(const lmc_arch_ctx *c, lmc_err *err, char *name, size_t cap, const char *fmt,
                                 va_list ap) {
    vsnprintf(name, cap, fmt, ap);
    return arch_tensor(c, err, "%s", name);
}

int blk_linear(const lmc_arch_ctx *c, lmc_linear *l, int N, int K, int bias, int64_t *params, lmc_err *err,
               const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const lmc_tensor *w = arch_tensor(c, err, "%s.weight", name), *b = NULL;
    if (!w) return -1;
    if (bias && !(b = arch_tensor(c, err, "%s.bias", name))) return -1;
    if (lmc_linear_init(l, w, b, N, K, c->opts.compute, c->origin, err)) return -1;
    *params += w->numel + (b ? b->numel : 0);
    return 0;
}

float *blk_vec(const lmc_arch_ctx *c, int n, int64_t *params, lmc_err *err, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    const lmc_tensor *t = vtensor(c, err, name, sizeof name, fmt, ap);
    va_end(ap);
    if (!t) return NULL;
    char sb[96];
    if (t->ndim != 1 || t->shape[0] != n) {
        lmc_fail(err, "%s: tensor %s has shape %s, expected [%d]", c->origin, t->name, lmc_shape_str(t, sb, sizeof sb), n);
        return NULL;
    }
    *params += n;
    return lmc_tensor_f32(t, n, c->origin, err);
}

const lmc_tensor *blk_matrix(const lmc_arch_ctx *c, int64_t rows, int64_t cols, const char *what, lmc_err *err,
                             const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    const lmc_tensor *t = vtensor(c, err, name, sizeof name, fmt, ap);
    va_end(ap);
    if (!t) return NULL;
    char sb[96];
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        lmc_fail(err, "%s: tensor %s has shape %s, expected [%lld, %lld] (%s)", c->origin, t->name,
                 lmc_shape_str(t, sb, sizeof sb), (long long)rows, (long long)cols, what);
        return NULL;
    }
    return t;
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
    view.nbytes = (size_t)N * K * lmc_dtype_size(t->dtype);
    if (lmc_linear_init(l, &view, NULL, N, K, c->opts.compute, c->origin, err)) {
        free(data);
        free(bias);
        return -1;
    }
    l->owned = data;
    l->bias = bias;
    return 0;
}

static int check_dtype(const lmc_arch_ctx *c, const lmc_tensor *t, lmc_err *err) {
    if (t->dtype == LMC_F32 || t->dtype == LMC_BF16 || t->dtype == LMC_F16) return 0;
    return lmc_fail(err, "%s: tensor %s has dtype %s, which lmc cannot compute with", c->origin, t->name,
                    lmc_dtype_name(t->dtype));
}

int blk_conv1d(const lmc_arch_ctx *c, lmc_linear *l, int K, int N, int64_t *params, lmc_err *err, const char *fmt,
               ...) {
    char name[256], sb[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const lmc_tensor *w = arch_tensor(c, err, "%s.weight", name), *b;
    if (!w || !(b = arch_tensor(c, err, "%s.bias", name)) || check_dtype(c, w, err)) return -1;
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
    return linear_owned(c, l, w, dst, bias, N, K, err);
}

int blk_qkv_grouped(const lmc_arch_ctx *c, lmc_linear *l, int n_heads, int n_kv, int head_dim, int dim, int bias,
                    int64_t *params, lmc_err *err, const char *fmt, ...) {
    char name[256], sb[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int r = n_heads / n_kv, N = (n_heads + 2 * n_kv) * head_dim;
    const lmc_tensor *w = arch_tensor(c, err, "%s.weight", name), *b = NULL;
    if (!w || (bias && !(b = arch_tensor(c, err, "%s.bias", name))) || check_dtype(c, w, err)) return -1;
    if (w->ndim != 2 || w->shape[0] != N || w->shape[1] != dim)
        return lmc_fail(err, "%s: tensor %s has shape %s, expected [%d, %d] ((%d q + %d k + %d v heads) x %d, hidden)",
                        c->origin, w->name, lmc_shape_str(w, sb, sizeof sb), N, dim, n_heads, n_kv, n_kv, head_dim);
    if (b && (b->ndim != 1 || b->shape[0] != N))
        return lmc_fail(err, "%s: bias %s has shape %s, expected [%d]", c->origin, b->name,
                        lmc_shape_str(b, sb, sizeof sb), N);
    *params += w->numel + (b ? b->numel : 0);
    if (n_kv == 1) /* [q heads, k, v] is already [Q | K | V] */
        return lmc_linear_init(l, w, b, N, dim, c->opts.compute, c->origin, err);
    float *bsrc = b ? lmc_tensor_f32(b, N, c->origin, err) : NULL, *bdst = NULL;
    if (b && !bsrc) return -1;
    size_t es = lmc_dtype_size(w->dtype), row = (size_t)head_dim * dim * es;
    char *dst = malloc((size_t)N * dim * es);
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
    return linear_owned(c, l, w, dst, bdst, N, dim, err);
}

int blk_swiglu_load(const lmc_arch_ctx *c, blk_swiglu *m, const char *prefix, const char *gate, const char *up,
                    const char *down, int dim, int hidden, int bias, int64_t *params, lmc_err *err) {
    m->hidden = hidden;
    if (blk_linear(c, &m->gate, hidden, dim, bias, params, err, "%s.%s", prefix, gate) ||
        blk_linear(c, &m->up, hidden, dim, bias, params, err, "%s.%s", prefix, up) ||
        blk_linear(c, &m->down, dim, hidden, bias, params, err, "%s.%s", prefix, down))
        return -1;
    return 0;
}

void blk_swiglu_apply(const blk_swiglu *m, const float *x, float *out, int T, float *h1, float *h2) {
    lmc_linear_apply(&m->gate, x, h1, T);
    lmc_linear_apply(&m->up, x, h2, T);
    silu_mul(h1, h1, h2, (size_t)T * m->hidden);
    lmc_linear_apply(&m->down, h1, out, T);
}

void blk_swiglu_free(blk_swiglu *m) {
    lmc_linear_free(&m->gate);
    lmc_linear_free(&m->up);
    lmc_linear_free(&m->down);
}

void blk_gelu_mlp_apply(const blk_gelu_mlp *m, const float *x, float *out, int T, float *h) {
    lmc_linear_apply(&m->up, x, h, T);
    blk_act_apply(m->act, h, (size_t)T * m->hidden);
    lmc_linear_apply(&m->down, h, out, T);
}

void blk_gelu_mlp_free(blk_gelu_mlp *m) {
    lmc_linear_free(&m->up);
    lmc_linear_free(&m->down);
}

size_t blk_moe_scratch_bytes(int T, int k, int dim, int hidden) {
    size_t slots = (size_t)T * k;
    return sizeof(float) * (slots * dim + (size_t)T * (2 * (size_t)dim + 2 * (size_t)hidden)) +
           sizeof(int) * (slots + (size_t)T + 1024); /* + per-expert counters */
}

int blk_moe_apply(const blk_swiglu *experts, int n_experts, int k, const int *ids, const float *w, const float *x,
                  float *out, int T, int dim, lmc_err *err) {
    int hidden = experts[0].hidden;
    size_t slots = (size_t)T * k;
    float *yslot = malloc(sizeof(float) * slots * dim);                 /* (T·k, dim) expert outputs */
    float *xg = malloc(sizeof(float) * (size_t)T * dim);                /* (n_e, dim) gathered inputs */
    float *yg = malloc(sizeof(float) * (size_t)T * dim);                /* (n_e, dim) expert output */
    float *h = malloc(sizeof(float) * (size_t)T * 2 * hidden);          /* (n_e, hidden) × 2 */
    int *order = malloc(sizeof(int) * (slots + 1));                     /* slots grouped by expert */
    int *start = calloc((size_t)n_experts + 1, sizeof(int));
    int *cursor = malloc(sizeof(int) * ((size_t)n_experts + 1));
    int *rows = malloc(sizeof(int) * (size_t)T);
    int rc = 0;
    if (!yslot || !xg || !yg || !h || !order || !start || !cursor || !rows) {
        rc = lmc_fail(err, "out of memory for the expert dispatch of a %d-token window", T);
        goto done;
    }
    /* counting sort of the slots by expert; within an expert, slots stay in token order */
    for (size_t s = 0; s < slots; s++) start[ids[s] + 1]++;
    for (int e = 0; e < n_experts; e++) start[e + 1] += start[e];
    for (int e = 0; e < n_experts; e++) cursor[e] = start[e];
    for (size_t s = 0; s < slots; s++) order[cursor[ids[s]]++] = (int)s;
    for (int e = 0; e < n_experts; e++) {
        int n = start[e + 1] - start[e];
        if (n == 0) continue;
        for (int i = 0; i < n; i++) rows[i] = order[start[e] + i] / k; /* token of each routed slot */
        gather_rows(xg, x, rows, n, dim);
        blk_swiglu_apply(&experts[e], xg, yg, n, h, h + (size_t)n * hidden);
        for (int i = 0; i < n; i++)
            memcpy(yslot + (size_t)order[start[e] + i] * dim, yg + (size_t)i * dim, sizeof(float) * (size_t)dim);
    }
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *o = out + (size_t)t * dim;
        for (int d = 0; d < dim; d++) o[d] = 0.0f;
        for (int j = 0; j < k; j++) {
            float wj = w[(size_t)t * k + j];
            const float *y = yslot + ((size_t)t * k + j) * dim;
            for (int d = 0; d < dim; d++) o[d] += wj * y[d];
        }
    }
done:
    free(yslot); free(xg); free(yg); free(h); free(order); free(start); free(cursor); free(rows);
    return rc;
}

int blk_lm_head(const lmc_arch_ctx *c, lmc_linear *l, const lmc_tensor *emb, const char *head_name, int tie,
                int vocab, int dim, int64_t *params, lmc_err *err) {
    const lmc_tensor *head = tie ? emb : arch_tensor_opt(c, "%s", head_name);
    if (!head)
        return lmc_fail(err, "%s: missing tensor %s (config has tie_word_embeddings false)", c->origin, head_name);
    if (lmc_linear_init(l, head, NULL, vocab, dim, c->opts.compute, c->origin, err)) return -1;
    if (head != emb) *params += head->numel;
    return 0;
}
