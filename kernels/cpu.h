/* cpu.h — run-time CPU feature detection for the hand-written SIMD kernels.
 *
 * Each answer combines CPUID (the instruction set) with XGETBV (the OS saves the register state), and is
 * computed once per process. The environment variable LMC_NO_AVX512 (set, non-empty and not "0") makes the
 * AVX-512 queries answer 0, so the AVX2 / plain-C fallbacks can be exercised on any machine; it is read on
 * every call, so a test may set it before calling. */
#ifndef LMC_CPU_H
#define LMC_CPU_H

/* AVX2 and FMA3 usable (Haswell / Zen and later). */
int cpu_has_avx2_fma(void);
/* AVX-512 F usable (with the opmask and zmm state enabled by the OS), unless LMC_NO_AVX512. */
int cpu_has_avx512f(void);
/* AVX-512 F + BW + VL + BF16 (vdpbf16ps, vcvtne2ps2bf16) usable, unless LMC_NO_AVX512. */
int cpu_has_avx512bf16(void);
/* AVX512-VNNI (vpdpbusd zmm, with AVX-512 F + BW) usable, unless LMC_NO_AVX512. */
int cpu_has_avx512vnni(void);
/* AVX-VNNI (the VEX-encoded 256-bit vpdpbusd) usable. */
int cpu_has_avxvnni(void);
/* One line naming the features found, e.g. "avx2 fma avx512f avx512bw avx512vl avx512bf16" (static). */
const char *cpu_features_string(void);

#endif
