/* test_step.c — incremental decoding (lmc_model_step with an lmc_kv cache) against the prefill.
 *
 * For each Llama-family model: the logits of a prefill of T tokens (lmc_model_logits, every row) must equal the
 * logits of T single steps (row t after step t), and of a mixed split (5 + 1 + 3 + 1 + ...), within
 * TOL · max(1, max |logit| of the row). Why not bit for bit: a step computes the same functions with another
 * summation order — its attention sums a query's keys in one sgemv pass with an exact softmax where the prefill
 * uses 64×512 sgemm blocks with an online softmax, and OpenBLAS's sgemm for T rows blocks K differently from the
 * one-row case. Each such reordering moves a logit by a few f32 ulps of the partial sums; through a few layers
 * of a small model stays near 1e-6 relative (measured ≤ 1.9e-6 on these four models; the test prints each
 * max |Δ|), so 1e-4 leaves a margin of 50× while a wrong position, RoPE angle or cache row moves logits by
 * 0.1–1 (a step with RoPE at position 0 gives 0.65–1.4 here). */
#include "convert.h"
#include "model.h"
#include "test.h"

#include <unistd.h>

enum { T = 24 };
static const double TOL = 1e-4;

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

static void check_model(const char *path) {
    lmc_model_opts mo = {0};
    lmc_model *m;
    lmc_err e;
    REQUIRE(lmc_model_open(path, &mo, &m, &e) == 0, "%s", e.msg);
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
    const char *names[] = {"single steps", "5+1+3+1+1+7+2+4", "one step of T"};
    char why[1100];
    for (int s = 0; s < 3; s++) {
        double d = compare_split(m, kv, ids, pre, splits[s], why, sizeof why);
        CHECK(d >= 0, "%s: %s", names[s], why);
        CHECK(d <= TOL, "%s: %s: max relative |Δ| %.3g > %.0e", path, names[s], d, TOL);
        printf("  %s: %s: max |Δ|/max(1,|logit|) = %.3g\n", path, names[s], d);
    }
    /* a full cache refuses one more token with a message, and keeps its state */
    float *lg = malloc(sizeof(float) * V);
    CHECK(lmc_model_step(m, kv, ids, 1, lg, &e) == -1 && strstr(e.msg, "KV cache is full"), "full cache: %s", e.msg);
    CHECK(lmc_kv_pos(kv) == T, "pos after refusal %d", lmc_kv_pos(kv));
    free(lg);
out:
    lmc_kv_free(kv);
    free(pre);
    lmc_model_close(m);
}

static void test_step_demo_model(void) {
    const char *p = "demo-model/config.json";
    struct stat st;
    if (stat(p, &st)) SKIP("demo-model/ not found (run from the repository root)");
    check_model("demo-model");
}

static void test_step_qwen2_fixture(void) {
    SHARED_OR_SKIP(dir, "fixtures/arch/qwen2/model");
    check_model(dir);
}

static void test_step_tinystories_656k(void) {
    SHARED_OR_SKIP(dir, "models/TinyStories-656K-f32");
    check_model(dir);
}

/* llama2.c's stories260K: Meta-interleaved RoPE and GQA, through lmc convert. */
static void test_step_stories260k(void) {
    SHARED_OR_SKIP(bin, "models/stories260K/stories260K.bin");
    SHARED_OR_SKIP(tok, "models/stories260K/tok512.bin");
    char out[] = "/tmp/lmc_test_step_XXXXXX";
    int fd = mkstemp(out);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    lmc_err e;
    if (lmc_convert(bin, out, LMC_F32, tok, &e)) { unlink(out); REQUIRE(0, "convert: %s", e.msg); }
    check_model(out);
    unlink(out);
}

/* Greedy decoding through the cache picks the same 16 tokens as greedy decoding by a full prefill of the growing
 * sequence at every step (what an engine without a cache does): the rounding differences above never flip an
 * argmax here. */
static int32_t argmax_row(const float *x, int n) {
    int32_t b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

static void test_step_greedy_matches_prefill(void) {
    struct stat st;
    if (stat("demo-model/config.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    enum { P = 4, G = 16 };
    lmc_model_opts mo = {0};
    lmc_model *m;
    lmc_err e;
    REQUIRE(lmc_model_open("demo-model", &mo, &m, &e) == 0, "%s", e.msg);
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
    CHECK(!memcmp(a, b, sizeof a), "greedy tokens differ between cache and prefill");
    free(lg);
    lmc_kv_free(kv);
    lmc_model_close(m);
}

/* An architecture without a step says so in one line, naming it. */
static void test_step_unsupported_arch(void) {
    SHARED_OR_SKIP(dir, "fixtures/arch/gpt2/model");
    lmc_model_opts mo = {0};
    lmc_model *m;
    lmc_err e;
    REQUIRE(lmc_model_open(dir, &mo, &m, &e) == 0, "%s", e.msg);
    lmc_kv *kv = (lmc_kv *)&e;
    CHECK(lmc_kv_bytes_per_token(m) == 0, "bytes per token %zu", lmc_kv_bytes_per_token(m));
    CHECK(lmc_kv_open(m, 8, &kv, &e) == -1 && kv == NULL, "opened");
    CHECK(strstr(e.msg, "not supported yet for GPT2LMHeadModel") && !strchr(e.msg, '\n'), "message: %s", e.msg);
    lmc_model_close(m);
}

/* Memory: bytes per token as the shapes say, and a cache beyond the memory limit is refused with a message. */
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
    m->opts.memory_limit = lmc_weights_total_bytes(m->w) + per * 100; /* room for ~100 positions */
    lmc_kv *kv = NULL;
    CHECK(lmc_kv_open(m, 1000, &kv, &e) == -1 && strstr(e.msg, "KV cache of 1000 tokens needs") &&
          strstr(e.msg, "bytes per token"), "refusal: %s", kv ? "opened" : e.msg);
    lmc_kv_free(kv);
    kv = NULL;
    CHECK(lmc_kv_open(m, 50, &kv, &e) == 0, "50 tokens: %s", e.msg);
    lmc_kv_free(kv);
    lmc_model_close(m);
}

int main(void) {
    RUN(test_step_demo_model);
    RUN(test_step_qwen2_fixture);
    RUN(test_step_tinystories_656k);
    RUN(test_step_stories260k);
    RUN(test_step_greedy_matches_prefill);
    RUN(test_step_unsupported_arch);
    RUN(test_step_memory);
    return test_summary();
}
