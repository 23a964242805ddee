/* gemm_bf16.c — bf16 × bf16 → f32 GEMM, y = x · weightᵀ (+ bias). See gemm_bf16.h for the semantics and layout.
 *
 * Three paths with one summation order (so one set of result bits, up to the hardware's vdpbf16ps):
 *   AVX512  vdpbf16ps outer-product micro-kernel: 32 weight rows (2 zmm of 16 rows × one k pair) × 12 token
 *           columns = 24 zmm accumulators; activations rounded once per call into groups of 12 tokens,
 *           xz[g][q][j] = the k pair q of token 12g + j as one dword, so each step is one 32-bit broadcast.
 *   AVX2    the same packed weights widened to f32 once per L2 block (pair → odd/even f32 vectors), then
 *           16 rows × 6 tokens = 12 ymm accumulators, two FMAs per k pair (odd k first, as vdpbf16ps).
 *   SCALAR  plain C, same order.
 * Blocking (all paths): each thread owns a contiguous range of 32-row units (and of token groups when rows
 * are scarce); it walks its rows in blocks of MB rows and, inside, k in chunks of KCP pairs, so the weight
 * block (AVX-512: 128 rows × 512 pairs of bf16; AVX2: 128 × 256 pairs widened to f32; 256 KiB either way)
 * stays in L2 while every token group of the thread sweeps it; the token group's k chunk (AVX-512: 12 × 512
 * dwords = 24 KiB; AVX2: 6 tokens × 512 f32 = 12 KiB) stays in L1
 * across the block's micro-tiles. Partial sums go through y between k chunks (reloaded into the
 * accumulators, so the order of additions is unchanged). On AVX-512 the thread's token groups are taken ZTB
 * (16 groups, 192 tokens) at a time, and each such sweep passes every row block of the thread: the sweep's
 * activations (0.8 MB at K = 2048, 2.2 MB at K = 5632) stay in L2/L3 instead of the whole x (7.8 / 21 MB)
 * being streamed again for each row block, at the price of reading the weights once per sweep.
 *
 * Built with GEMM_BF16_EMU defined (tests/test_gemm_bf16.c includes this file that way), the AVX-512 path's
 * vector operations are replaced by a plain-C model of the instructions and the public functions are
 * prefixed emu_: that lets the AVX-512 path's blocking, layout and masking be tested on any CPU. */
#include "gemm_bf16.h"

#include "cpu.h"
#include "kernels.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#ifdef GEMM_BF16_EMU
#define GB_PUB(name) emu_##name
#else
#define GB_PUB(name) name
#endif

#define Y_TARGET __attribute__((target("avx2,fma")))
#define GB_INLINE static inline __attribute__((always_inline))

/* ---- blocking parameters (compile-time overridable for tuning) ---- */
#define GB_UNIT 32 /* rows per unit of the thread split (two 16-row panels) */
#define ZNR 12     /* AVX-512: tokens per group (24 zmm accumulators with 32 rows) */
#ifndef ZMB
#define ZMB 128    /* AVX-512: rows per L2 block (multiple of GB_UNIT): 128 rows × 512 pairs = 256 KiB of weights */
#endif
#ifndef ZTB
#define ZTB 16 /* AVX-512: token groups per sweep over the thread's rows (192 tokens: their x stays in L2/L3 while
                * every row block of the thread passes; the weights are read once per sweep instead) */
#endif
#ifndef ZKCP
#define ZKCP 512   /* AVX-512: k pairs per chunk: a group's x chunk, 12 × 512 dwords = 24 KiB, stays in L1 */
#endif
#ifndef YNR
#define YNR 6      /* AVX2: tokens per group (1..8): 12 accumulators + 2 weights + 1 broadcast = 15 ymm */
#endif
#ifndef YMB
#define YMB 128    /* AVX2: rows per L2 block (multiple of GB_UNIT) */
#endif
#ifndef YKCP
#define YKCP 256   /* AVX2: k pairs per chunk: widened block 128 × 512 × 4 B = 256 KiB (L2 of Zen 3: 512 KiB) */
#endif
/* Below this many multiply-adds a call runs on the calling thread alone. */
#define GB_PAR_MIN_MACS (1 << 20)

static inline int gb_min(int a, int b) { return a < b ? a : b; }

/* ---- rounding (shared by all paths) ---- */
/* f32 bits → the bf16 value as f32 bits (low half zero): subnormal → ±0 (DAZ), NaN → quiet NaN, else
 * round to nearest even. */
static inline uint32_t gb_round_bits(uint32_t u) {
    if ((u & 0x7f800000u) == 0) return u & 0x80000000u;
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u | 0x00400000u) & 0xffff0000u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
}
static inline uint16_t gb_bf16_of_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(gb_round_bits(u) >> 16);
}
static inline uint16_t gb_bf16_daz(uint16_t h) { return (h & 0x7f80u) == 0 ? (uint16_t)(h & 0x8000u) : h; }
static inline float gb_f32_of_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- packing ---- */
Y_TARGET static void y_round_row(float *dst, const float *src, int K);
static void          s_round_row(float *dst, const float *src, int K);

static int  z_supported(void);
static void z_pack_panel_bf16(uint16_t *panel, const uint16_t *Wb, int pi, int N, int K);

static int gb_pack_any(gemm_bf16_w *w, const uint16_t *Wb, const float *Wf, int N, int K, int reuse) {
    const int    Kp = K + (K & 1), Kp2 = Kp / 2, P = (N + 15) / 16;
    const size_t bytes = (size_t)P * 16 * (size_t)Kp * 2;
    uint16_t    *p = NULL;
    if (reuse && w->packed && bytes <= (size_t)((w->N + 15) / 16 * 16) * (size_t)w->Kp * 2) p = w->packed;
    else if (reuse) free(w->packed);
    memset(w, 0, sizeof *w);
    if (N < 0 || K < 0) { free(p); return -1; }
    if (!p) p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) return -1;
    /* Blocked by 16 k pairs: the 16 rows' 128-byte pieces are read and one contiguous 1 KiB of the panel
     * written, so both sides stay in L1 (row by row, each 4-byte store would touch another cache line). */
    const long long work = (long long)N * K;
    const int       avx2 = cpu_has_avx2_fma(), zbf16 = Wb && z_supported();
#pragma omp parallel for schedule(static) if (work > (1 << 20))
    for (int pi = 0; pi < P; pi++) {
        uint16_t *panel = p + (size_t)pi * Kp2 * 32;
        if (zbf16) { /* the same bits, a zmm at a time (a streamed bf16 linear packs every call) */
            z_pack_panel_bf16(panel, Wb, pi, N, K);
            continue;
        }
        const int rows = gb_min(16, N - pi * 16);
        for (int q0 = 0; q0 < Kp2; q0 += 16) {
            const int qn = gb_min(16, Kp2 - q0);
            for (int r = 0; r < 16; r++) {
                uint16_t *d = panel + (size_t)q0 * 32 + 2 * r;
                if (r >= rows) {
                    for (int i = 0; i < qn; i++) d[i * 32] = d[i * 32 + 1] = 0;
                    continue;
                }
                const size_t row = (size_t)(pi * 16 + r) * K;
                if (Wb) {
                    for (int i = 0; i < qn; i++) {
                        const int k = 2 * (q0 + i);
                        uint16_t  h[2] = {gb_bf16_daz(Wb[row + k]), k + 1 < K ? gb_bf16_daz(Wb[row + k + 1]) : 0};
                        memcpy(d + i * 32, h, 4);
                    }
                } else { /* round 32 values at once (AVX2 where present: same bits as the scalar rounding) */
                    uint32_t  tmp[33];
                    const int n = gb_min(32, K - 2 * q0);
                    if (avx2) y_round_row((float *)tmp, Wf + row + 2 * q0, n);
                    else s_round_row((float *)tmp, Wf + row + 2 * q0, n);
                    tmp[n] = 0; /* K odd: the last pair's missing half */
                    for (int i = 0; i < qn; i++) {
                        uint16_t h[2] = {(uint16_t)(tmp[2 * i] >> 16), (uint16_t)(tmp[2 * i + 1] >> 16)};
                        memcpy(d + i * 32, h, 4);
                    }
                }
            }
        }
    }
    w->N = N;
    w->K = K;
    w->Kp = Kp;
    w->packed = p;
    return 0;
}

void GB_PUB(gemm_bf16_free)(gemm_bf16_w *w) {
    if (!w) return;
    free(w->packed);
    memset(w, 0, sizeof *w);
}
int GB_PUB(gemm_bf16_pack)(gemm_bf16_w *w, const uint16_t *W_bf16, int N, int K) {
    return gb_pack_any(w, W_bf16, NULL, N, K, 0);
}
int GB_PUB(gemm_bf16_pack_f32)(gemm_bf16_w *w, const float *weight, int N, int K) {
    return gb_pack_any(w, NULL, weight, N, K, 0);
}
int GB_PUB(gemm_bf16_repack)(gemm_bf16_w *w, const uint16_t *W_bf16, const float *weight, int N, int K) {
    return gb_pack_any(w, W_bf16, weight, N, K, 1);
}

/* Scratch: the AVX-512 path needs ceil(T/12)·12 tokens × Kp bf16; the others T × Kp f32. Plus alignment. */
size_t GB_PUB(gemm_bf16_scratch_bytes)(int T, int K) {
    if (T < 0) T = 0;
    if (K < 0) K = 0;
    const size_t Kp = (size_t)K + (K & 1), Tz = ((size_t)T + ZNR - 1) / ZNR * ZNR;
    const size_t z = Tz * Kp * 2, f = (size_t)T * Kp * 4;
    return (z > f ? z : f) + 64;
}

/* ---- one call's job ---- */
/* One output of a call: y (T, N) = x · weightᵀ (+ bias), then its epilogue on each finished tile. */
typedef struct gb_out {
    const uint16_t *w;    /* packed weight (N, K) */
    const float    *bias; /* (N) or NULL */
    float          *y;    /* (T, N) */
    float          *dst;  /* (T, N): the epilogue's target (GEMM_BF16_ADD_TO, GEMM_BF16_SILU_MUL_TO), else NULL */
    int             N, epi;
    int             ldy;  /* row stride of y and dst (≥ N) */
} gb_out;

typedef struct gb_job {
    const float  *x;      /* (T, K) f32 */
    int           T, K, Kp;
    void         *xs;     /* 64-byte aligned scratch: x rounded to bf16, in the path's layout */
    const gb_out *outs;   /* (n_outs), all with this K */
    int           n_outs;
    int           simd;   /* the epilogues' SIMD level (gb_epilogue), read once per call */
    int          *next;   /* the next work item (gb_compute's shared counter), 0 at the call's start */
} gb_job;

/* The epilogue of one finished tile (tokens t0.., nt of them; rows n0.., rows of them), with the same bits on
 * every path and the same bits as the unfused kernels: ADD_TO is add_inplace(dst, y) (residual.c: the same
 * expression), SILU_MUL_TO is swiglu_poly(dst, y) (activations.c). simd: the SIMD level this CPU allows
 * (2 AVX-512 F, 1 AVX2, 0 none; gb_job.simd), which changes only the speed: lanes are independent. */
Y_TARGET static void gb_add_avx2(float *d, const float *y, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(d + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) d[i] += y[i];
}
static void gb_epilogue(const gb_out *o, int t0, int nt, int n0, int rows, int simd) {
    if (o->epi == GEMM_BF16_STORE) return;
    for (int t = t0; t < t0 + nt; t++) {
        const float *y = o->y + (size_t)t * o->ldy + n0;
        float       *d = o->dst + (size_t)t * o->ldy + n0;
        if (o->epi == GEMM_BF16_SILU_MUL_TO) swiglu_poly_row(d, y, (size_t)rows, simd);
        else if (simd) gb_add_avx2(d, y, rows);
        else
            for (int i = 0; i < rows; i++) d[i] += y[i];
    }
}

/* A share of one call's work: row units [u0, u1) (of GB_UNIT rows) × token groups [g0, g1). gb_partition is
 * the static split used when an output has fewer row units than there are threads (gb_compute): rows over rs
 * threads, token groups over ts = nth / rs slices. Each output element is computed by exactly one thread, in
 * the order fixed above, so the split never changes a bit. */
typedef struct gb_part {
    int u0, u1, g0, g1;
} gb_part;
static int gb_partition(int units, int groups, int nth, int tid, gb_part *p) {
    int rs = units < nth ? units : nth;
    if (rs < 1) rs = 1;
    int ts = nth / rs;
    if (ts > groups) ts = groups;
    if (ts < 1) ts = 1;
    const int r = tid % rs, s = tid / rs;
    if (s >= ts) return 0;
    p->u0 = (int)((long long)units * r / rs);
    p->u1 = (int)((long long)units * (r + 1) / rs);
    p->g0 = (int)((long long)groups * s / ts);
    p->g1 = (int)((long long)groups * (s + 1) / ts);
    return p->u0 < p->u1 && p->g0 < p->g1;
}

/* =========================================================================================================
 * AVX-512 BF16 path
 * ========================================================================================================= */
#ifndef GEMM_BF16_EMU
#define Z_TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))
typedef __m512   zf;
typedef __m512i  zi;
typedef __mmask16 zmask;
#define z_zero()            _mm512_setzero_ps()
#define z_loadw(p)          _mm512_load_si512((const void *)(p))
#define z_dp(acc, w, pair)  _mm512_dpbf16_ps((acc), (__m512bh)(w), (__m512bh)_mm512_set1_epi32((int)(pair)))
#define z_loadm(p, m)       _mm512_maskz_loadu_ps((m), (p))
#define z_storem(p, m, v)   _mm512_mask_storeu_ps((p), (m), (v))
#define z_add(a, b)         _mm512_add_ps((a), (b))
/* Rounds n (1..32) floats at src to 16 bf16 pairs (missing ones zero), DAZ first so the conversion's own
 * handling of subnormals never matters. */
Z_TARGET static inline void z_cvt32(const float *src, int n, uint32_t out[16]) {
    const zmask mlo = n >= 16 ? (zmask)0xffff : (zmask)((1u << n) - 1);
    const zmask mhi = n >= 32 ? (zmask)0xffff : n > 16 ? (zmask)((1u << (n - 16)) - 1) : (zmask)0;
    __m512i     lo = _mm512_maskz_loadu_epi32(mlo, src), hi = _mm512_maskz_loadu_epi32(mhi, src + 16);
    const __m512i ex = _mm512_set1_epi32(0x7f800000);
    const __m512i sg = _mm512_set1_epi32((int)0x80000000u);
    lo = _mm512_mask_mov_epi32(_mm512_and_si512(lo, sg), _mm512_test_epi32_mask(lo, ex), lo); /* ±0 */
    hi = _mm512_mask_mov_epi32(_mm512_and_si512(hi, sg), _mm512_test_epi32_mask(hi, ex), hi);
    const __m512bh r = _mm512_cvtne2ps_pbh(_mm512_castsi512_ps(hi), _mm512_castsi512_ps(lo));
    _mm512_storeu_si512((void *)out, (__m512i)r);
}
/* n (0..32) bf16 values at src as 16 pairs, DAZ (a subnormal to its signed zero, as gb_bf16_daz), missing ones
 * zero. */
Z_TARGET static inline void z_daz32(const uint16_t *src, int n, uint32_t out[16]) {
    const __mmask32 m = n >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << n) - 1);
    const __m512i   v = _mm512_maskz_loadu_epi16(m, src);
    const __m512i   daz = _mm512_and_si512(v, _mm512_set1_epi16((short)0x8000));
    _mm512_storeu_si512((void *)out, _mm512_mask_mov_epi16(daz, _mm512_test_epi16_mask(v, _mm512_set1_epi16(0x7f80)), v));
}
static int z_supported(void) { return cpu_has_avx512bf16(); }
/* dst[i·stride + j] = tmp[j][i] for columns i < cnt (≤ 16) and rows j < lanes (≤ 16; 12 with stride 12: a
 * token group, 16 with stride 16: a weight panel); rows nrows.. read as zero. A 16 × 16 dword transpose in
 * registers; when stride = lanes < 16 each column is stored as 16 lanes of which the last are overwritten by
 * the next column's store (the last store is masked). */
Z_TARGET static void z_transpose(uint32_t tmp[][16], int nrows, uint32_t *dst, int stride, int cnt, int lanes) {
    __m512i r[16], t[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) r[j] = j < nrows ? _mm512_loadu_si512((const void *)tmp[j]) : _mm512_setzero_si512();
#pragma GCC unroll 16
    for (int j = 0; j < 16; j += 2) { /* 2 × 2 blocks of dwords */
        t[j] = _mm512_unpacklo_epi32(r[j], r[j + 1]);
        t[j + 1] = _mm512_unpackhi_epi32(r[j], r[j + 1]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < 16; j += 4) { /* 4 × 4 */
        r[j] = _mm512_unpacklo_epi64(t[j], t[j + 2]);
        r[j + 1] = _mm512_unpackhi_epi64(t[j], t[j + 2]);
        r[j + 2] = _mm512_unpacklo_epi64(t[j + 1], t[j + 3]);
        r[j + 3] = _mm512_unpackhi_epi64(t[j + 1], t[j + 3]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < 4; j++) { /* 128-bit lanes: rows j, j + 4 and j + 8, j + 12 */
        t[j] = _mm512_shuffle_i32x4(r[j], r[j + 4], 0x88);
        t[j + 4] = _mm512_shuffle_i32x4(r[j], r[j + 4], 0xdd);
        t[j + 8] = _mm512_shuffle_i32x4(r[j + 8], r[j + 12], 0x88);
        t[j + 12] = _mm512_shuffle_i32x4(r[j + 8], r[j + 12], 0xdd);
    }
#pragma GCC unroll 16
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0xdd);
    }
    /* r[i] is now column i */
    const __mmask16 m = lanes >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << lanes) - 1);
    if (stride < 16 && lanes == stride) { /* consecutive columns: full stores, each overwritten by the next */
        for (int i = 0; i + 1 < cnt; i++) _mm512_storeu_si512((void *)(dst + (size_t)i * stride), r[i]);
        _mm512_mask_storeu_epi32(dst + (size_t)(cnt - 1) * stride, m, r[cnt - 1]);
        return;
    }
    for (int i = 0; i < cnt; i++) _mm512_mask_storeu_epi32(dst + (size_t)i * stride, m, r[i]);
}
#else
/* Plain-C model of the instructions used above (Intel SDM: VDPBF16PS = two f32 FMAs per lane, odd element
 * first, DAZ inputs, FTZ output, round to nearest even). */
#include <float.h>
#include <math.h>
#define Z_TARGET
typedef struct { float f[16]; } zf;
typedef struct { uint32_t u[16]; } zi;
typedef uint16_t zmask;
static inline zf z_zero(void) { zf r; memset(&r, 0, sizeof r); return r; }
static inline zi z_loadw(const uint16_t *p) { zi r; memcpy(&r, p, 64); return r; }
static inline float z_ftz(float v) { return fabsf(v) < FLT_MIN ? copysignf(0.0f, v) : v; }
static inline float z_bf(uint32_t h) { return gb_f32_of_bf16(gb_bf16_daz((uint16_t)h)); }
static inline zf z_dp(zf acc, zi w, uint32_t pair) {
    for (int i = 0; i < 16; i++) {
        float a = acc.f[i];
        a = z_ftz(a + z_bf(w.u[i] >> 16) * z_bf(pair >> 16));
        a = z_ftz(a + z_bf(w.u[i] & 0xffff) * z_bf(pair & 0xffff));
        acc.f[i] = a;
    }
    return acc;
}
static inline zf z_loadm(const float *p, zmask m) {
    zf r = z_zero();
    for (int i = 0; i < 16; i++) if (m >> i & 1) r.f[i] = p[i];
    return r;
}
static inline void z_storem(float *p, zmask m, zf v) {
    for (int i = 0; i < 16; i++) if (m >> i & 1) p[i] = v.f[i];
}
static inline zf z_add(zf a, zf b) { for (int i = 0; i < 16; i++) a.f[i] += b.f[i]; return a; }
static inline void z_cvt32(const float *src, int n, uint32_t out[16]) {
    uint16_t h[32];
    for (int i = 0; i < 32; i++) h[i] = i < n ? gb_bf16_of_f32(src[i]) : 0;
    memcpy(out, h, 64);
}
static inline void z_daz32(const uint16_t *src, int n, uint32_t out[16]) {
    uint16_t h[32];
    for (int i = 0; i < 32; i++) h[i] = i < n ? gb_bf16_daz(src[i]) : 0;
    memcpy(out, h, 64);
}
static int z_supported(void) { return 1; }
static void z_transpose(uint32_t tmp[][16], int nrows, uint32_t *dst, int stride, int cnt, int lanes) {
    for (int i = 0; i < cnt; i++)
        for (int j = 0; j < lanes && j < 16; j++) dst[(size_t)i * stride + j] = j < nrows ? tmp[j][i] : 0;
}
#endif

/* Panel pi of a bf16 weight (gb_pack_any's layout): 16 k pairs of its rows at a time, DAZ, transposed in
 * registers into 1 KiB of the panel. */
Z_TARGET static void z_pack_panel_bf16(uint16_t *panel, const uint16_t *Wb, int pi, int N, int K) {
    const int Kp2 = (K + 1) / 2, rows = gb_min(16, N - pi * 16);
    uint32_t  tmp[16][16];
    for (int q0 = 0; q0 < Kp2; q0 += 16) {
        const int n = gb_min(32, K - 2 * q0), qn = gb_min(16, Kp2 - q0);
        for (int r = 0; r < rows; r++) z_daz32(Wb + (size_t)(pi * 16 + r) * K + 2 * q0, n, tmp[r]);
        z_transpose(tmp, rows, (uint32_t *)panel + (size_t)q0 * 16, 16, qn, 16);
    }
}

typedef struct zk_args {
    const uint16_t *w0, *w1; /* the two 16-row panels at the chunk's first k pair (w1 unused when mv = 1) */
    const uint32_t *x;       /* the token group at the chunk's first k pair: x[q·12 + j] */
    float          *y;       /* y of the tile's first token and row; row stride ldy */
    const float    *bias;    /* bias of the tile's first row, or NULL */
    const float    *ynext;   /* next tile's y (prefetched), or NULL */
    int             nk, ldy, first, last;
    zmask           m0, m1;  /* valid rows of each panel */
} zk_args;

/* The micro-kernel: MV panels of 16 rows × NR tokens, nk k pairs. */
GB_INLINE Z_TARGET void zk_body(const int MV, const int NR, const zk_args *a) {
    zf             acc0[ZNR], acc1[ZNR];
    const int      ldy = a->ldy, nk = a->nk;
    const zmask    m0 = a->m0, m1 = a->m1;
    float *const   y = a->y;
    if (a->ynext)
#pragma GCC unroll 12
        for (int j = 0; j < NR; j++) {
            __builtin_prefetch(a->ynext + (size_t)j * ldy, 1, 3);
            if (MV == 2) __builtin_prefetch(a->ynext + (size_t)j * ldy + 16, 1, 3);
        }
    if (a->first) {
#pragma GCC unroll 12
        for (int j = 0; j < NR; j++) {
            acc0[j] = z_zero();
            if (MV == 2) acc1[j] = z_zero();
        }
    } else {
#pragma GCC unroll 12
        for (int j = 0; j < NR; j++) {
            acc0[j] = z_loadm(y + (size_t)j * ldy, m0);
            if (MV == 2) acc1[j] = z_loadm(y + (size_t)j * ldy + 16, m1);
        }
    }
    const uint16_t *w0 = a->w0, *w1 = a->w1;
    const uint32_t *x = a->x;
    for (int q = 0; q < nk; q++) {
        const zi v0 = z_loadw(w0 + (size_t)q * 32);
        zi       v1 = v0;
        if (MV == 2) v1 = z_loadw(w1 + (size_t)q * 32);
#pragma GCC unroll 12
        for (int j = 0; j < NR; j++) {
            const uint32_t b = x[(size_t)q * ZNR + j];
            acc0[j] = z_dp(acc0[j], v0, b);
            if (MV == 2) acc1[j] = z_dp(acc1[j], v1, b);
        }
    }
    if (a->last && a->bias) {
        const zf b0 = z_loadm(a->bias, m0);
        zf       b1 = b0;
        if (MV == 2) b1 = z_loadm(a->bias + 16, m1);
#pragma GCC unroll 12
        for (int j = 0; j < NR; j++) {
            acc0[j] = z_add(acc0[j], b0);
            if (MV == 2) acc1[j] = z_add(acc1[j], b1);
        }
    }
#pragma GCC unroll 12
    for (int j = 0; j < NR; j++) {
        z_storem(y + (size_t)j * ldy, m0, acc0[j]);
        if (MV == 2) z_storem(y + (size_t)j * ldy + 16, m1, acc1[j]);
    }
}

#define ZK_DEF(MV, NR) \
    Z_TARGET static void zk_##MV##_##NR(const zk_args *a) { zk_body(MV, NR, a); }
#define ZK_DEF_ALL(MV) \
    ZK_DEF(MV, 1) ZK_DEF(MV, 2) ZK_DEF(MV, 3) ZK_DEF(MV, 4) ZK_DEF(MV, 5) ZK_DEF(MV, 6) \
    ZK_DEF(MV, 7) ZK_DEF(MV, 8) ZK_DEF(MV, 9) ZK_DEF(MV, 10) ZK_DEF(MV, 11) ZK_DEF(MV, 12)
ZK_DEF_ALL(1)
ZK_DEF_ALL(2)
#define ZK_ROW(MV) \
    { zk_##MV##_1, zk_##MV##_2, zk_##MV##_3, zk_##MV##_4, zk_##MV##_5, zk_##MV##_6, \
      zk_##MV##_7, zk_##MV##_8, zk_##MV##_9, zk_##MV##_10, zk_##MV##_11, zk_##MV##_12 }
static void (*const zk_tab[2][ZNR])(const zk_args *) = {ZK_ROW(1), ZK_ROW(2)};

/* Rounds this thread's token groups of x into xz[g][q][j]: per group and 16 k pairs, the 12 token rows are
 * converted into tmp[j][i] and written transposed, as one contiguous 16 × 12-dword block. */
Z_TARGET static void z_convert(const gb_job *J, int tid, int nth) {
    const int T = J->T, K = J->K, Kp2 = J->Kp / 2, G = (T + ZNR - 1) / ZNR;
    uint32_t *xz = J->xs;
    const int g0 = (int)((long long)G * tid / nth), g1 = (int)((long long)G * (tid + 1) / nth);
    uint32_t  tmp[ZNR][16];
    for (int g = g0; g < g1; g++) {
        const int nr = gb_min(ZNR, T - g * ZNR);
        memset(tmp, 0, sizeof tmp); /* padding tokens: zeros (never read, but defined) */
        for (int q = 0; q < Kp2; q += 16) {
            const int n = gb_min(32, K - 2 * q), cnt = gb_min(16, Kp2 - q);
            for (int j = 0; j < nr; j++) z_cvt32(J->x + (size_t)(g * ZNR + j) * K + 2 * q, n, tmp[j]);
            z_transpose(tmp, ZNR, xz + ((size_t)g * Kp2 + q) * ZNR, ZNR, cnt, ZNR);
        }
    }
}

static zmask z_rowmask(int rows) { return rows >= 16 ? (zmask)0xffff : rows <= 0 ? (zmask)0 : (zmask)((1u << rows) - 1); }

/* Rows [ub, ue) units × the thread's token groups of one output, k chunk by k chunk. */
static void z_block(const gb_job *J, const gb_out *o, const gb_part *P, int ub, int ue) {
    const int       T = J->T, N = o->N, Kp2 = J->Kp / 2;
    const uint32_t *xz = J->xs;
    /* k chunks of equal size, at most ZKCP pairs (K = 5632: 6 × 470 rather than 5 × 512 + 256) */
    const int nck = (Kp2 + ZKCP - 1) / ZKCP, kc = (Kp2 + nck - 1) / nck;
    for (int k0 = 0; k0 < Kp2; k0 += kc) {
        const int nk = gb_min(kc, Kp2 - k0);
        zk_args   a;
        a.nk = nk;
        a.ldy = o->ldy;
        a.first = k0 == 0;
        a.last = k0 + nk == Kp2;
        for (int g = P->g0; g < P->g1; g++) {
            const int t0 = g * ZNR, nr = gb_min(ZNR, T - t0);
            a.x = xz + ((size_t)g * Kp2 + k0) * ZNR;
            for (int u = ub; u < ue; u++) {
                const int n0 = u * GB_UNIT, rows = gb_min(GB_UNIT, N - n0);
                a.w0 = o->w + ((size_t)(n0 / 16) * Kp2 + k0) * 32;
                a.w1 = a.w0 + (size_t)Kp2 * 32;
                a.y = o->y + (size_t)t0 * o->ldy + n0;
                a.bias = o->bias ? o->bias + n0 : NULL;
                a.ynext = u + 1 < ue ? a.y + GB_UNIT : NULL;
                a.m0 = z_rowmask(rows);
                a.m1 = z_rowmask(rows - 16);
                zk_tab[rows > 16][nr - 1](&a);
                if (a.last) gb_epilogue(o, t0, nr, n0, rows, J->simd);
            }
        }
    }
}

/* ---- the AVX-512 micro-kernel as building blocks for other kernels (attention_bf16.c) ---- */
int GB_PUB(gemm_bf16_tile_supported)(void) { return z_supported(); }

Z_TARGET void GB_PUB(gemm_bf16_round_group)(uint32_t *xz, const float *x, size_t ldx, int nt, int K) {
    const int Kp2 = (K + 1) / 2;
    uint32_t  tmp[ZNR][16];
    memset(tmp, 0, sizeof tmp);
    for (int q = 0; q < Kp2; q += 16) {
        const int n = gb_min(32, K - 2 * q), cnt = gb_min(16, Kp2 - q);
        for (int j = 0; j < nt; j++) z_cvt32(x + (size_t)j * ldx + 2 * q, n, tmp[j]);
        z_transpose(tmp, ZNR, xz + (size_t)q * ZNR, ZNR, cnt, ZNR);
    }
}

void GB_PUB(gemm_bf16_tile)(float *y, int ldy, const uint16_t *w0, size_t panel_stride, int rows,
                            const uint32_t *xz, int nt, int nk, int accumulate) {
    zk_args a;
    a.w0 = w0;
    a.w1 = w0 + panel_stride;
    a.x = xz;
    a.y = y;
    a.bias = NULL;
    a.ynext = NULL;
    a.nk = nk;
    a.ldy = ldy;
    a.first = !accumulate;
    a.last = 1;
    a.m0 = z_rowmask(rows);
    a.m1 = z_rowmask(rows - 16);
    zk_tab[rows > 16][nt - 1](&a);
}

Z_TARGET void GB_PUB(gemm_bf16_pack_into)(uint16_t *dst, const float *weight, size_t ldw, int N, int K) {
    const int Kp2 = (K + 1) / 2, P = (N + 15) / 16;
    uint32_t  tmp[16][16];
    for (int p = 0; p < P; p++) {
        const int rows = gb_min(16, N - 16 * p);
        for (int q = 0; q < Kp2; q += 16) {
            const int n = gb_min(32, K - 2 * q), cnt = gb_min(16, Kp2 - q);
            for (int r = 0; r < rows; r++) z_cvt32(weight + (size_t)(16 * p + r) * ldw + 2 * q, n, tmp[r]);
            z_transpose(tmp, rows, (uint32_t *)dst + ((size_t)p * Kp2 + q) * 16, 16, cnt, 16);
        }
    }
}

Z_TARGET void GB_PUB(gemm_bf16_transpose16)(uint32_t *dst, size_t ldd, int lanes, uint32_t src[][16], int nrows,
                                            int cnt) {
    z_transpose(src, nrows, dst, (int)ldd, cnt, lanes);
}

Z_TARGET void GB_PUB(gemm_bf16_round_pairs)(uint32_t *dst, const float *lo, const float *hi, int n) {
    for (int i = 0; i < n; i += 16) {
        const int c = gb_min(16, n - i);
        float     v[32];
        uint32_t  h[16];
        for (int k = 0; k < c; k++) {
            v[2 * k] = lo[i + k];
            v[2 * k + 1] = hi ? hi[i + k] : 0.0f;
        }
        z_cvt32(v, 2 * c, h);
        memcpy(dst + i, h, sizeof(uint32_t) * (size_t)c);
    }
}

/* =========================================================================================================
 * f32 activations (AVX2 and scalar paths): x32[t][Kp], the bf16 values as f32, K odd padded with 0
 * ========================================================================================================= */
Y_TARGET static void y_round_row(float *dst, const float *src, int K) {
    const __m256i ex = _mm256_set1_epi32(0x7f800000), ab = _mm256_set1_epi32(0x7fffffff),
                  one = _mm256_set1_epi32(1), half = _mm256_set1_epi32(0x7fff),
                  hi = _mm256_set1_epi32((int)0xffff0000u), qb = _mm256_set1_epi32(0x00400000),
                  sg = _mm256_set1_epi32((int)0x80000000u), zero = _mm256_setzero_si256();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        const __m256i u = _mm256_loadu_si256((const __m256i *)(src + k));
        __m256i       r = _mm256_add_epi32(u, _mm256_add_epi32(half, _mm256_and_si256(_mm256_srli_epi32(u, 16), one)));
        r = _mm256_and_si256(r, hi);
        const __m256i isnan = _mm256_cmpgt_epi32(_mm256_and_si256(u, ab), ex);
        r = _mm256_blendv_epi8(r, _mm256_and_si256(_mm256_or_si256(u, qb), hi), isnan);
        const __m256i isden = _mm256_cmpeq_epi32(_mm256_and_si256(u, ex), zero);
        r = _mm256_blendv_epi8(r, _mm256_and_si256(u, sg), isden);
        _mm256_storeu_si256((__m256i *)(dst + k), r);
    }
    for (; k < K; k++) {
        uint32_t u;
        memcpy(&u, src + k, 4);
        u = gb_round_bits(u);
        memcpy(dst + k, &u, 4);
    }
}
static void s_round_row(float *dst, const float *src, int K) {
    for (int k = 0; k < K; k++) {
        uint32_t u;
        memcpy(&u, src + k, 4);
        u = gb_round_bits(u);
        memcpy(dst + k, &u, 4);
    }
}
static void f_convert(const gb_job *J, int tid, int nth, int avx2) {
    const int T = J->T, K = J->K, Kp = J->Kp;
    float    *x32 = J->xs;
    const int t0 = (int)((long long)T * tid / nth), t1 = (int)((long long)T * (tid + 1) / nth);
    for (int t = t0; t < t1; t++) {
        if (avx2) y_round_row(x32 + (size_t)t * Kp, J->x + (size_t)t * K, K);
        else s_round_row(x32 + (size_t)t * Kp, J->x + (size_t)t * K, K);
        if (Kp > K) x32[(size_t)t * Kp + K] = 0.0f;
    }
}

/* =========================================================================================================
 * AVX2 path: each weight block (YMB rows × YKCP pairs) is widened to f32 once into a thread-local buffer that
 * stays in L2 (wf[panel][q] = the panel's 16 odd-k values, then its 16 even-k values), and every token group
 * of the thread sweeps it with a pure-FMA micro-kernel: 16 rows (2 ymm) × YNR tokens. DRAM traffic is that of
 * bf16 weights; the inner loop is that of an f32 GEMM.
 * ========================================================================================================= */
#define YWF_FLOATS ((size_t)YMB * 2 * YKCP) /* one widened block: 128 rows × 512 k × 4 B = 256 KiB */

/* Widens panels [p0, p1) at k pairs [k0, k0 + nk) into wf. */
Y_TARGET static void y_widen(float *wf, const uint16_t *w, int Kp2, int p0, int p1, int k0, int nk) {
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    for (int p = p0; p < p1; p++) {
        const uint16_t *src = w + ((size_t)p * Kp2 + k0) * 32;
        float          *dst = wf + (size_t)(p - p0) * nk * 32;
        for (int q = 0; q < nk; q++) {
            const __m256i wa = _mm256_load_si256((const __m256i *)(src + (size_t)q * 32));
            const __m256i wb = _mm256_load_si256((const __m256i *)(src + (size_t)q * 32 + 16));
            _mm256_store_ps(dst + (size_t)q * 32, _mm256_castsi256_ps(_mm256_and_si256(wa, hi)));
            _mm256_store_ps(dst + (size_t)q * 32 + 8, _mm256_castsi256_ps(_mm256_and_si256(wb, hi)));
            _mm256_store_ps(dst + (size_t)q * 32 + 16, _mm256_castsi256_ps(_mm256_slli_epi32(wa, 16)));
            _mm256_store_ps(dst + (size_t)q * 32 + 24, _mm256_castsi256_ps(_mm256_slli_epi32(wb, 16)));
        }
    }
}

typedef struct yk_args {
    const float *w;    /* the widened panel at the chunk's first k pair: w[q·32 + 0..15] odd k, [16..31] even k */
    const float *x;    /* x32 of the group's first token at the chunk's first k; row stride ldx */
    float       *y;
    const float *bias;
    int          nk, ldx, ldy, rows, first, last;
} yk_args;

GB_INLINE Y_TARGET void yk_body(const int NR, const yk_args *a) {
    __m256        c0[YNR], c1[YNR];
    const int     ldx = a->ldx, ldy = a->ldy, nk = a->nk, rows = a->rows;
    float *const  y = a->y;
    const int     full = rows >= 16;
    const __m256i mk0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i mk1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
    if (a->first) {
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) c0[j] = c1[j] = _mm256_setzero_ps();
    } else if (full) {
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            c0[j] = _mm256_loadu_ps(y + (size_t)j * ldy);
            c1[j] = _mm256_loadu_ps(y + (size_t)j * ldy + 8);
        }
    } else {
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            c0[j] = _mm256_maskload_ps(y + (size_t)j * ldy, mk0);
            c1[j] = _mm256_maskload_ps(y + (size_t)j * ldy + 8, mk1);
        }
    }
    const float *w = a->w, *x = a->x;
    for (int q = 0; q < nk; q++) {
        /* odd k first, then even: the order of vdpbf16ps */
        const __m256 oa = _mm256_load_ps(w + (size_t)q * 32), ob = _mm256_load_ps(w + (size_t)q * 32 + 8);
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            const __m256 xo = _mm256_broadcast_ss(x + (size_t)j * ldx + 2 * q + 1);
            c0[j] = _mm256_fmadd_ps(oa, xo, c0[j]);
            c1[j] = _mm256_fmadd_ps(ob, xo, c1[j]);
        }
        const __m256 ea = _mm256_load_ps(w + (size_t)q * 32 + 16), eb = _mm256_load_ps(w + (size_t)q * 32 + 24);
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            const __m256 xe = _mm256_broadcast_ss(x + (size_t)j * ldx + 2 * q);
            c0[j] = _mm256_fmadd_ps(ea, xe, c0[j]);
            c1[j] = _mm256_fmadd_ps(eb, xe, c1[j]);
        }
    }
    if (a->last && a->bias) {
        __m256 b0, b1;
        if (full) {
            b0 = _mm256_loadu_ps(a->bias);
            b1 = _mm256_loadu_ps(a->bias + 8);
        } else {
            b0 = _mm256_maskload_ps(a->bias, mk0);
            b1 = _mm256_maskload_ps(a->bias + 8, mk1);
        }
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            c0[j] = _mm256_add_ps(c0[j], b0);
            c1[j] = _mm256_add_ps(c1[j], b1);
        }
    }
    if (full) {
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            _mm256_storeu_ps(y + (size_t)j * ldy, c0[j]);
            _mm256_storeu_ps(y + (size_t)j * ldy + 8, c1[j]);
        }
    } else {
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            _mm256_maskstore_ps(y + (size_t)j * ldy, mk0, c0[j]);
            _mm256_maskstore_ps(y + (size_t)j * ldy + 8, mk1, c1[j]);
        }
    }
}

#define YK_DEF(NR) \
    Y_TARGET static void yk_##NR(const yk_args *a) { yk_body(NR < YNR ? NR : YNR, a); }
YK_DEF(1) YK_DEF(2) YK_DEF(3) YK_DEF(4) YK_DEF(5) YK_DEF(6) YK_DEF(7) YK_DEF(8)
static void (*const yk_tab[8])(const yk_args *) = {yk_1, yk_2, yk_3, yk_4, yk_5, yk_6, yk_7, yk_8};

static void y_block(const gb_job *J, const gb_out *o, const gb_part *P, int ub, int ue) {
    const int    T = J->T, N = o->N, Kp = J->Kp, Kp2 = Kp / 2, panels = (N + 15) / 16;
    const float *x32 = J->xs;
    const int    p0 = ub * (GB_UNIT / 16), p1 = gb_min(ue * (GB_UNIT / 16), panels);
    /* the widened block: on this thread's stack (256 KiB; OpenMP threads get the process's stack size) */
    float wf[YWF_FLOATS] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < Kp2; k0 += YKCP) {
        const int nk = gb_min(YKCP, Kp2 - k0);
        y_widen(wf, o->w, Kp2, p0, p1, k0, nk);
        yk_args a;
        a.nk = nk;
        a.ldx = Kp;
        a.ldy = o->ldy;
        a.first = k0 == 0;
        a.last = k0 + nk == Kp2;
        for (int g = P->g0; g < P->g1; g++) {
            const int t0 = g * YNR, nr = gb_min(YNR, T - t0);
            a.x = x32 + (size_t)t0 * Kp + 2 * (size_t)k0;
            for (int p = p0; p < p1; p++) {
                const int n0 = p * 16;
                a.w = wf + (size_t)(p - p0) * nk * 32;
                a.y = o->y + (size_t)t0 * o->ldy + n0;
                a.bias = o->bias ? o->bias + n0 : NULL;
                a.rows = gb_min(16, N - n0);
                yk_tab[nr - 1](&a);
                if (a.last) gb_epilogue(o, t0, nr, n0, a.rows, J->simd);
            }
        }
    }
}

/* =========================================================================================================
 * Scalar path
 * ========================================================================================================= */
static void s_block(const gb_job *J, const gb_out *o, const gb_part *P, int ub, int ue) {
    const int    N = o->N, Kp = J->Kp, Kp2 = Kp / 2;
    const float *x32 = J->xs;
    const int    n0 = ub * GB_UNIT, n1 = gb_min(ue * GB_UNIT, N);
    for (int t = P->g0; t < P->g1; t++) {
        const float *xt = x32 + (size_t)t * Kp;
        for (int n = n0; n < n1; n++) {
            const uint16_t *wp = o->w + (size_t)(n / 16) * Kp2 * 32 + 2 * (n % 16);
            float           acc = 0.0f;
            for (int q = 0; q < Kp2; q++) {
                acc = acc + gb_f32_of_bf16(wp[(size_t)q * 32 + 1]) * xt[2 * q + 1];
                acc = acc + gb_f32_of_bf16(wp[(size_t)q * 32]) * xt[2 * q];
            }
            o->y[(size_t)t * o->ldy + n] = o->bias ? acc + o->bias[n] : acc;
        }
        gb_epilogue(o, t, 1, n0, n1 - n0, J->simd);
    }
}

/* =========================================================================================================
 * the driver: outputs with the same N in lockstep, one row block at a time
 * ========================================================================================================= */
/* The work of one call, in items of (token sweep, outputs of one N, L2 row block) that the threads take from a
 * shared counter in that order: sweep-major, so the threads work on the same x slab at the same time. A thread
 * that the host slows down takes fewer items instead of holding the others at the end of the call. Outputs
 * with the same N are one item per block (gate then up over the same rows, so the up tile's SwiGLU epilogue
 * finds its gate tile finished); every output element is computed in one item in the order fixed by K, so which
 * thread takes an item never changes a bit. When an output has fewer row units than there are threads, rows and
 * tokens are split statically instead (gb_partition). */
static void gb_items(const gb_job *J, const gb_part *P, int j0, int j1, int path, int sb, int step) {
    for (int gs = P->g0; gs < P->g1; gs += sb) {
        gb_part S = *P;
        S.g0 = gs;
        S.g1 = gb_min(gs + sb, P->g1);
        for (int ub = P->u0; ub < P->u1; ub += step) {
            const int ue = gb_min(ub + step, P->u1);
            for (int j = j0; j < j1; j++) {
                if (path == GEMM_BF16_AVX512) z_block(J, &J->outs[j], &S, ub, ue);
                else if (path == GEMM_BF16_AVX2) y_block(J, &J->outs[j], &S, ub, ue);
                else s_block(J, &J->outs[j], &S, ub, ue);
            }
        }
    }
}

static int gb_units(int N) { return (N + GB_UNIT - 1) / GB_UNIT; }

static void gb_compute(const gb_job *J, int path, int tid, int nth) {
    const int groups = path == GEMM_BF16_AVX512 ? (J->T + ZNR - 1) / ZNR
                     : path == GEMM_BF16_AVX2   ? (J->T + YNR - 1) / YNR : J->T;
    const int step = (path == GEMM_BF16_AVX512 ? ZMB : YMB) / GB_UNIT;
    const int sb = path == GEMM_BF16_AVX512 ? ZTB : groups; /* token groups per sweep */
    int       jg[GEMM_BF16_MAX_OUTS + 1], ng = 0, dynamic = 1;
    for (int j = 0; j < J->n_outs; j++) /* jg[i]..jg[i+1]: the outputs of the i-th N */
        if (j == 0 || J->outs[j].N != J->outs[j - 1].N) {
            jg[ng++] = j;
            if (gb_units(J->outs[j].N) < nth) dynamic = 0;
        }
    jg[ng] = J->n_outs;
    if (!dynamic) {
        for (int i = 0; i < ng; i++) {
            gb_part P;
            if (gb_partition(gb_units(J->outs[jg[i]].N), groups, nth, tid, &P))
                gb_items(J, &P, jg[i], jg[i + 1], path, sb, step);
        }
        return;
    }
    int blocks[GEMM_BF16_MAX_OUTS], per_sweep = 0; /* row blocks of each N, and in all */
    for (int i = 0; i < ng; i++) per_sweep += blocks[i] = (gb_units(J->outs[jg[i]].N) + step - 1) / step;
    const int items = (groups + sb - 1) / sb * per_sweep;
    for (int it; (it = __atomic_fetch_add(J->next, 1, __ATOMIC_RELAXED)) < items;) {
        int i = 0, b = it % per_sweep;
        while (b >= blocks[i]) b -= blocks[i++];
        const int units = gb_units(J->outs[jg[i]].N), g0 = it / per_sweep * sb;
        const gb_part P = {b * step, gb_min((b + 1) * step, units), g0, gb_min(g0 + sb, groups)};
        gb_items(J, &P, jg[i], jg[i + 1], path, sb, step);
    }
}

/* =========================================================================================================
 * dispatch
 * ========================================================================================================= */
static int gb_supported(int path) {
    switch (path) {
    case GEMM_BF16_AUTO:
    case GEMM_BF16_SCALAR: return 1;
    case GEMM_BF16_AVX2: return cpu_has_avx2_fma();
    case GEMM_BF16_AVX512: return z_supported();
    default: return 0;
    }
}
static int gb_auto(void) {
    if (z_supported()) return GEMM_BF16_AVX512;
    if (cpu_has_avx2_fma()) return GEMM_BF16_AVX2;
    return GEMM_BF16_SCALAR;
}
int GB_PUB(gemm_bf16_auto_path)(void) { return gb_auto(); }
int GB_PUB(gemm_bf16_path_supported)(int path) { return gb_supported(path); }
const char *GB_PUB(gemm_bf16_path_name)(int path) {
    switch (path) {
    case GEMM_BF16_AUTO: return "auto";
    case GEMM_BF16_SCALAR: return "scalar";
    case GEMM_BF16_AVX2: return "avx2";
    case GEMM_BF16_AVX512: return "avx512bf16";
    default: return "?";
    }
}

int GB_PUB(gemm_bf16_multi)(const float *x, int T, const gemm_bf16_out *outs, int n, void *scratch, int path) {
    const int rounded = path & GEMM_BF16_X_ROUNDED;
    path &= ~GEMM_BF16_X_ROUNDED;
    if (!gb_supported(path)) return -1;
    if (path == GEMM_BF16_AUTO) path = gb_auto();
    if (T <= 0 || n <= 0) return 0;
    const int K = outs[0].w->K, Kp = outs[0].w->Kp;
    gb_out    o[GEMM_BF16_MAX_OUTS];
    double    macs = 0;
    if (n > GEMM_BF16_MAX_OUTS) return -1;
    for (int j = 0; j < n; j++) {
        if (outs[j].w->K != K) return -1;
        o[j] = (gb_out){outs[j].w->packed, outs[j].bias, outs[j].y, outs[j].dst, outs[j].w->N, outs[j].epi,
                        outs[j].ldy > outs[j].w->N ? outs[j].ldy : outs[j].w->N};
        macs += (double)T * outs[j].w->N * Kp;
    }
    const int simd = cpu_has_avx512f() ? 2 : cpu_has_avx2_fma() ? 1 : 0;
    if (K == 0) { /* y = bias, then the epilogue */
        for (int j = 0; j < n; j++) {
            for (int t = 0; t < T; t++)
                for (int c = 0; c < o[j].N; c++) o[j].y[(size_t)t * o[j].ldy + c] = o[j].bias ? o[j].bias[c] : 0.0f;
            gb_epilogue(&o[j], 0, T, 0, o[j].N, simd);
        }
        return 0;
    }
    int       next = 0;
    gb_job    J = {x, T, K, Kp, (void *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), o, n, simd, &next};
    (void)macs; /* only read by the OpenMP clause below (unused in a build without OpenMP) */
#pragma omp parallel if (macs >= GB_PAR_MIN_MACS)
    {
        const int nth = omp_get_num_threads(), tid = omp_get_thread_num();
        if (rounded) ; /* the call before left x rounded in scratch */
        else if (path == GEMM_BF16_AVX512) z_convert(&J, tid, nth);
        else f_convert(&J, tid, nth, path == GEMM_BF16_AVX2);
#pragma omp barrier
        gb_compute(&J, path, tid, nth);
    }
    return 0;
}

int GB_PUB(gemm_bf16_ex)(float *y, const float *x, const gemm_bf16_w *w, const float *bias, int T, void *scratch,
                         int path) {
    const gemm_bf16_out o = {w, bias, y, GEMM_BF16_STORE, NULL, 0};
    return GB_PUB(gemm_bf16_multi)(x, T, &o, 1, scratch, path);
}

void GB_PUB(gemm_bf16)(float *y, const float *x, const gemm_bf16_w *w, const float *bias, int T, void *scratch) {
    GB_PUB(gemm_bf16_ex)(y, x, w, bias, T, scratch, GEMM_BF16_AUTO);
}
