/* test_corpus_tools.c — `lmc corpus hashes / decontam / sample / stats` (src/corpus/hashes.c, sample.c) on JSON
 * Lines the tests write: the hashes file's layout and its errors, line and 13-gram overlap with meta.overlap_frac,
 * a seeded sample that does not depend on the file's order and keeps segments whole, and stats' counts, month
 * histogram and gzip -9 bits per character checked against zlib. */
#include "test.h"
#include "lmc_corpus.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <zlib.h>

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = calloc(1, (size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return p;
}

static int count_lines(const char *path) {
    char *s = slurp(path, NULL);
    int n = 0;
    for (char *p = s; p && *p; p++) n += *p == '\n';
    free(s);
    return n;
}

/* A JSON Lines file of the given contents (each with meta.i = its index, and the extra meta text). */
static const char *write_jsonl(const char *name, const char *const *contents, const char *const *metas) {
    const char *path = t_tmp(name);
    FILE *f = fopen(path, "w");
    for (int i = 0; contents[i]; i++)
        fprintf(f, "{\"content\": \"%s\", \"subset\": \"cc\", \"meta\": {\"i\": %d%s%s}}\n", contents[i], i,
                metas && metas[i] ? ", " : "", metas && metas[i] ? metas[i] : "");
    fclose(f);
    return path;
}

#define OLD1 "An old sentence that every crawl has seen many times before"
#define OLD2 "Another old line from an older year"
#define NEW1 "A new sentence written after the cutoff of every model"
#define NEW2 "More new text that nobody has trained on"

static void test_hashes_file_layout(void) {
    const char *old = write_jsonl("old.jsonl", (const char *[]){OLD1 "\\n" OLD2, OLD1, NULL}, NULL);
    const char *out = t_tmp("old.hashes");
    size_t n;
    lmc_err err = {{0}};
    REQUIRE(lmc_corpus_hashes(&old, 1, LMC_UNIT_LINE, "test", out, &n, &err) == 0, "%s", err.msg);
    CHECK(n == 2, "%zu distinct line hashes, want 2", n);
    size_t len;
    char *s = slurp(out, &len);
    REQUIRE(s && len == 24 + 16, "%zu bytes", len);
    CHECK(!memcmp(s, "LMCHASH1line\0\0\0\0", 16), "header");
    uint64_t h[2], want[2] = {lmc_corpus_line_hash(OLD1, strlen(OLD1)), lmc_corpus_line_hash(OLD2, strlen(OLD2))};
    for (int k = 0; k < 2; k++) {
        h[k] = 0;
        for (int i = 7; i >= 0; i--) h[k] = h[k] << 8 | (uint8_t)s[24 + 8 * k + i];
    }
    if (want[0] > want[1]) { uint64_t t = want[0]; want[0] = want[1]; want[1] = t; }
    CHECK(h[0] == want[0] && h[1] == want[1], "hashes not the sorted line hashes");
    free(s);
    char m[512];
    CHECK(t_exists(lmc_corpus_manifest_path(out, m, sizeof m)), "no manifest beside the hashes");
}

static void test_decontam_lines(void) {
    const char *old = write_jsonl("o2.jsonl", (const char *[]){OLD1 "\\n" OLD2, NULL}, NULL);
    const char *in = write_jsonl("new.jsonl", (const char *[]){NEW1 "\\n" NEW2, OLD1 "\\n" NEW2, OLD1 "\\n" OLD2, NULL}, NULL);
    const char *hashes = t_tmp("o2.hashes"), *out = t_tmp("dc.jsonl");
    lmc_err err = {{0}};
    REQUIRE(lmc_corpus_hashes(&old, 1, LMC_UNIT_LINE, NULL, hashes, NULL, &err) == 0, "%s", err.msg);
    for (int against_text = 0; against_text < 2; against_text++) {
        lmc_decontam_opts o = {in, against_text ? old : hashes, LMC_UNIT_LINE, 0.5, NULL};
        lmc_corpus_summary s;
        REQUIRE(lmc_corpus_decontam(&o, out, &s, &err) == 0, "%s", err.msg);
        CHECK(s.docs == 2, "%zu kept, want the new one and the half-old one (0.5 is not above 0.5)", s.docs);
        char *t = slurp(out, NULL);
        CHECK(t && strstr(t, "\"overlap_frac\":0}") && strstr(t, "\"overlap_frac\":0.5}") && !strstr(t, "\"i\":2"),
              "output: %s", t);
        free(t);
    }
    lmc_decontam_opts o = {in, hashes, LMC_UNIT_13GRAM, 0.5, NULL};
    CHECK(lmc_corpus_decontam(&o, out, NULL, &err) == -1 && strstr(err.msg, "holds line hashes"), "unit mismatch: %s",
          err.msg);
    t_write_file(t_tmp("bad.hashes"), "LMCHASH1line\0\0\0\0\x05\0\0\0\0\0\0\0abc", 27);
    o = (lmc_decontam_opts){in, t_tmp("bad.hashes"), LMC_UNIT_LINE, 0.5, NULL};
    CHECK(lmc_corpus_decontam(&o, out, NULL, &err) == -1 && strstr(err.msg, "truncated"), "damaged: %s", err.msg);
}

static void test_decontam_13grams(void) {
    const char *old = write_jsonl("g.jsonl", (const char *[]){"one two three four five six seven eight nine ten "
                                                              "eleven twelve thirteen fourteen", NULL}, NULL);
    const char *in = write_jsonl("gn.jsonl", (const char *[]){"ONE two three four five six seven eight nine ten "
                                                              "eleven twelve, thirteen", /* normalized: same gram */
                                                              "one two three four five six seven eight nine ten "
                                                              "eleven twelve other", "too short", NULL}, NULL);
    const char *out = t_tmp("gdc.jsonl");
    lmc_decontam_opts o = {in, old, LMC_UNIT_13GRAM, 0.0, NULL};
    lmc_err err = {{0}};
    lmc_corpus_summary s;
    REQUIRE(lmc_corpus_decontam(&o, out, &s, &err) == 0, "%s", err.msg);
    /* "twelve," keeps its ASCII comma: the first document's gram differs too; only word-identical grams match */
    char *t = slurp(out, NULL);
    CHECK(s.docs == 3 && strstr(t, "\"overlap_frac\":0}"), "kept %zu: %s", s.docs, t);
    free(t);
    const char *in2 = write_jsonl("gn2.jsonl", (const char *[]){"One Two Three Four Five Six Seven Eight Nine Ten "
                                                                "Eleven Twelve Thirteen", NULL}, NULL);
    o.in = in2;
    REQUIRE(lmc_corpus_decontam(&o, out, &s, &err) == 0, "%s", err.msg);
    CHECK(s.docs == 0, "the lowercased 13-gram is in the old text: %zu kept", s.docs);
}

/* ---- sample ----------------------------------------------------------------------------------------------- */

/* The sorted meta.i values of a sample's records, as a string "0,3,7,". */
static void picked(const char *path, char *out, size_t cap) {
    char *s = slurp(path, NULL);
    int taken[200] = {0};
    out[0] = 0;
    for (char *line = s ? strtok(s, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        int i = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "i")->valueint;
        if (i >= 0 && i < 200) taken[i] = 1;
        cJSON_Delete(j);
    }
    for (int i = 0; i < 200; i++)
        if (taken[i]) snprintf(out + strlen(out), cap - strlen(out), "%d,", i);
    free(s);
}

/* n documents "document number K ..." (each 40 characters), written in order or reversed; meta.i = K. */
static const char *write_numbered(const char *name, int n, int reversed, int segments) {
    const char *path = t_tmp(name);
    FILE *f = fopen(path, "w");
    for (int k = 0; k < n; k++) {
        int i = reversed ? n - 1 - k : k;
        fprintf(f, "{\"content\": \"document number %03d with forty chars....\", \"meta\": {\"i\": %d", i, i);
        if (segments) fprintf(f, ", \"repo\": \"r%d\", \"segment\": 0", i / 4);
        fprintf(f, "}}\n");
    }
    fclose(f);
    return path;
}

static void test_sample_order_free(void) {
    const char *a = write_numbered("a.jsonl", 100, 0, 0), *b = write_numbered("b.jsonl", 100, 1, 0);
    lmc_err err = {{0}};
    lmc_corpus_summary s;
    char pa[1000], pb[1000];
    lmc_sample_opts o = {a, 400, 7, 0, NULL};
    REQUIRE(lmc_corpus_sample(&o, t_tmp("sa.jsonl"), &s, &err) == 0, "%s", err.msg);
    CHECK(s.docs == 10 && s.chars == 400, "%zu documents, %zu chars: want 10 × 40 = 400", s.docs, s.chars);
    o.in = b;
    REQUIRE(lmc_corpus_sample(&o, t_tmp("sb.jsonl"), &s, &err) == 0, "%s", err.msg);
    picked(t_tmp("sa.jsonl"), pa, sizeof pa);
    picked(t_tmp("sb.jsonl"), pb, sizeof pb);
    CHECK(!strcmp(pa, pb), "reversed file, another sample: %s vs %s", pa, pb);
    o.in = a, o.seed = 8;
    REQUIRE(lmc_corpus_sample(&o, t_tmp("sc.jsonl"), &s, &err) == 0, "%s", err.msg);
    picked(t_tmp("sc.jsonl"), pb, sizeof pb);
    CHECK(strcmp(pa, pb), "another seed, the same sample");
    o.chars = 401;
    REQUIRE(lmc_corpus_sample(&o, t_tmp("sd.jsonl"), &s, &err) == 0, "%s", err.msg);
    CHECK(s.docs == 11, "401 characters need 11 documents, got %zu", s.docs);
}

static void test_sample_segments_whole(void) {
    const char *a = write_numbered("seg.jsonl", 40, 0, 1);
    lmc_err err = {{0}};
    lmc_corpus_summary s;
    lmc_sample_opts o = {a, 100, 3, 1, NULL};
    REQUIRE(lmc_corpus_sample(&o, t_tmp("ss.jsonl"), &s, &err) == 0, "%s", err.msg);
    CHECK(s.docs == 4, "%zu documents: 100 characters need one segment of 4 documents", s.docs);
    char p[1000];
    picked(t_tmp("ss.jsonl"), p, sizeof p);
    int first = atoi(p);
    char want[64];
    snprintf(want, sizeof want, "%d,%d,%d,%d,", first, first + 1, first + 2, first + 3);
    CHECK(first % 4 == 0 && !strcmp(p, want), "not one whole segment: %s", p);
    CHECK(count_lines(t_tmp("ss.jsonl")) == 4, "lines");
}

/* ---- stats ------------------------------------------------------------------------------------------------ */

static void test_stats(void) {
    const char *in = write_jsonl("st.jsonl", (const char *[]){"héllo", "world\\nagain", "x", NULL},
                                 (const char *[]){"\"date_download\": \"2024-03-05T00:00:00Z\"",
                                                  "\"created\": \"2024-01-31\"", NULL});
    lmc_corpus_stats st;
    lmc_err err = {{0}};
    REQUIRE(lmc_corpus_stats_read(in, &st, &err) == 0, "%s", err.msg);
    CHECK(st.docs == 3 && st.chars == 5 + 11 + 1 && st.bytes == 6 + 11 + 1, "%zu docs %zu chars %zu bytes", st.docs,
          st.chars, st.bytes);
    CHECK(st.n_months == 2 && !strcmp(st.months[0], "2024-01") && !strcmp(st.months[1], "2024-03") &&
              st.month_docs[0] == 1 && st.undated == 1, "histogram");
    const char joined[] = "héllo\nworld\nagain\nx";
    z_stream z = {0};
    unsigned char buf[256];
    deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)joined, z.avail_in = sizeof joined - 1, z.next_out = buf, z.avail_out = sizeof buf;
    deflate(&z, Z_FINISH);
    double want = 8.0 * (double)z.total_out / 17;
    deflateEnd(&z);
    CHECK(fabs(st.gzip_bpc - want) < 1e-9, "gzip %g, want %g", st.gzip_bpc, want);
    CHECK(st.xz_bpc > 8.0 * 32 / 17, "xz's header alone is 32 bytes: %g", st.xz_bpc);
    lmc_corpus_stats_free(&st);
}

int main(void) {
    RUN(test_hashes_file_layout);
    RUN(test_decontam_lines);
    RUN(test_decontam_13grams);
    RUN(test_sample_order_free);
    RUN(test_sample_segments_whole);
    RUN(test_stats);
    t_tmp_cleanup();
    return test_summary();
}
