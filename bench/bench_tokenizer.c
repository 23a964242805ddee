/* bench_tokenizer.c — single-thread tokenizer throughput on corpora/python.jsonl, next to the HF Rust
 * reference (fixtures/tokenizer/README.md: tokenizers 0.23.2, CPU time, best of 5 passes).
 *
 * Method as the reference's: each document encoded on its own with add_special = 1, a 5-document warm-up,
 * then 5 passes over all documents; MB/s = 10^6 content bytes per second of this process's CPU time.
 * Prints a skip line and exits 0 when the shared reference directory is missing.
 *
 *   build/bench/bench_tokenizer [passes]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lmc.h"
#include "tokenizer/tokenizer.h"
#include "common/util.h"

static const struct { const char *family; double hf_mb_s; } FAMILIES[] = {
    {"llama3_1", 3.85}, {"qwen2", 2.77}, {"mistral", 4.10}, {"gpt2", 2.56},
};

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the documents: the exact bytes of each record's "content" -------------------------------------- */

static void put_utf8(lmc_buf *b, unsigned cp) {
    char o[4];
    size_t n = 0;
    if (cp < 0x80) o[n++] = (char)cp;
    else if (cp < 0x800) { o[n++] = (char)(0xC0 | cp >> 6); o[n++] = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        o[n++] = (char)(0xE0 | cp >> 12); o[n++] = (char)(0x80 | (cp >> 6 & 0x3F)); o[n++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[n++] = (char)(0xF0 | cp >> 18); o[n++] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[n++] = (char)(0x80 | (cp >> 6 & 0x3F)); o[n++] = (char)(0x80 | (cp & 0x3F));
    }
    lmc_buf_append(b, o, n);
}

/* Decodes the JSON string value of "content" on one JSONL line (the corpora write it first). */
static int content_of(const char *line, lmc_buf *out) {
    const char *p = strstr(line, "\"content\"");
    if (!p) return -1;
    p = strchr(p + 9, '"');
    if (!p) return -1;
    out->len = 0;
    lmc_buf_append(out, "", 0);
    for (p++; *p && *p != '"'; p++) {
        if (*p != '\\') { lmc_buf_append(out, p, 1); continue; }
        char e = *++p;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (simple && e) { lmc_buf_append(out, &"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"], 1); continue; }
        if (e != 'u') return -1;
        unsigned cp = 0, lo = 0;
        if (sscanf(p + 1, "%4x", &cp) != 1) return -1;
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u' && sscanf(p + 3, "%4x", &lo) == 1) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        put_utf8(out, cp);
    }
    return *p == '"' ? 0 : -1;
}

int main(int argc, char **argv) {
    int passes = argc > 1 ? atoi(argv[1]) : 5;
    if (passes < 1) passes = 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/corpora/python.jsonl", lmc_shared_dir());
    if (!lmc_file_exists(path)) {
        printf("skip: %s not found (set LMC_SHARED)\n", path);
        return 0;
    }
    lmc_err err;
    char *data;
    size_t len;
    if (lmc_read_file(path, &data, &len, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    lmc_buf *docs = NULL;
    size_t n_docs = 0, bytes = 0;
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (*line) {
            docs = realloc(docs, (n_docs + 1) * sizeof *docs);
            memset(&docs[n_docs], 0, sizeof *docs);
            if (content_of(line, &docs[n_docs])) { fprintf(stderr, "%s: bad record %zu\n", path, n_docs); return 1; }
            bytes += docs[n_docs++].len;
        }
        line = nl ? nl + 1 : NULL;
    }
    printf("tokenizer throughput, %s: %zu documents, %zu bytes, single thread, CPU time, %d passes\n", path,
           n_docs, bytes, passes);
    printf("%-10s %10s %12s %12s %14s\n", "family", "tokens", "best MB/s", "median MB/s", "HF Rust MB/s");
    for (size_t f = 0; f < sizeof FAMILIES / sizeof FAMILIES[0]; f++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tokenizers/%s", lmc_shared_dir(), FAMILIES[f].family);
        lmc_tokenizer *tok;
        if (lmc_tokenizer_open_dir(dir, &tok, &err)) { printf("%-10s error: %s\n", FAMILIES[f].family, err.msg); continue; }
        size_t tokens = 0;
        for (size_t d = 0; d < 5 && d < n_docs; d++) { /* warm-up */
            int32_t *ids;
            size_t n;
            if (lmc_tokenize(tok, docs[d].p, docs[d].len, 1, &ids, &n, &err) == 0) free(ids);
        }
        double *rate = calloc((size_t)passes, sizeof *rate);
        for (int p = 0; p < passes; p++) {
            double t0 = cpu_seconds();
            tokens = 0;
            for (size_t d = 0; d < n_docs; d++) {
                int32_t *ids;
                size_t n;
                if (lmc_tokenize(tok, docs[d].p, docs[d].len, 1, &ids, &n, &err)) {
                    fprintf(stderr, "%s doc %zu: %s\n", FAMILIES[f].family, d, err.msg);
                    return 1;
                }
                tokens += n;
                free(ids);
            }
            rate[p] = bytes / 1e6 / (cpu_seconds() - t0);
        }
        for (int i = 0; i < passes; i++) /* sort descending: best first */
            for (int j = i + 1; j < passes; j++)
                if (rate[j] > rate[i]) { double x = rate[i]; rate[i] = rate[j]; rate[j] = x; }
        printf("%-10s %10zu %12.2f %12.2f %14.2f\n", FAMILIES[f].family, tokens, rate[0], rate[passes / 2],
               FAMILIES[f].hf_mb_s);
        free(rate);
        lmc_tokenizer_free(tok);
    }
    for (size_t d = 0; d < n_docs; d++) lmc_buf_free(&docs[d]);
    free(docs);
    free(data);
    return 0;
}
