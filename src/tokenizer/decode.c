/* decode.c — token ids back to the bytes they stand for, for streaming generated text.
 *
 * tokenizer.json's "decoder" section is not read: each encoder here has one exact inverse, chosen by what the
 * encoder does (so it cannot disagree with it):
 *   - byte-level BPE (a ByteLevel pre-tokenizer or normalizer): every character of the token string is one byte
 *     under GPT-2's bytes_to_unicode, mapped back;
 *   - SentencePiece-style BPE (Metaspace, or a normalizer that writes "▁"): "▁" (or the Metaspace replacement)
 *     becomes a space, and a byte-fallback token "<0xXX>" becomes the byte XX;
 *   - tiktoken (Qwen-1): the token string is the raw bytes;
 *   - llama2.c tokenizer.bin: the stored string (spaces are real spaces), and "<0xXX>" at ids 3..258 the byte.
 * Special added tokens (BOS, EOS, chat markers) give no bytes: they are not text. A token may end inside a
 * UTF-8 character (byte-level and byte-fallback tokens split characters), so callers that print pieces as they
 * come hold back an incomplete tail: lmc_utf8_ready says how much of a buffer may be written now. */
#include "tokenizer/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { DEC_RAW, DEC_BYTELEVEL, DEC_METASPACE } dec_mode;

static dec_mode decode_mode(const lmc_tokenizer *t, const char **meta, size_t *meta_len) {
    *meta = TK_META;
    *meta_len = 3;
    if (t->kind != TK_KIND_HF) return DEC_RAW;
    for (size_t i = 0; i < t->n_pretoks; i++) {
        if (t->pretoks[i].kind == TK_PT_BYTELEVEL) return DEC_BYTELEVEL;
        if (t->pretoks[i].kind == TK_PT_METASPACE) {
            *meta = t->pretoks[i].rep;
            *meta_len = t->pretoks[i].rep_len;
        }
    }
    for (size_t i = 0; i < t->n_norms; i++)
        if (t->norms[i].kind == TK_NORM_BYTELEVEL) return DEC_BYTELEVEL;
    return DEC_METASPACE;
}

/* The id → string table (vocab, then added tokens over it), built on the first decode. */
static void build_table(lmc_tokenizer *t) {
    size_t V = (size_t)(t->vocab_size > 0 ? t->vocab_size : 1);
    t->dec_off = lmc_xmalloc(V * sizeof *t->dec_off);
    t->dec_len = lmc_xmalloc(V * sizeof *t->dec_len);
    t->dec_special = lmc_xcalloc(V, 1);
    for (size_t i = 0; i < V; i++) t->dec_len[i] = UINT32_MAX;
    if (t->kind == TK_KIND_LLAMA2C) {
        for (int32_t i = 0; i < t->bpe.n_tokens && (size_t)i < V; i++) {
            t->dec_off[i] = (uint32_t)t->dec_strs.len;
            t->dec_len[i] = t->bpe.str_lens[i];
            lmc_buf_append(&t->dec_strs, t->bpe.strs[i], t->bpe.str_lens[i]);
        }
        for (int i = 0; i < 3 && (size_t)i < V; i++) t->dec_special[i] = 1; /* <unk>, <s>, </s> */
    } else {
        const tk_strmap *m = &t->bpe.vocab;
        for (size_t s = 0; m->slots && s <= m->mask; s++) {
            const struct tk_strslot *sl = &m->slots[s];
            if (sl->len == UINT32_MAX || sl->val < 0 || (size_t)sl->val >= V) continue;
            t->dec_off[sl->val] = (uint32_t)t->dec_strs.len;
            t->dec_len[sl->val] = sl->len;
            lmc_buf_append(&t->dec_strs, m->keys.p + sl->off, sl->len);
        }
    }
    for (size_t i = 0; i < t->n_added; i++) {
        const tk_added *a = &t->added[i];
        if (a->id < 0 || (size_t)a->id >= V) continue;
        t->dec_off[a->id] = (uint32_t)t->dec_strs.len;
        t->dec_len[a->id] = (uint32_t)a->len;
        t->dec_special[a->id] = a->special;
        lmc_buf_append(&t->dec_strs, a->content, a->len);
    }
}

/* "<0xXX>" → XX, or -1. */
static int byte_token(const char *s, size_t n) {
    unsigned v;
    char tail;
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    if (sscanf(s + 3, "%2x%c", &v, &tail) != 2 || tail != '>') return -1;
    return (int)v;
}

/* Appends one byte to out when it fits; counts it either way (snprintf-style). */
static void put(char *out, size_t cap, size_t *n, char c) {
    if (*n < cap) out[*n] = c;
    (*n)++;
}

long lmc_token_bytes(lmc_tokenizer *t, int32_t id, char *out, size_t cap) {
    if (id < 0 || id >= t->vocab_size) return -1;
    if (!t->dec_off) build_table(t);
    if (t->dec_len[id] == UINT32_MAX) return -1;
    if (t->dec_special[id]) return 0;
    const char *s = t->dec_strs.p + t->dec_off[id], *meta;
    size_t len = t->dec_len[id], n = 0, meta_len;
    dec_mode mode = decode_mode(t, &meta, &meta_len);
    int b = byte_token(s, len);
    bool is_byte = b >= 0 && ((t->kind == TK_KIND_LLAMA2C && id == b + 3) ||
                              (t->kind == TK_KIND_HF && t->bpe.byte_fallback && t->bpe.byte_ids[b] == id));
    bool is_added = false;
    for (size_t i = 0; i < t->n_added && !is_added; i++) is_added = t->added[i].id == id;
    if (is_byte) {
        put(out, cap, &n, (char)b);
    } else if (mode == DEC_BYTELEVEL && !is_added) {
        for (size_t i = 0; i < len;) {
            size_t cl;
            uint32_t cp = tk_utf8_decode(s + i, &cl);
            int byte = -1;
            for (int k = 0; k < 256 && byte < 0; k++) { /* bytes_to_unicode is a bijection onto 256 code points */
                size_t kl;
                if (tk_utf8_decode(t->bytelevel[k], &kl) == cp) byte = k;
            }
            if (byte >= 0) put(out, cap, &n, (char)byte);
            else for (size_t j = 0; j < cl; j++) put(out, cap, &n, s[i + j]); /* not from the byte alphabet */
            i += cl;
        }
    } else if (mode == DEC_METASPACE && !is_added) {
        for (size_t i = 0; i < len;) {
            if (meta_len && len - i >= meta_len && memcmp(s + i, meta, meta_len) == 0) {
                put(out, cap, &n, ' ');
                i += meta_len;
            } else put(out, cap, &n, s[i++]);
        }
    } else {
        for (size_t i = 0; i < len; i++) put(out, cap, &n, s[i]);
    }
    return (long)n;
}

int lmc_token_special(lmc_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->vocab_size) return 0;
    if (!t->dec_off) build_table(t);
    return t->dec_special[id];
}

size_t lmc_utf8_ready(const char *s, size_t n) {
    /* Find the last lead byte among the final 3; if its sequence is valid so far but short, hold it back. */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: keep looking for the lead */
        size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
        return need > back ? n - back : n;
    }
    return n; /* ASCII, or stray continuation bytes that no lead will complete */
}
