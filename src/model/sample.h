/* sample.h — choosing the next token from logits (lmc generate): greedy, temperature and nucleus (top-p)
 * sampling, driven by the program's own PRNG so that a seed gives the same text on every machine and libc. */
#ifndef LMC_SAMPLE_H
#define LMC_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64 (Steele, Lea, Flood 2014): a 64-bit state, every seed a good one. */
uint64_t lmc_rng_next(uint64_t *state);
/* Uniform in [0, 1) with 24 random bits: exactly representable as a float. */
float    lmc_rng_float(uint64_t *state);

typedef struct lmc_cand {
    float   p;
    int32_t id;
} lmc_cand;

typedef struct lmc_sampler {
    float     temperature; /* 0: greedy (argmax, lowest id on ties) */
    float     top_p;       /* in (0, 1]: sample among the fewest most likely tokens whose mass reaches top_p */
    uint64_t  rng;         /* PRNG state (the seed) */
    /* scratch, grown on demand and owned by the sampler (lmc_sampler_free) */
    float    *probs;       /* (cap) */
    lmc_cand *cand;        /* (cap) the nucleus candidates */
    size_t    cap;
} lmc_sampler;

/* The next token among ids 0..n-1 of logits (n floats; logits are not modified). */
int32_t lmc_sample(lmc_sampler *s, const float *logits, int n);
void    lmc_sampler_free(lmc_sampler *s);

#endif
