/* minhash.c — CodeParrot's near-dedup (minhash_deduplication.py): a file's tokens are the maximal runs of
 * [A-Za-z_0-9]; files with fewer than 10 distinct tokens are left alone; MinHash signatures of 256 permutations,
 * LSH with 13 bands of 19 rows (the bands datasketch picks for a 0.85 threshold); files that share a band bucket
 * are one cluster (connected components, in file order); in each cluster, CodeParrot's find_extremes keeps a file
 * unless its exact Jaccard similarity with a file kept before it reaches the threshold. */
#include "corpus/corpus.h"

#include <stdlib.h>
#include <string.h>

#define PERMS 256
#define BANDS 13
#define ROWS 19
#define MIN_TOKENS 10

/* ---- token sets ------------------------------------------------------------------------------------------- */

static int word_byte(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* The distinct token hashes of text, sorted (*n). */
static uint64_t *token_set(const char *t, size_t len, size_t *n) {
    size_t cap = 64;
    uint64_t *h = lmc_xmalloc(cap * sizeof *h);
    *n = 0;
    for (size_t i = 0; i < len;) {
        if (!word_byte((unsigned char)t[i])) { i++; continue; }
        size_t j = i;
        while (j < len && word_byte((unsigned char)t[j])) j++;
        if (*n == cap) h = lmc_xrealloc(h, (cap *= 2) * sizeof *h);
        h[(*n)++] = fnv1a(t + i, j - i);
        i = j;
    }
    *n = corpus_sort_unique(h, *n);
    return h;
}

static double jaccard(const uint64_t *a, size_t na, const uint64_t *b, size_t nb) {
    size_t i = 0, j = 0, both = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) both++, i++, j++;
        else if (a[i] < b[j]) i++;
        else j++;
    }
    size_t any = na + nb - both;
    return any ? (double)both / (double)any : 1;
}

/* ---- signatures and bands ---------------------------------------------------------------------------------- */

/* Permutation p of a token hash h: splitmix64(h ^ C·(p+1)). Written as a branch-free min over p so that the
 * compiler runs the 256 permutations in vector lanes. */
static void signature(const uint64_t *set, size_t n, uint64_t sig[PERMS]) {
    uint64_t salt[PERMS];
    for (int p = 0; p < PERMS; p++) sig[p] = UINT64_MAX, salt[p] = 0x632be59bd9b4e019ull * (uint64_t)(p + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = set[i];
        for (int p = 0; p < PERMS; p++) {
            uint64_t v = corpus_splitmix64(h ^ salt[p]);
            sig[p] = v < sig[p] ? v : sig[p];
        }
    }
}

typedef struct band_key {
    uint64_t key;  /* the band's rows hashed, mixed with the band number */
    size_t   file;
} band_key;

static int cmp_band(const void *a, const void *b) {
    const band_key *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->file < y->file ? -1 : x->file > y->file;
}

static size_t find_root(size_t *parent, size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
}

/* Union of every pair of files that share a band bucket (the smaller index becomes the root). */
static void cluster(band_key *keys, size_t n_keys, size_t *parent) {
    qsort(keys, n_keys, sizeof *keys, cmp_band);
    for (size_t i = 1; i < n_keys; i++) {
        if (keys[i].key != keys[i - 1].key) continue;
        size_t a = find_root(parent, keys[i - 1].file), b = find_root(parent, keys[i].file);
        if (a != b) parent[a > b ? a : b] = a < b ? a : b;
    }
}

/* ---- the filter ---------------------------------------------------------------------------------------------- */

/* find_extremes in one pass over files in order: a member is dropped when a kept member of its cluster is at
 * least threshold-similar. kept_of[root] chains the cluster's kept files through next_kept. */
static size_t extremes(size_t n, size_t *parent, uint64_t **sets, const size_t *ns, double threshold,
                       unsigned char *drop, size_t *clusters) {
    size_t *first_kept = lmc_xmalloc((n ? n : 1) * sizeof *first_kept), *next_kept = lmc_xmalloc((n ? n : 1) * sizeof *next_kept);
    size_t dropped = 0;
    *clusters = 0;
    for (size_t i = 0; i < n; i++) first_kept[i] = SIZE_MAX, next_kept[i] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) /* clusters of two or more: roots that another file points to */
        if (sets[i] && parent[i] != i && next_kept[find_root(parent, i)] == SIZE_MAX)
            next_kept[find_root(parent, i)] = 0, (*clusters)++;
    for (size_t i = 0; i < n; i++) next_kept[i] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!sets[i]) continue;
        size_t r = find_root(parent, i), *tail = &first_kept[r];
        int dup = 0;
        for (size_t k = first_kept[r]; k != SIZE_MAX && !dup; tail = &next_kept[k], k = next_kept[k])
            dup = jaccard(sets[i], ns[i], sets[k], ns[k]) >= threshold;
        if (dup) drop[i] = 1, dropped++;
        else *tail = i;
    }
    free(first_kept), free(next_kept);
    return dropped;
}

size_t code_near_dedup(const char *const *texts, const size_t *lens, size_t n, double threshold, unsigned char *drop,
                       size_t *clusters, lmc_corpus_progress_fn progress, void *user) {
    uint64_t **sets = lmc_xcalloc(n ? n : 1, sizeof *sets);
    size_t *ns = lmc_xcalloc(n ? n : 1, sizeof *ns), *parent = lmc_xmalloc((n ? n : 1) * sizeof *parent);
    band_key *keys = lmc_xmalloc((n ? n : 1) * BANDS * sizeof *keys);
    uint64_t text = 0;
    for (size_t b0 = 0; b0 < n; b0 += 4096) { /* blocks, for the progress reports */
        size_t b1 = b0 + 4096 < n ? b0 + 4096 : n;
#pragma omp parallel for schedule(dynamic, 8)
        for (size_t i = b0; i < b1; i++) {
            sets[i] = texts[i] ? token_set(texts[i], lens[i], &ns[i]) : NULL;
            if (sets[i] && ns[i] < MIN_TOKENS) { free(sets[i]); sets[i] = NULL; }
            uint64_t sig[PERMS];
            if (sets[i]) signature(sets[i], ns[i], sig);
            for (int b = 0; b < BANDS; b++)
                keys[i * BANDS + b] = (band_key){sets[i] ? corpus_hash_bytes(sig + b * ROWS, ROWS * 8) ^ (uint64_t)b : 0, i};
        }
        for (size_t i = b0; i < b1; i++) text += lens[i];
        corpus_report(progress, user, "near-dedup", "files", b1, n, text);
    }
    size_t n_keys = 0;
    for (size_t i = 0; i < n * BANDS; i++) /* files without a set take no part */
        if (sets[keys[i].file]) keys[n_keys++] = keys[i];
    for (size_t i = 0; i < n; i++) parent[i] = i, drop[i] = 0;
    cluster(keys, n_keys, parent);
    size_t dropped = extremes(n, parent, sets, ns, threshold, drop, clusters);
    for (size_t i = 0; i < n; i++) free(sets[i]);
    free(sets), free(ns), free(parent), free(keys);
    return dropped;
}
