/* safetensors.c — reads safetensors checkpoints as named, mmapped tensor views, and writes them.
 *
 * File layout (https://github.com/huggingface/safetensors):
 *     u64 little-endian N | N bytes of JSON header | data section
 * The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} with offsets relative
 * to the data section, plus an optional "__metadata__" object of string → string.
 *
 * Reading never copies tensor data: a file is mmapped read-only once and every lmc_tensor points into it.
 * Only the header is copied (into a NUL-terminated buffer, so that the JSON parser can never read past it,
 * whatever bytes a corrupt or fuzzed file holds).
 *
 * Sections: dtypes · the weights object · one file's header · directories and sharded indexes · lookup ·
 * the writer. */
#include "model/safetensors.h"
#include "model/filekind.h"

#include "dequant.h"
#include "kernels.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tensor bytes are used as native floats: this file assumes a little-endian host, as the format is. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "lmc reads little-endian tensor data natively");

/* The Rust reference implementation refuses headers above 100 MB; so do we. A real header is a few KB, or a
 * few tens of MB for a file from `lmc convert` that embeds a large tokenizer. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

/* Integers in the header come through cJSON as doubles: exact up to 2^53, which bounds any offset. */
#define ST_MAX_INT ((uint64_t)1 << 53)

/* ---- dtypes ---------------------------------------------------------------------------------- */

/* Per dtype: element bytes (0: block-quantized), block length and bytes, and the ggml type that widens it. */
static const struct { const char *name; size_t size; int64_t block; size_t block_bytes; int ggml; } DTYPES[] = {
    [LMC_F32] = {"F32", 4, 1, 4, LMC_GGML_F32},          [LMC_BF16] = {"BF16", 2, 1, 2, LMC_GGML_BF16},
    [LMC_F16] = {"F16", 2, 1, 2, LMC_GGML_F16},          [LMC_Q8_0] = {"Q8_0", 0, 32, 34, LMC_GGML_Q8_0},
    [LMC_Q4_0] = {"Q4_0", 0, 32, 18, LMC_GGML_Q4_0},     [LMC_Q4_K] = {"Q4_K", 0, 256, 144, LMC_GGML_Q4_K},
    [LMC_Q6_K] = {"Q6_K", 0, 256, 210, LMC_GGML_Q6_K},   [LMC_Q5_0] = {"Q5_0", 0, 32, 22, LMC_GGML_Q5_0},
};

static bool dtype_known(lmc_dtype dt) { return (unsigned)dt < LMC_N_DTYPES; }

size_t lmc_dtype_size(lmc_dtype dt) { return dtype_known(dt) ? DTYPES[dt].size : 0; }

const char *lmc_dtype_name(lmc_dtype dt) { return dtype_known(dt) ? DTYPES[dt].name : "?"; }

int lmc_dtype_quantized(lmc_dtype dt) { return dtype_known(dt) && DTYPES[dt].size == 0; }

size_t lmc_dtype_bytes(lmc_dtype dt, int64_t n) {
    if (!dtype_known(dt)) return 0;
    return (size_t)(n / DTYPES[dt].block) * DTYPES[dt].block_bytes;
}

void lmc_dtype_to_f32(lmc_dtype dt, const void *src, float *dst, int64_t n) {
    switch (dt) {
    case LMC_F32: memcpy(dst, src, sizeof(float) * (size_t)n); break;
    case LMC_BF16: bf16_to_f32(dst, src, (size_t)n); break;
    case LMC_F16: f16_to_f32(dst, src, (size_t)n); break;
    default: lmc_dequant(DTYPES[dt].ggml, src, dst, n); break; /* whole blocks: cannot fail */
    }
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

/* Every dtype the safetensors format defines with a whole-byte element. `lmc` is the lmc_dtype for the three
 * lmc computes with, -1 for the others (validated, then set aside: see safetensors.h). Sub-byte dtypes
 * (F4, F6_*) have no whole-byte size and are rejected as unknown. */
static const struct { const char *name; int size; int lmc; } ST_DTYPES[] = {
    {"F32", 4, LMC_F32}, {"BF16", 2, LMC_BF16}, {"F16", 2, LMC_F16},
    {"F64", 8, -1},      {"I64", 8, -1},        {"U64", 8, -1},      {"I32", 4, -1},     {"U32", 4, -1},
    {"I16", 2, -1},      {"U16", 2, -1},        {"I8", 1, -1},       {"U8", 1, -1},      {"BOOL", 1, -1},
    {"F8_E4M3", 1, -1},  {"F8_E5M2", 1, -1},    {"F8_E8M0", 1, -1},
};

static int st_dtype_lookup(const char *name) {
    for (int i = 0; i < (int)(sizeof ST_DTYPES / sizeof ST_DTYPES[0]); i++)
        if (strcmp(name, ST_DTYPES[i].name) == 0) return i;
    return -1;
}

/* ---- the weights object ---------------------------------------------------------------------- */

typedef struct st_meta { char *key, *val; } st_meta;

typedef struct st_file {
    char    *path;
    uint8_t *map;      /* the whole file, PROT_READ, MAP_PRIVATE; NULL for an empty mapping */
    size_t   size;
    size_t   data_off; /* 8 + header length: where the data section starts */
    st_meta *meta;
    size_t   n_meta;
} st_file;

/* One header entry. Entries of supported dtype carry a complete lmc_tensor; the others only their name, dtype
 * name and shape (so that they can still be named in errors and listed). */
typedef struct st_entry {
    lmc_tensor  t;
    const char *st_dtype; /* static string from ST_DTYPES */
    bool        ok;       /* dtype is one lmc computes with */
} st_entry;

struct lmc_weights {
    st_file  *files;
    int       n_files;
    st_entry *ent;       /* file order, then data-offset order within a file */
    size_t    n_ent, cap_ent;
    size_t   *ok_idx;    /* indices of entries with ok, in ent order: what count/at enumerate */
    size_t    n_ok;
    size_t   *bad_idx;   /* indices of entries without ok */
    size_t    n_bad;
    size_t   *by_name;   /* indices of all entries, sorted by name: lookup */
    /* weights held elsewhere (lmc_weights_new): the reader that owns the memory, and copies made while adapting */
    void     *owner;
    void    (*release)(void *owner);
    void    **owned;     /* (n_owned) malloc'ed tensor data */
    size_t    n_owned, owned_bytes;
};

void lmc_weights_close(lmc_weights *w) {
    if (!w) return;
    for (int i = 0; i < w->n_files; i++) {
        st_file *f = &w->files[i];
        if (f->map) munmap(f->map, f->size);
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

static st_entry *push_entry(lmc_weights *w) {
    if (w->n_ent == w->cap_ent) {
        w->cap_ent = w->cap_ent ? 2 * w->cap_ent : 64;
        w->ent = lmc_xrealloc(w->ent, w->cap_ent * sizeof *w->ent);
    }
    st_entry *e = &w->ent[w->n_ent++];
    memset(e, 0, sizeof *e);
    return e;
}

/* ---- one file's header ----------------------------------------------------------------------- */

/* A JSON number that is a non-negative integer ≤ max. */
static bool json_uint(const cJSON *v, uint64_t max, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d > (double)max || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

/* A header entry as parsed, before it is placed: [begin, end) within the data section. */
typedef struct st_raw {
    const char *name; /* points into the cJSON tree */
    int         dt;   /* index into ST_DTYPES */
    int         ndim;
    int64_t     shape[4];
    uint64_t    numel, begin, end;
} st_raw;

static int cmp_raw_begin(const void *a, const void *b) {
    const st_raw *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Validates one tensor entry {"dtype", "shape", "data_offsets"} against a data section of data_len bytes. */
static int parse_entry(const char *path, const cJSON *item, uint64_t data_len, st_raw *r, lmc_err *err) {
    const char *name = item->string;
    r->name = name;
    if (!cJSON_IsObject(item))
        return lmc_fail(err, "%s: tensor '%.200s': header entry is not a JSON object", path, name);

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dt))
        return lmc_fail(err, "%s: tensor '%.200s': missing or non-string dtype", path, name);
    r->dt = st_dtype_lookup(dt->valuestring);
    if (r->dt < 0)
        return lmc_fail(err, "%s: tensor '%.200s': unknown dtype '%.40s' not supported", path, name,
                        dt->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape))
        return lmc_fail(err, "%s: tensor '%.200s': shape must be a list of non-negative integers", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > 4)
        return lmc_fail(err, "%s: tensor '%.200s': %d dimensions, lmc supports at most 4", path, name, ndim);
    r->ndim = ndim;
    r->numel = 1;
    int k = 0;
    for (const cJSON *d = shape->child; d; d = d->next, k++) {
        uint64_t v;
        if (!json_uint(d, ST_MAX_INT, &v))
            return lmc_fail(err, "%s: tensor '%.200s': shape must be a list of non-negative integers", path,
                            name);
        r->shape[k] = (int64_t)v;
        if (v && r->numel > ST_MAX_INT / v)
            return lmc_fail(err, "%s: tensor '%.200s': shape too large", path, name);
        r->numel *= v;
    }

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, ST_MAX_INT, &r->begin) ||
        !json_uint(off->child->next, ST_MAX_INT, &r->end))
        return lmc_fail(err, "%s: tensor '%.200s': data_offsets must be two non-negative integers", path, name);
    if (r->begin > r->end)
        return lmc_fail(err, "%s: tensor '%.200s': data_offsets [%llu, %llu] are reversed", path, name,
                        (unsigned long long)r->begin, (unsigned long long)r->end);

    uint64_t want = r->numel * (uint64_t)ST_DTYPES[r->dt].size; /* numel < 2^53, size ≤ 8: no overflow */
    if (r->end - r->begin != want)
        return lmc_fail(err, "%s: tensor '%.200s': byte size mismatch: data_offsets span %llu bytes but "
                        "shape × %s needs %llu", path, name, (unsigned long long)(r->end - r->begin),
                        ST_DTYPES[r->dt].name, (unsigned long long)want);
    if (r->end > data_len)
        return lmc_fail(err, "%s: tensor '%.200s': data_offsets [%llu, %llu] reach beyond the data section "
                        "(%llu bytes; file truncated?)", path, name, (unsigned long long)r->begin,
                        (unsigned long long)r->end, (unsigned long long)data_len);
    return 0;
}

static int parse_metadata(st_file *f, const cJSON *meta, lmc_err *err) {
    if (!cJSON_IsObject(meta)) return lmc_fail(err, "%s: __metadata__ is not a JSON object", f->path);
    int n = cJSON_GetArraySize(meta);
    f->meta = lmc_xcalloc((size_t)n, sizeof *f->meta);
    for (const cJSON *m = meta->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            return lmc_fail(err, "%s: __metadata__ value of '%.200s' is not a string", f->path, m->string);
        f->meta[f->n_meta].key = lmc_xstrdup(m->string);
        f->meta[f->n_meta].val = lmc_xstrdup(m->valuestring);
        f->n_meta++;
    }
    return 0;
}

/* Parses the header of file `fi` (already mapped) and appends its entries to w, in data-offset order. */
static int parse_header(lmc_weights *w, int fi, lmc_err *err) {
    st_file *f = &w->files[fi];
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)f->map[i] << (8 * i);
    if (hlen > ST_MAX_HEADER)
        return lmc_fail(err, "%s: header length %llu is implausible (limit %llu bytes): not a safetensors file?",
                        f->path, (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return lmc_fail(err, "%s: header length %llu exceeds the file size (%zu bytes): truncated or not a "
                        "safetensors file", f->path, (unsigned long long)hlen, f->size);
    f->data_off = 8 + (size_t)hlen;
    uint64_t data_len = f->size - f->data_off;

    /* Copy into a NUL-terminated buffer: cJSON then cannot read past the header, whatever its bytes. */
    char *text = lmc_xmalloc((size_t)hlen + 1);
    memcpy(text, f->map + 8, (size_t)hlen);
    text[hlen] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, 0);
    int rc = 0;
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        rc = lmc_fail(err, "%s: header is not valid JSON (near byte %zu of %llu)", f->path, at,
                      (unsigned long long)hlen);
        goto out;
    }
    for (const char *p = end; p < text + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = lmc_fail(err, "%s: header is not valid JSON: trailing bytes after the object", f->path);
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        rc = lmc_fail(err, "%s: header is not a JSON object", f->path);
        goto out;
    }

    int n = cJSON_GetArraySize(root);
    st_raw *raw = lmc_xcalloc((size_t)n, sizeof *raw);
    int nr = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (f->meta) { rc = lmc_fail(err, "%s: duplicate __metadata__", f->path); break; }
            if ((rc = parse_metadata(f, item, err))) break;
            continue;
        }
        if ((rc = parse_entry(f->path, item, data_len, &raw[nr], err))) break;
        nr++;
    }

    /* Non-empty byte ranges must not overlap. Sorting by begin makes it a check of neighbours. */
    if (!rc) {
        qsort(raw, (size_t)nr, sizeof *raw, cmp_raw_begin);
        const st_raw *prev = NULL;
        for (int i = 0; i < nr && !rc; i++) {
            if (raw[i].begin == raw[i].end) continue;
            if (prev && raw[i].begin < prev->end)
                rc = lmc_fail(err, "%s: tensors '%.200s' and '%.200s' overlap (bytes [%llu, %llu) and [%llu, %llu))",
                              f->path, prev->name, raw[i].name, (unsigned long long)prev->begin,
                              (unsigned long long)prev->end, (unsigned long long)raw[i].begin,
                              (unsigned long long)raw[i].end);
            prev = &raw[i];
        }
    }

    for (int i = 0; i < nr && !rc; i++) {
        st_entry *e = push_entry(w);
        const st_raw *r = &raw[i];
        e->st_dtype = ST_DTYPES[r->dt].name;
        e->ok = ST_DTYPES[r->dt].lmc >= 0;
        e->t.name = lmc_xstrdup(r->name);
        e->t.dtype = e->ok ? (lmc_dtype)ST_DTYPES[r->dt].lmc : LMC_F32;
        e->t.ndim = r->ndim;
        memcpy(e->t.shape, r->shape, sizeof r->shape);
        e->t.numel = (int64_t)r->numel;
        e->t.data = f->map + f->data_off + r->begin;
        e->t.nbytes = (size_t)(r->end - r->begin);
        e->t.file = fi;
    }
    free(raw);
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* Maps `path` and appends it (and its entries) to w. */
static int open_file(lmc_weights *w, const char *path, lmc_err *err) {
    w->files = lmc_xrealloc(w->files, (size_t)(w->n_files + 1) * sizeof *w->files);
    st_file *f = &w->files[w->n_files];
    memset(f, 0, sizeof *f);
    f->path = lmc_xstrdup(path);
    w->n_files++;

    int fd = open(path, O_RDONLY);
    if (fd < 0) return lmc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lmc_fail(err, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return lmc_fail(err, "%s: file is %lld bytes, shorter than the 8-byte safetensors header length",
                        path, (long long)st.st_size);
    }
    f->size = (size_t)st.st_size;
    void *map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED) return lmc_fail(err, "%s: cannot mmap: %s", path, strerror(e));
    f->map = map;
    return parse_header(w, w->n_files - 1, err);
}

/* ---- directories and sharded indexes --------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A shard name must be a plain file name beside the index: no path separators, no "." or "..". */
static bool plain_file_name(const char *s) {
    return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int build_index(lmc_weights *w, lmc_err *err);
static const st_entry *find_entry(const lmc_weights *w, const char *name);

/* Opens every shard the index names, builds the name index, and checks the index against the shards. */
static int open_sharded(lmc_weights *w, const char *dir, const char *index, lmc_err *err) {
    char *text;
    size_t len;
    if (lmc_read_file(index, &text, &len, err)) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return lmc_fail(err, "%s: not valid JSON with a \"weight_map\" object", index);
    }

    /* The distinct shard names, sorted: shard order (and so "first file") is deterministic. */
    int n = cJSON_GetArraySize(map), ns = 0, rc = 0;
    char **shards = lmc_xcalloc((size_t)n, sizeof *shards);
    for (const cJSON *m = map->child; m; m = m->next) {
        if (!cJSON_IsString(m) || !plain_file_name(m->valuestring)) {
            rc = lmc_fail(err, "%s: weight_map entry '%.200s' must name a shard file in the same directory",
                          index, m->string);
            goto out;
        }
        shards[ns++] = m->valuestring;
    }
    if (ns == 0) { rc = lmc_fail(err, "%s: weight_map is empty", index); goto out; }
    qsort(shards, (size_t)ns, sizeof *shards, cmp_str);
    int nu = 0;
    for (int i = 0; i < ns; i++)
        if (nu == 0 || strcmp(shards[nu - 1], shards[i]) != 0) shards[nu++] = shards[i];

    char path[4096];
    for (int i = 0; i < nu && !rc; i++) {
        lmc_path_join(path, sizeof path, dir, shards[i]);
        if (!lmc_file_exists(path)) rc = lmc_fail(err, "%s: shard file %s is missing", index, path);
    }
    for (int i = 0; i < nu && !rc; i++) rc = open_file(w, lmc_path_join(path, sizeof path, dir, shards[i]), err);
    if (rc) goto out;

    /* Every mapped tensor must be where the index says. (Tensors the index omits are kept: harmless.) */
    if ((rc = build_index(w, err))) goto out;
    for (const cJSON *m = map->child; m && !rc; m = m->next) {
        const st_entry *e = find_entry(w, m->string);
        if (!e) {
            rc = lmc_fail(err, "%s: tensor '%.200s' is mapped to %s but that shard does not hold it", index,
                          m->string, m->valuestring);
            break;
        }
        const char *stored = w->files[e->t.file].path;
        const char *base = strrchr(stored, '/');
        if (strcmp(base ? base + 1 : stored, m->valuestring) != 0)
            rc = lmc_fail(err, "%s: tensor '%.200s' is mapped to %s but stored in %s", index, m->string,
                          m->valuestring, stored);
    }
out:
    free(shards);
    cJSON_Delete(root);
    return rc;
}

static int cmp_entry_name_ctx(const void *a, const void *b, void *ctx) {
    const st_entry *ent = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(ent[i].t.name, ent[j].t.name);
    return c ? c : (i < j ? -1 : i > j);
}

/* Builds the enumeration and lookup indexes; fails on a name stored twice (in one file or across shards). */
static int build_index(lmc_weights *w, lmc_err *err) {
    w->by_name = lmc_xmalloc((w->n_ent ? w->n_ent : 1) * sizeof *w->by_name);
    w->ok_idx = lmc_xmalloc((w->n_ent ? w->n_ent : 1) * sizeof *w->ok_idx);
    w->bad_idx = lmc_xmalloc((w->n_ent ? w->n_ent : 1) * sizeof *w->bad_idx);
    for (size_t i = 0; i < w->n_ent; i++) {
        w->by_name[i] = i;
        if (w->ent[i].ok) w->ok_idx[w->n_ok++] = i;
        else w->bad_idx[w->n_bad++] = i;
    }
    qsort_r(w->by_name, w->n_ent, sizeof *w->by_name, cmp_entry_name_ctx, w->ent);
    for (size_t k = 1; k < w->n_ent; k++) {
        const lmc_tensor *a = &w->ent[w->by_name[k - 1]].t, *b = &w->ent[w->by_name[k]].t;
        if (strcmp(a->name, b->name) != 0) continue;
        if (a->file == b->file)
            return lmc_fail(err, "%s: duplicate tensor name '%.200s'", w->files[a->file].path, a->name);
        return lmc_fail(err, "duplicate tensor name '%.200s' in both %s and %s", a->name,
                        w->files[a->file].path, w->files[b->file].path);
    }
    return 0;
}

static st_entry *find_entry_mut(lmc_weights *w, const char *name);

/* A file `lmc convert` wrote from a GGUF keeps llama.cpp's layout of some tensors (GPT-2's Conv1D already
 * [out, in], fused QKV already [Q | K | V]); "lmc.gguf_layout" lists them, comma-separated, so that the loader
 * treats them as it treats the GGUF's own (lmc_tensor.gguf_layout). */
static void mark_gguf_layout(lmc_weights *w) {
    const char *list = lmc_weights_meta(w, "lmc.gguf_layout");
    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t n = comma ? (size_t)(comma - list) : strlen(list);
        char name[512];
        if (n < sizeof name) {
            memcpy(name, list, n);
            name[n] = 0;
            st_entry *e = find_entry_mut(w, name);
            if (e) e->t.gguf_layout = 1;
        }
        list = comma ? comma + 1 : NULL;
    }
}

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

int lmc_weights_open(const char *path, lmc_weights **out, lmc_err *err) {
    *out = NULL;
    if (is_gguf(path)) return lmc_gguf_weights_open(path, out, err);
    lmc_weights *w = lmc_xcalloc(1, sizeof *w);
    int rc;
    if (lmc_is_dir(path)) {
        char single[4096], index[4096];
        lmc_path_join(single, sizeof single, path, "model.safetensors");
        lmc_path_join(index, sizeof index, path, "model.safetensors.index.json");
        if (lmc_file_exists(single)) rc = open_file(w, single, err);
        else if (lmc_file_exists(index)) rc = open_sharded(w, path, index, err); /* builds the index */
        else {
            char other[4096];
            bool pt = lmc_file_exists(lmc_path_join(other, sizeof other, path, "pytorch_model.bin")) ||
                      lmc_file_exists(lmc_path_join(other, sizeof other, path, "pytorch_model.bin.index.json"));
            char hint[4400];
            rc = lmc_fail(err, "%s: no model.safetensors or model.safetensors.index.json%s", path,
                          pt ? " (PyTorch .bin weights are not supported: save them as safetensors)"
                             : lmc_model_dir_hint(path, hint, sizeof hint));
        }
    } else if (strlen(path) > 11 && strcmp(path + strlen(path) - 11, ".index.json") == 0) {
        char dir[4096];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        rc = open_sharded(w, dir, path, err);
    } else {
        rc = lmc_refuse_non_weights(path, err) ? -1 : open_file(w, path, err);
    }
    if (!rc && !w->by_name) rc = build_index(w, err);
    if (rc) { lmc_weights_close(w); return -1; }
    mark_gguf_layout(w);
    *out = w;
    return 0;
}

/* ---- weights held elsewhere ------------------------------------------------------------------- */

lmc_weights *lmc_weights_new(const char *path, void *owner, void (*release)(void *owner)) {
    lmc_weights *w = lmc_xcalloc(1, sizeof *w);
    w->files = lmc_xcalloc(1, sizeof *w->files);
    w->n_files = 1;
    w->files[0].path = lmc_xstrdup(path);
    w->owner = owner;
    w->release = release;
    return w;
}

void lmc_weights_add(lmc_weights *w, const lmc_tensor *t, void *owned) {
    st_entry *e = push_entry(w);
    e->t = *t;
    e->t.name = lmc_xstrdup(t->name);
    e->t.file = 0;
    e->st_dtype = lmc_dtype_name(t->dtype);
    e->ok = true;
    if (!owned) return;
    w->owned = lmc_xrealloc(w->owned, (w->n_owned + 1) * sizeof *w->owned);
    w->owned[w->n_owned++] = owned;
    w->owned_bytes += t->nbytes;
}

void lmc_weights_add_unsupported(lmc_weights *w, const char *name, const char *dtype_name) {
    st_entry *e = push_entry(w);
    e->t.name = lmc_xstrdup(name);
    e->st_dtype = dtype_name;
}

void lmc_weights_set_meta(lmc_weights *w, const char *key, const char *value) {
    st_file *f = &w->files[0];
    f->meta = lmc_xrealloc(f->meta, (f->n_meta + 1) * sizeof *f->meta);
    f->meta[f->n_meta++] = (st_meta){lmc_xstrdup(key), lmc_xstrdup(value)};
}

int lmc_weights_finish(lmc_weights *w, lmc_err *err) {
    if (build_index(w, err)) { lmc_weights_close(w); return -1; }
    return 0;
}

size_t lmc_weights_owned_bytes(const lmc_weights *w) { return w->owned_bytes; }

/* ---- lookup ---------------------------------------------------------------------------------- */

size_t lmc_weights_count(const lmc_weights *w) { return w->n_ok; }

const lmc_tensor *lmc_weights_at(const lmc_weights *w, size_t i) {
    return i < w->n_ok ? &w->ent[w->ok_idx[i]].t : NULL;
}

static const st_entry *find_entry(const lmc_weights *w, const char *name) {
    size_t lo = 0, hi = w->n_ent;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(w->ent[w->by_name[mid]].t.name, name);
        if (c == 0) return &w->ent[w->by_name[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* The stored name `name` stands for through a __metadata__ alias, or NULL. */
static st_entry *find_entry_mut(lmc_weights *w, const char *name) { return (st_entry *)find_entry(w, name); }

static const char *alias_of(const lmc_weights *w, const char *name) {
    for (int i = 0; i < w->n_files; i++)
        for (size_t k = 0; k < w->files[i].n_meta; k++)
            if (strcmp(w->files[i].meta[k].key, name) == 0 && find_entry(w, w->files[i].meta[k].val))
                return w->files[i].meta[k].val;
    return NULL;
}

static const st_entry *find_or_alias(const lmc_weights *w, const char *name) {
    const st_entry *e = find_entry(w, name);
    if (!e) {
        const char *target = alias_of(w, name);
        if (target) e = find_entry(w, target);
    }
    return e;
}

const lmc_tensor *lmc_weights_find(const lmc_weights *w, const char *name) {
    const st_entry *e = find_or_alias(w, name);
    return e && e->ok ? &e->t : NULL;
}

const lmc_tensor *lmc_weights_get(const lmc_weights *w, const char *name, lmc_err *err) {
    const st_entry *e = find_or_alias(w, name);
    const char *where = w->n_files ? w->files[0].path : "weights";
    if (!e) {
        lmc_fail(err, "%s%s: no tensor '%.200s'", where, w->n_files > 1 ? " (and other shards)" : "", name);
        return NULL;
    }
    if (!e->ok) {
        lmc_fail(err, "%s: tensor '%.200s' has dtype %s, not supported (lmc reads F32, BF16, F16; from GGUF also "
                 "Q8_0, Q4_0, Q5_0, Q4_K, Q6_K)",
                 w->files[e->t.file].path, e->t.name, e->st_dtype);
        return NULL;
    }
    return &e->t;
}

size_t lmc_weights_unsupported_count(const lmc_weights *w) { return w->n_bad; }

const char *lmc_weights_unsupported_at(const lmc_weights *w, size_t i, const char **dtype) {
    if (i >= w->n_bad) return NULL;
    const st_entry *e = &w->ent[w->bad_idx[i]];
    if (dtype) *dtype = e->st_dtype;
    return e->t.name;
}

size_t lmc_weights_total_bytes(const lmc_weights *w) {
    size_t s = 0;
    for (size_t i = 0; i < w->n_ok; i++) s += w->ent[w->ok_idx[i]].t.nbytes;
    return s;
}

const char *lmc_weights_meta(const lmc_weights *w, const char *key) {
    if (!w->n_files) return NULL;
    const st_file *f = &w->files[0];
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

/* ---- the writer ------------------------------------------------------------------------------ */

/* JSON string literal of s (UTF-8 passes through; quotes, backslashes and control bytes are escaped). */
static void json_string(lmc_buf *b, const char *s) {
    lmc_buf_append(b, "\"", 1);
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != 0 && c != '"' && c != '\\' && c >= 0x20) continue;
        lmc_buf_append(b, run, (size_t)(p - run));
        if (c == 0) break;
        if (c == '"') lmc_buf_append(b, "\\\"", 2);
        else if (c == '\\') lmc_buf_append(b, "\\\\", 2);
        else if (c == '\n') lmc_buf_append(b, "\\n", 2);
        else if (c == '\t') lmc_buf_append(b, "\\t", 2);
        else if (c == '\r') lmc_buf_append(b, "\\r", 2);
        else lmc_buf_printf(b, "\\u%04x", c);
        run = p + 1;
    }
    lmc_buf_append(b, "\"", 1);
}

static int64_t entry_numel(const lmc_st_entry *e) {
    int64_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= e->shape[d];
    return n;
}

static int cmp_entry_ptr_name(const void *a, const void *b) {
    return strcmp((*(const lmc_st_entry *const *)a)->name, (*(const lmc_st_entry *const *)b)->name);
}

/* Checks the entries and builds the header JSON, padded with spaces to a multiple of 8. */
static int build_header(const char *path, const lmc_st_entry *t, size_t n, const char *const *meta_kv,
                        size_t n_meta, lmc_buf *h, lmc_err *err) {
    for (size_t i = 0; i < n; i++) {
        const lmc_st_entry *e = &t[i];
        if (!e->name || strcmp(e->name, "__metadata__") == 0)
            return lmc_fail(err, "%s: invalid tensor name", path);
        if (e->ndim < 0 || e->ndim > 4 || !lmc_dtype_size(e->dtype) || !dtype_known(e->src_dtype))
            return lmc_fail(err, "%s: tensor '%.200s': bad ndim or dtype", path, e->name);
        int64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0 || (e->shape[d] && numel > (INT64_C(1) << 53) / e->shape[d]))
                return lmc_fail(err, "%s: tensor '%.200s': bad shape", path, e->name);
            numel *= e->shape[d];
        }
        if (numel > 0 && !e->src)
            return lmc_fail(err, "%s: tensor '%.200s': no source data", path, e->name);
        if (numel % DTYPES[e->src_dtype].block)
            return lmc_fail(err, "%s: tensor '%.200s': %lld elements are not whole %s blocks", path, e->name,
                            (long long)numel, lmc_dtype_name(e->src_dtype));
    }
    const lmc_st_entry **sorted = lmc_xmalloc((n ? n : 1) * sizeof *sorted);
    for (size_t i = 0; i < n; i++) sorted[i] = &t[i];
    qsort(sorted, n, sizeof *sorted, cmp_entry_ptr_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
            int rc = lmc_fail(err, "%s: duplicate tensor name '%.200s'", path, sorted[i]->name);
            free(sorted);
            return rc;
        }
    free(sorted);
    for (size_t i = 0; i < n_meta; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(meta_kv[2 * i], meta_kv[2 * j]) == 0)
                return lmc_fail(err, "%s: duplicate __metadata__ key '%.200s'", path, meta_kv[2 * i]);

    lmc_buf_append(h, "{", 1);
    if (n_meta) {
        lmc_buf_append(h, "\"__metadata__\":{", 16);
        for (size_t i = 0; i < n_meta; i++) {
            if (i) lmc_buf_append(h, ",", 1);
            json_string(h, meta_kv[2 * i]);
            lmc_buf_append(h, ":", 1);
            json_string(h, meta_kv[2 * i + 1]);
        }
        lmc_buf_append(h, "}", 1);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const lmc_st_entry *e = &t[i];
        uint64_t nbytes = (uint64_t)entry_numel(e) * lmc_dtype_size(e->dtype);
        if (n_meta || i) lmc_buf_append(h, ",", 1);
        json_string(h, e->name);
        lmc_buf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", lmc_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) lmc_buf_printf(h, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        lmc_buf_printf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                       (unsigned long long)(off + nbytes));
        off += nbytes;
    }
    lmc_buf_append(h, "}", 1);
    while (h->len % 8) lmc_buf_append(h, " ", 1);
    if (h->len > ST_MAX_HEADER)
        return lmc_fail(err, "%s: header would be %zu bytes, above the %llu-byte limit readers accept", path,
                        h->len, (unsigned long long)ST_MAX_HEADER);
    return 0;
}

static int write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Conversion buffers, CHUNK elements each. The source may be unaligned (a tensor in someone else's file):
 * it is then copied into `raw` first, so the kernels always see aligned arrays. */
#define CHUNK ((size_t)1 << 20)
typedef struct conv_bufs {
    void     *raw; /* CHUNK × 4 bytes */
    float    *f;   /* CHUNK floats */
    uint16_t *h;   /* CHUNK halves */
} conv_bufs;

/* Writes one tensor's numel elements of e->src as e->dtype; returns 0 or an errno value. */
static int write_tensor(int fd, const lmc_st_entry *e, size_t numel, conv_bufs *cb) {
    size_t ss = lmc_dtype_size(e->src_dtype);
    if (e->dtype == e->src_dtype) return write_all(fd, e->src, numel * ss);
    for (size_t at = 0; at < numel; at += CHUNK) { /* CHUNK is a whole number of every block */
        size_t k = numel - at < CHUNK ? numel - at : CHUNK;
        const void *s = (const char *)e->src + lmc_dtype_bytes(e->src_dtype, (int64_t)at);
        if (ss && (uintptr_t)s % ss) { memcpy(cb->raw, s, k * ss); s = cb->raw; }
        /* widen to f32 (exact, or ggml's dequantization), then narrow if needed (round to nearest even) */
        const float *f;
        if (e->src_dtype == LMC_F32) f = s;
        else { lmc_dtype_to_f32(e->src_dtype, s, cb->f, (int64_t)k); f = cb->f; }
        int rc;
        if (e->dtype == LMC_F32) rc = write_all(fd, f, k * 4);
        else {
            if (e->dtype == LMC_BF16) f32_to_bf16(cb->h, f, k);
            else f32_to_f16(cb->h, f, k);
            rc = write_all(fd, cb->h, k * 2);
        }
        if (rc) return rc;
    }
    return 0;
}

int lmc_st_write(const char *path, const lmc_st_entry *tensors, size_t n, const char *const *meta_kv,
                 size_t n_meta, lmc_err *err) {
    lmc_buf h = {0};
    if (build_header(path, tensors, n, meta_kv, n_meta, &h, err)) { lmc_buf_free(&h); return -1; }

    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        lmc_buf_free(&h);
        return lmc_fail(err, "%.200s...: path too long", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int e = errno;
        lmc_buf_free(&h);
        return lmc_fail(err, "%s: cannot create: %s", tmp, strerror(e));
    }
    conv_bufs cb = {malloc(CHUNK * 4), malloc(CHUNK * sizeof(float)), malloc(CHUNK * sizeof(uint16_t))};
    int rc = (!cb.raw || !cb.f || !cb.h) ? ENOMEM : 0;

    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    if (!rc) rc = write_all(fd, len8, 8);
    if (!rc) rc = write_all(fd, h.p, h.len);
    for (size_t i = 0; i < n && !rc; i++) rc = write_tensor(fd, &tensors[i], (size_t)entry_numel(&tensors[i]), &cb);
    if (!rc && fsync(fd) != 0) rc = errno;
    if (close(fd) != 0 && !rc) rc = errno;
    if (!rc && rename(tmp, path) != 0) rc = errno;
    free(cb.raw);
    free(cb.f);
    free(cb.h);
    lmc_buf_free(&h);
    if (rc) {
        unlink(tmp);
        return lmc_fail(err, "%s: write failed: %s", path, strerror(rc));
    }
    return 0;
}
