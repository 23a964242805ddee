/* bpe.c — the BPE model: vocab and merge hash tables, the per-word merge loop, and the word cache.
 *
 * One merge loop serves the three BPE flavours (tk_bpe_mode):
 *   - HF tokenizer.json: the pair (left id, right id) has a rank in `merges`; lowest rank first.
 *   - tiktoken: the pair's concatenated bytes have a rank in the vocab; lowest rank first.
 *   - llama2.c run.c: the pair's concatenated strings name a token with a score; highest score first.
 * In every flavour ties go to the leftmost pair, and each merge only creates candidates with the new
 * symbol's two neighbours, so a word of n symbols costs O(n log n) with a binary heap. Heap entries are never
 * removed; an entry is stale (skipped) once either of its symbols has changed, which is checked by comparing
 * the ids and the right neighbour it was made with. Symbols only grow, so a changed symbol never gets its
 * old id back.
 */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- vectors ----------------------------------------------------------------------------------- */

void tk_ids_push(tk_ids *a, int32_t id) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->v = lmc_xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = id;
}

void tk_ids_append(tk_ids *a, const int32_t *ids, size_t n) {
    if (n == 0) return;
    if (a->n + n > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        while (cap < a->n + n) cap *= 2;
        a->v = lmc_xrealloc(a->v, cap * sizeof *a->v);
        a->cap = cap;
    }
    memcpy(a->v + a->n, ids, n * sizeof *ids);
    a->n += n;
}

void tk_segs_push(tk_segs *a, size_t start, size_t end, int is_match) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = lmc_xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = (tk_seg){start, end, is_match};
}

/* ---- hashing ----------------------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 32;
    return h;
}

uint64_t tk_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0x100000001b3ull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    return mix64(h ^ v);
}

static size_t table_size(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    return cap;
}

/* ---- string map -------------------------------------------------------------------------------- */

void tk_strmap_init(tk_strmap *m, size_t expected) {
    size_t cap = table_size(expected);
    m->slots = lmc_xmalloc(cap * sizeof *m->slots);
    for (size_t i = 0; i < cap; i++) m->slots[i].len = UINT32_MAX;
    m->mask = cap - 1;
    m->count = 0;
    m->keys = (lmc_buf){0};
}

int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n) {
    if (!m->slots) return -1;
    uint64_t h = tk_hash(s, n);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct tk_strslot *e = &m->slots[i];
        if (e->len == UINT32_MAX) return -1;
        if (e->hash == (uint32_t)h && e->len == n && memcmp(m->keys.p + e->off, s, n) == 0) return e->val;
    }
}

static void strmap_grow(tk_strmap *m) {
    size_t cap = (m->mask + 1) * 2;
    struct tk_strslot *old = m->slots;
    size_t old_cap = m->mask + 1;
    m->slots = lmc_xmalloc(cap * sizeof *m->slots);
    for (size_t i = 0; i < cap; i++) m->slots[i].len = UINT32_MAX;
    m->mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].len == UINT32_MAX) continue;
        uint64_t h = tk_hash(m->keys.p + old[i].off, old[i].len);
        size_t j = h & m->mask;
        while (m->slots[j].len != UINT32_MAX) j = (j + 1) & m->mask;
        m->slots[j] = old[i];
    }
    free(old);
}

void tk_strmap_put(tk_strmap *m, const char *s, size_t n, int32_t val) {
    if (!m->slots) tk_strmap_init(m, 16);
    if ((m->count + 1) * 2 > m->mask + 1) strmap_grow(m);
    uint64_t h = tk_hash(s, n);
    size_t i = h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        struct tk_strslot *e = &m->slots[i];
        if (e->len == UINT32_MAX) break;
        if (e->hash == (uint32_t)h && e->len == n && memcmp(m->keys.p + e->off, s, n) == 0) {
            e->val = val;
            return;
        }
    }
    size_t off = m->keys.len;
    lmc_buf_append(&m->keys, s, n);
    m->slots[i] = (struct tk_strslot){(uint32_t)h, (uint32_t)n, off, val};
    m->count++;
}

void tk_strmap_clear(tk_strmap *m) {
    if (!m->slots) return;
    for (size_t i = 0; i <= m->mask; i++) m->slots[i].len = UINT32_MAX;
    m->count = 0;
    m->keys.len = 0;
}

void tk_strmap_free(tk_strmap *m) {
    free(m->slots);
    lmc_buf_free(&m->keys);
    memset(m, 0, sizeof *m);
}

/* ---- pair map ---------------------------------------------------------------------------------- */

void tk_pairmap_init(tk_pairmap *m, size_t expected) {
    size_t cap = table_size(expected);
    m->slots = lmc_xmalloc(cap * sizeof *m->slots);
    for (size_t i = 0; i < cap; i++) m->slots[i].rank = UINT32_MAX;
    m->mask = cap - 1;
    m->count = 0;
}

static inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

bool tk_pairmap_get(const tk_pairmap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *id) {
    if (!m->slots) return false;
    uint64_t k = pair_key(a, b);
    for (size_t i = mix64(k) & m->mask;; i = (i + 1) & m->mask) {
        const struct tk_pairslot *e = &m->slots[i];
        if (e->rank == UINT32_MAX) return false;
        if (e->key == k) { *rank = e->rank; *id = e->id; return true; }
    }
}

void tk_pairmap_put(tk_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t id) {
    if (!m->slots) tk_pairmap_init(m, 16);
    if ((m->count + 1) * 2 > m->mask + 1) {
        size_t old_cap = m->mask + 1;
        struct tk_pairslot *old = m->slots;
        tk_pairmap_init(m, old_cap);
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i].rank == UINT32_MAX) continue;
            size_t j = mix64(old[i].key) & m->mask;
            while (m->slots[j].rank != UINT32_MAX) j = (j + 1) & m->mask;
            m->slots[j] = old[i];
            m->count++;
        }
        free(old);
    }
    uint64_t k = pair_key(a, b);
    size_t i = mix64(k) & m->mask;
    while (m->slots[i].rank != UINT32_MAX && m->slots[i].key != k) i = (i + 1) & m->mask;
    if (m->slots[i].rank == UINT32_MAX) m->count++;
    m->slots[i] = (struct tk_pairslot){k, rank, id};
}

void tk_pairmap_free(tk_pairmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- merge candidates: a binary min-heap on key -------------------------------------------------- */

static void heap_push(tk_bpe *m, tk_merge_cand c) {
    if (m->heap_n == m->heap_cap) {
        m->heap_cap = m->heap_cap ? m->heap_cap * 2 : 64;
        m->heap = lmc_xrealloc(m->heap, m->heap_cap * sizeof *m->heap);
    }
    size_t i = m->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (m->heap[parent].key <= c.key) break;
        m->heap[i] = m->heap[parent];
        i = parent;
    }
    m->heap[i] = c;
}

static tk_merge_cand heap_pop(tk_bpe *m) {
    tk_merge_cand top = m->heap[0], last = m->heap[--m->heap_n];
    size_t i = 0, n = m->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        uint64_t bk = last.key;
        if (l < n && m->heap[l].key < bk) { best = l; bk = m->heap[l].key; }
        if (r < n && m->heap[r].key < bk) best = r;
        if (best == i) break;
        m->heap[i] = m->heap[best];
        i = best;
    }
    if (n) m->heap[i] = last;
    return top;
}

/* Float scores ordered as unsigned keys, highest score -> smallest key (-0 is folded into +0 first, as
 * run.c's `>` treats them as equal). */
static uint32_t score_key(float f) {
    if (f == 0.0f) f = 0.0f;
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

/* Pushes the candidate merge of symbols l and r, if the model has one. */
static void consider_pair(tk_bpe *m, const char *word, int32_t l, int32_t r) {
    const tk_sym *L = &m->syms[l], *R = &m->syms[r];
    uint32_t prio;
    int32_t new_id;
    switch (m->mode) {
    case TK_BPE_HF:
        if (!tk_pairmap_get(&m->merges, L->id, R->id, &prio, &new_id)) return;
        break;
    case TK_BPE_TIKTOKEN:
        new_id = tk_strmap_get(&m->vocab, word + L->start, (size_t)L->len + R->len);
        if (new_id < 0) return;
        prio = (uint32_t)new_id;
        break;
    case TK_BPE_LLAMA2C: default:
        m->key.len = 0;
        lmc_buf_append(&m->key, m->strs[L->id], m->str_lens[L->id]);
        lmc_buf_append(&m->key, m->strs[R->id], m->str_lens[R->id]);
        new_id = tk_strmap_get(&m->vocab, m->key.p, m->key.len);
        if (new_id < 0 || !(m->scores[new_id] > -1e10f)) return; /* run.c starts best_score at -1e10 */
        prio = score_key(m->scores[new_id]);
        break;
    }
    heap_push(m, (tk_merge_cand){(uint64_t)prio << 32 | (uint32_t)l, L->id, R->id, new_id, r});
}

int tk_bpe_merge(tk_bpe *m, const char *word, size_t nsym, const char *origin, lmc_err *err) {
    if (nsym > INT32_MAX) return lmc_fail(err, "%s: a word of %zu symbols is too long", origin, nsym);
    m->heap_n = 0;
    for (size_t i = 0; i + 1 < nsym; i++) consider_pair(m, word, (int32_t)i, (int32_t)i + 1);
    while (m->heap_n) {
        tk_merge_cand c = heap_pop(m);
        int32_t l = (int32_t)(uint32_t)c.key;
        tk_sym *L = &m->syms[l];
        if (L->id != c.left_id || L->next != c.right) continue;
        tk_sym *R = &m->syms[c.right];
        if (R->id != c.right_id) continue;
        L->id = c.new_id;
        L->len += R->len;
        L->next = R->next;
        if (R->next >= 0) m->syms[R->next].prev = l;
        R->id = -1;
        if (L->prev >= 0) consider_pair(m, word, L->prev, l);
        if (L->next >= 0) consider_pair(m, word, l, L->next);
    }
    return 0;
}

/* ---- building the initial symbols of a word ------------------------------------------------------ */

static tk_sym *syms_reserve(tk_bpe *m, size_t n) {
    if (n > m->syms_cap) {
        m->syms_cap = n < 64 ? 64 : n * 2;
        m->syms = lmc_xrealloc(m->syms, m->syms_cap * sizeof *m->syms);
    }
    return m->syms;
}

static void sym_add(tk_bpe *m, size_t *n, int32_t id, size_t start, size_t len) {
    tk_sym *s = &m->syms[*n];
    s->id = id;
    s->prev = (int32_t)*n - 1;
    s->next = (int32_t)*n + 1;
    s->start = (uint32_t)start;
    s->len = (uint32_t)len;
    (*n)++;
}

/* HF BPE::merge_word's first half: one symbol per character (with continuing_subword_prefix on all but the
 * first and end_of_word_suffix on the last), byte fallback to <0xXX>, else unk (fused when fuse_unk). Note
 * HF's order: a pending unk is emitted when the next known character arrives, i.e. after any byte-fallback
 * tokens in between. */
static int hf_initial_symbols(tk_bpe *m, const char *s, size_t n, size_t *nsym, const char *origin,
                              lmc_err *err) {
    /* byte fallback: one symbol per byte of the (prefixed, suffixed) character */
    syms_reserve(m, n * (4 + m->prefix_len + m->suffix_len) + 1);
    size_t k = 0;
    bool unk_pending = false;
    size_t unk_start = 0, unk_len = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = tk_utf8_len((unsigned char)s[i]);
        const char *key = s + i;
        size_t key_len = cl;
        if ((i > 0 && m->prefix_len) || (i + cl == n && m->suffix_len)) {
            m->key.len = 0;
            if (i > 0) lmc_buf_append(&m->key, m->prefix, m->prefix_len);
            lmc_buf_append(&m->key, s + i, cl);
            if (i + cl == n) lmc_buf_append(&m->key, m->suffix, m->suffix_len);
            key = m->key.p;
            key_len = m->key.len;
        }
        int32_t id = tk_strmap_get(&m->vocab, key, key_len);
        if (id >= 0) {
            if (unk_pending) { sym_add(m, &k, m->unk_id, unk_start, unk_len); unk_pending = false; }
            sym_add(m, &k, id, i, cl);
        } else {
            bool done = false;
            if (m->byte_fallback) {
                bool all = true;
                for (size_t b = 0; b < key_len && all; b++) all = m->byte_ids[(unsigned char)key[b]] >= 0;
                if (all) {
                    /* spans only matter to tiktoken; the first byte token carries the character's */
                    for (size_t b = 0; b < key_len; b++)
                        sym_add(m, &k, m->byte_ids[(unsigned char)key[b]], i, b == 0 ? cl : 0);
                    done = true;
                }
            }
            if (!done && m->unk_token) {
                if (m->unk_missing)
                    return lmc_fail(err, "%s: unk_token '%s' is not in the vocabulary", origin, m->unk_token);
                if (unk_pending && m->fuse_unk) unk_len += cl;
                else {
                    if (unk_pending) sym_add(m, &k, m->unk_id, unk_start, unk_len);
                    unk_pending = true;
                    unk_start = i;
                    unk_len = cl;
                }
            }
            /* no unk_token: HF drops the character */
        }
        i += cl;
    }
    if (unk_pending) sym_add(m, &k, m->unk_id, unk_start, unk_len);
    if (k) m->syms[k - 1].next = -1;
    *nsym = k;
    return 0;
}

static int tiktoken_initial_symbols(tk_bpe *m, const char *s, size_t n, size_t *nsym, const char *origin,
                                    lmc_err *err) {
    syms_reserve(m, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = tk_strmap_get(&m->vocab, s + i, 1);
        if (id < 0) return lmc_fail(err, "%s: byte 0x%02X has no rank", origin, (unsigned char)s[i]);
        sym_add(m, &k, id, i, 1);
    }
    if (k) m->syms[k - 1].next = -1;
    *nsym = k;
    return 0;
}

/* ---- the word cache ----------------------------------------------------------------------------- */

#define TK_CACHE_MAX_WORD 256     /* bytes; HF caches words shorter than 256 too */
#define TK_CACHE_MAX_ENTRIES 200000

static bool cache_get(tk_bpe *m, const char *s, size_t n, tk_ids *out) {
    if (n >= TK_CACHE_MAX_WORD) return false;
    int32_t off = tk_strmap_get(&m->cache, s, n);
    if (off < 0) return false;
    tk_ids_append(out, m->cache_ids.v + off + 1, (size_t)m->cache_ids.v[off]);
    return true;
}

static void cache_put(tk_bpe *m, const char *s, size_t n, const int32_t *ids, size_t k) {
    if (n >= TK_CACHE_MAX_WORD) return;
    if (m->cache.count >= TK_CACHE_MAX_ENTRIES) { /* simplest bounded policy: start over */
        tk_strmap_clear(&m->cache);
        m->cache_ids.n = 0;
    }
    if (!m->cache.slots) tk_strmap_init(&m->cache, 1 << 14);
    int32_t off = (int32_t)m->cache_ids.n;
    tk_ids_push(&m->cache_ids, (int32_t)k);
    tk_ids_append(&m->cache_ids, ids, k);
    tk_strmap_put(&m->cache, s, n, off);
}

/* ---- encoding one piece --------------------------------------------------------------------------- */

bool tk_meta_after_other(const char *s, size_t n) {
    size_t i = 0;
    while (i + 3 <= n && memcmp(s + i, TK_META, 3) == 0) i += 3; /* the leading run is fine */
    const char *hit = i < n ? memmem(s + i, n - i, TK_META, 3) : NULL;
    return hit != NULL;
}

/* HF merge_word + the cache, for one word (or one chunk of it). */
static int encode_word(tk_bpe *m, const char *s, size_t n, tk_ids *out, const char *origin, lmc_err *err) {
    if (cache_get(m, s, n, out)) return 0;
    size_t nsym = 0;
    int rc = m->mode == TK_BPE_TIKTOKEN ? tiktoken_initial_symbols(m, s, n, &nsym, origin, err)
                                        : hf_initial_symbols(m, s, n, &nsym, origin, err);
    if (rc) return rc;
    if (nsym == 0) return 0;
    if (tk_bpe_merge(m, s, nsym, origin, err)) return -1;
    size_t first = out->n;
    for (int32_t i = 0; i >= 0; i = m->syms[i].next) tk_ids_push(out, m->syms[i].id);
    cache_put(m, s, n, out->v + first, out->n - first);
    return 0;
}

/* Splits before each "▁" that follows another character (see chunk_at_meta). */
static int encode_chunks(tk_bpe *m, const char *s, size_t n, tk_ids *out, const char *origin, lmc_err *err) {
    size_t start = 0, from = 0;
    for (;;) {
        const char *hit = from < n ? memmem(s + from, n - from, TK_META, 3) : NULL;
        if (!hit) break;
        size_t at = (size_t)(hit - s);
        if (at > start && !(at >= 3 && memcmp(s + at - 3, TK_META, 3) == 0)) {
            if (encode_word(m, s + start, at - start, out, origin, err)) return -1;
            start = at;
        }
        from = at + 3;
    }
    return encode_word(m, s + start, n - start, out, origin, err);
}

int tk_bpe_encode(tk_bpe *m, const char *s, size_t n, tk_ids *out, const char *origin, lmc_err *err) {
    if (n == 0) return 0;
    if (m->ignore_merges || m->mode == TK_BPE_TIKTOKEN) { /* the whole piece is a token: take it */
        int32_t id = tk_strmap_get(&m->vocab, s, n);
        if (id >= 0) { tk_ids_push(out, id); return 0; }
    }
    if (m->chunk_at_meta) return encode_chunks(m, s, n, out, origin, err);
    return encode_word(m, s, n, out, origin, err);
}

void tk_bpe_free(tk_bpe *m) {
    tk_strmap_free(&m->vocab);
    tk_pairmap_free(&m->merges);
    tk_strmap_free(&m->cache);
    free(m->cache_ids.v);
    free(m->unk_token);
    free(m->prefix);
    free(m->suffix);
    if (m->strs)
        for (int32_t i = 0; i < m->n_tokens; i++) free(m->strs[i]);
    free(m->strs);
    free(m->str_lens);
    free(m->scores);
    free(m->syms);
    free(m->heap);
    lmc_buf_free(&m->key);
    memset(m, 0, sizeof *m);
}
