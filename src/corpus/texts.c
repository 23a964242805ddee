/* texts.c — the documents of any text file `lmc corpus hashes / decontam / sample / stats` are given: JSON Lines
 * (every record's "content"; the record's line is kept so that it can be written back as it was), WET files
 * (warc.c) or plain text (the whole file, one document). */
#include "corpus/corpus.h"
#include "common/json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static text_doc *add_doc(text_set *s, const char *content, size_t len, size_t chars) {
    if (s->n == s->cap) s->docs = lmc_xrealloc(s->docs, (s->cap = s->cap ? s->cap * 2 : 64) * sizeof *s->docs);
    text_doc *d = &s->docs[s->n++];
    memset(d, 0, sizeof *d);
    d->content = (span){s->buf.len, len};
    d->chars = chars;
    lmc_buf_append(&s->buf, content, len);
    return d;
}

static void note_bad(text_set *s, const char *path, size_t lineno, const char *why) {
    if (!s->bad++) snprintf(s->first_bad, sizeof s->first_bad, "%s: line %zu: %s", path, lineno, why);
}

/* One JSON Lines record (line [b, e) of s->raw). */
static void jsonl_record(text_set *s, const char *path, size_t b, size_t e, size_t lineno, lmc_buf *content) {
    const char *line = s->raw + b, *why = NULL;
    size_t n = e - b, bad, chars = 0;
    lmc_json_field field;
    content->len = 0;
    if (!lmc_utf8_validate(line, n, NULL, &bad)) why = "invalid UTF-8";
    else if (lmc_json_object_string(line, n, "content", content, &chars, &field, &why) == 0 && field != LMC_JSON_STRING)
        why = field == LMC_JSON_MISSING ? "record has no \"content\" field" : "\"content\" is not a string";
    if (why) { note_bad(s, path, lineno, why); return; }
    text_doc *d = add_doc(s, content->p ? content->p : "", content->len, chars);
    d->line = (span){b, n};
}

static void read_jsonl(text_set *s, const char *path) {
    lmc_buf content = {0};
    size_t pos = s->raw_len >= 3 && !memcmp(s->raw, "\xef\xbb\xbf", 3) ? 3 : 0, lineno = 0;
    while (pos < s->raw_len) {
        const char *nl = memchr(s->raw + pos, '\n', s->raw_len - pos);
        size_t e = nl ? (size_t)(nl - s->raw) : s->raw_len, t = e;
        lineno++;
        while (t > pos && (s->raw[t - 1] == '\r' || s->raw[t - 1] == ' ' || s->raw[t - 1] == '\t')) t--;
        if (t > pos) jsonl_record(s, path, pos, t, lineno, &content);
        pos = e + 1;
    }
    lmc_buf_free(&content);
}

static int read_wet(text_set *s, const char *path, lmc_err *err) {
    wet_reader rd;
    wet_file f = {0};
    if (wet_reader_open(&rd, path, 0, 0, err)) return -1;
    while (wet_reader_next(&rd, &f))
        for (size_t i = 0; i < f.n; i++)
            if (f.recs[i].status == WET_OK) add_doc(s, wet_at(&f, f.recs[i].content), f.recs[i].content.len, f.recs[i].chars);
    wet_file_free(&f);
    wet_reader_close(&rd);
    return 0;
}

int texts_read(const char *path, text_set *s, lmc_err *err) {
    memset(s, 0, sizeof *s);
    if (strstr(path, ".warc")) { s->kind = TEXTS_WET; return read_wet(s, path, err); } /* multi-member gzip */
    char *data;
    size_t len, chars, bad;
    if (lmc_read_file(path, &data, &len, err)) return -1;
    if (has_suffix(path, ".jsonl") || has_suffix(path, ".jsonl.gz") || has_suffix(path, ".json") ||
        has_suffix(path, ".json.gz")) {
        s->kind = TEXTS_JSONL, s->raw = data, s->raw_len = len;
        read_jsonl(s, path);
        return 0;
    }
    if (len >= 5 && !memcmp(data, "WARC/", 5)) {
        free(data);
        s->kind = TEXTS_WET;
        return read_wet(s, path, err);
    }
    s->kind = TEXTS_PLAIN;
    if (!lmc_utf8_validate(data, len, &chars, &bad)) {
        free(data);
        return lmc_fail(err, "%s: not UTF-8 (byte %zu)", path, bad);
    }
    add_doc(s, data, len, chars);
    free(data);
    return 0;
}

void texts_free(text_set *s) {
    lmc_buf_free(&s->buf);
    free(s->raw), free(s->docs);
    memset(s, 0, sizeof *s);
}
