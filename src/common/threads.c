/* threads.c — see threads.h. */
#include "common/threads.h"

#include <cblas.h>
#include <omp.h>

int lmc_threads_init(int n) {
    if (n > 0) omp_set_num_threads(n);
    int used = omp_get_max_threads();
    openblas_set_num_threads(used);
    return used;
}

const char *lmc_blas_core(void) { return openblas_get_corename(); }
const char *lmc_blas_config(void) { return openblas_get_config(); }
