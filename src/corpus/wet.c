/* wet.c — `lmc corpus wet`: Common Crawl WET files → the `cc` subset, CCNet's steps in CCNet's order:
 * records (warc.c) → crawl-date window → length → paragraph dedup (dedup.c) → language id (lid.c) → JSON Lines,
 * and the manifest. Two-pass dedup reads every file of a scope twice: the first pass counts each line hash once
 * per document, the second keeps or drops lines; only the set of line hashes stays in memory between them (and
 * one chunk of one file). Each chunk's documents are worked on in parallel, every document into its own region
 * (of the kept text, of the line arrays), and their lines written in input order; the only order-dependent
 * decision, keep-first's claims, is taken in document order. So the output is the same bytes at any thread
 * count and chunk size. */
#include "corpus/corpus.h"
#include "common/threads.h"
#include "common/bytes32.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the run's state ------------------------------------------------------------------------------- */

enum { F_DATE, F_LENGTH, F_DEDUP, F_EXCLUDE, F_LID, F_QUALITY, N_FILTERS };
static const char *const FILTER_NAMES[N_FILTERS] = {"crawl-date", "length", "dedup", "exclude-hashes", "lid", "quality"};

/* A written document's quality score and size (--quality ngram: the head is chosen once all are known). */
typedef struct doc_score {
    double ppl;
    size_t chars, bytes;
} doc_score;

typedef struct filter_count {
    size_t docs_in, docs_out, chars_in, chars_out;
} filter_count;

typedef struct wet_run {
    const lmc_wet_opts *o;
    const char *const  *inputs;      /* (n_inputs) */
    size_t              n_inputs;
    char              (*sha)[65];    /* (n_inputs) sha256 of each input */
    size_t             *raw_bytes;   /* (n_inputs) */
    filter_count        f[N_FILTERS];
    size_t              records, docs, not_conversion, bad_header, empty, bad_utf8, length_mismatches;
    lmc_buf             problems;    /* JSON objects, comma-separated: the first MAX_PROBLEMS named */
    size_t              n_problems;
    line_set            set;         /* the scope's distinct line hashes */
    size_t              set_peak;    /* the most bytes the set held */
    wet_file            chunk;       /* the records being read (buffers reused chunk to chunk) */
    lmc_buf             kept;        /* the contents after dedup, each at its record's offset in chunk.arena */
    uint64_t           *line_h;      /* (lines_cap) the chunk's line hashes, document by document */
    size_t             *line_at;     /* (lines_cap) their index in the set (keep-first) */
    unsigned char      *line_keep;   /* (lines_cap) */
    size_t              lines_cap;
    lmc_buf            *json[2];     /* (n_json each) output lines, a buffer per thread: json[cur] for the chunk
                                      * being made, json[!cur] the chunk before, written meanwhile (write_pending) */
    int                 n_json, cur, pending;
    int                 write_errno; /* the first failed write's errno (0: none) */
    off_t               synced;      /* output bytes whose writeback has been started */
    wet_reader         *reading;     /* the input being read */
    uint64_t           *exclude;     /* (n_exclude) sorted line hashes of older text (--exclude-hashes) */
    size_t              n_exclude;
    char                exclude_sha[65];
    ngram_model        *qm;          /* --quality ngram */
    char                quality_sha[65];
    doc_score          *scores;      /* (n_scores) of the documents written, in order */
    size_t              n_scores, cap_scores;
    double              cut_head, cut_middle; /* the pool's 30th and 60th percentiles of perplexity */
    int                 lid_on;      /* language id runs */
    char                lid_skipped[300]; /* why it does not, when asked for */
    char                lid_model_sha[65];
    FILE               *out;
    size_t              out_docs, out_chars, out_bytes; /* what was written */
    lmc_corpus_progress prog;
} wet_run;

#define MAX_PROBLEMS 1000

void lmc_wet_opts_default(lmc_wet_opts *o) {
    memset(o, 0, sizeof *o);
    o->min_len = 300;
    o->dedup = LMC_DEDUP_TWO_PASS;
    o->lang = "en";
    o->lid_min_score = 0.5;
}

/* A bad-input event, named by file and record (record < 0: the file as a whole). */
static void problem(wet_run *r, size_t input, long record, const char *what) {
    if (r->n_problems++ >= MAX_PROBLEMS) return;
    if (r->problems.len) lmc_buf_append(&r->problems, ",\n    ", 6);
    lmc_buf_append(&r->problems, "{\"file\": ", 9);
    lmc_buf_json(&r->problems, r->inputs[input], strlen(r->inputs[input]));
    if (record >= 0) lmc_buf_printf(&r->problems, ", \"record\": %ld", record);
    lmc_buf_append(&r->problems, ", \"problem\": ", 13);
    lmc_buf_json(&r->problems, what, strlen(what));
    lmc_buf_append(&r->problems, "}", 1);
}

static void count_filter(filter_count *c, size_t chars_in, size_t chars_out, int kept) {
    c->docs_in++, c->chars_in += chars_in;
    if (kept) c->docs_out++, c->chars_out += chars_out;
}

/* ---- per record: the filters before dedup ----------------------------------------------------------- */

/* Whether the WARC-Date's day is inside [crawl_after, crawl_before). */
static int in_window(const lmc_wet_opts *o, const char *date, size_t n) {
    if (!o->crawl_after && !o->crawl_before) return 1;
    if (n < 10) return 0;
    if (o->crawl_after && strncmp(date, o->crawl_after, 10) < 0) return 0;
    if (o->crawl_before && strncmp(date, o->crawl_before, 10) >= 0) return 0;
    return 1;
}

/* Whether the record reaches dedup; count: tally it (the pass that writes does, a counting pass does not). */
static int admit(wet_run *r, const wet_file *f, const wet_record *rec, size_t input, int count) {
    if (count) {
        r->records++;
        if (rec->length_mismatch) /* named too: the file and record, the rest of the file read on */
            problem(r, input, (long)rec->index, "Content-Length absent or not ending at the next record: resynchronised");
        switch (rec->status) {
        case WET_OK: r->docs++; break;
        case WET_NOT_CONVERSION: r->not_conversion++; break;
        case WET_BAD_HEADER: r->bad_header++; problem(r, input, (long)rec->index, "malformed WARC header"); break;
        case WET_EMPTY: r->empty++; break;
        case WET_BAD_UTF8: r->bad_utf8++; problem(r, input, (long)rec->index, "body is not valid UTF-8"); break;
        }
    }
    if (rec->status != WET_OK) return 0;
    int date_ok = in_window(r->o, wet_at(f, rec->date), rec->date.len);
    if (count) count_filter(&r->f[F_DATE], rec->chars, rec->chars, date_ok);
    if (!date_ok) return 0;
    int long_enough = (long)rec->chars >= r->o->min_len;
    if (count) count_filter(&r->f[F_LENGTH], rec->chars, rec->chars, long_enough);
    return long_enough;
}

/* The records of f that reach dedup, as indexes into f->recs (*n of them; malloc'ed). */
static size_t *admitted(wet_run *r, const wet_file *f, size_t input, int count, size_t *n) {
    size_t *idx = lmc_xmalloc((f->n ? f->n : 1) * sizeof *idx);
    *n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (admit(r, f, &f->recs[i], input, count)) idx[(*n)++] = i;
    return idx;
}

/* ---- the counting pass -------------------------------------------------------------------------------- */

/* Into h (grown as needed): the hashes of content's lines; returns how many. */
static size_t line_hashes(const char *c, size_t len, uint64_t **h, size_t *cap, lmc_buf *scratch) {
    size_t n = 0;
    for (size_t pos = 0;;) {
        const char *nl = memchr(c + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - c) : len;
        if (n == *cap) *h = lmc_xrealloc(*h, (*cap = *cap ? 2 * *cap : 256) * sizeof **h);
        (*h)[n++] = corpus_line_hash(c + pos, e - pos, scratch);
        if (!nl) break;
        pos = e + 1;
    }
    return n;
}

/* The first pass over one chunk: every admitted document's distinct line hashes into the set. Each thread
 * gathers its documents' hashes; the set does not depend on the order they arrive in. */
static void count_chunk(wet_run *r, const wet_file *f, size_t input) {
    size_t n;
    size_t *idx = admitted(r, f, input, 0, &n);
#pragma omp parallel
    {
        lmc_buf scratch = {0};
        uint64_t *mine = NULL, *h = NULL;
        size_t n_mine = 0, cap_mine = 0, cap_h = 0;
#pragma omp for schedule(dynamic, 16) nowait
        for (size_t i = 0; i < n; i++) {
            const wet_record *rec = &f->recs[idx[i]];
            size_t m = corpus_sort_unique(h, line_hashes(wet_at(f, rec->content), rec->content.len, &h, &cap_h, &scratch));
            if (n_mine + m > cap_mine) mine = lmc_xrealloc(mine, (cap_mine = 2 * (n_mine + m)) * sizeof *mine);
            memcpy(mine + n_mine, h, m * sizeof *h);
            n_mine += m;
        }
#pragma omp critical(corpus_line_set)
        line_set_add(&r->set, mine, n_mine);
        free(mine), free(h);
        lmc_buf_free(&scratch);
    }
    free(idx);
}

/* Code points of valid UTF-8: the bytes that are not continuation bytes. */
static size_t utf8_chars(const char *s, size_t n) {
    size_t c = 0, i = 0;
    for (; i + 32 <= n; i += 32) c += 32 - lmc_count32((lmc_u8x32)((lmc_load32(s + i) & 0xc0) == 0x80));
    for (; i < n; i++) c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* ---- the pass that writes ------------------------------------------------------------------------------ */

static void write_pending(wet_run *r);

/* One admitted document on its way out. */
typedef struct out_doc {
    size_t      line0, n_lines; /* its lines in wet_run.line_h / line_at / line_keep */
    const char *text;      /* content after dedup and exclusion */
    size_t      len;
    size_t      lines;     /* lines kept by dedup (0: dropped) */
    size_t      chars;     /* code points of text */
    size_t      dedup_chars; /* code points after dedup, before --exclude-hashes */
    char        label[16]; /* language id's label, "" when it did not run */
    double      score;     /* its score rounded to 2 decimals */
    double      ppl;       /* the quality model's perplexity (--quality ngram) */
    int         keep;      /* survives every step */
} out_doc;

static size_t count_lines(const char *c, size_t len) {
    size_t n = 1;
    for (const char *p = c, *end = c + len; (p = memchr(p, '\n', (size_t)(end - p))); p++) n++;
    return n;
}

/* Document i's kept lines (and not excluded) into r->kept at its content's offset. */
static void keep_lines(wet_run *r, const wet_file *f, const wet_record *rec, out_doc *d) {
    const char *c = wet_at(f, rec->content);
    char *w0 = r->kept.p + rec->content.off, *w = w0;
    size_t len = rec->content.len, j = d->line0, excluded = 0;
    for (size_t pos = 0;; j++) {
        const char *nl = memchr(c + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - c) : len;
        if (r->line_keep[j]) {
            d->lines++;
            d->dedup_chars += utf8_chars(c + pos, e - pos) + (d->lines > 1);
            if (r->exclude && corpus_hashes_has(r->exclude, r->n_exclude, r->line_h[j])) excluded++;
            else {
                if (w > w0) *w++ = '\n';
                memcpy(w, c + pos, e - pos);
                w += e - pos;
            }
        }
        if (!nl) break;
        pos = e + 1;
    }
    d->text = w0, d->len = (size_t)(w - w0);
    d->chars = excluded ? utf8_chars(w0, d->len) : d->dedup_chars;
    d->keep = d->lines > 0 && d->lines > excluded;
}

/* Every line's hash and dedup verdict, then each document's kept lines (keep_lines). two-pass: kept when its
 * hash is in this document only, the first copy (claimed: no other document can claim that hash, so threads do
 * not race for it); keep-first: the set's index, claimed afterwards in document order. */
static void judge_lines(wet_run *r, const wet_file *f, const size_t *idx, out_doc *d, size_t n) {
    lmc_dedup_mode mode = r->o->dedup;
#pragma omp parallel
    {
        lmc_buf scratch = {0};
#pragma omp single nowait
        write_pending(r);
#pragma omp single nowait
        wet_reader_hash_read(r->reading);
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n; i++) {
            const wet_record *rec = &f->recs[idx[i]];
            const char *c = wet_at(f, rec->content);
            size_t len = rec->content.len, j0 = d[i].line0, j1 = j0 + d[i].n_lines;
            for (size_t pos = 0, j = j0;; j++) {
                const char *nl = memchr(c + pos, '\n', len - pos);
                size_t e = nl ? (size_t)(nl - c) : len;
                r->line_h[j] = corpus_line_hash(c + pos, e - pos, &scratch);
                if (mode != LMC_DEDUP_OFF) line_set_prefetch(&r->set, r->line_h[j], 0);
                if (!nl) break;
                pos = e + 1;
            }
            if (mode != LMC_DEDUP_OFF)
                for (size_t j = j0; j < j1; j++) line_set_prefetch(&r->set, r->line_h[j], 1);
            for (size_t j = j0; j < j1; j++) {
                size_t g = mode == LMC_DEDUP_OFF ? SIZE_MAX : line_set_find(&r->set, r->line_h[j]);
                if (mode == LMC_DEDUP_OFF) r->line_keep[j] = 1;
                else if (mode == LMC_DEDUP_KEEP_FIRST) r->line_at[j] = g;
                else r->line_keep[j] = g != SIZE_MAX && !line_set_multi(&r->set, g) && line_set_claim(&r->set, g);
            }
            if (mode != LMC_DEDUP_KEEP_FIRST) keep_lines(r, f, rec, &d[i]); /* its text still in the caches */
        }
        lmc_buf_free(&scratch);
    }
    if (mode != LMC_DEDUP_KEEP_FIRST) return;
    for (size_t i = 0; i < n; i++) /* in document order: the first document to have a line keeps it */
        for (size_t j = d[i].line0; j < d[i].line0 + d[i].n_lines; j++)
            r->line_keep[j] = r->line_at[j] != SIZE_MAX && line_set_claim(&r->set, r->line_at[j]);
#pragma omp parallel for schedule(dynamic, 16)
    for (size_t i = 0; i < n; i++) keep_lines(r, f, &f->recs[idx[i]], &d[i]);
}

/* Language id over the documents dedup kept: label, score and keep for each. */
static int identify(wet_run *r, out_doc *d, size_t n, lmc_err *err) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += d[i].keep;
    char **texts = lmc_xcalloc(m ? m : 1, sizeof *texts), (*labels)[16] = lmc_xcalloc(m ? m : 1, 16);
    double *scores = lmc_xcalloc(m ? m : 1, sizeof *scores);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!d[i].keep) continue;
        char *t = texts[k++] = lmc_xmalloc(d[i].len + 1), *w = t; /* newlines deleted, as CCNet does */
        for (size_t j = 0; j < d[i].len; j++)
            if (d[i].text[j] != '\n' && d[i].text[j] != '\0') *w++ = d[i].text[j];
        *w = 0;
    }
    const char *program = r->o->fasttext ? r->o->fasttext : "fasttext";
    int rc = corpus_lid(program, r->o->lid_model, (const char *const *)texts, m, labels, scores, err);
    for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
        if (!d[i].keep) continue;
        memcpy(d[i].label, labels[k], 16);
        d[i].score = round(scores[k++] * 100) / 100;
        d[i].keep = !strcmp(d[i].label, r->o->lang) && d[i].score >= r->o->lid_min_score;
        count_filter(&r->f[F_LID], d[i].chars, d[i].chars, d[i].keep);
    }
    for (size_t k = 0; k < m; k++) free(texts[k]);
    free(texts), free(labels), free(scores);
    return rc;
}

/* "host[:port]" of a URL ("" when it has no "scheme://"). */
static void url_domain(const char *url, size_t n, const char **host, size_t *host_n) {
    const char *s = n >= 3 ? memmem(url, n, "://", 3) : NULL;
    *host = s ? s + 3 : url, *host_n = 0;
    if (!s) return;
    while (*host + *host_n < url + n && !strchr("/?#", (*host)[*host_n])) (*host_n)++;
}

static void meta_str(lmc_buf *b, const char *key, const char *s, size_t n) {
    lmc_buf_printf(b, ", \"%s\": ", key);
    lmc_buf_json(b, s, n);
}

/* One output line: {"content", "subset", "meta"}. */
static void json_line(lmc_buf *b, const wet_run *r, const wet_file *f, const wet_record *rec, size_t input,
                      const out_doc *d) {
    lmc_buf_append(b, "{\"content\": ", 12);
    lmc_buf_json(b, d->text, d->len);
    lmc_buf_printf(b, ", \"subset\": \"cc\", \"meta\": {\"url\": ");
    lmc_buf_json(b, wet_at(f, rec->url), rec->url.len);
    meta_str(b, "date_download", wet_at(f, rec->date), rec->date.len);
    meta_str(b, "digest", wet_at(f, rec->digest), rec->digest.len);
    const char *host;
    size_t host_n;
    url_domain(wet_at(f, rec->url), rec->url.len, &host, &host_n);
    meta_str(b, "source_domain", host, host_n);
    meta_str(b, "title", wet_at(f, rec->title), rec->title.len);
    meta_str(b, "source_file", r->inputs[input], strlen(r->inputs[input]));
    lmc_buf_printf(b, ", \"record\": %zu", rec->index);
    meta_str(b, "record_id", wet_at(f, rec->record_id), rec->record_id.len);
    if (rec->lang.len) meta_str(b, "warc_language", wet_at(f, rec->lang), rec->lang.len);
    if (d->label[0]) {
        meta_str(b, "language", d->label, strlen(d->label));
        lmc_buf_printf(b, ", \"language_score\": %.2f", d->score);
    }
    if (r->qm) lmc_buf_printf(b, ", \"quality_ppl\": %.2f", d->ppl);
    lmc_buf_append(b, "}}\n", 3);
}

/* The chunk before's output lines, to the file (one thread, while the others judge the next chunk's lines, so
 * that the copy into the page cache is not a serial step); a failure is kept for write_chunk to report. */
static void write_pending(wet_run *r) {
    if (!r->pending) return;
    r->pending = 0;
    for (int t = 0; t < r->n_json; t++) {
        lmc_buf *b = &r->json[!r->cur][t];
        if (b->len && !r->write_errno && fwrite(b->p, 1, b->len, r->out) != b->len) r->write_errno = errno ? errno : EIO;
        b->len = 0;
    }
    /* start the disk writes of what went out now, so that the final fsync does not wait for the whole file (a
     * hint: its failure is seen by that fsync) */
    if (r->write_errno || fflush(r->out) != 0) {
        if (!r->write_errno) r->write_errno = errno ? errno : EIO;
        return;
    }
    off_t at = ftello(r->out);
    if (at > r->synced) sync_file_range(fileno(r->out), r->synced, at - r->synced, SYNC_FILE_RANGE_WRITE);
    r->synced = at;
}

/* The kept documents' lines: thread t writes the documents of its contiguous share into its buffer, and the
 * buffers go out in thread order, so the bytes are those of one thread writing them all. They go out with the
 * next chunk (or at the end of the input). */
static void make_json(wet_run *r, const wet_file *f, const size_t *idx, const out_doc *d, size_t n, size_t input) {
    int T = omp_get_max_threads();
    write_pending(r); /* when the chunk had no judging (the buffers are about to be reused) */
    if (T > r->n_json) {
        for (int k = 0; k < 2; k++) {
            r->json[k] = lmc_xrealloc(r->json[k], (size_t)T * sizeof *r->json[k]);
            memset(r->json[k] + r->n_json, 0, (size_t)(T - r->n_json) * sizeof *r->json[k]);
        }
        r->n_json = T;
    }
    lmc_buf *bufs = r->json[r->cur];
    for (int t = 0; t < r->n_json; t++) bufs[t].len = 0; /* the team may be smaller than asked */
#pragma omp parallel num_threads(T)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        lmc_buf *b = &bufs[t];
        for (size_t i = n * (size_t)t / (size_t)nt; i < n * (size_t)(t + 1) / (size_t)nt; i++)
            if (d[i].keep) json_line(b, r, f, &f->recs[idx[i]], input, &d[i]);
    }
    r->cur = !r->cur, r->pending = 1;
}

/* The second (or only) pass over one chunk: dedup, exclusion, language id, quality, the JSON lines. */
static int write_chunk(wet_run *r, const wet_file *f, size_t input, lmc_err *err) {
    size_t n, total = 0;
    size_t *idx = admitted(r, f, input, 1, &n);
    out_doc *d = lmc_xcalloc(n ? n : 1, sizeof *d);
#pragma omp parallel for schedule(dynamic, 64)
    for (size_t i = 0; i < n; i++) d[i].n_lines = count_lines(wet_at(f, f->recs[idx[i]].content), f->recs[idx[i]].content.len);
    for (size_t i = 0; i < n; i++) d[i].line0 = total, total += d[i].n_lines;
    if (total > r->lines_cap) {
        r->lines_cap = total + total / 2;
        r->line_h = lmc_xrealloc(r->line_h, r->lines_cap * sizeof *r->line_h);
        r->line_at = lmc_xrealloc(r->line_at, r->lines_cap * sizeof *r->line_at);
        r->line_keep = lmc_xrealloc(r->line_keep, r->lines_cap);
    }
    if (r->kept.cap < f->arena.len + 1) {
        free(r->kept.p);
        r->kept.p = lmc_xmalloc(f->arena.len + 1), r->kept.cap = f->arena.len + 1;
    }
    judge_lines(r, f, idx, d, n); /* and keep_lines */
    for (size_t i = 0; i < n; i++) {
        count_filter(&r->f[F_DEDUP], f->recs[idx[i]].chars, d[i].dedup_chars, d[i].lines > 0);
        if (r->exclude && d[i].lines > 0) count_filter(&r->f[F_EXCLUDE], d[i].dedup_chars, d[i].chars, d[i].keep);
    }
    int rc = r->lid_on ? identify(r, d, n, err) : 0;
#pragma omp parallel for schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++)
        if (r->qm && d[i].keep) d[i].ppl = round(ngram_perplexity(r->qm, d[i].text, d[i].len) * 100) / 100;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!d[i].keep) continue;
        r->out_docs++, r->out_chars += d[i].chars, r->out_bytes += d[i].len;
        if (r->qm && r->n_scores == r->cap_scores)
            r->scores = lmc_xrealloc(r->scores, (r->cap_scores = r->cap_scores ? 2 * r->cap_scores : 1024) * sizeof *r->scores);
        if (r->qm) r->scores[r->n_scores++] = (doc_score){d[i].ppl, d[i].chars, d[i].len};
    }
    if (rc == 0) make_json(r, f, idx, d, n, input);
    if (rc == 0 && r->write_errno) rc = lmc_fail(err, "write failed: %s", strerror(r->write_errno));
    free(d), free(idx);
    return rc;
}

/* ---- the manifest ------------------------------------------------------------------------------------ */

static void manifest_filters(lmc_buf *b, const wet_run *r) {
    const lmc_wet_opts *o = r->o;
    static const char *const MODES[] = {"two-pass", "keep-first", "off"};
    lmc_buf_append(b, "  \"filters\": [", 14);
    for (int i = 0; i < N_FILTERS; i++) {
        if ((i == F_LID && !r->lid_on) || (i == F_EXCLUDE && !r->exclude) || (i == F_QUALITY && !r->qm)) continue;
        lmc_buf_printf(b, "%s\n    {\"name\": \"%s\", \"params\": {", i ? "," : "", FILTER_NAMES[i]);
        if (i == F_DATE) {
            lmc_buf_append(b, "\"crawl_after\": ", 15);
            o->crawl_after ? lmc_buf_json(b, o->crawl_after, strlen(o->crawl_after)) : lmc_buf_printf(b, "null");
            lmc_buf_append(b, ", \"crawl_before\": ", 18);
            o->crawl_before ? lmc_buf_json(b, o->crawl_before, strlen(o->crawl_before)) : lmc_buf_printf(b, "null");
            lmc_buf_printf(b, ", \"on\": \"WARC-Date (crawl time, not when the text was written)\"");
        } else if (i == F_LENGTH) lmc_buf_printf(b, "\"min_len\": %ld, \"unit\": \"code points\"", o->min_len);
        else if (i == F_DEDUP)
            lmc_buf_printf(b, "\"mode\": \"%s\", \"group_files\": %ld, \"hash\": \"sha1[:8] little-endian of "
                              "normalize_for_dedup(line)\", \"distinct_lines_last_scope\": %zu, "
                              "\"line_set_peak_bytes\": %zu",
                           MODES[o->dedup], o->dedup_group, r->set.n, r->set_peak);
        else if (i == F_QUALITY)
            lmc_buf_printf(b, "\"model\": \"ngram-ref:%s\", \"order\": 5, \"smoothing\": \"interpolated Witten-Bell\", "
                              "\"kept\": \"head: perplexity at or below the pool's 30th percentile\", \"head_cutoff\": %.2f, "
                              "\"middle_cutoff\": %.2f", r->quality_sha, r->cut_head, r->cut_middle);
        else if (i == F_EXCLUDE) {
            lmc_buf_printf(b, "\"hashes\": ");
            lmc_buf_json(b, o->exclude_hashes, strlen(o->exclude_hashes));
            lmc_buf_printf(b, ", \"sha256\": \"%s\", \"distinct\": %zu, \"unit\": \"line\"", r->exclude_sha, r->n_exclude);
        } else {
            lmc_buf_printf(b, "\"model\": ");
            lmc_buf_json(b, o->lid_model, strlen(o->lid_model));
            lmc_buf_printf(b, ", \"model_sha256\": \"%s\", \"lang\": ", r->lid_model_sha);
            lmc_buf_json(b, o->lang, strlen(o->lang));
            lmc_buf_printf(b, ", \"min_score\": %.2f, \"input\": \"content with newlines deleted\"", o->lid_min_score);
        }
        const filter_count *c = &r->f[i];
        lmc_buf_printf(b, "}, \"docs_in\": %zu, \"docs_out\": %zu, \"chars_in\": %zu, \"chars_out\": %zu}",
                       c->docs_in, c->docs_out, c->chars_in, c->chars_out);
    }
    lmc_buf_append(b, "\n  ],\n", 6);
}

static void skipped_step(lmc_buf *b, int *n, const char *step, const char *why) {
    if (!why) return;
    lmc_buf_printf(b, "%s\n    {\"step\": \"%s\", \"reason\": ", (*n)++ ? "," : "", step);
    lmc_buf_json(b, why, strlen(why));
    lmc_buf_append(b, "}", 1);
}

static void manifest_skipped(lmc_buf *b, const wet_run *r) {
    int n = 0;
    lmc_buf_printf(b, "  \"skipped\": [");
    skipped_step(b, &n, "lid", r->lid_on ? NULL : r->o->lid ? r->lid_skipped : "not asked for (--lid off)");
    skipped_step(b, &n, "quality", r->qm ? NULL : "not asked for (--quality off); CCNet's head bucket needs its "
                                                   "Wikipedia KenLM models, which are not available offline");
    lmc_buf_printf(b, "\n  ],\n");
}

static char *manifest_text(const wet_run *r, const char *out_path) {
    lmc_buf b = {0};
    lmc_buf_printf(&b, "{\n  \"lmc_version\": \"%s\",\n  \"command\": \"corpus wet\",\n  \"arguments\": ", LMC_VERSION);
    const char *args = r->o->arguments ? r->o->arguments : "";
    lmc_buf_json(&b, args, strlen(args));
    lmc_buf_printf(&b, ",\n  \"seed\": null,\n  \"inputs\": [");
    for (size_t i = 0; i < r->n_inputs; i++) {
        lmc_buf_printf(&b, "%s\n    {\"path\": ", i ? "," : "");
        lmc_buf_json(&b, r->inputs[i], strlen(r->inputs[i]));
        lmc_buf_printf(&b, ", \"bytes\": %zu, \"sha256\": \"%s\"}", r->raw_bytes[i], r->sha[i]);
    }
    lmc_buf_printf(&b, "\n  ],\n  \"read\": {\"records\": %zu, \"documents\": %zu, \"not_conversion\": %zu, "
                       "\"malformed_header\": %zu, \"empty_body\": %zu, \"invalid_utf8\": %zu, "
                       "\"content_length_mismatches\": %zu, \"problems\": %zu, \"problems_named\": [\n    ",
                   r->records, r->docs, r->not_conversion, r->bad_header, r->empty, r->bad_utf8,
                   r->length_mismatches, r->n_problems);
    lmc_buf_append(&b, r->problems.p ? r->problems.p : "", r->problems.len);
    lmc_buf_printf(&b, "]},\n");
    manifest_filters(&b, r);
    manifest_skipped(&b, r);
    lmc_buf_printf(&b, "  \"output\": {\"path\": ");
    lmc_buf_json(&b, out_path, strlen(out_path));
    lmc_buf_printf(&b, ", \"subset\": \"cc\", \"documents\": %zu, \"chars\": %zu, \"bytes\": %zu}\n}\n", r->out_docs,
                   r->out_chars, r->out_bytes);
    lmc_buf_append(&b, "", 1);
    return b.p;
}

/* ---- the run ------------------------------------------------------------------------------------------- */

/* Language id runs only with a model file and the program; otherwise it is recorded as skipped. */
static int setup_lid(wet_run *r, lmc_err *err) {
    const lmc_wet_opts *o = r->o;
    const char *program = o->fasttext ? o->fasttext : "fasttext";
    if (!o->lid) return 0;
    if (!o->lid_model) snprintf(r->lid_skipped, sizeof r->lid_skipped, "no --lid-model given");
    else if (!lmc_file_exists(o->lid_model))
        snprintf(r->lid_skipped, sizeof r->lid_skipped, "%s: model file not found", o->lid_model);
    else if (!corpus_program_found(program))
        snprintf(r->lid_skipped, sizeof r->lid_skipped, "%s: program not found (Debian package fasttext)", program);
    else {
        r->lid_on = 1;
        return corpus_sha256_file(o->lid_model, r->lid_model_sha, err);
    }
    return 0;
}

static void report(wet_run *r, const char *phase, const wet_reader *rd, size_t *raw_seen, size_t *text_seen) {
    size_t raw = wet_reader_raw_done(rd);
    r->prog.phase = phase, r->prog.unit = "bytes";
    r->prog.done += raw - *raw_seen, r->prog.text_bytes += rd->text_bytes - *text_seen;
    *raw_seen = raw, *text_seen = rd->text_bytes;
    if (r->o->progress) r->o->progress(&r->prog, r->o->progress_user);
}

/* One pass over input i: counting (the set) or writing (which also hashes the file and counts its damage).
 * Language id runs fastText once per chunk, so its chunks are longer (the program loads its model each time). */
static int pass_input(wet_run *r, size_t i, int writing, lmc_err *err) {
    wet_reader rd;
    size_t chunk = r->o->chunk_bytes ? r->o->chunk_bytes : r->lid_on ? 16 * (size_t)WET_CHUNK : WET_CHUNK;
    if (wet_reader_open(&rd, r->inputs[i], chunk, writing, err)) return -1;
    size_t raw_seen = 0, text_seen = 0;
    int rc = 0;
    r->reading = &rd;
    while (rc == 0 && wet_reader_next(&rd, &r->chunk)) {
        if (writing) rc = write_chunk(r, &r->chunk, i, err);
        else count_chunk(r, &r->chunk, i);
        report(r, writing ? "writing" : "hashing", &rd, &raw_seen, &text_seen);
    }
    if (writing) {
        wet_reader_sha256(&rd, r->sha[i]);
        r->raw_bytes[i] = rd.raw_n;
        r->length_mismatches += rd.length_mismatches;
        if (rd.gzip_problem[0]) problem(r, i, -1, rd.gzip_problem);
    }
    wet_reader_close(&rd);
    return rc;
}

/* Every dedup scope: the counting pass (unless dedup is off), then the pass that writes. */
static int run_scopes(wet_run *r, lmc_err *err) {
    size_t group = r->o->dedup_group > 0 ? (size_t)r->o->dedup_group : r->n_inputs;
    for (size_t g = 0; g < r->n_inputs; g += group) {
        size_t end = g + group < r->n_inputs ? g + group : r->n_inputs;
        line_set_free(&r->set);
        for (size_t i = g; r->o->dedup != LMC_DEDUP_OFF && i < end; i++)
            if (pass_input(r, i, 0, err)) return -1;
        line_set_seal(&r->set);
        if (r->set.peak > r->set_peak) r->set_peak = r->set.peak;
        for (size_t i = g; i < end; i++)
            if (pass_input(r, i, 1, err)) return -1;
    }
    return 0;
}

/* ---- the quality head ------------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy's default (linear) percentile q of sorted v[0..n). */
static double percentile(const double *v, size_t n, double q) {
    if (!n) return 0;
    double pos = q * (double)(n - 1), lo = floor(pos);
    size_t i = (size_t)lo;
    return i + 1 < n ? v[i] + (pos - lo) * (v[i + 1] - v[i]) : v[i];
}

/* Copies the written lines of tmp into tmp2, keeping the head (perplexity at or below the pool's 30th
 * percentile), each with meta.quality_bucket; the counts follow. */
static int keep_head(wet_run *r, const char *tmp, const char *tmp2, lmc_err *err) {
    double *v = lmc_xmalloc((r->n_scores ? r->n_scores : 1) * sizeof *v);
    for (size_t i = 0; i < r->n_scores; i++) v[i] = r->scores[i].ppl;
    qsort(v, r->n_scores, sizeof *v, cmp_double);
    r->cut_head = percentile(v, r->n_scores, 0.3), r->cut_middle = percentile(v, r->n_scores, 0.6);
    free(v);
    FILE *in = fopen(tmp, "rb"), *out = in ? fopen(tmp2, "wb") : NULL;
    char *line = NULL;
    size_t cap = 0, i = 0;
    ssize_t got;
    r->out_docs = r->out_chars = r->out_bytes = 0;
    while (out && (got = getline(&line, &cap, in)) > 3 && i < r->n_scores) {
        const doc_score *d = &r->scores[i++];
        int head = d->ppl <= r->cut_head;
        count_filter(&r->f[F_QUALITY], d->chars, d->chars, head);
        if (!head) continue;
        r->out_docs++, r->out_chars += d->chars, r->out_bytes += d->bytes;
        fwrite(line, 1, (size_t)got - 3, out); /* the line without its closing "}}\n" */
        fputs(", \"quality_bucket\": \"head\"}}\n", out);
    }
    free(line);
    int rc = out && !ferror(out) && fflush(out) == 0 && fsync(fileno(out)) == 0 ? 0 : -1;
    if (out && fclose(out)) rc = -1;
    if (in) fclose(in);
    if (rc || rename(tmp2, tmp)) { unlink(tmp2); return lmc_fail(err, "%s: write failed: %s", tmp2, strerror(errno)); }
    return 0;
}

/* Output complete: flushed to disk, the manifest written, then the output renamed into place. */
static int finish(wet_run *r, const char *tmp, const char *out_path, lmc_err *err) {
    write_pending(r);
    if (r->write_errno) errno = r->write_errno;
    int rc = r->write_errno || fflush(r->out) || fsync(fileno(r->out))
                 ? lmc_fail(err, "%s: write failed: %s", tmp, strerror(errno)) : 0;
    if (fclose(r->out) && rc == 0) rc = lmc_fail(err, "%s: write failed: %s", tmp, strerror(errno));
    r->out = NULL;
    char tmp2[4300];
    snprintf(tmp2, sizeof tmp2, "%s.head", tmp);
    if (rc == 0 && r->qm) rc = keep_head(r, tmp, tmp2, err);
    char mpath[4200];
    lmc_corpus_manifest_path(out_path, mpath, sizeof mpath);
    char *m = rc ? NULL : manifest_text(r, out_path);
    if (m) rc = lmc_write_file_atomic(mpath, m, strlen(m), err);
    free(m);
    if (rc == 0 && rename(tmp, out_path) != 0) {
        rc = lmc_fail(err, "%s: cannot rename into place: %s", out_path, strerror(errno));
        unlink(mpath);
    }
    return rc;
}

int lmc_corpus_wet(const lmc_wet_opts *o, const char *const *inputs, size_t n_inputs, const char *out_path,
                   lmc_corpus_summary *sum, lmc_err *err) {
    wet_run r = {.o = o, .inputs = inputs, .n_inputs = n_inputs};
    if (n_inputs == 0) return lmc_fail(err, "corpus wet: no input files");
    for (size_t i = 0; i < n_inputs; i++) { /* fail before writing anything when an input is missing */
        struct stat st;
        if (stat(inputs[i], &st) != 0) return lmc_fail(err, "%s: cannot open: %s", inputs[i], strerror(errno));
        r.prog.total += (uint64_t)st.st_size * (o->dedup == LMC_DEDUP_OFF ? 1 : 2);
    }
    if (setup_lid(&r, err)) return -1;
    if (o->quality && !o->quality_ref) return lmc_fail(err, "corpus wet: --quality ngram needs --quality-ref REF");
    if (o->quality && (corpus_sha256_file(o->quality_ref, r.quality_sha, err) || ngram_train(o->quality_ref, &r.qm, err)))
        return -1;
    if (o->exclude_hashes && (corpus_sha256_file(o->exclude_hashes, r.exclude_sha, err) ||
                              corpus_hashes_load(o->exclude_hashes, &r.exclude, &r.n_exclude, err)))
        return -1;
    lmc_threads_init(o->threads);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
    if (!(r.out = fopen(tmp, "wb"))) return lmc_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
    r.sha = lmc_xcalloc(n_inputs, sizeof *r.sha);
    r.raw_bytes = lmc_xcalloc(n_inputs, sizeof *r.raw_bytes);
    int rc = run_scopes(&r, err);
    if (rc == 0) rc = finish(&r, tmp, out_path, err);
    if (r.out) fclose(r.out);
    if (rc) unlink(tmp);
    if (rc == 0 && sum)
        *sum = (lmc_corpus_summary){r.records, r.out_docs, r.out_chars, r.out_bytes, r.n_problems,
                                    o->lid && !r.lid_on};
    line_set_free(&r.set);
    wet_file_free(&r.chunk);
    lmc_buf_free(&r.kept);
    for (int k = 0; k < 2; k++) {
        for (int t = 0; t < r.n_json; t++) lmc_buf_free(&r.json[k][t]);
        free(r.json[k]);
    }
    free(r.line_h), free(r.line_at), free(r.line_keep);
    lmc_buf_free(&r.problems);
    free(r.sha), free(r.raw_bytes), free(r.exclude), free(r.scores);
    ngram_free(r.qm);
    return rc;
}
