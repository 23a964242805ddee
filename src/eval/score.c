/* score.c — see score.h. */
#include "eval/score.h"
#include "kernels.h"
#include "common/util.h"

#include <stdlib.h>

int lmc_score_rows(const lmc_linear *lm_head, const float *hidden, const int32_t *targets, int from, int count,
                   double *nll, double *row_nll, lmc_err *err) {
    int V = lm_head->N, dim = lm_head->K;
    for (int i = 0; i < count; i++)
        if (targets[from + i] < 0 || targets[from + i] >= V)
            return lmc_fail(err, "token id %d is outside the model's vocabulary of %d", targets[from + i], V);
    /* ~16 MiB of logits per block, at least 8 rows so the lm_head GEMM stays a GEMM */
    int block = (int)((16u << 20) / (sizeof(float) * (size_t)V));
    if (block < 8) block = 8;
    if (block > count) block = count;
    float *logits = malloc(sizeof(float) * (size_t)block * V);
    double *rows = malloc(sizeof(double) * (size_t)(count ? count : 1));
    if (!logits || !rows) { free(logits); free(rows); return lmc_fail(err, "out of memory for a logits block"); }
    for (int r0 = 0; r0 < count; r0 += block) {
        int n = count - r0 < block ? count - r0 : block;
        lmc_linear_apply(lm_head, hidden + (size_t)(from + r0) * dim, logits, n);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) {
            const float *row = logits + (size_t)i * V;
            rows[r0 + i] = logsumexp_f32(row, V) - (double)row[targets[from + r0 + i]];
        }
    }
    double sum = 0;
    for (int i = 0; i < count; i++) sum += rows[i]; /* fixed order: independent of the thread count */
    if (row_nll)
        for (int i = 0; i < count; i++) row_nll[i] = rows[i];
    *nll = sum;
    free(logits);
    free(rows);
    return 0;
}
