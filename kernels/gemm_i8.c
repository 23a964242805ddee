/* gemm_i8.c — the int8 GEMM (see gemm_i8.h): activation quantization, per-call weight panels, and one
 * micro-kernel per path that all compute the same integers and apply the scales in the same float order.
 *
 * Exactness of the integer sums (why every path gives the same bits):
 *   activations q_x ∈ [−127, 127] (clamped), weights q_w ∈ [−128, 127] (whatever a file holds).
 *   - C: Σ q_x·q_w in int32; a sub-block has ≤ 32 terms, |Σ| ≤ 32·127·128 = 520 192.
 *   - VNNI (vpdpbusd, u8 × s8 → int32, four products per lane, no saturation): the u8 operand is q_x + 128 ∈ [1, 255]
 *     and the accumulator starts at corr = −128·Σ q_w (computed with the panel), so it ends at
 *     Σ (q_x + 128)·q_w − 128·Σ q_w = Σ q_x·q_w exactly; every partial sum is bounded by 32·255·128 + 32·128·128
 *     < 2^21, far from int32 overflow.
 *   - AVX2: both operands sign-extended to int16 (vpmovsxbw) and multiplied by vpmaddwd, which adds two int16
 *     products into an int32 lane: |q_x·q_w| ≤ 127·128 = 16 256, a pair ≤ 32 512 — in int32 (not int16, so
 *     nothing saturates, unlike vpmaddubsw whose int16 pair sum of 255·128·2 would), then vpaddd.
 *   Every sum is < 2^24 in magnitude, so its conversion to f32 is exact, and the scale steps are the same
 *   IEEE operations in the same order on every path (C uses fmaf, the SIMD paths vfmadd): same bits.
 *
 * Sections: paths · activations · panels · kernels (C, AVX2, AVX-VNNI, AVX512-VNNI) · the call. */
#include "gemm_i8.h"

#include "cpu.h"
#include "peak.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define I8_INLINE static inline __attribute__((always_inline))

/* ---- paths ---- */

static const char *const PATH_NAMES[] = {"auto", "c", "avx2", "vnni256", "vnni512"};

const char *gemm_i8_path_name(int path) { return path >= 0 && path <= GEMM_I8_VNNI512 ? PATH_NAMES[path] : "?"; }

int gemm_i8_peak_kind(int path, const char **name) {
    switch (path) {
    case GEMM_I8_VNNI512: *name = "vpdpbusd"; return PEAK_DPBUSD;
    case GEMM_I8_VNNI256: *name = "vpdpbusd (ymm, AVX-VNNI)"; return PEAK_DPBUSD256;
    case GEMM_I8_AVX2: *name = "vpmaddwd (ymm)"; return PEAK_MADDWD256;
    default: *name = "none"; return -1;
    }
}

int gemm_i8_path_supported(int path) {
    switch (path) {
    case GEMM_I8_AUTO: case GEMM_I8_C: return 1;
    case GEMM_I8_AVX2: return cpu_has_avx2_fma();
    case GEMM_I8_VNNI256: return cpu_has_avxvnni() && cpu_has_avx2_fma();
    case GEMM_I8_VNNI512: return cpu_has_avx512vnni();
    default: return 0;
    }
}

int gemm_i8_auto_path(void) {
    const char *e = getenv("LMC_INT8_PATH");
    for (int p = GEMM_I8_C; e && *e && p <= GEMM_I8_VNNI512; p++)
        if (!strcmp(e, PATH_NAMES[p]) && gemm_i8_path_supported(p)) return p;
    for (int p = GEMM_I8_VNNI512; p > GEMM_I8_C; p--)
        if (gemm_i8_path_supported(p)) return p;
    return GEMM_I8_C;
}

/* ---- activations ---- */

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

static int round32(int K) { return (K + GEMM_I8_QK - 1) / GEMM_I8_QK * GEMM_I8_QK; }

size_t gemm_i8_x_bytes(int T, int K) {
    K = round32(K);
    const size_t nb = (size_t)T * (size_t)(K / GEMM_I8_QK);
    return align64((size_t)T * (size_t)K * 2) + 2 * align64(nb * sizeof(float)) + 64;
}

/* One block of 32 values: d = amax / 127 and q = rint(x / d) (nearest even, the default rounding; x · (1/d) as
 * ggml does), clamped to ±127; returns d and Σ q in *sum. Three versions with the same bits: the max is exact in
 * any order, d and 1/d are the same scalar operations, the products and the rounding are the same IEEE
 * operations per element (vcvtps2dq rounds as nearbyintf). */
static float quant_block_c(const float *x, int32_t *q, int *sum) {
    float amax = 0;
    for (int j = 0; j < GEMM_I8_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    int s = 0;
    for (int j = 0; j < GEMM_I8_QK; j++) {
        float v = nearbyintf(x[j] * id);
        v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
        q[j] = (int32_t)v;
        s += q[j];
    }
    *sum = s;
    return d;
}

__attribute__((target("avx2,fma"))) static float quant_block_avx2(const float *x, int32_t *q, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], m = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(x + 8 * i), m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h), d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    __m256i acc = _mm256_setzero_si256();
    for (int i = 0; i < 4; i++) {
        __m256i qi = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));
        qi = _mm256_max_epi32(_mm256_min_epi32(qi, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
        _mm256_storeu_si256((__m256i *)(q + 8 * i), qi);
        acc = _mm256_add_epi32(acc, qi);
    }
    __m128i a = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0x4E));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0xB1));
    *sum = _mm_cvtsi128_si32(a);
    return d;
}

__attribute__((target("avx512f"))) static float quant_block_avx512(const float *x, int32_t *q, int *sum) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i hi = _mm512_set1_epi32(127), lo = _mm512_set1_epi32(-127);
    const __m512i q0 = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)), hi), lo);
    const __m512i q1 = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vid)), hi), lo);
    _mm512_storeu_si512(q, q0);
    _mm512_storeu_si512(q + 16, q1);
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    return d;
}

typedef float (*quant_block_fn)(const float *x, int32_t *q, int *sum);

/* One block's 32 values into the path's activation layout at element offset o: int16 (AVX2), int8 (C),
 * q + 128 as u8 (VNNI). Plain loops the compiler vectorizes (restrict: nothing else is written). */
static void store_block(void *dst, size_t o, const int32_t *restrict q, int path) {
    if (path == GEMM_I8_AVX2) {
        int16_t *restrict d = (int16_t *)dst + o;
        for (int j = 0; j < GEMM_I8_QK; j++) d[j] = (int16_t)q[j];
    } else if (path == GEMM_I8_C) {
        int8_t *restrict d = (int8_t *)dst + o;
        for (int j = 0; j < GEMM_I8_QK; j++) d[j] = (int8_t)q[j];
    } else {
        uint8_t *restrict d = (uint8_t *)dst + o;
        for (int j = 0; j < GEMM_I8_QK; j++) d[j] = (uint8_t)(q[j] + 128);
    }
}

void gemm_i8_quantize(gemm_i8_x *xq, const float *x, int T, int K, int path, void *scratch) {
    if (path == GEMM_I8_AUTO) path = gemm_i8_auto_path();
    const quant_block_fn qb = path == GEMM_I8_C     ? quant_block_c /* the reference runs on no SIMD at all */
                            : cpu_has_avx512f()     ? quant_block_avx512
                            : cpu_has_avx2_fma()    ? quant_block_avx2
                                                    : quant_block_c;
    const int Kp = round32(K), nb = Kp / GEMM_I8_QK;
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    *xq = (gemm_i8_x){.T = T, .K = Kp, .path = path, .q = base};
    xq->d = (float *)(base + align64((size_t)T * Kp * 2));
    xq->ds = xq->d + align64((size_t)T * nb * sizeof(float)) / sizeof(float);
#pragma omp parallel for schedule(static) if ((size_t)T * K > (1u << 15))
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * K;
        for (int b = 0; b < nb; b++) {
            int32_t q[GEMM_I8_QK];
            int s;
            float pad[GEMM_I8_QK] = {0}; /* the last block of a K that is not a multiple of 32: zeros after K */
            const float *src = xr + b * GEMM_I8_QK;
            if ((b + 1) * GEMM_I8_QK > K) memcpy(pad, src, sizeof(float) * (size_t)(K - b * GEMM_I8_QK)), src = pad;
            const float d = qb(src, q, &s);
            xq->d[(size_t)t * nb + b] = d;
            xq->ds[(size_t)t * nb + b] = d * (float)s;
            store_block(xq->q, (size_t)t * Kp + (size_t)b * GEMM_I8_QK, q, path);
        }
    }
}

/* ---- panels ----
 * 16 weight rows, row-interleaved by 4 values: q[(k / 4)·64 + r·4 + k % 4] = q_w[row r][k] (the 64 bytes of one
 * k-quad are one zmm: vpdpbusd's 16 lanes of 4 products), then per sub-block b and row r: corr[b][r] =
 * −128·Σ q_w over the sub-block (int32), dw[b][r], mw[b][r] (f32; 0 without offsets), then bias[r] (0 when none
 * or past N). Rows past N are zero. */
typedef struct panel_ref {
    const int8_t  *q;
    const int32_t *corr;
    const float   *dw, *mw, *bias;
} panel_ref;

static size_t panel_bytes(int K, int nsb) { return (size_t)K * 16 + (size_t)nsb * 16 * 12 + 64; }

static panel_ref panel_at(const uint8_t *p, int K, int nsb) {
    panel_ref r;
    r.q = (const int8_t *)p;
    r.corr = (const int32_t *)(p + (size_t)K * 16);
    r.dw = (const float *)(r.corr + (size_t)nsb * 16);
    r.mw = r.dw + (size_t)nsb * 16;
    r.bias = r.mw + (size_t)nsb * 16;
    return r;
}

/* Σ of 16 int8 values: psadbw (SSE2, in every x86-64) adds the 16 bytes as u8 = q + 128 (the sign bit flipped)
 * into two 64-bit halves; the byte loop it replaces was 2/3 of the panel conversion's time. */
static int sum16_i8(const int8_t *q) {
    const __m128i u = _mm_xor_si128(_mm_loadu_si128((const __m128i *)q), _mm_set1_epi8((char)0x80));
    const __m128i s = _mm_sad_epu8(u, _mm_setzero_si128());
    return _mm_cvtsi128_si32(s) + _mm_extract_epi16(s, 4) - 16 * 128;
}

/* rows (16 rows of K int8, ld bytes apart) into the panel's k-quad layout, q[(k / 4)·64 + r·4 + k % 4]: 4 × 4
 * dword transposes (SSE2), four rows' four k-quads at a time. K is a multiple of 32. */
static void interleave_rows(int8_t *q, const int8_t *rows, size_t ld, int K) {
    for (int r0 = 0; r0 < 16; r0 += 4) {
        const int8_t *a = rows + (size_t)r0 * ld;
        for (int k4 = 0; k4 < K / 4; k4 += 4) {
            const __m128i x0 = _mm_loadu_si128((const __m128i *)(a + 4 * k4));
            const __m128i x1 = _mm_loadu_si128((const __m128i *)(a + ld + 4 * k4));
            const __m128i x2 = _mm_loadu_si128((const __m128i *)(a + 2 * ld + 4 * k4));
            const __m128i x3 = _mm_loadu_si128((const __m128i *)(a + 3 * ld + 4 * k4));
            const __m128i lo01 = _mm_unpacklo_epi32(x0, x1), lo23 = _mm_unpacklo_epi32(x2, x3);
            const __m128i hi01 = _mm_unpackhi_epi32(x0, x1), hi23 = _mm_unpackhi_epi32(x2, x3);
            int8_t *o = q + (size_t)k4 * 64 + r0 * 4;
            _mm_storeu_si128((__m128i *)o, _mm_unpacklo_epi64(lo01, lo23));
            _mm_storeu_si128((__m128i *)(o + 64), _mm_unpackhi_epi64(lo01, lo23));
            _mm_storeu_si128((__m128i *)(o + 128), _mm_unpacklo_epi64(hi01, hi23));
            _mm_storeu_si128((__m128i *)(o + 192), _mm_unpackhi_epi64(hi01, hi23));
        }
    }
}

/* Bytes of scratch panel_fill needs: the 16 rows unpacked, then one row's scales. */
static size_t fill_scratch_bytes(int K, int nsb) { return 16 * align64((size_t)K) + align64(2 * sizeof(float) * nsb); }

/* Converts rows [n0, n0 + 16) of w into the panel at p, through fill_scratch_bytes of scratch at rows. */
static void panel_fill(uint8_t *p, const gemm_i8_w *w, int n0, const float *bias, uint8_t *rows) {
    const int K = w->K, nsb = K / w->sub;
    const size_t ld = align64((size_t)K);
    int32_t *corr = (int32_t *)(p + (size_t)K * 16);
    float *dw = (float *)(corr + (size_t)nsb * 16), *mw = dw + (size_t)nsb * 16, *bs = mw + (size_t)nsb * 16;
    float *rd = (float *)(rows + 16 * ld), *rm = rd + nsb;
    for (int r = 0; r < 16; r++) {
        const int n = n0 + r;
        int8_t *rq = (int8_t *)rows + (size_t)r * ld;
        if (n < w->N) {
            memset(rm, 0, sizeof(float) * (size_t)nsb);
            w->unpack((const uint8_t *)w->data + (size_t)n * w->row_bytes, rq, rd, rm, K);
        } else {
            memset(rq, 0, (size_t)K);
            memset(rd, 0, sizeof(float) * 2 * (size_t)nsb);
        }
        for (int b = 0; b < nsb; b++) {
            int s = 0;
            for (int j = 0; j < w->sub; j += 16) s += sum16_i8(rq + b * w->sub + j);
            corr[b * 16 + r] = -128 * s;
            dw[b * 16 + r] = rd[b];
            mw[b * 16 + r] = rm[b];
        }
        bs[r] = bias && n < w->N ? bias[n] : 0.0f;
    }
    interleave_rows((int8_t *)p, (const int8_t *)rows, ld, K);
}

/* What a micro-kernel reads besides its panels: the activations, and where its outputs go. */
typedef struct tile_ctx {
    const gemm_i8_x *xq;
    int              K, nsb, sub, has_min, N;
    float           *y;      /* (T, N) */
} tile_ctx;

/* The activation scale index of sub-block b. */
I8_INLINE int xblock(int b, int sub) { return b * sub / GEMM_I8_QK; }

/* Stores 16 (or the `rows` < 16 valid) outputs of token t at column n0. */
I8_INLINE void store_row(const tile_ctx *c, int t, int n0, int rows, const float *v) {
    memcpy(c->y + (size_t)t * c->N + n0, v, sizeof(float) * (size_t)rows);
}

/* ---- kernels: plain C (the reference) ---- */

static void tile_c_panel(const tile_ctx *c, const uint8_t *P, int n0, int rows, int t0, int nt) {
    const panel_ref p = panel_at(P, c->K, c->nsb);
    const int nb = c->K / GEMM_I8_QK;
    for (int t = t0; t < t0 + nt; t++) {
        const int8_t *xr = (const int8_t *)c->xq->q + (size_t)t * c->K;
        const float *xd = c->xq->d + (size_t)t * nb, *xs = c->xq->ds + (size_t)t * nb;
        float out[16];
        for (int r = 0; r < 16; r++) {
            float acc = 0;
            for (int b = 0; b < c->nsb; b++) {
                int32_t s = 0;
                for (int k = b * c->sub; k < (b + 1) * c->sub; k++) s += xr[k] * p.q[(k >> 2) * 64 + r * 4 + (k & 3)];
                const int xb = xblock(b, c->sub);
                acc = fmaf((float)s, p.dw[b * 16 + r] * xd[xb], acc);
                if (c->has_min) acc = fmaf(p.mw[b * 16 + r], xs[xb], acc);
            }
            out[r] = acc + p.bias[r];
        }
        store_row(c, t, n0, rows, out);
    }
}

/* ---- kernels: AVX2 (int16 products by vpmaddwd) ----
 * Half a panel (8 rows) × YT tokens: a k-quad of 8 rows is 32 bytes, sign-extended as two ymm of 4 rows × 4
 * int16 (once per k-quad for all YT tokens); a token's 4 activations (int16) are broadcast as one qword, so lane
 * pair (2i, 2i+1) holds row i's two pair sums; vphaddd + vpermq then give the 8 rows in order. 2·YT int32
 * accumulators, 2 weights, 1 x: 15 of AVX2's 16 ymm; the f32 sums stay in out (L1), updated once per sub-block. */
#define YT 6
#define Y_TARGET __attribute__((target("avx2,fma")))

/* acc + p, added in acc's own register. Written as vpaddd in asm because GCC, given _mm256_add_epi32, hoisted every
 * token's broadcast and product ahead of the adds (more than 16 registers: the accumulators spilled to the stack)
 * and, kept from that, still added into a temporary and copied it back each k-quad (a third more instructions). */
Y_TARGET I8_INLINE __m256i y_add_into(__m256i acc, __m256i p) {
    __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(p));
    return acc;
}

Y_TARGET I8_INLINE void tile_avx2_n(const tile_ctx *c, const uint8_t *P, int half, int t0, const int NT, const int SUB,
                                    const int MIN, float out[][16]) {
    const panel_ref p = panel_at(P, c->K, c->nsb);
    const int nb = c->K / GEMM_I8_QK;
    const size_t K = (size_t)c->K;
    const int16_t *xq = (const int16_t *)c->xq->q + (size_t)t0 * K;
    const float *xd = c->xq->d + (size_t)t0 * nb, *xs = c->xq->ds + (size_t)t0 * nb;
    #pragma GCC unroll 8
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(out[t] + half * 8, _mm256_setzero_ps());
    for (int b = 0; b < c->nsb; b++) {
        __m256i ia[YT][2];
        #pragma GCC unroll 8
        for (int t = 0; t < NT; t++) ia[t][0] = ia[t][1] = _mm256_setzero_si256();
        const int k0 = b * SUB;
        const int8_t *wq = p.q + (size_t)k0 * 16 + half * 32;
#pragma GCC unroll 2
        for (int g = 0; g < SUB / 4; g++) {
            const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wq + g * 64)));
            const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wq + g * 64 + 16)));
#pragma GCC unroll 8
            for (int t = 0; t < NT; t++) {
                long long a4;
                memcpy(&a4, xq + t * K + k0 + 4 * g, 8);
                const __m256i a = _mm256_set1_epi64x(a4);
                ia[t][0] = y_add_into(ia[t][0], _mm256_madd_epi16(w0, a));
                ia[t][1] = y_add_into(ia[t][1], _mm256_madd_epi16(w1, a));
            }
        }
        const __m256 dw = _mm256_loadu_ps(p.dw + b * 16 + half * 8);
        const int xb = xblock(b, SUB);
#pragma GCC unroll 8
        for (int t = 0; t < NT; t++) {
            const __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(ia[t][0], ia[t][1]), 0xD8);
            const __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(xd[(size_t)t * nb + xb]));
            __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, _mm256_loadu_ps(out[t] + half * 8));
            if (MIN)
                f = _mm256_fmadd_ps(_mm256_loadu_ps(p.mw + b * 16 + half * 8), _mm256_set1_ps(xs[(size_t)t * nb + xb]),
                                    f);
            _mm256_storeu_ps(out[t] + half * 8, f);
        }
    }
    const __m256 bias = _mm256_loadu_ps(p.bias + half * 8);
    #pragma GCC unroll 8
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(out[t] + half * 8, _mm256_add_ps(_mm256_loadu_ps(out[t] + half * 8), bias));
}

/* One kernel per (tokens, sub-block, offsets) the calls need. */
#define I8_VARIANTS(KERNEL, NT, ...)                                                                              \
    do {                                                                                                          \
        if (c->sub == 16) KERNEL(__VA_ARGS__, NT, 16, 0, out);                                                    \
        else if (c->has_min) KERNEL(__VA_ARGS__, NT, 32, 1, out);                                                 \
        else KERNEL(__VA_ARGS__, NT, 32, 0, out);                                                                 \
    } while (0)

/* Full groups of YT tokens, then the rest (fewer than YT) in one call of as many. */
_Static_assert(YT == 6, "tile_avx2_panel's switch has a case for each of 1..YT tokens");
Y_TARGET static void tile_avx2_panel(const tile_ctx *c, const uint8_t *P, int n0, int rows, int t0, int nt) {
    float out[YT][16];
    for (int t = t0; t < t0 + nt;) {
        const int n = t0 + nt - t >= YT ? YT : t0 + nt - t;
        for (int half = 0; half < 2; half++) switch (n) {
            case 6: I8_VARIANTS(tile_avx2_n, 6, c, P, half, t); break;
            case 5: I8_VARIANTS(tile_avx2_n, 5, c, P, half, t); break;
            case 4: I8_VARIANTS(tile_avx2_n, 4, c, P, half, t); break;
            case 3: I8_VARIANTS(tile_avx2_n, 3, c, P, half, t); break;
            case 2: I8_VARIANTS(tile_avx2_n, 2, c, P, half, t); break;
            default: I8_VARIANTS(tile_avx2_n, 1, c, P, half, t); break;
            }
        for (int j = 0; j < n; j++) store_row(c, t + j, n0, rows, out[j]);
        t += n;
    }
}

/* ---- kernels: AVX-VNNI (vpdpbusd ymm) ----
 * One panel (two ymm of 8 rows × 4 values per k-quad) × VT tokens: 6 + 6 accumulators, 2 weights, 1 x. */
#define VT 3
#define V_TARGET __attribute__((target("avx2,fma,avxvnni")))

V_TARGET I8_INLINE void tile_vnni256_n(const tile_ctx *c, const uint8_t *P, int t0, const int NT, const int SUB,
                                       const int MIN, float out[][16]) {
    const panel_ref p = panel_at(P, c->K, c->nsb);
    const int nb = c->K / GEMM_I8_QK;
    __m256 fa[VT][2];
    #pragma GCC unroll 8
    for (int t = 0; t < NT; t++) fa[t][0] = fa[t][1] = _mm256_setzero_ps();
    for (int b = 0; b < c->nsb; b++) {
        const __m256i c0 = _mm256_loadu_si256((const __m256i *)(p.corr + b * 16));
        const __m256i c1 = _mm256_loadu_si256((const __m256i *)(p.corr + b * 16 + 8));
        __m256i ia[VT][2];
        #pragma GCC unroll 8
        for (int t = 0; t < NT; t++) ia[t][0] = c0, ia[t][1] = c1;
        const int k0 = b * SUB;
#pragma GCC unroll 8
        for (int g = 0; g < SUB / 4; g++) {
            const int8_t *wq = p.q + (size_t)(k0 / 4 + g) * 64;
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)wq);
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wq + 32));
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                int a4;
                memcpy(&a4, (const uint8_t *)c->xq->q + (size_t)(t0 + t) * c->K + k0 + 4 * g, 4);
                const __m256i a = _mm256_set1_epi32(a4);
                ia[t][0] = _mm256_dpbusd_avx_epi32(ia[t][0], a, w0);
                ia[t][1] = _mm256_dpbusd_avx_epi32(ia[t][1], a, w1);
            }
        }
        const int xb = xblock(b, SUB);
        #pragma GCC unroll 8
        for (int h = 0; h < 2; h++) {
            const __m256 dw = _mm256_loadu_ps(p.dw + b * 16 + h * 8);
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                const __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(c->xq->d[(size_t)(t0 + t) * nb + xb]));
                fa[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[t][h]), sc, fa[t][h]);
                if (MIN)
                    fa[t][h] = _mm256_fmadd_ps(_mm256_loadu_ps(p.mw + b * 16 + h * 8),
                                               _mm256_set1_ps(c->xq->ds[(size_t)(t0 + t) * nb + xb]), fa[t][h]);
            }
        }
    }
    #pragma GCC unroll 8
    for (int h = 0; h < 2; h++) {
        const __m256 bias = _mm256_loadu_ps(p.bias + h * 8);
        #pragma GCC unroll 8
        for (int t = 0; t < NT; t++) _mm256_storeu_ps(out[t] + h * 8, _mm256_add_ps(fa[t][h], bias));
    }
}

V_TARGET static void tile_vnni256_panel(const tile_ctx *c, const uint8_t *P, int n0, int rows, int t0, int nt) {
    float out[VT][16];
    for (int t = t0; t < t0 + nt;) {
        const int n = t0 + nt - t >= VT ? VT : 1;
        if (n == VT) I8_VARIANTS(tile_vnni256_n, VT, c, P, t);
        else I8_VARIANTS(tile_vnni256_n, 1, c, P, t);
        for (int j = 0; j < n; j++) store_row(c, t + j, n0, rows, out[j]);
        t += n;
    }
}

/* ---- kernels: AVX512-VNNI (vpdpbusd zmm) ----
 * NP panels (one zmm of 16 rows × 4 values per k-quad each) × ZT tokens: each broadcast activation quad feeds NP
 * vpdpbusd; 2 × 6 int32 and 2 × 6 f32 accumulators, 2 weights, 1 broadcast. Outputs stored straight into y
 * (masked for a panel past N). */
#ifndef ZT
#define ZT 6
#endif
#define Z_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,fma")))

Z_TARGET I8_INLINE void tile_vnni512_n(const tile_ctx *c, const uint8_t *P, size_t pb, int n0, int t0, const int NT,
                                       const int NP, const int SUB, const int MIN) {
    panel_ref p[2];
    #pragma GCC unroll 8
    for (int j = 0; j < NP; j++) p[j] = panel_at(P + j * pb, c->K, c->nsb);
    const int nb = c->K / GEMM_I8_QK;
    const uint8_t *xq = (const uint8_t *)c->xq->q + (size_t)t0 * c->K;
    const float *xd = c->xq->d + (size_t)t0 * nb, *xs = c->xq->ds + (size_t)t0 * nb;
    __m512 fa[ZT][2];
    #pragma GCC unroll 8
    for (int t = 0; t < NT; t++)
        #pragma GCC unroll 8
        for (int j = 0; j < NP; j++) fa[t][j] = _mm512_setzero_ps();
    for (int b = 0; b < c->nsb; b++) {
        __m512i ia[ZT][2];
        #pragma GCC unroll 8
        for (int j = 0; j < NP; j++) {
            const __m512i corr = _mm512_loadu_si512(p[j].corr + b * 16);
            #pragma GCC unroll 8
            for (int t = 0; t < NT; t++) ia[t][j] = corr;
        }
        const int k0 = b * SUB;
#pragma GCC unroll 8
        for (int g = 0; g < SUB / 4; g++) {
            __m512i w[2];
            #pragma GCC unroll 8
            for (int j = 0; j < NP; j++) w[j] = _mm512_loadu_si512(p[j].q + (size_t)(k0 / 4 + g) * 64);
#pragma GCC unroll 8
            for (int t = 0; t < NT; t++) {
                int a4;
                memcpy(&a4, xq + (size_t)t * c->K + k0 + 4 * g, 4);
                const __m512i a = _mm512_set1_epi32(a4);
                #pragma GCC unroll 8
                for (int j = 0; j < NP; j++) ia[t][j] = _mm512_dpbusd_epi32(ia[t][j], a, w[j]);
            }
        }
        const int xb = xblock(b, SUB);
        #pragma GCC unroll 8
        for (int j = 0; j < NP; j++) {
            const __m512 dw = _mm512_loadu_ps(p[j].dw + b * 16);
#pragma GCC unroll 8
            for (int t = 0; t < NT; t++) {
                const __m512 sc = _mm512_mul_ps(dw, _mm512_set1_ps(xd[(size_t)t * nb + xb]));
                fa[t][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t][j]), sc, fa[t][j]);
                if (MIN)
                    fa[t][j] = _mm512_fmadd_ps(_mm512_loadu_ps(p[j].mw + b * 16),
                                               _mm512_set1_ps(xs[(size_t)t * nb + xb]), fa[t][j]);
            }
        }
    }
    #pragma GCC unroll 8
    for (int j = 0; j < NP; j++) {
        const int n = n0 + 16 * j, rows = c->N - n < 16 ? c->N - n : 16;
        const __mmask16 m = (__mmask16)((1u << rows) - 1);
        const __m512 bias = _mm512_loadu_ps(p[j].bias);
        #pragma GCC unroll 8
        for (int t = 0; t < NT; t++)
            _mm512_mask_storeu_ps(c->y + (size_t)(t0 + t) * c->N + n, m, _mm512_add_ps(fa[t][j], bias));
    }
}

#define Z_VARIANTS(NT, NP)                                                                                        \
    do {                                                                                                          \
        if (c->sub == 16) tile_vnni512_n(c, P, pb, n0, t, NT, NP, 16, 0);                                         \
        else if (c->has_min) tile_vnni512_n(c, P, pb, n0, t, NT, NP, 32, 1);                                      \
        else tile_vnni512_n(c, P, pb, n0, t, NT, NP, 32, 0);                                                      \
    } while (0)

Z_TARGET static void tile_vnni512(const tile_ctx *c, const uint8_t *P, size_t pb, int np, int n0, int t0, int nt) {
    for (int t = t0; t < t0 + nt;) {
        const int n = t0 + nt - t >= ZT ? ZT : 1;
        if (np == 2) {
            if (n == ZT) Z_VARIANTS(ZT, 2);
            else Z_VARIANTS(1, 2);
        } else {
            if (n == ZT) Z_VARIANTS(ZT, 1);
            else Z_VARIANTS(1, 1);
        }
        t += n;
    }
}

/* ---- the call ---- */

typedef void (*tile_fn)(const tile_ctx *c, const uint8_t *P, size_t pb, int np, int n0, int t0, int nt);

/* The paths that take one panel at a time, over np panels. */
#define PER_PANEL(name, TARGET)                                                                                   \
    TARGET static void name(const tile_ctx *c, const uint8_t *P, size_t pb, int np, int n0, int t0, int nt) {     \
        for (int j = 0; j < np; j++) {                                                                            \
            const int n = n0 + 16 * j;                                                                            \
            name##_panel(c, P + j * pb, n, c->N - n < 16 ? c->N - n : 16, t0, nt);                                \
        }                                                                                                         \
    }
PER_PANEL(tile_c, )
PER_PANEL(tile_avx2, Y_TARGET)
PER_PANEL(tile_vnni256, V_TARGET)

/* Tokens per sweep over a thread's panels: their activations (≤ 60 × K bytes) stay in L1/L2 while the panels
 * pass. A multiple of every kernel's token group (ZT, VT, YT): with 64, each sweep of a long window ended in 4
 * tokens that the AVX-512 kernel took one at a time, at about half its speed (6 % of the tokens). */
enum { SWEEP = 60 };
_Static_assert(SWEEP % ZT == 0 && SWEEP % VT == 0 && SWEEP % YT == 0, "a sweep is whole token groups");

int gemm_i8(float *y, const gemm_i8_x *xq, const gemm_i8_w *w, const float *bias) {
    const int path = xq->path, K = w->K, T = xq->T;
    if (!gemm_i8_path_supported(path) || path == GEMM_I8_AUTO || K != xq->K || K % GEMM_I8_QK || K % w->sub ||
        (w->sub != 16 && w->sub != 32) || w->N < 0 || T < 0)
        return -1;
    const tile_fn tile = path == GEMM_I8_VNNI512 ? tile_vnni512
                       : path == GEMM_I8_VNNI256 ? tile_vnni256
                       : path == GEMM_I8_AVX2    ? tile_avx2
                                                 : tile_c;
    const int nsb = K / w->sub, npan = (w->N + 15) / 16;
    const size_t pb = align64(panel_bytes(K, nsb)), rowb = fill_scratch_bytes(K, nsb);
    int ch = (int)(GEMM_I8_PANEL_BYTES / pb);
    ch = ch < 1 ? 1 : ch > 16 ? 16 : ch;
    const int nchunks = (npan + ch - 1) / ch;
    int nth = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nth > nchunks) nth = nchunks > 0 ? nchunks : 1;
    const size_t per = (size_t)ch * pb + rowb;
    uint8_t *scratch = aligned_alloc(64, per * (size_t)nth);
    if (!scratch) return -1;
    const tile_ctx c = {xq, K, nsb, w->sub, w->has_min, w->N, y};
#pragma omp parallel num_threads(nth)
    {
        uint8_t *mine = scratch + per * (size_t)omp_get_thread_num(), *rows = mine + (size_t)ch * pb;
#pragma omp for schedule(dynamic, 1)
        for (int ci = 0; ci < nchunks; ci++) {
            const int p0 = ci * ch, np = npan - p0 < ch ? npan - p0 : ch;
            for (int j = 0; j < np; j++) panel_fill(mine + (size_t)j * pb, w, (p0 + j) * 16, bias, rows);
            for (int t0 = 0; t0 < T; t0 += SWEEP) {
                const int nt = T - t0 < SWEEP ? T - t0 : SWEEP;
                for (int j = 0; j < np; j += 2) /* panel pairs (the AVX-512 kernel's unit), a last one alone */
                    tile(&c, mine + (size_t)j * pb, pb, np - j < 2 ? 1 : 2, (p0 + j) * 16, t0, nt);
            }
        }
    }
    free(scratch);
    return 0;
}
