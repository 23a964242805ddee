/* fuzz_jsonl.c — the JSONL reader: the in-memory record scanner (src/common/json_scan.c) on the raw input, and the
 * corpus loader (src/eval/documents.c) on the input written as a .jsonl file and as a plain-text file, strict and with
 * --skip-bad-records. Invariants: decoded strings are valid UTF-8 with the reported code-point count, documents
 * are non-empty, counts add up, and a failure is one line naming the file. */
#include "fuzz_common.h"
#include "common/json_scan.h"
#include "lmc.h"
#include "common/util.h"

#include <stdint.h>

static void check_corpus(const char *path, long file_num, int skip_bad) {
    lmc_corpus c;
    lmc_err e = {{0}};
    lmc_corpus_opts o = {.file_num = file_num, .skip_bad = skip_bad};
    if (lmc_corpus_load(path, &o, &c, &e)) {
        FZ_ASSERT(strstr(e.msg, path) && strchr(e.msg, '\n') == NULL);
        return;
    }
    size_t chars = 0, bytes = 0;
    for (size_t d = 0; d < c.n_docs; d++) {
        size_t cp, bad;
        FZ_ASSERT(c.docs[d].len > 0);
        FZ_ASSERT(lmc_utf8_validate(c.docs[d].text, c.docs[d].len, &cp, &bad));
        FZ_ASSERT(cp == c.docs[d].chars && c.docs[d].text[c.docs[d].len] == 0);
        chars += cp;
        bytes += c.docs[d].len;
    }
    FZ_ASSERT(chars == c.chars && bytes == c.bytes);
    FZ_ASSERT(c.n_docs + c.skipped <= c.records);
    FZ_ASSERT(file_num < 0 || c.records <= (size_t)file_num);
    FZ_ASSERT(skip_bad || c.skipped == 0);
    lmc_corpus_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    /* the record scanner, on the whole input as one record */
    {
        int valid = lmc_utf8_validate(s, size, NULL, NULL);
        lmc_buf out = {0};
        size_t chars = 0;
        lmc_json_field field;
        const char *why = NULL;
        if (lmc_json_object_string(s, size, "content", &out, &chars, &field, &why) == 0) {
            if (field == LMC_JSON_STRING && valid) {
                size_t cp, bad;
                FZ_ASSERT(lmc_utf8_validate(out.p ? out.p : "", out.len, &cp, &bad));
                FZ_ASSERT(cp == chars);
            }
        } else {
            FZ_ASSERT(why != NULL);
        }
        lmc_buf_free(&out);
        size_t pos = 0;
        if (lmc_json_skip_value(s, size, &pos, &why) == 0) FZ_ASSERT(pos <= size);
        else FZ_ASSERT(why != NULL);
    }
    /* the loader, on files */
    char path[512];
    fz_write("in.jsonl", data, size);
    fz_path(path, sizeof path, "in.jsonl");
    check_corpus(path, -1, 0);
    check_corpus(path, -1, 1);
    check_corpus(path, size % 4, 1);
    fz_write("in.txt", data, size);
    fz_path(path, sizeof path, "in.txt");
    check_corpus(path, -1, 0);
    return 0;
}
