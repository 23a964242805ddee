/* kld.c — `lmc kld` exact mode: two models over the same windows and tokens, their next-token distributions
 * compared row by row (lmc_kld.h, docs/kld.md).
 *
 * The path is lmc_evaluate's (eval.c): corpus → documents → one token stream (tokens.h) → the windows of SPEC §3
 * (windows.h); each window is run through both models, and for every scored row both lm_heads are applied in row
 * blocks (never a W × vocab buffer, as score.c does) and the two log-softmaxes compared in double precision.
 * Rows are compared in parallel but added up in row order, window by window, so the result does not depend on the
 * thread count. What a token contributes when both models give it the very same logits is exactly 0 (the terms
 * of equal log-probabilities are skipped, not computed as a tiny rounding residue), so a model compared with
 * itself has KLD 0 and Same top p 100 %. */
#include "lmc_kld.h"
#include "eval/kld_internal.h"
#include "eval/tokens.h"
#include "eval/windows.h"
#include "common/threads.h"
#include "common/util.h"
#include "kernels.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one row: two logit vectors compared --------------------------------------------------------------- */

/* The k ≤ 5 largest entries of x, largest first (ties: the lower index first). */
static int top5(const float *x, int V, int idx[5]) {
    int k = 0;
    for (int j = 0; j < V; j++) {
        if (k == 5 && x[j] <= x[idx[4]]) continue;
        int i = k < 5 ? k++ : 4;
        while (i > 0 && x[idx[i - 1]] < x[j]) { idx[i] = idx[i - 1]; i--; }
        idx[i] = j;
    }
    return k;
}

static int top5_overlap(const float *a, const float *b, int V, int *same_top) {
    int ia[5], ib[5], n = 0;
    int ka = top5(a, V, ia), kb = top5(b, V, ib);
    for (int i = 0; i < ka; i++)
        for (int j = 0; j < kb; j++) n += ia[i] == ib[j];
    *same_top = ka > 0 && kb > 0 && ia[0] == ib[0];
    return n;
}

/* log Σ exp(x) summed in double: the f32 sum of logsumexp_f32 (≈ 1e-7 relative) would be as large as the KL
 * divergence of a bf16 or Q8_0 model from its base. */
static double logsumexp_f64(const float *x, int V) {
    double m = vec_max(x, V), s = 0;
    for (int j = 0; j < V; j++) s += exp((double)x[j] - m);
    return m + log(s);
}

void lmc_kld_compare_row(const float *a, const float *b, int V, int target, lmc_kld_row *out) {
    double za = logsumexp_f64(a, V), zb = logsumexp_f64(b, V);
    double kl = 0, klr = 0, js = 0;
    for (int j = 0; j < V; j++) {
        double la = (double)a[j] - za, lb = (double)b[j] - zb;
        if (la == lb) continue; /* contributes exactly 0 to all three */
        double pa = exp(la), pb = exp(lb), m = 0.5 * (pa + pb);
        if (pa > 0) kl += pa * (la - lb);
        if (pb > 0) klr += pb * (lb - la);
        if (m > 0) {
            double lm = log(m);
            if (pa > 0) js += 0.5 * pa * (la - lm);
            if (pb > 0) js += 0.5 * pb * (lb - lm);
        }
    }
    out->nll_a = za - (double)a[target];
    out->nll_b = zb - (double)b[target];
    out->kld = kl;
    out->kld_rev = klr;
    out->jsd = js;
    out->dp = exp(-out->nll_b) - exp(-out->nll_a);
    out->top5 = top5_overlap(a, b, V, &out->same_top);
}

/* ---- the run's state ------------------------------------------------------------------------------------ */

typedef struct kld_run {
    lmc_model          *ma, *mb;     /* base (A), model (B) */
    const lmc_kld_opts *o;
    const char         *path;
    lmc_kld_result     *r;
    int                 W, S, V, block; /* block: rows per lm_head block */
    size_t              K;
    lmc_corpus          c;
    int32_t            *ids;         /* (tokens) the stream both tokenizers gave */
    size_t             *doc_start;   /* (n_docs + 1) */
    float              *ha, *hb;     /* (W, dim_A), (W, dim_B) hidden states of a window */
    float              *la, *lb;     /* (block, V) logits of a row block */
    lmc_kld_row        *rows;        /* (W) a window's compared rows */
    lmc_kld_acc         acc;
} kld_run;

static void run_free(kld_run *k) {
    lmc_corpus_free(&k->c);
    free(k->ids);
    free(k->doc_start);
    free(k->ha);
    free(k->hb);
    free(k->la);
    free(k->lb);
    free(k->rows);
    lmc_kld_acc_free(&k->acc);
}

/* rows per lm_head block: ~16 MiB of logits per model, at least 8 rows so the GEMM stays a GEMM */
static int block_rows(int V, int W) {
    int block = (int)((16u << 20) / (sizeof(float) * (size_t)V));
    if (block < 8) block = 8;
    return block > W ? W : block;
}

size_t lmc_kld_memory(const lmc_model *a, const lmc_model *b, int W, size_t scored) {
    int V = a->info.vocab > b->info.vocab ? a->info.vocab : b->info.vocab;
    size_t block = (size_t)block_rows(V, W);
    return lmc_model_working_bytes(a, W) + lmc_model_working_bytes(b, W) +
           sizeof(float) * (size_t)W * (size_t)(a->info.dim + b->info.dim) + 2 * sizeof(float) * block * (size_t)V +
           sizeof(lmc_kld_row) * (size_t)W + LMC_KLD_BYTES_PER_TOKEN * scored;
}

/* ---- loading: the same documents, the same token ids from both tokenizers ------------------------------- */

static int same_tokens(const int32_t *a, size_t na, const int32_t *b, size_t nb, const size_t *doc_start,
                       size_t n_docs, const char *path, lmc_err *err) {
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    if (i == n && na == nb) return 0;
    size_t d = 0;
    while (d + 1 < n_docs && doc_start[d + 1] <= i) d++;
    if (i == n)
        return lmc_fail(err, "%s: the base's tokenizer gives %zu tokens, the model's %zu: lmc kld compares the same "
                             "tokens only (give both one tokenizer: --tokenizer / --base-tokenizer)", path, na, nb);
    return lmc_fail(err, "%s: document %zu, token %zu: the base's tokenizer gives id %d, the model's %d: lmc kld "
                         "compares the same tokens only (give both one tokenizer: --tokenizer / --base-tokenizer)",
                    path, d + 1, i - doc_start[d], a[i], b[i]);
}

static int kld_load(kld_run *k, lmc_tokenizer *ta, lmc_tokenizer *tb, lmc_err *err) {
    lmc_corpus_opts co = {.file_num = k->o->file_num, .skip_bad = k->o->skip_bad};
    if (lmc_corpus_load(k->path, &co, &k->c, err)) return -1;
    if (k->c.n_docs == 0) return lmc_fail(err, "%s: no non-empty documents (%zu records read)", k->path, k->c.records);
    size_t N = 0;
    if (lmc_corpus_tokens(ta, &k->c, k->path, &k->ids, &N, &k->doc_start, err)) return -1;
    if (tb != ta) {
        int32_t *idb = NULL;
        size_t nb = 0, *startb = NULL;
        if (lmc_corpus_tokens(tb, &k->c, k->path, &idb, &nb, &startb, err)) return -1;
        int rc = same_tokens(k->ids, N, idb, nb, k->doc_start, k->c.n_docs, k->path, err);
        free(idb);
        free(startb);
        if (rc) return -1;
    }
    lmc_kld_result *r = k->r;
    r->docs = k->c.n_docs;
    r->chars = k->c.chars;
    r->bytes = k->c.bytes;
    r->tokens = N;
    if (lmc_windows_count(N, k->W, k->S, &k->K, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return lmc_fail(err, "%s (%zu documents, %zu tokens): %s", k->path, k->c.n_docs, N, msg);
    }
    r->windows = k->K;
    r->scored_tokens = lmc_windows_scored(k->W, k->S, k->K);
    return 0;
}

/* The memory check, stated in the message when it fails, then the buffers. */
static int kld_alloc(kld_run *k, lmc_err *err) {
    size_t need = lmc_kld_memory(k->ma, k->mb, k->W, k->r->scored_tokens);
    size_t avail = k->o->memory_limit ? k->o->memory_limit : lmc_memory_available();
    k->r->memory_bytes = need;
    if (avail && need > avail)
        return lmc_fail(err, "%s: comparing two models on %d-token windows needs %.1f MB (both models' working "
                             "memory, two logits blocks, %d bytes per each of %zu scored tokens) but %.1f MB are "
                             "available: use a smaller --block-size or fewer records (--file-num)", k->path, k->W,
                        need / 1e6, LMC_KLD_BYTES_PER_TOKEN, k->r->scored_tokens, avail / 1e6);
    k->ha = malloc(sizeof(float) * (size_t)k->W * k->ma->info.dim);
    k->hb = malloc(sizeof(float) * (size_t)k->W * k->mb->info.dim);
    k->la = malloc(sizeof(float) * (size_t)k->block * k->V);
    k->lb = malloc(sizeof(float) * (size_t)k->block * k->V);
    k->rows = malloc(sizeof(lmc_kld_row) * (size_t)k->W);
    if (!k->ha || !k->hb || !k->la || !k->lb || !k->rows ||
        lmc_kld_acc_init(&k->acc, k->r->scored_tokens, k->c.n_docs))
        return lmc_fail(err, "out of memory for a %d-token window of two models", k->W);
    return 0;
}

/* ---- the windows ---------------------------------------------------------------------------------------- */

/* Window w through both models; its scored rows compared into k->rows. */
static int compare_window(kld_run *k, size_t w_idx, lmc_err *err) {
    lmc_window w = lmc_window_at(k->W, k->S, w_idx);
    const int32_t *in = k->ids + w.start, *tg = in + 1; /* the target of input row i is in[i + 1] */
    for (int i = 0; i < w.score_count; i++)
        if (tg[w.score_from + i] < 0 || tg[w.score_from + i] >= k->V)
            return lmc_fail(err, "%s: token id %d is outside the models' vocabulary of %d", k->path,
                            tg[w.score_from + i], k->V);
    if (lmc_model_hidden(k->ma, in, k->W, k->ha, err) || lmc_model_hidden(k->mb, in, k->W, k->hb, err)) return -1;
    int da = k->ma->info.dim, db = k->mb->info.dim, V = k->V;
    for (int r0 = 0; r0 < w.score_count; r0 += k->block) {
        int n = w.score_count - r0 < k->block ? w.score_count - r0 : k->block, row = w.score_from + r0;
        lmc_linear_apply(k->ma->info.lm_head, k->ha + (size_t)row * da, k->la, n);
        lmc_linear_apply(k->mb->info.lm_head, k->hb + (size_t)row * db, k->lb, n);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++)
            lmc_kld_compare_row(k->la + (size_t)i * V, k->lb + (size_t)i * V, V, tg[row + i], &k->rows[r0 + i]);
    }
    for (int i = 0; i < w.score_count; i++) {
        const lmc_kld_row *x = &k->rows[i];
        if (!isfinite(x->nll_a) || !isfinite(x->nll_b) || isnan(x->kld) || isnan(x->kld_rev))
            return lmc_fail(err, "%s: window %zu, token %zu: a non-finite log-probability (base NLL %g, model NLL %g): "
                                 "a model's logits hold NaN/Inf; no result written", k->path, w_idx,
                            w.start + (size_t)w.score_from + 1 + (size_t)i, x->nll_a, x->nll_b);
    }
    return 0;
}

/* The document of stream position p (the last d with doc_start[d] <= p). */
static size_t doc_of(const size_t *doc_start, size_t n_docs, size_t p) {
    size_t lo = 0, hi = n_docs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (doc_start[mid] <= p) lo = mid;
        else hi = mid;
    }
    return lo;
}

static void report(kld_run *k, double t0, size_t done, int final) {
    if (!k->o->progress) return;
    double el = lmc_now() - t0;
    lmc_kld_progress p = {k->path, done, k->K, el, final ? 0 : done ? el / (double)done * (double)(k->K - done) : NAN,
                          k->acc.n ? k->acc.kld_sum / (double)k->acc.n : NAN, final};
    k->o->progress(&p, k->o->progress_user);
}

static int kld_windows(kld_run *k, lmc_err *err) {
    double t0 = lmc_now(), last = t0;
    for (size_t w_idx = 0; w_idx < k->K; w_idx++) {
        if (compare_window(k, w_idx, err)) return -1;
        lmc_window w = lmc_window_at(k->W, k->S, w_idx);
        size_t p0 = w.start + (size_t)w.score_from + 1, d = doc_of(k->doc_start, k->c.n_docs, p0);
        for (int i = 0; i < w.score_count; i++) {
            while (d + 1 < k->c.n_docs && k->doc_start[d + 1] <= p0 + (size_t)i) d++;
            lmc_kld_acc_add(&k->acc, &k->rows[i], d);
        }
        if (lmc_now() - last >= k->o->progress_interval) {
            last = lmc_now();
            report(k, t0, w_idx + 1, 0);
        }
    }
    report(k, t0, k->K, 1);
    return 0;
}

/* ---- lmc_kld_run ---------------------------------------------------------------------------------------- */

int lmc_kld_run(lmc_model *ma, lmc_tokenizer *ta, lmc_model *mb, lmc_tokenizer *tb, const char *path,
                const lmc_kld_opts *o, lmc_kld_result *r, lmc_err *err) {
    double t_start = lmc_now();
    memset(r, 0, sizeof *r);
    snprintf(r->data, sizeof r->data, "%s", path);
    r->block_size = o->block_size;
    r->stride = o->stride;
    if (ma->info.vocab != mb->info.vocab)
        return lmc_fail(err, "%s has a vocabulary of %d and %s of %d: their distributions cannot be compared token "
                             "by token", ma->path, ma->info.vocab, mb->path, mb->info.vocab);
    if (lmc_model_check_window(ma, o->block_size, err) || lmc_model_check_window(mb, o->block_size, err)) return -1;
    lmc_threads_init(o->threads);
    kld_run k;
    memset(&k, 0, sizeof k);
    k.ma = ma;
    k.mb = mb;
    k.o = o;
    k.path = path;
    k.r = r;
    k.W = o->block_size;
    k.S = o->stride;
    k.V = r->vocab = ma->info.vocab;
    k.block = block_rows(k.V, k.W);
    int rc = kld_load(&k, ta, tb, err) || kld_alloc(&k, err) || kld_windows(&k, err) ? -1 : 0;
    if (rc == 0) rc = lmc_kld_summarise(&k.acc, &k.c, o->bootstrap, r, err);
    r->seconds = lmc_now() - t_start;
    run_free(&k);
    return rc;
}
