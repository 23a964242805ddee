/* mpi_shard.c — the MPI transport of dist.h, compiled only in an MPI build (`make MPI=1`, the default when mpicc
 * is installed) and linked into ./lmc only; its entry points are declared in include/lmc_tools.h.
 *
 * Waiting never spins: MPI's blocking calls busy-poll, which on a shared or oversubscribed host takes a core
 * from the ranks still computing (rank 0 waits for the last windows while another rank on its host computes
 * them). Every wait here is a non-blocking call polled with short sleeps instead; the latency it adds (~0.2 ms
 * per message) is nothing next to a window's forward pass. */
#include "eval/dist.h"
#include "lmc_tools.h"

#include <mpi.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Messages on their way to rank 0, with the copies they send from. */
typedef struct pending {
    MPI_Request *req;  /* (n) */
    char       **data; /* (n) */
    size_t       n, cap;
} pending;

typedef struct mpi_ctx {
    pending out;
} mpi_ctx;

static void nap(void) {
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

static int wait_idle(MPI_Request *r) {
    for (;;) {
        int done = 0;
        if (MPI_Test(r, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
        if (done) return 0;
        nap();
    }
}

static int mpi_fail(lmc_err *err, const char *what, int rc) {
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) len = 0;
    s[len] = 0;
    return lmc_fail(err, "MPI: %s failed: %s", what, len ? s : "unknown error");
}

static int t_bcast(lmc_dist *d, lmc_buf *buf, lmc_err *err) {
    uint64_t len = buf->len;
    MPI_Request r;
    int rc = MPI_Ibcast(&len, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &r);
    if (rc != MPI_SUCCESS || wait_idle(&r)) return mpi_fail(err, "broadcast", rc);
    if (d->rank != 0) {
        buf->len = 0;
        char *tmp = lmc_xmalloc(len ? len : 1);
        lmc_buf_append(buf, tmp, len);
        free(tmp);
    }
    if (len > INT32_MAX) return lmc_fail(err, "MPI: broadcast of %llu bytes is too large", (unsigned long long)len);
    rc = MPI_Ibcast(buf->p, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD, &r);
    if (rc != MPI_SUCCESS || wait_idle(&r)) return mpi_fail(err, "broadcast", rc);
    return 0;
}

static int t_or_all(lmc_dist *d, unsigned char *v, size_t n, lmc_err *err) {
    for (size_t off = 0; off < n;) { /* counts are int */
        int take = n - off > (size_t)1 << 30 ? 1 << 30 : (int)(n - off);
        MPI_Request r;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, v + off, take, MPI_UNSIGNED_CHAR, MPI_BOR, MPI_COMM_WORLD, &r);
        if (rc != MPI_SUCCESS || wait_idle(&r)) return mpi_fail(err, "all-reduce", rc);
        off += (size_t)take;
    }
    return 0;
}

/* Frees the copies of delivered messages; keeps the rest in order. */
static int reap(pending *p, lmc_err *err) {
    size_t keep = 0;
    for (size_t i = 0; i < p->n; i++) {
        int done = 0;
        int rc = MPI_Test(&p->req[i], &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(err, "send", rc);
        if (done) {
            free(p->data[i]);
            continue;
        }
        p->req[keep] = p->req[i];
        p->data[keep++] = p->data[i];
    }
    p->n = keep;
    return 0;
}

static int t_send(lmc_dist *d, int tag, const void *msg, size_t len, lmc_err *err) {
    mpi_ctx *c = d->ctx;
    pending *p = &c->out;
    if (reap(p, err)) return -1;
    if (len > INT32_MAX) return lmc_fail(err, "MPI: a %zu-byte message is too large", len);
    if (p->n == p->cap) {
        p->cap = p->cap * 2 + 16;
        p->req = lmc_xrealloc(p->req, p->cap * sizeof *p->req);
        p->data = lmc_xrealloc(p->data, p->cap * sizeof *p->data);
    }
    char *copy = lmc_xmalloc(len ? len : 1);
    memcpy(copy, msg, len);
    int rc = MPI_Isend(copy, (int)len, MPI_BYTE, 0, tag, MPI_COMM_WORLD, &p->req[p->n]);
    if (rc != MPI_SUCCESS) {
        free(copy);
        return mpi_fail(err, "send", rc);
    }
    p->data[p->n++] = copy;
    return 0;
}

static int t_recv(lmc_dist *d, int tag, int block, lmc_buf *msg, lmc_err *err) {
    MPI_Status st;
    msg->len = 0;
    for (;;) {
        int ready = 0;
        int rc = MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &ready, &st);
        if (rc != MPI_SUCCESS) return mpi_fail(err, "probe", rc);
        if (ready) break;
        if (!block) return 0;
        nap();
    }
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    char *tmp = lmc_xmalloc(count ? (size_t)count : 1);
    int rc = MPI_Recv(tmp, count, MPI_BYTE, st.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS) lmc_buf_append(msg, tmp, (size_t)count);
    free(tmp);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(err, "receive", rc);
}

static int t_flush(lmc_dist *d, lmc_err *err) {
    mpi_ctx *c = d->ctx;
    while (c->out.n) {
        if (reap(&c->out, err)) return -1;
        if (c->out.n) nap();
    }
    return 0;
}

int lmc_mpi_start(int *argc, char ***argv, lmc_dist **out, lmc_err *err) {
    *out = NULL;
    /* Open MPI's mpirun, PMIx launchers (srun --mpi=pmix), PMI-1/2 launchers (MPICH's hydra, srun --mpi=pmi2) */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) return 0;
    int provided = 0;
    /* OpenMP threads compute; only the main thread calls MPI */
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return mpi_fail(err, "initialisation", rc);
    lmc_dist *d = lmc_xcalloc(1, sizeof *d);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->ctx = lmc_xcalloc(1, sizeof(mpi_ctx));
    d->bcast = t_bcast;
    d->or_all = t_or_all;
    d->send = t_send;
    d->recv = t_recv;
    d->flush = t_flush;
    *out = d;
    return 0;
}

void lmc_mpi_rank(const lmc_dist *d, int *rank, int *size) {
    *rank = d->rank;
    *size = d->size;
}

int lmc_mpi_default_threads(const lmc_dist *d) {
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)online;
    if (mine < online) return mine > 0 ? mine : 1; /* the launcher bound this rank to its own CPUs */
    const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!ls) ls = getenv("MPI_LOCALNRANKS");
    int local = ls ? atoi(ls) : 1;
    int t = local > 0 ? mine / local : mine;
    return t > 0 ? t : 1;
}

void lmc_mpi_abort(lmc_dist *d, int code) {
    (void)d;
    MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

int lmc_mpi_finish(lmc_dist *d) {
    if (!d) return 0;
    lmc_err e;
    t_flush(d, &e);
    /* every rank arrives here at a different time: wait without spinning, then MPI_Finalize has nothing left to
     * wait for */
    MPI_Request r;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &r) == MPI_SUCCESS) wait_idle(&r);
    int rc = MPI_Finalize() == MPI_SUCCESS ? 0 : -1;
    mpi_ctx *c = d->ctx;
    free(c->out.req);
    free(c->out.data);
    free(c);
    free(d);
    return rc;
}

const char *lmc_mpi_version(void) {
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS) return "unknown";
    char *nl = strchr(v, ',');
    if (nl) *nl = 0;
    return v;
}
