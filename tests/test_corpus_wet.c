/* test_corpus_wet.c — `lmc corpus wet` (src/corpus/) on WET files the tests write: known-answer vectors for
 * normalize_for_dedup and the SHA-1 line hash; CRLF multi-member gzip as Common Crawl writes it; CCNet-style LF
 * records with wrong Content-Length; non-conversion, short, malformed and non-UTF-8 records; a truncated gzip
 * member; two-pass / keep-first / off dedup across and inside documents, per file group; the crawl-date window;
 * the manifest's counts; the same bytes at 1 and 2 threads; nothing written on failure; language id with a
 * two-label fastText model trained here (skipped without the fasttext program). */
#include "test.h"
#include "lmc_corpus.h"
#include "corpus/corpus.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- writing test inputs ----------------------------------------------------------------------------- */

typedef struct text {
    char  *p;
    size_t len, cap;
} text;

static void put(text *t, const void *s, size_t n) {
    if (t->len + n + 1 > t->cap) t->p = realloc(t->p, t->cap = 2 * (t->len + n + 1));
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
}

/* One WET record: headers (CRLF or LF), the body, two line breaks. length < 0: the true Content-Length. */
static void record(text *t, int crlf, const char *type, const char *url, const char *date, const char *body,
                   long length) {
    const char *nl = crlf ? "\r\n" : "\n";
    char h[1024];
    int n = snprintf(h, sizeof h,
                     "WARC/1.0%sWARC-Type: %s%sWARC-Target-URI: %s%sWARC-Date: %s%sWARC-Record-ID: <urn:uuid:%s>%s"
                     "WARC-Block-Digest: sha1:XYZ%sContent-Type: text/plain%sContent-Length: %ld%s%s",
                     nl, type, nl, url, nl, date, nl, url, nl, nl, nl, length < 0 ? (long)strlen(body) : length, nl, nl);
    put(t, h, (size_t)n);
    put(t, body, strlen(body));
    put(t, nl, strlen(nl));
    put(t, nl, strlen(nl));
}

/* t as one gzip member appended to out. */
static void gz_member(text *out, const text *t) {
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, (uLong)t->len) + 32;
    unsigned char *buf = malloc(cap);
    z.next_in = (Bytef *)t->p, z.avail_in = (uInt)t->len, z.next_out = buf, z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    put(out, buf, z.total_out);
    deflateEnd(&z);
    free(buf);
}

/* A body: the title line, then the lines, each followed by '\n'. */
static const char *body(const char *title, const char *const *lines) {
    static char b[8][8192];
    static int next;
    char *p = b[next++ % 8];
    int n = snprintf(p, 8192, "%s\n", title);
    for (; *lines; lines++) n += snprintf(p + n, 8192 - (size_t)n, "%s\n", *lines);
    return p;
}

#define LONG_A "alpha paragraph that is long enough to pass the length filter by itself, padded with words words words"
#define LONG_B "bravo paragraph that is long enough to pass the length filter by itself, padded with words words words"
#define LONG_C "charlie paragraph that is long enough to pass the length filter by itself, padded with words words"
#define SHARED "Shared boilerplate line, Copyright 2024"

/* The default file: a warcinfo, three conversion documents (A and B share a line; A repeats its own line), a
 * short one, written as CRLF records, one gzip member each. */
static const char *write_default(const char *name) {
    text recs[5] = {{0}}, gz = {0};
    record(&recs[0], 1, "warcinfo", "", "2024-03-01T00:00:00Z", "software: test\n", -1);
    record(&recs[1], 1, "conversion", "https://a.example/x", "2024-03-02T10:00:00Z",
           body("Title A", (const char *[]){LONG_A, SHARED, LONG_A, "  padded  ", NULL}), -1);
    record(&recs[2], 1, "conversion", "https://b.example:8080/y?q", "2024-05-02T10:00:00Z",
           body("Title B", (const char *[]){"shared boilerplate line, copyright 1999", LONG_B, NULL}), -1);
    record(&recs[3], 1, "conversion", "https://c.example/", "2024-06-02T10:00:00Z",
           body("Title C", (const char *[]){LONG_C, "Ünïcode ✓", NULL}), -1);
    record(&recs[4], 1, "conversion", "https://d.example/", "2024-06-03T10:00:00Z", "Title D\nshort\n", -1);
    for (int i = 0; i < 5; i++) gz_member(&gz, &recs[i]), free(recs[i].p);
    const char *path = t_tmp(name);
    t_write_file(path, gz.p, gz.len);
    free(gz.p);
    return path;
}

/* ---- reading the outputs ------------------------------------------------------------------------------ */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    text t = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) put(&t, buf, n);
    fclose(f);
    if (!t.p) put(&t, "", 0);
    return t.p;
}

/* The output's documents, parsed (NULL-terminated array of cJSON objects). */
static cJSON **docs_of(const char *path, int *n) {
    char *s = slurp(path);
    cJSON **d = calloc(64, sizeof *d);
    *n = 0;
    for (char *line = s ? strtok(s, "\n") : NULL; line && *n < 63; line = strtok(NULL, "\n")) d[(*n)++] = cJSON_Parse(line);
    free(s);
    return d;
}

static void docs_free(cJSON **d, int n) {
    for (int i = 0; i < n; i++) cJSON_Delete(d[i]);
    free(d);
}

static const char *str_at(const cJSON *o, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : "";
}

static double num_at(const cJSON *o, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

static cJSON *manifest_of(const char *out) {
    char m[512];
    char *s = slurp(lmc_corpus_manifest_path(out, m, sizeof m));
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    return j;
}

static int run_wet(const lmc_wet_opts *o, const char *in0, const char *in1, const char *out, lmc_err *err) {
    const char *in[2] = {in0, in1};
    lmc_corpus_summary s;
    return lmc_corpus_wet(o, in, in1 ? 2 : 1, out, &s, err);
}

/* ---- normalize_for_dedup and the hash ------------------------------------------------------------------ */

static void test_normalize_vectors(void) {
    /* expected values: CCNet's rule written out in Python 3 (strip, lower, \d → 0, the punctuation deleted) */
    static const struct { const char *in, *out; uint64_t hash; } V[] = {
        {"  Hello, World 2023！ ", "hello, world 0000", 0x28c872140b5b841eull},
        {"«Ünïcode» – ١٢٣ test…", "ünïcode  000 test", 0x873b946ff346b741ull},
        {"Tab\there\xc2\x85", "tabhere", 0xb0de6ef035e53fc0ull},
        {"１２３％ ok", "000 ok", 0x4cb74f7c9bb6f800ull},
        {"\xe3\x80\x80 A\xc2\xa0" "B\x7f\xc2\x9f" "C.!? \xe2\x80\xa8", "a\xc2\xa0" "bc.!?", 0xa726c4079f31b9f7ull},
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        size_t n;
        char *got = lmc_corpus_normalize_for_dedup(V[i].in, strlen(V[i].in), &n);
        CHECK(n == strlen(V[i].out) && !memcmp(got, V[i].out, n), "vector %zu: got '%s', want '%s'", i, got, V[i].out);
        free(got);
        uint64_t h = lmc_corpus_line_hash(V[i].in, strlen(V[i].in));
        CHECK(h == V[i].hash, "vector %zu: hash %016llx, want %016llx", i, (unsigned long long)h,
              (unsigned long long)V[i].hash);
    }
}

static void test_sha1_vectors(void) {
    /* SHA-1("abc") = a9993e36 4706816a ...; SHA-1("") = da39a3ee 5e6b4b0d ...: first 8 bytes, little-endian */
    CHECK(lmc_corpus_line_hash("abc", 3) == 0x6a810647363e99a9ull, "abc");
    CHECK(lmc_corpus_line_hash(" ABC\t", 5) == 0x6a810647363e99a9ull, "ABC normalizes to abc");
    CHECK(lmc_corpus_line_hash("", 0) == 0x0d4b6b5eeea339daull, "empty line");
    CHECK(lmc_corpus_line_hash("1999", 4) == lmc_corpus_line_hash("2024", 4), "digits are all 0");
}

/* ---- the pipeline ---------------------------------------------------------------------------------------- */

static lmc_wet_opts opts(lmc_dedup_mode mode) {
    lmc_wet_opts o;
    lmc_wet_opts_default(&o);
    o.min_len = 50;
    o.dedup = mode;
    return o;
}

static void test_crlf_multimember_two_pass(void) {
    const char *in = write_default("a.warc.wet.gz"), *out = t_tmp("two.jsonl");
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    lmc_err err = {{0}};
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    int n;
    cJSON **d = docs_of(out, &n);
    REQUIRE(n == 3, "%d documents, want A, B, C", n);
    CHECK(!strcmp(str_at(d[0], "content", NULL), LONG_A "\npadded"), "A: '%s'", str_at(d[0], "content", NULL));
    CHECK(!strcmp(str_at(d[1], "content", NULL), LONG_B), "B: '%s'", str_at(d[1], "content", NULL));
    CHECK(!strcmp(str_at(d[2], "content", NULL), LONG_C "\nÜnïcode ✓"), "C: '%s'", str_at(d[2], "content", NULL));
    CHECK(!strcmp(str_at(d[0], "subset", NULL), "cc"), "subset");
    CHECK(!strcmp(str_at(d[0], "meta", "title"), "Title A"), "title: %s", str_at(d[0], "meta", "title"));
    CHECK(!strcmp(str_at(d[1], "meta", "source_domain"), "b.example:8080"), "domain");
    CHECK(!strcmp(str_at(d[1], "meta", "date_download"), "2024-05-02T10:00:00Z"), "date");
    CHECK(!strcmp(str_at(d[1], "meta", "url"), "https://b.example:8080/y?q"), "url");
    CHECK(num_at(d[2], "meta", "record") == 3, "record index");
    docs_free(d, n);
    cJSON *m = manifest_of(out);
    REQUIRE(m, "no manifest");
    CHECK(num_at(m, "read", "records") == 5 && num_at(m, "read", "not_conversion") == 1, "records");
    CHECK(num_at(m, "read", "content_length_mismatches") == 0, "CRLF lengths are right");
    cJSON_Delete(m);
}

static void test_keep_first_and_off(void) {
    const char *in = write_default("k.warc.wet.gz"), *out = t_tmp("keep.jsonl");
    lmc_wet_opts o = opts(LMC_DEDUP_KEEP_FIRST);
    lmc_err err = {{0}};
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    int n;
    cJSON **d = docs_of(out, &n);
    REQUIRE(n == 3, "%d documents", n);
    CHECK(!strcmp(str_at(d[0], "content", NULL), LONG_A "\n" SHARED "\npadded"), "A: '%s'", str_at(d[0], "content", NULL));
    CHECK(!strcmp(str_at(d[1], "content", NULL), LONG_B), "B: '%s'", str_at(d[1], "content", NULL));
    docs_free(d, n);
    o.dedup = LMC_DEDUP_OFF;
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    d = docs_of(out, &n);
    REQUIRE(n == 3, "%d documents", n);
    CHECK(!strcmp(str_at(d[0], "content", NULL), LONG_A "\n" SHARED "\n" LONG_A "\npadded"), "A off");
    docs_free(d, n);
}

static void test_dedup_groups(void) {
    const char *a = write_default("g1.warc.wet.gz"), *b = write_default("g2.warc.wet.gz"), *out = t_tmp("g.jsonl");
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    lmc_err err = {{0}};
    int n;
    REQUIRE(run_wet(&o, a, b, out, &err) == 0, "%s", err.msg);
    cJSON **d = docs_of(out, &n);
    CHECK(n == 0, "one scope: every line is in two files, %d documents left", n);
    docs_free(d, n);
    o.dedup_group = 1;
    REQUIRE(run_wet(&o, a, b, out, &err) == 0, "%s", err.msg);
    d = docs_of(out, &n);
    CHECK(n == 6, "a scope per file: %d documents, want 3 + 3", n);
    docs_free(d, n);
}

static void test_ccnet_lf_wrong_lengths(void) {
    text t = {0};
    record(&t, 0, "conversion", "http://x.example/1", "2024-01-01T00:00:00Z",
           body("T1", (const char *[]){LONG_A, NULL}), 7); /* too short */
    record(&t, 0, "conversion", "http://x.example/2", "2024-01-01T00:00:00Z",
           body("T2", (const char *[]){LONG_B, NULL}), -1);
    record(&t, 0, "conversion", "http://x.example/3", "2024-01-01T00:00:00Z",
           body("T3", (const char *[]){LONG_C, NULL}), 999999); /* past the end */
    const char *in = t_tmp("lf.warc.wet"), *out = t_tmp("lf.jsonl");
    t_write_file(in, t.p, t.len);
    free(t.p);
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    lmc_err err = {{0}};
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    int n;
    cJSON **d = docs_of(out, &n);
    REQUIRE(n == 3, "%d documents", n);
    CHECK(!strcmp(str_at(d[0], "content", NULL), LONG_A), "1: '%s'", str_at(d[0], "content", NULL));
    CHECK(!strcmp(str_at(d[2], "content", NULL), LONG_C), "3: '%s'", str_at(d[2], "content", NULL));
    docs_free(d, n);
    cJSON *m = manifest_of(out);
    CHECK(num_at(m, "read", "content_length_mismatches") == 2, "mismatches %g", num_at(m, "read", "content_length_mismatches"));
    char *named = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "read"), "problems_named"));
    CHECK(named && strstr(named, "\"record\":0,\"problem\":\"Content-Length") && strstr(named, "\"record\":2"),
          "mismatches not named by record: %s", named);
    free(named);
    cJSON_Delete(m);
}

static void test_bad_records_counted(void) {
    text recs[3] = {{0}}, gz = {0};
    record(&recs[0], 1, "conversion", "http://u.example/", "2024-01-01T00:00:00Z",
           body("T", (const char *[]){LONG_A, "bad byte \xff here", NULL}), -1);
    const char *bad = "WARC/1.0\r\nthis is not a header\r\n\r\nbody\r\n\r\n";
    put(&recs[1], bad, strlen(bad));
    record(&recs[2], 1, "conversion", "http://v.example/", "2024-01-01T00:00:00Z",
           body("T", (const char *[]){LONG_B, NULL}), -1);
    for (int i = 0; i < 3; i++) gz_member(&gz, &recs[i]), free(recs[i].p);
    const char *in = t_tmp("bad.warc.wet.gz"), *out = t_tmp("bad.jsonl");
    t_write_file(in, gz.p, gz.len - 9); /* the last member cut short */
    free(gz.p);
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    lmc_err err = {{0}};
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    cJSON *m = manifest_of(out);
    REQUIRE(m, "no manifest");
    CHECK(num_at(m, "read", "invalid_utf8") == 1, "invalid UTF-8 %g", num_at(m, "read", "invalid_utf8"));
    CHECK(num_at(m, "read", "malformed_header") == 1, "malformed %g", num_at(m, "read", "malformed_header"));
    /* invalid UTF-8, the malformed header and its missing Content-Length, the truncated member (whose cut falls in
     * the gzip trailer: the last record's text is whole) */
    CHECK(num_at(m, "read", "problems") == 4, "problems %g", num_at(m, "read", "problems"));
    char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "read"), "problems_named"));
    CHECK(s && strstr(s, "truncated gzip member") && strstr(s, "\"record\":1,\"problem\":\"Content-Length") &&
              strstr(s, "\"record\":1,\"problem\":\"malformed"), "named: %s", s);
    free(s);
    cJSON_Delete(m);
}

static void test_crawl_window_and_counts(void) {
    const char *in = write_default("w.warc.wet.gz"), *out = t_tmp("w.jsonl");
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    o.crawl_after = "2024-04-01", o.crawl_before = "2024-06-01";
    lmc_err err = {{0}};
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    int n;
    cJSON **d = docs_of(out, &n);
    REQUIRE(n == 1, "%d documents", n);
    /* A is outside the window, so B's boilerplate line is no longer shared: dedup sees only what came through */
    CHECK(!strcmp(str_at(d[0], "content", NULL), "shared boilerplate line, copyright 1999\n" LONG_B), "B");
    docs_free(d, n);
    cJSON *m = manifest_of(out), *f = cJSON_GetObjectItem(m, "filters");
    REQUIRE(cJSON_GetArraySize(f) == 3, "filters");
    for (int i = 0; i + 1 < cJSON_GetArraySize(f); i++)
        CHECK(num_at(cJSON_GetArrayItem(f, i), "docs_out", NULL) == num_at(cJSON_GetArrayItem(f, i + 1), "docs_in", NULL) &&
                  num_at(cJSON_GetArrayItem(f, i), "chars_out", NULL) ==
                      num_at(cJSON_GetArrayItem(f, i + 1), "chars_in", NULL),
              "filter %d's output is not the next one's input", i);
    cJSON *last = cJSON_GetArrayItem(f, 2);
    CHECK(num_at(last, "docs_out", NULL) == num_at(m, "output", "documents") && num_at(m, "output", "documents") == 1,
          "final count");
    CHECK(num_at(cJSON_GetArrayItem(f, 0), "docs_in", NULL) == num_at(m, "read", "documents"), "first filter's input");
    CHECK(num_at(last, "chars_out", NULL) == num_at(m, "output", "chars"), "final chars");
    cJSON_Delete(m);
}

/* Many documents sharing lines at random (a fixed LCG), so that threads would reorder work if they could. */
static const char *write_many(const char *name) {
    text gz = {0};
    uint64_t s = 12345;
    for (int i = 0; i < 600; i++) {
        text t = {0}, b = {0};
        char line[200], url[64];
        put(&b, "Title\n", 6);
        for (int k = 0; k < 12; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            unsigned v = (unsigned)((s >> 33) % 3000); /* as letters: digits all normalize to 0 */
            int n = snprintf(line, sizeof line, "line %c%c%c of a document that is long enough to count\n",
                             'a' + v % 26, 'a' + v / 26 % 26, 'a' + v / 676);
            put(&b, line, (size_t)n);
        }
        snprintf(url, sizeof url, "http://m.example/%d", i);
        record(&t, 1, "conversion", url, "2024-01-01T00:00:00Z", b.p, -1);
        gz_member(&gz, &t);
        free(t.p), free(b.p);
    }
    const char *path = t_tmp(name);
    t_write_file(path, gz.p, gz.len);
    free(gz.p);
    return path;
}

static void test_same_bytes_any_threads(void) {
    const char *in = write_many("many.warc.wet.gz"), *o1 = t_tmp("t1.jsonl"), *o2 = t_tmp("t2.jsonl");
    for (int mode = LMC_DEDUP_TWO_PASS; mode <= LMC_DEDUP_KEEP_FIRST; mode++) {
        lmc_wet_opts o = opts((lmc_dedup_mode)mode);
        lmc_err err = {{0}};
        o.threads = 1;
        REQUIRE(run_wet(&o, in, NULL, o1, &err) == 0, "%s", err.msg);
        o.threads = 2;
        REQUIRE(run_wet(&o, in, NULL, o2, &err) == 0, "%s", err.msg);
        char *a = slurp(o1), *b = slurp(o2);
        CHECK(a && b && strlen(a) > 1000 && !strcmp(a, b), "mode %d: 1 and 2 threads differ", mode);
        free(a), free(b);
    }
}

/* Output bytes at chunk sizes that cut records everywhere (records are carried across chunks) equal one chunk's;
 * at 64 KiB the gzip file (over two chunks) is inflated ahead by a second thread. */
static void test_same_bytes_any_chunk(void) {
    const char *in = write_many("chunks.warc.wet.gz"), *o1 = t_tmp("c1.jsonl"), *o2 = t_tmp("c2.jsonl");
    size_t chunks[] = {1, 777, 5000, 65536};
    struct stat st;
    CHECK(stat(in, &st) == 0 && st.st_size > 2 * 65536, "the gzip file (%lld bytes) should span over two chunks of 64 KiB",
          (long long)st.st_size);
    for (int mode = LMC_DEDUP_TWO_PASS; mode <= LMC_DEDUP_KEEP_FIRST; mode++) {
        lmc_wet_opts o = opts((lmc_dedup_mode)mode);
        lmc_err err = {{0}};
        REQUIRE(run_wet(&o, in, NULL, o1, &err) == 0, "%s", err.msg);
        char *a = slurp(o1);
        for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
            o.chunk_bytes = chunks[k], o.threads = 2;
            REQUIRE(run_wet(&o, in, NULL, o2, &err) == 0, "%s", err.msg);
            char *b = slurp(o2);
            CHECK(a && b && strlen(a) > 1000 && !strcmp(a, b), "mode %d: chunk %zu differs", mode, chunks[k]);
            free(b);
        }
        free(a);
    }
}

/* The reader's records at any chunk size are those of one chunk: LF records with wrong lengths (resynchronised),
 * a record line inside a body that a right length jumps over, text before the first record, plain and gzip. */
static void test_reader_chunks(void) {
    text t = {0}, gz = {0};
    put(&t, "junk before\n", 12);
    const char *body_with_record_line = "Title\nWARC/1.0\nnot a record: the length covers it\n";
    for (int i = 0; i < 30; i++) {
        text one = {0};
        char url[64];
        snprintf(url, sizeof url, "http://r.example/%d", i);
        record(&one, i % 2, "conversion", url, "2024-01-01T00:00:00Z", i % 3 ? body("T", (const char *[]){LONG_A, "x", NULL})
                                                                           : body_with_record_line, i % 5 == 4 ? 7 : -1);
        put(&t, one.p, one.len);
        gz_member(&gz, &one);
        free(one.p);
    }
    for (int z = 0; z < 2; z++) {
        const text *in = z ? &gz : &t;
        wet_file whole, part;
        REQUIRE(wet_file_parse((const uint8_t *)in->p, in->len, 0, &whole) == 0, "parse");
        CHECK(whole.n == 32 && whole.length_mismatches > 0, "%s: %zu records (30 and two record lines found by resynchronising), %zu mismatches", z ? "gzip" : "plain",
              whole.n, whole.length_mismatches);
        for (size_t chunk = 1; chunk < 600; chunk += 37) {
            REQUIRE(wet_file_parse((const uint8_t *)in->p, in->len, chunk, &part) == 0, "parse");
            int same = part.n == whole.n && part.length_mismatches == whole.length_mismatches;
            for (size_t i = 0; same && i < whole.n; i++) {
                const wet_record *a = &whole.recs[i], *b = &part.recs[i];
                same = a->status == b->status && a->content.len == b->content.len && a->title.len == b->title.len &&
                       !memcmp(wet_at(&whole, a->content), wet_at(&part, b->content), a->content.len) &&
                       a->url.len == b->url.len && !memcmp(wet_at(&whole, a->url), wet_at(&part, b->url), a->url.len);
            }
            CHECK(same, "%s: chunk %zu reads other records", z ? "gzip" : "plain", chunk);
            wet_file_free(&part);
        }
        wet_file_free(&whole);
    }
    free(t.p), free(gz.p);
}

/* The line set: multiplicity across documents, lookups, claims, and its size: 8 bytes per distinct line plus
 * bits, the directory and a merge batch (fixed at 1 Mi entries until the set is 16 times that). */
static void test_line_set(void) {
    line_set s = {0};
    uint64_t x = 99;
    size_t n = 3000000;
    uint64_t *h = malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = x = x * 6364136223846793005ull + 1442695040888963407ull;
    line_set_add(&s, h, n);                    /* document 1: every hash */
    line_set_add(&s, h, n / 3);                /* document 2: the first third again */
    uint64_t zero = 0;
    line_set_add(&s, &zero, 1);
    line_set_seal(&s);
    CHECK(s.n == n + 1, "%zu distinct, want %zu", s.n, n + 1);
    size_t bad = 0;
    for (size_t i = 0; i < n; i += 7) {
        size_t g = line_set_find(&s, h[i]);
        bad += g == SIZE_MAX || s.keys[g] != h[i] || line_set_multi(&s, g) != (i < n / 3);
    }
    CHECK(bad == 0, "%zu lookups wrong", bad);
    CHECK(line_set_find(&s, 0) == 0 && line_set_find(&s, 12345) == SIZE_MAX, "0 is a key; 12345 is not");
    size_t g = line_set_find(&s, h[5]);
    CHECK(line_set_claim(&s, g) == 1 && line_set_claim(&s, g) == 0, "a claim holds");
    double per_line = (double)s.peak / (double)s.n;
    printf("line set: %zu distinct lines, peak %zu bytes (%.2f per line; 8 for the hashes)\n", s.n, s.peak, per_line);
    CHECK(s.peak <= 9 * s.n + (16u << 20), "peak %zu bytes for %zu lines", s.peak, s.n);
    CHECK(line_set_bytes(&s) <= 9 * s.n, "sealed set %zu bytes for %zu lines", line_set_bytes(&s), s.n);
    line_set_free(&s);
    free(h);
}

static void test_failure_writes_nothing(void) {
    const char *out = t_tmp("none.jsonl");
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    lmc_err err = {{0}};
    CHECK(run_wet(&o, t_tmp("missing.warc.wet.gz"), NULL, out, &err) == -1, "a missing input must fail");
    CHECK(strstr(err.msg, "missing.warc.wet.gz") != NULL, "error names the file: %s", err.msg);
    CHECK(!t_exists(out), "output written");
    char m[512];
    CHECK(!t_exists(lmc_corpus_manifest_path(out, m, sizeof m)), "manifest written");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", t_tmp_dir());
    CHECK(system(cmd) != 0, "a temporary file was left");
}

static void test_exclude_hashes(void) {
    text old = {0};
    const char *line = LONG_B "\n";
    put(&old, line, strlen(line));
    const char *old_path = t_tmp("old.txt"), *hashes = t_tmp("old.hashes"), *in = write_default("x.warc.wet.gz"),
               *out = t_tmp("x.jsonl");
    t_write_file(old_path, old.p, old.len);
    free(old.p);
    lmc_err err = {{0}};
    REQUIRE(lmc_corpus_hashes(&old_path, 1, LMC_UNIT_LINE, NULL, hashes, NULL, &err) == 0, "%s", err.msg);
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    o.exclude_hashes = hashes;
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    int n;
    cJSON **d = docs_of(out, &n);
    CHECK(n == 2, "%d documents: B's only line is in the old text", n);
    docs_free(d, n);
    cJSON *m = manifest_of(out), *f = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "filters"), 3);
    CHECK(!strcmp(str_at(f, "name", NULL), "exclude-hashes") && num_at(f, "docs_in", NULL) == 3 &&
              num_at(f, "docs_out", NULL) == 2, "exclude-hashes counts");
    cJSON_Delete(m);
    o.exclude_hashes = in; /* not a hashes file */
    CHECK(run_wet(&o, in, NULL, out, &err) == -1 && strstr(err.msg, "not an lmc hashes file"), "%s", err.msg);
}

static void test_quality_head(void) {
    static const char *const REF = "the cat sat on the mat and looked at the garden\n"
                                   "the dog sat on the rug and looked at the door\n";
    t_write_file(t_tmp("ref.txt"), REF, strlen(REF));
    text t = {0};
    record(&t, 1, "conversion", "http://q1.example/", "2024-01-01T00:00:00Z",
           body("T", (const char *[]){"zorp quax blim frotz wibble grue plugh xyzzy", NULL}), -1);
    record(&t, 1, "conversion", "http://q2.example/", "2024-01-01T00:00:00Z",
           body("T", (const char *[]){"the cat sat on the mat and looked at the door", NULL}), -1);
    record(&t, 1, "conversion", "http://q3.example/", "2024-01-01T00:00:00Z",
           body("T", (const char *[]){"the garden zorp on a quax wibble blim", NULL}), -1);
    const char *in = t_tmp("q.warc.wet"), *out = t_tmp("q.jsonl");
    t_write_file(in, t.p, t.len);
    free(t.p);
    lmc_wet_opts o = opts(LMC_DEDUP_OFF);
    o.min_len = 10, o.quality = 1, o.quality_ref = t_tmp("ref.txt");
    lmc_err err = {{0}};
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    int n;
    cJSON **d = docs_of(out, &n);
    REQUIRE(n == 1, "%d documents in the head, want 1 of 3", n);
    CHECK(!strcmp(str_at(d[0], "meta", "url"), "http://q2.example/") && !strcmp(str_at(d[0], "meta", "quality_bucket"), "head"),
          "head: %s", str_at(d[0], "meta", "url"));
    docs_free(d, n);
    cJSON *m = manifest_of(out), *f = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "filters"), 3);
    CHECK(!strcmp(str_at(f, "name", NULL), "quality") && num_at(f, "docs_in", NULL) == 3 && num_at(f, "docs_out", NULL) == 1 &&
              !strncmp(str_at(f, "params", "model"), "ngram-ref:", 10) && num_at(m, "output", "documents") == 1,
          "quality counts");
    cJSON_Delete(m);
}

/* ---- language id ----------------------------------------------------------------------------------------- */

static void test_lid_skipped_without_model(void) {
    const char *in = write_default("s.warc.wet.gz"), *out = t_tmp("s.jsonl");
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    o.lid = 1, o.lid_model = t_tmp("no-such-model.bin");
    lmc_err err = {{0}};
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    cJSON *m = manifest_of(out);
    char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "skipped"));
    CHECK(s && strstr(s, "model file not found"), "skipped: %s", s);
    free(s);
    cJSON_Delete(m);
}

static void test_lid_two_labels(void) {
    if (system("command -v fasttext >/dev/null 2>&1") != 0) SKIP("the fasttext program is not installed");
    static const char *const EN = "the cat sat on the mat and the dog ran in the park with the children";
    static const char *const DE = "die katze sass auf der matte und der hund lief im park mit den kindern";
    text train = {0};
    for (int i = 0; i < 20; i++) {
        put(&train, "__label__en ", 12), put(&train, EN, strlen(EN)), put(&train, "\n", 1);
        put(&train, "__label__de ", 12), put(&train, DE, strlen(DE)), put(&train, "\n", 1);
    }
    t_write_file(t_tmp("train.txt"), train.p, train.len);
    free(train.p);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "fasttext supervised -input %s -output %s -epoch 50 -lr 1.0 -dim 8 -minCount 1 "
             "-bucket 1000 -thread 1 -verbose 0 >/dev/null 2>&1", t_tmp("train.txt"), t_tmp("lid"));
    REQUIRE(system(cmd) == 0, "fasttext supervised failed");
    text t = {0};
    record(&t, 1, "conversion", "http://en.example/", "2024-01-01T00:00:00Z", body("T", (const char *[]){EN, NULL}), -1);
    record(&t, 1, "conversion", "http://de.example/", "2024-01-01T00:00:00Z", body("T", (const char *[]){DE, NULL}), -1);
    const char *in = t_tmp("lid.warc.wet"), *out = t_tmp("lid.jsonl");
    t_write_file(in, t.p, t.len);
    free(t.p);
    lmc_wet_opts o = opts(LMC_DEDUP_TWO_PASS);
    o.lid = 1, o.lid_model = t_tmp("lid.bin");
    lmc_err err = {{0}};
    REQUIRE(run_wet(&o, in, NULL, out, &err) == 0, "%s", err.msg);
    int n;
    cJSON **d = docs_of(out, &n);
    REQUIRE(n == 1, "%d documents, want the English one", n);
    CHECK(!strcmp(str_at(d[0], "meta", "language"), "en"), "label %s", str_at(d[0], "meta", "language"));
    CHECK(num_at(d[0], "meta", "language_score") >= 0.5, "score %g", num_at(d[0], "meta", "language_score"));
    docs_free(d, n);
    cJSON *m = manifest_of(out), *f = cJSON_GetObjectItem(m, "filters");
    cJSON *lid = cJSON_GetArrayItem(f, 3);
    CHECK(!strcmp(str_at(lid, "name", NULL), "lid") && num_at(lid, "docs_in", NULL) == 2 &&
              num_at(lid, "docs_out", NULL) == 1, "lid filter counts");
    CHECK(strlen(str_at(lid, "params", "model_sha256")) == 64, "model sha256");
    char *sk = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "skipped"));
    CHECK(sk && !strstr(sk, "\"lid\""), "lid ran but is listed as skipped: %s", sk);
    free(sk);
    cJSON_Delete(m);
}

int main(void) {
    RUN(test_normalize_vectors);
    RUN(test_sha1_vectors);
    RUN(test_crlf_multimember_two_pass);
    RUN(test_keep_first_and_off);
    RUN(test_dedup_groups);
    RUN(test_ccnet_lf_wrong_lengths);
    RUN(test_bad_records_counted);
    RUN(test_crawl_window_and_counts);
    RUN(test_same_bytes_any_threads);
    RUN(test_same_bytes_any_chunk);
    RUN(test_reader_chunks);
    RUN(test_line_set);
    RUN(test_failure_writes_nothing);
    RUN(test_exclude_hashes);
    RUN(test_quality_head);
    RUN(test_lid_skipped_without_model);
    RUN(test_lid_two_labels);
    t_tmp_cleanup();
    return test_summary();
}
