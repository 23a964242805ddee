/* peak.c — the machine's arithmetic peak, measured: register-only loops of independent FMAs / vdpbf16ps /
 * vpdpbusd on
 * every thread of a parallel region at once (see peak.h). */
#include "peak.h"

#include "cpu.h"

#include <omp.h>
#include <time.h>

static double pk_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double pk_cpu_now(void) { /* CPU time of the whole process (all threads) */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Explicit instructions on fixed registers, so the compiler can neither spill nor drop them: 12 independent
 * ymm FMAs or 24 independent zmm FMAs / vdpbf16ps per iteration (inputs zero: no denormal slow paths). */
#define R12(op, s) op " %%" s "14, %%" s "15, %%" s "0\n" op " %%" s "14, %%" s "15, %%" s "1\n" \
    op " %%" s "14, %%" s "15, %%" s "2\n" op " %%" s "14, %%" s "15, %%" s "3\n" \
    op " %%" s "14, %%" s "15, %%" s "4\n" op " %%" s "14, %%" s "15, %%" s "5\n" \
    op " %%" s "14, %%" s "15, %%" s "6\n" op " %%" s "14, %%" s "15, %%" s "7\n" \
    op " %%" s "14, %%" s "15, %%" s "8\n" op " %%" s "14, %%" s "15, %%" s "9\n" \
    op " %%" s "14, %%" s "15, %%" s "10\n" op " %%" s "14, %%" s "15, %%" s "11\n"
#define R12HI(op) op " %%zmm30, %%zmm31, %%zmm16\n" op " %%zmm30, %%zmm31, %%zmm17\n" \
    op " %%zmm30, %%zmm31, %%zmm18\n" op " %%zmm30, %%zmm31, %%zmm19\n" \
    op " %%zmm30, %%zmm31, %%zmm20\n" op " %%zmm30, %%zmm31, %%zmm21\n" \
    op " %%zmm30, %%zmm31, %%zmm22\n" op " %%zmm30, %%zmm31, %%zmm23\n" \
    op " %%zmm30, %%zmm31, %%zmm24\n" op " %%zmm30, %%zmm31, %%zmm25\n" \
    op " %%zmm30, %%zmm31, %%zmm26\n" op " %%zmm30, %%zmm31, %%zmm27\n"
#define ZERO_YMM "vpxor %%xmm0,%%xmm0,%%xmm0\n vpxor %%xmm1,%%xmm1,%%xmm1\n vpxor %%xmm2,%%xmm2,%%xmm2\n" \
    "vpxor %%xmm3,%%xmm3,%%xmm3\n vpxor %%xmm4,%%xmm4,%%xmm4\n vpxor %%xmm5,%%xmm5,%%xmm5\n" \
    "vpxor %%xmm6,%%xmm6,%%xmm6\n vpxor %%xmm7,%%xmm7,%%xmm7\n vpxor %%xmm8,%%xmm8,%%xmm8\n" \
    "vpxor %%xmm9,%%xmm9,%%xmm9\n vpxor %%xmm10,%%xmm10,%%xmm10\n vpxor %%xmm11,%%xmm11,%%xmm11\n" \
    "vpxor %%xmm14,%%xmm14,%%xmm14\n vpxor %%xmm15,%%xmm15,%%xmm15\n"
#define ZERO_ZHI "vpxord %%zmm16,%%zmm16,%%zmm16\n vpxord %%zmm17,%%zmm17,%%zmm17\n" \
    "vpxord %%zmm18,%%zmm18,%%zmm18\n vpxord %%zmm19,%%zmm19,%%zmm19\n vpxord %%zmm20,%%zmm20,%%zmm20\n" \
    "vpxord %%zmm21,%%zmm21,%%zmm21\n vpxord %%zmm22,%%zmm22,%%zmm22\n vpxord %%zmm23,%%zmm23,%%zmm23\n" \
    "vpxord %%zmm24,%%zmm24,%%zmm24\n vpxord %%zmm25,%%zmm25,%%zmm25\n vpxord %%zmm26,%%zmm26,%%zmm26\n" \
    "vpxord %%zmm27,%%zmm27,%%zmm27\n vpxord %%zmm30,%%zmm30,%%zmm30\n vpxord %%zmm31,%%zmm31,%%zmm31\n"
#define CLOB_LO "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
    "xmm11", "xmm14", "xmm15", "cc"
#define CLOB_HI "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", \
    "xmm26", "xmm27", "xmm30", "xmm31"

__attribute__((target("avx2,fma"))) static void peak_fma256(long iters) {
    __asm__ volatile(ZERO_YMM "1:\n" R12("vfmadd231ps", "ymm") "dec %0\n jnz 1b\n vzeroupper\n"
                     : "+r"(iters) : : CLOB_LO);
}
__attribute__((target("avx512f"))) static void peak_fma512(long iters) {
    __asm__ volatile(ZERO_YMM ZERO_ZHI "1:\n" R12("vfmadd231ps", "zmm") R12HI("vfmadd231ps")
                     "dec %0\n jnz 1b\n vzeroupper\n"
                     : "+r"(iters) : : CLOB_LO, CLOB_HI);
}
__attribute__((target("avx512f,avx512bf16"))) static void peak_dpbf16(long iters) {
    __asm__ volatile(ZERO_YMM ZERO_ZHI "1:\n" R12("vdpbf16ps", "zmm") R12HI("vdpbf16ps")
                     "dec %0\n jnz 1b\n vzeroupper\n"
                     : "+r"(iters) : : CLOB_LO, CLOB_HI);
}

__attribute__((target("avx512f,avx512vnni"))) static void peak_dpbusd(long iters) {
    __asm__ volatile(ZERO_YMM ZERO_ZHI "1:\n" R12("vpdpbusd", "zmm") R12HI("vpdpbusd")
                     "dec %0\n jnz 1b\n vzeroupper\n"
                     : "+r"(iters) : : CLOB_LO, CLOB_HI);
}
__attribute__((target("avx2,avxvnni"))) static void peak_dpbusd256(long iters) {
    __asm__ volatile(ZERO_YMM "1:\n" R12("%{vex%} vpdpbusd", "ymm") "dec %0\n jnz 1b\n vzeroupper\n"
                     : "+r"(iters) : : CLOB_LO);
}
__attribute__((target("avx2"))) static void peak_maddwd256(long iters) {
    __asm__ volatile(ZERO_YMM "1:\n" R12("vpmaddwd", "ymm") "dec %0\n jnz 1b\n vzeroupper\n"
                     : "+r"(iters) : : CLOB_LO);
}

/* The register-only loop of `kind` and its operations (multiply-adds × 2) per iteration, or NULL where this CPU
 * lacks it. */
static void (*peak_kernel(int kind, double *ops))(long) {
    switch (kind) {
    case PEAK_FMA256: *ops = 12 * 16; return cpu_has_avx2_fma() ? peak_fma256 : NULL;
    case PEAK_FMA512: *ops = 24 * 32; return cpu_has_avx512f() ? peak_fma512 : NULL;
    case PEAK_DPBF16: *ops = 24 * 64; return cpu_has_avx512bf16() ? peak_dpbf16 : NULL;
    case PEAK_DPBUSD: *ops = 24 * 128; return cpu_has_avx512vnni() ? peak_dpbusd : NULL;
    case PEAK_DPBUSD256: *ops = 12 * 64; return cpu_has_avxvnni() ? peak_dpbusd256 : NULL;
    /* vpmaddwd: 16 int16 products summed in pairs: 16 multiply-adds; the AVX2 int8 path adds each with vpaddd */
    case PEAK_MADDWD256: *ops = 12 * 32; return cpu_has_avx2_fma() ? peak_maddwd256 : NULL;
    default: return NULL;
    }
}

double cpu_peak_gflops(int kind, long iters, double *util) {
    if (util) *util = 0;
    double flop_per_iter = 0;
    void (*const fn)(long) = peak_kernel(kind, &flop_per_iter);
    if (!fn || iters <= 0) return 0;
    double       t0 = 0, t1 = 0, c0 = 0, c1 = 0;
    int          nth = 1;
#pragma omp parallel
    {
#pragma omp single
        nth = omp_get_num_threads();
        /* warm up (clocks, frequency licence), then time from a common start */
        fn(iters / 4);
#pragma omp barrier
#pragma omp master
        t0 = pk_now(), c0 = pk_cpu_now();
        fn(iters);
#pragma omp barrier
#pragma omp master
        t1 = pk_now(), c1 = pk_cpu_now();
    }
    if (util) *util = (c1 - c0) / (t1 - t0) / nth;
    return flop_per_iter * iters * nth / (t1 - t0) * 1e-9;
}
