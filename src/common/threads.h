/* threads.h — the one place the thread count is set: OpenMP kernels and OpenBLAS (its OpenMP build) share it. */
#ifndef LMC_THREADS_H
#define LMC_THREADS_H

/* n > 0: use n threads; 0: the OpenMP default (OMP_NUM_THREADS or the core count). Returns the count in use. */
int lmc_threads_init(int n);

/* OpenBLAS's kernel family in use ("SkylakeX", "Haswell", ...) and build config. */
const char *lmc_blas_core(void);
const char *lmc_blas_config(void);

#endif
