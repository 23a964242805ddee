/* test_corrupt_model.c — corrupt or unusable models give a one-line error naming the file and the problem, a
 * non-zero exit, and no result file: truncated safetensors, header length beyond the file, overlapping and
 * out-of-range offsets, wrong dtype/shape for the config, missing tensors, NaN/Inf weights, config.json
 * missing fields or malformed, tokenizer.json malformed, a model larger than the memory limit.
 *
 * Each case writes a tiny Llama checkpoint directory (hidden 16, 1 layer, the demo model's 4096-token
 * tokenizer) with one defect, then checks the library call that must fail and `lmc eval` on it. */
#include "test.h"
#include "lmc.h"
#include "eval/checkpoint.h"
#include "model/model.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *LMC = "./lmc";
static char DATA[256];
static int have_tok;

/* ---- a tiny checkpoint, described so that each case can break one thing ------------------------- */

typedef struct tdesc {
    char    name[96];
    char    dtype[8];   /* as written in the header */
    int     ndim;
    int64_t shape[4];
    int64_t begin, end; /* -1: placed after the previous tensor */
    int     esize;      /* bytes per element of the data written */
} tdesc;

typedef struct mdesc {
    tdesc t[16];
    int   n;
    char  config[2048];
    int   nan_tensor, nan_index; /* tensor index / element to overwrite with nan_value, or -1 */
    float nan_value;
} mdesc;

static void add(mdesc *m, const char *name, int64_t r, int64_t c) {
    tdesc *t = &m->t[m->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->dtype, sizeof t->dtype, "F32");
    t->ndim = c ? 2 : 1;
    t->shape[0] = r;
    t->shape[1] = c;
    t->begin = t->end = -1;
    t->esize = 4;
}

static int find(const mdesc *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name)) return i;
    return -1;
}

static mdesc base_model(void) {
    mdesc m;
    memset(&m, 0, sizeof m);
    m.nan_tensor = -1;
    snprintf(m.config, sizeof m.config,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 16, \"intermediate_size\": 32, "
             "\"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"num_hidden_layers\": 1, "
             "\"vocab_size\": 4096, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"head_dim\": 8, "
             "\"hidden_act\": \"silu\", \"tie_word_embeddings\": false, \"bos_token_id\": 0}");
    add(&m, "model.embed_tokens.weight", 4096, 16);
    add(&m, "model.layers.0.input_layernorm.weight", 16, 0);
    add(&m, "model.layers.0.self_attn.q_proj.weight", 16, 16);
    add(&m, "model.layers.0.self_attn.k_proj.weight", 8, 16);
    add(&m, "model.layers.0.self_attn.v_proj.weight", 8, 16);
    add(&m, "model.layers.0.self_attn.o_proj.weight", 16, 16);
    add(&m, "model.layers.0.post_attention_layernorm.weight", 16, 0);
    add(&m, "model.layers.0.mlp.gate_proj.weight", 32, 16);
    add(&m, "model.layers.0.mlp.up_proj.weight", 32, 16);
    add(&m, "model.layers.0.mlp.down_proj.weight", 16, 32);
    add(&m, "model.norm.weight", 16, 0);
    add(&m, "lm_head.weight", 4096, 16);
    return m;
}

/* Replaces the first `from` in s (capacity cap) with `to`. */
static void replace(char *s, size_t cap, const char *from, const char *to) {
    char *at = strstr(s, from);
    if (!at) return;
    size_t fl = strlen(from), tl = strlen(to), rest = strlen(at + fl);
    if ((size_t)(at - s) + tl + rest + 1 > cap) return;
    memmove(at + tl, at + fl, rest + 1);
    memcpy(at, to, tl);
}

static int64_t numel(const tdesc *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* Writes dir/{config.json, model.safetensors, tokenizer.json, tokenizer_config.json}. Returns the
 * safetensors size. */
static long write_model(const char *dir, const mdesc *m) {
    char p[512], cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && cp demo-model/tokenizer.json "
                              "demo-model/tokenizer_config.json %s/", dir, dir, dir);
    if (system(cmd) != 0) return -1;
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    fputs(m->config, f);
    fclose(f);
    /* data section: tensors in order, weights from a fixed LCG, norms 1 */
    lmc_buf data = {0}, h = {0};
    uint32_t seed = 12345;
    lmc_buf_append(&h, "{", 1);
    for (int i = 0; i < m->n; i++) {
        const tdesc *t = &m->t[i];
        int64_t n = numel(t), begin = (int64_t)data.len;
        int norm = strstr(t->name, "norm") != NULL;
        for (int64_t j = 0; j < n; j++) {
            seed = seed * 1664525u + 1013904223u;
            float v = norm ? 1.0f : ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.2f;
            if (i == m->nan_tensor && j == m->nan_index) v = m->nan_value;
            char bytes[8] = {0};
            memcpy(bytes, &v, 4);
            lmc_buf_append(&data, bytes, (size_t)t->esize);
        }
        int64_t b = t->begin >= 0 ? t->begin : begin, e = t->end >= 0 ? t->end : (int64_t)data.len;
        lmc_buf_printf(&h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name, t->dtype);
        for (int d = 0; d < t->ndim; d++) lmc_buf_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        lmc_buf_printf(&h, "],\"data_offsets\":[%lld,%lld]}", (long long)b, (long long)e);
    }
    lmc_buf_append(&h, "}", 1);
    while (h.len % 8) lmc_buf_append(&h, " ", 1);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    f = fopen(p, "wb");
    uint64_t hl = h.len;
    fwrite(&hl, 8, 1, f);
    fwrite(h.p, 1, h.len, f);
    fwrite(data.p, 1, data.len, f);
    fclose(f);
    long size = (long)(8 + h.len + data.len);
    lmc_buf_free(&h);
    lmc_buf_free(&data);
    return size;
}

/* ---- running the CLI ------------------------------------------------------------------------------ */

static char *slurp(const char *path) {
    char *d;
    size_t n;
    lmc_err e;
    return lmc_read_file(path, &d, &n, &e) ? NULL : d;
}

/* `lmc eval --model dir --data DATA ...` must exit 1 with one stderr line "lmc: ..." containing both needles,
 * print nothing on stdout and leave no result file. */
static void cli_expect(const char *name, const char *dir, const char *needle1, const char *needle2, int check_weights) {
    char out[256], err[256], json[256], pdoc[256];
    snprintf(out, sizeof out, "%s/%s.out", t_tmp_dir(), name);
    snprintf(err, sizeof err, "%s/%s.err", t_tmp_dir(), name);
    snprintf(json, sizeof json, "%s/%s.json", t_tmp_dir(), name);
    snprintf(pdoc, sizeof pdoc, "%s/%s.pd.jsonl", t_tmp_dir(), name);
    char *argv[] = {(char *)LMC, "eval", "--model", (char *)dir, "--data", DATA, "--block-size", "16", "--stride", "8",
                    "--quiet", "--json", json, "--per-doc", pdoc, check_weights ? "--check-weights" : NULL, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execv(LMC, argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    char *so = slurp(out), *se = slurp(err);
    printf("  %-28s exit %d: %s", name, rc, se && *se ? se : "(no stderr)\n");
    CHECK(rc == 1, "%s: lmc eval exit %d (expected 1): %s", name, rc, se ? se : "");
    CHECK(se && !strncmp(se, "lmc: ", 5) && strchr(se, '\n') == se + strlen(se) - 1, "%s: stderr is not one "
          "'lmc: ...' line: %s", name, se ? se : "");
    CHECK(se && strstr(se, needle1), "%s: stderr lacks '%s': %s", name, needle1, se ? se : "");
    if (needle2) CHECK(se && strstr(se, needle2), "%s: stderr lacks '%s': %s", name, needle2, se ? se : "");
    CHECK(so && !*so, "%s: stdout not empty: %s", name, so ? so : "");
    CHECK(access(json, F_OK) != 0 && access(pdoc, F_OK) != 0, "%s: a result file was written", name);
    free(so);
    free(se);
}

static size_t memory_limit; /* lmc_model_opts.memory_limit for lib_expect_open_fail (0: the machine's) */

/* lmc_model_open must fail with a message holding `needle` and the path it names (`where`, a substring). */
static void lib_expect_open_fail(const char *name, const char *dir, const char *needle, const char *where) {
    lmc_model *m;
    lmc_err e = {{0}};
    lmc_model_opts mo = {.compute = LMC_COMPUTE_F32, .threads = 0, .memory_limit = memory_limit};
    int rc = lmc_model_open(dir, &mo, &m, &e);
    if (rc == 0) lmc_model_close(m);
    CHECK(rc == -1, "%s: model opened", name);
    CHECK(strstr(e.msg, needle), "%s: message lacks '%s': %s", name, needle, e.msg);
    CHECK(strstr(e.msg, where), "%s: message does not name '%s': %s", name, where, e.msg);
}

static void case_dir(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", t_tmp_dir(), name); }

/* One case: write the model, check the library and the CLI. */
static void open_case(const char *name, const mdesc *m, const char *needle, const char *file) {
    char dir[256], where[300];
    case_dir(dir, sizeof dir, name);
    write_model(dir, m);
    if (*file) snprintf(where, sizeof where, "%s/%s", dir, file);
    else snprintf(where, sizeof where, "%s", dir);
    lib_expect_open_fail(name, dir, needle, where);
    cli_expect(name, dir, needle, where, 0);
}

#define NEED_SETUP() do { if (!have_tok) SKIP("needs demo-model (tokenizer) and ./lmc: run from the repository root"); } while (0)

/* ---- the cases --------------------------------------------------------------------------------- */

static void test_valid_tiny_model(void) {
    NEED_SETUP();
    char dir[256];
    case_dir(dir, sizeof dir, "valid");
    mdesc m = base_model();
    REQUIRE(write_model(dir, &m) > 0, "write");
    lmc_model *mm;
    lmc_tokenizer *tok;
    lmc_err e;
    lmc_model_opts mo = {.compute = LMC_COMPUTE_F32, .threads = 0};
    REQUIRE(lmc_model_open(dir, &mo, &mm, &e) == 0, "%s", e.msg);
    REQUIRE(lmc_tokenizer_open(dir, &tok, &e) == 0, "%s", e.msg);
    lmc_eval_opts o = {.block_size = 16, .stride = 8, .file_num = -1};
    lmc_result r;
    CHECK(lmc_evaluate(mm, tok, DATA, &o, &r, &e) == 0 && isfinite(r.bpc) && r.bpc > 0, "eval: %s", e.msg);
    lmc_tokenizer_free(tok);
    lmc_model_close(mm);
}

static void test_truncated_safetensors(void) {
    NEED_SETUP();
    char dir[256], st[300];
    case_dir(dir, sizeof dir, "truncated");
    mdesc m = base_model();
    long size = write_model(dir, &m);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    REQUIRE(truncate(st, size * 6 / 10) == 0, "truncate");
    lib_expect_open_fail("truncated", dir, "beyond the data section", st);
    cli_expect("truncated", dir, "file truncated?", st, 0);
    /* cut inside the header, and shorter than the 8-byte length */
    write_model(dir, &m);
    REQUIRE(truncate(st, 200) == 0, "truncate");
    lib_expect_open_fail("truncated_header", dir, "exceeds the file size", st);
    REQUIRE(truncate(st, 5) == 0, "truncate");
    lib_expect_open_fail("truncated_5_bytes", dir, "shorter than the 8-byte", st);
    cli_expect("truncated_5_bytes", dir, "shorter than the 8-byte", st, 0);
}

static void test_header_length_beyond_file(void) {
    NEED_SETUP();
    char dir[256], st[300];
    case_dir(dir, sizeof dir, "hdrlen");
    mdesc m = base_model();
    long size = write_model(dir, &m);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    int fd = open(st, O_WRONLY);
    uint64_t big = (uint64_t)size + 1000;
    REQUIRE(pwrite(fd, &big, 8, 0) == 8, "pwrite");
    close(fd);
    lib_expect_open_fail("header_length_beyond_file", dir, "exceeds the file size", st);
    cli_expect("header_length_beyond_file", dir, "exceeds the file size", st, 0);
    /* an absurd length (not a safetensors file at all) */
    fd = open(st, O_WRONLY);
    big = UINT64_C(0x7fffffffffffffff);
    REQUIRE(pwrite(fd, &big, 8, 0) == 8, "pwrite");
    close(fd);
    lib_expect_open_fail("header_length_absurd", dir, "implausible", st);
    /* a header that is not JSON */
    write_model(dir, &m);
    fd = open(st, O_WRONLY);
    REQUIRE(pwrite(fd, "{\"a\": [1,", 9, 8) == 9, "pwrite");
    close(fd);
    lib_expect_open_fail("header_not_json", dir, "not valid JSON", st);
}

static void test_overlapping_offsets(void) {
    NEED_SETUP();
    mdesc m = base_model();
    /* k_proj's bytes reuse q_proj's first 512 bytes */
    int q = find(&m, "model.layers.0.self_attn.q_proj.weight"), k = find(&m, "model.layers.0.self_attn.k_proj.weight");
    int64_t qbegin = 4096 * 16 * 4 + 16 * 4; /* after the embedding and the first norm */
    m.t[q].begin = qbegin;
    m.t[k].begin = qbegin;
    m.t[k].end = qbegin + 8 * 16 * 4;
    open_case("overlapping_offsets", &m, "overlap", "model.safetensors");
}

static void test_out_of_range_offsets(void) {
    NEED_SETUP();
    mdesc m = base_model();
    int last = m.n - 1;
    int64_t size = 4096 * 16 * 4;
    int64_t data_len = 0;
    for (int i = 0; i < m.n; i++) data_len += numel(&m.t[i]) * 4;
    m.t[last].begin = data_len - size + 64;
    m.t[last].end = data_len + 64;
    open_case("out_of_range_offsets", &m, "beyond the data section", "model.safetensors");
    /* offsets that do not match shape x dtype */
    m = base_model();
    m.t[1].end = -1;
    m.t[1].begin = 4096 * 16 * 4 + 4;
    open_case("byte_size_mismatch", &m, "byte size mismatch", "model.safetensors");
}

static void test_wrong_shape_for_config(void) {
    NEED_SETUP();
    mdesc m = base_model();
    int g = find(&m, "model.layers.0.mlp.gate_proj.weight");
    m.t[g].shape[0] = 16;
    m.t[g].shape[1] = 32; /* same bytes, transposed shape */
    open_case("wrong_shape", &m, "model.layers.0.mlp.gate_proj.weight has shape [16, 32], expected [32, 16]", "");
    /* config says another vocabulary size than the embedding has */
    m = base_model();
    replace(m.config, sizeof m.config, "\"vocab_size\": 4096", "\"vocab_size\": 4000");
    open_case("vocab_mismatch", &m, "expected [4000, 16]", "");
}

static void test_wrong_dtype(void) {
    NEED_SETUP();
    mdesc m = base_model();
    int nw = find(&m, "model.norm.weight");
    snprintf(m.t[nw].dtype, sizeof m.t[nw].dtype, "I32"); /* 4 bytes per element: the header is self-consistent */
    char dir[256];
    case_dir(dir, sizeof dir, "wrong_dtype");
    write_model(dir, &m);
    /* lmc_weights_get names the dtype; the architecture's lookup reports the tensor as missing (see the report) */
    lib_expect_open_fail("wrong_dtype", dir, "model.norm.weight", dir);
    cli_expect("wrong_dtype", dir, "model.norm.weight", dir, 0);
    /* a dtype the format does not define at all */
    snprintf(m.t[nw].dtype, sizeof m.t[nw].dtype, "F31");
    open_case("unknown_dtype", &m, "unknown dtype 'F31'", "model.safetensors");
}

static void test_missing_tensor(void) {
    NEED_SETUP();
    mdesc m = base_model();
    int d = find(&m, "model.layers.0.mlp.down_proj.weight");
    memmove(&m.t[d], &m.t[d + 1], sizeof m.t[0] * (size_t)(m.n - d - 1));
    m.n--;
    open_case("missing_tensor", &m, "missing tensor model.layers.0.mlp.down_proj.weight", "");
    m = base_model();
    m.n--; /* no lm_head and not tied */
    open_case("missing_lm_head", &m, "lm_head.weight", "");
}

static void test_nonfinite_weights(void) {
    NEED_SETUP();
    struct { const char *name, *tensor; int index; float value; const char *what; } cases[] = {
        {"nan_norm", "model.norm.weight", 3, NAN, "NaN"},
        {"inf_lm_head", "lm_head.weight", 16 * 7 + 2, INFINITY, "+Inf"},
        {"nan_attention", "model.layers.0.self_attn.v_proj.weight", 5, -NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mdesc m = base_model();
        m.nan_tensor = find(&m, cases[i].tensor);
        m.nan_index = cases[i].index;
        m.nan_value = cases[i].value;
        char dir[256];
        case_dir(dir, sizeof dir, cases[i].name);
        write_model(dir, &m);
        lmc_model *mm;
        lmc_tokenizer *tok;
        lmc_err e = {{0}};
        lmc_model_opts mo = {.compute = LMC_COMPUTE_F32, .threads = 0};
        REQUIRE(lmc_model_open(dir, &mo, &mm, &e) == 0, "%s: %s", cases[i].name, e.msg);
        REQUIRE(lmc_tokenizer_open(dir, &tok, &e) == 0, "%s", e.msg);
        /* the scan finds it */
        CHECK(lmc_model_check_finite(mm, &e) == -1 && strstr(e.msg, cases[i].tensor) && strstr(e.msg, cases[i].what),
              "%s: scan: %s", cases[i].name, e.msg);
        char at[64];
        snprintf(at, sizeof at, "at element %d", cases[i].index);
        CHECK(strstr(e.msg, at), "%s: scan message lacks '%s': %s", cases[i].name, at, e.msg);
        /* without the scan, the evaluation stops at the first non-finite NLL */
        lmc_eval_opts o = {.block_size = 16, .stride = 8, .file_num = -1};
        lmc_result r;
        memset(&e, 0, sizeof e);
        CHECK(lmc_evaluate(mm, tok, DATA, &o, &r, &e) == -1 && strstr(e.msg, "non-finite NLL") && strstr(e.msg, dir),
              "%s: eval: %s", cases[i].name, e.msg);
        lmc_tokenizer_free(tok);
        lmc_model_close(mm);
        char nm[64];
        snprintf(nm, sizeof nm, "%s_cli", cases[i].name);
        cli_expect(nm, dir, "non-finite NLL", dir, 0);
        snprintf(nm, sizeof nm, "%s_cli_scan", cases[i].name);
        cli_expect(nm, dir, "non-finite weight", cases[i].tensor, 1);
    }
}

/* config.json edits: {case, text in the valid config, replacement, expected message}. */
static const struct { const char *name, *find, *repl, *needle; } CONFIG_EDITS[] = {
    {"config_missing_hidden_size", "\"hidden_size\": 16, ", "", "config.json has no \"hidden_size\""},
    {"config_wrong_type", "\"num_attention_heads\": 2", "\"num_attention_heads\": \"2\"",
     "\"num_attention_heads\" is not a number"},
    {"config_no_architectures", "\"architectures\": [\"LlamaForCausalLM\"], ", "", "no \"architectures\""},
    /* values that would give NaN activations or undefined casts (found by make fuzz) */
    {"config_negative_eps", "\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": -5", "\"rms_norm_eps\" is -5, outside [0, 1]"},
    {"config_zero_rope_theta", "\"rope_theta\": 10000.0", "\"rope_theta\": 0", "rope_theta) is 0; it must be positive"},
    {"config_huge_int", "\"vocab_size\": 4096", "\"vocab_size\": 1e22", "\"vocab_size\" must be a non-negative integer"},
    {"config_billion_layers", "\"num_hidden_layers\": 1", "\"num_hidden_layers\": 1000000000",
     "\"num_hidden_layers\" is 1000000000, but the weights hold only"},
    {"config_infinite_number", "\"rope_theta\": 10000.0", "\"rope_theta\": 1e999", "\"rope_theta\" is not a finite number"},
};

static void test_config_problems(void) {
    NEED_SETUP();
    mdesc m;
    for (size_t i = 0; i < sizeof CONFIG_EDITS / sizeof CONFIG_EDITS[0]; i++) {
        m = base_model();
        replace(m.config, sizeof m.config, CONFIG_EDITS[i].find, CONFIG_EDITS[i].repl);
        open_case(CONFIG_EDITS[i].name, &m, CONFIG_EDITS[i].needle, "");
    }
    m = base_model();
    m.config[strlen(m.config) / 2] = 0;
    open_case("config_malformed", &m, "malformed JSON", "config.json");
    /* no config.json at all */
    char dir[256], p[300];
    case_dir(dir, sizeof dir, "config_absent");
    m = base_model();
    write_model(dir, &m);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    lib_expect_open_fail("config_absent", dir, "cannot open", p);
    cli_expect("config_absent", dir, "cannot open", p, 0);
}

static void test_tokenizer_malformed(void) {
    NEED_SETUP();
    char dir[256], p[300];
    case_dir(dir, sizeof dir, "tokenizer_malformed");
    mdesc m = base_model();
    write_model(dir, &m);
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    REQUIRE(truncate(p, 5000) == 0, "truncate");
    lmc_tokenizer *tok;
    lmc_err e = {{0}};
    int rc = lmc_tokenizer_open(dir, &tok, &e);
    if (rc == 0) lmc_tokenizer_free(tok);
    CHECK(rc == -1 && strstr(e.msg, "tokenizer.json"), "truncated tokenizer.json: %s", e.msg);
    cli_expect("tokenizer_truncated", dir, "tokenizer.json", NULL, 0);
    /* valid JSON, but not a tokenizer */
    FILE *f = fopen(p, "w");
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": 17}}", f);
    fclose(f);
    rc = lmc_tokenizer_open(dir, &tok, &e);
    if (rc == 0) lmc_tokenizer_free(tok);
    CHECK(rc == -1 && strstr(e.msg, "tokenizer.json"), "bad vocab: %s", e.msg);
    cli_expect("tokenizer_bad_vocab", dir, "tokenizer.json", NULL, 0);
    unlink(p);
    cli_expect("tokenizer_absent", dir, "tokenizer", NULL, 0);
}

static void test_memory_limit(void) {
    NEED_SETUP();
    char dir[256];
    case_dir(dir, sizeof dir, "memory");
    mdesc m = base_model();
    write_model(dir, &m);
    memory_limit = 100000; /* 0.1 MB; the weights are 0.53 MB */
    lib_expect_open_fail("memory_limit", dir, "model needs 0.00 GB (weights) but only 0.00 GB of memory + swap", dir);
    memory_limit = 0;
    setenv("LMC_MEMORY_LIMIT", "100000", 1); /* the CLI's way to set it */
    cli_expect("memory_limit", dir, "of memory + swap is available", dir, 0);
    unsetenv("LMC_MEMORY_LIMIT");
    lmc_model *mm;
    lmc_err e;
    lmc_model_opts mo = {.compute = LMC_COMPUTE_F32, .threads = 0, .memory_limit = 100000000};
    CHECK(lmc_model_open(dir, &mo, &mm, &e) == 0, "100 MB limit refused a 0.5 MB model: %s", e.msg);
    if (mm) lmc_model_close(mm);
}

int main(void) {
    const char *l = getenv("LMC");
    if (l && *l) LMC = l;
    have_tok = lmc_file_exists("demo-model/tokenizer.json") && access(LMC, X_OK) == 0;
    snprintf(DATA, sizeof DATA, "%s/data.jsonl", t_tmp_dir());
    FILE *f = fopen(DATA, "w");
    fputs("{\"content\": \"The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.\"}\n"
          "{\"content\": \"How vexingly quick daft zebras jump! Sphinx of black quartz, judge my vow.\"}\n", f);
    fclose(f);
    RUN(test_valid_tiny_model);
    RUN(test_truncated_safetensors);
    RUN(test_header_length_beyond_file);
    RUN(test_overlapping_offsets);
    RUN(test_out_of_range_offsets);
    RUN(test_wrong_shape_for_config);
    RUN(test_wrong_dtype);
    RUN(test_missing_tensor);
    RUN(test_nonfinite_weights);
    RUN(test_config_problems);
    RUN(test_tokenizer_malformed);
    RUN(test_memory_limit);
    t_tmp_cleanup();
    return test_summary();
}
