/* convert.c — dtype conversion between f32 and the 16-bit float formats (bit patterns in uint16_t). */
#include "kernels.h"

#include <string.h>

void bf16_to_f32(float *dst, const uint16_t *src, size_t n) {
    /* bf16 is the top half of an f32: widening is a shift, exact for every value incl. NaN/Inf. */
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(&dst[i], &u, 4);
    }
}

void f16_to_f32(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t h = src[i], sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, u;
        if (exp == 0x1f) {
            u = sign | 0x7f800000u | (man << 13); /* Inf / NaN */
        } else if (exp == 0) {
            if (man == 0) {
                u = sign;
            } else { /* subnormal: normalise */
                int e = -1;
                do { man <<= 1; e++; } while (!(man & 0x400u));
                u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
            }
        } else {
            u = sign | ((exp + 127 - 15) << 23) | (man << 13);
        }
        memcpy(&dst[i], &u, 4);
    }
}

void f32_to_bf16(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) { dst[i] = (uint16_t)((u >> 16) | 0x40); continue; } /* quiet NaN */
        u += 0x7fffu + ((u >> 16) & 1); /* round to nearest, ties to even */
        dst[i] = (uint16_t)(u >> 16);
    }
}

void f32_to_f16(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        uint32_t sign = (u >> 16) & 0x8000u, absu = u & 0x7fffffffu;
        uint16_t h;
        if (absu > 0x7f800000u) {
            h = (uint16_t)(sign | 0x7e00u);
        } else if (absu >= 0x477ff000u) { /* rounds to >= 65520: overflow to Inf */
            h = (uint16_t)(sign | 0x7c00u);
        } else if (absu < 0x38800000u) { /* below the smallest normal f16 (2^-14): subnormal or zero */
            if (absu < 0x33000000u) { h = (uint16_t)sign; }          /* < 2^-25 rounds to 0 */
            else {
                uint32_t e = absu >> 23, man = (absu & 0x7fffffu) | 0x800000u;
                uint32_t shift = 126 - e;                            /* 14 - (e - 127) + 13 - ... */
                /* value = man * 2^(e-150); f16 subnormal unit is 2^-24 → q = man * 2^(e-126) */
                uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
                if (rem > half || (rem == half && (q & 1))) q++;
                h = (uint16_t)(sign | q);
            }
        } else {
            uint32_t r = absu + 0xfffu + ((absu >> 13) & 1);         /* round mantissa to 10 bits, ties even */
            h = (uint16_t)(sign | (((r >> 13) - ((127 - 15) << 10)) & 0x7fffu));
        }
        dst[i] = h;
    }
}
