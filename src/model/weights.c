/* weights.c — the weights container above the file readers, the element type table, the one file mapper and
 * the one lookup by name (see weights.h).
 *
 * Sections: element types · mapped files · sorted names · the container · filling it · open · lookup. */
#include "model/weights.h"

#include "dequant.h"
#include "kernels.h"
#include "model/gguf.h"
#include "model/safetensors.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- element types ---------------------------------------------------------------------------- */

static void copy_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, sizeof(float) * (size_t)n); }
static void widen_bf16(const void *src, float *dst, int64_t n) { bf16_to_f32(dst, src, (size_t)n); }
static void widen_f16(const void *src, float *dst, int64_t n) { f16_to_f32(dst, src, (size_t)n); }
static void gemm_f32(float *y, const float *x, const void *weight, const float *bias, int T, int N, int K) {
    matmul_f32(y, x, weight, bias, T, N, K);
}

/* One row per type lmc computes with. Block sizes and bytes are ggml-common.h's; the 16-bit types widen in
 * place (their tensors are element-aligned), the quantized ones byte by byte (kernels/dequant.c). */
static const lmc_type_traits TYPES[LMC_N_DTYPES] = {
    [LMC_F32]  = {"F32",  1,   4,   0, LMC_GGML_F32,  copy_f32,          gemm_f32, NULL,            0,  0},
    [LMC_BF16] = {"BF16", 1,   2,   0, LMC_GGML_BF16, widen_bf16,        NULL,     NULL,            0,  0},
    [LMC_F16]  = {"F16",  1,   2,   0, LMC_GGML_F16,  widen_f16,         NULL,     NULL,            0,  0},
    [LMC_Q8_0] = {"Q8_0", 32,  34,  1, LMC_GGML_Q8_0, lmc_dequant_q8_0,  NULL,     lmc_unpack_q8_0, 32, 0},
    [LMC_Q4_0] = {"Q4_0", 32,  18,  1, LMC_GGML_Q4_0, lmc_dequant_q4_0,  NULL,     lmc_unpack_q4_0, 32, 0},
    [LMC_Q4_K] = {"Q4_K", 256, 144, 1, LMC_GGML_Q4_K, lmc_dequant_q4_k,  NULL,     lmc_unpack_q4_k, 32, 1},
    [LMC_Q6_K] = {"Q6_K", 256, 210, 1, LMC_GGML_Q6_K, lmc_dequant_q6_k,  NULL,     lmc_unpack_q6_k, 16, 0},
    /* llama-quantize's fallback for Q4_K rows not a multiple of 256 */
    [LMC_Q5_0] = {"Q5_0", 32,  22,  1, LMC_GGML_Q5_0, lmc_dequant_q5_0,  NULL,     lmc_unpack_q5_0, 32, 0},
};

const lmc_type_traits *lmc_type_traits_of(lmc_dtype dt) { return (unsigned)dt < LMC_N_DTYPES ? &TYPES[dt] : NULL; }

int lmc_dtype_from_ggml(int ggml, lmc_dtype *out) {
    for (int i = 0; i < LMC_N_DTYPES; i++)
        if (TYPES[i].ggml == ggml) { *out = (lmc_dtype)i; return 0; }
    return -1;
}

size_t lmc_dtype_size(lmc_dtype dt) {
    const lmc_type_traits *tr = lmc_type_traits_of(dt);
    return tr && !tr->quantized ? tr->block_bytes : 0;
}

const char *lmc_dtype_name(lmc_dtype dt) { return lmc_type_traits_of(dt) ? TYPES[dt].name : "?"; }

int lmc_dtype_quantized(lmc_dtype dt) { return lmc_type_traits_of(dt) && TYPES[dt].quantized; }

size_t lmc_dtype_bytes(lmc_dtype dt, int64_t n) {
    const lmc_type_traits *tr = lmc_type_traits_of(dt);
    return tr ? (size_t)(n / tr->block) * tr->block_bytes : 0;
}

void lmc_dtype_to_f32(lmc_dtype dt, const void *src, float *dst, int64_t n) { TYPES[dt].to_f32(src, dst, n); }

int lmc_dequant(int ggml, const void *src, float *dst, int64_t n) {
    lmc_dtype dt;
    if (lmc_dtype_from_ggml(ggml, &dt) || n < 0 || n % TYPES[dt].block) return -1;
    /* the 16-bit types through kernels/dequant.c too: a GGUF tensor's row need not be 2-aligned */
    if (ggml == LMC_GGML_F16) lmc_dequant_f16(src, dst, n);
    else if (ggml == LMC_GGML_BF16) lmc_dequant_bf16(src, dst, n);
    else TYPES[dt].to_f32(src, dst, n);
    return 0;
}

int lmc_dtype_parse(const char *s, lmc_dtype *out) {
    static const struct { const char *name; lmc_dtype dt; } names[] = {
        {"f32", LMC_F32},   {"float32", LMC_F32},  {"fp32", LMC_F32},    {"bf16", LMC_BF16},
        {"bfloat16", LMC_BF16}, {"f16", LMC_F16},  {"fp16", LMC_F16},    {"float16", LMC_F16},
    };
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0) { *out = names[i].dt; return 0; }
    return -1;
}

/* ---- sorted names ----------------------------------------------------------------------------- */

typedef struct names_ctx { lmc_name_at_fn name_at; const void *ctx; } names_ctx;

static int cmp_names(const void *a, const void *b, void *arg) {
    const names_ctx *nc = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(nc->name_at(nc->ctx, i), nc->name_at(nc->ctx, j));
    return c ? c : (i < j ? -1 : i > j);
}

size_t *lmc_names_sort(size_t n, lmc_name_at_fn name_at, const void *ctx) {
    size_t *order = lmc_xmalloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++) order[i] = i;
    names_ctx nc = {name_at, ctx};
    qsort_r(order, n, sizeof *order, cmp_names, &nc);
    return order;
}

size_t lmc_names_dup(const size_t *order, size_t n, lmc_name_at_fn name_at, const void *ctx) {
    for (size_t k = 1; k < n; k++)
        if (strcmp(name_at(ctx, order[k - 1]), name_at(ctx, order[k])) == 0) return k;
    return 0;
}

long lmc_names_find(const size_t *order, size_t n, const char *name, lmc_name_at_fn name_at, const void *ctx) {
    size_t lo = 0, hi = n; /* the first position whose name is not below `name` */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(name_at(ctx, order[mid]), name) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && strcmp(name_at(ctx, order[lo]), name) == 0 ? (long)order[lo] : -1;
}

/* ---- the container ---------------------------------------------------------------------------- */

typedef struct w_meta { char *key, *val; } w_meta;

typedef struct w_file {
    char   *path;
    lmc_map map;     /* zeroed for a file whose memory another reader owns */
    w_meta *meta;    /* (n_meta) in the file's order */
    size_t  n_meta;
} w_file;

/* One tensor of a file. Entries of supported dtype carry a complete lmc_tensor; the others only their name,
 * dtype name and file (so that they can still be named in errors and listed). */
typedef struct w_entry {
    lmc_tensor  t;
    const char *dtype_name; /* static string */
    bool        ok;         /* dtype is one lmc computes with */
} w_entry;

struct lmc_weights {
    w_file   *files;     /* (n_files) */
    int       n_files;
    w_entry  *ent;       /* (n_ent) in the order the readers added them */
    size_t    n_ent, cap_ent;
    size_t   *ok_idx;    /* (n_ok) indices of entries with ok, in ent order: what count/at enumerate */
    size_t    n_ok;
    size_t   *bad_idx;   /* (n_bad) indices of entries without ok */
    size_t    n_bad;
    size_t   *by_name;   /* (n_ent) indices of all entries sorted by name, NULL until indexed: lookup */
    /* weights held elsewhere: the reader that owns the memory, and copies made while adapting */
    void     *owner;
    void    (*release)(void *owner);
    void    **owned;     /* (n_owned) malloc'ed tensor data */
    size_t    n_owned, owned_bytes;
};

void lmc_weights_close(lmc_weights *w) {
    if (!w) return;
    for (int i = 0; i < w->n_files; i++) {
        w_file *f = &w->files[i];
        lmc_unmap(&f->map);
        for (size_t k = 0; k < f->n_meta; k++) { free(f->meta[k].key); free(f->meta[k].val); }
        free(f->meta);
        free(f->path);
    }
    for (size_t i = 0; i < w->n_ent; i++) free((char *)w->ent[i].t.name);
    for (size_t i = 0; i < w->n_owned; i++) free(w->owned[i]);
    free(w->owned);
    if (w->release) w->release(w->owner);
    free(w->files);
    free(w->ent);
    free(w->ok_idx);
    free(w->bad_idx);
    free(w->by_name);
    free(w);
}

/* ---- filling it ------------------------------------------------------------------------------- */

lmc_weights *lmc_weights_new(const char *path, void *owner, void (*release)(void *owner)) {
    lmc_weights *w = lmc_xcalloc(1, sizeof *w);
    if (path) lmc_weights_add_file(w, path, (lmc_map){0});
    w->owner = owner;
    w->release = release;
    return w;
}

int lmc_weights_add_file(lmc_weights *w, const char *path, lmc_map map) {
    w->files = lmc_xrealloc(w->files, (size_t)(w->n_files + 1) * sizeof *w->files);
    w->files[w->n_files] = (w_file){.path = lmc_xstrdup(path), .map = map};
    return w->n_files++;
}

static w_entry *push_entry(lmc_weights *w, const char *name, const char *dtype_name) {
    if (w->n_ent == w->cap_ent) {
        w->cap_ent = w->cap_ent ? 2 * w->cap_ent : 64;
        w->ent = lmc_xrealloc(w->ent, w->cap_ent * sizeof *w->ent);
    }
    w_entry *e = &w->ent[w->n_ent++];
    memset(e, 0, sizeof *e);
    e->t.name = lmc_xstrdup(name);
    e->t.file = w->n_files ? w->n_files - 1 : 0;
    e->dtype_name = dtype_name;
    return e;
}

void lmc_weights_add(lmc_weights *w, const lmc_tensor *t, void *owned) {
    w_entry *e = push_entry(w, t->name, lmc_dtype_name(t->dtype));
    const char *name = e->t.name;
    int file = e->t.file;
    e->t = *t;
    e->t.name = name;
    e->t.file = file;
    e->ok = true;
    if (!owned) return;
    w->owned = lmc_xrealloc(w->owned, (w->n_owned + 1) * sizeof *w->owned);
    w->owned[w->n_owned++] = owned;
    w->owned_bytes += t->nbytes;
}

void lmc_weights_add_unsupported(lmc_weights *w, const char *name, const char *dtype_name) {
    push_entry(w, name, dtype_name);
}

void lmc_weights_set_meta(lmc_weights *w, const char *key, const char *value) {
    w_file *f = &w->files[w->n_files - 1];
    f->meta = lmc_xrealloc(f->meta, (f->n_meta + 1) * sizeof *f->meta);
    f->meta[f->n_meta++] = (w_meta){lmc_xstrdup(key), lmc_xstrdup(value)};
}

static const char *entry_name(const void *ctx, size_t i) { return ((const w_entry *)ctx)[i].t.name; }

int lmc_weights_index(lmc_weights *w, lmc_err *err) {
    if (w->by_name) return 0;
    w->ok_idx = lmc_xmalloc((w->n_ent ? w->n_ent : 1) * sizeof *w->ok_idx);
    w->bad_idx = lmc_xmalloc((w->n_ent ? w->n_ent : 1) * sizeof *w->bad_idx);
    for (size_t i = 0; i < w->n_ent; i++) {
        if (w->ent[i].ok) w->ok_idx[w->n_ok++] = i;
        else w->bad_idx[w->n_bad++] = i;
    }
    w->by_name = lmc_names_sort(w->n_ent, entry_name, w->ent);
    size_t k = lmc_names_dup(w->by_name, w->n_ent, entry_name, w->ent);
    if (!k) return 0;
    const lmc_tensor *a = &w->ent[w->by_name[k - 1]].t, *b = &w->ent[w->by_name[k]].t;
    if (a->file == b->file)
        return lmc_fail(err, "%s: duplicate tensor name '%.200s'", lmc_weights_file_path(w, a->file), a->name);
    return lmc_fail(err, "duplicate tensor name '%.200s' in both %s and %s", a->name,
                    lmc_weights_file_path(w, a->file), lmc_weights_file_path(w, b->file));
}

int lmc_weights_finish(lmc_weights *w, lmc_err *err) {
    if (lmc_weights_index(w, err)) { lmc_weights_close(w); return -1; }
    return 0;
}

size_t lmc_weights_owned_bytes(const lmc_weights *w) { return w->owned_bytes; }

/* ---- open ------------------------------------------------------------------------------------- */

/* A GGUF file: its 4-byte magic, or the .gguf name (so that a missing or empty file still gets GGUF's error). */
static bool is_gguf(const char *path) {
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".gguf") == 0) return true;
    char magic[4] = {0};
    FILE *f = lmc_is_dir(path) ? NULL : fopen(path, "rb");
    if (!f) return false;
    bool yes = fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
    fclose(f);
    return yes;
}

static w_entry *find_entry(const lmc_weights *w, const char *name) {
    long i = lmc_names_find(w->by_name, w->n_ent, name, entry_name, w->ent);
    return i < 0 ? NULL : &w->ent[i];
}

/* Marks the tensors a comma-separated "lmc.gguf_layout" list names (see weights.h). */
static void mark_gguf_layout(lmc_weights *w) {
    const char *list = lmc_weights_meta(w, "lmc.gguf_layout");
    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t n = comma ? (size_t)(comma - list) : strlen(list);
        char name[512];
        if (n < sizeof name) {
            memcpy(name, list, n);
            name[n] = 0;
            w_entry *e = find_entry(w, name);
            if (e) e->t.gguf_layout = 1;
        }
        list = comma ? comma + 1 : NULL;
    }
}

int lmc_weights_open(const char *path, lmc_weights **out, lmc_err *err) {
    *out = NULL;
    lmc_weights *w = NULL;
    if (is_gguf(path)) {
        if (lmc_gguf_weights_open(path, &w, err)) return -1;
    } else {
        w = lmc_weights_new(NULL, NULL, NULL);
        if (lmc_st_read(w, path, err)) { lmc_weights_close(w); return -1; }
        if (lmc_weights_finish(w, err)) return -1;
    }
    mark_gguf_layout(w);
    *out = w;
    return 0;
}

/* ---- lookup ---------------------------------------------------------------------------------- */

size_t lmc_weights_count(const lmc_weights *w) { return w->n_ok; }

const lmc_tensor *lmc_weights_at(const lmc_weights *w, size_t i) {
    return i < w->n_ok ? &w->ent[w->ok_idx[i]].t : NULL;
}

int lmc_weights_file_of(const lmc_weights *w, const char *name) {
    const w_entry *e = find_entry(w, name);
    return e ? e->t.file : -1;
}

/* The stored name `name` stands for through a __metadata__ alias, or NULL. */
static const char *alias_of(const lmc_weights *w, const char *name) {
    for (int i = 0; i < w->n_files; i++)
        for (size_t k = 0; k < w->files[i].n_meta; k++)
            if (strcmp(w->files[i].meta[k].key, name) == 0 && find_entry(w, w->files[i].meta[k].val))
                return w->files[i].meta[k].val;
    return NULL;
}

static const w_entry *find_or_alias(const lmc_weights *w, const char *name) {
    const w_entry *e = find_entry(w, name);
    if (!e) {
        const char *target = alias_of(w, name);
        if (target) e = find_entry(w, target);
    }
    return e;
}

const lmc_tensor *lmc_weights_find(const lmc_weights *w, const char *name) {
    const w_entry *e = find_or_alias(w, name);
    return e && e->ok ? &e->t : NULL;
}

const lmc_tensor *lmc_weights_get(const lmc_weights *w, const char *name, lmc_err *err) {
    const w_entry *e = find_or_alias(w, name);
    if (!e) {
        lmc_fail(err, "%s%s: no tensor '%.200s'", w->n_files ? w->files[0].path : "weights",
                 w->n_files > 1 ? " (and other shards)" : "", name);
        return NULL;
    }
    if (!e->ok) {
        lmc_fail(err, "%s: tensor '%.200s' has dtype %s, not supported (lmc reads F32, BF16, F16; from GGUF also "
                 "Q8_0, Q4_0, Q5_0, Q4_K, Q6_K)",
                 lmc_weights_file_path(w, e->t.file), e->t.name, e->dtype_name);
        return NULL;
    }
    return &e->t;
}

size_t lmc_weights_unsupported_count(const lmc_weights *w) { return w->n_bad; }

const char *lmc_weights_unsupported_at(const lmc_weights *w, size_t i, const char **dtype) {
    if (i >= w->n_bad) return NULL;
    const w_entry *e = &w->ent[w->bad_idx[i]];
    if (dtype) *dtype = e->dtype_name;
    return e->t.name;
}

size_t lmc_weights_total_bytes(const lmc_weights *w) {
    size_t s = 0;
    for (size_t i = 0; i < w->n_ok; i++) s += w->ent[w->ok_idx[i]].t.nbytes;
    return s;
}

const char *lmc_weights_meta(const lmc_weights *w, const char *key) {
    if (!w->n_files) return NULL;
    const w_file *f = &w->files[0];
    for (size_t k = 0; k < f->n_meta; k++)
        if (strcmp(f->meta[k].key, key) == 0) return f->meta[k].val;
    return NULL;
}

size_t lmc_weights_meta_count(const lmc_weights *w) { return w->n_files ? w->files[0].n_meta : 0; }

const char *lmc_weights_meta_at(const lmc_weights *w, size_t i, const char **value) {
    if (!w->n_files || i >= w->files[0].n_meta) return NULL;
    if (value) *value = w->files[0].meta[i].val;
    return w->files[0].meta[i].key;
}

const char *lmc_weights_file_path(const lmc_weights *w, int file) {
    return file >= 0 && file < w->n_files ? w->files[file].path : "?";
}
