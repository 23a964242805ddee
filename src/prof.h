/* prof.h — wall-time split of a forward pass by kind of kernel, for `lmc bench` and `lmc eval --verbose`.
 * Owned by the model (no global state); accumulation is cheap (two clock reads per kernel call). */
#ifndef LMC_PROF_H
#define LMC_PROF_H

#include "util.h"

typedef enum lmc_prof_kind {
    PROF_MATMUL = 0, /* layer matmuls (incl. bf16→f32 tile conversion when weights are 16-bit) */
    PROF_ATTENTION,  /* softmax attention */
    PROF_ELEMWISE,   /* norms, RoPE, activations, residual adds, embedding */
    PROF_LM_HEAD,    /* lm_head on scored rows + log-softmax */
    PROF_N
} lmc_prof_kind;

typedef struct lmc_prof {
    double seconds[PROF_N];
} lmc_prof;

static inline const char *lmc_prof_name(int k) {
    static const char *const names[PROF_N] = {"matmul", "attention", "norm/rope/act", "lm_head+logsoftmax"};
    return names[k];
}

/* PROF(p, kind, statement): runs statement and adds its wall time to p->seconds[kind] (p may be NULL). */
#define PROF(p, kind, stmt)                                                                                 \
    do {                                                                                                    \
        double prof_t0_ = (p) ? lmc_now() : 0;                                                              \
        stmt;                                                                                               \
        if (p) (p)->seconds[kind] += lmc_now() - prof_t0_;                                                  \
    } while (0)

#endif
