/* bytes32.h — byte tests 32 at a time with GCC/Clang vector extensions: the compiler emits SSE/AVX2/AVX-512 code
 * for the target without intrinsics, and plain code elsewhere. Used by the text paths that scan long runs of
 * mostly-ASCII bytes (JSON escaping, normalize_for_dedup). */
#ifndef LMC_BYTES32_H
#define LMC_BYTES32_H

#include <stdint.h>
#include <string.h>

typedef unsigned char lmc_u8x32 __attribute__((vector_size(32)));

static inline lmc_u8x32 lmc_load32(const void *p) {
    lmc_u8x32 v;
    memcpy(&v, p, 32);
    return v;
}

static inline void lmc_store32(void *p, lmc_u8x32 v) { memcpy(p, &v, 32); }

/* Whether any lane of a comparison result (0 or 0xff per byte) is set. */
static inline int lmc_any32(lmc_u8x32 m) {
    uint64_t w[4];
    memcpy(w, &m, 32);
    return (w[0] | w[1] | w[2] | w[3]) != 0;
}

/* The first set lane of a comparison result, or 32 when none. */
static inline unsigned lmc_first32(lmc_u8x32 m) {
    uint64_t w[4];
    memcpy(w, &m, 32);
    for (unsigned k = 0; k < 4; k++)
        if (w[k]) return 8 * k + (unsigned)__builtin_ctzll(w[k]) / 8;
    return 32;
}

/* How many lanes of a comparison result are set. */
static inline unsigned lmc_count32(lmc_u8x32 m) {
    uint64_t w[4];
    memcpy(w, &m, 32);
    return (unsigned)(__builtin_popcountll(w[0]) + __builtin_popcountll(w[1]) + __builtin_popcountll(w[2]) +
                      __builtin_popcountll(w[3])) / 8;
}

/* Lanes where v is in [lo, hi], as 0xff. */
#define LMC_IN32(v, lo, hi) ((lmc_u8x32)((v) >= (unsigned char)(lo)) & (lmc_u8x32)((v) <= (unsigned char)(hi)))

#endif
