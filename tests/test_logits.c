/* test_logits.c — full-logits golden tests for the Llama-family fixtures in ../shared/fixtures/logits
 * (float64 reference forward, cross-checked with llama.cpp). Tolerances from fixtures/README.md, f32 compute:
 * max |Δlogit| ≤ 2e-4 and max |Δlogprob| ≤ 1e-4 over all stored rows, and the same argmax wherever the
 * reference top1–top2 gap exceeds 4e-4. */
#include "convert.h"
#include "golden.h"

#include <unistd.h>

typedef struct logits_stats {
    double max_dlogit, max_dlogprob;
    int    argmax_bad, rows;
} logits_stats;

/* Runs `model_path` on the fixture's ids and compares with NAME.logits.f32 / NAME.logprob.f32. */
static int compare_fixture(const char *name, const char *model_path, lmc_compute compute, logits_stats *st,
                           char *why, size_t why_cap) {
    char rel[512];
    snprintf(rel, sizeof rel, "fixtures/logits/%s.json", name);
    cJSON *side = g_read_json(t_shared(rel));
    if (!side) { snprintf(why, why_cap, "cannot read %s", rel); return -1; }
    int T;
    int32_t *ids = g_ids(cJSON_GetObjectItem(side, "ids"), &T);
    int V = (int)cJSON_GetObjectItem(side, "vocab")->valuedouble;
    lmc_model *m;
    lmc_err e = {{0}};
    lmc_model_opts mo = {.compute = compute, .threads = 0};
    if (lmc_model_open(model_path, &mo, &m, &e)) { snprintf(why, why_cap, "%s", e.msg); cJSON_Delete(side); free(ids); return -1; }
    float *logits = lmc_xmalloc(sizeof(float) * (size_t)T * V);
    int rc = lmc_model_logits(m, ids, T, logits, &e);
    lmc_model_close(m);
    if (rc) { snprintf(why, why_cap, "%s", e.msg); goto done; }
    snprintf(rel, sizeof rel, "fixtures/logits/%s.logits.f32", name);
    size_t nref = 0, nlp = 0;
    float *ref = g_read_raw(t_shared(rel), 4, &nref);
    snprintf(rel, sizeof rel, "fixtures/logits/%s.logprob.f32", name);
    float *reflp = g_read_raw(t_shared(rel), 4, &nlp);
    /* stored rows: "all", or a list of positions */
    const cJSON *rows = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(side, "files"), "logits"), "rows");
    int nrows = cJSON_IsArray(rows) ? cJSON_GetArraySize(rows) : T;
    memset(st, 0, sizeof *st);
    st->rows = nrows;
    for (int r = 0; ref && r < nrows && (size_t)(r + 1) * V <= nref; r++) {
        int pos = cJSON_IsArray(rows) ? (int)cJSON_GetArrayItem(rows, r)->valuedouble : r;
        const float *mine = logits + (size_t)pos * V, *want = ref + (size_t)r * V;
        for (int j = 0; j < V; j++) {
            double d = fabs((double)mine[j] - want[j]);
            if (d > st->max_dlogit) st->max_dlogit = d;
        }
        double gap;
        int a = g_argmax(want, V, &gap);
        if (gap > 4e-4 && g_argmax(mine, V, NULL) != a) st->argmax_bad++;
    }
    for (int i = 0; reflp && i + 1 < T && (size_t)i < nlp; i++) {
        const float *row = logits + (size_t)i * V;
        double lp = row[ids[i + 1]] - g_logsumexp(row, V);
        double d = fabs(lp - reflp[i]);
        if (d > st->max_dlogprob) st->max_dlogprob = d;
    }
    if (!ref || !reflp) { snprintf(why, why_cap, "cannot read reference arrays"); rc = -1; }
    free(ref);
    free(reflp);
done:
    free(logits);
    free(ids);
    cJSON_Delete(side);
    return rc;
}

static void check_f32(const char *name, const char *model_rel) {
    const char *model = t_shared(model_rel);
    if (!model) { t_cur_skipped = 1; snprintf(t_cur_msg, sizeof t_cur_msg, "%s not found", model_rel); return; }
    logits_stats st;
    char why[1100] = "";
    REQUIRE(compare_fixture(name, model, LMC_COMPUTE_F32, &st, why, sizeof why) == 0, "%s: %s", name, why);
    printf("  %s: rows %d, max |dlogit| %.2e, max |dlogprob| %.2e, argmax mismatches %d\n", name, st.rows,
           st.max_dlogit, st.max_dlogprob, st.argmax_bad);
    CHECK(st.max_dlogit <= 2e-4, "%s: max |dlogit| %.3e > 2e-4", name, st.max_dlogit);
    CHECK(st.max_dlogprob <= 1e-4, "%s: max |dlogprob| %.3e > 1e-4", name, st.max_dlogprob);
    CHECK(st.argmax_bad == 0, "%s: %d argmax mismatches", name, st.argmax_bad);
}

static void test_tinystories_f32(void) { check_f32("TinyStories-656K-f32", "models/TinyStories-656K-f32"); }
static void test_tinystories_bf16(void) { check_f32("TinyStories-656K-bf16", "models/TinyStories-656K-bf16"); }

/* stories260K: a llama2.c checkpoint with Meta-interleaved RoPE, imported with `lmc convert`. */
static void test_stories260k_import(void) {
    SHARED_OR_SKIP(bin, "models/stories260K/stories260K.bin");
    char out[] = "/tmp/lmc_s260k_XXXXXX.safetensors";
    int fd = mkstemps(out, 12);
    REQUIRE(fd >= 0, "mkstemps");
    close(fd);
    lmc_err e = {{0}};
    REQUIRE(lmc_convert(bin, out, LMC_CONVERT_KEEP_DTYPE, NULL, &e) == 0, "convert: %s", e.msg);
    logits_stats st;
    char why[1100] = "";
    int rc = compare_fixture("stories260K", out, LMC_COMPUTE_F32, &st, why, sizeof why);
    unlink(out);
    REQUIRE(rc == 0, "stories260K: %s", why);
    printf("  stories260K: rows %d, max |dlogit| %.2e, max |dlogprob| %.2e, argmax mismatches %d\n", st.rows,
           st.max_dlogit, st.max_dlogprob, st.argmax_bad);
    CHECK(st.max_dlogit <= 2e-4 && st.max_dlogprob <= 1e-4 && st.argmax_bad == 0, "stories260K outside tolerance");
}

/* bf16 compute (activations rounded to bf16): fixtures/README.md's looser bound on the BF16 fixture. */
static void test_tinystories_bf16_compute(void) {
    SHARED_OR_SKIP(model, "models/TinyStories-656K-bf16");
    char rel[] = "fixtures/logits/TinyStories-656K-bf16.json";
    cJSON *side = g_read_json(t_shared(rel));
    REQUIRE(side, "sidecar");
    int T;
    int32_t *ids = g_ids(cJSON_GetObjectItem(side, "ids"), &T);
    cJSON_Delete(side);
    lmc_model *m;
    lmc_err e = {{0}};
    lmc_model_opts mo = {.compute = LMC_COMPUTE_BF16, .threads = 0};
    REQUIRE(lmc_model_open(model, &mo, &m, &e) == 0, "%s", e.msg);
    int V = m->info.vocab;
    float *logits = lmc_xmalloc(sizeof(float) * (size_t)T * V);
    REQUIRE(lmc_model_logits(m, ids, T, logits, &e) == 0, "%s", e.msg);
    lmc_model_close(m);
    size_t nref;
    float *ref = g_read_raw(t_shared("fixtures/logits/TinyStories-656K-bf16.logits.f32"), 4, &nref);
    REQUIRE(ref && nref == (size_t)T * V, "reference logits");
    double maxd = 0, sumd = 0;
    int agree = 0;
    for (int r = 0; r < T; r++) {
        for (int j = 0; j < V; j++) {
            double d = fabs((double)logits[(size_t)r * V + j] - ref[(size_t)r * V + j]);
            maxd = d > maxd ? d : maxd;
            sumd += d;
        }
        agree += g_argmax(logits + (size_t)r * V, V, NULL) == g_argmax(ref + (size_t)r * V, V, NULL);
    }
    double mean = sumd / ((double)T * V), top1 = (double)agree / T;
    printf("  bf16 compute: max |dlogit| %.3f, mean %.4f, top-1 agreement %.1f%%\n", maxd, mean, 100 * top1);
    CHECK(maxd <= 0.25 && mean <= 0.02 && top1 >= 0.99, "bf16 compute outside tolerance: max %.3f mean %.4f top1 %.3f",
          maxd, mean, top1);
    free(ref);
    free(logits);
    free(ids);
}

/* The streaming bf16 path (weights packed per call, for models too large to keep a packed copy) computes
 * exactly what the packed-at-load path computes. */
static void test_bf16_streaming_identical(void) {
    SHARED_OR_SKIP(model, "models/TinyStories-656K-bf16");
    int32_t ids[300];
    for (int i = 0; i < 300; i++) ids[i] = (int32_t)((i * 37 + 11) % 2048);
    float *a = NULL, *b = NULL;
    for (int pass = 0; pass < 2; pass++) {
        lmc_model *m;
        lmc_err e = {{0}};
        /* pass 1: a 1-byte limit, so no packed copy fits and every matrix is packed per call */
        lmc_model_opts mo = {.compute = LMC_COMPUTE_BF16, .threads = 0, .bf16_pack_limit = pass == 1 ? 1 : 0};
        REQUIRE(lmc_model_open(model, &mo, &m, &e) == 0, "%s", e.msg);
        float *out = lmc_xmalloc(sizeof(float) * 300 * (size_t)m->info.vocab);
        REQUIRE(lmc_model_logits(m, ids, 300, out, &e) == 0, "%s", e.msg);
        if (pass == 0) a = out; else b = out;
        if (pass == 1) CHECK(memcmp(a, b, sizeof(float) * 300 * (size_t)m->info.vocab) == 0, "streamed bf16 differs");
        lmc_model_close(m);
    }
    free(a);
    free(b);
}

int main(void) {
    RUN(test_tinystories_f32);
    RUN(test_tinystories_bf16);
    RUN(test_stories260k_import);
    RUN(test_tinystories_bf16_compute);
    RUN(test_bf16_streaming_identical);
    return test_summary();
}
