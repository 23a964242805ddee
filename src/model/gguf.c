/* gguf.c — reads GGUF files (ggml's docs/gguf.md, versions 2 and 3) as metadata and named, mmapped tensor views.
 *
 * File layout (all little-endian; a "string" is a u64 byte length then that many bytes, no NUL):
 *     "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *     n_kv ×      string key | u32 value type | value   (an array: u32 element type | u64 n | n values)
 *     n_tensors × string name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset
 *     padding to general.alignment (default 32) | data section (tensor offsets are relative to its start)
 *
 * The file is mmapped read-only once; nothing of the data is copied. Every count, length and offset read from
 * the file is a claim that is checked against the bytes that remain before it is used to allocate, index or
 * multiply, so a corrupt, truncated or hostile file gives a one-line error and never a crash or a huge
 * allocation (tests/test_gguf.c; `make fuzz FUZZ_TARGETS=gguf`). Allocations are bounded by the file's size.
 *
 * Sections: types · the object · a bounds-checked cursor · metadata · tensor infos · data placement · open ·
 * lookups. */
#include "model/gguf.h"
#include "model/weights.h"

#include "common/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Values are read by memcpy into host integers: this file assumes a little-endian host, as GGUF v2/v3 files
 * from every common writer are (big-endian files exist, and are refused by name at open). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "lmc reads little-endian GGUF natively");

#define GGUF_DEFAULT_ALIGNMENT 32

/* ---- types ------------------------------------------------------------------------------------ */

static const struct { const char *name; int size; } VTYPES[] = {
    [LMC_GGUF_U8] = {"u8", 1},     [LMC_GGUF_I8] = {"i8", 1},         [LMC_GGUF_U16] = {"u16", 2},
    [LMC_GGUF_I16] = {"i16", 2},   [LMC_GGUF_U32] = {"u32", 4},       [LMC_GGUF_I32] = {"i32", 4},
    [LMC_GGUF_F32] = {"f32", 4},   [LMC_GGUF_BOOL] = {"bool", 1},     [LMC_GGUF_STRING] = {"string", 0},
    [LMC_GGUF_ARRAY] = {"array", 0}, [LMC_GGUF_U64] = {"u64", 8},     [LMC_GGUF_I64] = {"i64", 8},
    [LMC_GGUF_F64] = {"f64", 8},
};
#define N_VTYPES ((int)(sizeof VTYPES / sizeof VTYPES[0]))

const char *lmc_gguf_vtype_name(int vtype) {
    return vtype >= 0 && vtype < N_VTYPES ? VTYPES[vtype].name : "?";
}

/* ggml's tensor types (ggml.h enum ggml_type; block sizes from ggml-common.h): elements per block and bytes
 * per block. Numbers ggml has removed (4, 5, 31-33, 36-38) have no entry: a file using them is refused. */
static const struct { const char *name; int block, bytes; } GTYPES[] = {
    [0] = {"F32", 1, 4},          [1] = {"F16", 1, 2},          [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},       [6] = {"Q5_0", 32, 22},       [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},       [9] = {"Q8_1", 32, 36},       [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},    [12] = {"Q4_K", 256, 144},    [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},    [15] = {"Q8_K", 256, 292},    [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},   [18] = {"IQ3_XXS", 256, 98},  [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},    [21] = {"IQ3_S", 256, 110},   [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136},  [24] = {"I8", 1, 1},          [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},         [27] = {"I64", 1, 8},         [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},    [30] = {"BF16", 1, 2},        [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},    [39] = {"MXFP4", 32, 17},     [40] = {"NVFP4", 64, 36},
    [41] = {"Q1_0", 128, 18},     [42] = {"Q2_0", 64, 18},
};
#define N_GTYPES ((int)(sizeof GTYPES / sizeof GTYPES[0]))

const char *lmc_ggml_type_name(int type) {
    return type >= 0 && type < N_GTYPES ? GTYPES[type].name : NULL;
}

int lmc_ggml_type_block(int type, int64_t *block, size_t *bytes) {
    if (!lmc_ggml_type_name(type)) return -1;
    *block = GTYPES[type].block;
    *bytes = (size_t)GTYPES[type].bytes;
    return 0;
}

/* ---- the object ------------------------------------------------------------------------------- */

struct lmc_gguf {
    char            *path;
    const uint8_t   *map;       /* the whole file (lmc_map_file) */
    size_t           size;
    uint32_t         version;
    uint32_t         alignment;
    lmc_gguf_kv     *kv;        /* (n_kv) file order */
    size_t           n_kv;
    size_t          *kv_by_key; /* (n_kv) indices sorted by key: lookup */
    lmc_gguf_tensor *t;         /* (n_t) file order */
    size_t           n_t;
    size_t          *t_by_name; /* (n_t) indices sorted by name: lookup */
    uint64_t         data_off;  /* where the data section starts in the file */
};

void lmc_gguf_close(lmc_gguf *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_kv; i++) {
        free((char *)g->kv[i].key);
        free((void *)g->kv[i].str);
    }
    for (size_t i = 0; i < g->n_t; i++) free((char *)g->t[i].name);
    lmc_unmap(&(lmc_map){g->map, g->size});
    free(g->kv);
    free(g->kv_by_key);
    free(g->t);
    free(g->t_by_name);
    free(g->path);
    free(g);
}

uint32_t    lmc_gguf_version(const lmc_gguf *g) { return g->version; }
uint32_t    lmc_gguf_alignment(const lmc_gguf *g) { return g->alignment; }
const char *lmc_gguf_path(const lmc_gguf *g) { return g->path; }

/* ---- a bounds-checked cursor ------------------------------------------------------------------ */

/* Reads from the map; every read checks what remains and fails with the file, the offset and what it was
 * reading, so a truncated file says where it ends. */
typedef struct cursor {
    const uint8_t *base;
    uint64_t       pos, size;
    const char    *path;
    lmc_err       *err;
} cursor;

static uint64_t left(const cursor *c) { return c->size - c->pos; }

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > left(c))
        return lmc_fail(c->err, "%s: truncated: %s needs %llu bytes at offset %llu, the file has %llu left",
                        c->path, what, (unsigned long long)n, (unsigned long long)c->pos,
                        (unsigned long long)left(c));
    return 0;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (need(c, 4, what)) return -1;
    memcpy(v, c->base + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what) {
    if (need(c, 8, what)) return -1;
    memcpy(v, c->base + c->pos, 8);
    c->pos += 8;
    return 0;
}

/* A string: its length is checked against the bytes that remain before it is skipped. *at gets the offset of
 * the length field, *s and *len the bytes. */
static int rd_str(cursor *c, uint64_t *at, const char **s, uint64_t *len, const char *what) {
    *at = c->pos;
    if (rd_u64(c, len, what)) return -1;
    if (*len > left(c))
        return lmc_fail(c->err, "%s: %s at offset %llu claims %llu bytes, but the file has %llu left", c->path,
                        what, (unsigned long long)*at, (unsigned long long)*len, (unsigned long long)left(c));
    *s = (const char *)c->base + c->pos;
    c->pos += *len;
    return 0;
}

/* A key or tensor name as a C string: NUL bytes inside would make lookups ambiguous, so they are refused. */
static char *dup_name(cursor *c, const char *s, uint64_t len, const char *what) {
    if (memchr(s, 0, len)) {
        lmc_fail(c->err, "%s: %s '%.*s...' contains a NUL byte", c->path, what, (int)strnlen(s, 100), s);
        return NULL;
    }
    char *out = lmc_xmalloc(len + 1);
    memcpy(out, s, len);
    out[len] = 0;
    return out;
}

/* ---- metadata --------------------------------------------------------------------------------- */

/* The value of kv (whose key and type are set), array or scalar. */
static int read_value(cursor *c, lmc_gguf_kv *kv) {
    uint64_t n = 1;
    int elem = kv->type;
    if (kv->type == LMC_GGUF_ARRAY) {
        uint32_t et;
        if (rd_u32(c, &et, "array element type") || rd_u64(c, &n, "array length")) return -1;
        if (et == LMC_GGUF_ARRAY)
            return lmc_fail(c->err, "%s: key '%.200s': nested arrays are not supported", c->path, kv->key);
        if (et >= (uint32_t)N_VTYPES)
            return lmc_fail(c->err, "%s: key '%.200s': unknown array element type %u", c->path, kv->key, et);
        elem = (int)et;
    }
    kv->elem = elem;
    kv->n = n;
    if (elem != LMC_GGUF_STRING) {
        uint64_t sz = (uint64_t)VTYPES[elem].size;
        if (n > left(c) / sz)
            return lmc_fail(c->err, "%s: key '%.200s': %llu %s values need more than the %llu bytes left",
                            c->path, kv->key, (unsigned long long)n, VTYPES[elem].name,
                            (unsigned long long)left(c));
        kv->data = c->base + c->pos;
        if (elem == LMC_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (kv->data[i] > 1)
                    return lmc_fail(c->err, "%s: key '%.200s': bool value %u is neither 0 nor 1", c->path,
                                    kv->key, kv->data[i]);
        c->pos += n * sz;
        return 0;
    }
    /* strings: each at least its 8-byte length, which bounds n before the offsets are allocated */
    if (n > left(c) / 8)
        return lmc_fail(c->err, "%s: key '%.200s': %llu strings need more than the %llu bytes left", c->path,
                        kv->key, (unsigned long long)n, (unsigned long long)left(c));
    const uint8_t **str = lmc_xmalloc(sizeof *str * (n ? n : 1));
    kv->str = str;
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        uint64_t at, len;
        if (rd_str(c, &at, &s, &len, "string value")) return -1;
        str[i] = c->base + at;
    }
    return 0;
}

static const char *kv_key(const void *kv, size_t i) { return ((const lmc_gguf_kv *)kv)[i].key; }
static const char *tensor_name(const void *t, size_t i) { return ((const lmc_gguf_tensor *)t)[i].name; }

static int read_metadata(cursor *c, lmc_gguf *g, uint64_t n_kv) {
    g->kv = lmc_xcalloc(n_kv ? n_kv : 1, sizeof *g->kv);
    for (uint64_t i = 0; i < n_kv; i++) {
        lmc_gguf_kv *kv = &g->kv[i];
        uint64_t at, len;
        const char *s;
        uint32_t type;
        if (rd_str(c, &at, &s, &len, "metadata key")) return -1;
        if (!(kv->key = dup_name(c, s, len, "metadata key"))) return -1;
        g->n_kv = i + 1; /* owns the key from here on */
        if (rd_u32(c, &type, "metadata value type")) return -1;
        if (type >= (uint32_t)N_VTYPES)
            return lmc_fail(c->err, "%s: key '%.200s': unknown value type %u", c->path, kv->key, type);
        kv->type = (int)type;
        if (read_value(c, kv)) return -1;
    }
    g->kv_by_key = lmc_names_sort(g->n_kv, kv_key, g->kv);
    size_t dup = lmc_names_dup(g->kv_by_key, g->n_kv, kv_key, g->kv);
    if (dup) return lmc_fail(c->err, "%s: duplicate metadata key '%.200s'", c->path, g->kv[g->kv_by_key[dup]].key);

    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const lmc_gguf_kv *al = lmc_gguf_find_kv(g, "general.alignment");
    if (al) {
        uint32_t a;
        if (al->type != LMC_GGUF_U32)
            return lmc_fail(c->err, "%s: general.alignment is %s, not u32", c->path, lmc_gguf_vtype_name(al->type));
        memcpy(&a, al->data, 4);
        if (a == 0 || (a & (a - 1)))
            return lmc_fail(c->err, "%s: general.alignment %u is not a power of two", c->path, a);
        g->alignment = a;
    }
    return 0;
}

/* ---- tensor infos ----------------------------------------------------------------------------- */

static int read_tensor_info(cursor *c, lmc_gguf *g, lmc_gguf_tensor *t) {
    uint64_t at, len, off;
    const char *s;
    uint32_t nd, type;
    if (rd_str(c, &at, &s, &len, "tensor name")) return -1;
    if (!(t->name = dup_name(c, s, len, "tensor name"))) return -1;
    g->n_t++; /* owns the name from here on */
    if (rd_u32(c, &nd, "tensor dimension count")) return -1;
    if (nd > 4)
        return lmc_fail(c->err, "%s: tensor '%.200s': %u dimensions, GGUF allows at most 4", c->path, t->name, nd);
    t->ndim = (int)nd;
    t->numel = 1;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t ne;
        if (rd_u64(c, &ne, "tensor dimension")) return -1;
        if (ne > (uint64_t)INT64_MAX ||
            __builtin_mul_overflow(t->numel, (int64_t)ne, &t->numel))
            return lmc_fail(c->err, "%s: tensor '%.200s': dimensions overflow (ne[%u] = %llu)", c->path, t->name,
                            d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
    }
    if (rd_u32(c, &type, "tensor type") || rd_u64(c, &off, "tensor offset")) return -1;
    int64_t block;
    size_t bytes;
    if (lmc_ggml_type_block((int)type, &block, &bytes) || type > INT32_MAX)
        return lmc_fail(c->err, "%s: tensor '%.200s': unknown ggml type %u", c->path, t->name, type);
    t->type = (int)type;
    if (t->ne[0] % block)
        return lmc_fail(c->err, "%s: tensor '%.200s': row length %lld is not a multiple of %s's block of %lld",
                        c->path, t->name, (long long)t->ne[0], GTYPES[type].name, (long long)block);
    uint64_t nb;
    if (__builtin_mul_overflow((uint64_t)(t->numel / block), (uint64_t)bytes, &nb) || nb > SIZE_MAX)
        return lmc_fail(c->err, "%s: tensor '%.200s': byte size overflows", c->path, t->name);
    t->nbytes = (size_t)nb;
    t->offset = off;
    return 0;
}

/* ---- data placement --------------------------------------------------------------------------- */

static int cmp_offset(const void *a, const void *b, void *ctx) {
    const lmc_gguf *g = ctx;
    const lmc_gguf_tensor *x = &g->t[*(const size_t *)a], *y = &g->t[*(const size_t *)b];
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Every tensor aligned, inside the data section, and not overlapping another (checked in offset order). */
static int place_tensors(cursor *c, lmc_gguf *g) {
    uint64_t a = g->alignment, data_len = 0;
    g->data_off = (c->pos + a - 1) / a * a; /* pos ≤ file size < 2^63: no overflow */
    if (g->data_off < c->size) data_len = c->size - g->data_off;
    for (size_t i = 0; i < g->n_t; i++) {
        lmc_gguf_tensor *t = &g->t[i];
        if (t->offset % a)
            return lmc_fail(c->err, "%s: tensor '%.200s': offset %llu is not a multiple of the alignment %u",
                            c->path, t->name, (unsigned long long)t->offset, g->alignment);
        if (t->offset > data_len || t->nbytes > data_len - t->offset)
            return lmc_fail(c->err, "%s: tensor '%.200s': bytes [%llu, +%zu) of the data section lie beyond the "
                            "file's end (data section: %llu bytes at offset %llu)", c->path, t->name,
                            (unsigned long long)t->offset, t->nbytes, (unsigned long long)data_len,
                            (unsigned long long)g->data_off);
        t->data = t->nbytes ? g->map + g->data_off + t->offset : NULL;
    }
    size_t *ord = lmc_xmalloc(sizeof(size_t) * (g->n_t ? g->n_t : 1));
    for (size_t i = 0; i < g->n_t; i++) ord[i] = i;
    qsort_r(ord, g->n_t, sizeof(size_t), cmp_offset, g);
    const lmc_gguf_tensor *prev = NULL;
    for (size_t i = 0; i < g->n_t; i++) {
        const lmc_gguf_tensor *t = &g->t[ord[i]];
        if (!t->nbytes) continue;
        if (prev && prev->offset + prev->nbytes > t->offset) {
            lmc_fail(c->err, "%s: tensors '%.200s' and '%.200s' overlap in the data section", c->path, prev->name,
                     t->name);
            free(ord);
            return -1;
        }
        prev = t;
    }
    free(ord);
    return 0;
}

/* ---- open ------------------------------------------------------------------------------------- */

static int parse(lmc_gguf *g, lmc_err *err) {
    cursor c = {g->map, 0, g->size, g->path, err};
    uint32_t version;
    uint64_t n_t, n_kv;
    if (g->size < 4 || memcmp(g->map, "GGUF", 4))
        return lmc_fail(err, "%s: not a GGUF file (no 'GGUF' magic at the start)", g->path);
    c.pos = 4;
    if (rd_u32(&c, &version, "version")) return -1;
    if (version == 1)
        return lmc_fail(err, "%s: GGUF version 1 is not supported (only 2 and 3; convert it with a newer llama.cpp)",
                        g->path);
    if (version != 2 && version != 3) {
        if ((version & 0xffff) == 0 && (__builtin_bswap32(version) == 2 || __builtin_bswap32(version) == 3))
            return lmc_fail(err, "%s: big-endian GGUF (version %u byte-swapped) is not supported", g->path,
                            __builtin_bswap32(version));
        return lmc_fail(err, "%s: unsupported GGUF version %u (lmc reads 2 and 3)", g->path, version);
    }
    g->version = version;
    if (rd_u64(&c, &n_t, "tensor count") || rd_u64(&c, &n_kv, "metadata count")) return -1;
    /* a key/value takes at least 13 bytes (empty key, type, one-byte value), a tensor info at least 24 (empty
     * name, n_dims 0, type, offset): claims beyond what the file can hold fail before any allocation */
    if (n_kv > left(&c) / 13 || n_t > left(&c) / 24 || n_kv * 13 + n_t * 24 > left(&c))
        return lmc_fail(err, "%s: header claims %llu metadata entries and %llu tensors, more than the %llu bytes "
                        "of the file can hold", g->path, (unsigned long long)n_kv, (unsigned long long)n_t,
                        (unsigned long long)left(&c));
    if (read_metadata(&c, g, n_kv)) return -1;
    g->t = lmc_xcalloc(n_t ? n_t : 1, sizeof *g->t);
    for (uint64_t i = 0; i < n_t; i++)
        if (read_tensor_info(&c, g, &g->t[i])) return -1;
    g->t_by_name = lmc_names_sort(g->n_t, tensor_name, g->t);
    size_t dup = lmc_names_dup(g->t_by_name, g->n_t, tensor_name, g->t);
    if (dup) return lmc_fail(err, "%s: duplicate tensor name '%.200s'", g->path, g->t[g->t_by_name[dup]].name);
    return place_tensors(&c, g);
}

int lmc_gguf_open(const char *path, lmc_gguf **out, lmc_err *err) {
    *out = NULL;
    lmc_map map;
    if (lmc_map_file(path, &map, err)) return -1;
    if (map.size < 24) {
        lmc_unmap(&map);
        return lmc_fail(err, "%s: %zu bytes is too short for a GGUF header (24 bytes)", path, map.size);
    }
    lmc_gguf *g = lmc_xcalloc(1, sizeof *g);
    g->path = lmc_xstrdup(path);
    g->map = map.data;
    g->size = map.size;
    if (parse(g, err)) {
        lmc_gguf_close(g);
        return -1;
    }
    *out = g;
    return 0;
}

/* ---- lookups ---------------------------------------------------------------------------------- */

size_t             lmc_gguf_kv_count(const lmc_gguf *g) { return g->n_kv; }
const lmc_gguf_kv *lmc_gguf_kv_at(const lmc_gguf *g, size_t i) { return i < g->n_kv ? &g->kv[i] : NULL; }

const lmc_gguf_kv *lmc_gguf_find_kv(const lmc_gguf *g, const char *key) {
    long i = lmc_names_find(g->kv_by_key, g->n_kv, key, kv_key, g->kv);
    return i < 0 ? NULL : &g->kv[i];
}

int lmc_gguf_kv_int(const lmc_gguf_kv *kv, uint64_t i, int64_t *out) {
    if (i >= kv->n || kv->elem == LMC_GGUF_STRING || kv->elem == LMC_GGUF_F32 || kv->elem == LMC_GGUF_F64)
        return -1;
    const uint8_t *p = kv->data + i * (uint64_t)VTYPES[kv->elem].size; /* data is set for these types */
    switch (kv->elem) {
    case LMC_GGUF_U8: case LMC_GGUF_BOOL: *out = *p; return 0;
    case LMC_GGUF_I8: *out = (int8_t)*p; return 0;
    case LMC_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case LMC_GGUF_I16: { int16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case LMC_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case LMC_GGUF_I32: { int32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case LMC_GGUF_I64: { int64_t v; memcpy(&v, p, 8); *out = v; return 0; }
    case LMC_GGUF_U64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)v;
        return 0;
    }
    }
    return -1;
}

int lmc_gguf_kv_float(const lmc_gguf_kv *kv, uint64_t i, double *out) {
    if (i >= kv->n) return -1;
    if (kv->elem == LMC_GGUF_F32) { float v; memcpy(&v, kv->data + 4 * i, 4); *out = v; return 0; }
    if (kv->elem == LMC_GGUF_F64) { double v; memcpy(&v, kv->data + 8 * i, 8); *out = v; return 0; }
    if (kv->elem == LMC_GGUF_U64) { uint64_t v; memcpy(&v, kv->data + 8 * i, 8); *out = (double)v; return 0; }
    int64_t v;
    if (lmc_gguf_kv_int(kv, i, &v)) return -1;
    *out = (double)v;
    return 0;
}

int lmc_gguf_kv_str(const lmc_gguf_kv *kv, uint64_t i, const char **s, size_t *len) {
    if (kv->elem != LMC_GGUF_STRING || i >= kv->n) return -1;
    uint64_t n; /* the length and the bytes after it were checked against the file at open */
    memcpy(&n, kv->str[i], 8);
    *s = (const char *)kv->str[i] + 8;
    *len = (size_t)n;
    return 0;
}

/* "a string array" / "u32" for error messages */
static const char *kv_kind(const lmc_gguf_kv *kv, char *buf, size_t cap) {
    if (kv->type == LMC_GGUF_ARRAY) snprintf(buf, cap, "an array of %s", lmc_gguf_vtype_name(kv->elem));
    else snprintf(buf, cap, "%s", lmc_gguf_vtype_name(kv->type));
    return buf;
}

static const lmc_gguf_kv *scalar_kv(const lmc_gguf *g, const char *key, lmc_err *err) {
    const lmc_gguf_kv *kv = lmc_gguf_find_kv(g, key);
    if (!kv) {
        lmc_fail(err, "%s: no metadata key '%.200s'", g->path, key);
        return NULL;
    }
    if (kv->type == LMC_GGUF_ARRAY) {
        char b[48];
        lmc_fail(err, "%s: metadata key '%.200s' is %s, not a single value", g->path, key, kv_kind(kv, b, sizeof b));
        return NULL;
    }
    return kv;
}

int lmc_gguf_get_int(const lmc_gguf *g, const char *key, int64_t *out, lmc_err *err) {
    const lmc_gguf_kv *kv = scalar_kv(g, key, err);
    if (!kv) return -1;
    if (lmc_gguf_kv_int(kv, 0, out)) {
        char b[48];
        return lmc_fail(err, "%s: metadata key '%.200s' is %s, not an integer in int64 range", g->path, key,
                        kv_kind(kv, b, sizeof b));
    }
    return 0;
}

int lmc_gguf_get_float(const lmc_gguf *g, const char *key, double *out, lmc_err *err) {
    const lmc_gguf_kv *kv = scalar_kv(g, key, err);
    if (!kv) return -1;
    if (lmc_gguf_kv_float(kv, 0, out)) {
        char b[48];
        return lmc_fail(err, "%s: metadata key '%.200s' is %s, not a number", g->path, key, kv_kind(kv, b, sizeof b));
    }
    return 0;
}

int lmc_gguf_get_str(const lmc_gguf *g, const char *key, const char **s, size_t *len, lmc_err *err) {
    const lmc_gguf_kv *kv = scalar_kv(g, key, err);
    if (!kv) return -1;
    if (lmc_gguf_kv_str(kv, 0, s, len)) {
        char b[48];
        return lmc_fail(err, "%s: metadata key '%.200s' is %s, not a string", g->path, key, kv_kind(kv, b, sizeof b));
    }
    return 0;
}

size_t                 lmc_gguf_tensor_count(const lmc_gguf *g) { return g->n_t; }
const lmc_gguf_tensor *lmc_gguf_tensor_at(const lmc_gguf *g, size_t i) { return i < g->n_t ? &g->t[i] : NULL; }

const lmc_gguf_tensor *lmc_gguf_find_tensor(const lmc_gguf *g, const char *name) {
    long i = lmc_names_find(g->t_by_name, g->n_t, name, tensor_name, g->t);
    return i < 0 ? NULL : &g->t[i];
}

const lmc_gguf_tensor *lmc_gguf_get_tensor(const lmc_gguf *g, const char *name, lmc_err *err) {
    const lmc_gguf_tensor *t = lmc_gguf_find_tensor(g, name);
    if (!t) lmc_fail(err, "%s: no tensor '%.200s'", g->path, name);
    return t;
}
