/* bench_gemm.c — GEMM throughput at the TinyLlama-1.1B shapes: OpenBLAS cblas_sgemm (f32) against lmc's bf16
 * GEMM (kernels/gemm_bf16.c) and int8 GEMM on Q8_0 weights (kernels/gemm_i8.c, activations quantized in the
 * timed call as the model does once per layer input), the register-only f32 FMA, vdpbf16ps and int8 (vpdpbusd,
 * or vpmaddwd on AVX2) peaks of this machine, and a check that
 * OpenBLAS (OpenMP build) and lmc's own OpenMP regions do not slow each other down when they alternate.
 *
 *   build/bench/bench_gemm [--quick] [--keep-coretype] [--threads N] [--all-paths] [--collide-only]
 *
 * --collide-only runs just the OpenBLAS / OpenMP alternation check (e.g. to compare OMP_WAIT_POLICY=passive).
 * --all-paths also times the AVX2 fallback where the AVX-512 path is the default. Each timing notes the CPU
 * utilisation of its fastest rep; below 95 % (marked '!') another process shared the cores and the number is
 * low.
 *
 * OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it is loaded; a preset (e.g. Haswell on a machine
 * that has AVX-512) would slow sgemm down, so unless --keep-coretype is given the program re-executes itself
 * with both removed and says so. It prints the OpenBLAS core it ends up with. */
#include "cpu.h"
#include "dequant.h"
#include "gemm_bf16.h"
#include "gemm_i8.h"
#include "peak.h"
#include "common/util.h"
#include "model/weights.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double cpu_now(void) { /* CPU time of the whole process (all threads) */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int    g_nth = 1;        /* threads, for the utilisation */
static double g_worst_util = 1; /* lowest utilisation seen since reset */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float    unif(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / 8388608.0 - 1.0);
}
static float *rand_buf(size_t n, float scale) {
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = unif() * scale;
    return p;
}

/* ---- register-only peaks (kernels/peak.c) ---- */
static double peak_gflops(int kind, long iters) {
    double u;
    const double g = cpu_peak_gflops(kind, iters, &u);
    if (u < g_worst_util) g_worst_util = u;
    return g;
}

/* ---- GEMM timing ---- */
typedef struct shape {
    const char *name;
    int         T, N, K;
} shape;

/* Mean seconds per call; *best the fastest rep, *util that rep's CPU time / (wall · threads): below ~0.95
 * something else on the machine took a core from us, and the numbers are low. */
static double time_reps(void (*fn)(void *), void *arg, double min_s, int min_reps, int max_reps, double *best) {
    fn(arg); /* warm-up */
    double tot = 0, b = 1e30, bu = 0;
    int    r = 0;
    while (r < min_reps || (tot < min_s && r < max_reps)) {
        const double c0 = cpu_now(), t0 = lmc_now();
        fn(arg);
        const double dt = lmc_now() - t0, u = (cpu_now() - c0) / dt / g_nth;
        tot += dt;
        if (dt < b) b = dt, bu = u;
        r++;
    }
    *best = b;
    if (bu < g_worst_util) g_worst_util = bu;
    return tot / r;
}

typedef struct gemm_arg {
    int                T, N, K;
    float             *x, *W, *y;
    const float       *bias;
    const gemm_bf16_w *wb;
    void              *scratch;
    int                path;
    const gemm_i8_w   *wi;       /* the Q8_0 weights */
    void              *xi;       /* gemm_i8_x_bytes(T, K) */
    int                i8_path;
} gemm_arg;
static void run_sgemm(void *p) {
    gemm_arg *a = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a->T, a->N, a->K, 1.0f, a->x, a->K, a->W, a->K, 0.0f,
                a->y, a->N);
}
static void run_bf16(void *p) {
    gemm_arg *a = p;
    gemm_bf16_ex(a->y, a->x, a->wb, a->bias, a->T, a->scratch, a->path);
}
static void run_i8(void *p) {
    gemm_arg *a = p;
    gemm_i8_x xq;
    gemm_i8_quantize(&xq, a->x, a->T, a->K, a->i8_path, a->xi);
    if (gemm_i8(a->y, &xq, a->wi, a->bias) != 0) {
        fprintf(stderr, "gemm_i8 failed\n");
        exit(1);
    }
}
static void run_alternate(void *p) {
    run_sgemm(p);
    run_bf16(p);
}

int main(int argc, char **argv) {
    int quick = 0, keep = 0, threads = 0, all_paths = 0, collide_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--keep-coretype")) keep = 1;
        else if (!strcmp(argv[i], "--all-paths")) all_paths = 1;
        else if (!strcmp(argv[i], "--collide-only")) collide_only = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--keep-coretype] [--threads N] [--all-paths] [--collide-only]\n", argv[0]);
            return 2;
        }
    }
    const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
    if (!keep && (ct || l2)) {
        fprintf(stderr, "bench_gemm: OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s preset; re-executing without them "
                        "(--keep-coretype keeps them)\n", ct ? ct : "(unset)", l2 ? l2 : "(unset)");
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv("OPENBLAS_L2_SIZE");
        execv("/proc/self/exe", argv);
        perror("execv /proc/self/exe");
        return 1;
    }
    if (threads > 0) {
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
    }
    const int nth = omp_get_max_threads();
    g_nth = nth;
    const char *wp = getenv("OMP_WAIT_POLICY"), *sc = getenv("GOMP_SPINCOUNT");
    printf("bench_gemm%s: %d OpenMP threads, OpenBLAS threads %d; OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n",
           quick ? " --quick" : "", nth, openblas_get_num_threads(), wp ? wp : "(unset)", sc ? sc : "(unset)");
    printf("OpenBLAS: core %s; config: %s; OPENBLAS_CORETYPE=%s\n", openblas_get_corename(), openblas_get_config(),
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
    printf("CPU: %s; bf16 GEMM path: %s\n", cpu_features_string(), gemm_bf16_path_name(gemm_bf16_auto_path()));

    const int auto_path = gemm_bf16_auto_path();
    if (collide_only) goto collide;

    /* peaks */
    const long   iters = quick ? PEAK_ITERS / 8 : PEAK_ITERS;
    g_worst_util = 1;
    const double p256 = peak_gflops(0, iters);
    const double p512 = cpu_has_avx512f() ? peak_gflops(1, iters) : 0;
    const double pbf = cpu_has_avx512bf16() ? peak_gflops(2, iters) : 0;
    const double pf32 = p512 > p256 ? p512 : p256;
    printf("\npeak (register-only, %d threads): f32 FMA ymm %.0f GFLOP/s", nth, p256);
    if (p512 > 0) printf(", zmm %.0f GFLOP/s", p512);
    if (pbf > 0) printf("; vdpbf16ps zmm %.0f GFLOP/s (%.2fx the f32 peak)", pbf, pbf / pf32);
    else printf("; vdpbf16ps: not available on this CPU");
    printf(" (util %.0f%%%s)\n", 100 * g_worst_util, g_worst_util < 0.95 ? ", contended: too low" : "");
    const double bf_peak = auto_path == GEMM_BF16_AVX512 ? pbf : pf32; /* what the chosen path can reach */
    const int    i8_path = gemm_i8_auto_path();
    const char  *i8_kind_name;
    const int    i8_kind = gemm_i8_peak_kind(i8_path, &i8_kind_name);
    g_worst_util = 1;
    const double i8_peak = i8_kind < 0 ? 0 : peak_gflops(i8_kind, iters);
    printf("int8 GEMM path %s; its peak (%s) %.0f GOP/s (util %.0f%%)\n", gemm_i8_path_name(i8_path), i8_kind_name,
           i8_peak, 100 * g_worst_util);

    /* shapes */
    const int    T = quick ? 256 : 1900, Tlm = quick ? 64 : 512;
    const shape  shapes[] = {
        {"q/o   ", T, 2048, 2048}, {"k/v   ", T, 256, 2048}, {"gate/up", T, 5632, 2048},
        {"down  ", T, 2048, 5632}, {"lm_head", Tlm, 32000, 2048},
    };
    const int    nshape = sizeof shapes / sizeof shapes[0];
    const double min_s = quick ? 0.0 : 0.6;
    const int    min_reps = quick ? 1 : 3, max_reps = quick ? 1 : 20;
    printf("\n%-8s %5s %6s %5s | %9s | %9s %6s %7s | %9s %6s %7s | %s\n", "shape", "T", "N", "K", "sgemm", "bf16",
           "x sgemm", "of peak", "int8 Q8_0", "x bf16", "of peak", "GFLOP/s or GOP/s, best of reps (mean)");
    double tot_flop = 0, tot_s_sg = 0, tot_s_bf = 0, tot_s_i8 = 0;
    for (int si = 0; si < nshape; si++) {
        const shape *s = &shapes[si];
        gemm_arg     a = {.T = s->T, .N = s->N, .K = s->K, .path = auto_path};
        a.x = rand_buf((size_t)s->T * s->K, 1.0f);
        a.W = rand_buf((size_t)s->N * s->K, 0.05f);
        a.y = malloc(sizeof(float) * (size_t)s->T * s->N);
        gemm_bf16_w  wb;
        const double tp0 = lmc_now();
        if (!a.y || gemm_bf16_pack_f32(&wb, a.W, s->N, s->K) != 0) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        const double t_pack = lmc_now() - tp0;
        a.wb = &wb;
        a.scratch = malloc(gemm_bf16_scratch_bytes(s->T, s->K));
        const lmc_type_traits *q8t = lmc_type_traits_of(LMC_Q8_0); /* the weight as a Q8_0 GGUF would hold it */
        const size_t q8_row = (size_t)(s->K / q8t->block) * q8t->block_bytes;
        void        *q8 = malloc(q8_row * (size_t)s->N);
        a.xi = malloc(gemm_i8_x_bytes(s->T, s->K));
        if (!a.scratch || !q8 || !a.xi) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        for (int n = 0; n < s->N; n++) lmc_quantize_q8_0(a.W + (size_t)n * s->K, (char *)q8 + n * q8_row, s->K);
        const gemm_i8_w wi = {s->N, s->K, q8, q8_row, q8t->to_i8, q8t->i8_sub, q8t->i8_min};
        a.wi = &wi;
        a.i8_path = i8_path;
        const double flop = 2.0 * s->T * s->N * s->K;
        double       b_sg, b_bf, b_i8;
        g_worst_util = 1;
        const double m_sg = time_reps(run_sgemm, &a, min_s, min_reps, max_reps, &b_sg);
        const double u_sg = g_worst_util;
        g_worst_util = 1;
        const double m_bf = time_reps(run_bf16, &a, min_s, min_reps, max_reps, &b_bf);
        const double u_bf = g_worst_util;
        g_worst_util = 1;
        const double m_i8 = time_reps(run_i8, &a, min_s, min_reps, max_reps, &b_i8);
        const double u_i8 = g_worst_util;
        printf("%-8s %5d %6d %5d | %8.1f%c | %8.1f%c %6.2fx %6.0f%% | %8.1f%c %6.2fx %6.0f%% | sgemm (%.1f) bf16 "
               "(%.1f) int8 (%.1f); util %.0f%%/%.0f%%/%.0f%%; pack %.0f ms",
               s->name, s->T, s->N, s->K, flop / b_sg * 1e-9, u_sg < 0.95 ? '!' : ' ', flop / b_bf * 1e-9,
               u_bf < 0.95 ? '!' : ' ', b_sg / b_bf, 100 * flop / b_bf * 1e-9 / bf_peak, flop / b_i8 * 1e-9,
               u_i8 < 0.95 ? '!' : ' ', b_bf / b_i8, i8_peak > 0 ? 100 * flop / b_i8 * 1e-9 / i8_peak : 0,
               flop / m_sg * 1e-9, flop / m_bf * 1e-9, flop / m_i8 * 1e-9, 100 * u_sg, 100 * u_bf, 100 * u_i8,
               t_pack * 1e3);
        if (all_paths && auto_path != GEMM_BF16_AVX2 && gemm_bf16_path_supported(GEMM_BF16_AVX2)) {
            double b_y;
            a.path = GEMM_BF16_AVX2;
            time_reps(run_bf16, &a, min_s, min_reps, max_reps, &b_y);
            a.path = auto_path;
            printf("; avx2 path %.1f", flop / b_y * 1e-9);
        }
        printf("\n");
        tot_flop += flop;
        tot_s_sg += b_sg;
        tot_s_bf += b_bf;
        tot_s_i8 += b_i8;
        gemm_bf16_free(&wb);
        free(a.x), free(a.W), free(a.y), free(a.scratch), free(q8), free(a.xi);
    }
    printf("%-8s %5s %6s %5s | %8.1f  | %8.1f  %6.2fx %6.0f%% | %8.1f  %6.2fx %6.0f%% | (FLOP-weighted over the "
           "shapes)\n", "all", "", "", "", tot_flop / tot_s_sg * 1e-9, tot_flop / tot_s_bf * 1e-9, tot_s_sg / tot_s_bf,
           100 * tot_flop / tot_s_bf * 1e-9 / bf_peak, tot_flop / tot_s_i8 * 1e-9, tot_s_bf / tot_s_i8,
           i8_peak > 0 ? 100 * tot_flop / tot_s_i8 * 1e-9 / i8_peak : 0);
    printf("(bf16 \"of peak\": of the %s peak measured above, %.0f GFLOP/s; int8: of the %.0f GOP/s int8 peak; int8 "
           "is a different measurement: the weights and activations rounded to 8 bits)\n",
           auto_path == GEMM_BF16_AVX512 ? "vdpbf16ps" : "f32 FMA", bf_peak, i8_peak);

collide:
    /* OpenBLAS and lmc's OpenMP regions, alternating */
    printf("\nOpenBLAS (OpenMP build) and gemm_bf16 (OpenMP) alone and alternating, ms per call or pair:\n");
    const int cshape[][3] = {{512, 2048, 2048}, {64, 512, 512}};
    for (int ci = 0; ci < 2; ci++) {
        gemm_arg a = {.T = cshape[ci][0], .N = cshape[ci][1], .K = cshape[ci][2], .path = auto_path};
        a.x = rand_buf((size_t)a.T * a.K, 1.0f);
        a.W = rand_buf((size_t)a.N * a.K, 0.05f);
        a.y = malloc(sizeof(float) * (size_t)a.T * a.N);
        gemm_bf16_w wb;
        if (gemm_bf16_pack_f32(&wb, a.W, a.N, a.K) != 0) return 1;
        a.wb = &wb;
        a.scratch = malloc(gemm_bf16_scratch_bytes(a.T, a.K));
        const int reps = ci == 0 ? (quick ? 3 : 10) : (quick ? 50 : 300);
        double    b_sg = 0, b_bf = 0, b_alt = 0, m_sg = 0, m_bf = 0, m_alt = 0;
        g_worst_util = 1;
        for (int pass = 0; pass < 2; pass++) { /* the second pass is reported */
            m_sg = time_reps(run_sgemm, &a, 0, reps, reps, &b_sg);
            m_bf = time_reps(run_bf16, &a, 0, reps, reps, &b_bf);
            m_alt = time_reps(run_alternate, &a, 0, reps, reps, &b_alt);
        }
        printf("  T=%d N=%d K=%d, %d reps: best sgemm %.3f + bf16 %.3f = %.3f alone, alternating pair %.3f "
               "(%+.1f%%); mean %.3f + %.3f = %.3f vs %.3f (%+.1f%%)%s\n",
               a.T, a.N, a.K, reps, b_sg * 1e3, b_bf * 1e3, (b_sg + b_bf) * 1e3, b_alt * 1e3,
               100 * (b_alt / (b_sg + b_bf) - 1), m_sg * 1e3, m_bf * 1e3, (m_sg + m_bf) * 1e3, m_alt * 1e3,
               100 * (m_alt / (m_sg + m_bf) - 1), g_worst_util < 0.95 ? " [contended: cores shared]" : "");
        gemm_bf16_free(&wb);
        free(a.x), free(a.W), free(a.y), free(a.scratch);
    }
    return 0;
}
