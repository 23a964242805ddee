/* dequant.c — ggml's tensor types widened to f32 (the block layouts of ggml-common.h, as GGUF stores them).
 *
 * Every function reads its blocks byte by byte (memcpy for the f16 scales), so src may have any alignment, as
 * a tensor in a GGUF file's data section does not guarantee one for a block's inner fields. The float
 * operations are ggml's reference ones in the same order (no fused multiply-add: the build is ISO C, whose
 * default is no contraction), so the results are bit-identical to dequantize_row_* in ggml-quants.c.
 *
 * Sections: 16-bit floats · 32-element blocks (Q8_0, Q4_0, Q5_0) · 256-element k-quant super-blocks (Q4_K, Q6_K).
 * Dispatch by type is the traits table of src/model/weights.c. */
#include "dequant.h"

#include "kernels.h"

#include <stdint.h>
#include <math.h>
#include <string.h>

/* ---- 16-bit floats ---------------------------------------------------------------------------- */

void lmc_dequant_f16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i += 1024) { /* through an aligned buffer: src may be odd-aligned */
        uint16_t h[1024];
        int64_t k = n - i < 1024 ? n - i : 1024;
        memcpy(h, p + 2 * i, (size_t)(2 * k));
        f16_to_f32(dst + i, h, (size_t)k);
    }
}

void lmc_dequant_bf16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i += 1024) {
        uint16_t h[1024];
        int64_t k = n - i < 1024 ? n - i : 1024;
        memcpy(h, p + 2 * i, (size_t)(2 * k));
        bf16_to_f32(dst + i, h, (size_t)k);
    }
}

/* A block's f16 scale at p (any alignment). */
static float half_at(const uint8_t *p) {
    uint16_t h;
    float f;
    memcpy(&h, p, 2);
    f16_to_f32(&f, &h, 1);
    return f;
}

/* ---- 32-element blocks ------------------------------------------------------------------------ */

/* Q8_0, 34 bytes: f16 d | i8 q[32]; x[j] = q[j]·d. */
void lmc_dequant_q8_0(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += 34, dst += 32) {
        const float d = half_at(b);
        for (int j = 0; j < 32; j++) dst[j] = (int8_t)b[2 + j] * d;
    }
}

/* Q4_0, 18 bytes: f16 d | u8 q[16]; the low nibbles are elements 0..15, the high nibbles 16..31, each stored
 * with a bias of 8: x = (nibble − 8)·d. */
void lmc_dequant_q4_0(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += 18, dst += 32) {
        const float d = half_at(b);
        for (int j = 0; j < 16; j++) {
            dst[j] = ((b[2 + j] & 0x0F) - 8) * d;
            dst[j + 16] = ((b[2 + j] >> 4) - 8) * d;
        }
    }
}

/* Q5_0, 22 bytes: f16 d | u8 qh[4] | u8 q[16]; element j (< 16) is the low nibble of q[j] with bit j of qh
 * (the little-endian u32) as its fifth bit, element j + 16 the high nibble with bit j + 16; stored with a bias
 * of 16: x = (value − 16)·d. llama-quantize writes it where a Q4_K row is not a whole number of 256 blocks. */
void lmc_dequant_q5_0(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += 22, dst += 32) {
        const float d = half_at(b);
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            dst[j] = (((b[6 + j] & 0x0F) | h0) - 16) * d;
            dst[j + 16] = (((b[6 + j] >> 4) | h1) - 16) * d;
        }
    }
}

/* ---- 256-element k-quant super-blocks --------------------------------------------------------- */

/* Q4_K's 6-bit scale and min of sub-block j (0..7) from its 12 packed bytes: sub-blocks 0..3 keep theirs in
 * the low 6 bits of bytes j (scale) and j+4 (min); sub-blocks 4..7 have their low 4 bits in byte j+4 (scale
 * low nibble, min high nibble) and their top 2 bits in the spare top bits of bytes j−4 (scale) and j (min). */
static void q4k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q4_K, 144 bytes: f16 d | f16 dmin | u8 scales[12] | u8 q[128]. Eight sub-blocks of 32 with 6-bit scale s
 * and min m: x = (d·s)·nibble − dmin·m. Each 32 bytes of q hold two sub-blocks, low nibbles then high. */
void lmc_dequant_q4_k(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 144) {
        const float d = half_at(b), dmin = half_at(b + 2);
        const uint8_t *scales = b + 4, *q = b + 16;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            q4k_scale_min(j, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            q4k_scale_min(j + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *dst++ = d1 * (q[l] & 0x0F) - m1;
            for (int l = 0; l < 32; l++) *dst++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

/* Q6_K, 210 bytes: u8 ql[128] (low 4 bits) | u8 qh[64] (high 2 bits) | i8 scales[16] | f16 d. Sixteen
 * sub-blocks of 16 with an 8-bit signed scale: x = (d·scale)·(q − 32), q the 6-bit value. Each half of the
 * block (128 elements) takes 64 bytes of ql, 32 of qh and 8 scales: for l < 32, ql[l] and ql[l+32] give the
 * low nibbles of elements l and l+32 and their high nibbles those of l+64 and l+96, whose top bits are
 * the four 2-bit fields of qh[l]. */
void lmc_dequant_q6_k(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 210) {
        const float d = half_at(b + 208);
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int h = 0; h < 2; h++, dst += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * sc[is] * q1;
                dst[l + 32] = d * sc[is + 2] * q2;
                dst[l + 64] = d * sc[is + 4] * q3;
                dst[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

/* ---- the int8 forms (gemm_i8.h gemm_i8_unpack_fn) ----------------------------------------------
 * The same blocks as integers and scales, w = dw·q + mw per sub-block, for the int8 GEMM: no value is rounded,
 * q is the stored integer (re-centred), dw and mw the block's float factors computed as the widening above does. */

void lmc_unpack_q8_0(const void *src, int8_t *q, float *dw, float *mw, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += 34, q += 32) {
        dw[i] = half_at(b);
        memcpy(q, b + 2, 32);
    }
}

void lmc_unpack_q4_0(const void *src, int8_t *q, float *dw, float *mw, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += 18, q += 32) {
        dw[i] = half_at(b);
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((b[2 + j] & 0x0F) - 8);
            q[j + 16] = (int8_t)((b[2 + j] >> 4) - 8);
        }
    }
}

void lmc_unpack_q5_0(const void *src, int8_t *q, float *dw, float *mw, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += 22, q += 32) {
        dw[i] = half_at(b);
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            q[j] = (int8_t)(((b[6 + j] & 0x0F) | h0) - 16);
            q[j + 16] = (int8_t)(((b[6 + j] >> 4) | h1) - 16);
        }
    }
}

/* Sub-blocks of 32: q the nibble (0..15), dw = d·scale, mw = −dmin·min. */
void lmc_unpack_q4_k(const void *src, int8_t *q, float *dw, float *mw, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 144) {
        const float d = half_at(b), dmin = half_at(b + 2);
        const uint8_t *scales = b + 4, *qs = b + 16;
        for (int j = 0; j < 8; j += 2, qs += 32, q += 64) {
            uint8_t sc, m;
            q4k_scale_min(j, scales, &sc, &m);
            dw[8 * i + j] = d * sc, mw[8 * i + j] = -(dmin * m);
            q4k_scale_min(j + 1, scales, &sc, &m);
            dw[8 * i + j + 1] = d * sc, mw[8 * i + j + 1] = -(dmin * m);
            for (int l = 0; l < 32; l++) q[l] = (int8_t)(qs[l] & 0x0F), q[l + 32] = (int8_t)(qs[l] >> 4);
        }
    }
}

/* Sub-blocks of 16: q the 6-bit value − 32, dw = d·scale. */
void lmc_unpack_q6_k(const void *src, int8_t *q, float *dw, float *mw, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 210, q += 256) {
        const float d = half_at(b + 208);
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int s = 0; s < 16; s++) dw[16 * i + s] = d * sc[s];
        for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
            int8_t *o = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                o[l] = (int8_t)(((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32);
                o[l + 32] = (int8_t)(((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32);
                o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
    }
}

/* ---- quantizing (ggml's reference quantize_row_q8_0: d = max|x| / 127, q = round(x / d)) ---------- */

void lmc_quantize_q8_0(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, b += 34, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t h;
        f32_to_f16(&h, &d, 1);
        memcpy(b, &h, 2);
        for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

/* Q4_0 as ggml's quantize_row_q4_0_ref: d = (the value of largest magnitude) / −8, q = x/d + 8.5 truncated,
 * at most 15. */
void lmc_quantize_q4_0(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, b += 18, x += 32) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        const float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t h;
        f32_to_f16(&h, &d, 1);
        memcpy(b, &h, 2);
        for (int j = 0; j < 16; j++) {
            const int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
            b[2 + j] = (uint8_t)((q0 > 15 ? 15 : q0) | (q1 > 15 ? 15 : q1) << 4);
        }
    }
}

/* The f16 value nearest v, back as f32 (what a block's stored scale reads as). */
static float via_half(float v) {
    uint16_t h;
    f32_to_f16(&h, &v, 1);
    f16_to_f32(&v, &h, 1);
    return v;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Q4_K by plain rounding (not ggml's iterative scale search: for benchmarks' random weights, where only the
 * layout matters): per sub-block of 32 the range [min(0, x), max x] in 15 steps, the scales and minima in 6 bits
 * of d and dmin. The inverse of lmc_dequant_q4_k's layout. */
void lmc_quantize_q4_k(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, b += 144, x += 256) {
        float scale[8], mn[8], smax = 0, mmax = 0;
        for (int j = 0; j < 8; j++) {
            float lo = 0, hi = x[32 * j];
            for (int l = 0; l < 32; l++) lo = fminf(lo, x[32 * j + l]), hi = fmaxf(hi, x[32 * j + l]);
            scale[j] = (hi - lo) / 15, mn[j] = -lo;
            smax = fmaxf(smax, scale[j]), mmax = fmaxf(mmax, mn[j]);
        }
        const float d = via_half(smax / 63), dmin = via_half(mmax / 63);
        uint8_t sc[8], m[8];
        for (int j = 0; j < 8; j++) {
            sc[j] = (uint8_t)clampi(d > 0 ? (int)lrintf(scale[j] / d) : 0, 0, 63);
            m[j] = (uint8_t)clampi(dmin > 0 ? (int)lrintf(mn[j] / dmin) : 0, 0, 63);
        }
        uint16_t h;
        f32_to_f16(&h, &d, 1), memcpy(b, &h, 2);
        f32_to_f16(&h, &dmin, 1), memcpy(b + 2, &h, 2);
        uint8_t *q = b + 4;
        for (int j = 0; j < 4; j++) {
            q[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
            q[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
            q[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
        }
        uint8_t *qs = b + 16;
        for (int j = 0; j < 8; j += 2, qs += 32)
            for (int l = 0; l < 32; l++) {
                const float s0 = d * sc[j], s1 = d * sc[j + 1];
                const int a = s0 > 0 ? clampi((int)lrintf((x[32 * j + l] + dmin * m[j]) / s0), 0, 15) : 0;
                const int c = s1 > 0 ? clampi((int)lrintf((x[32 * j + 32 + l] + dmin * m[j + 1]) / s1), 0, 15) : 0;
                qs[l] = (uint8_t)(a | c << 4);
            }
    }
}

/* Q6_K by plain rounding: per sub-block of 16 a signed scale amax/31 in 8 bits of d, values in [−32, 31]. The
 * inverse of lmc_dequant_q6_k's layout. */
void lmc_quantize_q6_k(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, b += 210, x += 256) {
        float scale[16], smax = 0;
        for (int s = 0; s < 16; s++) {
            float amax = 0;
            for (int l = 0; l < 16; l++) amax = fmaxf(amax, fabsf(x[16 * s + l]));
            scale[s] = amax / 31, smax = fmaxf(smax, scale[s]);
        }
        const float d = via_half(smax / 127);
        int8_t *sc = (int8_t *)(b + 192);
        for (int s = 0; s < 16; s++) sc[s] = (int8_t)clampi(d > 0 ? (int)lrintf(scale[s] / d) : 0, -128, 127);
        uint16_t h;
        f32_to_f16(&h, &d, 1), memcpy(b + 208, &h, 2);
        int q[256];
        for (int e = 0; e < 256; e++) {
            const float s = d * sc[e / 16];
            q[e] = (s > 0 ? clampi((int)lrintf(x[e] / s), -32, 31) : 0) + 32;
        }
        uint8_t *ql = b, *qh = b + 128;
        for (int hh = 0; hh < 2; hh++, ql += 64, qh += 32) {
            const int *v = q + 128 * hh;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((v[l] & 15) | (v[l + 64] & 15) << 4);
                ql[l + 32] = (uint8_t)((v[l + 32] & 15) | (v[l + 96] & 15) << 4);
                qh[l] = (uint8_t)((v[l] >> 4) | (v[l + 32] >> 4) << 2 | (v[l + 64] >> 4) << 4 | (v[l + 96] >> 4) << 6);
            }
        }
    }
}
