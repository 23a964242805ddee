/* kernels.h — pure numeric kernels. Each is a small function over plain arrays; shapes are given as
 * (rows, cols) in row-major order. No kernel knows files, models or errors. Parallel kernels use OpenMP
 * (the one threading runtime; OpenBLAS is its OpenMP build).
 *
 * Single capital letters mean one thing in the kernels and the model (kernels/, src/model/; the convention for
 * the rest of lmc too):
 *     T  tokens in one forward pass: the rows of every activation (a window's W, or a step's few)
 *     W  the window length of an evaluation (--block-size); S its stride (--stride)
 *     N, K  a linear's output and input features: y (T, N) = x (T, K) · weightᵀ, weight (N, K)
 *     V  vocabulary size (logits per token); D a model's hidden width where a letter is used for it
 *     H  attention (query) heads; L layers; E experts of a mixture
 * A matrix is never a capital letter (it is `weight`, `x`, `y`, `q`, `k`, `v`), and a thread count is
 * `threads`, never T. One exception, by scope: the window plan (src/eval/windows.c, eval.c, docs/SPEC.md §3) keeps
 * the method's own notation, N the token stream's length and K the number of windows; no linear is in sight there. */
#ifndef LMC_KERNELS_H
#define LMC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ---- dtype conversion (convert.c) ---- */
/* bf16 / f16 bit patterns → f32, exact. */
void bf16_to_f32(float *dst, const uint16_t *src, size_t n);
void f16_to_f32(float *dst, const uint16_t *src, size_t n);
/* f32 → bf16 / f16, round to nearest even (NaN stays NaN). */
void f32_to_bf16(uint16_t *dst, const float *src, size_t n);
void f32_to_f16(uint16_t *dst, const float *src, size_t n);

/* ---- normalisation (rmsnorm.c, layernorm.c) ---- */
/* out, x: (T, dim); w: (dim). out may alias x. y = x / sqrt(mean(x²) + eps) * w. */
void rmsnorm(float *out, const float *x, const float *w, int T, int dim, float eps);
/* out, x: (T, dim); w, b: (dim) (b may be NULL). Biased variance, as torch.nn.LayerNorm. */
void layernorm(float *out, const float *x, const float *w, const float *b, int T, int dim, float eps);

/* ---- rotary position embedding (rope.c) ---- */
/* inv_freq: (rot_dim/2), the per-pair frequencies (scaling already applied by the caller).
 * cos, sin: (T, rot_dim/2), angle = pos * inv_freq[i] for pos = 0..T-1, optionally multiplied by mscale. */
void rope_tables(float *cos_t, float *sin_t, const float *inv_freq, int T, int rot_dim, float mscale);
/* The same for positions pos0..pos0+n-1 (row t holds position pos0 + t): a decoding step's rows. */
void rope_tables_at(float *cos_t, float *sin_t, const float *inv_freq, int pos0, int n, int rot_dim, float mscale);
/* x: (T, n_heads, head_dim) with row stride `stride` floats between tokens. Rotates the first rot_dim dims of
 * every head. interleaved = 0: HF rotate_half (pairs (i, i + rot_dim/2)); 1: Meta/llama2.c (pairs (2i, 2i+1)). */
void rope_apply(float *x, int T, int n_heads, int head_dim, int stride, int rot_dim, const float *cos_t,
                const float *sin_t, int interleaved);

/* ---- attention (attention.c) ---- */
/* Where one attention call's operands lie: a model's attention has one shape, named once (arch_base.attn)
 * instead of a list of integers at every call. Grouped KV heads: n_heads % n_kv_heads == 0, query head h reads
 * KV head h / (n_heads / n_kv_heads). */
typedef struct attn_shape {
    int   n_heads, n_kv_heads;          /* query heads; key/value heads */
    int   qk_dim, v_dim;                /* floats per head of q and k; of v and of the output */
    int   q_stride, k_stride, v_stride; /* floats from one token's row to the next in q, k, v */
    float scale;                        /* multiplies q·k (1/√qk_dim unless the model says otherwise) */
} attn_shape;

/* Causal softmax attention over a prefill of T tokens. q: (T, n_heads, qk_dim) rows q_stride apart;
 * k: (T, n_kv_heads, qk_dim) rows k_stride apart; v: (T, n_kv_heads, v_dim) rows v_stride apart;
 * out: (T, n_heads, v_dim), contiguous. Tiled with online softmax: never holds T×T scores for all heads at once.
 * Returns 0, or -1 (nothing computed) when its tiles, attention_causal_bytes(s), cannot be allocated. */
int    attention_causal(float *out, const float *q, const float *k, const float *v, int T, const attn_shape *s);
size_t attention_causal_bytes(const attn_shape *s);
/* Attention of n new queries at positions pos..pos+n-1 over a KV cache holding keys/values 0..pos+n-1 (the new
 * ones included): query i sees keys 0..pos+i. q: (n, n_heads, qk_dim); k: (pos+n, n_kv_heads, qk_dim); v
 * likewise (v_dim); strides as s says; out: (n, n_heads, v_dim), contiguous. f32 only. Returns 0, or -1 when its
 * score rows, attention_prefix_bytes(n, pos), cannot be allocated. */
int    attention_prefix(float *out, const float *q, const float *k, const float *v, int n, int pos,
                        const attn_shape *s);
size_t attention_prefix_bytes(int n, int pos);

/* The same with bf16 operands (attention_bf16.c): Q, K, V and the probabilities rounded to bf16, products by
 * vdpbf16ps, sums and softmax in f32. AVX512_BF16 only: returns -1 (out untouched) where it is missing.
 * scratch: attention_bf16_scratch_bytes(T, s, threads) bytes; threads: the most OpenMP threads the call may use
 * (each needs its own part of the scratch). */
size_t attention_bf16_scratch_bytes(int T, const attn_shape *s, int threads);
int    attention_causal_bf16(float *out, const float *q, const float *k, const float *v, int T, const attn_shape *s,
                             void *scratch, int threads);

/* ---- activations (activations.c) ---- */
/* gate, up: (n); out[i] = silu(gate[i]) * up[i]. out may alias gate. */
void silu_mul(float *out, const float *gate, const float *up, size_t n);
/* SwiGLU of the bf16 compute path: d[i] = silu(d[i]) · u[i] with a polynomial exp (≈ 2 ulp) instead of libm's
 * expf. The same bits on every SIMD level: swiglu_poly_row runs on the calling thread with simd = 2 (AVX-512
 * F), 1 (AVX2 + FMA) or 0 (plain C), as the caller's CPU allows; swiglu_poly picks it and uses every thread. */
void swiglu_poly(float *d, const float *u, size_t n);
void swiglu_poly_row(float *d, const float *u, size_t n, int simd);
/* In place over (n): exact erf GELU (torch.nn.GELU()), and tanh GELU (HF gelu_new / gelu_pytorch_tanh). */
void gelu_erf(float *x, size_t n);
void gelu_tanh(float *x, size_t n);
void silu(float *x, size_t n);

/* ---- matmul (matmul.c): y = x · weightᵀ (+ bias) ---- */
/* x: (T, K); weight: (N, K) f32; y: (T, N); bias: (N) or NULL. Through cblas_sgemm; allocates nothing. */
void matmul_f32(float *y, const float *x, const float *weight, const float *bias, int T, int N, int K);
/* weight: (N, K) bf16 or f16 bits, widened to f32 tile by tile (`tile` scratch: tile_rows × K floats per thread,
 * see matmul_tiles_bytes) and multiplied with cblas_sgemm. Exact widening, so results equal matmul_f32 on the
 * widened matrix up to sgemm's own blocking. These and matmul_rows_w return 0, or -1 (nothing computed) when
 * the tiles, matmul_tiles_bytes(K), cannot be allocated. */
int matmul_bf16w(float *y, const float *x, const uint16_t *weight, const float *bias, int T, int N, int K);
int matmul_f16w(float *y, const float *x, const uint16_t *weight, const float *bias, int T, int N, int K);
size_t matmul_tiles_bytes(int K);
/* weight: N rows of row_bytes bytes in any format that dequant(row bytes, dst, n elements) widens to f32 (a row is
 * whole blocks: kernels/dequant.h), widened chunk by chunk like matmul_bf16w. */
int matmul_rows_w(float *y, const float *x, const void *weight, size_t row_bytes,
                  void (*dequant)(const void *src, float *dst, int64_t n), const float *bias, int T, int N, int K);

/* ---- bias & residual (residual.c) ---- */
void add_inplace(float *y, const float *x, size_t n);             /* y += x */
void add_bias_rows(float *y, const float *bias, int T, int N);    /* y (T,N) += bias (N) per row */

/* ---- log-softmax (softmax.c) ---- */
/* logits: (n). Returns logsumexp in double from f32 inputs (max-shifted). */
double logsumexp_f32(const float *logits, int n);
/* max over x (n); −inf for n = 0. */
float vec_max(const float *x, int n);
/* x[i] = exp(x[i] − m) for x[i] ≤ m (vectorised polynomial, ≈ 2 ulp), returns Σ x[i] in f32. */
float vec_exp_sub_sum(float *x, int n, float m);

#endif
