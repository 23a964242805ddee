/* sample.h — choosing the next token from logits (lmc generate): greedy, temperature and nucleus (top-p)
 * sampling, driven by the program's own PRNG so that a seed gives the same text on every machine and libc. */
#ifndef LMC_SAMPLE_H
#define LMC_SAMPLE_H

#include "lmc_tools.h" /* lmc_sampler, lmc_sample, lmc_sampler_free */

#include <stddef.h>
#include <stdint.h>

/* splitmix64 (Steele, Lea, Flood 2014): a 64-bit state, every seed a good one. */
uint64_t lmc_rng_next(uint64_t *state);
/* Uniform in [0, 1) with 24 random bits: exactly representable as a float. */
float    lmc_rng_float(uint64_t *state);


#endif
