/* cpu.c — run-time CPU feature detection (see cpu.h). */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

enum { F_AVX2_FMA = 1, F_AVX512F = 2, F_AVX512BW = 4, F_AVX512VL = 8, F_AVX512BF16 = 16, F_AVX512VNNI = 32, F_AVXVNNI = 64, F_DONE = 1 << 30 };

static int detect(void) {
    int f = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    const unsigned long long xcr0 = xgetbv0();
    const int ymm_ok = (xcr0 & 0x6) == 0x6;    /* XMM and YMM state */
    const int zmm_ok = (xcr0 & 0xe6) == 0xe6;  /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned int max_sub7 = a;
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    const int vnni512 = (c >> 11) & 1;
    int bf16 = 0, avxvnni = 0;
    if (max_sub7 >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        bf16 = (a >> 5) & 1;
        avxvnni = (a >> 4) & 1;
    }
    if (ymm_ok && avx2 && avxvnni) f |= F_AVXVNNI;
    if (ymm_ok && avx2 && fma) f |= F_AVX2_FMA;
    if (ymm_ok && zmm_ok && avx512f) {
        f |= F_AVX512F;
        if (avx512bw) f |= F_AVX512BW;
        if (avx512vl) f |= F_AVX512VL;
        if (avx512bw && avx512vl && bf16) f |= F_AVX512BF16;
        if (avx512bw && vnni512) f |= F_AVX512VNNI;
    }
#endif
    return f;
}

static int features(void) {
    static int cached; /* 0: not yet; written once with the same value by whoever gets there first */
    int f = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (!f) {
        f = detect() | F_DONE;
        __atomic_store_n(&cached, f, __ATOMIC_RELAXED);
    }
    return f;
}

static int no_avx512(void) {
    const char *e = getenv("LMC_NO_AVX512");
    return e && *e && strcmp(e, "0") != 0;
}

int cpu_has_avx2_fma(void) { return (features() & F_AVX2_FMA) != 0; }
int cpu_has_avx512f(void) { return !no_avx512() && (features() & F_AVX512F) != 0; }
int cpu_has_avx512bf16(void) { return !no_avx512() && (features() & F_AVX512BF16) != 0; }
int cpu_has_avx512vnni(void) { return !no_avx512() && (features() & F_AVX512VNNI) != 0; }
int cpu_has_avxvnni(void) { return (features() & F_AVXVNNI) != 0; }

const char *cpu_features_string(void) {
    static char buf[128];
    const int f = features();
    buf[0] = 0;
    if (f & F_AVX2_FMA) strcat(buf, "avx2 fma ");
    if (f & F_AVX512F) strcat(buf, "avx512f ");
    if (f & F_AVX512BW) strcat(buf, "avx512bw ");
    if (f & F_AVX512VL) strcat(buf, "avx512vl ");
    if (f & F_AVX512BF16) strcat(buf, "avx512bf16 ");
    if (f & F_AVX512VNNI) strcat(buf, "avx512vnni ");
    if (f & F_AVXVNNI) strcat(buf, "avxvnni ");
    if (no_avx512() && (f & F_AVX512F)) strcat(buf, "(AVX-512 disabled by LMC_NO_AVX512) ");
    size_t n = strlen(buf);
    if (n) buf[n - 1] = 0;
    else strcpy(buf, "none of avx2/fma/avx512");
    return buf;
}
