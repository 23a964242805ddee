/* compute_name.c — the names of the compute modes (lmc.h lmc_compute_name / lmc_compute_parse): one table, so
 * the command line, the results file, checkpoints and compressed files spell them alike. */
#include "lmc.h"

#include <string.h>

static const char *const COMPUTE_NAMES[] = {[LMC_COMPUTE_F32] = "f32", [LMC_COMPUTE_BF16] = "bf16"};
#define N_COMPUTE (sizeof COMPUTE_NAMES / sizeof COMPUTE_NAMES[0])

const char *lmc_compute_name(lmc_compute c) {
    return (unsigned)c < N_COMPUTE && COMPUTE_NAMES[c] ? COMPUTE_NAMES[c] : "?";
}

int lmc_compute_parse(const char *name, lmc_compute *out) {
    for (size_t i = 0; i < N_COMPUTE; i++)
        if (COMPUTE_NAMES[i] && !strcmp(name, COMPUTE_NAMES[i])) {
            *out = (lmc_compute)i;
            return 0;
        }
    return -1;
}
