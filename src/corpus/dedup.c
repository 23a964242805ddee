/* dedup.c — the line-hash table of paragraph dedup: open addressing over 16-byte entries (the hash, the first
 * document that has it, how many documents do), grown to stay at most half full. Memory: 32 to 64 bytes per
 * distinct line of the dedup scope. */
#include "corpus/corpus.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(uint64_t key, size_t cap) { return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1); }

static uint64_t stored_key(uint64_t key) { return key ? key : 1; }

static hash_entry *probe(hash_entry *slots, size_t cap, uint64_t key) {
    size_t i = slot_of(key, cap);
    while (slots[i].key && slots[i].key != key) i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void grow(hash_table *t) {
    size_t cap = t->cap ? t->cap * 2 : 1 << 12;
    hash_entry *slots = lmc_xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].key) *probe(slots, cap, t->slots[i].key) = t->slots[i];
    free(t->slots);
    t->slots = slots, t->cap = cap;
}

void hash_table_clear(hash_table *t) {
    if (t->slots) memset(t->slots, 0, t->cap * sizeof *t->slots);
    t->n = 0;
}

void hash_table_free(hash_table *t) {
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void hash_table_add_doc(hash_table *t, const uint64_t *hashes, size_t n, uint32_t doc) {
    uint64_t *h = lmc_xmalloc((n ? n : 1) * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = stored_key(hashes[i]);
    qsort(h, n, sizeof *h, cmp_u64); /* a line counts once per document */
    for (size_t i = 0; i < n; i++) {
        if (i && h[i] == h[i - 1]) continue;
        if (2 * (t->n + 1) > t->cap) grow(t);
        hash_entry *e = probe(t->slots, t->cap, h[i]);
        if (!e->key) { e->key = h[i], e->first_doc = doc, e->n_docs = 1, t->n++; }
        else if (e->n_docs < 2) e->n_docs++;
    }
    free(h);
}

const hash_entry *hash_table_find(const hash_table *t, uint64_t key) {
    if (!t->cap) return NULL;
    const hash_entry *e = probe(t->slots, t->cap, stored_key(key));
    return e->key ? e : NULL;
}

int hash_table_insert(hash_table *t, uint64_t key) {
    if (2 * (t->n + 1) > t->cap) grow(t);
    hash_entry *e = probe(t->slots, t->cap, stored_key(key));
    if (e->key) return 0;
    e->key = stored_key(key), e->n_docs = 1, t->n++;
    return 1;
}
