/* activations.c — element-wise activation functions, computed as the HF modules define them. */
#include "kernels.h"

#include <math.h>

void silu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

/* SwiGLU: out = silu(gate) * up. */
void silu_mul(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* torch.nn.GELU() / F.gelu: 0.5 x (1 + erf(x / sqrt 2)). */
void gelu_erf(float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* HF gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))). */
void gelu_tanh(float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
}
