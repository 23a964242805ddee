/* test_eval.c — the evaluator (src/eval/eval.c) and checkpoint module (src/eval/checkpoint.c) through the library:
 * determinism across runs and thread counts, per-document and per-window logs, the zlib baseline, the
 * checkpoint file's API (resume, torn records, damage, locking, fingerprint refusal). Uses the demo model. */
#include "test.h"
#include "eval/checkpoint.h"
#include "model/model.h"
#include "common/threads.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

static lmc_model *M;
static lmc_tokenizer *TOK;

static uint64_t bits(double d) { uint64_t u; memcpy(&u, &d, sizeof u); return u; }

static int open_demo(lmc_compute compute, lmc_model **m, lmc_tokenizer **tok) {
    lmc_err e;
    lmc_model_opts mo = {.compute = compute, .threads = 0};
    if (lmc_model_open("demo-model", &mo, m, &e)) { printf("  %s\n", e.msg); return -1; }
    if (lmc_tokenizer_open("demo-model", tok, &e)) { printf("  %s\n", e.msg); lmc_model_close(*m); return -1; }
    return 0;
}

static lmc_eval_opts small_opts(long file_num, int W, int S) {
    lmc_eval_opts o = {.block_size = W, .stride = S, .file_num = file_num};
    return o;
}

/* ---- determinism ------------------------------------------------------------------------------- */

static void test_bit_identical_runs_and_threads(void) {
    if (!M) SKIP("demo model not available (run from the repository root)");
    for (int cp = 0; cp < 2; cp++) {
        lmc_model *m = M;
        lmc_tokenizer *tok = TOK;
        if (cp == 1 && open_demo(LMC_COMPUTE_BF16, &m, &tok)) { CHECK(0, "open bf16"); return; }
        lmc_eval_opts o = small_opts(1, 32, 24); /* 1148 tokens: 47 windows */
        uint64_t ref = 0;
        int threads[] = {2, 1, 2, 3};
        for (int i = 0; i < (cp ? 3 : 4); i++) {
            double t0 = lmc_now();
            lmc_threads_init(threads[i]);
            lmc_result r;
            lmc_err e;
            REQUIRE(lmc_evaluate(m, tok, "demo-data/cc.jsonl", &o, &r, &e) == 0, "%s", e.msg);
            if (i == 0) ref = bits(r.nll);
            CHECK(bits(r.nll) == ref, "%s compute, %d threads: nll bits %016llx vs %016llx (2 threads)",
                  cp ? "bf16" : "f32", threads[i], (unsigned long long)bits(r.nll), (unsigned long long)ref);
            CHECK(r.windows == 47, "windows %zu", r.windows);
            printf("  %s compute, %d thread%s: nll %.17g (%.2f s)\n", cp ? "bf16" : "f32", threads[i],
                   threads[i] > 1 ? "s" : "", r.nll, lmc_now() - t0);
        }
        if (cp == 1) { lmc_tokenizer_free(tok); lmc_model_close(m); }
    }
    lmc_threads_init(0);
}

/* ---- per-document and per-window logs ----------------------------------------------------------- */

static cJSON **read_jsonl(const char *path, size_t *n) {
    char *text;
    size_t len;
    lmc_err e;
    *n = 0;
    if (lmc_read_file(path, &text, &len, &e)) return NULL;
    cJSON **rows = NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        rows = realloc(rows, (*n + 1) * sizeof *rows);
        rows[(*n)++] = cJSON_Parse(line);
    }
    free(text);
    return rows;
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return v ? v->valuedouble : NAN;
}

static void test_per_doc_and_per_window(void) {
    if (!M) SKIP("demo model not available");
    char pd[256], pw[256];
    snprintf(pd, sizeof pd, "%s/pd.jsonl", t_tmp_dir());
    snprintf(pw, sizeof pw, "%s/pw.jsonl", t_tmp_dir());
    lmc_eval_opts o = small_opts(4, 64, 64); /* 4 documents; windows straddle the document boundaries */
    o.per_doc = pd;
    o.per_window = pw;
    lmc_result r;
    lmc_err e;
    REQUIRE(lmc_evaluate(M, TOK, "demo-data/cc.jsonl", &o, &r, &e) == 0, "%s", e.msg);
    lmc_corpus c;
    lmc_corpus_opts co = {.file_num = 4};
    REQUIRE(lmc_corpus_load("demo-data/cc.jsonl", &co, &c, &e) == 0, "%s", e.msg);
    size_t n;
    cJSON **rows = read_jsonl(pd, &n);
    REQUIRE(rows && n == c.n_docs && n == 4, "per-doc lines %zu, docs %zu", n, c.n_docs);
    double sum = 0, tokens = 0, scored = 0;
    for (size_t d = 0; d < n; d++) {
        CHECK(jnum(rows[d], "index") == (double)d, "index");
        CHECK(jnum(rows[d], "chars") == (double)c.docs[d].chars, "doc %zu chars", d);
        CHECK(jnum(rows[d], "bytes") == (double)c.docs[d].len, "doc %zu bytes", d);
        int32_t *ids;
        size_t ni;
        REQUIRE(lmc_tokenize(TOK, c.docs[d].text, c.docs[d].len, 1, &ids, &ni, &e) == 0, "%s", e.msg);
        free(ids);
        CHECK(jnum(rows[d], "tokens") == (double)ni, "doc %zu tokens %g vs %zu", d, jnum(rows[d], "tokens"), ni);
        CHECK(jnum(rows[d], "nll") > 0 || jnum(rows[d], "scored_tokens") == 0, "doc %zu nll", d);
        sum += jnum(rows[d], "nll");
        tokens += jnum(rows[d], "tokens");
        scored += jnum(rows[d], "scored_tokens");
        cJSON_Delete(rows[d]);
    }
    free(rows);
    CHECK(tokens == (double)r.tokens, "Σ doc tokens %g vs N %zu", tokens, r.tokens);
    CHECK(scored == (double)r.scored_tokens, "Σ doc scored %g vs %zu", scored, r.scored_tokens);
    /* a different summation order: equal up to rounding, not necessarily to the bit */
    CHECK(fabs(sum - r.nll) <= 1e-12 * r.nll, "Σ doc nll %.17g vs total %.17g", sum, r.nll);
    /* the per-window values are the exact doubles, and summed in window order they are the total exactly */
    rows = read_jsonl(pw, &n);
    REQUIRE(rows && n == r.windows, "per-window lines %zu vs %zu", n, r.windows);
    double wsum = 0;
    for (size_t k = 0; k < n; k++) {
        CHECK(jnum(rows[k], "k") == (double)k, "k");
        CHECK(jnum(rows[k], "start") == (double)(k * 64), "start");
        CHECK(jnum(rows[k], "scored") == 64, "scored");
        wsum += jnum(rows[k], "nll");
        cJSON_Delete(rows[k]);
    }
    free(rows);
    CHECK(bits(wsum) == bits(r.nll), "Σ window nll %.17g vs total %.17g", wsum, r.nll);
    lmc_corpus_free(&c);
}

/* ---- corpus format ------------------------------------------------------------------------------ */

/* JSON Lines named .txt is read as JSON Lines (the same NLL as the .jsonl, bit for bit); the result says which
 * format was used, and format = TEXT reads it as one plain-text document. */
static void test_format_in_result(void) {
    if (!M) SKIP("demo model not available");
    char *raw;
    size_t len;
    lmc_err e;
    REQUIRE(lmc_read_file("demo-data/python.jsonl", &raw, &len, &e) == 0, "%s", e.msg);
    size_t cut = 0;
    for (int lines = 0; cut < len && lines < 3; cut++) lines += raw[cut] == '\n';
    char txt[] = "/tmp/lmc_eval_fmt_XXXXXX.txt";
    int fd = mkstemps(txt, 4);
    REQUIRE(fd >= 0, "mkstemps");
    int wrote = write(fd, raw, cut) == (ssize_t)cut;
    close(fd);
    free(raw);
    REQUIRE(wrote, "write %s", txt);
    lmc_eval_opts o = small_opts(3, 2048, 2048);
    lmc_result a, b, t;
    REQUIRE(lmc_evaluate(M, TOK, "demo-data/python.jsonl", &o, &a, &e) == 0, "%s", e.msg);
    o.file_num = -1;
    int rc_b = lmc_evaluate(M, TOK, txt, &o, &b, &e);
    o.format = LMC_FORMAT_TEXT;
    int rc_t = rc_b ? -1 : lmc_evaluate(M, TOK, txt, &o, &t, &e);
    unlink(txt);
    REQUIRE(rc_b == 0 && rc_t == 0, "%s", e.msg);
    CHECK(a.format == LMC_FORMAT_JSONL && b.format == LMC_FORMAT_JSONL && t.format == LMC_FORMAT_TEXT,
          "formats %d %d %d", a.format, b.format, t.format);
    CHECK(b.docs == 3 && bits(b.nll) == bits(a.nll), ".txt: %zu docs, nll %.17g vs %.17g", b.docs, b.nll, a.nll);
    CHECK(t.docs == 1 && t.bytes == cut, "as text: %zu docs, %zu bytes", t.docs, t.bytes);
    lmc_result_free(&a);
    lmc_result_free(&b);
    lmc_result_free(&t);
}

/* ---- zlib baseline ------------------------------------------------------------------------------ */

static void test_zlib_baseline(void) {
    if (!M) SKIP("demo model not available");
    lmc_eval_opts o = small_opts(3, 2048, 2048);
    lmc_result r;
    lmc_err e;
    REQUIRE(lmc_evaluate(M, TOK, "demo-data/python.jsonl", &o, &r, &e) == 0, "%s", e.msg);
    lmc_corpus c;
    lmc_corpus_opts co = {.file_num = 3};
    REQUIRE(lmc_corpus_load("demo-data/python.jsonl", &co, &c, &e) == 0, "%s", e.msg);
    lmc_buf all = {0};
    for (size_t d = 0; d < c.n_docs; d++) lmc_buf_append(&all, c.docs[d].text, c.docs[d].len);
    uLongf cap = compressBound(all.len), got = cap;
    Bytef *z = malloc(cap);
    REQUIRE(compress2(z, &got, (const Bytef *)all.p, all.len, 9) == Z_OK, "compress2");
    CHECK(r.zlib_bytes == got, "zlib bytes %zu vs one-shot compress2 %lu", r.zlib_bytes, (unsigned long)got);
    CHECK(bits(r.zlib_bpc) == bits(8.0 * (double)got / (double)c.chars), "zlib_bpc %.17g", r.zlib_bpc);
    free(z);
    lmc_buf_free(&all);
    lmc_corpus_free(&c);
}

static void test_too_short_message(void) {
    if (!M) SKIP("demo model not available");
    lmc_eval_opts o = small_opts(1, 100000, 512);
    lmc_result r;
    lmc_err e = {{0}};
    CHECK(lmc_evaluate(M, TOK, "demo-data/cc.jsonl", &o, &r, &e) == -1, "expected an error");
    CHECK(strstr(e.msg, "demo-data/cc.jsonl (1 document, 3748 characters, 3760 bytes)") && strstr(e.msg, "smaller --block-size"),
          "%s", e.msg);
}

/* ---- the checkpoint file ------------------------------------------------------------------------ */

static lmc_ckpt_fp test_fp(void) {
    lmc_ckpt_fp fp;
    memset(&fp, 0, sizeof fp);
    snprintf(fp.lmc_version, sizeof fp.lmc_version, "%s", LMC_VERSION);
    memset(fp.model_sha256, 'a', 64);
    memset(fp.tokenizer_sha256, 'b', 64);
    memset(fp.data_sha256, 'c', 64);
    memset(fp.tokens_sha256, 'd', 64);
    snprintf(fp.compute, sizeof fp.compute, "f32");
    fp.file_num = -1;
    fp.block_size = 8;
    fp.stride = 4;
    fp.docs = 3;
    fp.tokens = 100;
    fp.windows = 10;
    snprintf(fp.model_path, sizeof fp.model_path, "models/x");
    snprintf(fp.data_path, sizeof fp.data_path, "data\nwith newline.jsonl");
    return fp;
}

static size_t file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

static void test_checkpoint_api(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/api.ckpt", t_tmp_dir());
    lmc_ckpt_fp fp = test_fp();
    lmc_ckpt *c;
    lmc_err e = {{0}};
    REQUIRE(lmc_ckpt_open(path, &fp, &c, &e) == 0, "create: %s", e.msg);
    CHECK(lmc_ckpt_done(c) == 0, "new checkpoint has records");
    /* a second open while the first holds it: refused */
    lmc_ckpt *c2;
    lmc_err e2 = {{0}};
    CHECK(lmc_ckpt_open(path, &fp, &c2, &e2) == -1 && strstr(e2.msg, "in use"), "second open: %s", e2.msg);
    double vals[3] = {1.0 / 3.0, 2.5e-300, 12345.678901234567};
    lmc_ckpt_part parts[2] = {{0, 0.1 + 0.2}, {2, vals[2] - (0.1 + 0.2)}};
    REQUIRE(lmc_ckpt_append(c, 0, vals[0], parts, 1, &e) == 0, "%s", e.msg);
    REQUIRE(lmc_ckpt_append(c, 7, vals[1], parts + 1, 1, &e) == 0, "%s", e.msg);
    REQUIRE(lmc_ckpt_append(c, 3, vals[2], parts, 2, &e) == 0, "%s", e.msg);
    CHECK(lmc_ckpt_append(c, 3, vals[2], parts, 2, &e) == -1, "appending window 3 twice accepted");
    CHECK(lmc_ckpt_append(c, 10, vals[2], parts, 2, &e) == -1, "window 10 of 10 accepted");
    CHECK(lmc_ckpt_append(c, 5, NAN, parts, 2, &e) == -1, "NaN accepted");
    REQUIRE(lmc_ckpt_close(c, &e) == 0, "%s", e.msg);

    REQUIRE(lmc_ckpt_open(path, &fp, &c, &e) == 0, "reopen: %s", e.msg);
    CHECK(lmc_ckpt_done(c) == 3 && lmc_ckpt_torn(c) == 0, "done %zu torn %zu", lmc_ckpt_done(c), lmc_ckpt_torn(c));
    double v;
    const lmc_ckpt_part *p;
    size_t np;
    CHECK(lmc_ckpt_get(c, 3, &v, &p, &np) == 1 && bits(v) == bits(vals[2]) && np == 2 && p[1].doc == 2 &&
              bits(p[1].nll) == bits(parts[1].nll) && bits(p[0].nll) == bits(parts[0].nll), "window 3 read back");
    CHECK(lmc_ckpt_get(c, 7, &v, &p, &np) == 1 && bits(v) == bits(vals[1]), "denormal-ish value read back");
    CHECK(lmc_ckpt_get(c, 1, &v, &p, &np) == 0, "window 1 is not recorded");
    lmc_ckpt_close(c, NULL);

    /* every cut inside the last record is a torn record: dropped, and the file repaired to its good prefix */
    char *orig;
    size_t olen;
    REQUIRE(lmc_read_file(path, &orig, &olen, &e) == 0, "%s", e.msg);
    size_t last = olen - 1;
    while (last > 0 && orig[last - 1] != '\n') last--;
    for (size_t cut = last + 1; cut < olen; cut += 7) {
        REQUIRE(truncate(path, (off_t)cut) == 0, "truncate");
        REQUIRE(lmc_ckpt_open(path, &fp, &c, &e) == 0, "cut at %zu: %s", cut, e.msg);
        CHECK(lmc_ckpt_done(c) == 2 && lmc_ckpt_torn(c) == 1, "cut %zu: done %zu torn %zu", cut, lmc_ckpt_done(c),
              lmc_ckpt_torn(c));
        lmc_ckpt_close(c, NULL);
        CHECK(file_size(path) == last, "cut %zu: file is %zu bytes, expected %zu", cut, file_size(path), last);
        FILE *f = fopen(path, "wb");
        fwrite(orig, 1, olen, f);
        fclose(f);
    }
    /* a flipped byte in a record before the last: refused, file untouched */
    char *bad = malloc(olen + 1);
    memcpy(bad, orig, olen);
    bad[olen] = 0;
    char *rec = strstr(bad, "\nw 0 ");
    REQUIRE(rec, "record 0");
    rec[7] ^= 1;
    FILE *f = fopen(path, "wb");
    fwrite(bad, 1, olen, f);
    fclose(f);
    CHECK(lmc_ckpt_open(path, &fp, &c, &e) == -1 && strstr(e.msg, "damaged"), "damaged middle record: %s", e.msg);
    CHECK(file_size(path) == olen, "damaged file was changed");
    free(bad);
    f = fopen(path, "wb");
    fwrite(orig, 1, olen, f);
    fclose(f);

    /* another fingerprint: refused, naming every differing field, file untouched */
    lmc_ckpt_fp other = fp;
    other.stride = 5;
    other.data_sha256[0] = 'f';
    snprintf(other.data_path, sizeof other.data_path, "elsewhere.jsonl"); /* informational: not compared */
    CHECK(lmc_ckpt_open(path, &other, &c, &e) == -1, "other fingerprint accepted");
    CHECK(strstr(e.msg, "fields differ") && strstr(e.msg, "stride (checkpoint 4, this run 5)") &&
              strstr(e.msg, "data_sha256 (checkpoint cccccccccccc..., this run fccccccccccc...") &&
              strstr(e.msg, "checkpoint made for data?with newline.jsonl") && !strstr(e.msg, "data_path"),
          "%s", e.msg);
    CHECK(file_size(path) == olen, "refused checkpoint was changed");
    other = fp;
    snprintf(other.model_path, sizeof other.model_path, "moved/model"); /* moving files is fine */
    CHECK(lmc_ckpt_open(path, &other, &c, &e) == 0, "moved model refused: %s", e.msg);
    lmc_ckpt_close(c, NULL);
    free(orig);

    /* not a checkpoint: refused and left alone; a header cut short while being created: rewritten */
    const char *foreign = "{\"results\": []}\n";
    f = fopen(path, "wb");
    fputs(foreign, f);
    fclose(f);
    CHECK(lmc_ckpt_open(path, &fp, &c, &e) == -1 && strstr(e.msg, "not an lmc checkpoint"), "foreign: %s", e.msg);
    CHECK(file_size(path) == strlen(foreign), "foreign file changed");
    f = fopen(path, "wb");
    fputs("lmc-checkpoint 1\nlmc_version 0.", f);
    fclose(f);
    REQUIRE(lmc_ckpt_open(path, &fp, &c, &e) == 0, "torn header: %s", e.msg);
    CHECK(lmc_ckpt_done(c) == 0, "torn header gave records");
    lmc_ckpt_close(c, NULL);
    f = fopen(path, "wb");
    fputs("lmc-checkp", f);
    fclose(f);
    REQUIRE(lmc_ckpt_open(path, &fp, &c, &e) == 0, "torn magic: %s", e.msg);
    lmc_ckpt_close(c, NULL);
    unlink(path);
}

/* ---- model identity ------------------------------------------------------------------------------ */

static void test_model_sha256(void) {
    if (!M) SKIP("demo model not available");
    char a[65], b[65];
    lmc_model_sha256(M, a);
    lmc_model *m2;
    lmc_tokenizer *t2;
    REQUIRE(open_demo(LMC_COMPUTE_F32, &m2, &t2) == 0, "reopen");
    lmc_model_sha256(m2, b);
    CHECK(strlen(a) == 64 && strcmp(a, b) == 0, "model sha differs between opens: %s %s", a, b);
    lmc_err e = {{0}};
    CHECK(lmc_model_check_finite(m2, &e) == 0, "demo model has non-finite weights? %s", e.msg);
    lmc_tokenizer_free(t2);
    lmc_model_close(m2);
}

/* A gzip stream whose deflate data is damaged: an error naming the file and zlib's reason (the message used to be
 * read after gzclose freed it: found by fuzz_jsonl, fixed in util.c). */
static void test_corrupt_gzip_message(void) {
    unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x4a, 0xce, 0xcf,
                          0x2b, 0x49, 0xcd, 0x2b, 0x51, 0xb2, 0xa7, 0x00, 0x32, 0x73, 0x0b, 0x8a, 0x52, 0x8b, 0x8b,
                          0x53, 0x53, 0x94, 0x6a, 0xb9, 0xaa, 0x91, 0x65, 0x4a, 0xca, 0xf3, 0x81, 0x42, 0x00, 0xc2,
                          0xe2, 0x49, 0x83, 0x2d, 0x00, 0x00, 0x00};
    char p[256];
    snprintf(p, sizeof p, "%s/bad.jsonl.gz", t_tmp_dir());
    FILE *f = fopen(p, "wb");
    fwrite(gz, 1, sizeof gz, f);
    fclose(f);
    lmc_corpus c;
    lmc_err e = {{0}};
    int rc = lmc_corpus_load(p, NULL, &c, &e);
    if (rc == 0) lmc_corpus_free(&c);
    CHECK(rc == -1 && strstr(e.msg, p) && strstr(e.msg, "gzip"), "corrupt gzip: rc %d: %s", rc, e.msg);
    unlink(p);
}

int main(void) {
    if (lmc_file_exists("demo-model/model.safetensors") && open_demo(LMC_COMPUTE_F32, &M, &TOK)) M = NULL;
    RUN(test_bit_identical_runs_and_threads);
    RUN(test_per_doc_and_per_window);
    RUN(test_zlib_baseline);
    RUN(test_format_in_result);
    RUN(test_too_short_message);
    RUN(test_checkpoint_api);
    RUN(test_model_sha256);
    RUN(test_corrupt_gzip_message);
    if (M) { lmc_tokenizer_free(TOK); lmc_model_close(M); }
    t_tmp_cleanup();
    return test_summary();
}
