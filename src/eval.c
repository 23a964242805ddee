/* eval.c — the evaluator: the only place that knows the whole path
 *   corpus file → documents → token ids → windows → forward → scored NLL → result,
 * plus progress reports (a callback), checkpoint/resume (checkpoint.h) and the per-window / per-document logs.
 * See SPEC.md §1–4 for the contract this follows to the letter.
 *
 * Summation orders (they make results reproducible to the bit):
 *   - a window's NLL is the sum of its scored rows in row order (lmc_score_rows);
 *   - the total NLL is the sum of the window NLLs in window order k = 0, 1, …, K−1, whether each window was
 *     computed now or read back from a checkpoint (its exact double bits);
 *   - a document's NLL is, for k = 0, 1, …, the sum of window k's rows whose target lies in that document
 *     (row order), added in window order. The per-document NLLs therefore add up to the total only up to
 *     floating-point rounding: the total is the window sum, not the sum of the per-document values. */
#include "checkpoint.h"
#include "lmc.h"
#include "model.h"
#include "score.h"
#include "threads.h"
#include "tokenizer/tokenizer.h"
#include "util.h"
#include "windows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- documents → one token stream --------------------------------------------------------------- */

/* ids: the concatenated stream; doc_start (n_docs + 1): doc d's tokens are ids[doc_start[d] .. doc_start[d+1]). */
static int tokenize_corpus(lmc_tokenizer *tok, const lmc_corpus *c, const char *path, int32_t **ids, size_t *n,
                           size_t **doc_start, lmc_err *err) {
    size_t cap = 0, len = 0;
    int32_t *all = NULL;
    size_t *starts = lmc_xmalloc((c->n_docs + 1) * sizeof *starts);
    for (size_t d = 0; d < c->n_docs; d++) {
        int32_t *di;
        size_t dn;
        lmc_err e2;
        starts[d] = len;
        if (lmc_tokenize(tok, c->docs[d].text, c->docs[d].len, 1, &di, &dn, &e2)) {
            free(all);
            free(starts);
            return lmc_fail(err, "%s: document %zu: %s", path, d + 1, e2.msg);
        }
        if (len + dn > cap) {
            cap = (len + dn) * 2;
            all = lmc_xrealloc(all, cap * sizeof *all);
        }
        if (dn) memcpy(all + len, di, dn * sizeof *di);
        len += dn;
        free(di);
    }
    starts[c->n_docs] = len;
    *ids = all;
    *n = len;
    *doc_start = starts;
    return 0;
}

static void sha256_tokens(const int32_t *ids, size_t n, char hex[65]) {
    lmc_sha256 s;
    lmc_sha256_init(&s);
    unsigned char buf[4096];
    size_t fill = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)ids[i];
        for (int b = 0; b < 4; b++) buf[fill++] = (unsigned char)(u >> (8 * b));
        if (fill == sizeof buf) { lmc_sha256_update(&s, buf, fill); fill = 0; }
    }
    lmc_sha256_update(&s, buf, fill);
    lmc_sha256_final_hex(&s, hex);
}

/* ---- zlib baseline -------------------------------------------------------------------------------- */

/* Size of zlib.compress(b"".join(documents), 9): zlib format (deflate, 15-bit window, memLevel 8, 2-byte
 * header, 4-byte Adler-32), documents concatenated with nothing between them. 0 on a zlib failure. */
static size_t zlib_size(const lmc_corpus *c) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit(&z, 9) != Z_OK) return 0;
    unsigned char out[1 << 16];
    size_t total = 0;
    int rc = Z_OK;
    for (size_t d = 0; d <= c->n_docs && rc != Z_STREAM_ERROR; d++) {
        int last = d == c->n_docs;
        const unsigned char *p = last ? NULL : (const unsigned char *)c->docs[d].text;
        size_t left = last ? 0 : c->docs[d].len;
        do { /* feed at most 1 GiB per call: avail_in is 32-bit */
            size_t take = left < ((size_t)1 << 30) ? left : ((size_t)1 << 30);
            z.next_in = (unsigned char *)p;
            z.avail_in = (uInt)take;
            p += take;
            left -= take;
            int flush = last ? Z_FINISH : Z_NO_FLUSH;
            do {
                z.next_out = out;
                z.avail_out = sizeof out;
                rc = deflate(&z, flush);
                if (rc == Z_STREAM_ERROR) break;
                total += sizeof out - z.avail_out;
            } while (z.avail_out == 0 || z.avail_in > 0);
        } while (left > 0 && rc != Z_STREAM_ERROR);
    }
    deflateEnd(&z);
    return rc == Z_STREAM_END ? total : 0;
}

/* ---- progress ------------------------------------------------------------------------------------- */

typedef struct progress {
    const lmc_eval_opts *o;
    double t0, last;
    lmc_progress p;
} progress;

static void progress_init(progress *pr, const lmc_eval_opts *o, const char *path, size_t K, size_t resumed) {
    memset(pr, 0, sizeof *pr);
    pr->o = o;
    pr->t0 = pr->last = lmc_now();
    pr->p.data = path;
    pr->p.total = K;
    pr->p.resumed = resumed;
}

/* done: windows finished (resumed + computed); computed: windows computed in this run; run_bpc: running BPC. */
static void progress_show(progress *pr, size_t done, size_t computed, int W, double run_bpc, int final) {
    if (!pr->o->progress) return;
    double now = lmc_now(), el = now - pr->t0;
    if (!final && now - pr->last < pr->o->progress_interval) return;
    pr->last = now;
    lmc_progress *p = &pr->p;
    p->done = done;
    p->elapsed = el;
    p->window_tokens_per_s = el > 0 ? (double)computed * W / el : 0;
    p->eta = final ? 0 : computed ? el / (double)computed * (double)(p->total - done) : NAN;
    p->bpc = run_bpc;
    p->final = final;
    pr->o->progress(p, pr->o->progress_user);
}

/* ---- per-window / per-document logs --------------------------------------------------------------- */

static int write_per_window(const char *out, int W, int S, size_t K, const double *wnll, lmc_err *err) {
    lmc_buf b = {0};
    for (size_t k = 0; k < K; k++) {
        lmc_window w = lmc_window_at(W, S, k);
        lmc_buf_printf(&b, "{\"k\":%zu,\"start\":%zu,\"scored\":%d,\"nll\":%.17g}\n", k, w.start, w.score_count,
                       wnll[k]);
    }
    int rc = lmc_write_file_atomic(out, b.p ? b.p : "", b.len, err);
    lmc_buf_free(&b);
    return rc;
}

static int write_per_doc(const char *out, const lmc_corpus *c, const size_t *doc_start, const double *dnll,
                         const size_t *dscored, lmc_err *err) {
    lmc_buf b = {0};
    for (size_t d = 0; d < c->n_docs; d++)
        lmc_buf_printf(&b, "{\"index\":%zu,\"chars\":%zu,\"bytes\":%zu,\"tokens\":%zu,\"scored_tokens\":%zu,"
                           "\"nll\":%.17g}\n", d, c->docs[d].chars, c->docs[d].len, doc_start[d + 1] - doc_start[d],
                       dscored[d], dnll[d]);
    int rc = lmc_write_file_atomic(out, b.p ? b.p : "", b.len, err);
    lmc_buf_free(&b);
    return rc;
}

/* ---- the evaluation --------------------------------------------------------------------------------- */

/* Splits window w's scored rows (row_nll, w.score_count of them) by the document of their target. */
static size_t split_by_doc(const lmc_window *w, const double *row_nll, const size_t *doc_start, size_t n_docs,
                           lmc_ckpt_part *parts) {
    size_t p0 = w->start + (size_t)w->score_from + 1; /* stream index of the first scored target */
    /* the document holding p0: the last d with doc_start[d] <= p0 (skipping token-less documents) */
    size_t lo = 0, hi = n_docs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (doc_start[mid] <= p0) lo = mid;
        else hi = mid;
    }
    size_t d = lo, n = 0;
    for (int i = 0; i < w->score_count; i++) {
        size_t p = p0 + (size_t)i;
        while (d + 1 < n_docs && doc_start[d + 1] <= p) d++;
        if (n == 0 || parts[n - 1].doc != d) {
            parts[n].doc = d;
            parts[n].nll = 0;
            n++;
        }
        parts[n - 1].nll += row_nll[i];
    }
    return n;
}

typedef struct eval_bufs {
    lmc_corpus     c;
    int32_t       *ids;
    size_t        *doc_start;
    float         *hidden;
    double        *row_nll, *wnll, *dnll;
    size_t        *dscored;
    lmc_ckpt_part *parts;
    lmc_ckpt      *ck;
} eval_bufs;

static void bufs_free(eval_bufs *b) {
    lmc_corpus_free(&b->c);
    free(b->ids);
    free(b->doc_start);
    free(b->hidden);
    free(b->row_nll);
    free(b->wnll);
    free(b->dnll);
    free(b->dscored);
    free(b->parts);
    lmc_ckpt_close(b->ck, NULL);
}

void lmc_result_free(lmc_result *r) {
    if (!r) return;
    free(r->doc_stats);
    r->doc_stats = NULL;
}

int lmc_evaluate(lmc_model *m, lmc_tokenizer *tok, const char *path, const lmc_eval_opts *o, lmc_result *r,
                 lmc_err *err) {
    double t_start = lmc_now();
    memset(r, 0, sizeof *r);
    snprintf(r->data, sizeof r->data, "%s", path);
    int W = o->block_size, S = o->stride;
    r->block_size = W;
    r->stride = S;
    r->file_num = o->file_num;
    if (lmc_model_check_window(m, W, err)) return -1; /* before the corpus is read */

    eval_bufs b;
    memset(&b, 0, sizeof b);
    progress pr;
    int rc = -1;
    lmc_corpus_opts co = {.file_num = o->file_num, .skip_bad = o->skip_bad};
    if (lmc_corpus_load(path, &co, &b.c, err)) return -1;
    const lmc_corpus *c = &b.c;
    r->docs = c->n_docs;
    r->chars = c->chars;
    r->bytes = c->bytes;
    r->skipped = c->skipped;
    r->records = c->records;
    if (c->n_docs == 0) {
        lmc_fail(err, "%s: no non-empty documents (%zu records read%s): BPC is undefined", path, c->records,
                 c->skipped ? ", some skipped as malformed" : "");
        goto out;
    }
    size_t N = 0;
    if (tokenize_corpus(tok, c, path, &b.ids, &N, &b.doc_start, err)) goto out;
    r->tokens = N;
    r->zlib_bytes = zlib_size(c);
    r->zlib_bpc = r->zlib_bytes ? 8.0 * (double)r->zlib_bytes / (double)c->chars : NAN;
    sha256_tokens(b.ids, N, r->tokens_sha256);
    if (lmc_file_sha256(path, r->data_sha256, err)) goto out;

    size_t K;
    if (lmc_windows_count(N, W, S, &K, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        lmc_fail(err, "%s (%zu documents, %zu characters, %zu bytes): %s", path, c->n_docs, c->chars, c->bytes, msg);
        goto out;
    }
    r->windows = K;
    r->scored_tokens = lmc_windows_scored(W, S, K);

    if (o->checkpoint) {
        lmc_ckpt_fp fp;
        lmc_ckpt_fingerprint(&fp, m, o->model_sha256, tok, o, path, r, c->n_docs);
        if (lmc_ckpt_open(o->checkpoint, &fp, &b.ck, err)) goto out;
        r->resumed_windows = lmc_ckpt_done(b.ck);
        r->torn_records = lmc_ckpt_torn(b.ck);
    }

    b.hidden = malloc(sizeof(float) * (size_t)W * m->info.dim);
    b.row_nll = malloc(sizeof(double) * (size_t)W);
    b.wnll = malloc(sizeof(double) * K);
    b.dnll = calloc(c->n_docs, sizeof(double));
    b.dscored = calloc(c->n_docs, sizeof(size_t));
    b.parts = malloc(sizeof(lmc_ckpt_part) * (size_t)W);
    if (!b.hidden || !b.row_nll || !b.wnll || !b.dnll || !b.dscored || !b.parts) {
        lmc_fail(err, "out of memory for a %d-token window", W);
        goto out;
    }

    progress_init(&pr, o, path, K, r->resumed_windows);
    double nll = 0, fwd = 0;
    size_t computed = 0, scored_so_far = 0;
    for (size_t k = 0; k < K; k++) {
        lmc_window w = lmc_window_at(W, S, k);
        const lmc_ckpt_part *parts;
        size_t n_parts;
        double wn;
        if (!lmc_ckpt_get(b.ck, k, &wn, &parts, &n_parts)) {
            double t0 = lmc_now();
            const int32_t *in = b.ids + w.start;
            if (lmc_model_hidden(m, in, W, b.hidden, err)) goto out;
            /* targets of input row i are in[i + 1]: pass the stream shifted by one */
            if (lmc_score_rows(m->info.lm_head, b.hidden, in + 1, w.score_from, w.score_count, &wn, b.row_nll, err))
                goto out;
            fwd += lmc_now() - t0;
            computed++;
            /* A NaN never becomes a number: a non-finite NLL stops the run before anything records it. */
            for (int i = 0; i < w.score_count; i++)
                if (!isfinite(b.row_nll[i]) || !isfinite(wn)) {
                    double v = isfinite(b.row_nll[i]) ? wn : b.row_nll[i];
                    lmc_fail(err, "%s: the model produced a non-finite NLL (%s) in window %zu at token %zu of %s: its "
                                  "logits hold NaN/Inf, so its weights probably do (check with --check-weights); no "
                                  "result written", m->path, isnan(v) ? "NaN" : "Inf", k,
                             w.start + (size_t)w.score_from + 1 + (size_t)i, path);
                    goto out;
                }
            n_parts = split_by_doc(&w, b.row_nll, b.doc_start, c->n_docs, b.parts);
            parts = b.parts;
            if (b.ck && lmc_ckpt_append(b.ck, k, wn, parts, n_parts, err)) goto out;
        }
        b.wnll[k] = wn;
        nll += wn;
        for (size_t i = 0; i < n_parts; i++) b.dnll[parts[i].doc] += parts[i].nll;
        scored_so_far += (size_t)w.score_count;
        double run_bpc = nll / ((double)c->chars * (double)scored_so_far / (double)r->scored_tokens * M_LN2);
        progress_show(&pr, k + 1, computed, W, run_bpc, k + 1 == K);
    }
    /* scored targets per document: a pure function of the window geometry */
    {
        size_t p0 = 1, p1 = 1 + r->scored_tokens; /* scored targets are stream positions [1, 1 + scored) */
        for (size_t d = 0; d < c->n_docs; d++) {
            size_t a = b.doc_start[d] > p0 ? b.doc_start[d] : p0, e = b.doc_start[d + 1] < p1 ? b.doc_start[d + 1] : p1;
            b.dscored[d] = e > a ? e - a : 0;
        }
    }
    if (b.ck) {
        lmc_ckpt *ck = b.ck;
        b.ck = NULL;
        if (lmc_ckpt_close(ck, err)) goto out;
    }
    if (o->per_window && write_per_window(o->per_window, W, S, K, b.wnll, err)) goto out;
    if (o->per_doc && write_per_doc(o->per_doc, c, b.doc_start, b.dnll, b.dscored, err)) goto out;

    if (o->doc_stats) {
        r->doc_stats = malloc(sizeof *r->doc_stats * c->n_docs);
        if (!r->doc_stats) {
            lmc_fail(err, "out of memory for %zu per-document statistics", c->n_docs);
            goto out;
        }
        for (size_t d = 0; d < c->n_docs; d++)
            r->doc_stats[d] = (lmc_doc_stat){b.dnll[d], b.doc_start[d + 1] - b.doc_start[d], b.dscored[d],
                                             c->docs[d].chars, c->docs[d].len};
    }
    r->nll = nll;
    r->bpc = nll / ((double)r->chars * M_LN2);
    r->bpb = nll / ((double)r->bytes * M_LN2);
    r->token_ppl = exp(nll / (double)r->scored_tokens);
    r->forward_seconds = fwd;
    r->tokens_per_s = fwd > 0 ? (double)computed * W / fwd : 0;
    r->seconds = lmc_now() - t_start;
    rc = 0;
out:
    bufs_free(&b);
    return rc;
}
