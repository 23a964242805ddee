/* added_tokens.c — finding added tokens in text, as HF's AddedVocabulary does.
 *
 * HF keeps two matching sets: tokens with normalized = false are matched in the raw input; tokens with
 * normalized = true are matched, after the normalizer ran on each remaining piece, against their own
 * normalized form (so with a Prepend("▁") normalizer "<unk>" is looked for as "▁<unk>"). Both use
 * leftmost-longest matching: the earliest start wins, then the longest token starting there. A byte trie per
 * set gives exactly that; tokens are few (at most a few thousand), so the trie is small.
 */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the trie ----------------------------------------------------------------------------------- */

static int32_t trie_new_node(tk_trie *t, uint8_t byte) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->nodes = lmc_xrealloc(t->nodes, t->cap * sizeof *t->nodes);
    }
    t->nodes[t->n] = (tk_trie_node){-1, -1, -1, byte};
    return (int32_t)t->n++;
}

void tk_trie_init(tk_trie *t) {
    memset(t, 0, sizeof *t);
    trie_new_node(t, 0);
}

static int32_t trie_child(const tk_trie *t, int32_t node, uint8_t byte) {
    for (int32_t c = t->nodes[node].child; c >= 0; c = t->nodes[c].sibling)
        if (t->nodes[c].byte == byte) return c;
    return -1;
}

/* Adds a pattern; an empty pattern is ignored, and the first token with a given pattern keeps it. */
void tk_trie_add(tk_trie *t, const char *pat, size_t len, int32_t tok_index) {
    if (len == 0) return;
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)pat[i];
        int32_t c = trie_child(t, node, b);
        if (c < 0) {
            c = trie_new_node(t, b);
            t->nodes[c].sibling = t->nodes[node].child;
            t->nodes[node].child = c;
        }
        node = c;
    }
    if (t->nodes[node].tok < 0) t->nodes[node].tok = tok_index;
    t->first[(uint8_t)pat[0]] = 1;
    t->n_patterns++;
}

void tk_trie_free(tk_trie *t) {
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

/* Longest pattern starting at s[i]: its token index and length, or -1. */
static int32_t longest_at(const tk_trie *t, const char *s, size_t n, size_t i, size_t *len) {
    int32_t node = 0, best = -1;
    for (size_t k = i; k < n; k++) {
        node = trie_child(t, node, (uint8_t)s[k]);
        if (node < 0) break;
        if (t->nodes[node].tok >= 0) { best = t->nodes[node].tok; *len = k + 1 - i; }
    }
    return best;
}

/* ---- word boundaries and spaces for single_word / lstrip / rstrip ------------------------------------ */

static bool ends_with_word(const char *s, size_t n) {
    if (n == 0) return false;
    size_t k = n - 1, cl;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    return tk_is_word_char(tk_utf8_decode(s + k, &cl));
}

static bool starts_with_word(const char *s, size_t n) {
    size_t cl;
    return n > 0 && tk_is_word_char(tk_utf8_decode(s, &cl));
}

/* Start of the whitespace run that ends at s[n]. */
static size_t space_run_start(const char *s, size_t n) {
    while (n > 0) {
        size_t k = n - 1, cl;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        if (!tk_is_whitespace(tk_utf8_decode(s + k, &cl))) break;
        n = k;
    }
    return n;
}

/* Length of the whitespace run at the start of s. */
static size_t space_run_len(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t cl;
        if (!tk_is_whitespace(tk_utf8_decode(s + i, &cl))) break;
        i += cl;
    }
    return i;
}

/* ---- splitting ------------------------------------------------------------------------------------ */

static void pieces_push(tk_pieces *p, size_t start, size_t end, int32_t id) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->v = lmc_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = (tk_piece){start, end, id};
}

void tk_added_split(const lmc_tokenizer *t, const tk_trie *trie, const char *s, size_t n, tk_pieces *out) {
    out->n = 0;
    size_t done = 0; /* end of the last token taken (HF start_offset) */
    if (trie->n_patterns)
        for (size_t i = 0; i < n;) {
            size_t len = 0;
            int32_t k = trie->first[(uint8_t)s[i]] ? longest_at(trie, s, n, i, &len) : -1;
            if (k < 0) { i++; continue; }
            const tk_added *a = &t->added[k];
            size_t start = i, stop = i + len;
            i = stop; /* the matcher goes on after the raw match, whatever lstrip/rstrip do */
            if (a->single_word) {
                bool space_before = start == 0 || !ends_with_word(s, start);
                bool space_after = stop == n || !starts_with_word(s + stop, n - stop);
                if (!space_before || !space_after) continue;
            }
            if (start < done) continue; /* inside what an rstrip already took */
            if (a->lstrip) {
                size_t ns = space_run_start(s, start);
                start = ns > done ? ns : done;
            }
            if (a->rstrip) stop += space_run_len(s + stop, n - stop);
            if (done < start) pieces_push(out, done, start, -1);
            pieces_push(out, start, stop, a->id);
            done = stop;
        }
    if (done != n) pieces_push(out, done, n, -1);
}
