/* sample.c — `lmc corpus sample` (a seeded share of a corpus by characters, whole documents or whole segments)
 * and `lmc corpus stats` (counts, a date histogram, gzip -9 and xz -9 bits per character). */
#include "corpus/corpus.h"

#include <cjson/cJSON.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- sample ---------------------------------------------------------------------------------------------- */

/* A record's meta object (a new cJSON tree the caller deletes through *root), or NULL. */
static const cJSON *record_meta(const text_set *t, size_t i, cJSON **root) {
    *root = t->kind == TEXTS_JSONL ? cJSON_ParseWithLength(t->raw + t->docs[i].line.off, t->docs[i].line.len) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(*root, "meta");
    return cJSON_IsObject(m) ? m : NULL;
}

/* The hash that names document i's unit: its content, or (by segment) its meta.repo and meta.segment. */
static uint64_t unit_of(const text_set *t, size_t i, int by_segment) {
    uint64_t h = corpus_hash_bytes(text_content(t, i), t->docs[i].content.len);
    if (!by_segment) return h;
    cJSON *root;
    const cJSON *m = record_meta(t, i, &root), *repo = cJSON_GetObjectItemCaseSensitive(m, "repo"),
                *seg = cJSON_GetObjectItemCaseSensitive(m, "segment");
    if (cJSON_IsString(repo) && (cJSON_IsString(seg) || cJSON_IsNumber(seg))) {
        char key[1200];
        if (cJSON_IsString(seg)) snprintf(key, sizeof key, "segment\x1f%s\x1f%s", repo->valuestring, seg->valuestring);
        else snprintf(key, sizeof key, "segment\x1f%s\x1f%.17g", repo->valuestring, seg->valuedouble);
        h = corpus_hash_bytes(key, strlen(key));
    }
    cJSON_Delete(root);
    return h;
}

typedef struct unit {
    uint64_t name;  /* unit_of */
    uint64_t order; /* splitmix64(seed ^ name): the draw */
    size_t   chars;
} unit;

static int by_name(const void *a, const void *b) {
    const unit *x = a, *y = b;
    return x->name < y->name ? -1 : x->name > y->name;
}

static int by_order(const void *a, const void *b) {
    const unit *x = a, *y = b;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return by_name(a, b);
}

/* The units drawn, sorted by name (*n of them). */
static unit *draw(const lmc_sample_opts *o, const text_set *t, const uint64_t *names, size_t *n) {
    unit *u = lmc_xmalloc((t->n ? t->n : 1) * sizeof *u);
    for (size_t i = 0; i < t->n; i++) u[i] = (unit){names[i], corpus_splitmix64(o->seed ^ names[i]), t->docs[i].chars};
    qsort(u, t->n, sizeof *u, by_name);
    size_t k = 0; /* one entry per unit, its characters summed */
    for (size_t i = 0; i < t->n; i++) {
        if (k && u[k - 1].name == u[i].name) u[k - 1].chars += u[i].chars;
        else u[k++] = u[i];
    }
    qsort(u, k, sizeof *u, by_order);
    uint64_t total = 0;
    size_t taken = 0;
    while (taken < k && total < o->chars) total += u[taken++].chars;
    qsort(u, taken, sizeof *u, by_name);
    *n = taken;
    return u;
}

int lmc_corpus_sample(const lmc_sample_opts *o, const char *out_path, lmc_corpus_summary *sum, lmc_err *err) {
    text_set t;
    if (texts_read(o->in, &t, err)) return -1;
    if (t.kind != TEXTS_JSONL) { texts_free(&t); return lmc_fail(err, "%s: sample reads JSON Lines (.jsonl)", o->in); }
    uint64_t *names = lmc_xmalloc((t.n ? t.n : 1) * sizeof *names);
    for (size_t i = 0; i < t.n; i++) names[i] = unit_of(&t, i, o->by_segment);
    size_t n_units;
    unit *u = draw(o, &t, names, &n_units);
    char params[160];
    snprintf(params, sizeof params, "{\"chars\": %llu, \"by\": \"%s\", \"units_taken\": %zu}",
             (unsigned long long)o->chars, o->by_segment ? "segment" : "doc", n_units);
    step_manifest m = {"corpus sample", o->arguments, (long long)o->seed, &o->in, 1, "sample", params, 0, 0, 0, 0, 0,
                       t.bad, t.first_bad, out_path};
    lmc_buf out = {0};
    for (size_t i = 0; i < t.n; i++) {
        m.docs_in++, m.chars_in += t.docs[i].chars;
        unit key = {names[i], 0, 0};
        if (!bsearch(&key, u, n_units, sizeof *u, by_name)) continue;
        m.docs_out++, m.chars_out += t.docs[i].chars, m.bytes_out += t.docs[i].content.len;
        lmc_buf_append(&out, t.raw + t.docs[i].line.off, t.docs[i].line.len);
        lmc_buf_append(&out, "\n", 1);
    }
    int rc = corpus_write_with_manifest(&m, out.p ? out.p : "", out.len, err);
    if (sum) *sum = (lmc_corpus_summary){t.n + t.bad, m.docs_out, m.chars_out, m.bytes_out, t.bad, 0};
    lmc_buf_free(&out);
    free(u), free(names);
    texts_free(&t);
    return rc;
}

/* ---- stats: compressed sizes, streamed document by document --------------------------------------------- */

/* Feeds data to a deflate stream, discarding the output; deflate's last status. */
static int gz_feed(z_stream *z, const void *data, size_t n, int flush) {
    unsigned char sink[1 << 16];
    z->next_in = (Bytef *)data, z->avail_in = (uInt)n;
    int ret;
    do {
        z->next_out = sink, z->avail_out = sizeof sink;
        ret = deflate(z, flush);
    } while (ret == Z_OK && (z->avail_in || z->avail_out == 0 || flush == Z_FINISH));
    return ret == Z_BUF_ERROR ? Z_OK : ret; /* no progress possible: all input taken */
}

/* Bytes gzip -9 writes for the documents joined by '\n' (deflate level 9, gzip framing), 0 on failure. */
static size_t gzip9_bytes(const text_set *t) {
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    int ret = Z_OK;
    for (size_t i = 0; i < t->n && ret == Z_OK; i++) {
        if (i) ret = gz_feed(&z, "\n", 1, Z_NO_FLUSH);
        if (ret == Z_OK) ret = gz_feed(&z, text_content(t, i), t->docs[i].content.len, Z_NO_FLUSH);
    }
    if (ret == Z_OK) ret = gz_feed(&z, "", 0, Z_FINISH);
    size_t total = ret == Z_STREAM_END ? z.total_out : 0;
    deflateEnd(&z);
    return total;
}

/* Feeds data to an lzma stream, discarding the output; its status. */
static lzma_ret xz_feed(lzma_stream *s, const void *data, size_t n, lzma_action action) {
    uint8_t sink[1 << 16];
    s->next_in = data, s->avail_in = n;
    lzma_ret r;
    do {
        s->next_out = sink, s->avail_out = sizeof sink;
        r = lzma_code(s, action);
    } while (r == LZMA_OK && (s->avail_in || (action == LZMA_FINISH)));
    return r;
}

/* Bytes xz -9 writes for the documents joined by '\n' (LZMA2 preset 9, CRC-64; the dictionary capped at the
 * text's size, as xz does for a smaller input), 0 on failure. */
static size_t xz9_bytes(const text_set *t, size_t total) {
    lzma_options_lzma opt;
    if (lzma_lzma_preset(&opt, 9)) return 0;
    if (opt.dict_size > total) opt.dict_size = total < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : (uint32_t)total;
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_stream_encoder(&s, filters, LZMA_CHECK_CRC64) != LZMA_OK) return 0;
    lzma_ret r = LZMA_OK;
    for (size_t i = 0; i < t->n && r == LZMA_OK; i++) {
        if (i) r = xz_feed(&s, "\n", 1, LZMA_RUN);
        if (r == LZMA_OK) r = xz_feed(&s, text_content(t, i), t->docs[i].content.len, LZMA_RUN);
    }
    if (r == LZMA_OK) r = xz_feed(&s, "", 0, LZMA_FINISH);
    size_t bytes = r == LZMA_STREAM_END ? (size_t)s.total_out : 0;
    lzma_end(&s);
    return bytes;
}

/* ---- stats: dates ------------------------------------------------------------------------------------------ */

/* Document i's month "YYYY-MM" from meta.date_download, created or created_at; 0 when it has none. */
static int doc_month(const text_set *t, size_t i, char month[8]) {
    static const char *const KEYS[] = {"date_download", "created", "created_at"};
    cJSON *root;
    const cJSON *m = record_meta(t, i, &root);
    int found = 0;
    for (int k = 0; k < 3 && !found; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, KEYS[k]);
        const char *s = cJSON_IsString(v) ? v->valuestring : "";
        found = strlen(s) >= 7 && s[4] == '-' && strspn(s, "0123456789") == 4 && strspn(s + 5, "0123456789") == 2;
        if (found) snprintf(month, 8, "%.7s", s);
    }
    cJSON_Delete(root);
    return found;
}

static int cmp_month(const void *a, const void *b) { return strcmp(a, b); }

static void month_histogram(const text_set *t, lmc_corpus_stats *st) {
    char (*all)[8] = lmc_xmalloc((t->n ? t->n : 1) * 8);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (doc_month(t, i, all[n])) n++;
        else st->undated++;
    }
    qsort(all, n, 8, cmp_month);
    st->months = lmc_xmalloc((n ? n : 1) * 8);
    st->month_docs = lmc_xcalloc(n ? n : 1, sizeof *st->month_docs);
    for (size_t i = 0; i < n; i++) {
        if (!st->n_months || strcmp(st->months[st->n_months - 1], all[i])) memcpy(st->months[st->n_months++], all[i], 8);
        st->month_docs[st->n_months - 1]++;
    }
    free(all);
}

int lmc_corpus_stats_read(const char *path, lmc_corpus_stats *st, lmc_err *err) {
    memset(st, 0, sizeof *st);
    text_set t;
    if (texts_read(path, &t, err)) return -1;
    st->docs = t.n, st->bad = t.bad;
    for (size_t i = 0; i < t.n; i++) st->chars += t.docs[i].chars, st->bytes += t.docs[i].content.len;
    size_t joined = st->bytes + (t.n ? t.n - 1 : 0);
    if (st->chars) { /* per character of content: the joining newlines are not counted */
        st->gzip_bpc = 8.0 * (double)gzip9_bytes(&t) / (double)st->chars;
        st->xz_bpc = 8.0 * (double)xz9_bytes(&t, joined) / (double)st->chars;
    }
    month_histogram(&t, st);
    texts_free(&t);
    return 0;
}

void lmc_corpus_stats_free(lmc_corpus_stats *st) {
    free(st->months), free(st->month_docs);
    memset(st, 0, sizeof *st);
}
