/* hashes.c — freshness offline: `lmc corpus hashes` stores the distinct line (or word 13-gram) hashes of older
 * text, `lmc corpus decontam` drops the documents of a new corpus whose share of units found there is too high.
 * A Common Crawl record's date is its crawl time, and much of what a crawl holds was written long before it:
 * this is the filter that removes text a model may have trained on. */
#include "corpus/corpus.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const UNIT_NAMES[] = {"line", "13gram"};

/* ---- a sorted set of hashes ----------------------------------------------------------------------------- */

typedef struct hash_set {
    uint64_t *h; /* (n) sorted, distinct */
    size_t    n, cap;
} hash_set;

static void set_push(hash_set *s, const uint64_t *h, size_t n) {
    if (s->n + n > s->cap) s->h = lmc_xrealloc(s->h, (s->cap = 2 * (s->n + n) + 1024) * sizeof *s->h);
    memcpy(s->h + s->n, h, n * sizeof *h);
    s->n += n;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void set_finish(hash_set *s) {
    if (s->n) qsort(s->h, s->n, sizeof *s->h, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!k || s->h[i] != s->h[k - 1]) s->h[k++] = s->h[i];
    s->n = k;
}

static int set_has(const hash_set *s, uint64_t h) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->h[mid] < h) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->n && s->h[lo] == h;
}

/* The units of one document. */
static uint64_t *doc_units(lmc_overlap_unit unit, const char *c, size_t len, size_t *n, lmc_buf *scratch) {
    return unit == LMC_UNIT_LINE ? corpus_line_hashes(c, len, n, scratch) : corpus_gram_hashes(c, len, n);
}

/* What was read from the inputs. */
typedef struct read_counts {
    size_t docs, chars, bad;
    char   first_bad[300];
} read_counts;

static void note_read(read_counts *c, const text_set *t) {
    if (t->bad && !c->bad) snprintf(c->first_bad, sizeof c->first_bad, "%s", t->first_bad);
    c->bad += t->bad;
    c->docs += t->n;
    for (size_t i = 0; i < t->n; i++) c->chars += t->docs[i].chars;
}

/* Every document's units of path into s. */
static int add_file(hash_set *s, const char *path, lmc_overlap_unit unit, read_counts *c, lmc_err *err) {
    text_set t;
    if (texts_read(path, &t, err)) return -1;
    lmc_buf scratch = {0};
    for (size_t i = 0; i < t.n; i++) {
        size_t n;
        uint64_t *h = doc_units(unit, text_content(&t, i), t.docs[i].content.len, &n, &scratch);
        set_push(s, h, n);
        free(h);
    }
    note_read(c, &t);
    lmc_buf_free(&scratch);
    texts_free(&t);
    return 0;
}

/* ---- the hashes file ------------------------------------------------------------------------------------- */

static void put_u64(lmc_buf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    lmc_buf_append(b, x, 8);
}

static uint64_t get_u64(const char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | (uint8_t)p[i];
    return v;
}

int lmc_corpus_hashes(const char *const *inputs, size_t n_inputs, lmc_overlap_unit unit, const char *arguments,
                      const char *out_path, size_t *n_hashes, lmc_err *err) {
    hash_set s = {0};
    read_counts c = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_inputs; i++) rc = add_file(&s, inputs[i], unit, &c, err);
    lmc_buf b = {0};
    if (rc == 0) {
        set_finish(&s);
        char unit_field[8] = {0};
        memcpy(unit_field, UNIT_NAMES[unit], strlen(UNIT_NAMES[unit]));
        lmc_buf_append(&b, "LMCHASH1", 8);
        lmc_buf_append(&b, unit_field, 8);
        put_u64(&b, s.n);
        for (size_t i = 0; i < s.n; i++) put_u64(&b, s.h[i]);
        char params[64];
        snprintf(params, sizeof params, "{\"unit\": \"%s\"}", UNIT_NAMES[unit]);
        step_manifest m = {"corpus hashes", arguments, -1, inputs, n_inputs, "hashes", params, c.docs, c.docs,
                           c.chars, c.chars, b.len, c.bad, c.first_bad, out_path};
        rc = corpus_write_with_manifest(&m, b.p, b.len, err);
        if (n_hashes) *n_hashes = s.n;
    }
    lmc_buf_free(&b);
    free(s.h);
    return rc;
}

/* A hashes file into s; its unit must be `unit`. */
static int load_hashes(const char *path, lmc_overlap_unit unit, hash_set *s, lmc_err *err) {
    char *data;
    size_t len;
    if (lmc_read_file(path, &data, &len, err)) return -1;
    int rc = 0;
    if (len < 24 || memcmp(data, "LMCHASH1", 8)) rc = lmc_fail(err, "%s: not an lmc hashes file (no LMCHASH1 header)", path);
    else if (strncmp(data + 8, UNIT_NAMES[unit], 8))
        rc = lmc_fail(err, "%s: holds %.8s hashes, not %s (use --unit %.8s)", path, data + 8, UNIT_NAMES[unit], data + 8);
    else if ((len - 24) / 8 != get_u64(data + 16) || (len - 24) % 8)
        rc = lmc_fail(err, "%s: truncated or damaged (%zu bytes for %llu hashes)", path, len,
                      (unsigned long long)get_u64(data + 16));
    for (size_t i = 0; rc == 0 && i < (len - 24) / 8; i++) {
        uint64_t h = get_u64(data + 24 + 8 * i);
        set_push(s, &h, 1);
    }
    free(data);
    if (rc == 0) set_finish(s);
    return rc;
}

int corpus_hashes_load(const char *path, uint64_t **h, size_t *n, lmc_err *err) {
    hash_set s = {0};
    if (load_hashes(path, LMC_UNIT_LINE, &s, err)) { free(s.h); return -1; }
    *h = s.h, *n = s.n;
    return 0;
}

int corpus_hashes_has(const uint64_t *h, size_t n, uint64_t key) {
    hash_set s = {(uint64_t *)h, n, n};
    return set_has(&s, key);
}

/* ---- decontam -------------------------------------------------------------------------------------------- */

static int is_hashes_file(const char *path) {
    char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(magic, 1, 8, f);
    fclose(f);
    return got == 8 && !memcmp(magic, "LMCHASH1", 8);
}

/* The record's line with meta.overlap_frac set, appended to out (one line). */
static int put_with_overlap(lmc_buf *out, const text_set *t, size_t i, double frac) {
    const text_doc *d = &t->docs[i];
    cJSON *rec = cJSON_ParseWithLength(t->raw + d->line.off, d->line.len);
    if (!rec) return -1;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(rec, "meta");
    if (!cJSON_IsObject(meta)) {
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "meta");
        meta = cJSON_AddObjectToObject(rec, "meta");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "overlap_frac");
    cJSON_AddNumberToObject(meta, "overlap_frac", round(frac * 1e6) / 1e6);
    char *s = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    if (!s) return -1;
    lmc_buf_append(out, s, strlen(s));
    lmc_buf_append(out, "\n", 1);
    free(s);
    return 0;
}

/* Share of document i's units found in old (0 for a document without units). */
static double overlap(const hash_set *old, lmc_overlap_unit unit, const text_set *t, size_t i, lmc_buf *scratch) {
    size_t n, found = 0;
    uint64_t *h = doc_units(unit, text_content(t, i), t->docs[i].content.len, &n, scratch);
    for (size_t k = 0; k < n; k++) found += set_has(old, h[k]);
    free(h);
    return n ? (double)found / (double)n : 0;
}

/* The kept records into out; counts into m. */
static void filter_docs(const lmc_decontam_opts *o, const hash_set *old, const text_set *t, lmc_buf *out,
                        step_manifest *m) {
    lmc_buf scratch = {0};
    for (size_t i = 0; i < t->n; i++) {
        double frac = overlap(old, o->unit, t, i, &scratch);
        m->docs_in++, m->chars_in += t->docs[i].chars;
        if (frac > o->max_overlap || put_with_overlap(out, t, i, frac)) continue;
        m->docs_out++, m->chars_out += t->docs[i].chars, m->bytes_out += t->docs[i].content.len;
    }
    lmc_buf_free(&scratch);
}

int lmc_corpus_decontam(const lmc_decontam_opts *o, const char *out_path, lmc_corpus_summary *sum, lmc_err *err) {
    hash_set old = {0};
    read_counts c = {0};
    text_set t = {0};
    int rc = is_hashes_file(o->against) ? load_hashes(o->against, o->unit, &old, err) : add_file(&old, o->against, o->unit, &c, err);
    if (rc == 0 && !is_hashes_file(o->against)) set_finish(&old);
    if (rc == 0) rc = texts_read(o->in, &t, err);
    if (rc == 0 && t.kind != TEXTS_JSONL) rc = lmc_fail(err, "%s: decontam reads JSON Lines (.jsonl)", o->in);
    if (rc == 0) {
        const char *inputs[2] = {o->in, o->against};
        char params[160];
        snprintf(params, sizeof params, "{\"unit\": \"%s\", \"max_overlap\": %g, \"against_units\": %zu}",
                 UNIT_NAMES[o->unit], o->max_overlap, old.n);
        step_manifest m = {"corpus decontam", o->arguments, -1, inputs, 2, "decontam", params, 0, 0, 0, 0, 0,
                           t.bad, t.first_bad, out_path};
        lmc_buf out = {0};
        filter_docs(o, &old, &t, &out, &m);
        rc = corpus_write_with_manifest(&m, out.p ? out.p : "", out.len, err);
        if (sum) *sum = (lmc_corpus_summary){t.n + t.bad, m.docs_out, m.chars_out, m.bytes_out, t.bad, 0};
        lmc_buf_free(&out);
    }
    texts_free(&t);
    free(old.h);
    return rc;
}
