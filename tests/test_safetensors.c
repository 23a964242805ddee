/* test_safetensors.c — the safetensors reader (valid, corrupt, sharded, real files) and writer. */
#include "test.h"

#include "kernels.h"
#include "model/safetensors.h"
#include "common/util.h"

#include <stdint.h>
#include <unistd.h>

/* ---- test files ------------------------------------------------------------------------------ */

/* A safetensors file from a header string (padded with spaces to a multiple of 8, as writers do, so that
 * the data is aligned) and data bytes. */
static void write_st(const char *path, const char *header, const void *data, size_t ndata) {
    size_t h0 = strlen(header), h = (h0 + 7) / 8 * 8;
    uint8_t *b = malloc(8 + h + ndata + 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memset(b + 8, ' ', h);
    memcpy(b + 8, header, h0);
    if (ndata) memcpy(b + 8 + h, data, ndata);
    t_write_file(path, b, 8 + h + ndata);
    free(b);
}

/* Number of directory entries whose name starts with prefix (to find leftover tmp files). */
#include <dirent.h>
static int count_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return n;
}

/* ---- valid files ----------------------------------------------------------------------------- */

static void test_valid_file(void) {
    const char *path = t_tmp("valid.safetensors");
    uint8_t data[44];
    float a[6] = {1, 2, 3, -4, 0.5f, 1e-3f};
    uint16_t b[4] = {0x3f80, 0x4000, 0xbf80, 0x0000}; /* bf16 1, 2, -1, 0 */
    uint16_t c[4] = {0x3c00, 0x4000, 0xbc00, 0x3800}; /* f16 1, 2, -1, 0.5 */
    float s = 42;
    memcpy(data, a, 24);
    memcpy(data + 24, b, 8);
    memcpy(data + 32, c, 8);
    memcpy(data + 40, &s, 4);
    write_st(path,
             "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
             "\"c\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[32,40]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
             "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[40,44]},"
             "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[44,44]}}",
             data, sizeof data);
    lmc_weights *w;
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_open(path, &w, &err) == 0, "open: %s", err.msg);
    CHECK(lmc_weights_count(w) == 5, "count %zu", lmc_weights_count(w));
    /* enumeration is in data-offset order, not header order */
    const char *order[] = {"a", "b", "c", "s", "z"};
    for (size_t i = 0; i < 5 && i < lmc_weights_count(w); i++)
        CHECK(strcmp(lmc_weights_at(w, i)->name, order[i]) == 0, "at(%zu) = %s", i, lmc_weights_at(w, i)->name);
    CHECK(lmc_weights_at(w, 5) == NULL, "at past end");
    const lmc_tensor *t = lmc_weights_find(w, "a");
    REQUIRE(t, "find a");
    CHECK(t->dtype == LMC_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6 &&
          t->nbytes == 24, "a meta");
    CHECK(memcmp(t->data, a, 24) == 0, "a data");
    t = lmc_weights_find(w, "b");
    REQUIRE(t, "find b");
    CHECK(t->dtype == LMC_BF16 && t->ndim == 1 && t->shape[0] == 4 && memcmp(t->data, b, 8) == 0, "b");
    t = lmc_weights_find(w, "c");
    REQUIRE(t, "find c");
    CHECK(t->dtype == LMC_F16 && t->ndim == 2 && t->numel == 4 && memcmp(t->data, c, 8) == 0, "c");
    t = lmc_weights_find(w, "s");
    REQUIRE(t, "find s");
    CHECK(t->ndim == 0 && t->numel == 1 && *(const float *)t->data == 42, "scalar");
    t = lmc_weights_find(w, "z");
    REQUIRE(t, "find z");
    CHECK(t->numel == 0 && t->nbytes == 0, "empty");
    CHECK(lmc_weights_find(w, "nope") == NULL, "absent");
    CHECK(lmc_weights_meta(w, "format") && strcmp(lmc_weights_meta(w, "format"), "pt") == 0, "meta format");
    CHECK(lmc_weights_meta(w, "k") && strcmp(lmc_weights_meta(w, "k"), "v") == 0, "meta k");
    CHECK(lmc_weights_meta(w, "x") == NULL, "meta absent");
    CHECK(lmc_weights_meta_count(w) == 2, "meta count");
    const char *val, *key = lmc_weights_meta_at(w, 1, &val);
    CHECK(key && strcmp(key, "k") == 0 && strcmp(val, "v") == 0, "meta_at");
    CHECK(lmc_weights_total_bytes(w) == 44, "total %zu", lmc_weights_total_bytes(w));
    CHECK(strcmp(lmc_weights_file_path(w, 0), path) == 0, "file path");
    CHECK(lmc_weights_unsupported_count(w) == 0, "unsupported");
    lmc_err e2 = {{0}};
    CHECK(lmc_weights_get(w, "a", &e2) == lmc_weights_find(w, "a"), "get");
    lmc_weights_close(w);
}

static void test_unsupported_dtype(void) {
    const char *path = t_tmp("i64.safetensors");
    uint8_t data[20] = {0};
    write_st(path,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"position_ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[4,20]}}",
             data, sizeof data);
    lmc_weights *w;
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_open(path, &w, &err) == 0, "open: %s", err.msg);
    CHECK(lmc_weights_count(w) == 1, "only the F32 tensor is an lmc_tensor");
    CHECK(lmc_weights_find(w, "position_ids") == NULL, "find hides I64");
    CHECK(lmc_weights_get(w, "position_ids", &err) == NULL, "get fails");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "I64") && strstr(err.msg, "not supported"), "msg: %s", err.msg);
    CHECK(lmc_weights_get(w, "missing", &err) == NULL && strstr(err.msg, "no tensor") && strstr(err.msg, path),
          "msg: %s", err.msg);
    const char *dt = NULL;
    CHECK(lmc_weights_unsupported_count(w) == 1, "unsupported count");
    const char *name = lmc_weights_unsupported_at(w, 0, &dt);
    CHECK(name && strcmp(name, "position_ids") == 0 && strcmp(dt, "I64") == 0, "unsupported_at");
    lmc_weights_close(w);
}

static void test_alias(void) {
    const char *path = t_tmp("alias.safetensors");
    float d[2] = {1, 2};
    write_st(path,
             "{\"__metadata__\":{\"format\":\"pt\",\"emb\":\"head\",\"loop\":\"loop2\"},"
             "\"head\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             d, sizeof d);
    lmc_weights *w;
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_open(path, &w, &err) == 0, "open: %s", err.msg);
    const lmc_tensor *t = lmc_weights_find(w, "emb");
    CHECK(t && strcmp(t->name, "head") == 0, "alias resolves");
    CHECK(lmc_weights_find(w, "format") == NULL && lmc_weights_find(w, "loop") == NULL, "non-tensor values");
    CHECK(lmc_weights_count(w) == 1, "aliases are not tensors");
    lmc_weights_close(w);
}

/* ---- corrupt files --------------------------------------------------------------------------- */

/* Opening `path` must fail with one line naming `named` (usually path itself) and containing `word`. */
#define EXPECT_OPEN_FAIL_AT(path, named, word)                                                           \
    do {                                                                                                 \
        lmc_weights *w_ = NULL;                                                                          \
        lmc_err e_ = {{0}};                                                                              \
        int rc_ = lmc_weights_open(path, &w_, &e_);                                                      \
        CHECK(rc_ == -1 && w_ == NULL, "%s: open should fail (%s)", path, word);                         \
        CHECK(strstr(e_.msg, named) != NULL, "message lacks %s: %s", named, e_.msg);                     \
        CHECK(strstr(e_.msg, word) != NULL, "message lacks '%s': %s", word, e_.msg);                     \
        CHECK(!strchr(e_.msg, '\n'), "one line");                                                        \
        if (!rc_) lmc_weights_close(w_);                                                                 \
    } while (0)
#define EXPECT_OPEN_FAIL(path, word) EXPECT_OPEN_FAIL_AT(path, path, word)

static void test_short_file(void) {
    const char *path = t_tmp("short.safetensors");
    t_write_file(path, "\x05\0\0", 3);
    EXPECT_OPEN_FAIL(path, "shorter than");
    const char *empty = t_tmp("empty.safetensors");
    t_write_file(empty, "", 0);
    EXPECT_OPEN_FAIL(empty, "shorter than");
}

static void test_header_length(void) {
    const char *path = t_tmp("hlen.safetensors");
    uint8_t b[40] = {0};
    b[0] = 0xe8; b[1] = 0x03; /* 1000 > 32 bytes left */
    memcpy(b + 8, "{}", 2);
    t_write_file(path, b, sizeof b);
    EXPECT_OPEN_FAIL(path, "exceeds the file size");
    const char *huge = t_tmp("hlen_huge.safetensors");
    memset(b, 0, 8);
    b[7] = 0x40; /* 2^62 */
    t_write_file(huge, b, sizeof b);
    EXPECT_OPEN_FAIL(huge, "implausible");
}

static void test_corrupt_headers(void) {
    static const struct { const char *name, *header, *word; size_t data; } cases[] = {
        {"json_garbage", "{\"a\": {\"dtype\": \"F32\",", "not valid JSON", 0},
        {"json_binary", "\x01\x02\xff\xfe", "not valid JSON", 0},
        {"json_trailing", "{} {}", "not valid JSON", 0},
        {"json_array", "[1, 2, 3]", "not a JSON object", 0},
        {"json_string", "\"hello\"", "not a JSON object", 0},
        {"entry_not_object", "{\"a\": 3}", "not a JSON object", 0},
        {"dtype_missing", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype", 4},
        {"dtype_unknown", "{\"a\":{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,4]}}", "unknown dtype 'Q4_K'", 4},
        {"dtype_f4", "{\"a\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", "not supported", 4},
        {"shape_negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "shape", 4},
        {"shape_fraction", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "shape", 4},
        {"shape_string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", "shape", 4},
        {"shape_not_list", "{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", "shape", 4},
        {"shape_huge", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", "too large", 4},
        {"shape_5d", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", "dimensions", 4},
        {"size_mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "mismatch", 8},
        {"offsets_beyond", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "beyond the data section", 4},
        {"offsets_reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", "reversed", 8},
        {"offsets_one", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", "data_offsets", 8},
        {"offsets_negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", "data_offsets", 8},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "overlap", 12},
        {"duplicate", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "duplicate tensor name", 8},
        {"meta_not_string", "{\"__metadata__\":{\"format\":1}}", "not a string", 0},
        {"meta_not_object", "{\"__metadata__\":[\"x\"]}", "__metadata__", 0},
    };
    uint8_t zeros[16] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.safetensors", cases[i].name);
        const char *path = t_tmp(name);
        write_st(path, cases[i].header, zeros, cases[i].data);
        EXPECT_OPEN_FAIL(path, cases[i].word);
    }
}

static void test_missing_file(void) {
    const char *path = t_tmp("does-not-exist.safetensors");
    EXPECT_OPEN_FAIL(path, "cannot open");
}

/* Random byte mutations and every truncation of a valid file: open must return 0 or -1 with a message, and
 * never crash (the header parser sees arbitrary bytes). */
static void test_mutations_never_crash(void) {
    const char *path = t_tmp("fuzz.safetensors");
    const char *header = "{\"__metadata__\":{\"format\":\"pt\"},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]}}";
    size_t h = strlen(header), n = 8 + h + 24;
    uint8_t *orig = calloc(1, n), *buf = malloc(n);
    for (int i = 0; i < 8; i++) orig[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(orig + 8, header, h);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int opened = 0, failed = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(buf, orig, n);
        int k = 1 + (int)(x % 4);
        for (int j = 0; j < k; j++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t at = (size_t)(x % (8 + h)); /* mutate the length or the header */
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            buf[at] = (x & 1) ? (uint8_t)(x >> 8) : (uint8_t)"{}[],:\"0-e.\\ "[(x >> 8) % 14];
        }
        t_write_file(path, buf, n);
        lmc_weights *w;
        lmc_err err = {{0}};
        if (lmc_weights_open(path, &w, &err) == 0) { opened++; lmc_weights_close(w); }
        else { failed++; CHECK(err.msg[0], "failure without a message"); }
    }
    for (size_t len = 0; len < n; len++) {
        t_write_file(path, orig, len);
        lmc_weights *w;
        lmc_err err = {{0}};
        int rc = lmc_weights_open(path, &w, &err);
        CHECK(rc == -1 && strstr(err.msg, path), "truncation to %zu bytes should fail: %s", len, err.msg);
        if (!rc) lmc_weights_close(w);
    }
    CHECK(opened + failed == 4000 && failed > 0, "opened %d failed %d", opened, failed);
    free(orig);
    free(buf);
}

/* ---- directories and shards ------------------------------------------------------------------ */

static void test_empty_dir(void) {
    const char *dir = t_tmp("emptydir");
    mkdir(dir, 0755);
    EXPECT_OPEN_FAIL(dir, "no model.safetensors or model.safetensors.index.json");
}

static void test_dir_single(void) {
    const char *dir = t_tmp("single");
    mkdir(dir, 0755);
    float d[1] = {7};
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_st(path, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 4);
    lmc_weights *w;
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_open(dir, &w, &err) == 0, "open: %s", err.msg);
    const lmc_tensor *t = lmc_weights_find(w, "x");
    CHECK(t && *(const float *)t->data == 7, "x");
    lmc_weights_close(w);
}

/* A two-shard checkpoint: a, b in shard 1, c in shard 2, with the given index text. */
static const char *make_sharded(const char *name, const char *index, bool write_second) {
    const char *dir = t_tmp(name);
    mkdir(dir, 0755);
    char path[600];
    float d[4] = {1, 2, 3, 4};
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    write_st(path, "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", d, 12);
    if (write_second) {
        snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
        write_st(path, "{\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d + 3, 4);
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    t_write_file(path, index, strlen(index));
    return dir;
}

static const char *GOOD_INDEX = "{\"metadata\":{\"total_size\":16},\"weight_map\":{"
                                "\"a\":\"model-00001-of-00002.safetensors\","
                                "\"c\":\"model-00002-of-00002.safetensors\","
                                "\"b\":\"model-00001-of-00002.safetensors\"}}";

static void test_sharded(void) {
    const char *dir = make_sharded("sharded", GOOD_INDEX, true);
    lmc_weights *w;
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_open(dir, &w, &err) == 0, "open: %s", err.msg);
    CHECK(lmc_weights_count(w) == 3, "count %zu", lmc_weights_count(w));
    const lmc_tensor *a = lmc_weights_find(w, "a"), *c = lmc_weights_find(w, "c");
    REQUIRE(a && c, "find");
    CHECK(((const float *)a->data)[1] == 2 && *(const float *)c->data == 4, "data");
    CHECK(strstr(lmc_weights_file_path(w, a->file), "model-00001-of-00002") != NULL, "a's shard");
    CHECK(strstr(lmc_weights_file_path(w, c->file), "model-00002-of-00002") != NULL, "c's shard");
    CHECK(lmc_weights_meta(w, "format") != NULL, "first shard's metadata");
    CHECK(lmc_weights_total_bytes(w) == 16, "total");
    lmc_weights_close(w);
}

static void test_sharded_errors(void) {
    char index[600], second[600];
    const char *dir = make_sharded("shard_missing", GOOD_INDEX, false);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    EXPECT_OPEN_FAIL_AT(dir, index, "model-00002-of-00002.safetensors is missing");
    EXPECT_OPEN_FAIL(index, "model-00002-of-00002.safetensors is missing"); /* the index path itself works too */

    dir = make_sharded("shard_dup", "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                                    "\"c\":\"model-00002-of-00002.safetensors\"}}", true);
    snprintf(second, sizeof second, "%s/model-00002-of-00002.safetensors", dir);
    float d[1] = {0};
    write_st(second, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 4); /* a again */
    EXPECT_OPEN_FAIL_AT(dir, second, "duplicate tensor name 'a'");

    dir = make_sharded("shard_notheld", "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                                        "\"zz\":\"model-00002-of-00002.safetensors\"}}", true);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    EXPECT_OPEN_FAIL_AT(dir, index, "does not hold it");

    dir = make_sharded("shard_moved", "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\","
                                      "\"b\":\"model-00001-of-00002.safetensors\","
                                      "\"c\":\"model-00002-of-00002.safetensors\"}}", true);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    EXPECT_OPEN_FAIL_AT(dir, index, "stored in");

    dir = make_sharded("shard_badjson", "{\"weight_map\": [", true);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    EXPECT_OPEN_FAIL_AT(dir, index, "not valid JSON");

    dir = make_sharded("shard_escape", "{\"weight_map\":{\"a\":\"../x.safetensors\"}}", true);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    EXPECT_OPEN_FAIL_AT(dir, index, "same directory");

    /* a corrupt shard is reported under the shard's own name */
    dir = make_sharded("shard_corrupt", GOOD_INDEX, true);
    snprintf(second, sizeof second, "%s/model-00002-of-00002.safetensors", dir);
    t_write_file(second, "abc", 3);
    EXPECT_OPEN_FAIL_AT(dir, second, "shorter than");
}

/* ---- writer ---------------------------------------------------------------------------------- */

static uint64_t header_len(const char *path) {
    uint8_t b[8] = {0};
    FILE *f = fopen(path, "rb");
    if (f) { if (fread(b, 1, 8, f) != 8) memset(b, 0, 8); fclose(f); }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)b[i] << (8 * i);
    return n;
}

static void test_writer_round_trip(void) {
    /* Rounding cases: 1 + 2^-8 is a bf16 tie between 1 (even) and 1 + 2^-7 → 1; 1 + 3·2^-8 → 1 + 2^-6.
     * For f16: 1 + 2^-11 → 1, 1 + 3·2^-11 → 1 + 2^-9. */
    float src[6] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, -2.5f, 0};
    uint16_t bf[2] = {0x3f80, 0xc020}; /* 1, -2.5 */
    /* unaligned f32 source: the writer must not assume alignment */
    uint8_t unal[1 + 6 * 4];
    memcpy(unal + 1, src, sizeof src);
    lmc_st_entry e[] = {
        {.name = "to_bf16", .dtype = LMC_BF16, .ndim = 1, .shape = {6}, .src = src, .src_dtype = LMC_F32},
        {.name = "to_f16", .dtype = LMC_F16, .ndim = 2, .shape = {2, 3}, .src = unal + 1, .src_dtype = LMC_F32},
        {.name = "keep", .dtype = LMC_F32, .ndim = 1, .shape = {6}, .src = src, .src_dtype = LMC_F32},
        {.name = "bf_to_f32", .dtype = LMC_F32, .ndim = 1, .shape = {2}, .src = bf, .src_dtype = LMC_BF16},
        {.name = "bf_to_f16", .dtype = LMC_F16, .ndim = 1, .shape = {2}, .src = bf, .src_dtype = LMC_BF16},
        {.name = "empty", .dtype = LMC_F32, .ndim = 2, .shape = {0, 5}, .src = NULL, .src_dtype = LMC_F32},
    };
    const char *meta[] = {"format", "pt", "tricky", "quote\" back\\ nl\n tab\t ctl\x01 utf8 \xc3\xa9 \xe2\x96\x81"};
    const char *path = t_tmp("written.safetensors");
    lmc_err err = {{0}};
    REQUIRE(lmc_st_write(path, e, 6, meta, 2, &err) == 0, "write: %s", err.msg);
    CHECK(header_len(path) % 8 == 0, "header padded to 8: %llu", (unsigned long long)header_len(path));
    CHECK(count_prefix(t_tmp_dir(), "written.safetensors.tmp") == 0, "tmp file left");
    lmc_weights *w;
    REQUIRE(lmc_weights_open(path, &w, &err) == 0, "reopen: %s", err.msg);
    CHECK(lmc_weights_count(w) == 6, "count");
    for (size_t i = 0; i < lmc_weights_count(w); i++)
        CHECK(strcmp(lmc_weights_at(w, i)->name, e[i].name) == 0, "order %zu", i);
    const lmc_tensor *t = lmc_weights_find(w, "to_bf16");
    REQUIRE(t && t->dtype == LMC_BF16, "to_bf16");
    const uint16_t *h = t->data;
    CHECK(h[0] == 0x3f80 && h[1] == 0x3f82 && h[4] == 0xc020 && h[5] == 0, "bf16 RNE: %04x %04x", h[0], h[1]);
    t = lmc_weights_find(w, "to_f16");
    REQUIRE(t && t->dtype == LMC_F16 && t->ndim == 2 && t->shape[1] == 3, "to_f16");
    h = t->data;
    CHECK(h[2] == 0x3c00 && h[3] == 0x3c02 && h[4] == 0xc100, "f16 RNE: %04x %04x %04x", h[2], h[3], h[4]);
    t = lmc_weights_find(w, "keep");
    CHECK(t && memcmp(t->data, src, sizeof src) == 0, "f32 copy");
    t = lmc_weights_find(w, "bf_to_f32");
    CHECK(t && ((const float *)t->data)[0] == 1.0f && ((const float *)t->data)[1] == -2.5f, "bf16 widening");
    t = lmc_weights_find(w, "bf_to_f16");
    CHECK(t && ((const uint16_t *)t->data)[0] == 0x3c00 && ((const uint16_t *)t->data)[1] == 0xc100, "bf16→f16");
    t = lmc_weights_find(w, "empty");
    CHECK(t && t->numel == 0 && t->shape[1] == 5, "empty");
    CHECK(lmc_weights_meta(w, "tricky") && strcmp(lmc_weights_meta(w, "tricky"), meta[3]) == 0, "escaping");
    lmc_weights_close(w);
}

/* More than one conversion chunk (1 Mi elements): the chunked result equals one whole-array conversion. */
static void test_writer_chunks(void) {
    size_t n = (1u << 20) * 2 + 12345;
    float *src = malloc(n * 4);
    uint16_t *want = malloc(n * 2);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint32_t u = (uint32_t)x;
        u = (u & 0x80ffffffu) | ((uint32_t)(100 + (x >> 40) % 56) << 23); /* finite, varied exponents */
        memcpy(&src[i], &u, 4);
    }
    f32_to_bf16(want, src, n);
    lmc_st_entry e = {.name = "big", .dtype = LMC_BF16, .ndim = 1, .shape = {(int64_t)n}, .src = src,
                      .src_dtype = LMC_F32};
    const char *path = t_tmp("big.safetensors");
    lmc_err err = {{0}};
    REQUIRE(lmc_st_write(path, &e, 1, NULL, 0, &err) == 0, "write: %s", err.msg);
    lmc_weights *w;
    REQUIRE(lmc_weights_open(path, &w, &err) == 0, "open: %s", err.msg);
    const lmc_tensor *t = lmc_weights_find(w, "big");
    CHECK(t && t->numel == (int64_t)n && memcmp(t->data, want, n * 2) == 0, "chunked conversion differs");
    CHECK(lmc_weights_meta_count(w) == 0, "no metadata");
    lmc_weights_close(w);
    free(src);
    free(want);
    unlink(path);
}

static void test_writer_errors(void) {
    float d[1] = {1};
    lmc_st_entry dup[] = {
        {.name = "x", .dtype = LMC_F32, .ndim = 1, .shape = {1}, .src = d, .src_dtype = LMC_F32},
        {.name = "x", .dtype = LMC_F32, .ndim = 1, .shape = {1}, .src = d, .src_dtype = LMC_F32},
    };
    const char *path = t_tmp("dup_out.safetensors");
    lmc_err err = {{0}};
    CHECK(lmc_st_write(path, dup, 2, NULL, 0, &err) == -1 && strstr(err.msg, "duplicate"), "dup: %s", err.msg);
    CHECK(!t_exists(path), "no output after failure");
    lmc_st_entry meta_name = {.name = "__metadata__", .dtype = LMC_F32, .ndim = 1, .shape = {1}, .src = d};
    CHECK(lmc_st_write(path, &meta_name, 1, NULL, 0, &err) == -1, "__metadata__ as a tensor name");
    lmc_st_entry nosrc = {.name = "y", .dtype = LMC_F32, .ndim = 1, .shape = {3}, .src = NULL};
    CHECK(lmc_st_write(path, &nosrc, 1, NULL, 0, &err) == -1, "NULL src");
    lmc_st_entry neg = {.name = "y", .dtype = LMC_F32, .ndim = 1, .shape = {-3}, .src = d};
    CHECK(lmc_st_write(path, &neg, 1, NULL, 0, &err) == -1, "negative dim");
    const char *kv[] = {"k", "1", "k", "2"};
    CHECK(lmc_st_write(path, dup, 1, kv, 2, &err) == -1 && strstr(err.msg, "duplicate"), "dup meta key");
    CHECK(!t_exists(path), "no output after failure");
    const char *bad = t_tmp("no/such/dir/out.safetensors");
    CHECK(lmc_st_write(bad, dup, 1, NULL, 0, &err) == -1 && strstr(err.msg, "cannot create"), "bad dir: %s",
          err.msg);
    CHECK(count_prefix(t_tmp_dir(), "dup_out") == 0, "leftovers");
}

static void test_dtype_helpers(void) {
    lmc_dtype dt;
    CHECK(lmc_dtype_parse("bf16", &dt) == 0 && dt == LMC_BF16, "bf16");
    CHECK(lmc_dtype_parse("F32", &dt) == 0 && dt == LMC_F32, "F32");
    CHECK(lmc_dtype_parse("float16", &dt) == 0 && dt == LMC_F16, "float16");
    CHECK(lmc_dtype_parse("q8", &dt) == -1 && lmc_dtype_parse(NULL, &dt) == -1, "bad");
    CHECK(lmc_dtype_size(LMC_F32) == 4 && lmc_dtype_size(LMC_BF16) == 2 && lmc_dtype_size(LMC_F16) == 2, "sizes");
    CHECK(strcmp(lmc_dtype_name(LMC_BF16), "BF16") == 0, "name");
}

/* The traits table: every row's block sizes agree with the helpers, the ggml ids map back to the row, and
 * widening through a row gives ggml's values (one Q8_0 block: x = d·q). */
static void test_type_traits(void) {
    for (int i = 0; i < LMC_N_DTYPES; i++) {
        const lmc_type_traits *tr = lmc_type_traits_of((lmc_dtype)i);
        lmc_dtype back;
        REQUIRE(tr && tr->name && tr->to_f32 && tr->block >= 1, "row %d incomplete", i);
        CHECK(lmc_dtype_bytes((lmc_dtype)i, 2 * tr->block) == 2 * tr->block_bytes, "%s: bytes of two blocks", tr->name);
        CHECK(lmc_dtype_size((lmc_dtype)i) == (tr->quantized ? 0 : tr->block_bytes), "%s: element size", tr->name);
        CHECK(lmc_dtype_from_ggml(tr->ggml, &back) == 0 && back == (lmc_dtype)i, "%s: ggml id %d", tr->name, tr->ggml);
        CHECK(!strcmp(lmc_dtype_name((lmc_dtype)i), tr->name), "%s: name", tr->name);
    }
    lmc_dtype dt;
    CHECK(lmc_type_traits_of((lmc_dtype)LMC_N_DTYPES) == NULL && lmc_dtype_from_ggml(3 /* Q4_1 */, &dt) == -1,
          "unknown types");
    uint8_t blk[34] = {0x00, 0x40}; /* f16 d = 2.0, then 32 int8 q */
    for (int i = 0; i < 32; i++) blk[2 + i] = (uint8_t)(int8_t)(i - 16);
    float out[32];
    lmc_dtype_to_f32(LMC_Q8_0, blk, out, 32);
    CHECK(out[0] == -32.0f && out[31] == 30.0f, "Q8_0 widened: %g %g", out[0], out[31]);
}

static const char *name_of(const void *ctx, size_t i) { return ((const char *const *)ctx)[i]; }

/* The one lookup by name: sorted order, duplicates found, absent names -1. */
static void test_names(void) {
    const char *names[] = {"b", "a", "c", "a"};
    size_t *order = lmc_names_sort(4, name_of, names);
    CHECK(order[0] == 1 && order[1] == 3 && order[2] == 0 && order[3] == 2, "order %zu %zu %zu %zu", order[0],
          order[1], order[2], order[3]);
    CHECK(lmc_names_dup(order, 4, name_of, names) == 1, "duplicate 'a' not found");
    CHECK(lmc_names_find(order, 4, "a", name_of, names) == 1, "a");
    CHECK(lmc_names_find(order, 4, "c", name_of, names) == 2, "c");
    CHECK(lmc_names_find(order, 4, "bb", name_of, names) == -1 && lmc_names_find(order, 4, "", name_of, names) == -1,
          "absent names found");
    CHECK(lmc_names_dup(order + 2, 2, name_of, names) == 0, "b, c: no duplicate");
    free(order);
}

/* The one map-file helper: an empty file maps to (NULL, 0); a directory and a missing file are named errors. */
static void test_map_file(void) {
    lmc_map m;
    lmc_err err = {{0}};
    t_write_file(t_tmp("map_empty"), "", 0);
    t_write_file(t_tmp("map_abc"), "abc", 3);
    CHECK(lmc_map_file(t_tmp("map_empty"), &m, &err) == 0 && m.data == NULL && m.size == 0, "empty: %s", err.msg);
    REQUIRE(lmc_map_file(t_tmp("map_abc"), &m, &err) == 0, "%s", err.msg);
    CHECK(m.size == 3 && !memcmp(m.data, "abc", 3), "contents");
    lmc_unmap(&m);
    CHECK(m.data == NULL && m.size == 0, "unmap zeroes");
    CHECK(lmc_map_file(t_tmp_dir(), &m, &err) == -1 && strstr(err.msg, "not a regular file"), "dir: %s", err.msg);
    CHECK(lmc_map_file(t_tmp("map_missing"), &m, &err) == -1 && strstr(err.msg, "cannot open") &&
          strstr(err.msg, "map_missing"), "missing: %s", err.msg);
}

/* ---- real checkpoints ------------------------------------------------------------------------ */

static void test_real_tinystories(void) {
    SHARED_OR_SKIP(bf_dir, "models/TinyStories-656K-bf16");
    SHARED_OR_SKIP(f32_dir, "models/TinyStories-656K-f32");
    lmc_weights *bf, *f32;
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_open(bf_dir, &bf, &err) == 0, "bf16: %s", err.msg);
    if (lmc_weights_open(f32_dir, &f32, &err) != 0) { lmc_weights_close(bf); REQUIRE(0, "f32: %s", err.msg); }
    CHECK(lmc_weights_count(bf) == 20 && lmc_weights_count(f32) == 20, "counts %zu %zu", lmc_weights_count(bf),
          lmc_weights_count(f32));
    const lmc_tensor *e = lmc_weights_find(bf, "model.embed_tokens.weight");
    CHECK(e && e->dtype == LMC_BF16 && e->ndim == 2 && e->shape[0] == 2048 && e->shape[1] == 128, "bf16 embed");
    CHECK(lmc_weights_find(bf, "lm_head.weight") == NULL, "bf16 has no lm_head");
    CHECK(lmc_weights_find(f32, "lm_head.weight") != NULL, "f32 lm_head");
    const lmc_tensor *alias = lmc_weights_find(f32, "model.embed_tokens.weight");
    CHECK(alias && strcmp(alias->name, "lm_head.weight") == 0, "f32 embed via the metadata alias");
    /* every f32 value is the exact widening of the bf16 value */
    size_t compared = 0;
    for (size_t i = 0; i < lmc_weights_count(bf); i++) {
        const lmc_tensor *b = lmc_weights_at(bf, i), *f = lmc_weights_find(f32, b->name);
        REQUIRE(f && f->dtype == LMC_F32 && f->numel == b->numel, "%s", b->name);
        const uint16_t *bv = b->data;
        const uint32_t *fv = f->data;
        bool same = true;
        for (int64_t k = 0; k < b->numel; k++) same &= fv[k] == (uint32_t)bv[k] << 16;
        CHECK(same, "%s: f32 is not the widening of bf16", b->name);
        compared += (size_t)b->numel;
    }
    CHECK(compared == 656000 + 0, "compared %zu values", compared);
    CHECK(lmc_weights_total_bytes(bf) == 1312000, "bf16 total %zu", lmc_weights_total_bytes(bf));
    lmc_weights_close(bf);
    lmc_weights_close(f32);
}

static void test_real_others(void) {
    SHARED_OR_SKIP(demo, "demo-model");
    static const char *more[] = {"models/selftrained-gpt2-tiny", "models/selftrained-gptneox-tiny",
                                 "fixtures/arch/qwen2/model", "fixtures/arch/mixtral/model",
                                 "fixtures/arch/falcon7b/model", "fixtures/arch/falcon40b/model",
                                 "fixtures/arch/qwen1/model", "fixtures/arch/deepseek_v2/model",
                                 "fixtures/arch/gpt2/model", "fixtures/arch/gptneox/model"};
    lmc_weights *w;
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_open(demo, &w, &err) == 0, "demo: %s", err.msg);
    CHECK(lmc_weights_count(w) == 56, "demo count %zu", lmc_weights_count(w));
    lmc_weights_close(w);
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        const char *p = t_shared(more[i]);
        if (!p) continue;
        if (lmc_weights_open(p, &w, &err) != 0) { CHECK(0, "%s: %s", more[i], err.msg); continue; }
        CHECK(lmc_weights_count(w) > 0 && lmc_weights_unsupported_count(w) == 0, "%s", more[i]);
        for (size_t k = 0; k < lmc_weights_count(w); k++) {
            const lmc_tensor *t = lmc_weights_at(w, k);
            CHECK((uintptr_t)t->data % lmc_dtype_size(t->dtype) == 0, "%s: %s misaligned", more[i], t->name);
        }
        lmc_weights_close(w);
    }
}

int main(void) {
    RUN(test_valid_file);
    RUN(test_unsupported_dtype);
    RUN(test_alias);
    RUN(test_short_file);
    RUN(test_header_length);
    RUN(test_corrupt_headers);
    RUN(test_missing_file);
    RUN(test_mutations_never_crash);
    RUN(test_empty_dir);
    RUN(test_dir_single);
    RUN(test_sharded);
    RUN(test_sharded_errors);
    RUN(test_writer_round_trip);
    RUN(test_writer_chunks);
    RUN(test_writer_errors);
    RUN(test_dtype_helpers);
    RUN(test_type_traits);
    RUN(test_names);
    RUN(test_map_file);
    RUN(test_real_tinystories);
    RUN(test_real_others);
    t_tmp_cleanup();
    return test_summary();
}
