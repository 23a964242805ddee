/* rmsnorm.c — RMSNorm (Llama family): y = x / sqrt(mean(x²) + eps) * w. */
#include "kernels.h"

#include <math.h>

/* out, x: (T, dim); w: (dim). The mean of squares is accumulated in double: it costs nothing at these sizes
 * and keeps the result independent of the summation order. */
void rmsnorm(float *out, const float *x, const float *w, int T, int dim, float eps) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * dim;
        float *o = out + (size_t)t * dim;
        double ss = 0;
        for (int i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / dim + (double)eps));
        for (int i = 0; i < dim; i++) o[i] = w[i] * (xr[i] * inv);
    }
}
