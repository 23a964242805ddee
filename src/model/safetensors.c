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
 * The tensors go into an lmc_weights (weights.h), which owns the mappings and does the lookup by name.
 *
 * Sections: dtypes · one file's header · directories and sharded indexes · the writer. */
#include "model/safetensors.h"
#include "model/filekind.h"

#include "kernels.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Tensor bytes are used as native floats: this file assumes a little-endian host, as the format is. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "lmc reads little-endian tensor data natively");

/* The Rust reference implementation refuses headers above 100 MB; so do we. A real header is a few KB, or a
 * few tens of MB for a file from `lmc convert` that embeds a large tokenizer. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

/* Integers in the header come through cJSON as doubles: exact up to 2^53, which bounds any offset. */
#define ST_MAX_INT ((uint64_t)1 << 53)

/* ---- dtypes ---------------------------------------------------------------------------------- */

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

/* The file's __metadata__, as the weights' metadata of the file added last. */
static int parse_metadata(lmc_weights *w, const char *path, const cJSON *meta, lmc_err *err) {
    if (!cJSON_IsObject(meta)) return lmc_fail(err, "%s: __metadata__ is not a JSON object", path);
    for (const cJSON *m = meta->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            return lmc_fail(err, "%s: __metadata__ value of '%.200s' is not a string", path, m->string);
        lmc_weights_set_meta(w, m->string, m->valuestring);
    }
    return 0;
}

/* Adds the tensors of the header's entries (raw, nr) to w, as views into the file's data section. */
static void add_entries(lmc_weights *w, const st_raw *raw, int nr, const uint8_t *data) {
    for (int i = 0; i < nr; i++) {
        const st_raw *r = &raw[i];
        if (ST_DTYPES[r->dt].lmc < 0) {
            lmc_weights_add_unsupported(w, r->name, ST_DTYPES[r->dt].name);
            continue;
        }
        lmc_tensor t = {.name = r->name, .dtype = (lmc_dtype)ST_DTYPES[r->dt].lmc, .ndim = r->ndim,
                        .numel = (int64_t)r->numel, .data = data + r->begin, .nbytes = (size_t)(r->end - r->begin)};
        memcpy(t.shape, r->shape, sizeof r->shape);
        lmc_weights_add(w, &t, NULL);
    }
}

/* Parses the header of the file added last (mapped at f) and adds its entries to w, in data-offset order. */
static int parse_header(lmc_weights *w, const char *path, const lmc_map *f, lmc_err *err) {
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)f->data[i] << (8 * i);
    if (hlen > ST_MAX_HEADER)
        return lmc_fail(err, "%s: header length %llu is implausible (limit %llu bytes): not a safetensors file?",
                        path, (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return lmc_fail(err, "%s: header length %llu exceeds the file size (%zu bytes): truncated or not a "
                        "safetensors file", path, (unsigned long long)hlen, f->size);
    const size_t data_off = 8 + (size_t)hlen;
    uint64_t data_len = f->size - data_off;

    /* Copy into a NUL-terminated buffer: cJSON then cannot read past the header, whatever its bytes. */
    char *text = lmc_xmalloc((size_t)hlen + 1);
    memcpy(text, f->data + 8, (size_t)hlen);
    text[hlen] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, 0);
    int rc = 0;
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        rc = lmc_fail(err, "%s: header is not valid JSON (near byte %zu of %llu)", path, at,
                      (unsigned long long)hlen);
        goto out;
    }
    for (const char *p = end; p < text + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = lmc_fail(err, "%s: header is not valid JSON: trailing bytes after the object", path);
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        rc = lmc_fail(err, "%s: header is not a JSON object", path);
        goto out;
    }

    int n = cJSON_GetArraySize(root);
    st_raw *raw = lmc_xcalloc((size_t)n, sizeof *raw);
    int nr = 0;
    bool meta = false;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (meta) { rc = lmc_fail(err, "%s: duplicate __metadata__", path); break; }
            meta = true;
            if ((rc = parse_metadata(w, path, item, err))) break;
            continue;
        }
        if ((rc = parse_entry(path, item, data_len, &raw[nr], err))) break;
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
                              path, prev->name, raw[i].name, (unsigned long long)prev->begin,
                              (unsigned long long)prev->end, (unsigned long long)raw[i].begin,
                              (unsigned long long)raw[i].end);
            prev = &raw[i];
        }
    }

    if (!rc) add_entries(w, raw, nr, f->data + data_off);
    free(raw);
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* Maps `path` and adds it (and its entries) to w. */
static int open_file(lmc_weights *w, const char *path, lmc_err *err) {
    lmc_map map;
    if (lmc_map_file(path, &map, err)) return -1;
    if (map.size < 8) {
        lmc_unmap(&map);
        return lmc_fail(err, "%s: file is %zu bytes, shorter than the 8-byte safetensors header length", path,
                        map.size);
    }
    lmc_weights_add_file(w, path, map); /* w unmaps it at close */
    return parse_header(w, path, &map, err);
}

/* ---- directories and sharded indexes --------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A shard name must be a plain file name beside the index: no path separators, no "." or "..". */
static bool plain_file_name(const char *s) {
    return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}


/* Opens every shard the index names, indexes the names, and checks the index against the shards. */
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
    if ((rc = lmc_weights_index(w, err))) goto out;
    for (const cJSON *m = map->child; m && !rc; m = m->next) {
        int file = lmc_weights_file_of(w, m->string);
        if (file < 0) {
            rc = lmc_fail(err, "%s: tensor '%.200s' is mapped to %s but that shard does not hold it", index,
                          m->string, m->valuestring);
            break;
        }
        const char *stored = lmc_weights_file_path(w, file);
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

int lmc_st_read(lmc_weights *w, const char *path, lmc_err *err) {
    if (lmc_is_dir(path)) {
        char single[4096], index[4096];
        lmc_path_join(single, sizeof single, path, "model.safetensors");
        lmc_path_join(index, sizeof index, path, "model.safetensors.index.json");
        if (lmc_file_exists(single)) return open_file(w, single, err);
        if (lmc_file_exists(index)) return open_sharded(w, path, index, err);
        char other[4096], hint[4400];
        bool pt = lmc_file_exists(lmc_path_join(other, sizeof other, path, "pytorch_model.bin")) ||
                  lmc_file_exists(lmc_path_join(other, sizeof other, path, "pytorch_model.bin.index.json"));
        return lmc_fail(err, "%s: no model.safetensors or model.safetensors.index.json%s", path,
                        pt ? " (PyTorch .bin weights are not supported: save them as safetensors)"
                           : lmc_model_dir_hint(path, hint, sizeof hint));
    }
    if (strlen(path) > 11 && strcmp(path + strlen(path) - 11, ".index.json") == 0) {
        char dir[4096];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        return open_sharded(w, dir, path, err);
    }
    return lmc_refuse_non_weights(path, err) ? -1 : open_file(w, path, err);
}

/* ---- the writer ------------------------------------------------------------------------------ */

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
        if (e->ndim < 0 || e->ndim > 4 || !lmc_dtype_size(e->dtype) || !lmc_type_traits_of(e->src_dtype))
            return lmc_fail(err, "%s: tensor '%.200s': bad ndim or dtype", path, e->name);
        int64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0 || (e->shape[d] && numel > (INT64_C(1) << 53) / e->shape[d]))
                return lmc_fail(err, "%s: tensor '%.200s': bad shape", path, e->name);
            numel *= e->shape[d];
        }
        if (numel > 0 && !e->src)
            return lmc_fail(err, "%s: tensor '%.200s': no source data", path, e->name);
        if (numel % lmc_type_traits_of(e->src_dtype)->block)
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
            lmc_buf_json(h, meta_kv[2 * i], strlen(meta_kv[2 * i]));
            lmc_buf_append(h, ":", 1);
            lmc_buf_json(h, meta_kv[2 * i + 1], strlen(meta_kv[2 * i + 1]));
        }
        lmc_buf_append(h, "}", 1);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const lmc_st_entry *e = &t[i];
        uint64_t nbytes = (uint64_t)entry_numel(e) * lmc_dtype_size(e->dtype);
        if (n_meta || i) lmc_buf_append(h, ",", 1);
        lmc_buf_json(h, e->name, strlen(e->name));
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

/* Conversion buffers, chunk elements each: CHUNK, or less when every tensor is smaller (a whole number of 256,
 * so of every block). The source may be unaligned (a tensor in someone else's file): it is then copied into
 * `raw` first, so the kernels always see aligned arrays. */
#define CHUNK ((size_t)1 << 20)
typedef struct conv_bufs {
    size_t    chunk;
    void     *raw; /* chunk × 4 bytes */
    float    *f;   /* chunk floats */
    uint16_t *h;   /* chunk halves */
} conv_bufs;

/* Writes one tensor's numel elements of e->src as e->dtype; returns 0 or an errno value. */
static int write_tensor(int fd, const lmc_st_entry *e, size_t numel, conv_bufs *cb) {
    size_t ss = lmc_dtype_size(e->src_dtype);
    if (e->dtype == e->src_dtype) return write_all(fd, e->src, numel * ss);
    for (size_t at = 0; at < numel; at += cb->chunk) { /* chunk is a whole number of every block */
        size_t k = numel - at < cb->chunk ? numel - at : cb->chunk;
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
    size_t chunk = 256;
    for (size_t i = 0; i < n && chunk < CHUNK; i++) {
        size_t ne = (size_t)entry_numel(&tensors[i]);
        if (ne > chunk) chunk = ne < CHUNK ? (ne + 255) / 256 * 256 : CHUNK;
    }
    conv_bufs cb = {chunk, malloc(chunk * 4), malloc(chunk * sizeof(float)), malloc(chunk * sizeof(uint16_t))};
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
