/* peak.h — arithmetic peak of this machine, measured in the calling process (for benchmarks that report
 * achieved GFLOP/s as a share of what the cores can do). */
#ifndef LMC_PEAK_H
#define LMC_PEAK_H

enum { PEAK_FMA256 = 0, PEAK_FMA512 = 1, PEAK_DPBF16 = 2, PEAK_DPBUSD = 3, PEAK_DPBUSD256 = 4, PEAK_MADDWD256 = 5 };
/* Iterations that take ~0.1 s per thread at 2 × 24 vdpbf16ps per cycle-ish; bench_gemm's full run uses this. */
#define PEAK_ITERS 16000000L

/* GFLOP/s of 12 independent ymm FMAs (PEAK_FMA256), 24 zmm FMAs (PEAK_FMA512) or 24 zmm vdpbf16ps
 * (PEAK_DPBF16: 64 FLOP each) per iteration; for the int8 paths GOP/s (a multiply-add counted as 2 operations) of
 * 24 zmm vpdpbusd (PEAK_DPBUSD, 128 each), 12 ymm AVX-VNNI vpdpbusd (PEAK_DPBUSD256, 64 each) or 12 ymm vpmaddwd
 * (PEAK_MADDWD256, 32 each: the AVX2 path's multiply), `iters` iterations on every thread of an OpenMP parallel region
 * at once, inputs zero (no denormal slow paths). 0 when the CPU lacks the instructions. *util (may be NULL):
 * CPU time / (wall · threads); below ~0.95 another process took a core and the figure is low. */
double cpu_peak_gflops(int kind, long iters, double *util);

#endif
