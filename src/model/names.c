/* names.c — the names the command line and the files use for compute modes (lmc.h lmc_compute_name /
 * lmc_compute_parse) and for the dtypes lmc convert writes (lmc_tools.h lmc_convert_dtype): one table each, so
 * every place spells them alike. */
#include "lmc.h"
#include "lmc_tools.h"
#include "model/safetensors.h"

#include <string.h>

static const char *const COMPUTE_NAMES[] = {[LMC_COMPUTE_F32] = "f32", [LMC_COMPUTE_BF16] = "bf16",
                                              [LMC_COMPUTE_INT8] = "int8"};
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

int lmc_convert_dtype(const char *name) {
    static const struct { const char *name; int dtype; } DTYPES[] = {{"f32", LMC_F32}, {"bf16", LMC_BF16},
                                                                     {"f16", LMC_F16}};
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (!strcmp(name, DTYPES[i].name)) return DTYPES[i].dtype;
    return -2;
}
