/* test_convert.c — lmc convert: HF directories (dtype conversion, metadata, tied edge case), llama2.c .bin
 * import, lmc files, and that every failure leaves no output behind. */
#include "test.h"

#include "../tools/convert.h"
#include "kernels.h"
#include "model/safetensors.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

/* ---- test files ------------------------------------------------------------------------------ */

/* Whole file; *n its size. Exits on failure (test input must exist). */
static uint8_t *slurp(const char *path, size_t *n) {
    char *d;
    lmc_err err;
    if (lmc_read_file(path, &d, n, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    return (uint8_t *)d;
}

/* No file in dir whose name contains ".tmp." (the writer's tmp files). */
static bool no_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    bool ok = true;
    for (struct dirent *de; d && (de = readdir(d));) ok &= strstr(de->d_name, ".tmp.") == NULL;
    if (d) closedir(d);
    return ok;
}

static const char *meta_or(const lmc_weights *w, const char *key) {
    const char *v = lmc_weights_meta(w, key);
    return v ? v : "(absent)";
}

/* Conversion of src must fail with a message naming `named` and containing `word`, leaving out_path
 * absent and no tmp file in its directory. */
#define EXPECT_CONVERT_FAIL(src, out, dtype, tok, named, word)                                           \
    do {                                                                                                 \
        lmc_err e_ = {{0}};                                                                              \
        int rc_ = lmc_convert(src, out, dtype, tok, &e_);                                                \
        CHECK(rc_ == -1, "convert %s should fail (%s)", src, word);                                      \
        CHECK(strstr(e_.msg, named) != NULL, "message lacks %s: %s", named, e_.msg);                     \
        CHECK(strstr(e_.msg, word) != NULL, "message lacks '%s': %s", word, e_.msg);                     \
        CHECK(!t_exists(out), "%s exists after a failed conversion", out);                                 \
        CHECK(no_tmp_files(t_tmp_dir()), "tmp file left after a failed conversion");                       \
    } while (0)

/* ---- HF directories -------------------------------------------------------------------------- */

/* Checks the metadata every HF conversion of dir must carry. */
static void check_hf_meta(const lmc_weights *w, const char *dir) {
    char path[4096];
    size_t n;
    CHECK(strcmp(meta_or(w, "format"), "pt") == 0, "format");
    CHECK(strcmp(meta_or(w, "lmc.format"), "1") == 0, "lmc.format");
    CHECK(strcmp(meta_or(w, "lmc.source"), dir) == 0, "lmc.source %s", meta_or(w, "lmc.source"));
    uint8_t *config = slurp(lmc_path_join(path, sizeof path, dir, "config.json"), &n);
    CHECK(strcmp(meta_or(w, "lmc.config"), (char *)config) == 0, "lmc.config is not config.json's text");
    free(config);
    uint8_t *tok = slurp(lmc_path_join(path, sizeof path, dir, "tokenizer.json"), &n);
    CHECK(strcmp(meta_or(w, "lmc.tokenizer"), (char *)tok) == 0, "lmc.tokenizer is not tokenizer.json's text");
    free(tok);
    uint8_t *tc = slurp(lmc_path_join(path, sizeof path, dir, "tokenizer_config.json"), &n);
    CHECK(strcmp(meta_or(w, "lmc.tokenizer_config"), (char *)tc) == 0, "lmc.tokenizer_config");
    free(tc);
    CHECK(!lmc_weights_meta(w, "lmc.tiktoken") && !lmc_weights_meta(w, "lmc.tokenizer_llama2c"), "extra keys");
}

static uint64_t header_len(const char *path) {
    size_t n;
    uint8_t *b = slurp(path, &n), h[8] = {0};
    if (n >= 8) memcpy(h, b, 8);
    free(b);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)h[i] << (8 * i);
    return v;
}

static void test_hf_bf16_to_each_dtype(void) {
    SHARED_OR_SKIP(dir, "models/TinyStories-656K-bf16");
    lmc_weights *src;
    lmc_err err = {{0}};
    REQUIRE(lmc_weights_open(dir, &src, &err) == 0, "%s", err.msg);
    static const struct { int dtype; const char *file; } outs[] = {
        {LMC_F32, "ts-f32.safetensors"}, {LMC_BF16, "ts-bf16.safetensors"},
        {LMC_F16, "ts-f16.safetensors"}, {LMC_CONVERT_KEEP_DTYPE, "ts-keep.safetensors"}};
    for (size_t o = 0; o < 4; o++) {
        const char *out = t_tmp(outs[o].file);
        if (lmc_convert(dir, out, outs[o].dtype, NULL, &err) != 0) { CHECK(0, "convert: %s", err.msg); continue; }
        CHECK(header_len(out) % 8 == 0, "header not padded");
        lmc_weights *w;
        if (lmc_weights_open(out, &w, &err) != 0) { CHECK(0, "reopen: %s", err.msg); continue; }
        check_hf_meta(w, dir);
        CHECK(lmc_weights_count(w) == lmc_weights_count(src), "count %zu", lmc_weights_count(w));
        lmc_dtype want = outs[o].dtype == LMC_CONVERT_KEEP_DTYPE ? LMC_BF16 : (lmc_dtype)outs[o].dtype;
        for (size_t i = 0; i < lmc_weights_count(src) && i < lmc_weights_count(w); i++) {
            const lmc_tensor *s = lmc_weights_at(src, i), *t = lmc_weights_at(w, i);
            REQUIRE(strcmp(s->name, t->name) == 0, "order: %s vs %s", s->name, t->name);
            CHECK(t->dtype == want && t->ndim == s->ndim && memcmp(t->shape, s->shape, sizeof s->shape) == 0,
                  "%s: dtype/shape", t->name);
            CHECK((uintptr_t)t->data % lmc_dtype_size(t->dtype) == 0, "%s: misaligned", t->name);
            const uint16_t *sv = s->data;
            if (want == LMC_BF16) {
                CHECK(memcmp(t->data, s->data, s->nbytes) == 0, "%s: bf16→bf16 not byte-identical", t->name);
            } else if (want == LMC_F32) {
                const uint32_t *tv = t->data;
                bool same = true;
                for (int64_t k = 0; k < s->numel; k++) same &= tv[k] == (uint32_t)sv[k] << 16;
                CHECK(same, "%s: bf16→f32 is not the exact widening", t->name);
            } else {
                /* f16: the one correctly rounded value of the widened bf16 */
                float *f = malloc((size_t)s->numel * 4);
                uint16_t *h = malloc((size_t)s->numel * 2);
                bf16_to_f32(f, sv, (size_t)s->numel);
                f32_to_f16(h, f, (size_t)s->numel);
                CHECK(memcmp(t->data, h, (size_t)s->numel * 2) == 0, "%s: f16 values", t->name);
                float *back = malloc((size_t)s->numel * 4);
                f16_to_f32(back, t->data, (size_t)s->numel);
                bool close = true;
                for (int64_t k = 0; k < s->numel; k++)
                    close &= fabsf(back[k] - f[k]) <= fmaxf(fabsf(f[k]) * 0x1p-11f, 0x1p-25f);
                CHECK(close, "%s: f16 value off by more than half an ulp", t->name);
                free(f);
                free(h);
                free(back);
            }
        }
        lmc_weights_close(w);
        unlink(out);
    }
    lmc_weights_close(src);
}

/* TinyStories-656K-f32 stores the tied matrix only as lm_head.weight (+ a torch alias in __metadata__): the
 * name is kept, the alias carried over, and, the values being exact bf16 widenings, its bf16 conversion is
 * byte-identical to the upstream bf16 file. */
static void test_hf_f32_tied_edge_case(void) {
    SHARED_OR_SKIP(f32_dir, "models/TinyStories-656K-f32");
    SHARED_OR_SKIP(bf_dir, "models/TinyStories-656K-bf16");
    const char *out = t_tmp("ts32-bf16.safetensors");
    lmc_err err = {{0}};
    REQUIRE(lmc_convert(f32_dir, out, LMC_BF16, NULL, &err) == 0, "convert: %s", err.msg);
    lmc_weights *w, *bf;
    REQUIRE(lmc_weights_open(out, &w, &err) == 0, "reopen: %s", err.msg);
    if (lmc_weights_open(bf_dir, &bf, &err)) { lmc_weights_close(w); REQUIRE(0, "%s", err.msg); }
    check_hf_meta(w, f32_dir);
    CHECK(lmc_weights_count(w) == 20, "count");
    const lmc_tensor *head = lmc_weights_find(w, "lm_head.weight");
    CHECK(head && head->dtype == LMC_BF16, "lm_head kept");
    CHECK(strcmp(meta_or(w, "model.embed_tokens.weight"), "lm_head.weight") == 0, "alias carried over");
    const lmc_tensor *emb = lmc_weights_find(w, "model.embed_tokens.weight");
    CHECK(emb == head, "alias resolves in the output");
    for (size_t i = 0; i < lmc_weights_count(bf); i++) {
        const lmc_tensor *b = lmc_weights_at(bf, i), *t = lmc_weights_find(w, b->name);
        REQUIRE(t, "%s missing", b->name);
        CHECK(t->nbytes == b->nbytes && memcmp(t->data, b->data, b->nbytes) == 0, "%s differs", b->name);
    }
    lmc_weights_close(bf);
    lmc_weights_close(w);
    unlink(out);
}

/* A converted file converts again (dtype change only), keeping its metadata. */
static void test_lmc_file_reconvert(void) {
    SHARED_OR_SKIP(dir, "models/TinyStories-656K-bf16");
    const char *mid = t_tmp("re-f32.safetensors"), *out = t_tmp("re-bf16.safetensors");
    lmc_err err = {{0}};
    REQUIRE(lmc_convert(dir, mid, LMC_F32, NULL, &err) == 0, "%s", err.msg);
    REQUIRE(lmc_convert(mid, out, LMC_BF16, NULL, &err) == 0, "%s", err.msg);
    lmc_weights *w, *src;
    REQUIRE(lmc_weights_open(out, &w, &err) == 0, "%s", err.msg);
    if (lmc_weights_open(dir, &src, &err)) { lmc_weights_close(w); REQUIRE(0, "%s", err.msg); }
    CHECK(strcmp(meta_or(w, "lmc.source"), mid) == 0, "lmc.source");
    CHECK(lmc_weights_meta(w, "lmc.config") && lmc_weights_meta(w, "lmc.tokenizer"), "metadata kept");
    for (size_t i = 0; i < lmc_weights_count(src); i++) {
        const lmc_tensor *s = lmc_weights_at(src, i), *t = lmc_weights_find(w, s->name);
        CHECK(t && memcmp(t->data, s->data, s->nbytes) == 0, "%s: bf16→f32→bf16 not identical", s->name);
    }
    lmc_weights_close(src);
    lmc_weights_close(w);
    /* a plain safetensors file is not enough: the config is missing */
    SHARED_OR_SKIP(plain, "models/TinyStories-656K-bf16/model.safetensors");
    EXPECT_CONVERT_FAIL(plain, t_tmp("plain-out.safetensors"), LMC_F32, NULL, plain, "not a file written by lmc convert");
    unlink(mid);
    unlink(out);
}

static void test_hf_side_files(void) {
    const char *qwen1 = t_shared("fixtures/arch/qwen1/model");
    const char *gpt2 = t_shared("fixtures/arch/gpt2/model");
    if (!qwen1 || !gpt2) SKIP("fixtures/arch not found");
    const char *out = t_tmp("side.safetensors");
    lmc_err err = {{0}};
    char path[4096];
    size_t n;
    REQUIRE(lmc_convert(qwen1, out, LMC_CONVERT_KEEP_DTYPE, NULL, &err) == 0, "qwen1: %s", err.msg);
    lmc_weights *w;
    REQUIRE(lmc_weights_open(out, &w, &err) == 0, "%s", err.msg);
    uint8_t *tik = slurp(lmc_path_join(path, sizeof path, qwen1, "qwen.tiktoken"), &n);
    CHECK(strcmp(meta_or(w, "lmc.tiktoken"), (char *)tik) == 0, "lmc.tiktoken");
    CHECK(!lmc_weights_meta(w, "lmc.tokenizer"), "qwen1 has no tokenizer.json");
    CHECK(lmc_weights_meta(w, "lmc.tokenizer_config"), "tokenizer_config");
    free(tik);
    lmc_weights_close(w);
    REQUIRE(lmc_convert(gpt2, out, LMC_F32, NULL, &err) == 0, "gpt2: %s", err.msg);
    REQUIRE(lmc_weights_open(out, &w, &err) == 0, "%s", err.msg);
    uint8_t *tok = slurp(lmc_path_join(path, sizeof path, gpt2, "tokenizer.json.gz"), &n); /* decompressed */
    CHECK(tok[0] == '{' && strcmp(meta_or(w, "lmc.tokenizer"), (char *)tok) == 0, "lmc.tokenizer from .gz");
    free(tok);
    lmc_weights_close(w);
    unlink(out);
}

/* A minimal HF dir: config.json (text given) + model.safetensors from a header and data. */
static const char *make_hf_dir(const char *name, const char *config, const char *header, const void *data,
                               size_t ndata) {
    const char *dir = t_tmp(name);
    mkdir(dir, 0755);
    char path[4096];
    if (config) t_write_file(lmc_path_join(path, sizeof path, dir, "config.json"), config, strlen(config));
    if (header) {
        size_t h0 = strlen(header), h = (h0 + 7) / 8 * 8; /* padded: aligned data */
        uint8_t *b = calloc(1, 8 + h + ndata);
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
        memset(b + 8, ' ', h);
        memcpy(b + 8, header, h0);
        if (ndata) memcpy(b + 8 + h, data, ndata);
        t_write_file(lmc_path_join(path, sizeof path, dir, "model.safetensors"), b, 8 + h + ndata);
        free(b);
    }
    return dir;
}

static void test_hf_unsupported_dtype_dropped(void) {
    float d[5] = {1, 2, 0, 0, 0};
    const char *dir = make_hf_dir("hf_i64", "{\"model_type\": \"llama\"}",
                                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                  "\"pos\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}", d, 16);
    const char *out = t_tmp("hf_i64.safetensors");
    lmc_err err = {{0}};
    REQUIRE(lmc_convert(dir, out, LMC_F16, NULL, &err) == 0, "%s", err.msg);
    lmc_weights *w;
    REQUIRE(lmc_weights_open(out, &w, &err) == 0, "%s", err.msg);
    CHECK(lmc_weights_count(w) == 1 && lmc_weights_unsupported_count(w) == 0, "only a");
    CHECK(strcmp(meta_or(w, "lmc.dropped"), "pos (I64)") == 0, "lmc.dropped: %s", meta_or(w, "lmc.dropped"));
    CHECK(!lmc_weights_meta(w, "lmc.tokenizer"), "no tokenizer in the source, none in the output");
    lmc_weights_close(w);
    unlink(out);
}

static void test_hf_failures_leave_nothing(void) {
    float d[2] = {1, 2};
    const char *good_header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    const char *out = t_tmp("fail.safetensors");
    char path[4096];

    const char *dir = make_hf_dir("hf_corrupt", "{}", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
                                  "\"data_offsets\":[0,16]}}", d, 8);
    EXPECT_CONVERT_FAIL(dir, out, LMC_F32, NULL, lmc_path_join(path, sizeof path, dir, "model.safetensors"),
                        "beyond the data section");

    dir = make_hf_dir("hf_noconfig", NULL, good_header, d, 8);
    EXPECT_CONVERT_FAIL(dir, out, LMC_F32, NULL, dir, "no config.json");

    dir = make_hf_dir("hf_badconfig", "{\"a\": ", good_header, d, 8);
    EXPECT_CONVERT_FAIL(dir, out, LMC_F32, NULL, "config.json", "not a valid JSON object");

    dir = make_hf_dir("hf_noweights", "{}", NULL, NULL, 0);
    EXPECT_CONVERT_FAIL(dir, out, LMC_F32, NULL, dir, "no model.safetensors or model.safetensors.index.json");

    dir = make_hf_dir("hf_ok", "{}", good_header, d, 8);
    EXPECT_CONVERT_FAIL(dir, out, 7, NULL, "convert", "unknown dtype");
    EXPECT_CONVERT_FAIL(t_tmp("nonexistent"), out, LMC_F32, NULL, "nonexistent", "no such file");
    const char *bad_out = t_tmp("no/such/dir/out.safetensors");
    EXPECT_CONVERT_FAIL(dir, bad_out, LMC_F32, NULL, "out.safetensors", "cannot create");

    /* an existing output survives a failed conversion untouched (rename is the only write to it) */
    t_write_file(out, "OLD", 3);
    lmc_err err = {{0}};
    CHECK(lmc_convert(t_tmp("hf_noconfig"), out, LMC_F32, NULL, &err) == -1, "should fail");
    size_t n;
    uint8_t *b = slurp(out, &n);
    CHECK(n == 3 && memcmp(b, "OLD", 3) == 0, "existing output was modified");
    free(b);
    unlink(out);
}

/* ---- llama2.c -------------------------------------------------------------------------------- */

static void test_llama2c_stories260k(void) {
    SHARED_OR_SKIP(bin, "models/stories260K/stories260K.bin");
    SHARED_OR_SKIP(tokp, "models/stories260K/tok512.bin");
    const char *out = t_tmp("s260.safetensors");
    lmc_err err = {{0}};
    REQUIRE(lmc_convert(bin, out, LMC_CONVERT_KEEP_DTYPE, NULL, &err) == 0, "convert: %s", err.msg);
    lmc_weights *w;
    REQUIRE(lmc_weights_open(out, &w, &err) == 0, "%s", err.msg);
    size_t nb, nt;
    uint8_t *raw = slurp(bin, &nb), *tok = slurp(tokp, &nt);
    const float *f = (const float *)(raw + 28);

    CHECK(lmc_weights_count(w) == 1 + 5 * 9 + 1, "count %zu", lmc_weights_count(w));
    CHECK(lmc_weights_find(w, "lm_head.weight") == NULL, "shared classifier: no lm_head");
    static const struct { const char *name; int64_t r, c; } shapes[] = {
        {"model.embed_tokens.weight", 512, 64},          {"model.layers.0.input_layernorm.weight", 64, 0},
        {"model.layers.0.self_attn.q_proj.weight", 64, 64}, {"model.layers.4.self_attn.k_proj.weight", 32, 64},
        {"model.layers.2.self_attn.v_proj.weight", 32, 64}, {"model.layers.3.self_attn.o_proj.weight", 64, 64},
        {"model.layers.1.mlp.gate_proj.weight", 172, 64}, {"model.layers.1.mlp.down_proj.weight", 64, 172},
        {"model.layers.1.mlp.up_proj.weight", 172, 64},   {"model.layers.4.post_attention_layernorm.weight", 64, 0},
        {"model.norm.weight", 64, 0}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const lmc_tensor *t = lmc_weights_find(w, shapes[i].name);
        REQUIRE(t, "%s missing", shapes[i].name);
        CHECK(t->dtype == LMC_F32 && t->ndim == (shapes[i].c ? 2 : 1) && t->shape[0] == shapes[i].r &&
              (!shapes[i].c || t->shape[1] == shapes[i].c), "%s shape", shapes[i].name);
    }
    /* the embedding is the first floats; rms_att of layer 1 follows it; model.norm ends the weights */
    const lmc_tensor *emb = lmc_weights_find(w, "model.embed_tokens.weight");
    CHECK(emb && memcmp(emb->data, f, 512 * 64 * 4) == 0, "embedding != the .bin's first floats");
    const lmc_tensor *rms1 = lmc_weights_find(w, "model.layers.1.input_layernorm.weight");
    CHECK(rms1 && memcmp(rms1->data, f + 512 * 64 + 64, 64 * 4) == 0, "layer 1 rms_att");
    size_t before_norm = 512 * 64 + 5 * (64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 64 + 3 * 172 * 64);
    const lmc_tensor *norm = lmc_weights_find(w, "model.norm.weight");
    CHECK(norm && memcmp(norm->data, f + before_norm, 64 * 4) == 0, "rms_final");
    CHECK(28 + 4 * (before_norm + 64 + 512 * 8) == nb, "layout arithmetic of the test itself");

    cJSON *cfg = cJSON_Parse(meta_or(w, "lmc.config"));
    REQUIRE(cfg, "lmc.config is not JSON");
#define CFG_INT(key, v) CHECK(cJSON_GetObjectItem(cfg, key) && cJSON_GetObjectItem(cfg, key)->valuedouble == (v), key)
    CFG_INT("hidden_size", 64);
    CFG_INT("intermediate_size", 172);
    CFG_INT("num_hidden_layers", 5);
    CFG_INT("num_attention_heads", 8);
    CFG_INT("num_key_value_heads", 4);
    CFG_INT("vocab_size", 512);
    CFG_INT("max_position_embeddings", 512);
    CFG_INT("rms_norm_eps", 1e-5);
    CFG_INT("rope_theta", 10000.0);
    CFG_INT("bos_token_id", 1);
    CFG_INT("eos_token_id", 2);
#undef CFG_INT
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_word_embeddings")), "tied");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cfg, "lmc_rope_interleaved")), "interleaved rope");
    const cJSON *arch = cJSON_GetObjectItem(cfg, "architectures");
    CHECK(cJSON_IsArray(arch) && strcmp(cJSON_GetArrayItem(arch, 0)->valuestring, "LlamaForCausalLM") == 0, "arch");
    CHECK(strcmp(cJSON_GetObjectItem(cfg, "model_type")->valuestring, "llama") == 0, "model_type");
    cJSON_Delete(cfg);

    const char *b64 = meta_or(w, "lmc.tokenizer_llama2c");
    uint8_t *dec;
    size_t nd;
    CHECK(lmc_base64_decode(b64, strlen(b64), &dec, &nd) == 0 && nd == nt && memcmp(dec, tok, nt) == 0,
          "lmc.tokenizer_llama2c is not base64 of tok512.bin");
    if (nd == nt) free(dec);
    CHECK(strcmp(meta_or(w, "lmc.source"), bin) == 0 && strcmp(meta_or(w, "lmc.format"), "1") == 0 &&
          strcmp(meta_or(w, "format"), "pt") == 0, "metadata");
    CHECK(!lmc_weights_meta(w, "lmc.tokenizer"), "no tokenizer.json");
    lmc_weights_close(w);

    /* bf16, explicit tokenizer, and the directory form */
    SHARED_OR_SKIP(dir, "models/stories260K");
    REQUIRE(lmc_convert(dir, out, LMC_BF16, tokp, &err) == 0, "convert dir: %s", err.msg);
    REQUIRE(lmc_weights_open(out, &w, &err) == 0, "%s", err.msg);
    emb = lmc_weights_find(w, "model.embed_tokens.weight");
    uint16_t *want = malloc(512 * 64 * 2);
    f32_to_bf16(want, f, 512 * 64);
    CHECK(emb && emb->dtype == LMC_BF16 && memcmp(emb->data, want, 512 * 64 * 2) == 0, "bf16 embedding");
    free(want);
    lmc_weights_close(w);
    free(raw);
    free(tok);
    unlink(out);
}

/* A synthetic llama2.c model with an unshared classifier (vocab_size < 0) and GQA, every array filled with
 * its own value range, so each HF name is checked to map to the right llama2.c array. */
static void test_llama2c_unshared_synthetic(void) {
    enum { D = 8, H = 12, L = 2, NH = 2, NKV = 1, V = 10, SEQ = 4, HS = D / NH, KV = HS * NKV };
    const size_t sizes[] = {V * D, L * D, L * D * D, L * KV * D, L * KV * D, L * D * D, L * D,
                            L * H * D, L * D * H, L * H * D, D, SEQ * HS / 2, SEQ * HS / 2, V * D};
    size_t total = 0;
    for (size_t i = 0; i < 14; i++) total += sizes[i];
    float *f = malloc(total * 4);
    size_t at = 0;
    for (size_t a = 0; a < 14; a++)
        for (size_t k = 0; k < sizes[a]; k++) f[at++] = (float)(a * 10000 + k);
    int32_t hdr[7] = {D, H, L, NH, NKV, -V, SEQ};
    const char *dir = t_tmp("l2c_syn");
    mkdir(dir, 0755);
    char bin[600], tok[600];
    snprintf(bin, sizeof bin, "%s/model.bin", dir);
    snprintf(tok, sizeof tok, "%s/tokenizer.bin", dir);
    uint8_t *b = malloc(28 + total * 4);
    memcpy(b, hdr, 28);
    memcpy(b + 28, f, total * 4);
    t_write_file(bin, b, 28 + total * 4);
    /* tokenizer: max_token_length 1, then V tokens of one byte */
    uint8_t tb[4 + V * 9];
    int32_t one = 1;
    memcpy(tb, &one, 4);
    for (int i = 0; i < V; i++) {
        float score = (float)i;
        memcpy(tb + 4 + 9 * i, &score, 4);
        memcpy(tb + 8 + 9 * i, &one, 4);
        tb[12 + 9 * i] = (uint8_t)('a' + i);
    }
    t_write_file(tok, tb, sizeof tb);

    const char *out = t_tmp("l2c_syn.safetensors");
    lmc_err err = {{0}};
    REQUIRE(lmc_convert(bin, out, LMC_F32, NULL, &err) == 0, "convert: %s", err.msg);
    lmc_weights *w;
    REQUIRE(lmc_weights_open(out, &w, &err) == 0, "%s", err.msg);
    CHECK(lmc_weights_count(w) == 1 + L * 9 + 1 + 1, "count %zu", lmc_weights_count(w));
    /* name, array index (order in the .bin), layer, per-layer size */
    static const struct { const char *name; int array, layer; size_t per; } m[] = {
        {"model.embed_tokens.weight", 0, 0, 0},
        {"model.layers.1.input_layernorm.weight", 1, 1, D},
        {"model.layers.1.self_attn.q_proj.weight", 2, 1, D * D},
        {"model.layers.1.self_attn.k_proj.weight", 3, 1, KV * D},
        {"model.layers.0.self_attn.v_proj.weight", 4, 0, KV * D},
        {"model.layers.1.self_attn.o_proj.weight", 5, 1, D * D},
        {"model.layers.1.post_attention_layernorm.weight", 6, 1, D},
        {"model.layers.1.mlp.gate_proj.weight", 7, 1, H * D},
        {"model.layers.1.mlp.down_proj.weight", 8, 1, D * H},
        {"model.layers.1.mlp.up_proj.weight", 9, 1, H * D},
        {"model.norm.weight", 10, 0, 0},
        {"lm_head.weight", 13, 0, 0},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        const lmc_tensor *t = lmc_weights_find(w, m[i].name);
        REQUIRE(t, "%s missing", m[i].name);
        const float *v = t->data;
        float first = (float)(m[i].array * 10000 + m[i].layer * m[i].per);
        CHECK(v[0] == first && v[t->numel - 1] == first + (float)(t->numel - 1), "%s: got %g, want %g", m[i].name,
              v[0], first);
    }
    const lmc_tensor *k = lmc_weights_find(w, "model.layers.0.self_attn.k_proj.weight");
    CHECK(k && k->shape[0] == KV && k->shape[1] == D, "GQA k shape");
    const lmc_tensor *down = lmc_weights_find(w, "model.layers.0.mlp.down_proj.weight");
    CHECK(down && down->shape[0] == D && down->shape[1] == H, "down shape");
    cJSON *cfg = cJSON_Parse(meta_or(w, "lmc.config"));
    CHECK(cfg && cJSON_IsFalse(cJSON_GetObjectItem(cfg, "tie_word_embeddings")), "untied config");
    CHECK(cfg && cJSON_GetObjectItem(cfg, "vocab_size")->valuedouble == V, "vocab positive");
    cJSON_Delete(cfg);
    lmc_weights_close(w);

    /* failures on this model: truncated, trailing bytes, bad header, tokenizer problems */
    const char *out2 = t_tmp("l2c_fail.safetensors");
    t_write_file(bin, b, 28 + total * 4 - 4);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "truncated");
    t_write_file(bin, b, 28 + total * 4 - 28);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "truncated");
    uint8_t *bigger = calloc(1, 28 + total * 4 + 4);
    memcpy(bigger, b, 28 + total * 4);
    t_write_file(bin, bigger, 28 + total * 4 + 4);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "trailing bytes");
    free(bigger);
    t_write_file(bin, b, 20);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "too short");
    int32_t bad[7] = {D, H, L, 3, NKV, V, SEQ}; /* 8 % 3 != 0 */
    memcpy(b, bad, 28);
    t_write_file(bin, b, 28 + total * 4);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "head");
    int32_t junk[7] = {0x3c3f786d, 0x206c6d78, 7, 7, 7, 7, 7}; /* "<?xml " */
    memcpy(b, junk, 28);
    t_write_file(bin, b, 28 + total * 4);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "implausible");
    uint32_t ak42[2] = {0x616b3432, 1};
    memcpy(b, ak42, 8);
    t_write_file(bin, b, 28 + total * 4);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "version");
    memcpy(b, hdr, 28);
    t_write_file(bin, b, 28 + total * 4); /* good again */

    t_write_file(tok, tb, sizeof tb - 1);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, tok, "truncated llama2.c tokenizer");
    uint8_t tb2[sizeof tb + 9];
    memcpy(tb2, tb, sizeof tb);
    memcpy(tb2 + sizeof tb, tb + 4, 9);
    t_write_file(tok, tb2, sizeof tb2);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, tok, "another model");
    t_write_file(tok, tb, sizeof tb);
    char tok2[600];
    snprintf(tok2, sizeof tok2, "%s/tok10.bin", dir);
    t_write_file(tok2, tb, sizeof tb);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "--tokenizer");
    lmc_err e3 = {{0}};
    CHECK(lmc_convert(bin, out2, LMC_F32, tok2, &e3) == 0, "explicit tokenizer resolves the ambiguity: %s", e3.msg);
    unlink(out2);
    unlink(tok);
    unlink(tok2);
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, NULL, bin, "no llama2.c tokenizer");
    EXPECT_CONVERT_FAIL(bin, out2, LMC_F32, t_tmp("l2c_syn/missing.bin"), "missing.bin", "cannot open");
    free(b);
    free(f);
    unlink(out);
}

static void test_llama2c_real_truncated(void) {
    SHARED_OR_SKIP(bin, "models/stories260K/stories260K.bin");
    SHARED_OR_SKIP(tokp, "models/stories260K/tok512.bin");
    size_t n;
    uint8_t *raw = slurp(bin, &n);
    const char *cut = t_tmp("stories260K-cut.bin"), *out = t_tmp("cut.safetensors");
    t_write_file(cut, raw, n / 2);
    EXPECT_CONVERT_FAIL(cut, out, LMC_F32, tokp, cut, "truncated");
    free(raw);
    unlink(cut);
}

int main(void) {
    RUN(test_hf_bf16_to_each_dtype);
    RUN(test_hf_f32_tied_edge_case);
    RUN(test_lmc_file_reconvert);
    RUN(test_hf_side_files);
    RUN(test_hf_unsupported_dtype_dropped);
    RUN(test_hf_failures_leave_nothing);
    RUN(test_llama2c_stories260k);
    RUN(test_llama2c_unshared_synthetic);
    RUN(test_llama2c_real_truncated);
    t_tmp_cleanup();
    return test_summary();
}
