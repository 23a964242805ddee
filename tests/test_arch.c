/* test_arch.c — every architecture beyond the Llama family against ../shared/fixtures/arch (random-weight HF
 * checkpoints; references from llama.cpp in exact f32 mode, plus an own float64 HF-equation forward for
 * Falcon/GPT-2/NeoX and the group-limited DeepSeek routing), the self-trained GPT-2/NeoX golden logits in
 * ../shared/fixtures/logits, `lmc convert` round trips, thread-count independence of the MoE dispatch, and the
 * errors for unsupported options and too-long windows.
 *
 * Comparison (fixtures/arch/README.md): run ids.json as one sequence; max |Δ| over logits_rows, logits_sel,
 * logsumexp and logprob_next ≤ meta.tolerance.max_abs_logit (own_f64_reference: 1e-3), and the argmax equal
 * wherever our top-2 gap exceeds that tolerance. */
#include "convert.h"
#include "golden.h"

#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <unistd.h>

/* ---- running a model ---- */

/* Full logits (T, V) of `model` on ids, or NULL with why. *V gets the vocab. */
static float *run_logits(const char *model, const int32_t *ids, int T, lmc_compute cp, int *V, char *why,
                         size_t cap) {
    lmc_model *m;
    lmc_err e = {{0}};
    lmc_model_opts mo = {.compute = cp, .threads = 0};
    if (lmc_model_open(model, &mo, &m, &e)) { snprintf(why, cap, "open %s: %s", model, e.msg); return NULL; }
    *V = m->info.vocab;
    float *logits = malloc(sizeof(float) * (size_t)T * *V);
    if (!logits || lmc_model_logits(m, ids, T, logits, &e)) {
        snprintf(why, cap, "forward: %s", logits ? e.msg : "out of memory");
        free(logits);
        logits = NULL;
    }
    lmc_model_close(m);
    return logits;
}

/* The error message of opening (and, if that works, running T tokens of) `model` to its final hidden states, or
 * "" when both succeed. */
static void run_error(const char *model, int T, char *msg, size_t cap) {
    lmc_model *m;
    lmc_err e = {{0}};
    lmc_model_opts mo = {.compute = LMC_COMPUTE_F32, .threads = 0};
    msg[0] = 0;
    if (lmc_model_open(model, &mo, &m, &e)) { snprintf(msg, cap, "%s", e.msg); return; }
    int32_t *ids = calloc((size_t)T, sizeof(int32_t));
    float *hidden = malloc(sizeof(float) * (size_t)T * m->info.dim);
    if (lmc_model_hidden(m, ids, T, hidden, &e)) snprintf(msg, cap, "%s", e.msg);
    free(ids);
    free(hidden);
    lmc_model_close(m);
}

/* ---- temporary model directories: a (modified) config.json + a symlink to the weights ---- */

typedef struct tmp_model {
    char dir[PATH_MAX], cfg[PATH_MAX + 32], link[PATH_MAX + 32];
} tmp_model;

/* config_src: a config.json; weights: a model.safetensors. edit (may be NULL) changes the parsed config. */
static int tmp_model_make(tmp_model *tm, const char *config_src, const char *weights, void (*edit)(cJSON *, void *),
                          void *arg) {
    memset(tm, 0, sizeof *tm);
    snprintf(tm->dir, sizeof tm->dir, "/tmp/lmc_arch_XXXXXX");
    if (!mkdtemp(tm->dir)) return -1;
    cJSON *cfg = g_read_json(config_src);
    if (!cfg) return -1;
    if (edit) edit(cfg, arg);
    char *text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    snprintf(tm->cfg, sizeof tm->cfg, "%s/config.json", tm->dir);
    FILE *f = fopen(tm->cfg, "w");
    if (!f) { free(text); return -1; }
    fputs(text, f);
    fclose(f);
    free(text);
    char abs[PATH_MAX];
    if (!realpath(weights, abs)) return -1;
    snprintf(tm->link, sizeof tm->link, "%s/model.safetensors", tm->dir);
    return symlink(abs, tm->link);
}

static void tmp_model_remove(tmp_model *tm) {
    if (tm->link[0]) unlink(tm->link);
    if (tm->cfg[0]) unlink(tm->cfg);
    if (tm->dir[0]) rmdir(tm->dir);
}

typedef struct cfg_edit { const char *key; double num; int is_bool, bval; const char *str; } cfg_edit;

static void apply_edit(cJSON *cfg, void *arg) {
    const cfg_edit *ed = arg;
    for (; ed->key; ed++) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, ed->key);
        if (ed->str) cJSON_AddStringToObject(cfg, ed->key, ed->str);
        else if (ed->is_bool) cJSON_AddBoolToObject(cfg, ed->key, ed->bval);
        else cJSON_AddNumberToObject(cfg, ed->key, ed->num);
    }
}

/* ---- comparing with a fixture's reference arrays ---- */

typedef struct cmp_stats {
    double rows, sel, lse, lp, max; /* max |Δ| per array, and overall */
    int    argmax_checked, argmax_bad;
} cmp_stats;

static float *read_f32(const char *dir, const char *file, size_t want, char *why, size_t cap) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t n = 0;
    float *v = g_read_raw(path, 4, &n);
    if (!v || n != want) { snprintf(why, cap, "%s: %zu values, expected %zu", path, n, want); free(v); return NULL; }
    return v;
}

/* refdir holds logits_rows.f32, logits_sel.f32, logsumexp.f32, argmax.i32, logprob_next.f32 for the rows and
 * sel_ids listed in meta (the fixture's meta.json). */
static int compare_ref(const char *refdir, const cJSON *meta, const float *logits, const int32_t *ids, int T, int V,
                       double tol, cmp_stats *st, char *why, size_t cap) {
    memset(st, 0, sizeof *st);
    const cJSON *rows = cJSON_GetObjectItem(meta, "rows"), *sel = cJSON_GetObjectItem(meta, "sel_ids");
    int nr = cJSON_GetArraySize(rows), ns = cJSON_GetArraySize(sel);
    float *ref_rows = read_f32(refdir, "logits_rows.f32", (size_t)nr * V, why, cap);
    float *ref_sel = ref_rows ? read_f32(refdir, "logits_sel.f32", (size_t)T * ns, why, cap) : NULL;
    float *ref_lse = ref_sel ? read_f32(refdir, "logsumexp.f32", (size_t)T, why, cap) : NULL;
    float *ref_lp = ref_lse ? read_f32(refdir, "logprob_next.f32", (size_t)T - 1, why, cap) : NULL;
    int32_t *ref_am = ref_lp ? (int32_t *)read_f32(refdir, "argmax.i32", (size_t)T, why, cap) : NULL;
    int rc = ref_am ? 0 : -1;
    for (int r = 0; rc == 0 && r < nr; r++) {
        int pos = (int)cJSON_GetArrayItem(rows, r)->valuedouble;
        for (int j = 0; j < V; j++) {
            double d = fabs((double)logits[(size_t)pos * V + j] - ref_rows[(size_t)r * V + j]);
            st->rows = d > st->rows ? d : st->rows;
        }
    }
    for (int t = 0; rc == 0 && t < T; t++) {
        const float *row = logits + (size_t)t * V;
        for (int j = 0; j < ns; j++) {
            int id = (int)cJSON_GetArrayItem(sel, j)->valuedouble;
            double d = fabs((double)row[id] - ref_sel[(size_t)t * ns + j]);
            st->sel = d > st->sel ? d : st->sel;
        }
        double lse = g_logsumexp(row, V), d = fabs(lse - ref_lse[t]);
        st->lse = d > st->lse ? d : st->lse;
        if (t + 1 < T) {
            d = fabs(row[ids[t + 1]] - lse - ref_lp[t]);
            st->lp = d > st->lp ? d : st->lp;
        }
        double gap;
        int am = g_argmax(row, V, &gap);
        if (gap > tol) {
            st->argmax_checked++;
            st->argmax_bad += am != ref_am[t];
        }
    }
    st->max = fmax(fmax(st->rows, st->sel), fmax(st->lse, st->lp));
    free(ref_rows); free(ref_sel); free(ref_lse); free(ref_lp); free(ref_am);
    return rc;
}

/* ---- one fixture ---- */

typedef struct fixture {
    cJSON   *meta;
    int32_t *ids;
    int      T, V;
    double   tol;
    char     dir[PATH_MAX];
} fixture;

static int fixture_open(fixture *fx, const char *name, char *why, size_t cap) {
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/arch/%s", name);
    const char *dir = t_shared(rel);
    if (!dir) { snprintf(why, cap, "shared reference %s not found (set LMC_SHARED)", rel); return 1; }
    snprintf(fx->dir, sizeof fx->dir, "%s", dir);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    fx->meta = g_read_json(path);
    snprintf(path, sizeof path, "%s/ids.json", dir);
    cJSON *ids = g_read_json(path);
    if (!fx->meta || !ids) { cJSON_Delete(ids); snprintf(why, cap, "cannot read %s meta/ids", dir); return -1; }
    fx->ids = g_ids(ids, &fx->T);
    cJSON_Delete(ids);
    fx->V = (int)cJSON_GetObjectItem(fx->meta, "vocab")->valuedouble;
    fx->tol = cJSON_GetObjectItem(cJSON_GetObjectItem(fx->meta, "tolerance"), "max_abs_logit")->valuedouble;
    return (int)cJSON_GetObjectItem(fx->meta, "T")->valuedouble == fx->T ? 0 : -1;
}

static void fixture_close(fixture *fx) { cJSON_Delete(fx->meta); free(fx->ids); }

static void print_stats(const char *name, const char *ref, const cmp_stats *st, double tol) {
    printf("  %-20s vs %-9s max|d| %.2e (rows %.2e sel %.2e lse %.2e logprob %.2e) tol %.0e, argmax %d/%d ok\n",
           name, ref, st->max, st->rows, st->sel, st->lse, st->lp, tol, st->argmax_checked - st->argmax_bad,
           st->argmax_checked);
}

/* Runs fixture `name` from `model` (NULL: its model/), compares with llama.cpp's reference (or, for fixtures
 * whose only reference is the own f64 one, with that) and with own_f64_reference/ when present. */
static void check_fixture(const char *name, const char *model) {
    fixture fx = {0};
    char why[1200] = "";
    int rc = fixture_open(&fx, name, why, sizeof why);
    if (rc > 0) { fixture_close(&fx); SKIP("%s", why); }
    if (rc < 0) { fixture_close(&fx); REQUIRE(0, "%s: %s", name, why); }
    char mdir[PATH_MAX + 16];
    if (!model) { snprintf(mdir, sizeof mdir, "%s/model", fx.dir); model = mdir; }
    int V = 0;
    float *logits = run_logits(model, fx.ids, fx.T, LMC_COMPUTE_F32, &V, why, sizeof why);
    if (!logits || V != fx.V) {
        fixture_close(&fx);
        free(logits);
        REQUIRE(0, "%s: %s", name, logits ? "vocab mismatch" : why);
    }
    cmp_stats st;
    const char *refname = strstr(cJSON_GetObjectItem(fx.meta, "reference")->valuestring, "OWN") ? "own f64" : "llama.cpp";
    rc = compare_ref(fx.dir, fx.meta, logits, fx.ids, fx.T, V, fx.tol, &st, why, sizeof why);
    if (rc == 0) {
        print_stats(name, refname, &st, fx.tol);
        CHECK(st.max <= fx.tol, "%s: max |d| %.3e vs %s > tolerance %.0e", name, st.max, refname, fx.tol);
        CHECK(st.argmax_bad == 0, "%s: %d argmax mismatches vs %s", name, st.argmax_bad, refname);
    } else CHECK(0, "%s: %s", name, why);
    char own[PATH_MAX + 32];
    snprintf(own, sizeof own, "%s/own_f64_reference", fx.dir);
    if (rc == 0 && access(own, F_OK) == 0) {
        const double own_tol = 1e-3; /* fixtures/arch/README.md: own_f64_reference at 1e-3 */
        rc = compare_ref(own, fx.meta, logits, fx.ids, fx.T, V, own_tol, &st, why, sizeof why);
        if (rc == 0) {
            print_stats(name, "own f64", &st, own_tol);
            CHECK(st.max <= own_tol, "%s: max |d| %.3e vs own f64 > %.0e", name, st.max, own_tol);
            CHECK(st.argmax_bad == 0, "%s: %d argmax mismatches vs own f64", name, st.argmax_bad);
        } else CHECK(0, "%s: %s", name, why);
    }
    free(logits);
    fixture_close(&fx);
}

static void test_qwen2(void) { check_fixture("qwen2", NULL); }
static void test_mixtral(void) { check_fixture("mixtral", NULL); }
static void test_falcon7b(void) { check_fixture("falcon7b", NULL); }
static void test_falcon40b(void) { check_fixture("falcon40b", NULL); }
static void test_qwen1(void) { check_fixture("qwen1", NULL); }
static void test_deepseek_v2(void) { check_fixture("deepseek_v2", NULL); }
static void test_gpt2(void) { check_fixture("gpt2", NULL); }
static void test_gptneox(void) { check_fixture("gptneox", NULL); }

/* deepseek_v2_grouped: its model/ has only config.json; the weights are deepseek_v2's. */
static void test_deepseek_v2_grouped(void) {
    SHARED_OR_SKIP(cfg, "fixtures/arch/deepseek_v2_grouped/model/config.json");
    SHARED_OR_SKIP(weights, "fixtures/arch/deepseek_v2/model/model.safetensors");
    tmp_model tm;
    int rc = tmp_model_make(&tm, cfg, weights, NULL, NULL);
    if (rc == 0) check_fixture("deepseek_v2_grouped", tm.dir);
    tmp_model_remove(&tm);
    REQUIRE(rc == 0, "cannot make a temporary model directory");
}

/* ---- `lmc convert` round trips: the converted file gives bit-identical logits ---- */

static void roundtrip(const char *name) {
    fixture fx = {0};
    char why[1200] = "";
    int rc = fixture_open(&fx, name, why, sizeof why);
    if (rc) { fixture_close(&fx); if (rc > 0) SKIP("%s", why); REQUIRE(0, "%s", why); }
    char src[PATH_MAX + 16], out[] = "/tmp/lmc_arch_rt_XXXXXX.safetensors";
    snprintf(src, sizeof src, "%s/model", fx.dir);
    int fd = mkstemps(out, 12);
    REQUIRE(fd >= 0, "mkstemps");
    close(fd);
    lmc_err e = {{0}};
    rc = lmc_convert(src, out, LMC_CONVERT_KEEP_DTYPE, NULL, &e);
    int V1 = 0, V2 = 0;
    float *a = rc ? NULL : run_logits(src, fx.ids, fx.T, LMC_COMPUTE_F32, &V1, why, sizeof why);
    float *b = a ? run_logits(out, fx.ids, fx.T, LMC_COMPUTE_F32, &V2, why, sizeof why) : NULL;
    unlink(out);
    CHECK(rc == 0, "%s: convert: %s", name, e.msg);
    CHECK(rc || (a && b), "%s: %s", name, why);
    if (a && b) {
        CHECK(V1 == V2 && memcmp(a, b, sizeof(float) * (size_t)fx.T * V1) == 0,
              "%s: converted file gives different logits", name);
        printf("  %s: converted file gives identical logits\n", name);
    }
    free(a);
    free(b);
    fixture_close(&fx);
}

static void test_convert_roundtrip(void) {
    roundtrip("deepseek_v2");
    roundtrip("gpt2");
    roundtrip("falcon40b");
    roundtrip("mixtral");
}

/* ---- the self-trained GPT-2 / NeoX models against fixtures/logits (f32: 2e-4 logit, 1e-4 logprob) ---- */

static void check_selftrained(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/logits/%s.json", name);
    SHARED_OR_SKIP(side_path, rel);
    cJSON *side = g_read_json(side_path);
    REQUIRE(side, "cannot read %s", side_path);
    snprintf(rel, sizeof rel, "models/%s", cJSON_GetObjectItem(side, "model")->valuestring);
    const char *model = t_shared(rel);
    int T, V = 0;
    int32_t *ids = g_ids(cJSON_GetObjectItem(side, "ids"), &T);
    char why[1200] = "";
    float *logits = model ? run_logits(model, ids, T, LMC_COMPUTE_F32, &V, why, sizeof why) : NULL;
    snprintf(rel, sizeof rel, "fixtures/logits/%s.logits.f32", name);
    size_t nref = 0, nlp = 0;
    float *ref = t_shared(rel) ? g_read_raw(t_shared(rel), 4, &nref) : NULL;
    snprintf(rel, sizeof rel, "fixtures/logits/%s.logprob.f32", name);
    float *reflp = t_shared(rel) ? g_read_raw(t_shared(rel), 4, &nlp) : NULL;
    const cJSON *rows = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(side, "files"), "logits"), "rows");
    int nrows = cJSON_IsArray(rows) ? cJSON_GetArraySize(rows) : T;
    double dl = 0, dp = 0;
    int bad = 0;
    if (logits && ref && reflp && nref == (size_t)nrows * V && nlp == (size_t)T - 1) {
        for (int r = 0; r < nrows; r++) {
            int pos = cJSON_IsArray(rows) ? (int)cJSON_GetArrayItem(rows, r)->valuedouble : r;
            const float *mine = logits + (size_t)pos * V, *want = ref + (size_t)r * V;
            for (int j = 0; j < V; j++) dl = fmax(dl, fabs((double)mine[j] - want[j]));
            double gap;
            int a = g_argmax(want, V, &gap);
            if (gap > 4e-4 && g_argmax(mine, V, NULL) != a) bad++;
        }
        for (int i = 0; i + 1 < T; i++) {
            const float *row = logits + (size_t)i * V;
            dp = fmax(dp, fabs(row[ids[i + 1]] - g_logsumexp(row, V) - reflp[i]));
        }
        printf("  %s: rows %d, max |dlogit| %.2e (tol 2e-4), max |dlogprob| %.2e (tol 1e-4), argmax mismatches %d\n",
               name, nrows, dl, dp, bad);
        CHECK(dl <= 2e-4 && dp <= 1e-4 && bad == 0, "%s outside tolerance: dlogit %.3e dlogprob %.3e argmax bad %d",
              name, dl, dp, bad);
    } else {
        CHECK(0, "%s: %s", name, logits ? "reference arrays missing or misshaped" : why);
    }
    free(logits); free(ref); free(reflp); free(ids);
    cJSON_Delete(side);
}

static void test_selftrained_gpt2(void) { check_selftrained("selftrained-gpt2-tiny"); }
static void test_selftrained_gptneox(void) { check_selftrained("selftrained-gptneox-tiny"); }

/* The BPC fixtures' windows: GPT-2 at W = 255 and exactly n_positions = 256 runs, 257 is an error naming the
 * limit; NeoX (RoPE) runs W = 512 beyond its 256 training positions. */
static void test_windows_and_limits(void) {
    SHARED_OR_SKIP(gpt2, "models/selftrained-gpt2-tiny");
    SHARED_OR_SKIP(neox, "models/selftrained-gptneox-tiny");
    char msg[1100];
    run_error(gpt2, 255, msg, sizeof msg);
    CHECK(msg[0] == 0, "gpt2 W=255: %s", msg);
    run_error(gpt2, 256, msg, sizeof msg);
    CHECK(msg[0] == 0, "gpt2 W=256: %s", msg);
    run_error(gpt2, 257, msg, sizeof msg);
    CHECK(msg[0] && strstr(msg, "256"), "gpt2 W=257 should fail naming the 256-position limit, got \"%s\"", msg);
    printf("  gpt2 W=257: %s\n", msg);
    run_error(neox, 512, msg, sizeof msg);
    CHECK(msg[0] == 0, "gptneox W=512: %s", msg);
}

/* ---- unsupported options are errors that name them ---- */

static void expect_config_error(const char *fixture_name, const cfg_edit *edits, const char *needle) {
    char rel[256], wrel[256];
    snprintf(rel, sizeof rel, "fixtures/arch/%s/model/config.json", fixture_name);
    snprintf(wrel, sizeof wrel, "fixtures/arch/%s/model/model.safetensors", fixture_name);
    const char *cfg = t_shared(rel), *w = t_shared(wrel);
    if (!cfg || !w) { t_cur_skipped = 1; snprintf(t_cur_msg, sizeof t_cur_msg, "%s not found", rel); return; }
    tmp_model tm;
    char msg[1100] = "";
    if (tmp_model_make(&tm, cfg, w, apply_edit, (void *)edits) == 0) run_error(tm.dir, 8, msg, sizeof msg);
    else snprintf(msg, sizeof msg, "(could not make a temporary model)");
    tmp_model_remove(&tm);
    CHECK(msg[0] && strstr(msg, needle), "%s with %s: expected an error naming \"%s\", got \"%s\"", fixture_name,
          edits[0].key, needle, msg);
    if (msg[0]) printf("  %s + %s: %s\n", fixture_name, edits[0].key, msg);
}

static void test_unsupported_options(void) {
    expect_config_error("falcon7b", (cfg_edit[]){{"alibi", 0, 1, 1, NULL}, {0}}, "alibi");
    expect_config_error("deepseek_v2", (cfg_edit[]){{"topk_method", 0, 0, 0, "noaux_tc"}, {0}}, "noaux_tc");
    expect_config_error("deepseek_v2", (cfg_edit[]){{"scoring_func", 0, 0, 0, "sigmoid"}, {0}}, "sigmoid");
    expect_config_error("gptneox", (cfg_edit[]){{"hidden_act", 0, 0, 0, "relu"}, {0}}, "relu");
    expect_config_error("gpt2", (cfg_edit[]){{"n_positions", 64, 0, 0, NULL}, {0}}, "wpe.weight");
    expect_config_error("mixtral", (cfg_edit[]){{"num_local_experts", 4, 0, 0, NULL}, {0}}, "[4, 32]");
    /* options that are implemented but need tensors these checkpoints do not have: the error names them */
    expect_config_error("falcon7b", (cfg_edit[]){{"parallel_attn", 0, 1, 0, NULL}, {0}}, "post_attention_layernorm");
    expect_config_error("falcon40b", (cfg_edit[]){{"num_ln_in_parallel_attn", 1, 0, 0, NULL}, {0}}, "input_layernorm");
    expect_config_error("falcon40b", (cfg_edit[]){{"parallel_attn", 0, 1, 0, NULL}, {0}}, "parallel_attn");
}

/* ---- Qwen-1 beyond seq_length (use_dynamic_ntk, use_logn_attn; see qwen1.c) ---- */

static float *qwen1_variant(const fixture *fx, const cfg_edit *edits, int *V, char *why, size_t cap) {
    char cfg[PATH_MAX + 32], w[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/model/config.json", fx->dir);
    snprintf(w, sizeof w, "%s/model/model.safetensors", fx->dir);
    tmp_model tm;
    float *logits = NULL;
    if (tmp_model_make(&tm, cfg, w, apply_edit, (void *)edits) == 0)
        logits = run_logits(tm.dir, fx->ids, fx->T, LMC_COMPUTE_F32, V, why, cap);
    else snprintf(why, cap, "cannot make a temporary model");
    tmp_model_remove(&tm);
    return logits;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* The fixture runs T = 129 < seq_length. With seq_length 32: dynamic NTK must equal a fixed rotary base of
 * base · α^(d/(d-2)), α = 2^ceil(log2(129/32) + 1) - 1 = 15, d = 8; and with seq_length 64, logn scaling must
 * leave positions 0..63 bit-identical and change the later ones. A window over Qwen's 32767-entry logn table
 * is an error naming it. */
static void test_qwen1_beyond_seq_length(void) {
    fixture fx = {0};
    char why[1200] = "";
    int rc = fixture_open(&fx, "qwen1", why, sizeof why);
    if (rc) { fixture_close(&fx); if (rc > 0) SKIP("%s", why); REQUIRE(0, "%s", why); }
    int T = fx.T, V = 0;
    size_t n = (size_t)T * fx.V;
    double base = 10000.0 * pow(15.0, 8.0 / 6.0);
    cfg_edit ntk[] = {{"seq_length", 32, 0, 0, NULL}, {"use_dynamic_ntk", 0, 1, 1, NULL},
                      {"use_logn_attn", 0, 1, 0, NULL}, {0}};
    cfg_edit fixed[] = {{"seq_length", 32, 0, 0, NULL}, {"use_dynamic_ntk", 0, 1, 0, NULL},
                        {"use_logn_attn", 0, 1, 0, NULL}, {"rotary_emb_base", base, 0, 0, NULL}, {0}};
    cfg_edit plain[] = {{"use_dynamic_ntk", 0, 1, 0, NULL}, {"use_logn_attn", 0, 1, 0, NULL}, {0}};
    cfg_edit logn[] = {{"seq_length", 64, 0, 0, NULL}, {"use_dynamic_ntk", 0, 1, 0, NULL},
                       {"use_logn_attn", 0, 1, 1, NULL}, {0}};
    float *a = qwen1_variant(&fx, ntk, &V, why, sizeof why);
    float *b = a ? qwen1_variant(&fx, fixed, &V, why, sizeof why) : NULL;
    float *p = b ? qwen1_variant(&fx, plain, &V, why, sizeof why) : NULL;
    float *l = p ? qwen1_variant(&fx, logn, &V, why, sizeof why) : NULL;
    if (l) {
        double ntk_vs_fixed = max_diff(a, b, n), ntk_vs_plain = max_diff(a, p, n);
        double early = max_diff(l, p, (size_t)64 * V), late = max_diff(l + (size_t)64 * V, p + (size_t)64 * V,
                                                                        n - (size_t)64 * V);
        printf("  dynamic NTK (seq_length 32, T %d): vs fixed base %.4g: %.2e, vs no NTK: %.2e\n", T, base,
               ntk_vs_fixed, ntk_vs_plain);
        printf("  logn (seq_length 64): positions < 64 max |d| %.2e, positions >= 64 max |d| %.2e\n", early, late);
        CHECK(ntk_vs_fixed == 0, "dynamic NTK differs from the equivalent fixed base by %.3e", ntk_vs_fixed);
        CHECK(ntk_vs_plain > 1e-2, "dynamic NTK had no effect (%.3e)", ntk_vs_plain);
        CHECK(early == 0, "logn scaling changed positions <= seq_length (%.3e)", early);
        CHECK(late > 1e-2, "logn scaling had no effect beyond seq_length (%.3e)", late);
    } else CHECK(0, "qwen1 variants: %s", why);
    free(a); free(b); free(p); free(l);
    char model[PATH_MAX + 16], msg[1100];
    snprintf(model, sizeof model, "%s/model", fx.dir);
    run_error(model, 32768, msg, sizeof msg);
    CHECK(msg[0] && strstr(msg, "32767") && strstr(msg, "use_logn_attn"),
          "qwen1 T=32768 should fail naming the logn table limit, got \"%s\"", msg);
    printf("  qwen1 T=32768: %s\n", msg);
    fixture_close(&fx);
}

/* GPT-NeoX with use_parallel_residual false runs the sequential block (different function, same weights). */
static void test_gptneox_sequential(void) {
    fixture fx = {0};
    char why[1200] = "";
    int rc = fixture_open(&fx, "gptneox", why, sizeof why);
    if (rc) { fixture_close(&fx); if (rc > 0) SKIP("%s", why); REQUIRE(0, "%s", why); }
    char cfg[PATH_MAX + 32], w[PATH_MAX + 32], model[PATH_MAX + 16];
    snprintf(cfg, sizeof cfg, "%s/model/config.json", fx.dir);
    snprintf(w, sizeof w, "%s/model/model.safetensors", fx.dir);
    snprintf(model, sizeof model, "%s/model", fx.dir);
    tmp_model tm;
    cfg_edit seq[] = {{"use_parallel_residual", 0, 1, 0, NULL}, {0}};
    int V = 0;
    float *a = run_logits(model, fx.ids, fx.T, LMC_COMPUTE_F32, &V, why, sizeof why), *b = NULL;
    if (a && tmp_model_make(&tm, cfg, w, apply_edit, seq) == 0)
        b = run_logits(tm.dir, fx.ids, fx.T, LMC_COMPUTE_F32, &V, why, sizeof why);
    tmp_model_remove(&tm);
    CHECK(a && b, "%s", why);
    if (a && b) {
        double d = max_diff(a, b, (size_t)fx.T * V);
        int finite = 1;
        for (size_t i = 0; i < (size_t)fx.T * V; i++) finite &= isfinite(b[i]);
        printf("  gptneox sequential residual: runs, differs from parallel by max %.2f\n", d);
        CHECK(finite && d > 1e-2, "sequential residual: finite %d, diff %.3e", finite, d);
    }
    free(a);
    free(b);
    fixture_close(&fx);
}

/* ---- the MoE result does not depend on the thread count ----
 * Routing (router_logits, softmax, top-k), gather/scatter and the per-token sums of the dispatcher have a fixed
 * order. Under bf16 compute every matmul is lmc's own gemm_bf16 (fixed order too), so 1 and 4 threads must give
 * bit-identical logits. Under f32 compute the matmuls are OpenBLAS sgemm, which is not bitwise invariant to its
 * thread count (it partitions differently), so there the two runs must only agree to rounding (1e-3 here, where
 * routed_scaling_factor 16 and random weights amplify it) -- a race or a routing change would be far larger. */
static void same_across_threads(const char *name, lmc_compute cp, double tol) {
    fixture fx = {0};
    char why[1200] = "";
    int rc = fixture_open(&fx, name, why, sizeof why);
    if (rc) { fixture_close(&fx); if (rc > 0) SKIP("%s", why); REQUIRE(0, "%s", why); }
    char model[PATH_MAX + 16];
    snprintf(model, sizeof model, "%s/model", fx.dir);
    int V = 0, saved = omp_get_max_threads();
    omp_set_num_threads(1);
    float *a = run_logits(model, fx.ids, fx.T, cp, &V, why, sizeof why);
    omp_set_num_threads(4);
    float *b = a ? run_logits(model, fx.ids, fx.T, cp, &V, why, sizeof why) : NULL;
    omp_set_num_threads(saved);
    CHECK(a && b, "%s: %s", name, why);
    if (a && b) {
        double d = 0;
        for (size_t i = 0; i < (size_t)fx.T * V; i++) d = fmax(d, fabs((double)a[i] - b[i]));
        const char *mode = cp == LMC_COMPUTE_BF16 ? "bf16" : "f32";
        printf("  %s (%s compute): 1 vs 4 threads max |d| %.2e (allowed %.0e)\n", name, mode, d, tol);
        CHECK(d <= tol, "%s (%s compute): logits differ by %.3e between 1 and 4 threads", name, mode, d);
    }
    free(a);
    free(b);
    fixture_close(&fx);
}

static void test_moe_thread_independent(void) {
    same_across_threads("mixtral", LMC_COMPUTE_BF16, 0);
    same_across_threads("deepseek_v2", LMC_COMPUTE_BF16, 0);
    same_across_threads("mixtral", LMC_COMPUTE_F32, 1e-3);
    same_across_threads("deepseek_v2", LMC_COMPUTE_F32, 1e-3);
}

int main(void) {
    RUN(test_qwen2);
    RUN(test_mixtral);
    RUN(test_falcon7b);
    RUN(test_falcon40b);
    RUN(test_qwen1);
    RUN(test_deepseek_v2);
    RUN(test_deepseek_v2_grouped);
    RUN(test_gpt2);
    RUN(test_gptneox);
    RUN(test_convert_roundtrip);
    RUN(test_selftrained_gpt2);
    RUN(test_selftrained_gptneox);
    RUN(test_windows_and_limits);
    RUN(test_unsupported_options);
    RUN(test_moe_thread_independent);
    RUN(test_qwen1_beyond_seq_length);
    RUN(test_gptneox_sequential);
    return test_summary();
}
