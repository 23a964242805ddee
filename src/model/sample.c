/* sample.c — see sample.h. Sampling is llama2.c's: softmax of logits / T, then, for top-p < 1, the candidates
 * sorted by probability (ties: lower id first, so the order never depends on qsort), cut where the mass first
 * reaches top_p, and one draw within that mass. Tokens with p < (1 - top_p) / (n - 1) cannot be in the nucleus
 * (all of them together hold less than 1 - top_p), so they are dropped before sorting a 150k vocabulary. */
#include "model/sample.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>

uint64_t lmc_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float lmc_rng_float(uint64_t *state) { return (float)(lmc_rng_next(state) >> 40) / 16777216.0f; }

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Sort order for the nucleus: probability descending, then id ascending (a total order: qsort is not stable). */
static int by_prob(const void *a, const void *b) {
    const lmc_cand *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int32_t lmc_sample(lmc_sampler *s, const float *logits, int n) {
    if (s->temperature <= 0) return argmax(logits, n);
    if ((size_t)n > s->cap) {
        free(s->probs);
        free(s->cand);
        s->probs = lmc_xmalloc(sizeof(float) * (size_t)n);
        s->cand = lmc_xmalloc(sizeof(lmc_cand) * (size_t)n);
        s->cap = (size_t)n;
    }
    float *p = s->probs, mx = logits[argmax(logits, n)];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += p[i] = expf((logits[i] - mx) / s->temperature);
    for (int i = 0; i < n; i++) p[i] = (float)(p[i] / sum);
    float r = lmc_rng_float(&s->rng);
    if (s->top_p <= 0 || s->top_p >= 1) { /* plain sampling from the whole distribution */
        float c = 0;
        for (int i = 0; i < n; i++)
            if (r < (c += p[i])) return i;
        return n - 1; /* rounding left the cumulative sum just below r */
    }
    float cutoff = n > 1 ? (1.0f - s->top_p) / (float)(n - 1) : 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (p[i] >= cutoff) s->cand[m++] = (lmc_cand){p[i], i};
    qsort(s->cand, (size_t)m, sizeof *s->cand, by_prob);
    float mass = 0;
    int last = m - 1;
    for (int i = 0; i < m; i++) {
        mass += s->cand[i].p;
        if (mass >= s->top_p) { last = i; break; }
    }
    float target = r * mass, c = 0;
    for (int i = 0; i <= last; i++)
        if (target < (c += s->cand[i].p)) return s->cand[i].id;
    return s->cand[last].id;
}

void lmc_sampler_free(lmc_sampler *s) {
    free(s->probs);
    free(s->cand);
    s->probs = NULL;
    s->cand = NULL;
    s->cap = 0;
}
