/* corpus.c — corpus files → documents (SPEC §1).
 *
 * The format is the caller's (lmc_corpus_opts.format) or, by default, the name's (.jsonl, .json, .ndjson, and
 * their .gz: JSONL) or else the content's: a file whose first non-blank line (after a BOM) is a JSON object
 * with a string "content" is JSONL whatever it is called (a JSONL file named .txt used to be scored as one
 * plain-text document, its JSON syntax included), anything else plain text.
 *
 * JSONL: one record per line, split on '\n' only (U+2028/U+2029/U+0085 are
 * ordinary characters inside records), a trailing '\r' is JSON whitespace, blank lines are not records, a
 * UTF-8 BOM at the start of the file is not content. Each record's string field `content` is one document;
 * `--file-num N` keeps the first N records, before empty documents are dropped. Plain text: the whole file is
 * one document (a BOM there is kept: it is a character of the text).
 * Characters are code points, bytes are UTF-8 bytes; nothing is normalised. */
#include "common/json_scan.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static bool is_jsonl_path(const char *path) {
    return has_suffix(path, ".jsonl") || has_suffix(path, ".jsonl.gz") || has_suffix(path, ".json") ||
           has_suffix(path, ".json.gz") || has_suffix(path, ".ndjson") || has_suffix(path, ".ndjson.gz");
}

static void corpus_add(lmc_corpus *c, size_t *cap, const char *text, size_t len, size_t chars) {
    if (c->n_docs == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        c->docs = lmc_xrealloc(c->docs, *cap * sizeof *c->docs);
    }
    lmc_doc *d = &c->docs[c->n_docs++];
    d->text = lmc_xmalloc(len + 1);
    memcpy(d->text, text, len);
    d->text[len] = 0;
    d->len = len;
    d->chars = chars;
    c->chars += chars;
    c->bytes += len;
}

static bool blank_line(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* One record: validates UTF-8 and JSON, extracts `content`. Returns 0 (doc appended or empty), 1 (bad record,
 * *why set), never fails otherwise. */
static int parse_record(const char *line, size_t n, lmc_buf *content, size_t *chars, const char **why) {
    size_t bad;
    if (!lmc_utf8_validate(line, n, NULL, &bad)) { *why = "invalid UTF-8"; return 1; }
    lmc_json_field field;
    if (lmc_json_object_string(line, n, "content", content, chars, &field, why)) return 1;
    if (field == LMC_JSON_MISSING) { *why = "record has no \"content\" field"; return 1; }
    if (field == LMC_JSON_NOT_STRING) { *why = "\"content\" is not a string"; return 1; }
    return 0;
}

/* Past a UTF-8 BOM at the start of the file, if there is one. */
static size_t after_bom(const char *data, size_t len) {
    return len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/* JSONL by content: the first non-blank line is a record with a string "content". */
static bool looks_like_jsonl(const char *data, size_t len) {
    for (size_t pos = after_bom(data, len); pos < len;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (!blank_line(data + pos, end - pos)) {
            lmc_buf content = {0};
            size_t chars;
            const char *why;
            int bad = parse_record(data + pos, end - pos, &content, &chars, &why);
            lmc_buf_free(&content);
            return !bad;
        }
        pos = end + 1;
    }
    return false;
}

static lmc_format format_of(const char *path, const char *data, size_t len, lmc_format asked) {
    if (asked == LMC_FORMAT_JSONL || asked == LMC_FORMAT_TEXT) return asked;
    return is_jsonl_path(path) || looks_like_jsonl(data, len) ? LMC_FORMAT_JSONL : LMC_FORMAT_TEXT;
}

lmc_format lmc_format_by_name(const char *path) { return is_jsonl_path(path) ? LMC_FORMAT_JSONL : LMC_FORMAT_TEXT; }

const char *lmc_format_name(lmc_format f) {
    switch (f) {
    case LMC_FORMAT_AUTO: return "auto";
    case LMC_FORMAT_JSONL: return "jsonl";
    case LMC_FORMAT_TEXT: return "text";
    }
    return NULL;
}

int lmc_format_parse(const char *name, lmc_format *out) {
    for (lmc_format f = LMC_FORMAT_AUTO; f <= LMC_FORMAT_TEXT; f++)
        if (strcmp(name, lmc_format_name(f)) == 0) {
            *out = f;
            return 0;
        }
    return -1;
}

static int load_text(const char *path, const char *data, size_t len, lmc_corpus *c, lmc_err *err) {
    size_t chars, bad, cap = 0;
    c->records = 1;
    if (!lmc_utf8_validate(data, len, &chars, &bad))
        return lmc_fail(err, "%s: invalid UTF-8 at byte offset %zu (plain-text corpus)", path, bad);
    if (len > 0) corpus_add(c, &cap, data, len, chars);
    return 0;
}

static int load_jsonl(const char *path, const char *data, size_t len, const lmc_corpus_opts *o, lmc_corpus *c,
                      lmc_err *err) {
    size_t cap = 0, pos = after_bom(data, len), lineno = 0;
    lmc_buf content = {0};
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        const char *line = data + pos;
        size_t n = end - pos;
        pos = end + 1;
        lineno++;
        if (blank_line(line, n)) continue;
        if (o->file_num >= 0 && (long)c->records >= o->file_num) break;
        c->records++;
        const char *why = NULL;
        size_t chars = 0;
        if (parse_record(line, n, &content, &chars, &why)) {
            if (o->skip_bad) { c->skipped++; continue; }
            lmc_buf_free(&content);
            return lmc_fail(err, "%s:%zu: %s%s", path, lineno, why,
                            strstr(why, "UTF-8") || strstr(why, "surrogate") ? "" : " (not a valid JSON record)");
        }
        if (content.len == 0) continue; /* empty documents are dropped (SPEC §1) */
        corpus_add(c, &cap, content.p, content.len, chars);
    }
    lmc_buf_free(&content);
    return 0;
}

int lmc_corpus_load(const char *path, const lmc_corpus_opts *opts, lmc_corpus *out, lmc_err *err) {
    lmc_corpus_opts defaults = {.file_num = -1, .skip_bad = 0};
    const lmc_corpus_opts *o = opts ? opts : &defaults;
    memset(out, 0, sizeof *out);
    char *data;
    size_t len;
    if (lmc_read_file(path, &data, &len, err)) return -1;
    if (!lmc_format_name(o->format)) {
        free(data);
        return lmc_fail(err, "%s: unknown corpus format %d", path, (int)o->format);
    }
    out->format = format_of(path, data, len, o->format);
    int rc = out->format == LMC_FORMAT_JSONL ? load_jsonl(path, data, len, o, out, err)
                                             : load_text(path, data, len, out, err);
    free(data);
    if (rc) lmc_corpus_free(out);
    return rc;
}

void lmc_corpus_free(lmc_corpus *c) {
    for (size_t i = 0; i < c->n_docs; i++) free(c->docs[i].text);
    free(c->docs);
    memset(c, 0, sizeof *c);
}
