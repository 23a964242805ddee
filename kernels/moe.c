/* moe.c — small kernels for mixture-of-experts routing and the strided copies the fused layouts need. */
#include "kernels_ext.h"

#include <math.h>
#include <string.h>

void router_logits(float *y, const float *x, const float *weight, int T, int N, int K) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * K;
        for (int n = 0; n < N; n++) {
            const float *w = weight + (size_t)n * K;
            double acc = 0;
            for (int k = 0; k < K; k++) acc += (double)xr[k] * w[k];
            y[(size_t)t * N + n] = (float)acc;
        }
    }
}

void softmax_rows(float *x, int T, int n) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *r = x + (size_t)t * n;
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) mx = r[i] > mx ? r[i] : mx;
        double s = 0;
        for (int i = 0; i < n; i++) { r[i] = expf(r[i] - mx); s += r[i]; }
        float inv = (float)(1.0 / s);
        for (int i = 0; i < n; i++) r[i] *= inv;
    }
}

/* Selection by repeated scans: k and n are small (n = number of experts, at most a few hundred). */
void topk_desc(const float *x, int n, int k, int *idx, float *val) {
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int taken = 0;
            for (int p = 0; p < j; p++) taken |= idx[p] == i;
            if (taken) continue;
            if (best < 0 || x[i] > x[best]) best = i; /* strict '>': ties keep the lower index */
        }
        idx[j] = best;
        if (val) val[j] = x[best];
    }
}

void copy_block(float *dst, int dst_stride, const float *src, int src_stride, int rows, int cols) {
#pragma omp parallel for schedule(static) if (rows > 256)
    for (int t = 0; t < rows; t++)
        memcpy(dst + (size_t)t * dst_stride, src + (size_t)t * src_stride, sizeof(float) * (size_t)cols);
}

void gather_rows(float *dst, const float *src, const int *ids, int n, int dim) {
#pragma omp parallel for schedule(static) if (n > 256)
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * dim, src + (size_t)ids[i] * dim, sizeof(float) * (size_t)dim);
}

void scale_rows(float *x, int stride, int T, int cols, const float *s) {
#pragma omp parallel for schedule(static) if (T > 256)
    for (int t = 0; t < T; t++) {
        float *r = x + (size_t)t * stride;
        for (int i = 0; i < cols; i++) r[i] *= s[t];
    }
}
