/* test_corpus_arxiv.c — `lmc corpus arxiv` (src/corpus/arxiv.c) on an arXiv-like source tar the test builds: a
 * gzipped tar with main.tex that \input's a section, a gzipped single .tex, a gzipped tar of two .tex of which
 * one has a \title, a .pdf, a member that is neither tar nor TeX, a Latin-1 paper, and metadata with math.CO,
 * math-ph and "cs.LG math.OC"; the date window; pandoc run in the paper's directory (skipped when pandoc is not
 * installed); a pandoc that hangs (killed after the timeout) or fails (counted, the rest kept). */
#include "test.h"
#include "lmc_corpus.h"

#include <cjson/cJSON.h>

static const char *tar_path, *meta_path;

static const char *const META =
    "{\"id\": \"2301.00001\", \"categories\": \"math.CO\", \"title\": \"One\", \"authors\": \"A\", \"versions\": [{\"version\": \"v1\", \"created\": \"Mon, 2 Jan 2023 10:00:00 GMT\"}]}\n"
    "{\"id\": \"2301.00002\", \"categories\": \"math.AG math.CO\", \"title\": \"Two\", \"versions\": [{\"created\": \"Tue, 3 Jan 2023 10:00:00 GMT\"}]}\n"
    "{\"id\": \"2301.00003\", \"categories\": \"math.NT\", \"title\": \"Three\", \"versions\": [{\"created\": \"Tue, 3 Jan 2023 10:00:00 GMT\"}]}\n"
    "{\"id\": \"2301.00004\", \"categories\": \"math.NT\", \"title\": \"Pdf\", \"versions\": [{\"created\": \"Tue, 3 Jan 2023 10:00:00 GMT\"}]}\n"
    "{\"id\": \"2301.00005\", \"categories\": \"math-ph\", \"title\": \"Phys\", \"versions\": [{\"created\": \"Tue, 3 Jan 2023 10:00:00 GMT\"}]}\n"
    "{\"id\": \"2301.00006\", \"categories\": \"cs.LG math.OC\", \"title\": \"ML\", \"versions\": [{\"created\": \"Tue, 3 Jan 2023 10:00:00 GMT\"}]}\n"
    "{\"id\": \"2301.00007\", \"categories\": \"math.GT\", \"title\": \"Binary\", \"versions\": [{\"created\": \"Tue, 3 Jan 2023 10:00:00 GMT\"}]}\n"
    "{\"id\": \"2301.00008\", \"categories\": \"math.AG\", \"title\": \"Latin\", \"versions\": [{\"created\": \"Wed, 4 Jan 2023 10:00:00 GMT\"}]}\n"
    "not json\n";

/* The fixture: arXiv_src_2301_001.tar and the metadata, made with tar and gzip. */
static int build_fixture(void) {
    const char *d = t_tmp_dir();
    char cmd[4000];
    snprintf(cmd, sizeof cmd,
             "set -e; cd %s; mkdir -p p1 p3 2301 ; "
             "printf '\\\\documentclass{article}\\n\\\\title{One}\\n\\\\begin{document}\\n\\\\maketitle\\nIntro words.\\n"
             "\\\\input{sec}\\n\\\\end{document}\\n' > p1/main.tex; "
             "printf '\\\\section{Result}\\nThe section text from sec.tex.\\n' > p1/sec.tex; "
             "tar -C p1 -cf p1.tar main.tex sec.tex; gzip -c p1.tar > 2301/2301.00001.gz; "
             "printf '\\\\documentclass{article}\\n\\\\begin{document}\\nA single file.\\n\\\\end{document}\\n' | gzip -c > 2301/2301.00002.gz; "
             "printf 'Helper text without a title.\\n\\\\section{Aux}\\n' > p3/a.tex; "
             "printf '\\\\documentclass{article}\\n\\\\title{Three}\\n\\\\begin{document}\\nThird.\\n\\\\end{document}\\n' > p3/b.tex; "
             "tar -C p3 -cf p3.tar a.tex b.tex; gzip -c p3.tar > 2301/2301.00003.gz; "
             "printf '%%%%PDF-1.4 not a real pdf' > 2301/2301.00004.pdf; "
             "printf '\\\\documentclass{article}\\n\\\\begin{document}\\nPhysics.\\n\\\\end{document}\\n' | gzip -c > 2301/2301.00005.gz; "
             "printf '\\\\documentclass{article}\\n\\\\begin{document}\\nML.\\n\\\\end{document}\\n' | gzip -c > 2301/2301.00006.gz; "
             "head -c 300 /dev/urandom | tr -d '\\\\' | gzip -c > 2301/2301.00007.gz; "
             "printf '\\\\documentclass{article}\\n\\\\begin{document}\\nCaf\\351 na\\357ve.\\n\\\\end{document}\\n' | gzip -c > 2301/2301.00008.gz; "
             "tar -cf arXiv_src_2301_001.tar 2301",
             d);
    if (system(cmd) != 0) return -1;
    static char tp[600], mp[600];
    snprintf(tp, sizeof tp, "%s/arXiv_src_2301_001.tar", d);
    snprintf(mp, sizeof mp, "%s/meta.jsonl", d);
    t_write_file(mp, META, strlen(META));
    tar_path = tp, meta_path = mp;
    return 0;
}

/* The output's records, by id: content and meta.filename / meta.encoding of `id`. */
static int find_doc(const char *out, const char *id, char *content, size_t cap, char *filename, char *encoding) {
    FILE *f = fopen(out, "r");
    char *line = malloc(1 << 20);
    int found = 0;
    while (f && !found && fgets(line, 1 << 20, f)) {
        cJSON *j = cJSON_Parse(line), *m = cJSON_GetObjectItem(j, "meta");
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "id")) ?: "", id)) {
            found = 1;
            snprintf(content, cap, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(j, "content")) ?: "");
            snprintf(filename, 64, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(m, "filename")) ?: "");
            snprintf(encoding, 16, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(m, "encoding")) ?: "");
        }
        cJSON_Delete(j);
    }
    if (f) fclose(f);
    free(line);
    return found;
}

static char *manifest_text(const char *out) {
    char m[600];
    FILE *f = fopen(lmc_corpus_manifest_path(out, m, sizeof m), "r");
    char *s = calloc(1, 1 << 16);
    if (f) { if (fread(s, 1, (1 << 16) - 1, f) == 0) s[0] = 0; fclose(f); }
    return s;
}

static lmc_arxiv_opts opts(int latex) {
    lmc_arxiv_opts o;
    lmc_arxiv_opts_default(&o);
    o.meta = meta_path, o.latex = latex;
    return o;
}

static void test_latex_selection(void) {
    REQUIRE(tar_path, "fixture not built");
    lmc_arxiv_opts o = opts(1);
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    const char *out = t_tmp("ax.jsonl");
    REQUIRE(lmc_corpus_arxiv(&o, &tar_path, 1, out, &s, &err) == 0, "%s", err.msg);
    CHECK(s.docs == 4, "%zu papers, want 00001, 00002, 00003, 00008", s.docs);
    char c[4096], fn[64], enc[16];
    CHECK(find_doc(out, "2301.00001", c, sizeof c, fn, enc) && !strcmp(fn, "main.tex") && strstr(c, "\\input{sec}"),
          "00001: %s / %s", fn, c);
    CHECK(find_doc(out, "2301.00002", c, sizeof c, fn, enc) && !strcmp(fn, "2301.00002.tex"), "00002: %s", fn);
    CHECK(find_doc(out, "2301.00003", c, sizeof c, fn, enc) && !strcmp(fn, "b.tex"), "00003 main: %s", fn);
    CHECK(find_doc(out, "2301.00008", c, sizeof c, fn, enc) && !strcmp(enc, "latin-1") && strstr(c, "Café naïve"),
          "00008: %s %s", enc, c);
    CHECK(!find_doc(out, "2301.00005", c, sizeof c, fn, enc) && !find_doc(out, "2301.00006", c, sizeof c, fn, enc),
          "math-ph or cs.LG kept");
    char *m = manifest_text(out);
    CHECK(strstr(m, "\"pdf_skipped\": 1") && strstr(m, "\"metadata_bad\": 1") && strstr(m, "2301.00007.gz") &&
              strstr(m, "neither a tar nor a TeX file"), "manifest: %s", m);
    free(m);
    o.submitted_after = "2023-01-03", o.submitted_before = "2023-01-04";
    REQUIRE(lmc_corpus_arxiv(&o, &tar_path, 1, out, &s, &err) == 0, "%s", err.msg);
    CHECK(s.docs == 2, "window: %zu papers, want 00002 and 00003", s.docs);
}

/* A stand-in pandoc: a shell script with the given body. */
static const char *fake_pandoc(const char *name, const char *body) {
    const char *p = t_tmp(name);
    t_write_file(p, body, strlen(body));
    chmod(p, 0755);
    return p;
}

static void test_pandoc_hangs_or_fails(void) {
    REQUIRE(tar_path, "fixture not built");
    lmc_arxiv_opts o = opts(0);
    o.pandoc = fake_pandoc("hang.sh", "#!/bin/sh\nsleep 20\n");
    o.pandoc_timeout = 0.3;
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    const char *out = t_tmp("hang.jsonl");
    REQUIRE(lmc_corpus_arxiv(&o, &tar_path, 1, out, &s, &err) == 0, "%s", err.msg);
    char *m = manifest_text(out);
    CHECK(s.docs == 0 && strstr(m, "ran past"), "hanging pandoc: %zu docs, %s", s.docs, m);
    free(m);
    o.pandoc = fake_pandoc("fail.sh", "#!/bin/sh\nexit 3\n");
    REQUIRE(lmc_corpus_arxiv(&o, &tar_path, 1, out, &s, &err) == 0, "%s", err.msg);
    m = manifest_text(out);
    CHECK(s.docs == 0 && strstr(m, "pandoc failed (exit status 3)"), "failing pandoc: %s", m);
    free(m);
    o.pandoc = t_tmp("no-such-pandoc");
    CHECK(lmc_corpus_arxiv(&o, &tar_path, 1, out, &s, &err) == -1 && strstr(err.msg, "program not found"), "%s", err.msg);
}

static void test_pandoc_markdown(void) {
    if (system("command -v pandoc >/dev/null 2>&1") != 0) SKIP("pandoc is not installed (Debian package pandoc)");
    REQUIRE(tar_path, "fixture not built");
    lmc_arxiv_opts o = opts(0);
    lmc_corpus_summary s;
    lmc_err err = {{0}};
    const char *out = t_tmp("md.jsonl");
    REQUIRE(lmc_corpus_arxiv(&o, &tar_path, 1, out, &s, &err) == 0, "%s", err.msg);
    char c[4096], fn[64], enc[16];
    CHECK(find_doc(out, "2301.00001", c, sizeof c, fn, enc) && strstr(c, "The section text from sec.tex") &&
              !strstr(c, "\\input") && !strstr(c, ":::"), "00001 as markdown: %s", c);
    CHECK(s.docs == 4, "%zu papers", s.docs);
}

int main(void) {
    if (build_fixture()) fprintf(stderr, "could not build the fixture (tar, gzip)\n");
    RUN(test_latex_selection);
    RUN(test_pandoc_hangs_or_fails);
    RUN(test_pandoc_markdown);
    t_tmp_cleanup();
    return test_summary();
}
