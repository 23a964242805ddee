/* kld_base.c — `lmc kld --save-base` / `--base-file`: the base model's distributions kept as the top K log-probs
 * of every scored token, so that the base need not be loaded again for each model compared with it.
 *
 * The file (native little-endian, x86-64): a 256-byte header, then one record per scored token in scored order
 *   f32 log p_A(target), f32 tail mass (of the tokens neither in the top K nor the target, summed in double),
 *   K × u32 token id (the top K, largest first), K × f32 log-probability of each,
 * 8 + 8K bytes per token: 264 at K = 32, against llama-perplexity's 2 bytes per vocabulary entry (64 000 for a
 * 32 000-entry vocabulary, 256 KiB for Llama-3's 128 256).
 *
 * What the comparison approximates: each distribution is coarsened to the outcomes S = top-K(A) ∪ {target}
 * plus one "tail" outcome holding the rest of the mass, and the divergences are those of the coarsened pair.
 * Coarsening never increases a KL divergence or JSD (the log-sum inequality), so the stored-base values are
 * lower bounds of the exact ones; the gap is the divergence inside the tail weighted by its mass, measured
 * against the exact mode in tests/test_kld.c. Δp, both NLLs, PPLs, ΔBPC and Same top p are exact (the target's
 * log-prob and A's argmax are stored); top-5 overlap is exact as K ≥ 5. */
#include "eval/kld_internal.h"
#include "common/util.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KB_MAGIC "LMCKLDB1"

typedef struct kb_head {
    char     magic[8];
    uint32_t top_k, vocab, block_size, stride;
    uint64_t tokens, scored_tokens;
    char     tokens_sha256[65]; /* of the token stream (int32 little-endian), as lmc eval's */
    char     pad[256 - 8 - 16 - 16 - 65];
} kb_head;

_Static_assert(sizeof(kb_head) == 256, "the base file's header is 256 bytes");

size_t lmc_kld_base_record_bytes(int top_k) { return 8 + 8 * (size_t)top_k; }

/* ---- writing: one base row encoded ------------------------------------------------------------------------ */

void lmc_kld_base_encode(const float *a, int V, int target, int K, unsigned char *rec) {
    int *idx = (int *)(rec + 8);
    float *lp = (float *)(rec + 8 + 4 * (size_t)K);
    int k = 0;
    for (int j = 0; j < V; j++) { /* the K largest, largest first (ties: the lower id first) */
        if (k == K && a[j] <= a[idx[K - 1]]) continue;
        int i = k < K ? k++ : K - 1;
        while (i > 0 && a[idx[i - 1]] < a[j]) { idx[i] = idx[i - 1]; i--; }
        idx[i] = j;
    }
    double m = vec_max(a, V), s = 0, top = 0;
    int in_top = 0;
    for (int j = 0; j < V; j++) s += exp((double)a[j] - m);
    for (int i = 0; i < k; i++) {
        top += exp((double)a[idx[i]] - m);
        in_top |= idx[i] == target;
    }
    if (!in_top) top += exp((double)a[target] - m);
    double z = m + log(s), tail = (s - top) / s;
    float head[2] = {(float)((double)a[target] - z), (float)(tail > 0 ? tail : 0)};
    memcpy(rec, head, sizeof head);
    for (int i = 0; i < k; i++) lp[i] = (float)((double)a[idx[i]] - z);
}

void lmc_kld_base_header(lmc_buf *b, int K, int V, int W, int S, size_t tokens, size_t scored, const char *sha) {
    kb_head h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, KB_MAGIC, 8);
    h.top_k = (uint32_t)K;
    h.vocab = (uint32_t)V;
    h.block_size = (uint32_t)W;
    h.stride = (uint32_t)S;
    h.tokens = tokens;
    h.scored_tokens = scored;
    snprintf(h.tokens_sha256, sizeof h.tokens_sha256, "%s", sha);
    lmc_buf_append(b, &h, sizeof h);
}

/* ---- reading: the file checked against the run it is used in -------------------------------------------- */

int lmc_kld_base_load(const char *path, lmc_kld_base *kb, lmc_err *err) {
    memset(kb, 0, sizeof *kb);
    char *data;
    size_t len;
    if (lmc_read_file(path, &data, &len, err)) return -1;
    kb_head h;
    if (len < sizeof h || memcmp(data, KB_MAGIC, 8)) {
        free(data);
        return lmc_fail(err, "%s: not a base file of lmc kld --save-base (bad magic or too short)", path);
    }
    memcpy(&h, data, sizeof h);
    size_t rec = lmc_kld_base_record_bytes((int)h.top_k);
    if (h.top_k < 5 || h.top_k > 4096 || h.vocab < h.top_k || h.tokens_sha256[64] ||
        len != sizeof h + rec * h.scored_tokens) {
        free(data);
        return lmc_fail(err, "%s: damaged base file (%zu bytes where its header implies %zu)", path, len,
                        sizeof h + rec * (size_t)h.scored_tokens);
    }
    kb->data = data;
    kb->top_k = (int)h.top_k;
    kb->vocab = (int)h.vocab;
    kb->block_size = (int)h.block_size;
    kb->stride = (int)h.stride;
    kb->tokens = h.tokens;
    kb->scored_tokens = h.scored_tokens;
    memcpy(kb->tokens_sha256, h.tokens_sha256, 65);
    kb->records = (const unsigned char *)data + sizeof h;
    kb->record_bytes = rec;
    return 0;
}

void lmc_kld_base_free(lmc_kld_base *kb) {
    free(kb->data);
    memset(kb, 0, sizeof *kb);
}

/* ---- comparing a model's row with a stored base row ------------------------------------------------------- */

void lmc_kld_compare_stored(const unsigned char *rec, int K, const float *b, int V, int target, lmc_kld_row *out) {
    float head[2];
    memcpy(head, rec, sizeof head);
    const int *idx = (const int *)(rec + 8);
    const float *lp = (const float *)(rec + 8 + 4 * (size_t)K);
    double mb = vec_max(b, V), s = 0, in_s = 0, kl = 0, klr = 0, js = 0;
    for (int j = 0; j < V; j++) s += exp((double)b[j] - mb);
    double zb = mb + log(s);
    int in_top = 0;
    for (int i = 0; i < K; i++) {
        lmc_kld_add_outcome((double)lp[i], (double)b[idx[i]] - zb, &kl, &klr, &js);
        in_s += exp((double)b[idx[i]] - mb);
        in_top |= idx[i] == target;
    }
    if (!in_top) { /* the target is an outcome of its own (the stored tail leaves it out) */
        lmc_kld_add_outcome((double)head[0], (double)b[target] - zb, &kl, &klr, &js);
        in_s += exp((double)b[target] - mb);
    }
    /* the tail bucket: skipped when either side's is 0 (K = V, or a remainder below rounding) */
    double tail_b = (s - in_s) / s;
    if (head[1] > 0 && tail_b > 0) lmc_kld_add_outcome(log((double)head[1]), log(tail_b), &kl, &klr, &js);
    out->kld = kl;
    out->kld_rev = klr;
    out->jsd = js;
    out->nll_a = -(double)head[0];
    out->nll_b = zb - (double)b[target];
    out->dp = exp(-out->nll_b) - exp(-out->nll_a);
    int ib[5];
    lmc_kld_top5(b, V, ib);
    out->same_top = ib[0] == idx[0];
    out->top5 = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) out->top5 += idx[i] == ib[j];
}
