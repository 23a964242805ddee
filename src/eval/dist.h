/* dist.h — the few collective operations a sharded evaluation needs, as a table of functions.
 *
 * The evaluator (eval.c) knows *what* to exchange: which windows are already done, each finished window's NLL,
 * and whether every rank computes the same thing; a transport (src/eval/mpi_shard.c, built only with MPI) knows
 * *how*. Keeping MPI behind this table keeps the library free of it: a build without MPI never links it, and
 * a test can drive the evaluator with any transport.
 *
 * Rank 0 is the root: it receives every window the others hold, sums them in window order and writes the
 * outputs; the other ranks compute their share and send it. All buffers are plain bytes (the ranks of one job
 * run the same executable on the same kind of CPU: the fingerprint check in eval.c refuses anything else). */
#ifndef LMC_DIST_H
#define LMC_DIST_H

#include "lmc.h"
#include "common/util.h"

#include <stddef.h>

typedef struct lmc_dist lmc_dist;
struct lmc_dist {
    int   rank, size; /* this process, and the number of processes in the job */
    void *ctx;        /* the transport's state */
    int   seq;        /* evaluations begun in this job (one per --data file): tags their messages */

    /* Root's buf is copied to every rank (buf is replaced on the others). Collective. */
    int (*bcast)(lmc_dist *d, lmc_buf *buf, lmc_err *err);
    /* v[i] = OR over all ranks of v[i] (bytes, 0 or 1), on every rank. Collective. */
    int (*or_all)(lmc_dist *d, unsigned char *v, size_t n, lmc_err *err);
    /* Non-root: queues msg (copied) for rank 0 under tag; returns without waiting for rank 0. */
    int (*send)(lmc_dist *d, int tag, const void *msg, size_t len, lmc_err *err);
    /* Root: the next message under tag from any rank into msg (replacing its contents). block = 0: returns at
     * once, with msg->len = 0 when none is waiting. */
    int (*recv)(lmc_dist *d, int tag, int block, lmc_buf *msg, lmc_err *err);
    /* Non-root: waits until every queued message has been delivered. */
    int (*flush)(lmc_dist *d, lmc_err *err);
};

#endif
