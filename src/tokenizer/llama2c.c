/* llama2c.c — llama2.c's tokenizer.bin and run.c's encode().
 *
 * File: int32 max_token_length, then per token { float32 score; int32 len; len bytes } until the end of the
 * file (the vocabulary size is the number of records; run.c takes it from the model instead).
 *
 * run.c's encode(text, bos = 1, eos = 0), which this reproduces:
 *   - BOS (id 1) first, then the id of " " (the dummy prefix) when the text is not empty;
 *   - each UTF-8 character is looked up as a token; if absent, each of its bytes becomes id byte + 3
 *     (the <0xXX> tokens);
 *   - then, repeatedly, the adjacent pair whose concatenated strings form the token with the highest score is
 *     merged (the leftmost pair on ties), until no pair forms a token.
 * run.c rescans all pairs after every merge (O(n^2)); the shared heap merge (bpe.c) picks the same pair each
 * time in O(n log n). Two deliberate differences: run.c stops at a NUL byte (C strings), here the whole len
 * bytes are encoded, a NUL becoming <0x00>; and run.c lets BOS take part in the merges (it would only merge
 * if "\n<s>\n" + another token's string were a token), here BOS is added outside them.
 */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the file ---------------------------------------------------------------------------------------- */

static int load_bin(lmc_tokenizer *t, const unsigned char *p, size_t len, lmc_err *err) {
    tk_bpe *m = &t->bpe;
    if (len < 4) return lmc_fail(err, "%s: too short for a llama2.c tokenizer.bin", t->origin);
    size_t cap = 0, off = 4;
    while (off < len) {
        float score;
        int32_t tlen;
        if (len - off < 8) return lmc_fail(err, "%s: truncated record for token %d", t->origin, m->n_tokens);
        memcpy(&score, p + off, 4);
        memcpy(&tlen, p + off + 4, 4);
        off += 8;
        if (tlen < 0 || (size_t)tlen > len - off)
            return lmc_fail(err, "%s: token %d has a bad length %d", t->origin, m->n_tokens, tlen);
        if ((size_t)m->n_tokens == cap) {
            cap = cap ? cap * 2 : 1024;
            m->strs = lmc_xrealloc(m->strs, cap * sizeof *m->strs);
            m->str_lens = lmc_xrealloc(m->str_lens, cap * sizeof *m->str_lens);
            m->scores = lmc_xrealloc(m->scores, cap * sizeof *m->scores);
        }
        char *s = lmc_xmalloc((size_t)tlen + 1);
        memcpy(s, p + off, (size_t)tlen);
        s[tlen] = 0;
        m->strs[m->n_tokens] = s;
        m->str_lens[m->n_tokens] = (uint32_t)tlen;
        m->scores[m->n_tokens] = score;
        m->n_tokens++;
        off += (size_t)tlen;
        if (m->n_tokens == INT32_MAX) return lmc_fail(err, "%s: too many tokens", t->origin);
    }
    if (m->n_tokens < 3) return lmc_fail(err, "%s: %d tokens, fewer than <unk> <s> </s>", t->origin, m->n_tokens);
    /* run.c's bsearch over the sorted vocabulary is unspecified among duplicate strings: keep the first */
    tk_strmap_init(&m->vocab, (size_t)m->n_tokens);
    for (int32_t i = m->n_tokens; i-- > 0;) tk_strmap_put(&m->vocab, m->strs[i], m->str_lens[i], i);
    return 0;
}

int lmc_tokenizer_from_llama2c(const void *bin, size_t len, const char *origin, lmc_tokenizer **out,
                               lmc_err *err) {
    *out = NULL;
    lmc_tokenizer *t = tk_new(TK_KIND_LLAMA2C, origin ? origin : "tokenizer.bin");
    t->bpe.mode = TK_BPE_LLAMA2C;
    if (load_bin(t, bin, len, err)) { lmc_tokenizer_free(t); return -1; }
    t->vocab_size = t->bpe.n_tokens;
    t->prefix = lmc_xmalloc(sizeof *t->prefix);
    t->prefix[0] = 1; /* run.c: BOS = 1 */
    t->n_prefix = 1;
    tk_set_hash(t, bin, len, NULL, 0);
    *out = t;
    return 0;
}

/* ---- encode ----------------------------------------------------------------------------------------- */

int tk_llama2c_encode(lmc_tokenizer *t, const char *text, size_t len, tk_ids *out, lmc_err *err) {
    tk_bpe *m = &t->bpe;
    if (len == 0) return 0;
    if (len + 1 > m->syms_cap) {
        m->syms_cap = len + 1;
        m->syms = lmc_xrealloc(m->syms, m->syms_cap * sizeof *m->syms);
    }
    size_t n = 0;
    int32_t space = tk_strmap_get(&m->vocab, " ", 1);
    if (space >= 0) m->syms[n++] = (tk_sym){space, -1, -1, 0, 0};
    for (size_t i = 0; i < len;) {
        size_t cl = tk_utf8_len((unsigned char)text[i]);
        int32_t id = tk_strmap_get(&m->vocab, text + i, cl);
        if (id >= 0) {
            m->syms[n++] = (tk_sym){id, -1, -1, (uint32_t)i, (uint32_t)cl};
        } else {
            for (size_t b = 0; b < cl; b++) {
                int32_t bid = (unsigned char)text[i + b] + 3;
                if (bid >= m->n_tokens)
                    return lmc_fail(err, "%s: byte fallback id %d is past the vocabulary", t->origin, bid);
                m->syms[n++] = (tk_sym){bid, -1, -1, (uint32_t)(i + b), 1};
            }
        }
        i += cl;
    }
    for (size_t i = 0; i < n; i++) {
        m->syms[i].prev = (int32_t)i - 1;
        m->syms[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    if (tk_bpe_merge(m, text, n, t->origin, err)) return -1;
    for (int32_t i = 0; i >= 0; i = m->syms[i].next) tk_ids_push(out, m->syms[i].id);
    return 0;
}
