/* threads.h — the thread count (lmc_threads_init) and OpenBLAS's identity: declared in include/lmc_tools.h,
 * implemented in threads.c. */
#ifndef LMC_THREADS_H
#define LMC_THREADS_H

#include "lmc_tools.h"

#endif
