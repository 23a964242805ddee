/* test_corpus.c — corpus loading against ../shared/corpora/tricky/EXPECTED.json and the main corpora. */
#include "test.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <unistd.h>
#include <zlib.h>

static cJSON *expected(void) {
    const char *p = t_shared("corpora/tricky/EXPECTED.json");
    if (!p) return NULL;
    char *text;
    size_t len;
    lmc_err e;
    if (lmc_read_file(p, &text, &len, &e)) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static int num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return v ? (int)v->valuedouble : -1;
}

/* Files whose counts EXPECTED.json gives for a strict loader. */
static void test_tricky_counts(void) {
    cJSON *exp = expected();
    if (!exp) SKIP("shared corpora/tricky not found (set LMC_SHARED)");
    const char *ok_files[] = {"crlf_content.jsonl", "crlf_file.jsonl", "tabs_controls.jsonl", "binaryish.jsonl",
                              "long_line_1MiB.jsonl", "long_line_cjk.jsonl", "empty_docs.jsonl", "empty_file.jsonl",
                              "all_empty.jsonl", "emoji_cjk.jsonl", "emoji_cjk_ascii_escaped.jsonl",
                              "combining.jsonl", "bom_file.jsonl", "tiny_known.jsonl"};
    for (size_t i = 0; i < sizeof ok_files / sizeof ok_files[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "corpora/tricky/%s", ok_files[i]);
        const char *path = t_shared(rel);
        const cJSON *x = cJSON_GetObjectItem(exp, ok_files[i]);
        REQUIRE(path && x, "%s missing", ok_files[i]);
        lmc_corpus c;
        lmc_err e = {{0}};
        int rc = lmc_corpus_load(path, NULL, &c, &e);
        CHECK(rc == 0, "%s: %s", ok_files[i], e.msg);
        if (rc) continue;
        CHECK((int)c.n_docs == num(x, "nonempty_docs"), "%s: docs %zu vs %d", ok_files[i], c.n_docs, num(x, "nonempty_docs"));
        CHECK((int)c.records == num(x, "records"), "%s: records %zu vs %d", ok_files[i], c.records, num(x, "records"));
        if (num(x, "chars_nonempty") >= 0)
            CHECK((int)c.chars == num(x, "chars_nonempty"), "%s: chars %zu vs %d", ok_files[i], c.chars, num(x, "chars_nonempty"));
        if (num(x, "utf8_bytes_nonempty") >= 0)
            CHECK((int)c.bytes == num(x, "utf8_bytes_nonempty"), "%s: bytes %zu", ok_files[i], c.bytes);
        const cJSON *per = cJSON_GetObjectItem(x, "per_doc_chars");
        size_t d = 0;
        for (int j = 0; per && j < cJSON_GetArraySize(per); j++) {
            int want = (int)cJSON_GetArrayItem(per, j)->valuedouble;
            if (want == 0) continue;
            CHECK(d < c.n_docs && (int)c.docs[d].chars == want, "%s: doc %zu chars", ok_files[i], d);
            d++;
        }
        lmc_corpus_free(&c);
    }
    cJSON_Delete(exp);
}

static void expect_error(const char *rel, const char *needle1, const char *needle2) {
    const char *path = t_shared(rel);
    if (!path) { t_note_fail(__FILE__, __LINE__, "%s missing", rel); return; }
    lmc_corpus c;
    lmc_err e = {{0}};
    int rc = lmc_corpus_load(path, NULL, &c, &e);
    CHECK(rc == -1, "%s: expected an error", rel);
    if (rc == 0) { lmc_corpus_free(&c); return; }
    CHECK(strstr(e.msg, path) != NULL, "%s: message must name the file: %s", rel, e.msg);
    CHECK(strstr(e.msg, needle1) != NULL, "%s: message lacks '%s': %s", rel, needle1, e.msg);
    if (needle2) CHECK(strstr(e.msg, needle2) != NULL, "%s: message lacks '%s': %s", rel, needle2, e.msg);
}

static void test_tricky_errors(void) {
    if (!t_shared("corpora/tricky")) SKIP("shared corpora/tricky not found");
    expect_error("corpora/tricky/invalid_utf8.jsonl", "invalid UTF-8", ":2:"); /* line 1 is valid */
    expect_error("corpora/tricky/invalid_utf8.txt", "invalid UTF-8", "byte offset");
    expect_error("corpora/tricky/binaryish_raw.bin", "invalid UTF-8", "byte offset");
    expect_error("corpora/tricky/lone_surrogate.jsonl", "surrogate", ":1:");
    expect_error("corpora/tricky/schema_variants.jsonl", "no \"content\"", ":4:");
}

static void test_schema_variants_skip(void) {
    SHARED_OR_SKIP(path, "corpora/tricky/schema_variants.jsonl");
    lmc_corpus c;
    lmc_err e;
    lmc_corpus_opts o = {.file_num = -1, .skip_bad = 1};
    REQUIRE(lmc_corpus_load(path, &o, &c, &e) == 0, "%s", e.msg);
    /* usable: lines 1-3 and 7-9; bad: 4 (missing), 5 (null), 6 (number), 10 (not an object), 11 (truncated) */
    CHECK(c.n_docs == 6 && c.skipped == 5 && c.records == 11, "docs %zu skipped %zu records %zu", c.n_docs,
          c.skipped, c.records);
    if (c.n_docs == 6) {
        CHECK(!strcmp(c.docs[5].text, "second value"), "duplicate key: last wins, got '%s'", c.docs[5].text);
        CHECK(!strcmp(c.docs[4].text, "keys in another order"), "key order");
    }
    lmc_corpus_free(&c);
    /* the same errors, one at a time, in strict mode */
    const char *lines[] = {"{\"content\": null}", "{\"content\": 12345}", "[1, 2, 3]", "{\"content\": \"trunc",
                           "{\"content\": \"a\"} x", "{\"content\": \"raw\ttab\"}"};
    const char *want[] = {"not a string", "not a string", "not a JSON object", "unterminated", "trailing",
                          "control character"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.jsonl", i);
        const char *p = t_tmp(name);
        FILE *f = fopen(p, "w");
        fprintf(f, "{\"content\": \"ok\"}\n%s\n", lines[i]);
        fclose(f);
        lmc_err e2 = {{0}};
        int rc = lmc_corpus_load(p, NULL, &c, &e2);
        CHECK(rc == -1 && strstr(e2.msg, ":2:") && strstr(e2.msg, want[i]), "line '%s': %s", lines[i], e2.msg);
        if (rc == 0) lmc_corpus_free(&c);
        unlink(p);
    }
}

static void test_gzip_and_file_num(void) {
    SHARED_OR_SKIP(cc, "corpora/cc.jsonl");
    lmc_corpus c;
    lmc_err e;
    lmc_corpus_opts o = {.file_num = 10};
    REQUIRE(lmc_corpus_load(cc, &o, &c, &e) == 0, "%s", e.msg);
    /* fixtures/bpc TinyStories cc fn10: 10 docs, 436,140 chars and bytes */
    CHECK(c.n_docs == 10 && c.chars == 436140 && c.bytes == 436140, "fn10: %zu docs %zu chars", c.n_docs, c.chars);
    lmc_corpus_free(&c);
    REQUIRE(lmc_corpus_load(cc, NULL, &c, &e) == 0, "%s", e.msg);
    CHECK(c.n_docs == 130 && c.chars == 2333361 && c.bytes == 2338470, "cc: %zu docs %zu chars %zu bytes",
          c.n_docs, c.chars, c.bytes);
    /* the same corpus gzip-compressed */
    char *raw;
    size_t len;
    REQUIRE(lmc_read_file(cc, &raw, &len, &e) == 0, "%s", e.msg);
    const char *gz = t_tmp("cc.jsonl.gz");
    gzFile g = gzopen(gz, "wb");
    gzwrite(g, raw, (unsigned)len);
    gzclose(g);
    free(raw);
    lmc_corpus z;
    REQUIRE(lmc_corpus_load(gz, NULL, &z, &e) == 0, "%s", e.msg);
    CHECK(z.n_docs == c.n_docs && z.chars == c.chars && z.bytes == c.bytes, "gz differs");
    CHECK(z.n_docs && z.docs[0].len == c.docs[0].len && !memcmp(z.docs[0].text, c.docs[0].text, c.docs[0].len), "gz doc 0");
    lmc_corpus_free(&z);
    lmc_corpus_free(&c);
    /* a truncated gzip file is an error, not a short corpus */
    g = gzopen(gz, "wb");
    for (int i = 0; i < 2000; i++) gzprintf(g, "{\"content\": \"line %d\"}\n", i);
    gzclose(g);
    FILE *f = fopen(gz, "r+");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    REQUIRE(truncate(gz, sz / 2) == 0, "truncate");
    lmc_err e2 = {{0}};
    CHECK(lmc_corpus_load(gz, NULL, &z, &e2) == -1 && strstr(e2.msg, "gzip"), "truncated gz: %s", e2.msg);
    unlink(gz);
}

static void test_missing_file(void) {
    lmc_corpus c;
    lmc_err e = {{0}};
    CHECK(lmc_corpus_load("/nonexistent/x.jsonl", NULL, &c, &e) == -1, "missing file");
    CHECK(strstr(e.msg, "/nonexistent/x.jsonl") && strstr(e.msg, "No such file"), "%s", e.msg);
}

/* Loads text saved under a name ending in suffix with the given format: rc, the format used, the docs. */
static int load_as(const char *suffix, const char *text, lmc_format format, lmc_corpus *c, lmc_err *e) {
    char name[32];
    snprintf(name, sizeof name, "fmt%s", suffix);
    const char *path = t_tmp(name);
    t_write_file(path, text, strlen(text));
    lmc_corpus_opts o = {.file_num = -1, .format = format};
    int rc = lmc_corpus_load(path, &o, c, e);
    unlink(path);
    return rc;
}

/* JSON Lines is recognised by content, whatever the file is called; anything else stays plain text. */
static void test_format_by_content(void) {
    const char *jsonl = "\xEF\xBB\xBF\n  \n{\"content\": \"one\", \"meta\": 1}\n{\"content\": \"two\"}\n";
    const char *suffixes[] = {".txt", "", ".jsonl"};
    lmc_corpus c;
    lmc_err e = {{0}};
    for (int i = 0; i < 3; i++) {
        REQUIRE(load_as(suffixes[i], jsonl, LMC_FORMAT_AUTO, &c, &e) == 0, "'%s': %s", suffixes[i], e.msg);
        CHECK(c.format == LMC_FORMAT_JSONL && c.n_docs == 2 && c.docs[1].len == 3 && !memcmp(c.docs[1].text, "two", 3),
              "'%s': format %d, %zu docs", suffixes[i], c.format, c.n_docs);
        lmc_corpus_free(&c);
    }
    /* text that merely looks like JSON: not an object with a string content */
    const char *texts[] = {"{not json}\n{\"content\": \"x\"}\n", "{\"text\": \"a\"}\n", "{\"content\": 3}\n",
                           "Once upon a time\n", "[\"content\"]\n"};
    for (int i = 0; i < 5; i++) {
        REQUIRE(load_as(".txt", texts[i], LMC_FORMAT_AUTO, &c, &e) == 0, "text %d: %s", i, e.msg);
        CHECK(c.format == LMC_FORMAT_TEXT && c.n_docs == 1 && c.bytes == strlen(texts[i]), "text %d: format %d, %zu docs",
              i, c.format, c.n_docs);
        lmc_corpus_free(&c);
    }
    /* the override: JSONL read as text (one document, JSON syntax included), text as JSONL (an error) */
    REQUIRE(load_as(".jsonl", jsonl, LMC_FORMAT_TEXT, &c, &e) == 0, "%s", e.msg);
    CHECK(c.format == LMC_FORMAT_TEXT && c.n_docs == 1 && c.bytes == strlen(jsonl), "text override: %zu docs", c.n_docs);
    lmc_corpus_free(&c);
    CHECK(load_as(".txt", "Once upon a time\n", LMC_FORMAT_JSONL, &c, &e) == -1 && strstr(e.msg, ":1: "),
          "jsonl override on text: %s", e.msg);
    /* a .jsonl name whose content is not JSONL stays an error */
    CHECK(load_as(".jsonl", "Once upon a time\n", LMC_FORMAT_AUTO, &c, &e) == -1 && strstr(e.msg, "not a valid JSON"),
          ".jsonl text: %s", e.msg);
    CHECK(load_as(".txt", "x", (lmc_format)7, &c, &e) == -1 && strstr(e.msg, "unknown corpus format 7"), "%s", e.msg);
    lmc_format f = LMC_FORMAT_AUTO;
    CHECK(lmc_format_parse("text", &f) == 0 && f == LMC_FORMAT_TEXT && !strcmp(lmc_format_name(f), "text"), "parse");
    CHECK(lmc_format_parse("jsonl", &f) == 0 && f == LMC_FORMAT_JSONL && lmc_format_parse("xml", &f) == -1, "parse");
}

int main(void) {
    RUN(test_tricky_counts);
    RUN(test_tricky_errors);
    RUN(test_schema_variants_skip);
    RUN(test_gzip_and_file_num);
    RUN(test_missing_file);
    RUN(test_format_by_content);
    t_tmp_cleanup();
    return test_summary();
}
