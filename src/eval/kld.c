/* kld.c — `lmc kld`: two models over the same windows and tokens, their next-token distributions
 * compared row by row (lmc_kld.h, docs/kld.md).
 *
 * The path is lmc_evaluate's (eval.c): corpus → documents → one token stream (tokens.h) → the windows of SPEC §3
 * (windows.h); each window is run through both models, and for every scored row both lm_heads are applied in row
 * blocks (never a W × vocab buffer, as score.c does) and the two log-softmaxes compared in double precision.
 * Rows are compared in parallel but added up in row order, window by window, so the result does not depend on the
 * thread count. What a token contributes when both models give it the very same logits is exactly 0 (the terms
 * of equal log-probabilities are skipped, not computed as a tiny rounding residue), so a model compared with
 * itself has KLD 0 and Same top p 100 %.
 *
 * The same loop serves the other two modes: --save-base runs the base alone and encodes each row as a base-file
 * record (kld_base.c), --base-file runs the model alone and compares each row with the stored record; and a
 * checkpoint (kld_ckpt.c) either supplies a window's rows or records them once computed. */
#include "lmc_kld.h"
#include "eval/kld_internal.h"
#include "eval/checkpoint.h"
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
int lmc_kld_top5(const float *x, int V, int idx[5]) {
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
    int ka = lmc_kld_top5(a, V, ia), kb = lmc_kld_top5(b, V, ib);
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

void lmc_kld_add_outcome(double la, double lb, double *kl, double *klr, double *js) {
    if (la == lb) return; /* contributes exactly 0 to all three */
    double pa = exp(la), pb = exp(lb), m = 0.5 * (pa + pb);
    if (pa > 0) *kl += pa * (la - lb);
    if (pb > 0) *klr += pb * (lb - la);
    if (m > 0) {
        double lm = log(m);
        if (pa > 0) *js += 0.5 * pa * (la - lm);
        if (pb > 0) *js += 0.5 * pb * (lb - lm);
    }
}

void lmc_kld_compare_row(const float *a, const float *b, int V, int target, lmc_kld_row *out) {
    double za = logsumexp_f64(a, V), zb = logsumexp_f64(b, V);
    double kl = 0, klr = 0, js = 0;
    for (int j = 0; j < V; j++) lmc_kld_add_outcome((double)a[j] - za, (double)b[j] - zb, &kl, &klr, &js);
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
    lmc_model          *ma, *mb;     /* base (A), model (B); ma NULL with a stored base, mb NULL when saving one */
    const lmc_kld_opts *o;
    const char         *path;
    lmc_kld_result     *r;
    int                 W, S, V, block; /* block: rows per lm_head block */
    size_t              K;
    lmc_corpus          c;
    int32_t            *ids;         /* (tokens) the stream both tokenizers gave */
    size_t             *doc_start;   /* (n_docs + 1) */
    char                sha[65];     /* of the stream (a base file's check) */
    float              *ha, *hb;     /* (W, dim_A), (W, dim_B) hidden states of a window */
    float              *la, *lb;     /* (block, V) logits of a row block */
    lmc_kld_row        *rows;        /* (W) a window's compared rows */
    lmc_kld_acc         acc;
    lmc_kld_base        kb;          /* the stored base (base_file) */
    int                 top_k;       /* of the base file read or written */
    size_t              rec_bytes;   /* its bytes per token */
    unsigned char      *recs;        /* (W, rec_bytes) a window's records (save_base) */
    lmc_buf             out;         /* the base file being written (save_base) */
    lmc_kld_ckpt       *ck;          /* the checkpoint, or NULL */
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
    free(k->recs);
    lmc_kld_acc_free(&k->acc);
    lmc_kld_base_free(&k->kb);
    lmc_buf_free(&k->out);
    lmc_kld_ckpt_close(k->ck, NULL);
}

/* rows per lm_head block: ~16 MiB of logits per model, at least 8 rows so the GEMM stays a GEMM */
static int block_rows(int V, int W) {
    int block = (int)((16u << 20) / (sizeof(float) * (size_t)V));
    if (block < 8) block = 8;
    return block > W ? W : block;
}

/* one model's share of a window: its working memory, hidden states and a logits block */
static size_t model_bytes(const lmc_model *m, int W) {
    if (!m) return 0;
    return lmc_model_working_bytes(m, W) + sizeof(float) * (size_t)W * (size_t)m->info.dim +
           sizeof(float) * (size_t)block_rows(m->info.vocab, W) * (size_t)m->info.vocab;
}

size_t lmc_kld_memory(const lmc_model *a, const lmc_model *b, int W, size_t scored) {
    return model_bytes(a, W) + model_bytes(b, W) + sizeof(lmc_kld_row) * (size_t)W + LMC_KLD_BYTES_PER_TOKEN * scored;
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

/* The documents and the token stream: from one tokenizer, or from both, checked to agree. */
static int load_tokens(kld_run *k, lmc_tokenizer *ta, lmc_tokenizer *tb, size_t *N, lmc_err *err) {
    lmc_corpus_opts co = {.file_num = k->o->file_num, .skip_bad = k->o->skip_bad};
    if (lmc_corpus_load(k->path, &co, &k->c, err)) return -1;
    if (k->c.n_docs == 0) return lmc_fail(err, "%s: no non-empty documents (%zu records read)", k->path, k->c.records);
    if (lmc_corpus_tokens(ta ? ta : tb, &k->c, k->path, &k->ids, N, &k->doc_start, err)) return -1;
    if (ta && tb && tb != ta) {
        int32_t *idb = NULL;
        size_t nb = 0, *startb = NULL;
        if (lmc_corpus_tokens(tb, &k->c, k->path, &idb, &nb, &startb, err)) return -1;
        int rc = same_tokens(k->ids, *N, idb, nb, k->doc_start, k->c.n_docs, k->path, err);
        free(idb);
        free(startb);
        if (rc) return -1;
    }
    lmc_sha256_hex(k->ids, *N * sizeof *k->ids, k->sha); /* int32 little-endian, as lmc eval's tokens_sha256 */
    return 0;
}

static int kld_load(kld_run *k, lmc_tokenizer *ta, lmc_tokenizer *tb, lmc_err *err) {
    size_t N = 0;
    if (load_tokens(k, ta, tb, &N, err)) return -1;
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

/* A stored base must come from these very tokens, windows and vocabulary. */
static int check_base_file(kld_run *k, lmc_err *err) {
    const lmc_kld_base *b = &k->kb;
    const char *f = k->o->base_file;
    if (b->block_size != k->W || b->stride != k->S)
        return lmc_fail(err, "%s was saved with --block-size %d --stride %d, not %d / %d", f, b->block_size, b->stride,
                        k->W, k->S);
    if (b->tokens != k->r->tokens || strcmp(b->tokens_sha256, k->sha) || b->scored_tokens != k->r->scored_tokens)
        return lmc_fail(err, "%s was saved from other tokens than %s gives here (%zu tokens; here %zu): another data "
                             "file, --file-num or tokenizer", f, k->path, b->tokens, k->r->tokens);
    if (b->vocab != k->V)
        return lmc_fail(err, "%s holds a base with a vocabulary of %d, the model has %d", f, b->vocab, k->V);
    return 0;
}

/* The memory check, stated in the message when it fails, then the buffers. */
static int kld_alloc(kld_run *k, lmc_err *err) {
    if (k->kb.data && check_base_file(k, err)) return -1;
    size_t scored = k->r->scored_tokens;
    size_t file = k->o->save_base ? 256 + k->rec_bytes * scored : k->o->base_file ? 256 + k->rec_bytes * scored : 0;
    size_t need = lmc_kld_memory(k->ma, k->mb, k->W, k->o->save_base ? 0 : scored) + file;
    size_t avail = k->o->memory_limit ? k->o->memory_limit : lmc_memory_available();
    k->r->memory_bytes = need;
    if (avail && need > avail)
        return lmc_fail(err, "%s: comparing two models on %d-token windows needs %.1f MB (both models' working "
                             "memory, their logits blocks, %d bytes per each of %zu scored tokens, a base file of "
                             "%.1f MB) but %.1f MB are available: use a smaller --block-size or fewer records "
                             "(--file-num)", k->path, k->W, need / 1e6, LMC_KLD_BYTES_PER_TOKEN, scored, file / 1e6,
                        avail / 1e6);
    int bad = 0;
    if (k->ma) {
        k->ha = malloc(sizeof(float) * (size_t)k->W * k->ma->info.dim);
        k->la = malloc(sizeof(float) * (size_t)k->block * k->V);
        bad |= !k->ha || !k->la;
    }
    if (k->mb) {
        k->hb = malloc(sizeof(float) * (size_t)k->W * k->mb->info.dim);
        k->lb = malloc(sizeof(float) * (size_t)k->block * k->V);
        bad |= !k->hb || !k->lb;
    }
    k->rows = malloc(sizeof(lmc_kld_row) * (size_t)k->W);
    if (k->o->save_base) {
        k->recs = malloc(k->rec_bytes * (size_t)k->W);
        bad |= !k->recs;
        lmc_kld_base_header(&k->out, k->top_k, k->V, k->W, k->S, k->r->tokens, scored, k->sha);
    } else {
        bad |= lmc_kld_acc_init(&k->acc, scored, k->c.n_docs);
    }
    if (bad || !k->rows) return lmc_fail(err, "out of memory for a %d-token window of two models", k->W);
    return 0;
}

/* ---- the windows ---------------------------------------------------------------------------------------- */

/* Row i of the current logits block, window row w_row, scored index t: compared (exact or with the stored base)
 * or, when saving the base, encoded. */
static void row_one(kld_run *k, int i, int w_row, int target, size_t t) {
    const float *a = k->la ? k->la + (size_t)i * k->V : NULL, *b = k->lb ? k->lb + (size_t)i * k->V : NULL;
    if (k->o->save_base) lmc_kld_base_encode(a, k->V, target, k->top_k, k->recs + (size_t)w_row * k->rec_bytes);
    else if (k->kb.data) lmc_kld_compare_stored(k->kb.records + t * k->rec_bytes, k->top_k, b, k->V, target,
                                                &k->rows[w_row]);
    else lmc_kld_compare_row(a, b, k->V, target, &k->rows[w_row]);
}

/* A NaN never becomes a number: a non-finite log-probability stops the run before anything records it. */
static int check_rows(kld_run *k, size_t w_idx, const lmc_window *w, lmc_err *err) {
    for (int i = 0; i < w->score_count; i++) {
        lmc_kld_row x = k->rows[i];
        if (k->o->save_base) {
            float lp;
            memcpy(&lp, k->recs + (size_t)i * k->rec_bytes, sizeof lp);
            x.nll_a = x.nll_b = -(double)lp;
            x.kld = x.kld_rev = 0;
        }
        if (!isfinite(x.nll_a) || !isfinite(x.nll_b) || isnan(x.kld) || isnan(x.kld_rev))
            return lmc_fail(err, "%s: window %zu, token %zu: a non-finite log-probability (base NLL %g, model NLL %g): "
                                 "a model's logits hold NaN/Inf; no result written", k->path, w_idx,
                            w->start + (size_t)w->score_from + 1 + (size_t)i, x.nll_a, x.nll_b);
    }
    return 0;
}

/* Window w through the model(s); its scored rows compared into k->rows (or encoded into k->recs). */
static int compare_window(kld_run *k, size_t w_idx, lmc_err *err) {
    lmc_window w = lmc_window_at(k->W, k->S, w_idx);
    const int32_t *in = k->ids + w.start, *tg = in + 1; /* the target of input row i is in[i + 1] */
    size_t t0 = w_idx ? (size_t)k->W + (w_idx - 1) * (size_t)k->S : 0; /* scored index of its first scored row */
    for (int i = 0; i < w.score_count; i++)
        if (tg[w.score_from + i] < 0 || tg[w.score_from + i] >= k->V)
            return lmc_fail(err, "%s: token id %d is outside the models' vocabulary of %d", k->path,
                            tg[w.score_from + i], k->V);
    if ((k->ma && lmc_model_hidden(k->ma, in, k->W, k->ha, err)) ||
        (k->mb && lmc_model_hidden(k->mb, in, k->W, k->hb, err)))
        return -1;
    for (int r0 = 0; r0 < w.score_count; r0 += k->block) {
        int n = w.score_count - r0 < k->block ? w.score_count - r0 : k->block, row = w.score_from + r0;
        if (k->ma) lmc_linear_apply(k->ma->info.lm_head, k->ha + (size_t)row * k->ma->info.dim, k->la, n);
        if (k->mb) lmc_linear_apply(k->mb->info.lm_head, k->hb + (size_t)row * k->mb->info.dim, k->lb, n);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) row_one(k, i, r0 + i, tg[row + i], t0 + (size_t)(r0 + i));
    }
    return check_rows(k, w_idx, &w, err);
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

/* A finished window's rows: added up in row order, or appended to the base file. */
static void take_window(kld_run *k, size_t w_idx) {
    lmc_window w = lmc_window_at(k->W, k->S, w_idx);
    if (k->o->save_base) {
        lmc_buf_append(&k->out, k->recs, k->rec_bytes * (size_t)w.score_count);
        return;
    }
    size_t p0 = w.start + (size_t)w.score_from + 1, d = doc_of(k->doc_start, k->c.n_docs, p0);
    for (int i = 0; i < w.score_count; i++) {
        while (d + 1 < k->c.n_docs && k->doc_start[d + 1] <= p0 + (size_t)i) d++;
        lmc_kld_acc_add(&k->acc, &k->rows[i], d);
    }
}

/* What a window leaves for take_window, as the checkpoint records it: its rows (or base-file records). */
static void *window_payload(kld_run *k, size_t w_idx, size_t *bytes) {
    size_t n = (size_t)lmc_window_at(k->W, k->S, w_idx).score_count;
    *bytes = n * (k->o->save_base ? k->rec_bytes : sizeof(lmc_kld_row));
    return k->o->save_base ? (void *)k->recs : (void *)k->rows;
}

/* Window w_idx: read back from the checkpoint, or computed (and then recorded). */
static int one_window(kld_run *k, size_t w_idx, lmc_err *err) {
    size_t bytes, have = 0;
    void *payload = window_payload(k, w_idx, &bytes);
    const void *rec = k->ck ? lmc_kld_ckpt_get(k->ck, w_idx, &have) : NULL;
    if (rec && have != bytes)
        return lmc_fail(err, "%s: window %zu holds %zu bytes, not %zu: a damaged checkpoint", k->o->checkpoint, w_idx,
                        have, bytes);
    if (rec) {
        memcpy(payload, rec, bytes);
        k->r->resumed_windows++;
        return 0;
    }
    if (compare_window(k, w_idx, err)) return -1;
    return k->ck ? lmc_kld_ckpt_append(k->ck, w_idx, payload, bytes, err) : 0;
}

static int kld_windows(kld_run *k, lmc_err *err) {
    double t0 = lmc_now(), last = t0;
    for (size_t w_idx = 0; w_idx < k->K; w_idx++) {
        if (one_window(k, w_idx, err)) return -1;
        take_window(k, w_idx);
        if (lmc_now() - last >= k->o->progress_interval) {
            last = lmc_now();
            report(k, t0, w_idx + 1, 0);
        }
    }
    report(k, t0, k->K, 1);
    return 0;
}

/* What the rows depend on: lmc eval's checkpoint fields for the first model (data, tokens, build, BLAS, CPU,
 * weights, compute, settings), then the second model or the base file, the mode and the record layout. */
static int kld_fingerprint(kld_run *k, lmc_tokenizer *tok, lmc_buf *fp, lmc_err *err) {
    lmc_model *first = k->ma ? k->ma : k->mb;
    lmc_result t;
    memset(&t, 0, sizeof t);
    t.tokens = k->r->tokens;
    t.windows = k->K;
    memcpy(t.tokens_sha256, k->sha, sizeof t.tokens_sha256);
    if (lmc_file_sha256(k->path, t.data_sha256, err)) return -1;
    lmc_eval_opts eo = {.block_size = k->W, .stride = k->S, .file_num = k->o->file_num, .skip_bad = k->o->skip_bad};
    lmc_ckpt_fp f;
    lmc_ckpt_fingerprint(&f, first, NULL, tok, &eo, k->path, &t, k->c.n_docs);
    lmc_ckpt_fp_text(&f, fp);
    char sha[65] = "none", file_sha[65] = "none";
    if (k->ma && k->mb) lmc_model_sha256(k->mb, sha);
    if (k->o->base_file && lmc_file_sha256(k->o->base_file, file_sha, err)) return -1;
    lmc_model_desc d;
    lmc_model_describe(k->mb ? k->mb : first, &d);
    lmc_buf_printf(fp, "kld_mode %s\nkld_model_sha256 %s\nkld_model_compute %s\nkld_base_file_sha256 %s\n"
                       "kld_top_k %d\nkld_record_bytes %zu\n", k->r->mode, sha, lmc_compute_name(d.compute), file_sha,
                   k->top_k, k->o->save_base ? k->rec_bytes : sizeof(lmc_kld_row));
    return 0;
}

static int kld_resume(kld_run *k, lmc_tokenizer *tok, lmc_err *err) {
    if (!k->o->checkpoint) return 0;
    lmc_buf fp = {0};
    int rc = kld_fingerprint(k, tok, &fp, err) || lmc_kld_ckpt_open(k->o->checkpoint, fp.p, k->K, &k->ck, err) ? -1 : 0;
    lmc_buf_free(&fp);
    if (rc == 0) k->r->torn_records = lmc_kld_ckpt_torn(k->ck);
    return rc;
}

/* ---- lmc_kld_run ---------------------------------------------------------------------------------------- */

/* Which models the mode needs, and the vocabulary they share. */
static int check_models(lmc_model *ma, lmc_model *mb, const lmc_kld_opts *o, lmc_err *err) {
    if (o->save_base && o->base_file) return lmc_fail(err, "--save-base and --base-file do not go together");
    if (o->save_base ? !ma || mb : o->base_file ? ma || !mb : !ma || !mb)
        return lmc_fail(err, "internal error: lmc_kld_run was given the wrong models for its mode");
    if (o->save_base && (o->top_k < 5 || o->top_k > 4096 || o->top_k > ma->info.vocab))
        return lmc_fail(err, "--top-k must be between 5 and the vocabulary (%d), not %d", ma->info.vocab, o->top_k);
    if (ma && mb && ma->info.vocab != mb->info.vocab)
        return lmc_fail(err, "%s has a vocabulary of %d and %s of %d: their distributions cannot be compared token "
                             "by token", ma->path, ma->info.vocab, mb->path, mb->info.vocab);
    if ((ma && lmc_model_check_window(ma, o->block_size, err)) || (mb && lmc_model_check_window(mb, o->block_size, err)))
        return -1;
    return 0;
}

int lmc_kld_run(lmc_model *ma, lmc_tokenizer *ta, lmc_model *mb, lmc_tokenizer *tb, const char *path,
                const lmc_kld_opts *o, lmc_kld_result *r, lmc_err *err) {
    double t_start = lmc_now();
    memset(r, 0, sizeof *r);
    snprintf(r->data, sizeof r->data, "%s", path);
    r->block_size = o->block_size;
    r->stride = o->stride;
    r->mode = o->save_base ? "save" : o->base_file ? "stored" : "exact";
    if (check_models(ma, mb, o, err)) return -1;
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
    k.V = r->vocab = (ma ? ma : mb)->info.vocab;
    k.block = block_rows(k.V, k.W);
    int rc = o->base_file ? lmc_kld_base_load(o->base_file, &k.kb, err) : 0;
    k.top_k = o->save_base ? o->top_k : k.kb.top_k;
    k.rec_bytes = lmc_kld_base_record_bytes(k.top_k);
    r->top_k = k.top_k;
    if (rc == 0)
        rc = kld_load(&k, ta, tb, err) || kld_alloc(&k, err) || kld_resume(&k, ta ? ta : tb, err) ||
             kld_windows(&k, err) ? -1 : 0;
    if (rc == 0) { /* the final fsync's error is the run's; after another error run_free closes it */
        rc = lmc_kld_ckpt_close(k.ck, err);
        k.ck = NULL;
    }
    if (rc == 0 && o->save_base) {
        rc = lmc_write_file_atomic(o->save_base, k.out.p, k.out.len, err);
        r->base_file_bytes = k.out.len;
    } else if (rc == 0) {
        r->base_file_bytes = k.kb.data ? 256 + k.rec_bytes * r->scored_tokens : 0;
        rc = lmc_kld_summarise(&k.acc, &k.c, o->bootstrap, r, err);
    }
    r->seconds = lmc_now() - t_start;
    run_free(&k);
    return rc;
}
