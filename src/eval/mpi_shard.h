/* mpi_shard.h — the MPI transport of dist.h (src/eval/mpi_shard.c, compiled only in an MPI build: `make MPI=1`, the
 * default when mpicc is installed). Everything MPI-specific lives there; the library never links MPI. */
#ifndef LMC_MPI_SHARD_H
#define LMC_MPI_SHARD_H

#include "eval/dist.h"

/* Starts MPI when this process was launched by an MPI launcher (mpirun / mpiexec / srun: its environment says
 * so) and returns the job as a transport; *out = NULL when run on its own (no MPI start-up cost, no
 * singleton runtime). */
int lmc_mpi_start(int *argc, char ***argv, lmc_dist **out, lmc_err *err);

/* Threads per rank when --threads is not given: the CPUs this rank may use, shared with the other ranks on the
 * same host when the launcher did not bind it to a subset. */
int lmc_mpi_default_threads(const lmc_dist *d);

/* Ends the job after an error on this rank: every rank is stopped with exit status `code`. Does not return. */
void lmc_mpi_abort(lmc_dist *d, int code);

/* Waits for every rank, shuts MPI down and frees d (NULL: nothing). */
int lmc_mpi_finish(lmc_dist *d);

/* "Open MPI v4.1.4, ..." (the library's own version line). */
const char *lmc_mpi_version(void);

#endif
