/* eval.c — the evaluator: the only place that knows the whole path
 *   corpus file → documents → token ids → windows → forward → scored NLL → result,
 * plus progress reports (a callback), checkpoint/resume (checkpoint.h), the per-window / per-document logs, and
 * the work plan when several processes share the windows (--shard, MPI ranks through dist.h).
 * See SPEC.md §1–4 for the contract this follows to the letter.
 *
 * Summation orders (they make results reproducible to the bit):
 *   - a window's NLL is the sum of its scored rows in row order (lmc_score_rows);
 *   - the total NLL is the sum of the window NLLs in window order k = 0, 1, …, K−1, whether each window was
 *     computed now, read back from a checkpoint or received from another MPI rank (its exact double bits), so
 *     the result does not depend on who computed what (--shard parts are summed the same way by lmc merge);
 *   - a document's NLL is, for k = 0, 1, …, the sum of window k's rows whose target lies in that document
 *     (row order), added in window order. The per-document NLLs therefore add up to the total only up to
 *     floating-point rounding: the total is the window sum, not the sum of the per-document values. */
#include "eval/checkpoint.h"
#include "eval/tokens.h"
#include "eval/dist.h"
#include "lmc.h"
#include "model/model.h"
#include "eval/score.h"
#include "common/threads.h"
#include "tokenizer/tokenizer.h"
#include "common/util.h"
#include "eval/windows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <dirent.h>
#include <stdint.h>

/* ---- documents → one token stream --------------------------------------------------------------- */

int lmc_corpus_tokens(lmc_tokenizer *tok, const lmc_corpus *c, const char *path, int32_t **ids, size_t *n,
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

/* keep (K, or NULL for all): the windows to log (a shard logs its own). */
static int write_per_window(const char *out, int W, int S, size_t K, const double *wnll, const unsigned char *keep,
                            lmc_err *err) {
    lmc_buf b = {0};
    for (size_t k = 0; k < K; k++) {
        if (keep && !keep[k]) continue;
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

/* ---- the window table: every window's NLL as it becomes known ------------------------------------ */

/* Windows arrive in any order: read back from checkpoints, computed here, received from other ranks. The table
 * holds each one's exact NLL and document parts; the result is summed from it in window order (combine), so it
 * is the same double however the windows were computed and by whom. */
typedef struct wtable {
    size_t         K, held;            /* windows, and how many are held */
    unsigned char *have;               /* (K) */
    double        *nll;                /* (K) */
    size_t        *part_off, *part_n;  /* (K) into parts */
    lmc_ckpt_part *parts;              /* (n_parts) */
    size_t         n_parts, cap_parts;
    double         nll_sum;            /* Σ nll in arrival order, for the running BPC only */
    size_t         scored;             /* Σ scored targets of the held windows, likewise */
} wtable;

static void wt_init(wtable *t, size_t K) {
    memset(t, 0, sizeof *t);
    size_t K1 = K ? K : 1;
    t->K = K;
    t->have = lmc_xcalloc(K1, 1);
    t->nll = lmc_xcalloc(K1, sizeof *t->nll);
    t->part_off = lmc_xcalloc(K1, sizeof *t->part_off);
    t->part_n = lmc_xcalloc(K1, sizeof *t->part_n);
}

static void wt_free(wtable *t) {
    free(t->have);
    free(t->nll);
    free(t->part_off);
    free(t->part_n);
    free(t->parts);
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Stores window k; a window already held must come with the same bits (two checkpoints, or a checkpoint and a
 * rank, that disagree mean the files were mixed up: refused rather than silently picking one). */
static int wt_put(wtable *t, int W, int S, size_t k, double nll, const lmc_ckpt_part *p, size_t n, lmc_err *err) {
    if (t->have[k]) {
        int same = same_bits(t->nll[k], nll) && t->part_n[k] == n;
        for (size_t i = 0; same && i < n; i++)
            same = t->parts[t->part_off[k] + i].doc == p[i].doc && same_bits(t->parts[t->part_off[k] + i].nll, p[i].nll);
        return same ? 0 : lmc_fail(err, "window %zu is held twice with different values (checkpoints of different "
                                        "runs mixed up?); refusing to combine them", k);
    }
    if (t->n_parts + n > t->cap_parts) {
        t->cap_parts = (t->n_parts + n) * 2 + 64;
        t->parts = lmc_xrealloc(t->parts, t->cap_parts * sizeof *t->parts);
    }
    memcpy(t->parts + t->n_parts, p, n * sizeof *p);
    t->part_off[k] = t->n_parts;
    t->part_n[k] = n;
    t->n_parts += n;
    t->nll[k] = nll;
    t->have[k] = 1;
    t->held++;
    t->nll_sum += nll;
    t->scored += (size_t)lmc_window_at(W, S, k).score_count;
    return 0;
}

/* ---- between ranks (dist.h): one message per window --------------------------------------------------- */

/* A window record as bytes: this head, then n_parts lmc_ckpt_part (same executable on every rank). */
typedef struct wmsg_head {
    uint64_t k, n_parts, computed; /* computed: in this run (1) or read from a checkpoint (0) */
    double   nll;
} wmsg_head;

static int send_window(lmc_dist *d, int tag, size_t k, double nll, const lmc_ckpt_part *p, size_t n, int computed,
                       lmc_buf *scratch, lmc_err *err) {
    wmsg_head h = {k, n, (uint64_t)computed, nll};
    scratch->len = 0;
    lmc_buf_append(scratch, &h, sizeof h);
    lmc_buf_append(scratch, p, n * sizeof *p);
    return d->send(d, tag, scratch->p, scratch->len, err);
}

/* Root: stores one received record; *computed says whether a rank computed it in this run, *added whether it
 * was new here (a window both rank 0's files and another rank's hold arrives as a duplicate). */
static int take_window(const lmc_buf *msg, wtable *t, int W, int S, size_t n_docs, int *computed, int *added,
                       lmc_err *err) {
    wmsg_head h;
    if (msg->len < sizeof h) return lmc_fail(err, "internal error: short window message from another rank");
    memcpy(&h, msg->p, sizeof h);
    if (h.k >= t->K || h.n_parts == 0 || h.n_parts > (uint64_t)W || msg->len != sizeof h + h.n_parts * sizeof(lmc_ckpt_part))
        return lmc_fail(err, "internal error: malformed window message from another rank (window %llu)",
                        (unsigned long long)h.k);
    const lmc_ckpt_part *p = (const lmc_ckpt_part *)(msg->p + sizeof h);
    for (uint64_t i = 0; i < h.n_parts; i++)
        if (p[i].doc >= n_docs) return lmc_fail(err, "internal error: window message names document %zu", p[i].doc);
    *computed = h.computed != 0;
    *added = !t->have[h.k];
    return wt_put(t, W, S, (size_t)h.k, h.nll, p, (size_t)h.n_parts, err);
}

/* Every rank must compute the same evaluation: same model, data, settings, executable, BLAS and CPU kernel
 * path (a host with other CPU features would round differently, and the result would depend on which rank
 * computed which window). Collective. */
static int dist_check_same(lmc_dist *d, const char *fp_text, lmc_err *err) {
    lmc_buf root = {0}, diff = {0};
    unsigned char *bad = lmc_xcalloc((size_t)d->size, 1);
    int rc = -1;
    if (d->rank == 0) lmc_buf_append(&root, fp_text, strlen(fp_text) + 1);
    if (d->bcast(d, &root, err)) goto out;
    if (!root.len || root.p[root.len - 1]) { lmc_fail(err, "internal error: bad fingerprint from rank 0"); goto out; }
    bad[d->rank] = lmc_ckpt_fp_diff(root.p, fp_text, &diff) > 0;
    if (d->or_all(d, bad, (size_t)d->size, err)) goto out;
    for (int j = 0; j < d->size; j++)
        if (bad[j]) {
            if (j == d->rank)
                lmc_fail(err, "rank %d of %d evaluates something else than rank 0 (%s differ%s): every rank needs the "
                              "same model, data, settings, lmc executable, BLAS and CPU features for a bit-identical "
                              "result", j, d->size, diff.p, strchr(diff.p, ',') ? "" : "s");
            else
                lmc_fail(err, "rank %d of %d evaluates something else than rank 0 (see its message): every rank "
                              "needs the same model, data, settings, lmc executable, BLAS and CPU features", j, d->size);
            goto out;
        }
    rc = 0;
out:
    lmc_buf_free(&root);
    lmc_buf_free(&diff);
    free(bad);
    return rc;
}

/* ---- checkpoints under MPI ------------------------------------------------------------------------------ */

/* Each rank records its own windows durably in its own file (rank 0 in PATH, rank r in PATH.r<r>), so a kill
 * of the whole job loses no finished window of any rank. Rank 0 also takes over the files of ranks that an
 * earlier, larger job had (PATH.r<j>, j >= R; with R = 1 every PATH.r<j>, which is how a run without MPI
 * resumes an MPI job's windows): a rerun with any R computes only what no file holds. */
static void rank_ckpt_path(char *out, size_t cap, const char *path, int rank) {
    if (rank == 0) snprintf(out, cap, "%s", path);
    else snprintf(out, cap, "%s.r%d", path, rank);
}

typedef struct ckpt_set {
    lmc_ckpt **c; /* (n) c[0]: this rank's own file, then the ones taken over */
    size_t     n;
} ckpt_set;

static int ckpt_set_add(ckpt_set *s, const char *path, const lmc_ckpt_fp *fp, lmc_err *err) {
    lmc_ckpt *c;
    if (lmc_ckpt_open(path, fp, &c, err)) return -1;
    s->c = lmc_xrealloc(s->c, (s->n + 1) * sizeof *s->c);
    s->c[s->n++] = c;
    return 0;
}

static int ckpt_set_close(ckpt_set *s, lmc_err *err) {
    int rc = 0;
    for (size_t i = 0; i < s->n; i++)
        if (lmc_ckpt_close(s->c[i], err)) rc = -1;
    free(s->c);
    s->c = NULL;
    s->n = 0;
    return rc;
}

static int open_orphans(ckpt_set *s, const char *path, int R, const lmc_ckpt_fp *fp, lmc_err *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? path + (slash - dir) + 1 : path;
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    DIR *dh = opendir(dir);
    if (!dh) return 0; /* lmc_ckpt_open on our own file reports a bad directory */
    size_t bl = strlen(base);
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(dh));) {
        const char *n = e->d_name;
        if (strncmp(n, base, bl) || strncmp(n + bl, ".r", 2) || !n[bl + 2]) continue;
        long j = 0;
        const char *q = n + bl + 2;
        for (; *q >= '0' && *q <= '9' && j < 1000000; q++) j = j * 10 + (*q - '0');
        if (*q || j < R || (q - (n + bl + 2) > 1 && n[bl + 2] == '0')) continue;
        char full[4200];
        rank_ckpt_path(full, sizeof full, path, (int)j);
        rc = ckpt_set_add(s, full, fp, err);
    }
    closedir(dh);
    return rc;
}

/* ---- the evaluation --------------------------------------------------------------------------------- */

/* One evaluation in progress on this rank: the corpus and its token stream, the table of finished windows, the
 * checkpoints, the plan (the windows this rank computes) and the running counts. */
typedef struct eval_run {
    lmc_model           *m;
    const lmc_eval_opts *o;
    const char          *path;  /* the corpus file */
    lmc_result          *r;
    lmc_dist            *d;     /* the ranks, or NULL for one process */
    int                  rank, R, root, tag, n_shards, shard;
    int                  W, S;
    size_t               K;
    lmc_corpus           c;
    int32_t             *ids;       /* (tokens) the documents' token ids, concatenated */
    size_t              *doc_start; /* (n_docs + 1) document d's tokens are ids[doc_start[d] .. doc_start[d+1]) */
    float               *hidden;    /* (W, dim) */
    double              *row_nll;   /* (W) a computed window's scored rows */
    double              *dnll;      /* (n_docs) */
    size_t              *dscored;   /* (n_docs) scored targets per document */
    lmc_ckpt_part       *parts;     /* (W) a computed window's NLL split by document */
    unsigned char       *done, *mine, *scope; /* (K) held by some rank; computed here; this shard's */
    wtable               wt;
    ckpt_set             ck;
    lmc_buf              msg;
    size_t               in_scope, held_in_scope; /* this shard's windows, and those held (by any rank) */
    size_t               computed, computed_all;  /* windows computed by this rank, by every rank */
    double               fwd, t_plan;             /* seconds in forward + scoring here; when the plan was made */
    progress             pr;
} eval_run;

static void run_free(eval_run *b) {
    lmc_corpus_free(&b->c);
    free(b->ids);
    free(b->doc_start);
    free(b->hidden);
    free(b->row_nll);
    free(b->dnll);
    free(b->dscored);
    free(b->parts);
    free(b->done);
    free(b->mine);
    free(b->scope);
    wt_free(&b->wt);
    ckpt_set_close(&b->ck, NULL);
    lmc_buf_free(&b->msg);
}

double lmc_result_scored_fraction(const lmc_result *r) {
    return r->tokens > 1 ? (double)r->scored_tokens / (double)(r->tokens - 1) : 1.0;
}

void lmc_result_free(lmc_result *r) {
    if (!r) return;
    free(r->doc_stats);
    free(r->window_nll);
    free(r->window_parts);
    free(r->window_part_off);
    free(r->window_part_n);
    free(r->fingerprint);
    r->doc_stats = NULL;
    r->window_nll = NULL;
    r->window_parts = NULL;
    r->window_part_off = r->window_part_n = NULL;
    r->fingerprint = NULL;
}

/* Computes window k: forward, scoring, the finite check, the split by document. */
static int compute_window(eval_run *b, size_t k, double *wn, size_t *n_parts, lmc_err *err) {
    lmc_model *m = b->m;
    const char *path = b->path;
    int W = b->W;
    lmc_window w = lmc_window_at(W, b->S, k);
    const int32_t *in = b->ids + w.start;
    if (lmc_model_hidden(m, in, W, b->hidden, err)) return -1;
    /* targets of input row i are in[i + 1]: pass the stream shifted by one */
    if (lmc_score_rows(m->info.lm_head, b->hidden, in + 1, w.score_from, w.score_count, wn, b->row_nll, err))
        return -1;
    /* A NaN never becomes a number: a non-finite NLL stops the run before anything records it. */
    for (int i = 0; i < w.score_count; i++)
        if (!isfinite(b->row_nll[i]) || !isfinite(*wn)) {
            double v = isfinite(b->row_nll[i]) ? *wn : b->row_nll[i];
            return lmc_fail(err, "%s: the model produced a non-finite NLL (%s) in window %zu at token %zu of %s: its "
                                 "logits hold NaN/Inf, so its weights probably do (check with --check-weights); no "
                                 "result written", m->path, isnan(v) ? "NaN" : "Inf", k,
                            w.start + (size_t)w.score_from + 1 + (size_t)i, path);
        }
    *n_parts = split_by_doc(&w, b->row_nll, b->doc_start, b->c.n_docs, b->parts);
    return 0;
}

/* Corpus → documents → token stream, its hashes and the zlib baseline, the window count. */
static int eval_load(eval_run *e, lmc_tokenizer *tok, lmc_err *err) {
    const lmc_eval_opts *o = e->o;
    lmc_result *r = e->r;
    const lmc_corpus *c = &e->c;
    const char *path = e->path;
    lmc_corpus_opts co = {.file_num = o->file_num, .skip_bad = o->skip_bad, .format = o->format};
    if (lmc_corpus_load(path, &co, &e->c, err)) return -1;
    r->format = c->format;
    r->docs = c->n_docs;
    r->chars = c->chars;
    r->bytes = c->bytes;
    r->skipped = c->skipped;
    r->records = c->records;
    if (c->n_docs == 0)
        return lmc_fail(err, "%s: no non-empty documents (%zu record%s read%s): BPC is undefined", path, c->records,
                        c->records == 1 ? "" : "s", c->skipped ? ", some skipped as malformed" : "");
    size_t N = 0;
    if (lmc_corpus_tokens(tok, c, path, &e->ids, &N, &e->doc_start, err)) return -1;
    r->tokens = N;
    r->zlib_bytes = zlib_size(c);
    r->zlib_bpc = r->zlib_bytes ? 8.0 * (double)r->zlib_bytes / (double)c->chars : NAN;
    sha256_tokens(e->ids, N, r->tokens_sha256);
    if (lmc_file_sha256(path, r->data_sha256, err)) return -1;
    if (lmc_windows_count(N, e->W, e->S, &e->K, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return lmc_fail(err, "%s (%zu document%s, %zu characters, %zu bytes): %s", path, c->n_docs,
                        c->n_docs == 1 ? "" : "s", c->chars, c->bytes, msg);
    }
    r->windows = e->K;
    r->scored_tokens = lmc_windows_scored(e->W, e->S, e->K);
    return 0;
}

/* The fingerprint (the same on every rank), the windows the checkpoints hold, and the plan, a pure function of
 * what is done: this shard's windows (all without --shard), less those any rank holds, dealt out over the ranks
 * in window order. Then the buffers of one window. */
static int eval_plan(eval_run *e, lmc_tokenizer *tok, lmc_err *err) {
    const lmc_eval_opts *o = e->o;
    lmc_result *r = e->r;
    size_t K = e->K;
    int W = e->W, S = e->S;
    lmc_ckpt_fp fp;
    if (o->checkpoint || e->d || o->shard_count > 0) {
        lmc_ckpt_fingerprint(&fp, e->m, o->model_sha256, tok, o, e->path, r, e->c.n_docs);
        lmc_buf t = {0};
        lmc_ckpt_fp_text(&fp, &t);
        r->fingerprint = t.p;
        if (e->d && dist_check_same(e->d, r->fingerprint, err)) return -1;
    }
    wt_init(&e->wt, K);
    if (o->checkpoint) {
        char own[4200];
        rank_ckpt_path(own, sizeof own, o->checkpoint, e->rank);
        if (ckpt_set_add(&e->ck, own, &fp, err)) return -1;
        if (e->root && open_orphans(&e->ck, o->checkpoint, e->R, &fp, err)) return -1;
        for (size_t i = 0; i < e->ck.n; i++) {
            r->torn_records += lmc_ckpt_torn(e->ck.c[i]);
            for (size_t k = 0; k < K; k++) {
                const lmc_ckpt_part *parts;
                size_t n_parts;
                double wn;
                if (lmc_ckpt_get(e->ck.c[i], k, &wn, &parts, &n_parts) && wt_put(&e->wt, W, S, k, wn, parts, n_parts, err)) {
                    char msg[sizeof err->msg];
                    snprintf(msg, sizeof msg, "%s", err->msg);
                    return lmc_fail(err, "%s and its rank files: %s", o->checkpoint, msg);
                }
            }
        }
    }
    e->done = lmc_xcalloc(K ? K : 1, 1);
    e->mine = lmc_xcalloc(K ? K : 1, 1);
    e->scope = lmc_xcalloc(K ? K : 1, 1);
    if (K) memcpy(e->done, e->wt.have, K);
    if (e->d && e->d->or_all(e->d, e->done, K, err)) return -1;
    size_t todo = 0;
    for (size_t k = 0; k < K; k++) {
        e->scope[k] = lmc_window_owner(k, e->n_shards) == e->shard;
        e->in_scope += e->scope[k];
        if (e->scope[k] && !e->done[k]) e->mine[k] = lmc_window_owner(todo++, e->R) == e->rank;
        if (e->scope[k] && e->done[k]) r->resumed_windows++;
    }
    e->hidden = malloc(sizeof(float) * (size_t)W * e->m->info.dim);
    e->row_nll = malloc(sizeof(double) * (size_t)W);
    e->dnll = calloc(e->c.n_docs, sizeof(double));
    e->dscored = calloc(e->c.n_docs, sizeof(size_t));
    e->parts = malloc(sizeof(lmc_ckpt_part) * (size_t)W);
    if (!e->hidden || !e->row_nll || !e->dnll || !e->dscored || !e->parts)
        return lmc_fail(err, "out of memory for a %d-token window", W);
    /* Windows this rank already holds that rank 0 does not know: sent first (what rank 0 read from its own
     * files, it has). */
    if (e->d && !e->root)
        for (size_t k = 0; k < K; k++)
            if (e->scope[k] && e->wt.have[k] &&
                send_window(e->d, e->tag, k, e->wt.nll[k], e->wt.parts + e->wt.part_off[k], e->wt.part_n[k], 0,
                            &e->msg, err))
                return -1;
    /* Scope counts exclude windows outside this shard that a checkpoint happened to hold. */
    for (size_t k = 0; k < K; k++) e->held_in_scope += e->scope[k] && e->wt.have[k];
    return 0;
}

/* Rank 0: progress over every rank's windows. */
static void show(eval_run *e, int final) {
    if (!e->root) return;
    double bpc = e->wt.nll_sum / ((double)e->c.chars * (double)e->wt.scored / (double)e->r->scored_tokens * M_LN2);
    progress_show(&e->pr, e->held_in_scope, e->computed_all, e->W, bpc, final);
}

/* Rank 0 takes in windows other ranks finished: what has arrived (block 0), or the next one (block 1). */
static int take_others(eval_run *e, int block, lmc_err *err) {
    while (e->d && e->root) {
        int was_computed = 0, added = 0;
        if (e->d->recv(e->d, e->tag, block, &e->msg, err)) return -1;
        if (!block && !e->msg.len) return 0; /* nothing more has arrived */
        if (take_window(&e->msg, &e->wt, e->W, e->S, e->c.n_docs, &was_computed, &added, err)) return -1;
        e->held_in_scope += (size_t)added;
        e->computed_all += (size_t)was_computed;
        if (block) return 0;
    }
    return 0;
}

/* This rank's windows in window order: computed, recorded in its checkpoint, sent to rank 0 (other ranks); rank
 * 0 meanwhile and afterwards takes in the others' until it holds the whole scope. */
static int eval_windows(eval_run *e, lmc_err *err) {
    progress_init(&e->pr, e->o, e->path, e->in_scope, e->r->resumed_windows);
    e->t_plan = lmc_now();
    for (size_t k = 0; k < e->K; k++) {
        if (!e->mine[k]) continue;
        if (e->o->stop && *e->o->stop) /* a signal: the windows so far are in the checkpoint */
            return lmc_fail(err, "%s: interrupted after window %zu of %zu; %s", e->path, e->held_in_scope, e->in_scope,
                            e->o->checkpoint ? "rerun the same command to resume" : "no --checkpoint: a rerun starts over");
        double t0 = lmc_now(), wn = 0;
        size_t n_parts = 0;
        if (compute_window(e, k, &wn, &n_parts, err)) return -1;
        e->fwd += lmc_now() - t0;
        e->computed++;
        e->computed_all++;
        if (e->ck.n && lmc_ckpt_append(e->ck.c[0], k, wn, e->parts, n_parts, err)) return -1;
        if (wt_put(&e->wt, e->W, e->S, k, wn, e->parts, n_parts, err)) return -1;
        e->held_in_scope++;
        if (e->d && !e->root && send_window(e->d, e->tag, k, wn, e->parts, n_parts, 1, &e->msg, err)) return -1;
        if (take_others(e, 0, err)) return -1;
        show(e, 0);
    }
    while (e->d && e->root && e->held_in_scope < e->in_scope) {
        if (take_others(e, 1, err)) return -1;
        show(e, 0);
    }
    show(e, 1);
    return 0;
}

/* A shard's result takes over the table's document parts (lmc merge sums them in window order across the
 * shards, as eval_finish does for one process); windows of other shards that a checkpoint held get none. */
static void shard_parts(wtable *t, const unsigned char *scope, lmc_result *r) {
    r->window_parts = t->parts;
    r->window_part_off = t->part_off;
    r->window_part_n = t->part_n;
    for (size_t k = 0; k < t->K; k++)
        if (!scope[k]) r->window_part_n[k] = 0;
    t->parts = NULL;
    t->part_off = t->part_n = NULL;
}

/* Rank 0 (or one process): the windows combined in window order, whoever computed them, the logs and the
 * result. Other ranks: their counts only (rank 0 holds everything, or will once the queue drains). */
static int eval_finish(eval_run *e, double t_start, lmc_err *err) {
    const lmc_eval_opts *o = e->o;
    const lmc_corpus *c = &e->c;
    lmc_result *r = e->r;
    size_t K = e->K;
    if (e->d && !e->root) {
        if (e->d->flush(e->d, err)) return -1;
        r->computed_windows = e->computed;
        r->forward_seconds = e->fwd;
        r->seconds = lmc_now() - t_start;
        return ckpt_set_close(&e->ck, err);
    }
    for (size_t k = 0; k < K; k++)
        if (e->scope[k] && !e->wt.have[k]) return lmc_fail(err, "internal error: window %zu was never computed", k);
    if (ckpt_set_close(&e->ck, err)) return -1;
    double nll = 0;
    for (size_t k = 0; k < K; k++) {
        if (!e->scope[k]) continue;
        nll += e->wt.nll[k];
        for (size_t i = 0; i < e->wt.part_n[k]; i++)
            e->dnll[e->wt.parts[e->wt.part_off[k] + i].doc] += e->wt.parts[e->wt.part_off[k] + i].nll;
    }
    /* scored targets per document: a pure function of the window geometry */
    size_t p0 = 1, p1 = 1 + r->scored_tokens; /* scored targets are stream positions [1, 1 + scored) */
    for (size_t dd = 0; dd < c->n_docs; dd++) {
        size_t a = e->doc_start[dd] > p0 ? e->doc_start[dd] : p0;
        size_t z = e->doc_start[dd + 1] < p1 ? e->doc_start[dd + 1] : p1;
        e->dscored[dd] = z > a ? z - a : 0;
    }
    if (o->per_window && write_per_window(o->per_window, e->W, e->S, K, e->wt.nll, e->scope, err)) return -1;
    if (o->per_doc && write_per_doc(o->per_doc, c, e->doc_start, e->dnll, e->dscored, err)) return -1;
    if (o->doc_stats) { /* a shard's are partial: lmc merge rebuilds them from the window parts */
        r->doc_stats = malloc(sizeof *r->doc_stats * c->n_docs);
        if (!r->doc_stats) return lmc_fail(err, "out of memory for %zu per-document statistics", c->n_docs);
        for (size_t d = 0; d < c->n_docs; d++)
            r->doc_stats[d] = (lmc_doc_stat){e->dnll[d], e->doc_start[d + 1] - e->doc_start[d], e->dscored[d],
                                             c->docs[d].chars, c->docs[d].len};
    }
    r->nll = nll;
    if (o->shard_count > 0) { /* a partial result: the ratios need every window (lmc merge) */
        r->partial = 1;
        r->bpc = r->bpb = r->token_ppl = NAN;
        r->window_nll = lmc_xmalloc((K ? K : 1) * sizeof *r->window_nll);
        for (size_t k = 0; k < K; k++) r->window_nll[k] = e->scope[k] ? e->wt.nll[k] : NAN;
        shard_parts(&e->wt, e->scope, r);
    } else {
        r->bpc = nll / ((double)r->chars * M_LN2);
        r->bpb = nll / ((double)r->bytes * M_LN2);
        r->token_ppl = exp(nll / (double)r->scored_tokens);
    }
    r->computed_windows = e->computed_all;
    r->forward_seconds = e->fwd;
    /* with several ranks, the job's rate: every rank's windows over the time they took */
    double span = e->d ? lmc_now() - e->t_plan : e->fwd;
    r->tokens_per_s = span > 0 ? (double)e->computed_all * e->W / span : 0;
    r->seconds = lmc_now() - t_start;
    return 0;
}

int lmc_evaluate(lmc_model *m, lmc_tokenizer *tok, const char *path, const lmc_eval_opts *o, lmc_result *r,
                 lmc_err *err) {
    double t_start = lmc_now();
    memset(r, 0, sizeof *r);
    snprintf(r->data, sizeof r->data, "%s", path);
    r->block_size = o->block_size;
    r->stride = o->stride;
    r->file_num = o->file_num;
    if (lmc_model_check_window(m, o->block_size, err)) return -1; /* before the corpus is read */
    if (lmc_check_tokenizer_fits(m, tok, NULL, err)) return -1;
    eval_run e;
    memset(&e, 0, sizeof e);
    e.m = m;
    e.o = o;
    e.path = path;
    e.r = r;
    e.d = o->dist;
    e.W = o->block_size;
    e.S = o->stride;
    e.rank = e.d ? e.d->rank : 0;
    e.R = e.d ? e.d->size : 1;
    e.root = e.rank == 0;
    e.tag = e.d ? e.d->seq++ : 0;
    e.n_shards = o->shard_count > 0 ? o->shard_count : 1;
    e.shard = o->shard_count > 0 ? o->shard_index : 0;
    if (e.shard < 0 || e.shard >= e.n_shards)
        return lmc_fail(err, "shard %d of %d does not exist (shards are 1..%d)", e.shard + 1, e.n_shards, e.n_shards);
    int rc = eval_load(&e, tok, err) || eval_plan(&e, tok, err) || eval_windows(&e, err) ||
             eval_finish(&e, t_start, err) ? -1 : 0;
    if (rc) lmc_result_free(r);
    run_free(&e);
    return rc;
}
