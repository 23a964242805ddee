/* dedup.c — the sets of hashes.
 *
 * line_set, paragraph dedup's: the distinct line hashes of a dedup scope as one sorted array of uint64 (8 bytes
 * per distinct line) with two bits beside each (in two or more documents; kept by a document in the pass that
 * writes). Hashes arrive as each document's distinct ones, collected in a batch that is sorted (radix) and merged
 * into the array, in place from the back, when full; the batch is 1/16 of the array (at least 1 Mi entries), so
 * merging stays linear overall and the peak is about 9 bytes per distinct line plus the fixed batch. Lookups
 * go through a directory by the top bits (SHA-1 prefixes are uniform; 16 to 32 keys per bucket, at most half a
 * byte per line) and an interpolated start inside the bucket: a cache line or two, like a hash table at a third
 * to a quarter of its memory.
 *
 * hash_table: a plain set of uint64 (open addressing, at most half full) for the small exact-dedup sets of
 * `corpus code`. */
#include "corpus/corpus.h"

#include <stdlib.h>
#include <string.h>

/* ---- radix sort ----------------------------------------------------------------------------------- */

/* Sorts src[0..n) by its low `bytes` bytes (stable passes, low to high) with scratch; the result in dst, which is
 * src or scratch. */
static void lsd_sort(uint64_t *src, uint64_t *scratch, size_t n, int bytes, uint64_t *dst) {
    size_t (*count)[256] = lmc_xcalloc((size_t)bytes, sizeof *count);
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < bytes; b++) count[b][(src[i] >> (8 * b)) & 0xff]++;
    uint64_t *from = src, *to = scratch;
    for (int b = 0; b < bytes; b++) {
        if (count[b][(from[0] >> (8 * b)) & 0xff] == n) continue; /* every key has this byte: nothing to do */
        size_t at = 0;
        for (int v = 0; v < 256; v++) { size_t c = count[b][v]; count[b][v] = at; at += c; }
        for (size_t i = 0; i < n; i++) to[count[b][(from[i] >> (8 * b)) & 0xff]++] = from[i];
        uint64_t *t = from; from = to, to = t;
    }
    if (from != dst) memcpy(dst, from, n * sizeof *dst);
    free(count);
}

/* Sorts a[0..n) with tmp[0..n) as scratch. A large array: one pass on the top byte (the keys are SHA-1 prefixes,
 * so the 256 buckets are even), then each bucket, small enough for the caches, on its other seven bytes, the
 * buckets in parallel; else eight passes over the whole. */
static void radix_sort(uint64_t *a, uint64_t *tmp, size_t n) {
    if (n < (1u << 16)) { lsd_sort(a, tmp, n, 8, a); return; }
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++) start[(a[i] >> 56) + 1]++;
    for (int v = 0; v < 256; v++) start[v + 1] += start[v];
    size_t at[256];
    memcpy(at, start, sizeof at);
    for (size_t i = 0; i < n; i++) tmp[at[a[i] >> 56]++] = a[i];
#pragma omp parallel for schedule(dynamic, 4)
    for (int v = 0; v < 256; v++)
        if (start[v + 1] > start[v])
            lsd_sort(tmp + start[v], a + start[v], start[v + 1] - start[v], 7, a + start[v]);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t corpus_sort_unique(uint64_t *h, size_t n) {
    if (n < 2) return n;
    if (n >= 512) { /* radix: linear, and qsort's calls through a comparison cost more from here up */
        uint64_t *tmp = lmc_xmalloc(n * sizeof *tmp);
        radix_sort(h, tmp, n);
        free(tmp);
    } else if (n <= 48) { /* a document's lines, most often: insertion, no calls */
        for (size_t i = 1; i < n; i++) {
            uint64_t x = h[i];
            size_t j = i;
            for (; j > 0 && h[j - 1] > x; j--) h[j] = h[j - 1];
            h[j] = x;
        }
    } else qsort(h, n, sizeof *h, cmp_u64);
    size_t u = 1;
    for (size_t i = 1; i < n; i++)
        if (h[i] != h[u - 1]) h[u++] = h[i];
    return u;
}

/* ---- line_set ----------------------------------------------------------------------------------------- */

#define BATCH_MIN ((size_t)1 << 20)

static int  bit_get(const uint64_t *w, size_t i) { return (int)(w[i >> 6] >> (i & 63) & 1); }
static void bit_put(uint64_t *w, size_t i, int v) {
    w[i >> 6] = (w[i >> 6] & ~(1ull << (i & 63))) | ((uint64_t)(v != 0) << (i & 63));
}

/* The batch, sorted and merged into keys: a key already there, or twice in the batch (two documents: each
 * document's hashes arrive distinct), is marked as in two or more documents. */
static void flush(line_set *s) {
    if (!s->nb) return;
    uint64_t *tmp = lmc_xmalloc(s->nb * sizeof *tmp);
    radix_sort(s->batch, tmp, s->nb);
    uint8_t *many = (uint8_t *)tmp; /* the batch's runs: distinct keys into batch[0..u), their "twice" flags */
    size_t u = 0;
    for (size_t i = 0; i < s->nb;) {
        size_t j = i + 1;
        while (j < s->nb && s->batch[j] == s->batch[i]) j++;
        s->batch[u] = s->batch[i], many[u++] = j - i > 1;
        i = j;
    }
    size_t fresh = 0; /* batch keys not yet in keys */
    for (size_t i = 0, k = 0; i < u; i++) {
        while (k < s->n && s->keys[k] < s->batch[i]) k++;
        fresh += k == s->n || s->keys[k] != s->batch[i];
    }
    size_t n = s->n + fresh, words = (n + 63) / 64, old_words = (s->n + 63) / 64;
    s->keys = lmc_xrealloc(s->keys, (n ? n : 1) * sizeof *s->keys);
    s->multi = lmc_xrealloc(s->multi, (words ? words : 1) * sizeof *s->multi);
    memset(s->multi + old_words, 0, (words - old_words) * sizeof *s->multi);
    size_t i = s->n, j = u, k = n; /* merge from the back: k >= i, so nothing is overwritten before it is read */
    while (j > 0) {
        uint64_t b = s->batch[j - 1];
        if (i > 0 && s->keys[i - 1] > b) {
            k--, i--;
            s->keys[k] = s->keys[i];
            bit_put(s->multi, k, bit_get(s->multi, i));
        } else if (i > 0 && s->keys[i - 1] == b) {
            k--, i--, j--;
            s->keys[k] = b;
            bit_put(s->multi, k, 1);
        } else {
            k--, j--;
            s->keys[k] = b;
            bit_put(s->multi, k, many[j]);
        }
    }
    s->n = n;
    size_t bytes = line_set_bytes(s) + s->nb * sizeof *tmp;
    if (bytes > s->peak) s->peak = bytes;
    s->nb = 0;
    free(tmp);
    size_t cap = s->n / 16 > BATCH_MIN ? s->n / 16 : BATCH_MIN;
    if (cap != s->batch_cap) {
        free(s->batch);
        s->batch = lmc_xmalloc(cap * sizeof *s->batch), s->batch_cap = cap;
    }
}

void line_set_add(line_set *s, const uint64_t *h, size_t n) {
    while (n) {
        if (!s->batch_cap) s->batch = lmc_xmalloc(BATCH_MIN * sizeof *s->batch), s->batch_cap = BATCH_MIN;
        size_t take = s->batch_cap - s->nb < n ? s->batch_cap - s->nb : n;
        memcpy(s->batch + s->nb, h, take * sizeof *h);
        s->nb += take, h += take, n -= take;
        if (s->nb == s->batch_cap) flush(s);
    }
}

void line_set_seal(line_set *s) {
    flush(s);
    free(s->batch);
    s->batch = NULL, s->batch_cap = 0;
    free(s->claimed);
    s->claimed = lmc_xcalloc((s->n + 63) / 64 + 1, sizeof *s->claimed);
    s->dir_bits = 0; /* 2^dir_bits buckets by the top bits, 16 to 32 keys each */
    while (s->dir_bits < 40 && ((size_t)1 << (s->dir_bits + 1)) * 16 <= s->n) s->dir_bits++;
    size_t nb = (size_t)1 << s->dir_bits;
    free(s->dir);
    s->dir = lmc_xmalloc((nb + 1) * sizeof *s->dir);
    for (size_t b = 0, k = 0; b <= nb; b++) {
        while (k < s->n && (s->dir_bits ? s->keys[k] >> (64 - s->dir_bits) : 0) < b) k++;
        s->dir[b] = b == nb ? s->n : k;
    }
    size_t bytes = line_set_bytes(s);
    if (bytes > s->peak) s->peak = bytes;
}

static uint64_t bucket_of(const line_set *s, uint64_t key) { return s->dir_bits ? key >> (64 - s->dir_bits) : 0; }

/* keys are uniform (SHA-1 prefixes): where the bits below the bucket's put key in [lo, hi) */
static size_t guess(const line_set *s, uint64_t key, size_t lo, size_t hi) {
    return lo + (size_t)(((unsigned __int128)(key << s->dir_bits) * (hi - lo)) >> 64);
}

void line_set_prefetch(const line_set *s, uint64_t key, int stage) {
    if (!s->n) return;
    uint64_t b = bucket_of(s, key);
    if (stage == 0) __builtin_prefetch(&s->dir[b]);
    else __builtin_prefetch(&s->keys[guess(s, key, s->dir[b], s->dir[b + 1])]);
}

size_t line_set_find(const line_set *s, uint64_t key) {
    if (!s->n) return SIZE_MAX;
    uint64_t bucket = bucket_of(s, key);
    size_t lo = s->dir[bucket], hi = s->dir[bucket + 1];
    /* from the guess, walk to the first key >= key: a step or two, one cache line rather than a binary
     * search's several */
    size_t g = guess(s, key, lo, hi);
    while (g > lo && s->keys[g - 1] >= key) g--;
    while (g < hi && s->keys[g] < key) g++;
    return g < hi && s->keys[g] == key ? g : SIZE_MAX;
}

int line_set_multi(const line_set *s, size_t i) { return bit_get(s->multi, i); }

int line_set_claim(line_set *s, size_t i) {
    uint64_t bit = 1ull << (i & 63);
    return !(__atomic_fetch_or(&s->claimed[i >> 6], bit, __ATOMIC_RELAXED) & bit);
}

size_t line_set_bytes(const line_set *s) {
    size_t dir = s->dir ? (((size_t)1 << s->dir_bits) + 1) * sizeof *s->dir : 0;
    return s->n * sizeof *s->keys + 2 * ((s->n + 63) / 64) * sizeof(uint64_t) + s->batch_cap * sizeof *s->batch + dir;
}

void line_set_free(line_set *s) {
    free(s->keys), free(s->multi), free(s->claimed), free(s->batch), free(s->dir);
    memset(s, 0, sizeof *s);
}

/* ---- hash_table: a set of uint64 ------------------------------------------------------------------------ */

static size_t slot_of(uint64_t key, size_t cap) { return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1); }

static uint64_t stored_key(uint64_t key) { return key ? key : 1; } /* 0 marks an empty slot */

static uint64_t *probe(uint64_t *slots, size_t cap, uint64_t key) {
    size_t i = slot_of(key, cap);
    while (slots[i] && slots[i] != key) i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void grow(hash_table *t) {
    size_t cap = t->cap ? t->cap * 2 : 1 << 12;
    uint64_t *slots = lmc_xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) *probe(slots, cap, t->slots[i]) = t->slots[i];
    free(t->slots);
    t->slots = slots, t->cap = cap;
}

void hash_table_free(hash_table *t) {
    free(t->slots);
    memset(t, 0, sizeof *t);
}

int hash_table_insert(hash_table *t, uint64_t key) {
    if (2 * (t->n + 1) > t->cap) grow(t);
    uint64_t *e = probe(t->slots, t->cap, stored_key(key));
    if (*e) return 0;
    *e = stored_key(key), t->n++;
    return 1;
}
