/* test_kld.c — lmc kld's exact mode (src/eval/kld.c): one row against a hand computation, a whole run against
 * statistics recomputed here from logits the library dumps (lmc_model_logits), a model against itself (exactly
 * 0), f32 against bf16 compute and against GGUF Q8_0 / Q4_0, the same BPC as lmc_evaluate, and the refusals
 * (different token ids, too little memory). */
#include "test.h"
#include "lmc.h"
#include "lmc_kld.h"
#include "eval/kld_internal.h"
#include "model/model.h"

#define GG "tests/data/gguf/"

/* ---- one row by hand -------------------------------------------------------------------------------------- */

static void test_row_by_hand(void) {
    /* p_A = softmax(a), p_B = softmax(b) over 6 entries, written out as probabilities here */
    float a[6] = {2, 1, 0, -1, 0.5f, 3}, b[6] = {1, 1, 1, -2, 3, 0};
    double pa[6], pb[6], za = 0, zb = 0;
    for (int j = 0; j < 6; j++) za += exp(a[j]), zb += exp(b[j]);
    for (int j = 0; j < 6; j++) pa[j] = exp(a[j]) / za, pb[j] = exp(b[j]) / zb;
    double kl = 0, klr = 0, js = 0;
    for (int j = 0; j < 6; j++) {
        double m = (pa[j] + pb[j]) / 2;
        kl += pa[j] * log(pa[j] / pb[j]);
        klr += pb[j] * log(pb[j] / pa[j]);
        js += 0.5 * pa[j] * log(pa[j] / m) + 0.5 * pb[j] * log(pb[j] / m);
    }
    lmc_kld_row r;
    lmc_kld_compare_row(a, b, 6, 4, &r);
    CHECK(fabs(r.kld - kl) < 1e-12 && fabs(r.kld_rev - klr) < 1e-12 && fabs(r.jsd - js) < 1e-12,
          "KL %.15g vs %.15g, rev %.15g vs %.15g, JSD %.15g vs %.15g", r.kld, kl, r.kld_rev, klr, r.jsd, js);
    CHECK(fabs(r.nll_a + log(pa[4])) < 1e-12 && fabs(r.nll_b + log(pb[4])) < 1e-12, "NLLs %g %g", r.nll_a, r.nll_b);
    CHECK(fabs(r.dp - (pb[4] - pa[4])) < 1e-12, "dp %g vs %g", r.dp, pb[4] - pa[4]);
    /* argmax: a → 5, b → 4; top-5 of a drops index 3 (−1), of b drops index 3 (−2): overlap 5 */
    CHECK(r.same_top == 0 && r.top5 == 5, "same_top %d top5 %d", r.same_top, r.top5);
    float c[6] = {0, 0, 9, 0, 0, -5}; /* top-5 = all but 5, argmax 2; b's drops 3: overlap 4 */
    lmc_kld_compare_row(c, b, 6, 0, &r);
    CHECK(r.top5 == 4 && r.same_top == 0, "top5 %d", r.top5);
    lmc_kld_compare_row(a, a, 6, 2, &r);
    CHECK(r.kld == 0 && r.kld_rev == 0 && r.jsd == 0 && r.dp == 0 && r.same_top && r.top5 == 5, "self row");
}

/* ---- helpers ---------------------------------------------------------------------------------------------- */

static lmc_model *open_model(const char *path, lmc_compute c) {
    lmc_model_opts mo = {.compute = c, .threads = 1};
    lmc_model *m = NULL;
    lmc_err err;
    if (lmc_model_open(path, &mo, &m, &err)) { printf("# %s\n", err.msg); return NULL; }
    return m;
}

static lmc_tokenizer *open_tok(const char *path) {
    lmc_tokenizer *t = NULL;
    lmc_err err;
    if (lmc_tokenizer_open(path, &t, &err)) { printf("# %s\n", err.msg); return NULL; }
    return t;
}

static const char *corpus(void) {
    static char p[256];
    static const char text[] = "{\"content\": \"Once upon a time there was a little cat. The cat liked milk.\"}\n"
                               "{\"content\": \"Tom went to the park with his dog and they played all day long.\"}\n"
                               "{\"content\": \"def f(x):\\n    return x * 2  # doubles\\n\"}\n";
    if (!p[0]) {
        snprintf(p, sizeof p, "%s", t_tmp("small.jsonl"));
        t_write_file(p, text, sizeof text - 1);
    }
    return p;
}

static lmc_kld_opts opts(int W, int S) {
    return (lmc_kld_opts){.block_size = W, .stride = S, .file_num = -1, .threads = 1, .bootstrap = 200};
}

/* ---- a whole run against a recomputation from dumped logits ------------------------------------------------ */

/* The windows of SPEC §3 written out again; every scored row's softmaxes taken from lmc_model_logits. */
static void recompute(lmc_model *ma, lmc_model *mb, const int32_t *ids, size_t N, int W, int S, double *kl_mean,
                      double *nll_a_mean, double *same) {
    int V = ma->info.vocab;
    float *la = malloc(sizeof(float) * (size_t)W * V), *lb = malloc(sizeof(float) * (size_t)W * V);
    double kl = 0, na = 0, sm = 0;
    size_t n = 0;
    lmc_err err;
    for (size_t start = 0; start + (size_t)W + 1 <= N; start += (size_t)S) {
        lmc_model_logits(ma, ids + start, W, la, &err);
        lmc_model_logits(mb, ids + start, W, lb, &err);
        for (int r = start ? W - S : 0; r < W; r++, n++) {
            const float *a = la + (size_t)r * V, *b = lb + (size_t)r * V;
            double ma_ = -INFINITY, mb_ = -INFINITY, za = 0, zb = 0;
            int arga = 0, argb = 0;
            for (int j = 0; j < V; j++) {
                if (a[j] > ma_) ma_ = a[j], arga = j;
                if (b[j] > mb_) mb_ = b[j], argb = j;
            }
            for (int j = 0; j < V; j++) za += exp(a[j] - ma_), zb += exp(b[j] - mb_);
            for (int j = 0; j < V; j++) {
                double pa = exp(a[j] - ma_) / za, pb = exp(b[j] - mb_) / zb;
                kl += pa * log(pa / pb);
            }
            na += -(a[ids[start + r + 1]] - ma_ - log(za));
            sm += arga == argb;
        }
    }
    *kl_mean = kl / (double)n;
    *nll_a_mean = na / (double)n;
    *same = sm / (double)n;
    free(la);
    free(lb);
}

static void test_run_vs_recomputed(void) {
    lmc_model *ma = open_model(GG "llama-f32.gguf", LMC_COMPUTE_F32), *mb = open_model(GG "llama-q8_0.gguf",
                                                                                        LMC_COMPUTE_F32);
    lmc_tokenizer *t = open_tok(GG "llama-f32.gguf");
    REQUIRE(ma && mb && t, "could not open the test GGUF models");
    lmc_kld_opts o = opts(16, 8);
    lmc_kld_result r;
    lmc_err err;
    REQUIRE(lmc_kld_run(ma, t, mb, t, corpus(), &o, &r, &err) == 0, "%s", err.msg);
    /* the stream, as lmc eval cuts it: every document with its BOS */
    lmc_corpus c;
    lmc_corpus_opts co = {.file_num = -1};
    REQUIRE(lmc_corpus_load(corpus(), &co, &c, &err) == 0, "%s", err.msg);
    int32_t all[4096];
    size_t N = 0;
    for (size_t d = 0; d < c.n_docs; d++) {
        int32_t *ids;
        size_t n;
        REQUIRE(lmc_tokenize(t, c.docs[d].text, c.docs[d].len, 1, &ids, &n, &err) == 0, "%s", err.msg);
        memcpy(all + N, ids, n * sizeof *ids);
        N += n;
        free(ids);
    }
    double kl, na, same;
    recompute(ma, mb, all, N, 16, 8, &kl, &na, &same);
    CHECK(r.tokens == N, "tokens %zu vs %zu", r.tokens, N);
    CHECK(r.kld.mean > 0 && fabs(r.kld.mean - kl) <= 1e-6 * kl, "mean KLD %.9g, recomputed %.9g", r.kld.mean, kl);
    CHECK(fabs(log(r.ppl_base.est) - na) < 1e-7, "ln PPL(base) %.12g, recomputed %.12g", log(r.ppl_base.est), na);
    CHECK(fabs(r.same_top.est - same) < 1e-9, "same top %.6f, recomputed %.6f", r.same_top.est, same);
    CHECK(fabs(r.dbpc.est - (r.bpc_model - r.bpc_base)) < 1e-12, "ΔBPC %g vs %g", r.dbpc.est,
          r.bpc_model - r.bpc_base);
    lmc_corpus_free(&c);
    lmc_tokenizer_free(t);
    lmc_model_close(ma);
    lmc_model_close(mb);
}

/* ---- a model against itself; lmc eval's BPC ---------------------------------------------------------------- */

static void test_self_is_zero(void) {
    lmc_model *m = open_model("demo-model", LMC_COMPUTE_F32), *m2 = open_model("demo-model", LMC_COMPUTE_F32);
    lmc_tokenizer *t = open_tok("demo-model");
    REQUIRE(m && m2 && t, "could not open demo-model");
    lmc_kld_opts o = opts(64, 32);
    lmc_kld_result r;
    lmc_err err;
    REQUIRE(lmc_kld_run(m, t, m2, t, corpus(), &o, &r, &err) == 0, "%s", err.msg);
    CHECK(r.kld.mean == 0 && r.kld.max == 0 && r.kld_rev.max == 0 && r.jsd.max == 0, "KLD %g max %g", r.kld.mean,
          r.kld.max);
    CHECK(r.same_top.est == 1 && r.top5_overlap.est == 1 && r.dp.max == 0 && r.dp.min == 0, "same top %g",
          r.same_top.est);
    CHECK(r.dbpc.est == 0 && r.ppl_ratio.est == 1 && r.kld_bpc.est == 0, "ΔBPC %g", r.dbpc.est);
    lmc_eval_opts eo = {.block_size = 64, .stride = 32, .file_num = -1};
    lmc_result er;
    REQUIRE(lmc_evaluate(m, t, corpus(), &eo, &er, &err) == 0, "%s", err.msg);
    /* the same tokens and windows; eval's log-softmax sums in f32 (≈ 1e-7 relative), kld's in double */
    CHECK(fabs(er.bpc - r.bpc_base) < 1e-7 * er.bpc && er.scored_tokens == r.scored_tokens && er.windows == r.windows,
          "eval BPC %.12f vs kld's %.12f", er.bpc, r.bpc_base);
    lmc_result_free(&er);
    lmc_tokenizer_free(t);
    lmc_model_close(m);
    lmc_model_close(m2);
}

/* ---- compute types and quantizations ------------------------------------------------------------------------ */

static void test_bf16_and_quantized(void) {
    lmc_model *f = open_model("demo-model", LMC_COMPUTE_F32), *b = open_model("demo-model", LMC_COMPUTE_BF16);
    lmc_tokenizer *t = open_tok("demo-model");
    REQUIRE(f && b && t, "could not open demo-model");
    lmc_kld_opts o = opts(64, 32);
    lmc_kld_result r, q8, q4, twin;
    lmc_err err;
    REQUIRE(lmc_kld_run(f, t, b, t, corpus(), &o, &r, &err) == 0, "%s", err.msg);
    CHECK(r.kld.mean > 0 && r.kld.mean < 1e-3 && r.same_top.est > 0.95, "bf16: KLD %g, same top %g", r.kld.mean,
          r.same_top.est);
    lmc_tokenizer_free(t);
    lmc_model_close(f);
    lmc_model_close(b);
    lmc_model *g = open_model(GG "llama-f32.gguf", LMC_COMPUTE_F32), *g8 = open_model(GG "llama-q8_0.gguf", 0),
              *g4 = open_model(GG "llama-q4_0.gguf", 0), *hf = open_model(GG "llama-hf", 0);
    t = open_tok(GG "llama-f32.gguf");
    REQUIRE(g && g8 && g4 && hf && t, "could not open the test GGUF models");
    o = opts(32, 16);
    REQUIRE(lmc_kld_run(g, t, g8, t, corpus(), &o, &q8, &err) == 0, "%s", err.msg);
    REQUIRE(lmc_kld_run(g, t, g4, t, corpus(), &o, &q4, &err) == 0, "%s", err.msg);
    REQUIRE(lmc_kld_run(hf, t, g, t, corpus(), &o, &twin, &err) == 0, "%s", err.msg);
    CHECK(q8.kld.mean > 0 && q4.kld.mean > 4 * q8.kld.mean, "Q8_0 KLD %g, Q4_0 KLD %g", q8.kld.mean, q4.kld.mean);
    CHECK(q8.same_top.est > q4.same_top.est, "same top Q8_0 %g, Q4_0 %g", q8.same_top.est, q4.same_top.est);
    CHECK(twin.kld.max < 1e-6 && twin.same_top.est == 1, "HF twin vs its F32 GGUF: max KLD %g", twin.kld.max);
    lmc_tokenizer_free(t);
    lmc_model_close(g);
    lmc_model_close(g8);
    lmc_model_close(g4);
    lmc_model_close(hf);
}

/* ---- refusals ------------------------------------------------------------------------------------------------ */

static void test_refusals(void) {
    lmc_model *g = open_model(GG "llama-f32.gguf", 0), *g8 = open_model(GG "llama-q8_0.gguf", 0);
    lmc_tokenizer *t = open_tok(GG "llama-f32.gguf"), *other = open_tok("demo-model");
    REQUIRE(g && g8 && t && other, "could not open the models");
    lmc_kld_opts o = opts(16, 8);
    lmc_kld_result r;
    lmc_err err;
    CHECK(lmc_kld_run(g, t, g8, other, corpus(), &o, &r, &err) == -1 && strstr(err.msg, "same tokens only") &&
          strstr(err.msg, "document 1"), "different tokenizers: %s", err.msg);
    o.memory_limit = 1000;
    CHECK(lmc_kld_run(g, t, g8, t, corpus(), &o, &r, &err) == -1 && strstr(err.msg, "MB are available"),
          "memory: %s", err.msg);
    lmc_model *d = open_model("demo-model", 0);
    o.memory_limit = 0;
    CHECK(d && lmc_kld_run(g, t, d, t, corpus(), &o, &r, &err) == -1 && strstr(err.msg, "vocabulary of 512"),
          "vocabularies: %s", err.msg);
    lmc_model_close(d);
    lmc_tokenizer_free(t);
    lmc_tokenizer_free(other);
    lmc_model_close(g);
    lmc_model_close(g8);
}

/* ---- the stored base: --save-base / --base-file ------------------------------------------------------------- */

/* Saves g's top K on the corpus, then compares m with the file. */
static int stored(lmc_model *g, lmc_model *m, lmc_tokenizer *t, int K, const char *file, lmc_kld_result *r,
                  lmc_err *err) {
    lmc_kld_opts o = opts(32, 16);
    o.save_base = file;
    o.top_k = K;
    lmc_kld_result saved;
    if (lmc_kld_run(g, t, NULL, NULL, corpus(), &o, &saved, err)) return -1;
    struct stat st;
    if (stat(file, &st) || (size_t)st.st_size != 256 + (8 + 8 * (size_t)K) * saved.scored_tokens ||
        saved.base_file_bytes != (size_t)st.st_size)
        return lmc_fail(err, "%s: %lld bytes, expected 256 + %d per token", file, (long long)st.st_size, 8 + 8 * K);
    o = opts(32, 16);
    o.base_file = file;
    return lmc_kld_run(NULL, NULL, m, t, corpus(), &o, r, err);
}

static void test_stored_base(void) {
    lmc_model *g = open_model(GG "llama-f32.gguf", 0), *g8 = open_model(GG "llama-q8_0.gguf", 0);
    lmc_tokenizer *t = open_tok(GG "llama-f32.gguf");
    REQUIRE(g && g8 && t, "could not open the test GGUF models");
    lmc_kld_opts o = opts(32, 16);
    lmc_kld_result ex, s32, sall, self;
    lmc_err err;
    REQUIRE(lmc_kld_run(g, t, g8, t, corpus(), &o, &ex, &err) == 0, "%s", err.msg);
    REQUIRE(stored(g, g8, t, 32, t_tmp("b32"), &s32, &err) == 0, "%s", err.msg);
    REQUIRE(stored(g, g8, t, 512, t_tmp("ball"), &sall, &err) == 0, "%s", err.msg);
    REQUIRE(stored(g, g, t, 32, t_tmp("bself"), &self, &err) == 0, "%s", err.msg);
    printf("# Q8_0 vs F32 (random-weight model, flat distributions): exact KLD %.6g, stored top-32 %.6g (%.0f%%), "
           "top-512 (all) %.6g\n", ex.kld.mean, s32.kld.mean, 100 * s32.kld.mean / ex.kld.mean, sall.kld.mean);
    /* coarsening never increases a divergence: a lower bound; with K = the vocabulary, the exact value (f32) */
    CHECK(s32.kld.mean > 0 && s32.kld.mean <= ex.kld.mean * (1 + 1e-6) && s32.jsd.mean <= ex.jsd.mean * (1 + 1e-6),
          "top-32 KLD %g, exact %g", s32.kld.mean, ex.kld.mean);
    CHECK(fabs(sall.kld.mean - ex.kld.mean) < 1e-4 * ex.kld.mean && fabs(sall.kld_rev.mean - ex.kld_rev.mean) <
          1e-4 * ex.kld_rev.mean, "all-vocabulary KLD %.9g, exact %.9g", sall.kld.mean, ex.kld.mean);
    /* what the file stores exactly: the target's log-prob and the argmax */
    CHECK(s32.same_top.est == ex.same_top.est && s32.top5_overlap.est == ex.top5_overlap.est, "same top %g vs %g",
          s32.same_top.est, ex.same_top.est);
    CHECK(fabs(s32.bpc_base - ex.bpc_base) < 1e-6 && fabs(s32.dbpc.est - ex.dbpc.est) < 1e-6, "ΔBPC %g vs %g",
          s32.dbpc.est, ex.dbpc.est);
    CHECK(fabs(self.kld.mean) < 1e-6 && self.same_top.est == 1, "self through a file: KLD %g", self.kld.mean);
    /* a file from other windows, or damaged, is refused */
    o = opts(32, 8);
    o.base_file = t_tmp("b32");
    lmc_kld_result r;
    CHECK(lmc_kld_run(NULL, NULL, g8, t, corpus(), &o, &r, &err) == -1 && strstr(err.msg, "--stride 16"),
          "other stride: %s", err.msg);
    t_write_file(t_tmp("bad"), "LMCKLDB1 not really", 19);
    o = opts(32, 16);
    o.base_file = t_tmp("bad");
    CHECK(lmc_kld_run(NULL, NULL, g8, t, corpus(), &o, &r, &err) == -1 && strstr(err.msg, "base file"),
          "damaged: %s", err.msg);
    lmc_tokenizer_free(t);
    lmc_model_close(g);
    lmc_model_close(g8);
}

/* ---- checkpoint / resume ------------------------------------------------------------------------------------ */

static int same_result(const lmc_kld_result *a, const lmc_kld_result *b) {
    return !memcmp(&a->kld, &b->kld, sizeof a->kld) && !memcmp(&a->dp, &b->dp, sizeof a->dp) &&
           !memcmp(&a->jsd, &b->jsd, sizeof a->jsd) && !memcmp(&a->dbpc, &b->dbpc, sizeof a->dbpc) &&
           !memcmp(&a->ppl_ratio, &b->ppl_ratio, sizeof a->ppl_ratio) &&
           !memcmp(&a->same_top, &b->same_top, sizeof a->same_top) && a->bpc_model == b->bpc_model;
}

static void test_checkpoint_resume(void) {
    lmc_model *g = open_model(GG "llama-f32.gguf", 0), *g4 = open_model(GG "llama-q4_0.gguf", 0),
              *g8 = open_model(GG "llama-q8_0.gguf", 0);
    lmc_tokenizer *t = open_tok(GG "llama-f32.gguf");
    REQUIRE(g && g4 && g8 && t, "could not open the test GGUF models");
    lmc_kld_opts o = opts(16, 8);
    lmc_kld_result whole, full, resumed;
    lmc_err err;
    REQUIRE(lmc_kld_run(g, t, g4, t, corpus(), &o, &whole, &err) == 0, "%s", err.msg);
    const char *ck = t_tmp("ck");
    o.checkpoint = ck;
    REQUIRE(lmc_kld_run(g, t, g4, t, corpus(), &o, &full, &err) == 0, "%s", err.msg);
    CHECK(same_result(&whole, &full) && full.resumed_windows == 0, "a checkpointed run differs from a plain one");
    /* a kill in the middle of a record: the file cut short; the rest recomputed, the result bit-identical */
    struct stat st;
    REQUIRE(stat(ck, &st) == 0, "no checkpoint written");
    REQUIRE(truncate(ck, st.st_size * 6 / 10) == 0, "truncate");
    REQUIRE(lmc_kld_run(g, t, g4, t, corpus(), &o, &resumed, &err) == 0, "%s", err.msg);
    CHECK(resumed.resumed_windows > 0 && resumed.resumed_windows < resumed.windows && resumed.torn_records == 1,
          "resumed %zu of %zu, torn %zu", resumed.resumed_windows, resumed.windows, resumed.torn_records);
    CHECK(same_result(&whole, &resumed), "the resumed result differs: KLD %.17g vs %.17g", resumed.kld.mean,
          whole.kld.mean);
    REQUIRE(lmc_kld_run(g, t, g4, t, corpus(), &o, &resumed, &err) == 0, "%s", err.msg);
    CHECK(resumed.resumed_windows == resumed.windows && same_result(&whole, &resumed), "all resumed");
    /* another comparison, or a damaged record before the last, is refused */
    CHECK(lmc_kld_run(g, t, g8, t, corpus(), &o, &resumed, &err) == -1 && strstr(err.msg, "kld_model_sha256"),
          "another model: %s", err.msg);
    FILE *f = fopen(ck, "r+b");
    REQUIRE(f, "reopen");
    fseek(f, st.st_size / 3, SEEK_SET);
    int byte = fgetc(f);
    fseek(f, st.st_size / 3, SEEK_SET); /* a read and a write need a seek between them */
    fputc(0x5a ^ byte, f);
    fclose(f);
    CHECK(lmc_kld_run(g, t, g4, t, corpus(), &o, &resumed, &err) == -1 && strstr(err.msg, "damaged"), "damaged: %s",
          err.msg);
    lmc_tokenizer_free(t);
    lmc_model_close(g);
    lmc_model_close(g4);
    lmc_model_close(g8);
}

int main(void) {
    RUN(test_row_by_hand);
    RUN(test_run_vs_recomputed);
    RUN(test_self_is_zero);
    RUN(test_bf16_and_quantized);
    RUN(test_refusals);
    RUN(test_stored_base);
    RUN(test_checkpoint_resume);
    t_tmp_cleanup();
    return test_summary();
}
