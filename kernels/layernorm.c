/* layernorm.c — LayerNorm (GPT-2, NeoX, Falcon): y = (x - mean) / sqrt(var + eps) * w + b, biased variance. */
#include "kernels.h"

#include <math.h>

/* out, x: (T, dim); w, b: (dim), b may be NULL. Statistics in double (order-independent, exact enough). */
void layernorm(float *out, const float *x, const float *w, const float *b, int T, int dim, float eps) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * dim;
        float *o = out + (size_t)t * dim;
        double mean = 0, var = 0;
        for (int i = 0; i < dim; i++) mean += xr[i];
        mean /= dim;
        for (int i = 0; i < dim; i++) { double d = xr[i] - mean; var += d * d; }
        var /= dim;
        float inv = (float)(1.0 / sqrt(var + (double)eps)), m = (float)mean;
        for (int i = 0; i < dim; i++) o[i] = (xr[i] - m) * inv * w[i] + (b ? b[i] : 0.0f);
    }
}
