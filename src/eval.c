/* eval.c — the evaluator: the only place that knows the whole path
 *   corpus file → documents → token ids → windows → forward → scored NLL → result.
 * See SPEC.md §1–4 for the contract this follows to the letter. */
#include "lmc.h"
#include "model.h"
#include "score.h"
#include "util.h"
#include "windows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---- documents → one token stream --------------------------------------------------------------- */

static int tokenize_corpus(lmc_tokenizer *tok, const lmc_corpus *c, const char *path, int32_t **ids,
                           size_t *n, lmc_err *err) {
    size_t cap = 0, len = 0;
    int32_t *all = NULL;
    for (size_t d = 0; d < c->n_docs; d++) {
        int32_t *di;
        size_t dn;
        lmc_err e2;
        if (lmc_tokenize(tok, c->docs[d].text, c->docs[d].len, 1, &di, &dn, &e2)) {
            free(all);
            return lmc_fail(err, "%s: document %zu: %s", path, d + 1, e2.msg);
        }
        if (len + dn > cap) {
            cap = (len + dn) * 2;
            all = lmc_xrealloc(all, cap * sizeof *all);
        }
        memcpy(all + len, di, dn * sizeof *di);
        len += dn;
        free(di);
    }
    *ids = all;
    *n = len;
    return 0;
}

/* ---- zlib baseline -------------------------------------------------------------------------------- */

static double zlib_bpc(const lmc_corpus *c) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit(&z, 9) != Z_OK) return NAN;
    unsigned char out[1 << 16];
    size_t total = 0;
    for (size_t d = 0; d <= c->n_docs; d++) {
        int last = d == c->n_docs;
        z.next_in = last ? NULL : (unsigned char *)c->docs[d].text;
        z.avail_in = last ? 0 : (uInt)c->docs[d].len; /* documents are < 4 GiB each */
        do {
            z.next_out = out;
            z.avail_out = sizeof out;
            deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
            total += sizeof out - z.avail_out;
        } while (z.avail_out == 0 || (last && z.avail_in));
    }
    deflateEnd(&z);
    return c->chars ? 8.0 * (double)total / (double)c->chars : NAN;
}

/* ---- progress ------------------------------------------------------------------------------------- */

typedef struct progress {
    int    on, tty;
    double t0, last;
} progress;

static void progress_show(progress *p, const char *path, size_t done, size_t K, size_t window_tokens,
                          double nll, size_t chars_scored_est, int final) {
    if (!p->on) return;
    double now = lmc_now(), el = now - p->t0;
    if (!final && now - p->last < (p->tty ? 0.5 : 5.0)) return;
    p->last = now;
    double rate = el > 0 ? (double)(done * window_tokens) / el : 0;
    double eta = done ? el / (double)done * (double)(K - done) : 0;
    double run_bpc = chars_scored_est ? nll / ((double)chars_scored_est * M_LN2) : 0;
    fprintf(stderr, "%s%s: window %zu/%zu  %.0f tok/s  elapsed %.0fs  ETA %.0fs  running BPC %.4f%s",
            p->tty ? "\r\033[K" : "", path, done, K, rate, el, eta, run_bpc, p->tty && !final ? "" : "\n");
    fflush(stderr);
}

/* ---- the evaluation --------------------------------------------------------------------------------- */

int lmc_evaluate(lmc_model *m, lmc_tokenizer *tok, const char *path, const lmc_eval_opts *o, lmc_result *r,
                 lmc_err *err) {
    double t_start = lmc_now();
    memset(r, 0, sizeof *r);
    snprintf(r->data, sizeof r->data, "%s", path);
    int W = o->block_size, S = o->stride;
    r->block_size = W;
    r->stride = S;
    if (m->info.max_positions > 0 && W > m->info.max_positions)
        return lmc_fail(err, "%s: --block-size %d exceeds the model's %d learned positions; use --block-size %d or "
                             "less", m->path, W, m->info.max_positions, m->info.max_positions);

    lmc_corpus c;
    lmc_corpus_opts co = {.file_num = o->file_num, .skip_bad = o->skip_bad};
    if (lmc_corpus_load(path, &co, &c, err)) return -1;
    r->docs = c.n_docs;
    r->chars = c.chars;
    r->bytes = c.bytes;
    r->skipped = c.skipped;
    if (c.n_docs == 0) {
        lmc_fail(err, "%s: no non-empty documents (%zu records read): BPC is undefined", path, c.records);
        lmc_corpus_free(&c);
        return -1;
    }
    int32_t *ids = NULL;
    size_t N = 0;
    if (tokenize_corpus(tok, &c, path, &ids, &N, err)) { lmc_corpus_free(&c); return -1; }
    r->zlib_bpc = zlib_bpc(&c);
    lmc_corpus_free(&c);
    r->tokens = N;

    size_t K;
    if (lmc_windows_count(N, W, S, &K, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        lmc_fail(err, "%s: %s", path, msg);
        free(ids);
        return -1;
    }
    r->windows = K;
    r->scored_tokens = lmc_windows_scored(W, S, K);

    float *hidden = malloc(sizeof(float) * (size_t)W * m->info.dim);
    if (!hidden) { free(ids); return lmc_fail(err, "out of memory for a %d-token window", W); }
    FILE *pw = NULL;
    char pw_tmp[4200];
    if (o->per_window) {
        snprintf(pw_tmp, sizeof pw_tmp, "%s.tmp.%ld", o->per_window, (long)getpid());
        if (!(pw = fopen(pw_tmp, "w"))) {
            free(hidden); free(ids);
            return lmc_fail(err, "%s: cannot create per-window log", o->per_window);
        }
    }
    progress pr = {o->progress, isatty(2), lmc_now(), 0};
    double nll = 0, t_fwd = lmc_now();
    int rc = 0;
    for (size_t k = 0; k < K && rc == 0; k++) {
        lmc_window w = lmc_window_at(W, S, k);
        const int32_t *in = ids + w.start;
        double wn;
        rc = lmc_model_hidden(m, in, W, hidden, err);
        /* targets of input row i are in[i + 1]: pass the stream shifted by one */
        if (rc == 0) rc = lmc_score_rows(m->info.lm_head, hidden, in + 1, w.score_from, w.score_count, &wn, NULL, err);
        if (rc) break;
        nll += wn;
        if (pw) fprintf(pw, "{\"k\":%zu,\"start\":%zu,\"scored\":%d,\"nll\":%.17g}\n", k, w.start, w.score_count, wn);
        size_t scored = lmc_windows_scored(W, S, k + 1);
        progress_show(&pr, path, k + 1, K, (size_t)W, nll, (size_t)((double)scored / (double)N * (double)r->chars), 0);
    }
    double fwd_s = lmc_now() - t_fwd;
    if (rc == 0) progress_show(&pr, path, K, K, (size_t)W, nll, r->chars, 1);
    free(hidden);
    free(ids);
    if (pw) {
        int bad = fclose(pw) != 0;
        if (rc == 0 && !bad) {
            if (rename(pw_tmp, o->per_window) != 0) rc = lmc_fail(err, "%s: cannot write per-window log", o->per_window);
        } else {
            unlink(pw_tmp);
            if (rc == 0) rc = lmc_fail(err, "%s: write failed", o->per_window);
        }
    }
    if (rc) return -1;
    r->nll = nll;
    r->bpc = nll / ((double)r->chars * M_LN2);
    r->bpb = nll / ((double)r->bytes * M_LN2);
    r->token_ppl = exp(nll / (double)r->scored_tokens);
    r->tokens_per_s = fwd_s > 0 ? (double)(K * (size_t)W) / fwd_s : 0;
    r->seconds = lmc_now() - t_start;
    return 0;
}
