/* quality.c — the honest substitute for CCNet's "head" bucket (whose Wikipedia KenLM models cannot be had
 * offline): a word 5-gram model with interpolated Witten–Bell smoothing, trained on a reference text the user
 * names, scoring documents by perplexity after CCNet-style normalization (lowercase, accents removed, digits → 0).
 * Words are hashed (64-bit FNV-1a of their UTF-8), n-grams by chaining: no vocabulary is stored. */
#include "corpus/corpus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define ORDER 5

/* ---- counts: 64-bit keys → two counters ------------------------------------------------------------------- */

typedef struct count_slot {
    uint64_t key;  /* 0: empty */
    uint32_t a, b; /* n-gram: count; context: total count, distinct followers */
} count_slot;

typedef struct count_map {
    count_slot *s;
    size_t      cap, n;
} count_map;

static count_slot *slot(count_map *m, uint64_t key, int add) {
    key = key ? key : 1;
    if (add && 2 * (m->n + 1) > m->cap) {
        count_map g = {lmc_xcalloc(m->cap ? 2 * m->cap : 1 << 14, sizeof *m->s), m->cap ? 2 * m->cap : 1 << 14, 0};
        for (size_t i = 0; i < m->cap; i++)
            if (m->s[i].key) *slot(&g, m->s[i].key, 1) = m->s[i], g.n++;
        free(m->s);
        *m = g;
    }
    if (!m->cap) return NULL;
    size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (m->cap - 1);
    while (m->s[i].key && m->s[i].key != key) i = (i + 1) & (m->cap - 1);
    if (!m->s[i].key) {
        if (!add) return NULL;
        m->s[i].key = key, m->n++;
    }
    return &m->s[i];
}

struct ngram_model {
    count_map grams, contexts; /* c(h, w); c(h) and N1+(h •), keyed by the chained hashes */
    size_t    vocab;           /* distinct words of the reference */
};

/* ---- words ---------------------------------------------------------------------------------------------------- */

/* The hashes of text's words (lowercased, accents removed, digits → 0; split on white space), with an end of
 * line (hash 0x2) after every line: *n of them, malloc'ed. */
static uint64_t *word_hashes(const char *t, size_t len, size_t *n) {
    size_t cap = 64, k = 0;
    uint64_t *w = lmc_xmalloc(cap * sizeof *w), h = 0xcbf29ce484222325ull;
    int in_word = 0;
    for (size_t i = 0; i <= len;) {
        int32_t c = '\n';
        utf8proc_ssize_t step = 1;
        if (i < len && (step = utf8proc_iterate((const utf8proc_uint8_t *)t + i, (utf8proc_ssize_t)(len - i), &c)) <= 0)
            step = 1, c = 0xfffd;
        int space = c == '\n' || corpus_py_space(c);
        if (!space) {
            int32_t d[4], base = c;
            utf8proc_int32_t last;
            if (utf8proc_decompose_char(c, d, 4, UTF8PROC_DECOMPOSE, &last) >= 1) base = d[0]; /* accents off */
            base = utf8proc_tolower(base);
            if (utf8proc_category(base) == UTF8PROC_CATEGORY_ND) base = '0';
            h = (h ^ (uint64_t)base) * 0x100000001b3ull, in_word = 1;
        }
        if ((space || i >= len) && in_word) {
            if (k + 2 > cap) w = lmc_xrealloc(w, (cap *= 2) * sizeof *w);
            w[k++] = h | 4, h = 0xcbf29ce484222325ull, in_word = 0;
        }
        if (c == '\n') {
            if (k + 2 > cap) w = lmc_xrealloc(w, (cap *= 2) * sizeof *w);
            if (k && w[k - 1] != 2) w[k++] = 2;
        }
        i += (size_t)step;
    }
    *n = k;
    return w;
}

/* The context hash of the words before position i, of length len (0: the empty context). */
static uint64_t context(const uint64_t *w, size_t i, int len) {
    uint64_t h = 0x51ed270b27a7a1ddull;
    for (int k = len; k >= 1; k--) h = corpus_splitmix64(h ^ (i >= (size_t)k ? w[i - (size_t)k] : 3));
    return h;
}

static uint64_t gram(uint64_t ctx, uint64_t word) { return corpus_splitmix64(ctx * 31 + word); }

/* ---- training and scoring ---------------------------------------------------------------------------------- */

static void train_text(ngram_model *m, const char *t, size_t len) {
    size_t n;
    uint64_t *w = word_hashes(t, len, &n);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < ORDER; k++) {
            uint64_t ctx = context(w, i, k);
            count_slot *g = slot(&m->grams, gram(ctx, w[i]), 1), *c;
            int first = g->a == 0;
            g->a++;
            c = slot(&m->contexts, ctx, 1);
            c->a++, c->b += first;
        }
    free(w);
}

int ngram_train(const char *path, ngram_model **out, lmc_err *err) {
    text_set t;
    if (texts_read(path, &t, err)) return -1;
    ngram_model *m = lmc_xcalloc(1, sizeof *m);
    for (size_t i = 0; i < t.n; i++) train_text(m, text_content(&t, i), t.docs[i].content.len);
    texts_free(&t);
    const count_slot *u = slot(&m->contexts, context(NULL, 0, 0), 0);
    m->vocab = u ? u->b : 0;
    if (!m->vocab) { ngram_free(m); return lmc_fail(err, "%s: no words to train the quality model on", path); }
    *out = m;
    return 0;
}

double ngram_perplexity(const ngram_model *m, const char *text, size_t len) {
    size_t n;
    uint64_t *w = word_hashes(text, len, &n);
    double bits = 0;
    for (size_t i = 0; i < n; i++) {
        double p = 1.0 / (double)(m->vocab + 1); /* the unknown word shares the uniform floor */
        for (int k = 0; k < ORDER; k++) { /* Witten–Bell, lower orders first */
            uint64_t ctx = context(w, i, k);
            const count_slot *c = slot((count_map *)&m->contexts, ctx, 0);
            if (!c) break; /* an unseen context: no longer one either */
            const count_slot *g = slot((count_map *)&m->grams, gram(ctx, w[i]), 0);
            p = ((g ? g->a : 0) + c->b * p) / (double)(c->a + c->b);
        }
        bits -= log2(p);
    }
    free(w);
    return n ? exp2(bits / (double)n) : 0;
}

void ngram_free(ngram_model *m) {
    if (!m) return;
    free(m->grams.s), free(m->contexts.s);
    free(m);
}
