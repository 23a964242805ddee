/* blocks.c — see blocks.h. */
#include "model/arch/blocks.h"
#include "kernels.h"
#include "kernels_ext.h"
#include "common/util.h"

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

int blk_gqa_config(const lmc_arch_ctx *c, long dim, long *heads, long *kv, long *head_dim, lmc_err *err) {
    if (cfg_int(c, "num_attention_heads", 1, 0, heads, err) || cfg_int(c, "num_key_value_heads", 0, *heads, kv, err))
        return -1;
    if (*heads == 0 || *kv == 0 || *heads % *kv)
        return lmc_fail(err, "%s: num_attention_heads %ld is not a multiple of num_key_value_heads %ld", c->origin,
                        *heads, *kv);
    if (cfg_int(c, "head_dim", 0, dim / *heads, head_dim, err)) return -1;
    if (*head_dim == 0 || *head_dim % 2) return lmc_fail(err, "%s: head_dim %ld must be even", c->origin, *head_dim);
    return 0;
}

int blk_silu_only(const lmc_arch_ctx *c, const char *arch, lmc_err *err) {
    const char *act;
    if (cfg_str(c, "hidden_act", "silu", &act, err)) return -1;
    if (strcmp(act, "silu") != 0)
        return lmc_fail(err, "%s: hidden_act \"%s\" is not supported for %s (expected silu)", c->origin, act, arch);
    return 0;
}

void blk_swiglu_tensors(arch_tensors *t, blk_swiglu *m, const char *prefix, const char *gate, const char *up,
                        const char *down, int dim, int hidden, int flags) {
    m->hidden = hidden;
    arch_add(t, ARCH_LINEAR, &m->gate, hidden, dim, flags, "%s.%s", prefix, gate);
    arch_add(t, ARCH_LINEAR, &m->up, hidden, dim, flags, "%s.%s", prefix, up);
    arch_add(t, ARCH_LINEAR, &m->down, dim, hidden, flags, "%s.%s", prefix, down);
}

void blk_swiglu_apply(const blk_swiglu *m, const float *x, float *out, int T, float *h1, float *h2) {
    lmc_linear_apply(&m->gate, x, h1, T);
    lmc_linear_apply(&m->up, x, h2, T);
    lmc_swiglu(&m->gate, h1, h2, (size_t)T * m->hidden);
    lmc_linear_apply(&m->down, h1, out, T);
}

void blk_gelu_mlp_apply(const blk_gelu_mlp *m, const float *x, float *out, int T, float *h) {
    lmc_linear_apply(&m->up, x, h, T);
    blk_act_apply(m->act, h, (size_t)T * m->hidden);
    lmc_linear_apply(&m->down, h, out, T);
}

void blk_gelu_mlp_tensors(arch_tensors *t, blk_gelu_mlp *m, const char *prefix, const char *up, const char *down,
                          int dim, int hidden, blk_act act, int flags) {
    m->hidden = hidden;
    m->act = act;
    arch_add(t, ARCH_LINEAR, &m->up, hidden, dim, flags, "%s.%s", prefix, up);
    arch_add(t, ARCH_LINEAR, &m->down, dim, hidden, flags, "%s.%s", prefix, down);
}

blk_swiglu *blk_moe_tensors(arch_tensors *t, arch_base *b, float **router, const char *router_name, const char *what,
                            const char *experts_prefix, const char *names[3], int n_experts, int dim, int hidden) {
    arch_add(t, ARCH_ROUTER, router, n_experts, dim, 0, "%s", router_name)->what = what;
    blk_swiglu *experts = arch_alloc(b, (size_t)n_experts, sizeof *experts);
    char prefix[192];
    for (int e = 0; e < n_experts; e++) {
        snprintf(prefix, sizeof prefix, "%s.%d", experts_prefix, e);
        blk_swiglu_tensors(t, &experts[e], prefix, names[0], names[1], names[2], dim, hidden, ARCH_ROUTED);
    }
    return experts;
}

_Static_assert(sizeof(int) == sizeof(float), "MoE index arrays share the float arena");

int blk_moe_acts(blk_moe_scratch *s, arch_act *tab, int n, int k, int dim, int hidden, int n_experts) {
    size_t kd = (size_t)k * dim, d = (size_t)dim, h2 = 2 * (size_t)hidden, e = (size_t)n_experts + 1;
    arch_act lines[] = {
        ARCH_FLOATS(&s->yslot, kd, 0), ARCH_FLOATS(&s->xg, d, 0), ARCH_FLOATS(&s->yg, d, 0),
        ARCH_FLOATS(&s->h, h2, 0), ARCH_INTS(&s->order, (size_t)k, 0), ARCH_INTS(&s->rows, 1, 0),
        ARCH_INTS(&s->start, 0, e), ARCH_INTS(&s->cursor, 0, e),
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) tab[n++] = lines[i];
    return n;
}

void blk_moe_apply(const blk_swiglu *experts, int n_experts, int k, const int32_t *ids, const float *w,
                   const float *x, float *out, int T, int dim, const blk_moe_scratch *sc) {
    int hidden = experts[0].hidden;
    size_t slots = (size_t)T * k;
    float *yslot = sc->yslot, *xg = sc->xg, *yg = sc->yg, *h = sc->h;
    int32_t *order = sc->order, *start = sc->start, *cursor = sc->cursor, *rows = sc->rows;
    memset(start, 0, sizeof(int) * ((size_t)n_experts + 1));
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
}
