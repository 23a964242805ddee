/* prof.h — wall-time split of a forward pass by kind of kernel, for `lmc bench`.
 * Owned by the model (no global state): lmc_linear_apply and arch_attend (arch/runtime.c) add their own time (two clock reads
 * per call), arch_forward books the rest of the forward as PROF_ELEMWISE, the caller times lm_head. */
#ifndef LMC_PROF_H
#define LMC_PROF_H

#include "common/util.h"

typedef enum lmc_prof_kind {
    PROF_MATMUL = 0, /* layer matmuls (incl. bf16→f32 tile conversion when weights are 16-bit) */
    PROF_ATTENTION,  /* softmax attention */
    PROF_ELEMWISE,   /* the rest of the forward: norms, RoPE, activations, residual adds, embedding, routing */
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

#endif
