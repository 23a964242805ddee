/* residual.c — residual adds and bias rows. */
#include "kernels.h"

void add_inplace(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* y: (T, N) += bias (N) on every row. */
void add_bias_rows(float *y, const float *bias, int T, int N) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++)
        for (int j = 0; j < N; j++) y[(size_t)t * N + j] += bias[j];
}
