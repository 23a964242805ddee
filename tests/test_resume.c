/* test_resume.c — `lmc eval --checkpoint`: an evaluation killed with SIGKILL at random moments and rerun each time
 * ends with a result bit-identical to an uninterrupted run; torn records are dropped; damaged records, another
 * fingerprint and foreign files are refused. Drives the real CLI (./lmc, or $LMC) on the demo model.
 * Random delays come from a seed printed on the first line ($LMC_TEST_SEED reproduces a run). */
#include "test.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *LMC = "./lmc";

/* ---- helpers ---------------------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static pid_t spawn(char *const argv[], const char *out, const char *errp) {
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp ? errp : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o >= 0) dup2(o, 1);
        if (e >= 0) dup2(e, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Exit code, or 128 + signal. */
static int wait_rc(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(char *const argv[], const char *out, const char *errp) { return wait_rc(spawn(argv, out, errp)); }

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = 0;
    if (len) *len = got;
    return b;
}

static int spit(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* results[0].<key> of a result JSON as a string ("" when absent); nll as the exact double. */
static int result_field(const char *json_path, const char *key, char *out, size_t cap, double *num) {
    char *text = slurp(json_path, NULL);
    if (!text) return -1;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0);
    const cJSON *v = cJSON_GetObjectItem(r, key);
    int rc = v ? 0 : -1;
    if (v && out) snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
    if (v && num) *num = v->valuedouble;
    cJSON_Delete(j);
    return rc;
}

static size_t count_records(const char *ck) {
    char *t = slurp(ck, NULL);
    if (!t) return 0;
    size_t n = 0;
    for (char *p = t; (p = strstr(p, "\nw ")); p++) n++;
    free(t);
    return n;
}

/* argv of one evaluation: the first cc document, W = 32, S = 16: 1148 tokens, 70 windows. */
#define MAX_ARGS 40
typedef struct args { char *v[MAX_ARGS]; int n; } args;
static void a_push(args *a, const char *s) { a->v[a->n++] = (char *)s; a->v[a->n] = NULL; }
static args base_args(void) {
    args a = {{0}, 0};
    const char *fixed[] = {LMC, "eval", "--model", "demo-model", "--data", "demo-data/cc.jsonl", "--file-num", "1",
                           "--block-size", "32", "--stride", "16", "--quiet"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) a_push(&a, fixed[i]);
    return a;
}

static char REF_JSON[300], REF_PD[300], REF_PW[300], REF_BITS[32];
static double REF_NLL, REF_SECONDS;
static int have_ref;

static void path_in(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", t_tmp_dir(), name); }

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_reference_run(void) {
    if (!exists(LMC) || !exists("demo-model/model.safetensors") || !exists("demo-data/cc.jsonl"))
        SKIP("needs ./lmc, demo-model and demo-data (run from the repository root after make)");
    path_in(REF_JSON, sizeof REF_JSON, "ref.json");
    path_in(REF_PD, sizeof REF_PD, "ref_pd.jsonl");
    path_in(REF_PW, sizeof REF_PW, "ref_pw.jsonl");
    args a = base_args();
    a_push(&a, "--json"); a_push(&a, REF_JSON);
    a_push(&a, "--per-doc"); a_push(&a, REF_PD);
    a_push(&a, "--per-window"); a_push(&a, REF_PW);
    char err[300];
    path_in(err, sizeof err, "ref.err");
    double t0 = now_s();
    int rc = run(a.v, NULL, err);
    REF_SECONDS = now_s() - t0;
    char *e = slurp(err, NULL);
    REQUIRE(rc == 0, "reference run exit %d: %s", rc, e ? e : "");
    free(e);
    double windows = 0;
    REQUIRE(result_field(REF_JSON, "nll_bits", REF_BITS, sizeof REF_BITS, NULL) == 0, "no nll_bits");
    REQUIRE(result_field(REF_JSON, "nll", NULL, 0, &REF_NLL) == 0, "no nll");
    REQUIRE(result_field(REF_JSON, "windows", NULL, 0, &windows) == 0 && windows >= 50, "windows %g", windows);
    /* the JSON number is the exact double: its bits are nll_bits */
    uint64_t u;
    memcpy(&u, &REF_NLL, sizeof u);
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)u);
    CHECK(strcmp(hex, REF_BITS) == 0, "JSON nll %.17g has bits %s, nll_bits says %s", REF_NLL, hex, REF_BITS);
    /* the same command again: bit-identical */
    char again[300];
    path_in(again, sizeof again, "again.json");
    args b = base_args();
    a_push(&b, "--json"); a_push(&b, again);
    REQUIRE(run(b.v, NULL, NULL) == 0, "second run failed");
    char bits[32];
    result_field(again, "nll_bits", bits, sizeof bits, NULL);
    CHECK(strcmp(bits, REF_BITS) == 0, "two runs differ: %s vs %s", bits, REF_BITS);
    printf("  reference: nll %.17g (bits %s), %.0f windows, %.2f s\n", REF_NLL, REF_BITS, windows, REF_SECONDS);
    have_ref = 1;
}

/* Kill -9 at random moments, rerun each time, compare. */
static void test_kill9_resume(void) {
    if (!have_ref) SKIP("no reference run");
    char ck[300], out[300], pd[300], pw[300], err[300];
    path_in(ck, sizeof ck, "kill.ckpt");
    path_in(out, sizeof out, "kill.json");
    path_in(pd, sizeof pd, "kill_pd.jsonl");
    path_in(pw, sizeof pw, "kill_pw.jsonl");
    path_in(err, sizeof err, "kill.err");
    args a = base_args();
    a_push(&a, "--checkpoint"); a_push(&a, ck);
    a_push(&a, "--json"); a_push(&a, out);
    a_push(&a, "--per-doc"); a_push(&a, pd);
    a_push(&a, "--per-window"); a_push(&a, pw);
    int kills = 0, finished = 0;
    double scale = 1.0; /* shrinks when a run ends before its kill */
    size_t prev = 0;
    const int WANT_KILLS = 6;
    for (int attempt = 0; attempt < 40 && !finished; attempt++) {
        /* The first delays are short (startup, header creation); then anywhere in the time the remaining windows
         * take. After WANT_KILLS kills that landed (or too many attempts), let it finish. */
        double left = REF_SECONDS * (prev < 70 ? (70.0 - (double)prev) / 70.0 : 0.0);
        if (left < 0.1 * REF_SECONDS) left = 0.1 * REF_SECONDS;
        double d = attempt < 2 ? 0.002 + 0.02 * (rand() / (double)RAND_MAX)
                               : scale * left * (rand() / (double)RAND_MAX);
        int last = kills >= WANT_KILLS || attempt == 39;
        pid_t pid = spawn(a.v, NULL, err);
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
        /* A run that already ended is an unreaped zombie, which SIGKILL leaves alone: the exit status says which. */
        if (!last) kill(pid, SIGKILL);
        int rc = wait_rc(pid);
        if (!last && rc == 128 + SIGKILL) {
            kills++;
            CHECK(!exists(out), "a killed run left a result file %s", out);
            size_t n = count_records(ck);
            CHECK(n >= prev, "records went from %zu down to %zu", prev, n);
            prev = n;
            continue;
        }
        if (!last && rc == 0) {
            /* it finished before the kill (the machine is faster or less loaded than in the reference run):
             * start the whole kill sequence again from an empty checkpoint, with delays half as long */
            scale *= 0.5;
            kills = 0;
            prev = 0;
            unlink(ck); unlink(out); unlink(pd); unlink(pw);
            continue;
        }
        char *e = slurp(err, NULL);
        REQUIRE(rc == 0, "run after %d kills: exit %d: %s", kills, rc, e ? e : "");
        free(e);
        finished = 1;
    }
    REQUIRE(finished, "never finished");
    char bits[32];
    double resumed = -1;
    REQUIRE(result_field(out, "nll_bits", bits, sizeof bits, NULL) == 0, "no result");
    result_field(out, "resumed_windows", NULL, 0, &resumed);
    printf("  %d kills (last checkpoint before finishing held %zu windows), final run resumed %.0f windows\n", kills,
           prev, resumed);
    CHECK(kills >= WANT_KILLS, "only %d kills landed", kills);
    CHECK(strcmp(bits, REF_BITS) == 0, "after %d kills nll bits %s, uninterrupted %s", kills, bits, REF_BITS);
    size_t la, lb;
    char *x = slurp(pd, &la), *y = slurp(REF_PD, &lb);
    CHECK(x && y && la == lb && !memcmp(x, y, la), "per-doc log differs from the uninterrupted run's");
    free(x); free(y);
    x = slurp(pw, &la); y = slurp(REF_PW, &lb);
    CHECK(x && y && la == lb && !memcmp(x, y, la), "per-window log differs from the uninterrupted run's");
    free(x); free(y);
    /* rerunning a finished checkpoint recomputes nothing and gives the same bits */
    unlink(out);
    REQUIRE(run(a.v, NULL, NULL) == 0, "rerun of a complete checkpoint failed");
    result_field(out, "nll_bits", bits, sizeof bits, NULL);
    result_field(out, "resumed_windows", NULL, 0, &resumed);
    CHECK(strcmp(bits, REF_BITS) == 0 && resumed == 70, "complete checkpoint: bits %s resumed %.0f", bits, resumed);
}

/* A torn last line (a kill in the middle of its write) is dropped, and the window recomputed. */
static void test_torn_record(void) {
    if (!have_ref) SKIP("no reference run");
    char ck[300], out[300], err[300];
    path_in(ck, sizeof ck, "kill.ckpt"); /* the complete checkpoint of test_kill9_resume */
    path_in(out, sizeof out, "torn.json");
    path_in(err, sizeof err, "torn.err");
    size_t len;
    char *t = slurp(ck, &len);
    REQUIRE(t && len > 100, "no checkpoint from the previous test");
    /* cut the file in the middle of its last record, and also try a last line with a bad checksum */
    for (int variant = 0; variant < 2; variant++) {
        size_t cut = len - 1;
        while (cut > 0 && t[cut - 1] != '\n') cut--;
        size_t keep = variant == 0 ? cut + (len - cut) / 2 : len;
        char *v = malloc(len + 1);
        memcpy(v, t, len);
        v[len] = 0;
        if (variant == 1) v[cut + 3] = v[cut + 3] == '1' ? '2' : '1'; /* damage the k digits: bad crc */
        REQUIRE(spit(ck, v, keep) == 0, "write");
        free(v);
        args a = base_args();
        a_push(&a, "--checkpoint"); a_push(&a, ck);
        a_push(&a, "--json"); a_push(&a, out);
        int rc = run(a.v, NULL, err);
        char *e = slurp(err, NULL);
        CHECK(rc == 0, "variant %d: exit %d: %s", variant, rc, e ? e : "");
        CHECK(e && strstr(e, "torn last record"), "variant %d: no note about the torn record: %s", variant, e ? e : "");
        free(e);
        char bits[32] = "";
        double resumed = 0;
        result_field(out, "nll_bits", bits, sizeof bits, NULL);
        result_field(out, "resumed_windows", NULL, 0, &resumed);
        CHECK(strcmp(bits, REF_BITS) == 0, "variant %d: bits %s vs %s", variant, bits, REF_BITS);
        CHECK(resumed == 69, "variant %d: resumed %.0f windows, expected 69", variant, resumed);
        size_t len2;
        char *t2 = slurp(ck, &len2);
        CHECK(t2 && len2 == len && !memcmp(t2, t, len), "variant %d: repaired checkpoint differs", variant);
        free(t2);
    }
    free(t);
}

static void expect_refusal(const char *name, args *a, const char *needle, const char *ck_before, size_t ck_len,
                           const char *ck) {
    char err[300];
    path_in(err, sizeof err, "refuse.err");
    int rc = run(a->v, NULL, err);
    char *e = slurp(err, NULL);
    CHECK(rc == 1, "%s: exit %d (expected 1): %s", name, rc, e ? e : "");
    CHECK(e && strstr(e, needle), "%s: message lacks '%s': %s", name, needle, e ? e : "");
    CHECK(e && strchr(e, '\n') == e + strlen(e) - 1, "%s: not one line: %s", name, e ? e : "");
    free(e);
    size_t l2;
    char *after = slurp(ck, &l2);
    CHECK(after && l2 == ck_len && !memcmp(after, ck_before, ck_len), "%s: the refused checkpoint was modified", name);
    free(after);
}

static void test_refusals(void) {
    if (!have_ref) SKIP("no reference run");
    char ck[300];
    path_in(ck, sizeof ck, "kill.ckpt");
    size_t len;
    char *t = slurp(ck, &len);
    REQUIRE(t, "no checkpoint");
    struct { const char *name, *flag, *val, *needle; } cases[] = {
        {"other_stride", "--stride", "8", "stride (checkpoint 16, this run 8)"},
        {"other_block_size", "--block-size", "40", "block_size (checkpoint 32, this run 40)"},
        {"other_compute", "--dtype", "bf16", "compute (checkpoint f32, this run bf16)"},
        {"other_file_num", "--file-num", "2", "file_num (checkpoint 1, this run 2)"},
        {"other_data", "--data", "demo-data/python.jsonl", "data_sha256"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        args a = base_args();
        for (int j = 0; j < a.n; j++) /* replace the flag's value */
            if (!strcmp(a.v[j], cases[i].flag)) a.v[j + 1] = (char *)cases[i].val;
        if (!strcmp(cases[i].flag, "--dtype")) { a_push(&a, "--dtype"); a_push(&a, "bf16"); }
        a_push(&a, "--checkpoint"); a_push(&a, ck);
        expect_refusal(cases[i].name, &a, cases[i].needle, t, len, ck);
    }
    /* another model: the same weights converted to one file keep their config and tensors, so make a real
     * difference: the demo model with one weight byte changed */
    char mdir[300], cmd[1200];
    path_in(mdir, sizeof mdir, "model2");
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp demo-model/config.json demo-model/tokenizer.json "
                              "demo-model/tokenizer_config.json demo-model/model.safetensors %s/", mdir, mdir);
    REQUIRE(system(cmd) == 0, "copy model");
    char st[400];
    snprintf(st, sizeof st, "%s/model.safetensors", mdir);
    size_t sl;
    char *s = slurp(st, &sl);
    REQUIRE(s && sl > 1000, "read copy");
    s[sl - 2] ^= 1; /* the low mantissa bit of the last bf16 weight */
    REQUIRE(spit(st, s, sl) == 0, "write copy");
    free(s);
    args a = base_args();
    a.v[3] = mdir;
    a_push(&a, "--checkpoint"); a_push(&a, ck);
    expect_refusal("other_model", &a, "model_sha256", t, len, ck);
    /* another build of lmc (here: the same executable with a byte appended) may round differently */
    char exe[300];
    path_in(exe, sizeof exe, "lmc_other_build");
    size_t el;
    char *bin = slurp(LMC, &el);
    REQUIRE(bin, "read %s", LMC);
    bin = realloc(bin, el + 1);
    bin[el] = '\n';
    REQUIRE(spit(exe, bin, el + 1) == 0 && chmod(exe, 0755) == 0, "write %s", exe);
    free(bin);
    args ob = base_args();
    ob.v[0] = exe;
    a_push(&ob, "--checkpoint"); a_push(&ob, ck);
    expect_refusal("other_build", &ob, "lmc_build (checkpoint", t, len, ck);
    /* the thread count is not part of the fingerprint: results do not depend on it */
    char out[300];
    path_in(out, sizeof out, "threads1.json");
    args b = base_args();
    a_push(&b, "--threads"); a_push(&b, "1");
    a_push(&b, "--checkpoint"); a_push(&b, ck);
    a_push(&b, "--json"); a_push(&b, out);
    CHECK(run(b.v, NULL, NULL) == 0, "--threads 1 on the same checkpoint refused");
    char bits[32] = "";
    result_field(out, "nll_bits", bits, sizeof bits, NULL);
    CHECK(strcmp(bits, REF_BITS) == 0, "threads 1 resume: %s vs %s", bits, REF_BITS);

    /* a damaged record that is not the last line */
    char *v = malloc(len + 1);
    memcpy(v, t, len);
    v[len] = 0;
    char *mid = strstr(v, "\nw 30 ");
    REQUIRE(mid, "no record 30");
    mid[8] = mid[8] == 'a' ? 'b' : 'a'; /* inside the nll hex */
    char ck2[300];
    path_in(ck2, sizeof ck2, "damaged.ckpt");
    REQUIRE(spit(ck2, v, len) == 0, "write");
    args c = base_args();
    a_push(&c, "--checkpoint"); a_push(&c, ck2);
    expect_refusal("damaged_middle_record", &c, "damaged checkpoint record", v, len, ck2);
    free(v);
    /* a file that is not a checkpoint is never overwritten */
    const char *foreign = "important notes\nnot a checkpoint\n";
    REQUIRE(spit(ck2, foreign, strlen(foreign)) == 0, "write");
    expect_refusal("foreign_file", &c, "not an lmc checkpoint", foreign, strlen(foreign), ck2);
    free(t);
}

/* Several --data files: one checkpoint per file, FILE.{} → FILE.cc, FILE.python (docs/evaluating.md). */
static void test_multi_data(void) {
    if (!have_ref) SKIP("no reference run");
    char ck[300], ck0[310], ck1[310], out[300];
    path_in(ck, sizeof ck, "multi.ckpt");
    snprintf(ck0, sizeof ck0, "%s.cc", ck);
    snprintf(ck1, sizeof ck1, "%s.python", ck);
    path_in(out, sizeof out, "multi.json");
    char tmpl[310];
    snprintf(tmpl, sizeof tmpl, "%s.{}", ck);
    args a = base_args();
    a_push(&a, "--data"); a_push(&a, "demo-data/python.jsonl");
    a_push(&a, "--checkpoint"); a_push(&a, tmpl);
    a_push(&a, "--json"); a_push(&a, out);
    REQUIRE(run(a.v, NULL, NULL) == 0, "two --data files with --checkpoint failed");
    CHECK(exists(ck0) && exists(ck1) && !exists(ck) && !exists(tmpl), "expected %s and %s", ck0, ck1);
    char bits[32] = "";
    result_field(out, "nll_bits", bits, sizeof bits, NULL);
    CHECK(strcmp(bits, REF_BITS) == 0, "first data file: %s vs %s", bits, REF_BITS);
    /* the two checkpoints are not interchangeable */
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "mv %s %s.tmp && mv %s %s && mv %s.tmp %s", ck0, ck0, ck1, ck0, ck0, ck1);
    REQUIRE(system(cmd) == 0, "swap");
    char err[300];
    path_in(err, sizeof err, "multi.err");
    int rc = run(a.v, NULL, err);
    char *e = slurp(err, NULL);
    CHECK(rc == 1 && e && strstr(e, "data_sha256") && strstr(e, ck0), "swapped checkpoints: exit %d: %s", rc, e ? e : "");
    free(e);
}

/* Progress on stderr when it is not a terminal: one line per interval (LMC_PROGRESS_INTERVAL shortens it), then a
 * final line with the totals; the final running BPC is the result's BPC; a resumed run says how many windows it
 * took from the checkpoint; --quiet prints nothing. */
static void test_progress_lines(void) {
    if (!have_ref) SKIP("no reference run");
    char err[300], ck[300];
    path_in(err, sizeof err, "progress.err");
    path_in(ck, sizeof ck, "kill.ckpt");
    args a = base_args();
    a.v[--a.n] = NULL; /* drop --quiet */
    setenv("LMC_PROGRESS_INTERVAL", "0.05", 1);
    int rc = run(a.v, NULL, err);
    unsetenv("LMC_PROGRESS_INTERVAL");
    REQUIRE(rc == 0, "exit %d", rc);
    char *e = slurp(err, NULL);
    REQUIRE(e, "no stderr");
    int lines = 0, bad = 0;
    char last[512] = "";
    for (char *l = strtok(e, "\n"); l; l = strtok(NULL, "\n")) {
        unsigned done, total;
        double pct, rate, bpc;
        char el[32], eta[32];
        if (sscanf(l, "cc.jsonl: window %u/%u (%lf%%) %lf window-tok/s elapsed %31s ETA %31s BPC %lf", &done, &total,
                   &pct, &rate, el, eta, &bpc) != 7 || total != 70 || done > total) {
            bad++;
            printf("  unexpected progress line: %s\n", l);
        }
        lines++;
        snprintf(last, sizeof last, "%s", l);
    }
    free(e);
    CHECK(!bad, "%d malformed progress lines", bad);
    CHECK(lines >= 2, "only %d progress lines in %.2f s at a 0.05 s interval", lines, REF_SECONDS);
    double bpc_json = 0;
    result_field(REF_JSON, "bpc", NULL, 0, &bpc_json);
    char want[64];
    snprintf(want, sizeof want, "window 70/70 (100.0%%)");
    CHECK(strstr(last, want), "last line is not the final one: %s", last);
    snprintf(want, sizeof want, "BPC %.4f", bpc_json);
    CHECK(strstr(last, want), "final line lacks '%s': %s", want, last);
    /* resumed from the complete checkpoint */
    args b = base_args();
    b.v[--b.n] = NULL;
    a_push(&b, "--checkpoint"); a_push(&b, ck);
    rc = run(b.v, NULL, err);
    e = slurp(err, NULL);
    CHECK(rc == 0 && e && strstr(e, "window 70/70 (100.0%)") && strstr(e, "(70 resumed from checkpoint)"),
          "resumed progress: %s", e ? e : "");
    free(e);
    /* --quiet */
    args q = base_args();
    rc = run(q.v, NULL, err);
    e = slurp(err, NULL);
    CHECK(rc == 0 && e && !*e, "--quiet printed: %s", e ? e : "");
    free(e);
}

int main(void) {
    const char *l = getenv("LMC");
    if (l && *l) LMC = l;
    const char *seed_s = getenv("LMC_TEST_SEED");
    unsigned seed = seed_s && *seed_s ? (unsigned)strtoul(seed_s, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    printf("  seed %u (LMC_TEST_SEED reproduces the kill delays)\n", seed);
    RUN(test_reference_run);
    RUN(test_kill9_resume);
    RUN(test_torn_record);
    RUN(test_refusals);
    RUN(test_multi_data);
    RUN(test_progress_lines);
    t_tmp_cleanup();
    return test_summary();
}
