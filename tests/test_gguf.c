/* test_gguf.c — the GGUF reader (src/model/gguf.c) and the dequantizers (kernels/dequant.c).
 *
 * tests/data/dequant.gguf is written by llama.cpp's own gguf-py (tests/data/make_dequant_gguf.py): its metadata
 * values are known, and each quantized tensor of random blocks sits next to gguf-py's numpy dequantization of it,
 * which lmc's must match bit for bit. Corrupt files are built byte by byte here: each must fail with one line
 * naming the file and the problem, and every truncation of the fixture must fail too. */
#include "test.h"

#include "dequant.h"
#include "model/gguf.h"
#include "model/weights.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define FIXTURE "tests/data/dequant.gguf"

/* ---- a byte builder for hand-made files ------------------------------------------------------- */

typedef struct gb { uint8_t *p; size_t n, cap; } gb;

static void gb_raw(gb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = lmc_xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void gb_u32(gb *b, uint32_t v) { gb_raw(b, &v, 4); }
static void gb_u64(gb *b, uint64_t v) { gb_raw(b, &v, 8); }
static void gb_strn(gb *b, const char *s, size_t n) { gb_u64(b, n); gb_raw(b, s, n); }
static void gb_str(gb *b, const char *s) { gb_strn(b, s, strlen(s)); }
static void gb_pad(gb *b, size_t a) { while (b->n % a) gb_raw(b, "", 1); }
static void gb_zeros(gb *b, size_t n) { for (size_t i = 0; i < n; i++) gb_raw(b, "", 1); }

static void hdr(gb *b, uint32_t version, uint64_t n_t, uint64_t n_kv) {
    gb_raw(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_t);
    gb_u64(b, n_kv);
}
static void kv_u32(gb *b, const char *k, uint32_t v) { gb_str(b, k); gb_u32(b, LMC_GGUF_U32); gb_u32(b, v); }
static void kv_u64(gb *b, const char *k, uint64_t v) { gb_str(b, k); gb_u32(b, LMC_GGUF_U64); gb_u64(b, v); }
static void ti(gb *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off) {
    gb_str(b, name);
    gb_u32(b, nd);
    for (uint32_t d = 0; d < nd; d++) gb_u64(b, ne[d]);
    gb_u32(b, type);
    gb_u64(b, off);
}

static int open_bytes(const gb *b, lmc_gguf **g, lmc_err *err) {
    const char *p = t_tmp("x.gguf");
    FILE *f = fopen(p, "wb");
    if (!f || (b->n && fwrite(b->p, 1, b->n, f) != b->n) || fclose(f)) { perror(p); exit(2); }
    return lmc_gguf_open(p, g, err);
}

/* The file must be refused with one line naming it and containing `needle`. */
#define EXPECT_FAIL(b, needle) do { \
        lmc_gguf *g_ = NULL; \
        lmc_err e_ = {{0}}; \
        int rc_ = open_bytes(&(b), &g_, &e_); \
        CHECK(rc_ == -1 && g_ == NULL, "opened a file that should fail with '%s'", needle); \
        if (rc_ == 0) lmc_gguf_close(g_); \
        CHECK(strstr(e_.msg, needle) != NULL, "error '%s' lacks '%s'", e_.msg, needle); \
        CHECK(strstr(e_.msg, "x.gguf: ") != NULL && !strchr(e_.msg, '\n'), "error not one line naming the file: %s", e_.msg); \
        free((b).p); (b) = (gb){0}; \
    } while (0)

/* ---- the fixture: metadata -------------------------------------------------------------------- */

static void test_fixture_metadata(void) {
    lmc_gguf *g;
    lmc_err err = {{0}};
    REQUIRE(lmc_gguf_open(FIXTURE, &g, &err) == 0, "%s", err.msg);
    CHECK(lmc_gguf_version(g) == 3, "version %u", lmc_gguf_version(g));
    CHECK(lmc_gguf_alignment(g) == 64, "alignment %u", lmc_gguf_alignment(g));
    CHECK(lmc_gguf_kv_count(g) == 18, "%zu kvs", lmc_gguf_kv_count(g));
    CHECK(!strcmp(lmc_gguf_kv_at(g, 0)->key, "general.architecture"), "first key %s", lmc_gguf_kv_at(g, 0)->key);
    static const struct { const char *key; int type; int64_t v; } ints[] = {
        {"test.u8", LMC_GGUF_U8, 200},           {"test.i8", LMC_GGUF_I8, -100},
        {"test.u16", LMC_GGUF_U16, 60000},       {"test.i16", LMC_GGUF_I16, -30000},
        {"test.u32", LMC_GGUF_U32, 4000000000LL}, {"test.i32", LMC_GGUF_I32, -2000000000},
        {"test.i64", LMC_GGUF_I64, -9000000000000000000LL}, {"test.bool", LMC_GGUF_BOOL, 1},
        {"general.alignment", LMC_GGUF_U32, 64},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const lmc_gguf_kv *kv = lmc_gguf_find_kv(g, ints[i].key);
        int64_t v = 0;
        REQUIRE(kv, "no %s", ints[i].key);
        CHECK(kv->type == ints[i].type && kv->elem == ints[i].type && kv->n == 1, "%s type %d", ints[i].key, kv->type);
        CHECK(lmc_gguf_get_int(g, ints[i].key, &v, &err) == 0 && v == ints[i].v, "%s = %lld", ints[i].key, (long long)v);
    }
    int64_t iv;
    double d;
    /* 18e18 does not fit an int64: refused as an integer, readable as a number */
    CHECK(lmc_gguf_get_int(g, "test.u64", &iv, &err) == -1 && strstr(err.msg, "'test.u64' is u64"), "%s", err.msg);
    CHECK(lmc_gguf_get_float(g, "test.u64", &d, &err) == 0 && d == 18e18, "u64 as float %g", d);
    CHECK(lmc_gguf_get_float(g, "test.f32", &d, &err) == 0 && d == 0.15625, "f32 %g", d);
    CHECK(lmc_gguf_get_float(g, "test.f64", &d, &err) == 0 && d == -2.5e-300, "f64 %g", d);
    CHECK(lmc_gguf_get_float(g, "test.i8", &d, &err) == 0 && d == -100, "i8 as float %g", d);
    const char *s;
    size_t len;
    CHECK(lmc_gguf_get_str(g, "test.str", &s, &len, &err) == 0 && len == strlen("héllo wörld ✓") &&
          !memcmp(s, "héllo wörld ✓", len), "str");
    CHECK(lmc_gguf_get_str(g, "general.architecture", &s, &len, &err) == 0 && len == 8 && !memcmp(s, "lmc-test", 8),
          "architecture");
    /* wrong kinds: one line naming the file and the key */
    CHECK(lmc_gguf_get_str(g, "test.u8", &s, &len, &err) == -1 && strstr(err.msg, FIXTURE ": metadata key 'test.u8' is u8, not a string"),
          "%s", err.msg);
    CHECK(lmc_gguf_get_int(g, "test.arr_i32", &iv, &err) == -1 && strstr(err.msg, "is an array of i32, not a single value"),
          "%s", err.msg);
    CHECK(lmc_gguf_get_int(g, "test.f32", &iv, &err) == -1 && strstr(err.msg, "is f32, not an integer"), "%s", err.msg);
    CHECK(lmc_gguf_get_int(g, "no.such.key", &iv, &err) == -1 && strstr(err.msg, "no metadata key 'no.such.key'"), "%s", err.msg);
    CHECK(lmc_gguf_find_kv(g, "test") == NULL && lmc_gguf_find_kv(g, "test.u8x") == NULL, "prefix found");

    const lmc_gguf_kv *a = lmc_gguf_find_kv(g, "test.arr_i32");
    REQUIRE(a && a->type == LMC_GGUF_ARRAY && a->elem == LMC_GGUF_I32 && a->n == 5, "arr_i32");
    static const int64_t ai[] = {1, -2, 3, -4, 5};
    for (uint64_t i = 0; i < 5; i++) CHECK(lmc_gguf_kv_int(a, i, &iv) == 0 && iv == ai[i], "arr_i32[%d]", (int)i);
    CHECK(lmc_gguf_kv_int(a, 5, &iv) == -1, "index 5 of 5 read");
    CHECK(lmc_gguf_kv_str(a, 0, &s, &len) == -1, "int array read as string");
    a = lmc_gguf_find_kv(g, "test.arr_f32");
    REQUIRE(a && a->elem == LMC_GGUF_F32 && a->n == 3, "arr_f32");
    CHECK(lmc_gguf_kv_float(a, 1, &d) == 0 && d == -1.25, "arr_f32[1] %g", d);
    CHECK(lmc_gguf_kv_int(a, 1, &iv) == -1, "float read as int");
    a = lmc_gguf_find_kv(g, "test.arr_bool");
    REQUIRE(a && a->elem == LMC_GGUF_BOOL && a->n == 3, "arr_bool");
    CHECK(lmc_gguf_kv_int(a, 0, &iv) == 0 && iv == 1 && lmc_gguf_kv_int(a, 1, &iv) == 0 && iv == 0, "bools");
    a = lmc_gguf_find_kv(g, "test.arr_str");
    REQUIRE(a && a->elem == LMC_GGUF_STRING && a->n == 4, "arr_str");
    static const char *as[] = {"<s>", "", "▁the", "日本"};
    for (uint64_t i = 0; i < 4; i++)
        CHECK(lmc_gguf_kv_str(a, i, &s, &len) == 0 && len == strlen(as[i]) && !memcmp(s, as[i], len), "arr_str[%d]", (int)i);
    CHECK(lmc_gguf_kv_str(a, 4, &s, &len) == -1, "index 4 of 4 read");
    lmc_gguf_close(g);
}

/* ---- the fixture: tensors and dequantization --------------------------------------------------- */

static void test_fixture_tensors(void) {
    lmc_gguf *g;
    lmc_err err = {{0}};
    REQUIRE(lmc_gguf_open(FIXTURE, &g, &err) == 0, "%s", err.msg);
    REQUIRE(lmc_gguf_tensor_count(g) == 15, "%zu tensors", lmc_gguf_tensor_count(g));
    const lmc_gguf_tensor *t = lmc_gguf_get_tensor(g, "f32", &err);
    REQUIRE(t, "%s", err.msg);
    CHECK(t == lmc_gguf_tensor_at(g, 0) && t->type == LMC_GGML_F32 && t->ndim == 2 && t->ne[0] == 4 && t->ne[1] == 3 &&
          t->ne[2] == 1 && t->numel == 12 && t->nbytes == 48, "f32 info");
    for (int i = 0; i < 12; i++) {
        float v;
        memcpy(&v, (const uint8_t *)t->data + 4 * i, 4);
        CHECK(v == (i - 6) / 4.0f, "f32[%d] = %g", i, v);
    }
    for (size_t i = 0; i < lmc_gguf_tensor_count(g); i++) {
        const lmc_gguf_tensor *u = lmc_gguf_tensor_at(g, i);
        CHECK(((uintptr_t)u->data - (uintptr_t)lmc_gguf_tensor_at(g, 0)->data) % 64 == 0, "%s not 64-aligned", u->name);
        CHECK(lmc_gguf_find_tensor(g, u->name) == u, "find %s", u->name);
    }
    CHECK(lmc_gguf_get_tensor(g, "q4_k.exp", &err) == NULL && strstr(err.msg, FIXTURE ": no tensor 'q4_k.exp'"), "%s", err.msg);
    CHECK(!strcmp(lmc_ggml_type_name(LMC_GGML_Q6_K), "Q6_K") && lmc_ggml_type_name(4) == NULL &&
          lmc_ggml_type_name(-1) == NULL && lmc_ggml_type_name(1000) == NULL, "type names");
    lmc_gguf_close(g);
}

/* Each quantized tensor, dequantized row by row from a deliberately misaligned copy, equals gguf-py's. */
static void test_fixture_dequant(void) {
    lmc_gguf *g;
    lmc_err err = {{0}};
    REQUIRE(lmc_gguf_open(FIXTURE, &g, &err) == 0, "%s", err.msg);
    static const struct { const char *name; int type; int64_t ne0, ne1; } cases[] = {
        {"f16", LMC_GGML_F16, 32, 3},   {"bf16", LMC_GGML_BF16, 32, 3}, {"q8_0", LMC_GGML_Q8_0, 64, 3},
        {"q4_0", LMC_GGML_Q4_0, 64, 3}, {"q4_k", LMC_GGML_Q4_K, 512, 2}, {"q6_k", LMC_GGML_Q6_K, 512, 2},
        {"q5_0", LMC_GGML_Q5_0, 64, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char ename[64];
        snprintf(ename, sizeof ename, "%s.expected", cases[c].name);
        const lmc_gguf_tensor *t = lmc_gguf_find_tensor(g, cases[c].name), *e = lmc_gguf_find_tensor(g, ename);
        REQUIRE(t && e, "no %s or %s", cases[c].name, ename);
        CHECK(t->type == cases[c].type && t->ne[0] == cases[c].ne0 && t->ne[1] == cases[c].ne1 && t->ndim == 2,
              "%s: type %d ne %lld×%lld", t->name, t->type, (long long)t->ne[0], (long long)t->ne[1]);
        REQUIRE(e->type == LMC_GGML_F32 && e->numel == t->numel, "%s shape", ename);
        int64_t block;
        size_t bbytes;
        REQUIRE(lmc_ggml_type_block(t->type, &block, &bbytes) == 0, "block");
        size_t row_bytes = (size_t)(t->ne[0] / block) * bbytes;
        uint8_t *buf = lmc_xmalloc(t->nbytes + 1);
        memcpy(buf + 1, t->data, t->nbytes);
        float *out = lmc_xmalloc(sizeof(float) * (size_t)t->numel);
        for (int64_t r = 0; r < t->ne[1]; r++)
            CHECK(lmc_dequant(t->type, buf + 1 + r * row_bytes, out + r * t->ne[0], t->ne[0]) == 0, "dequant %s", t->name);
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < t->numel; i++) /* bit patterns, so that -0 and infinities count too */
            if (memcmp(out + i, (const float *)e->data + i, 4)) { bad++; if (first < 0) first = i; }
        if (bad) {
            float want;
            memcpy(&want, (const float *)e->data + first, 4);
            CHECK(0, "%s: %lld of %lld values differ from gguf-py, first at %lld: %.9g vs %.9g", t->name,
                  (long long)bad, (long long)t->numel, (long long)first, out[first], want);
        }
        free(buf);
        free(out);
    }
    lmc_gguf_close(g);
}

static void test_dequant_dispatch(void) {
    uint8_t blk[34] = {0x00, 0x3c}; /* Q8_0 with d = 1.0 */
    for (int j = 0; j < 32; j++) blk[2 + j] = (uint8_t)(j - 16);
    float out[64] = {0};
    CHECK(lmc_dequant(LMC_GGML_Q8_0, blk, out, 32) == 0 && out[0] == -16 && out[31] == 15, "q8_0 d=1");
    CHECK(lmc_dequant(LMC_GGML_Q8_0, blk, out, 31) == -1, "31 elements of Q8_0 accepted");
    CHECK(lmc_dequant(LMC_GGML_Q4_K, blk, out, 32) == -1, "32 elements of Q4_K accepted");
    CHECK(lmc_dequant(3 /* Q4_1 */, blk, out, 32) == -1, "Q4_1 has no dequantizer here");
    float src[3] = {1.5f, -2, 3};
    CHECK(lmc_dequant(LMC_GGML_F32, src, out, 3) == 0 && out[1] == -2, "f32 copy");
}

/* ---- valid hand-made files ------------------------------------------------------------------- */

/* v2, default alignment, an empty array, a 0-dim tensor, a zero-size tensor, no trailing padding. */
static void test_built_valid(void) {
    gb b = {0};
    hdr(&b, 2, 3, 3);
    kv_u64(&b, "big", UINT64_MAX);
    gb_str(&b, "empty"); gb_u32(&b, LMC_GGUF_ARRAY); gb_u32(&b, LMC_GGUF_STRING); gb_u64(&b, 0);
    gb_str(&b, "s"); gb_u32(&b, LMC_GGUF_STRING); gb_str(&b, "");
    uint64_t ne0[1] = {0}, ne[2] = {2, 1};
    ti(&b, "scalar", 0, NULL, LMC_GGML_F32, 0);
    ti(&b, "empty", 1, ne0, LMC_GGML_Q8_0, 32);
    ti(&b, "m", 2, ne, LMC_GGML_F32, 32);
    gb_pad(&b, 32);
    float v[10] = {7, 0, 0, 0, 0, 0, 0, 0, 1, 2};
    gb_raw(&b, v, sizeof v);
    lmc_gguf *g;
    lmc_err err = {{0}};
    REQUIRE(open_bytes(&b, &g, &err) == 0, "%s", err.msg);
    free(b.p);
    CHECK(lmc_gguf_version(g) == 2 && lmc_gguf_alignment(g) == 32, "v%u align %u", lmc_gguf_version(g), lmc_gguf_alignment(g));
    const lmc_gguf_kv *e = lmc_gguf_find_kv(g, "empty");
    const char *s;
    size_t len;
    int64_t iv;
    double d;
    CHECK(e && e->n == 0 && lmc_gguf_kv_str(e, 0, &s, &len) == -1, "empty array");
    CHECK(lmc_gguf_get_str(g, "s", &s, &len, &err) == 0 && len == 0, "empty string");
    CHECK(lmc_gguf_get_int(g, "big", &iv, &err) == -1 && lmc_gguf_get_float(g, "big", &d, &err) == 0 && d == 0x1p64, "u64 max");
    const lmc_gguf_tensor *t = lmc_gguf_find_tensor(g, "scalar"), *z = lmc_gguf_find_tensor(g, "empty"),
                          *m = lmc_gguf_find_tensor(g, "m");
    REQUIRE(t && z && m, "tensors");
    CHECK(t->ndim == 0 && t->numel == 1 && t->nbytes == 4 && *(const float *)t->data == 7, "scalar");
    CHECK(z->numel == 0 && z->nbytes == 0 && z->data == NULL, "zero-size tensor");
    CHECK(m->numel == 2 && ((const float *)m->data)[1] == 2, "m");
    lmc_gguf_close(g);
}

/* ---- corrupt files ---------------------------------------------------------------------------- */

static void test_corrupt_header(void) {
    gb b = {0};
    gb_raw(&b, "GGUX", 4); gb_zeros(&b, 20);
    EXPECT_FAIL(b, "not a GGUF file");
    hdr(&b, 1, 0, 0);
    EXPECT_FAIL(b, "GGUF version 1 is not supported");
    hdr(&b, 0x03000000, 0, 0);
    EXPECT_FAIL(b, "big-endian GGUF");
    hdr(&b, 4, 0, 0);
    EXPECT_FAIL(b, "unsupported GGUF version 4");
    gb_raw(&b, "GGUF", 4);
    EXPECT_FAIL(b, "too short for a GGUF header");
    hdr(&b, 3, 0, (uint64_t)1 << 62);
    EXPECT_FAIL(b, "header claims 4611686018427387904 metadata entries");
    hdr(&b, 3, UINT64_MAX, 0);
    EXPECT_FAIL(b, "more than the");
    hdr(&b, 3, 1, 1); gb_zeros(&b, 30); /* together they need 37 bytes */
    EXPECT_FAIL(b, "more than the 30 bytes");

    lmc_gguf *g;
    lmc_err err = {{0}};
    CHECK(lmc_gguf_open("/nonexistent/x.gguf", &g, &err) == -1 && strstr(err.msg, "/nonexistent/x.gguf: cannot open"), "%s", err.msg);
    CHECK(lmc_gguf_open("/tmp", &g, &err) == -1 && strstr(err.msg, "/tmp: not a regular file"), "%s", err.msg);
}

static void test_corrupt_metadata(void) {
    gb b = {0};
    hdr(&b, 3, 0, 1); gb_u64(&b, 1000); gb_raw(&b, "key", 3); gb_zeros(&b, 16);
    EXPECT_FAIL(b, "metadata key at offset 24 claims 1000 bytes");
    hdr(&b, 3, 0, 1); gb_str(&b, "k"); gb_u32(&b, 13); gb_u64(&b, 0);
    EXPECT_FAIL(b, "key 'k': unknown value type 13");
    hdr(&b, 3, 0, 1); gb_str(&b, "k"); gb_u32(&b, LMC_GGUF_ARRAY); gb_u32(&b, LMC_GGUF_ARRAY); gb_u64(&b, 1);
    EXPECT_FAIL(b, "key 'k': nested arrays are not supported");
    hdr(&b, 3, 0, 1); gb_str(&b, "k"); gb_u32(&b, LMC_GGUF_ARRAY); gb_u32(&b, 77); gb_u64(&b, 1);
    EXPECT_FAIL(b, "unknown array element type 77");
    hdr(&b, 3, 0, 1); gb_str(&b, "k"); gb_u32(&b, LMC_GGUF_ARRAY); gb_u32(&b, LMC_GGUF_U32); gb_u64(&b, (uint64_t)1 << 62);
    gb_zeros(&b, 8);
    EXPECT_FAIL(b, "4611686018427387904 u32 values need more than the 8 bytes left");
    hdr(&b, 3, 0, 1); gb_str(&b, "k"); gb_u32(&b, LMC_GGUF_ARRAY); gb_u32(&b, LMC_GGUF_STRING); gb_u64(&b, 3);
    gb_str(&b, "a");
    EXPECT_FAIL(b, "3 strings need more than");
    hdr(&b, 3, 0, 1); gb_str(&b, "k"); gb_u32(&b, LMC_GGUF_ARRAY); gb_u32(&b, LMC_GGUF_STRING); gb_u64(&b, 2);
    gb_str(&b, "a"); gb_u64(&b, UINT64_MAX - 3); gb_zeros(&b, 8);
    EXPECT_FAIL(b, "string value at offset");
    hdr(&b, 3, 0, 1); gb_str(&b, "k"); gb_u32(&b, LMC_GGUF_U64); gb_u32(&b, 0);
    EXPECT_FAIL(b, "key 'k': 1 u64 values need more than the 4 bytes left");
    hdr(&b, 3, 0, 1); gb_str(&b, "k"); gb_u32(&b, LMC_GGUF_BOOL); gb_raw(&b, "\2", 1);
    EXPECT_FAIL(b, "bool value 2 is neither 0 nor 1");
    hdr(&b, 3, 0, 2); kv_u32(&b, "a.b", 1); kv_u32(&b, "a.b", 2);
    EXPECT_FAIL(b, "duplicate metadata key 'a.b'");
    hdr(&b, 3, 0, 1); gb_strn(&b, "a\0b", 3); gb_u32(&b, LMC_GGUF_U8); gb_raw(&b, "\1", 1);
    EXPECT_FAIL(b, "metadata key 'a...' contains a NUL byte");
    hdr(&b, 3, 0, 1); kv_u64(&b, "general.alignment", 64);
    EXPECT_FAIL(b, "general.alignment is u64, not u32");
    hdr(&b, 3, 0, 1); kv_u32(&b, "general.alignment", 48);
    EXPECT_FAIL(b, "general.alignment 48 is not a power of two");
    hdr(&b, 3, 0, 1); kv_u32(&b, "general.alignment", 0);
    EXPECT_FAIL(b, "general.alignment 0 is not a power of two");
}

static void test_corrupt_tensors(void) {
    gb b = {0};
    uint64_t ne5[5] = {1, 1, 1, 1, 1}, big[3] = {1ull << 32, 1ull << 32, 1ull << 32}, huge[1] = {1ull << 63};
    uint64_t ne32[1] = {32}, ne33[1] = {33}, ne8[1] = {8};
    hdr(&b, 3, 1, 0); ti(&b, "t", 5, ne5, 0, 0);
    EXPECT_FAIL(b, "tensor 't': 5 dimensions, GGUF allows at most 4");
    hdr(&b, 3, 1, 0); ti(&b, "t", 3, big, 0, 0);
    EXPECT_FAIL(b, "tensor 't': dimensions overflow (ne[1] = 4294967296)");
    hdr(&b, 3, 1, 0); ti(&b, "t", 1, huge, 0, 0);
    EXPECT_FAIL(b, "dimensions overflow (ne[0] = 9223372036854775808)");
    hdr(&b, 3, 1, 0); ti(&b, "t", 1, ne32, 4, 0);
    EXPECT_FAIL(b, "tensor 't': unknown ggml type 4");
    hdr(&b, 3, 1, 0); ti(&b, "t", 1, ne32, 0xffffffffu, 0);
    EXPECT_FAIL(b, "unknown ggml type 4294967295");
    hdr(&b, 3, 1, 0); ti(&b, "t", 1, ne33, LMC_GGML_Q8_0, 0); gb_pad(&b, 32); gb_zeros(&b, 64);
    EXPECT_FAIL(b, "row length 33 is not a multiple of Q8_0's block of 32");
    uint64_t nefl[2] = {(uint64_t)1 << 62, 1};
    hdr(&b, 3, 1, 0); ti(&b, "t", 2, nefl, LMC_GGML_F32, 0);
    EXPECT_FAIL(b, "tensor 't': byte size overflows");
    hdr(&b, 3, 1, 0); ti(&b, "t", 1, ne8, LMC_GGML_F32, 4); gb_pad(&b, 32); gb_zeros(&b, 64);
    EXPECT_FAIL(b, "offset 4 is not a multiple of the alignment 32");
    hdr(&b, 3, 1, 0); ti(&b, "t", 1, ne8, LMC_GGML_F32, 32); gb_pad(&b, 32); gb_zeros(&b, 63);
    EXPECT_FAIL(b, "tensor 't': bytes [32, +32) of the data section lie beyond the file's end");
    hdr(&b, 3, 1, 0); ti(&b, "t", 1, ne8, LMC_GGML_F32, UINT64_MAX - 31); gb_pad(&b, 32); gb_zeros(&b, 64);
    EXPECT_FAIL(b, "beyond the file's end");
    hdr(&b, 3, 1, 0); ti(&b, "t", 1, ne8, LMC_GGML_F32, 0); /* no data section at all */
    EXPECT_FAIL(b, "beyond the file's end");
    uint64_t ne16[1] = {16};
    hdr(&b, 3, 2, 0); ti(&b, "a", 1, ne16, LMC_GGML_F32, 0); ti(&b, "b", 1, ne8, LMC_GGML_F32, 32);
    gb_pad(&b, 32); gb_zeros(&b, 64);
    EXPECT_FAIL(b, "tensors 'a' and 'b' overlap");
    hdr(&b, 3, 2, 0); ti(&b, "a", 1, ne8, LMC_GGML_F32, 0); ti(&b, "a", 1, ne8, LMC_GGML_F32, 32);
    gb_pad(&b, 32); gb_zeros(&b, 64);
    EXPECT_FAIL(b, "duplicate tensor name 'a'");
    hdr(&b, 3, 1, 0); gb_strn(&b, "t\0", 2); gb_u32(&b, 1); gb_u64(&b, 8); gb_u32(&b, 0); gb_u64(&b, 0);
    gb_pad(&b, 32); gb_zeros(&b, 32);
    EXPECT_FAIL(b, "tensor name 't...' contains a NUL byte");
    hdr(&b, 3, 1, 0); gb_str(&b, "t"); gb_u32(&b, 1); gb_u64(&b, 8); gb_u32(&b, 0); gb_zeros(&b, 2);
    EXPECT_FAIL(b, "truncated: tensor offset needs 8 bytes");
}

/* Every proper prefix of the fixture is refused cleanly (its last tensor ends at the file's last byte). */
static void test_truncations(void) {
    char *data;
    size_t n;
    lmc_err err = {{0}};
    REQUIRE(lmc_read_file(FIXTURE, &data, &n, &err) == 0, "%s", err.msg);
    const char *p = t_tmp("trunc.gguf");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0 && write(fd, data, n) == (ssize_t)n, "write %s", p);
    int opened = 0, multiline = 0;
    for (size_t len = n; len-- > 0;) {
        REQUIRE(ftruncate(fd, (off_t)len) == 0, "truncate");
        lmc_gguf *g;
        if (lmc_gguf_open(p, &g, &err) == 0) { opened++; lmc_gguf_close(g); continue; }
        if (strchr(err.msg, '\n') || !strstr(err.msg, "trunc.gguf: ")) multiline++;
    }
    close(fd);
    free(data);
    CHECK(opened == 0, "%d truncated files opened", opened);
    CHECK(multiline == 0, "%d errors not one line naming the file", multiline);
}

int main(void) {
    RUN(test_fixture_metadata);
    RUN(test_fixture_tensors);
    RUN(test_fixture_dequant);
    RUN(test_dequant_dispatch);
    RUN(test_built_valid);
    RUN(test_corrupt_header);
    RUN(test_corrupt_metadata);
    RUN(test_corrupt_tensors);
    RUN(test_truncations);
    t_tmp_cleanup();
    return test_summary();
}
