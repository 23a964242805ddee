/* test_step.c — incremental decoding (lmc_model_step with an lmc_kv cache) against the prefill, on every
 * architecture.
 *
 * For each model: the logits of a prefill of T tokens (lmc_model_logits, every row) must equal the logits of T
 * single steps (row t after step t), of a mixed split (5 + 1 + 3 + 1 + ...) and of one step of T, within
 * TOL · max(1, max |logit| of the row). Models: every fixture under fixtures/arch (Qwen2, Mixtral, Falcon 7B
 * and 40B layouts, Qwen-1, DeepSeek-V2 plain and grouped routing, GPT-2, GPT-NeoX) and the shared models
 * (TinyStories, stories260K, the self-trained GPT-2 and GPT-NeoX), plus demo-model; and the compute plan each
 * compute mode gets (test_compute_plan).
 *
 * f32 (TOL = 1e-4): why not bit for bit: a step computes the same functions with another summation order — its
 * attention sums a query's keys in one sgemv pass with an exact softmax where the prefill uses 64×512 sgemm
 * blocks with an online softmax, and OpenBLAS's sgemm for T rows blocks K differently from the one-row case.
 * Each such reordering moves a logit by a few f32 ulps of the partial sums; through a few layers of a small
 * model that stays near 1e-6 relative (the test prints each max |Δ|), so 1e-4 leaves a wide margin while a wrong
 * position, RoPE angle or cache row moves logits by 0.1–1 (a step with RoPE at position 0 gives 0.65–1.4 here).
 *
 * bf16 (TOL_BF16 = 3e-2): the linears run the same bf16 kernels in a step and in a prefill, but on an
 * AVX512_BF16 CPU the prefill's attention rounds q, k, v (and the softmax weights) to bf16 — 8 significant
 * bits, up to 2^-9 ≈ 2e-3 relative per operand — while a step's attention and cache stay f32. That is a bf16
 * rounding of every score and value, not a few f32 ulps, and it travels through the later layers, whose linears
 * round their inputs to bf16 again. It is the size of bf16's own error: measured step vs bf16 prefill 1.2e-3
 * (self-trained GPT-NeoX), 1.1e-2 (TinyStories-656K-bf16), 1.2e-2 (falcon40b), where the bf16 prefill is 5.1e-3,
 * 9.2e-3 and 1.2e-2 from the f32 prefill. 3e-2 keeps a 2.5× margin and stays far below the 0.1–1 of a real
 * error (a wrong position or cache row); check_bf16 also bounds it by 3× bf16's own error on that model. On a
 * CPU without AVX512_BF16 both run f32 attention and the difference is of the f32 kind. */
#include "convert.h"
#include "gemm_bf16.h"
#include "model/model.h"
#include "test.h"

#include <dirent.h>
#include <limits.h>
#include <unistd.h>

enum { T = 24 };
static const double TOL = 1e-4, TOL_BF16 = 3e-2;

/* Deterministic token ids in [0, vocab): a small LCG, so every run compares the same sequence. */
static void make_tokens(int32_t *ids, int n, int vocab) {
    uint32_t s = 12345;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = (int32_t)((s >> 8) % (uint32_t)vocab);
    }
}

/* max over the row of |a - b| / max(1, max |b|) */
static double row_diff(const float *a, const float *b, int vocab) {
    double mx = 1, d = 0;
    for (int i = 0; i < vocab; i++) if (fabs(b[i]) > mx) mx = fabs(b[i]);
    for (int i = 0; i < vocab; i++) if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
    return d / mx;
}

/* Compares prefill rows with steps split as `split` (lengths summing to T; a 0 ends the list). Returns the
 * largest relative difference, or -1 with *why set. */
static double compare_split(lmc_model *m, lmc_kv *kv, const int32_t *ids, const float *pre, const int *split,
                            char *why, size_t cap) {
    int V = m->info.vocab, pos = 0;
    float *lg = malloc(sizeof(float) * V);
    double worst = 0;
    lmc_err e;
    lmc_kv_reset(kv);
    for (int i = 0; split[i] && pos < T; i++) {
        int n = split[i] < T - pos ? split[i] : T - pos;
        if (lmc_model_step(m, kv, ids + pos, n, lg, &e)) { snprintf(why, cap, "%s", e.msg); free(lg); return -1; }
        pos += n;
        if (lmc_kv_pos(kv) != pos) { snprintf(why, cap, "pos %d, expected %d", lmc_kv_pos(kv), pos); free(lg); return -1; }
        double d = row_diff(lg, pre + (size_t)(pos - 1) * V, V);
        if (d > worst) worst = d;
    }
    free(lg);
    return worst;
}

/* Prefill vs steps on one model under one compute mode (opts), bound tol. label names it in the output. Returns
 * the largest relative difference over the three splits (-1 when the model does not open). */
static double check_model_opts(const char *label, const char *path, const lmc_model_opts *mo, double tol) {
    lmc_model *m;
    lmc_err e;
    double worst = -1;
    if (lmc_model_open(path, mo, &m, &e)) {
        t_note_fail(__FILE__, __LINE__, "%s", e.msg);
        return -1;
    }
    int V = m->info.vocab;
    int32_t ids[T];
    make_tokens(ids, T, V);
    float *pre = malloc(sizeof(float) * (size_t)T * V);
    lmc_kv *kv = NULL;
    if (lmc_model_logits(m, ids, T, pre, &e)) { t_note_fail(__FILE__, __LINE__, "%s", e.msg); goto out; }
    if (lmc_kv_open(m, T, &kv, &e)) { t_note_fail(__FILE__, __LINE__, "%s", e.msg); goto out; }
    static const int singles[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    static const int mixed[] = {5, 1, 3, 1, 1, 7, 2, 4, 0};
    static const int whole[] = {T, 0};
    const int *splits[] = {singles, mixed, whole};
    const char *names[] = {"single", "5+1+3+1+1+7+2+4", "one step of T"};
    char why[1100];
    double d[3];
    for (int s = 0; s < 3; s++) {
        d[s] = compare_split(m, kv, ids, pre, splits[s], why, sizeof why);
        CHECK(d[s] >= 0, "%s: %s: %s", label, names[s], why);
        CHECK(d[s] <= tol, "%s: %s: max relative |Δ| %.3g > %.0e", label, names[s], d[s], tol);
    }
    printf("  %-38s %-22s max |Δ|/max(1,|logit|): single %.2e, mixed %.2e, whole %.2e (bound %.0e)\n", label,
           m->arch->name, d[0], d[1], d[2], tol);
    worst = fmax(d[0], fmax(d[1], d[2]));
    /* a full cache refuses one more token with a message, and keeps its state */
    float *lg = malloc(sizeof(float) * V);
    CHECK(lmc_model_step(m, kv, ids, 1, lg, &e) == -1 && strstr(e.msg, "KV cache is full"), "full cache: %s", e.msg);
    CHECK(lmc_kv_pos(kv) == T, "pos after refusal %d", lmc_kv_pos(kv));
    free(lg);
out:
    lmc_kv_free(kv);
    free(pre);
    lmc_model_close(m);
    return worst;
}

static void check_model(const char *label, const char *path) {
    lmc_model_opts mo = {0};
    check_model_opts(label, path, &mo, TOL);
}

/* ---- every architecture fixture ---- */

/* The fixtures this test knows; test_step_every_fixture fails when fixtures/arch holds one more, so a new
 * architecture fixture cannot go without a step check. */
static const char *const FIXTURES[] = {"qwen2", "mixtral", "falcon7b", "falcon40b", "qwen1", "deepseek_v2",
                                       "deepseek_v2_grouped", "gpt2", "gptneox"};

/* A fixture's model/ directory; deepseek_v2_grouped's holds only config.json and takes deepseek_v2's weights
 * (fixtures/arch/README.md), through a temporary directory with a link to them. */
typedef struct fixture_dir { char path[PATH_MAX], cfg[PATH_MAX + 16], link[PATH_MAX + 32]; } fixture_dir;

static int fixture_model(const char *name, fixture_dir *f, char *why, size_t cap) {
    memset(f, 0, sizeof *f);
    char rel[128], wrel[128];
    snprintf(rel, sizeof rel, "fixtures/arch/%s/model/config.json", name);
    const char *cfg = t_shared(rel);
    if (!cfg) { snprintf(why, cap, "shared reference %s not found (set LMC_SHARED)", rel); return 1; }
    snprintf(wrel, sizeof wrel, "fixtures/arch/%s/model/model.safetensors", name);
    if (t_shared(wrel)) {
        snprintf(f->path, sizeof f->path, "%.*s", (int)(strlen(cfg) - strlen("/config.json")), cfg);
        return 0;
    }
    const char *w = t_shared("fixtures/arch/deepseek_v2/model/model.safetensors");
    char abs[PATH_MAX];
    if (strcmp(name, "deepseek_v2_grouped") || !w || !realpath(w, abs)) {
        snprintf(why, cap, "%s has no model.safetensors", rel);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "/tmp/lmc_step_XXXXXX");
    if (!mkdtemp(f->path)) { snprintf(why, cap, "mkdtemp failed"); f->path[0] = 0; return -1; }
    snprintf(f->cfg, sizeof f->cfg, "%s/config.json", f->path);
    snprintf(f->link, sizeof f->link, "%s/model.safetensors", f->path);
    char *text = NULL;
    size_t len = 0;
    lmc_err e;
    FILE *o = NULL;
    int ok = lmc_read_file(cfg, &text, &len, &e) == 0 && (o = fopen(f->cfg, "w")) && fwrite(text, 1, len, o) == len;
    if (o && fclose(o)) ok = 0;
    free(text);
    if (!ok || symlink(abs, f->link)) { snprintf(why, cap, "cannot make a temporary model directory"); return -1; }
    return 0;
}

static void fixture_done(fixture_dir *f) {
    if (f->link[0]) unlink(f->link);
    if (f->cfg[0]) unlink(f->cfg);
    if (f->link[0]) rmdir(f->path);
}

static void check_fixture(const char *name) {
    fixture_dir f;
    char why[900];
    int rc = fixture_model(name, &f, why, sizeof why);
    if (rc > 0) SKIP("%s", why);
    if (rc == 0) check_model(name, f.path);
    fixture_done(&f);
    REQUIRE(rc == 0, "%s: %s", name, why);
}

static void test_step_qwen2(void) { check_fixture("qwen2"); }
static void test_step_mixtral(void) { check_fixture("mixtral"); }
static void test_step_falcon7b(void) { check_fixture("falcon7b"); }
static void test_step_falcon40b(void) { check_fixture("falcon40b"); }
static void test_step_qwen1(void) { check_fixture("qwen1"); }
static void test_step_deepseek_v2(void) { check_fixture("deepseek_v2"); }
static void test_step_deepseek_v2_grouped(void) { check_fixture("deepseek_v2_grouped"); }
static void test_step_gpt2(void) { check_fixture("gpt2"); }
static void test_step_gptneox(void) { check_fixture("gptneox"); }

static void test_step_every_fixture(void) {
    SHARED_OR_SKIP(root, "fixtures/arch");
    DIR *d = opendir(root);
    REQUIRE(d, "cannot list %s", root);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s/model", root, de->d_name);
        if (de->d_name[0] == '.' || access(p, F_OK)) continue;
        int known = 0;
        for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) known |= !strcmp(FIXTURES[i], de->d_name);
        CHECK(known, "fixtures/arch/%s has no step test here", de->d_name);
        n++;
    }
    closedir(d);
    CHECK(n == (int)(sizeof FIXTURES / sizeof FIXTURES[0]), "%d fixtures found, %zu expected", n,
          sizeof FIXTURES / sizeof FIXTURES[0]);
}

/* ---- the shared models and the demo model ---- */

static void test_step_demo_model(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    check_model("demo-model", "demo-model");
}

/* The compute plan each mode gets, as the model holds it and describe reports it: f32 runs no bf16 kernel and
 * needs no scratch; packed bf16 fuses its linears, with their scratch in the forward's arena; streamed bf16 does
 * not fuse; attention is bf16 exactly where the CPU has AVX512_BF16 (and then has its scratch). */
static void test_compute_plan(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    const lmc_model_opts opts[3] = {{.compute = LMC_COMPUTE_F32}, {.compute = LMC_COMPUTE_BF16},
                                    {.compute = LMC_COMPUTE_BF16, .bf16_pack_limit = 1}};
    const lmc_linear_mode want[3] = {LMC_LINEAR_F32, LMC_LINEAR_BF16_PACKED, LMC_LINEAR_BF16_STREAMED};
    const int T = 64, attn_bf16 = gemm_bf16_tile_supported();
    int32_t ids[64];
    for (int t = 0; t < T; t++) ids[t] = 1 + t;
    size_t work[3];
    for (int i = 0; i < 3; i++) {
        lmc_model *m;
        lmc_err e = {{0}};
        REQUIRE(lmc_model_open("demo-model", &opts[i], &m, &e) == 0, "%s", e.msg);
        const arch_base *b = m->state;
        lmc_model_desc d;
        lmc_model_describe(m, &d);
        CHECK(b->plan.matmul == want[i] && b->plan.fused_linear == (i == 1) && b->plan.attn_bf16 == (i && attn_bf16),
              "mode %d: plan %d %d %d", i, b->plan.matmul, b->plan.fused_linear, b->plan.attn_bf16);
        CHECK(d.kernels == b->plan.kernels && strstr(d.kernels, i ? "bf16 GEMM" : "f32 sgemm") &&
              strstr(d.kernels, b->plan.attn_bf16 ? "bf16 attention" : "f32 attention"), "kernels: %s", d.kernels);
        work[i] = lmc_model_working_bytes(m, T);
        float *hidden = malloc(sizeof(float) * (size_t)T * m->info.dim);
        CHECK(hidden && lmc_model_hidden(m, ids, T, hidden, &e) == 0, "forward: %s", e.msg);
        CHECK((arch_linear_scratch(b) != NULL) == (i == 1), "mode %d: linear scratch", i);
        CHECK((b->scratch[ARCH_SCRATCH_ATTENTION] != NULL) == b->plan.attn_bf16, "mode %d: attention scratch", i);
        free(hidden);
        lmc_model_close(m);
    }
    CHECK(work[1] > work[0] && work[1] > work[2], "working bytes f32 %zu, packed %zu, streamed %zu", work[0], work[1],
          work[2]);
}

static void test_step_tinystories_656k(void) {
    SHARED_OR_SKIP(dir, "models/TinyStories-656K-f32");
    check_model("TinyStories-656K-f32", dir);
}

static void test_step_selftrained_gpt2(void) {
    SHARED_OR_SKIP(dir, "models/selftrained-gpt2-tiny/config.json");
    check_model("selftrained-gpt2-tiny", t_shared("models/selftrained-gpt2-tiny"));
}

static void test_step_selftrained_gptneox(void) {
    SHARED_OR_SKIP(dir, "models/selftrained-gptneox-tiny/config.json");
    check_model("selftrained-gptneox-tiny", t_shared("models/selftrained-gptneox-tiny"));
}

/* llama2.c's stories260K: Meta-interleaved RoPE and GQA, through lmc convert. */
static void test_step_stories260k(void) {
    SHARED_OR_SKIP(bin, "models/stories260K/stories260K.bin");
    SHARED_OR_SKIP(tok, "models/stories260K/tok512.bin");
    char out[] = "/tmp/lmc_test_step_XXXXXX.safetensors"; /* lmc_convert writes .safetensors names only */
    int fd = mkstemps(out, (int)strlen(".safetensors"));
    REQUIRE(fd >= 0, "mkstemps");
    close(fd);
    lmc_err e;
    if (lmc_convert(bin, out, LMC_F32, tok, &e)) { unlink(out); REQUIRE(0, "convert: %s", e.msg); }
    check_model("stories260K", out);
    unlink(out);
}

/* ---- bf16 compute: the linears in bf16 (packed weights, and packed per call), cache and attention f32 ----
 * Besides the fixed bound, a step must stay as close to the bf16 prefill as bf16 itself is to f32: within 3×
 * the largest relative difference between the model's bf16 and f32 prefills (measured: the ratio is 0.2–1.3 on
 * these models, the bf16-vs-f32 difference itself 5e-3–1.2e-2). */

/* max over the T rows of the relative difference between the `compute` and the f32 prefill of the test's tokens */
static double own_error(const char *path, lmc_compute compute) {
    lmc_model_opts f32 = {0}, bf16 = {.compute = compute};
    lmc_model *mf = NULL, *mb = NULL;
    lmc_err e;
    double worst = -1;
    if (lmc_model_open(path, &f32, &mf, &e) || lmc_model_open(path, &bf16, &mb, &e)) {
        lmc_model_close(mf);
        return -1;
    }
    int V = mf->info.vocab;
    int32_t ids[T];
    make_tokens(ids, T, V);
    float *pf = malloc(sizeof(float) * (size_t)T * V), *pb = malloc(sizeof(float) * (size_t)T * V);
    if (lmc_model_logits(mf, ids, T, pf, &e) == 0 && lmc_model_logits(mb, ids, T, pb, &e) == 0)
        for (int t = 0; t < T; t++) worst = fmax(worst, row_diff(pb + (size_t)t * V, pf + (size_t)t * V, V));
    free(pf);
    free(pb);
    lmc_model_close(mf);
    lmc_model_close(mb);
    return worst;
}

static void check_bf16(const char *label, const char *path) {
    lmc_model_opts packed = {.compute = LMC_COMPUTE_BF16};
    lmc_model_opts streamed = {.compute = LMC_COMPUTE_BF16, .bf16_pack_limit = 1}; /* too small: packs per call */
    double own = own_error(path, LMC_COMPUTE_BF16);
    REQUIRE(own >= 0, "%s: bf16 or f32 prefill failed", label);
    char l[128];
    snprintf(l, sizeof l, "%s bf16 packed", label);
    double dp = check_model_opts(l, path, &packed, TOL_BF16);
    snprintf(l, sizeof l, "%s bf16 streamed", label);
    double ds = check_model_opts(l, path, &streamed, TOL_BF16);
    printf("  %-38s bf16 prefill vs f32 prefill: %.2e; step vs bf16 prefill: %.2f× that\n", label, own,
           fmax(dp, ds) / own);
    CHECK(fmax(dp, ds) <= 3 * own + TOL, "%s: a bf16 step is %.3g from the bf16 prefill, more than 3× bf16's own "
          "error %.3g", label, fmax(dp, ds), own);
}

/* ---- int8 compute: the same rule as bf16 (file header: the prefill's attention is bf16 on AVX512_BF16, a
 * step's f32; the int8 matmuls give a token the same bits in a step and in a prefill, as the activations are
 * quantized per token and each output is summed in one order): a step within 3× int8's own difference from the
 * f32 prefill, and within TOL_INT8 of the int8 prefill. ---- */
static const double TOL_INT8 = 5e-2;

static void check_int8(const char *label, const char *path) {
    lmc_model_opts int8 = {.compute = LMC_COMPUTE_INT8};
    const double own = own_error(path, LMC_COMPUTE_INT8);
    REQUIRE(own >= 0, "%s: int8 or f32 prefill failed", label);
    char l[128];
    snprintf(l, sizeof l, "%s int8", label);
    const double d = check_model_opts(l, path, &int8, TOL_INT8);
    printf("  %-38s int8 prefill vs f32 prefill: %.2e; step vs int8 prefill: %.2f× that\n", label, own, d / own);
    CHECK(d <= 3 * own + TOL, "%s: an int8 step is %.3g from the int8 prefill, more than 3× int8's own error %.3g",
          label, d, own);
}

static void test_step_int8(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    check_int8("demo-model", "demo-model");
    const char *neox = t_shared("models/selftrained-gptneox-tiny/config.json");
    if (neox) check_int8("selftrained-gptneox-tiny", t_shared("models/selftrained-gptneox-tiny"));
    const char *q4 = "tests/data/gguf/llama-q4_0.gguf";
    if (!stat(q4, &st)) check_int8("llama-q4_0.gguf", q4);
}

static void test_step_bf16_tinystories(void) {
    SHARED_OR_SKIP(dir, "models/TinyStories-656K-bf16");
    check_bf16("TinyStories-656K-bf16", dir);
}

static void test_step_bf16_gptneox(void) {
    SHARED_OR_SKIP(dir, "models/selftrained-gptneox-tiny/config.json");
    check_bf16("selftrained-gptneox-tiny", t_shared("models/selftrained-gptneox-tiny"));
}

static void test_step_bf16_falcon40b(void) {
    fixture_dir f;
    char why[900];
    int rc = fixture_model("falcon40b", &f, why, sizeof why);
    if (rc > 0) SKIP("%s", why);
    REQUIRE(rc == 0, "%s", why);
    check_bf16("falcon40b", f.path);
    fixture_done(&f);
}

/* ---- greedy decoding: through the cache = by a full prefill of the growing sequence at every step ----
 * (what an engine without a cache does): the rounding differences above never flip an argmax here. */
static int32_t argmax_row(const float *x, int n) {
    int32_t b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

static void check_greedy(const char *path) {
    enum { P = 4, G = 16 };
    lmc_model_opts mo = {0};
    lmc_model *m;
    lmc_err e;
    REQUIRE(lmc_model_open(path, &mo, &m, &e) == 0, "%s", e.msg);
    int V = m->info.vocab;
    int32_t a[P + G], b[P + G];
    make_tokens(a, P, V);
    memcpy(b, a, sizeof(int32_t) * P);
    float *lg = malloc(sizeof(float) * (size_t)(P + G) * V);
    lmc_kv *kv = NULL;
    int ok = lmc_kv_open(m, P + G, &kv, &e) == 0 && lmc_model_step(m, kv, a, P, lg, &e) == 0;
    for (int i = 0; ok && i < G; i++) {
        a[P + i] = argmax_row(lg, V);
        ok = i == G - 1 || lmc_model_step(m, kv, &a[P + i], 1, lg, &e) == 0;
    }
    for (int i = 0; ok && i < G; i++) {
        ok = lmc_model_logits(m, b, P + i, lg, &e) == 0;
        b[P + i] = argmax_row(lg + (size_t)(P + i - 1) * V, V);
    }
    CHECK(ok, "%s", e.msg);
    int same = 0;
    while (same < G && a[P + same] == b[P + same]) same++;
    CHECK(same == G, "%s: greedy tokens differ between cache and prefill from token %d", path, same);
    free(lg);
    lmc_kv_free(kv);
    lmc_model_close(m);
}

static void test_step_greedy_matches_prefill(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    check_greedy("demo-model");
}

/* GPT-2: learned positions, so a step that read the wrong wpe row would drift from the prefill's choice. */
static void test_step_greedy_gpt2(void) {
    SHARED_OR_SKIP(dir, "models/selftrained-gpt2-tiny/config.json");
    check_greedy(t_shared("models/selftrained-gpt2-tiny"));
}

/* ---- refusals ---- */

/* An architecture without a step (the hook is optional in lmc_arch) says so in one line, naming it. Every
 * architecture lmc ships has one, so the test hands the model a copy of its own table without the hooks. */
static void test_step_unsupported_arch(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    lmc_model_opts mo = {0};
    lmc_model *m;
    lmc_err e;
    REQUIRE(lmc_model_open("demo-model", &mo, &m, &e) == 0, "%s", e.msg);
    const lmc_arch *real = m->arch;
    lmc_arch no_step = *real;
    no_step.kv_shape = NULL;
    no_step.kv_shape = NULL;
    m->arch = &no_step;
    lmc_kv *kv = (lmc_kv *)&e;
    CHECK(lmc_kv_bytes_per_token(m) == 0, "bytes per token %zu", lmc_kv_bytes_per_token(m));
    CHECK(lmc_kv_open(m, 8, &kv, &e) == -1 && kv == NULL, "opened");
    CHECK(strstr(e.msg, "not supported yet for LlamaForCausalLM") && !strchr(e.msg, '\n'), "message: %s", e.msg);
    m->arch = real;
    lmc_model_close(m);
}

/* Memory: bytes per token as the shapes say, and a cache beyond the memory (a given limit, and the machine's
 * own for a cache of 2^30 positions: terabytes) is refused with one line giving the sizes. */
static void test_step_memory(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    lmc_model_opts mo = {0};
    lmc_model *m;
    lmc_err e;
    REQUIRE(lmc_model_open("demo-model", &mo, &m, &e) == 0, "%s", e.msg);
    int n_layers, kw, vw;
    m->arch->kv_shape(m->state, &n_layers, &kw, &vw);
    size_t per = lmc_kv_bytes_per_token(m);
    CHECK(per == (size_t)n_layers * (kw + vw) * 4 && per > 0, "bytes per token %zu", per);
    lmc_kv *kv = NULL;
    CHECK(lmc_kv_open(m, 1 << 30, &kv, &e) == -1 && kv == NULL && strstr(e.msg, "KV cache of 1073741824 tokens needs") &&
          strstr(e.msg, "GB of memory + swap is available") && !strchr(e.msg, '\n'), "huge: %s", kv ? "opened" : e.msg);
    m->opts.memory_limit = lmc_weights_total_bytes(m->w) + per * 100; /* room for ~100 positions */
    CHECK(lmc_kv_open(m, 1000, &kv, &e) == -1 && strstr(e.msg, "KV cache of 1000 tokens needs") &&
          strstr(e.msg, "bytes per token"), "refusal: %s", kv ? "opened" : e.msg);
    lmc_kv_free(kv);
    kv = NULL;
    CHECK(lmc_kv_open(m, 50, &kv, &e) == 0, "50 tokens: %s", e.msg);
    lmc_kv_free(kv);
    lmc_model_close(m);
}

/* Every architecture's cache size per token follows its kv_shape: e.g. the MLA fixture caches per-head keys of
 * qk_nope + qk_rope dims and values of v_head_dim, Falcon-7B one KV head. */
static void test_step_bytes_per_token(void) {
    static const struct { const char *name; size_t bytes; } want[] = {
        /* layers × (k + v widths) × 4 bytes */
        {"deepseek_v2", 3 * (4 * (16 + 8) + 4 * 16) * 4}, /* 3 layers, 4 heads, keys nope 16 + rope 8, values 16 */
        {"falcon7b", 2 * (16 + 16) * 4},  /* 2 layers, 1 KV head of 16 */
        {"falcon40b", 2 * (16 + 16) * 4}, /* 2 layers, 2 KV heads of 8 */
        {"gpt2", 2 * (32 + 32) * 4},      /* 2 layers, 2 heads of 16 */
        {"mixtral", 2 * (16 + 16) * 4},   /* 2 layers, 2 KV heads of 8 */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        fixture_dir f;
        char why[900];
        int rc = fixture_model(want[i].name, &f, why, sizeof why);
        if (rc > 0) SKIP("%s", why);
        REQUIRE(rc == 0, "%s", why);
        lmc_model_opts mo = {0};
        lmc_model *m;
        lmc_err e;
        rc = lmc_model_open(f.path, &mo, &m, &e);
        fixture_done(&f);
        REQUIRE(rc == 0, "%s", e.msg);
        CHECK(lmc_kv_bytes_per_token(m) == want[i].bytes, "%s: %zu bytes per token, expected %zu", want[i].name,
              lmc_kv_bytes_per_token(m), want[i].bytes);
        lmc_model_close(m);
    }
}

int main(void) {
    RUN(test_step_every_fixture);
    RUN(test_step_qwen2);
    RUN(test_step_mixtral);
    RUN(test_step_falcon7b);
    RUN(test_step_falcon40b);
    RUN(test_step_qwen1);
    RUN(test_step_deepseek_v2);
    RUN(test_step_deepseek_v2_grouped);
    RUN(test_step_gpt2);
    RUN(test_step_gptneox);
    RUN(test_step_demo_model);
    RUN(test_compute_plan);
    RUN(test_step_tinystories_656k);
    RUN(test_step_stories260k);
    RUN(test_step_selftrained_gpt2);
    RUN(test_step_selftrained_gptneox);
    RUN(test_step_bf16_tinystories);
    RUN(test_step_bf16_gptneox);
    RUN(test_step_bf16_falcon40b);
    RUN(test_step_int8);
    RUN(test_step_greedy_matches_prefill);
    RUN(test_step_greedy_gpt2);
    RUN(test_step_unsupported_arch);
    RUN(test_step_memory);
    RUN(test_step_bytes_per_token);
    return test_summary();
}
