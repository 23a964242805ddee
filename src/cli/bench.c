/* bench.c — `lmc bench`: evaluation speed on a model shape with random weights (generated in memory, no files) or
 * on a real model, against the machine's own sgemm measured in the same run (the library's lmc_bench_run,
 * src/eval/bench.c, which also states what the FLOPs count). This file parses, prints and writes the JSON.
 *
 *   lmc bench --shape tinyllama-1.1b --dtype f32 --block-size 1900 --windows 3 */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ----------------------------------------------------------------------------------- */

typedef struct bench_args {
    const char *shape, *model, *json;
    long        W, S, K, threads, layers; /* layers: --layers (0: the shape's own); S -1: min(W, 512) */
    int         compute, quiet;
    int         weights;                  /* --weights: index of its choices, -1: that of the compute */
    cli_list    pos;
} bench_args;

#define F(x) offsetof(bench_args, x)
static const cli_opt OPTS[] = {
    {"--shape", NULL, CLI_STR, "NAME", 0, 0, F(shape),
     "random weights of a model shape generated in memory: tinyllama-1.1b, llama2-7b, llama3-8b, mistral-7b, "
     "qwen2-0.5b, qwen2-7b, mixtral-8x7b-mini, deepseek-v2-lite-mini"},
    CLI_MODEL(F(model), "a real model instead of --shape"),
    CLI_DTYPE(F(compute), "compute: f32 (default), bf16 or int8 (int8 matmuls on the weights as stored)"),
    {"--weights", NULL, CLI_CHOICE, "f32|bf16|q8_0|q4_0|q4_k|q6_k", 0, 0, F(weights),
     "the generated weights' dtype (default: that of --dtype; bf16 weights with f32 compute is what `lmc eval` "
     "does with a bf16 checkpoint); with --dtype int8 also a ggml type the layer matrices are quantized to in "
     "memory (Q4_K/Q6_K by plain rounding; lm_head Q8_0), as a GGUF file of that type would hold them"},
    CLI_BLOCK_SIZE(F(W), 2, "window length in tokens (default 1900)"),
    CLI_STRIDE(F(S)),
    {"--windows", NULL, CLI_INT, "K", 1, 1000000, F(K), "windows measured after one warm-up window (default 3)"},
    {"--layers", NULL, CLI_INT, "L", 1, 1000, F(layers), "with --shape: only L layers (a quick run)"},
    CLI_THREADS(F(threads), "threads for all kernels (default 0: all cores)"),
    CLI_JSON_OUTPUT(F(json), "also write the figures as JSON"),
    CLI_QUIET(F(quiet), "print nothing but errors (the figures go to --json)"),
    {0}};
#undef F

const cli_spec bench_spec = {
    "bench", "evaluation speed against the machine's own sgemm, measured in one run",
    "lmc bench (--shape NAME | --model MODEL) [--dtype f32|bf16|int8] [--block-size W] [--windows K] [--json OUT]",
    "Evaluation speed on random weights of a model shape generated in memory (no files), or on a real model, "
    "against sgemm measured in the same run at the model's matrix shapes; the counted FLOPs, the time split by "
    "kernel and the memory taken.",
    OPTS, offsetof(bench_args, pos), 0, 0, NULL};

/* CLI_GO, or the usage exit status (the message printed). */
static int parse_args(int argc, char **argv, bench_args *a) {
    *a = (bench_args){.W = 1900, .S = 0 /* cli_window_stride */, .K = 3, .compute = LMC_COMPUTE_F32, .weights = -1};
    int rc = cli_parse(&bench_spec, argc, argv, a);
    if (rc != CLI_GO) return rc;
    if (!!a->shape == !!a->model) return cli_usage(&bench_spec, "bench needs exactly one of --shape or --model");
    int known = 0;
    for (int i = 0; a->shape && lmc_bench_shape(i); i++) known |= !strcmp(a->shape, lmc_bench_shape(i));
    if (a->shape && !known) return cli_usage(&bench_spec, "unknown shape '%s'", a->shape);
    if ((rc = cli_window_stride(&bench_spec, a->W, &a->S)) != CLI_GO) return rc;
    if (a->layers && !a->shape) return cli_usage(&bench_spec, "--layers applies to --shape only");
    if (a->weights >= 2 && a->compute != LMC_COMPUTE_INT8)
        return cli_usage(&bench_spec, "--weights q8_0|q4_0|q4_k|q6_k needs --dtype int8");
    if (a->weights >= 0 && !a->shape) return cli_usage(&bench_spec, "--weights applies to --shape only");
    return CLI_GO;
}

/* ---- the report ------------------------------------------------------------------------------- */

/* The figures derived from a run, for the printed report and the JSON alike. */
typedef struct bench_figures {
    double per_window; /* counted FLOPs of one window */
    double secs;       /* seconds per window */
    double achieved;   /* GFLOP/s */
    double use;        /* CPU time / wall over the windows */
    int    nthreads;
} bench_figures;

static bench_figures figures(const bench_args *a, const lmc_bench_result *r, int nthreads) {
    bench_figures x = {.per_window = r->flops_layers + r->flops_attn + r->flops_head, .secs = r->t_total / a->K,
                       .use = r->cpu / r->t_total, .nthreads = nthreads};
    x.achieved = x.per_window / x.secs / 1e9;
    return x;
}

/* The header and the speed against sgemm and the peak. */
static void print_speed(const bench_args *a, const lmc_bench_result *r, const bench_figures *x) {
    int W = (int)a->W;
    char lay[32] = "";
    if (a->layers) snprintf(lay, sizeof lay, " with %ld layer%s", a->layers, a->layers == 1 ? "" : "s");
    char params[32];
    if (r->n_params >= 1e9) snprintf(params, sizeof params, "%.2f B", r->n_params / 1e9);
    else snprintf(params, sizeof params, "%.1f M", r->n_params / 1e6);
    printf("lmc bench: %s%s (%s, %s parameters), weights %s, compute %s, W=%d S=%ld, %ld window%s, %d thread%s\n",
           a->shape ? a->shape : a->model, lay, r->architecture, params, r->weights_dtype,
           lmc_compute_name((lmc_compute)a->compute), W, a->S, a->K, a->K == 1 ? "" : "s", x->nthreads,
           x->nthreads == 1 ? "" : "s");
    printf("CPU: %s; OpenBLAS core %s (%s)%s\n", r->cpu_features, lmc_blas_core(), lmc_blas_config(),
           getenv("OPENBLAS_CORETYPE") ? " [OPENBLAS_CORETYPE is set in the environment]" : "");
    if (a->shape) printf("setup: weights generated in %.1f s, model loaded in %.1f s\n", r->t_gen, r->t_load);
    else printf("setup: model loaded in %.1f s\n", r->t_load);
    printf("window-tokens/s:        %.1f   (%.3f s per %d-token window)\n", W / x->secs, x->secs, W);
    printf("counted GFLOP / window: %.1f = layer matmuls %.1f + attention %.1f + lm_head %.1f (scored rows)\n",
           x->per_window / 1e9, r->flops_layers / 1e9, r->flops_attn / 1e9, r->flops_head / 1e9);
    printf("achieved:               %.1f GFLOP/s\n", x->achieved);
    printf("sgemm at these shapes:  %.1f GFLOP/s (cblas_sgemm, T=%d, measured in this run)\n", r->sgemm_gflops, W);
    printf("ratio achieved/sgemm:   %.3f\n", r->sgemm_gflops > 0 ? x->achieved / r->sgemm_gflops : 0);
    const int int8 = a->compute == LMC_COMPUTE_INT8;
    if (r->peak > 0)
        printf("ratio achieved/peak:    %.3f (%s peak %.0f %s: mean of %d samples around the windows, %.0f-%.0f; "
               "%s GEMM path %s)\n", x->achieved / r->peak, r->peak_kind, r->peak, int8 ? "GOP/s" : "GFLOP/s",
               r->peak_n, r->peak_lo, r->peak_hi, lmc_compute_name((lmc_compute)a->compute), r->gemm_path);
    if (int8 && r->t_matmul > 0) {
        const double mm = r->flops_layers / 1e9 / (r->t_matmul / a->K);
        printf("int8 layer matmuls:     %.1f GOP/s = %.3f of the %s peak", mm, r->peak > 0 ? mm / r->peak : 0,
               r->peak_kind ? r->peak_kind : "(none: plain C)");
        if (r->bf16_peak > 0)
            printf("; vdpbf16ps peak beside it %.0f GFLOP/s (int8 peak / bf16 peak %.2f)", r->bf16_peak,
                   r->peak / r->bf16_peak);
        printf("\nint8 compute: weights and activations (blocks of %d) in int8 — a different measurement from "
               "f32/bf16\n", r->act_block);
    }
}

/* Where the time went, the CPU use and the memory. */
static void print_split(const bench_args *a, const lmc_bench_result *r, const bench_figures *x) {
    long K = a->K;
    if (r->t_matmul > 0 && r->t_attention > 0)
        printf("by kernel:              layer matmuls %.1f GFLOP/s, attention %.1f GFLOP/s\n",
               r->flops_layers / 1e9 / (r->t_matmul / K), r->flops_attn / 1e9 / (r->t_attention / K));
    printf("time split per window:");
    double known = 0;
    for (int k = 0; k < r->n_split; k++) {
        known += r->split[k];
        printf(" %s %.3f s (%.0f%%);", r->split_name[k], r->split[k] / K, 100 * r->split[k] / r->t_total);
    }
    printf(" other %.3f s\n", (r->t_total - known) / K);
    printf("CPU use in the windows:  %.2f of %d threads (CPU time / wall)%s\n", x->use, x->nthreads,
           x->use < 0.9 * x->nthreads ? ": low, the host took cores from the run (or serial steps left them idle)"
                                      : "");
    if (r->widen > 0) printf("bf16/f16/quantized→f32 weight widening (inside matmul): %.3f s per window\n", r->widen);
    printf("weight memory: %.1f MB mmapped (file) + %.1f MB held by the model (packed bf16 copies, Q8_0 copies, "
           "re-laid-out matrices, f32 norms)\n", r->mapped_bytes / 1e6, r->resident_bytes / 1e6);
    printf("peak RSS: %.2f GB (weights %.2f GB, beyond weights %.2f GB)\n", r->peak_rss_gb, r->weights_bytes / 1e9,
           r->peak_rss_gb - r->weights_bytes / 1e9);
}

/* The peak and per-kernel figures of the JSON, when they were measured. */
static void add_peak_json(cJSON *o, const bench_args *a, const lmc_bench_result *r, const bench_figures *x) {
    if (r->act_block) cJSON_AddNumberToObject(o, "int8_activation_block", r->act_block);
    if (r->bf16_peak > 0) cJSON_AddNumberToObject(o, "bf16_peak_gflops", r->bf16_peak);
    if (r->peak > 0) {
        cJSON_AddStringToObject(o, a->compute == LMC_COMPUTE_INT8 ? "int8_gemm_path" : "bf16_gemm_path", r->gemm_path);
        cJSON_AddStringToObject(o, "peak_kind", r->peak_kind);
        cJSON_AddNumberToObject(o, "peak_gflops", r->peak);
        cJSON_AddNumberToObject(o, "peak_gflops_min", r->peak_lo);
        cJSON_AddNumberToObject(o, "peak_gflops_max", r->peak_hi);
        cJSON_AddNumberToObject(o, "ratio_to_peak", x->achieved / r->peak);
    }
    if (r->t_matmul > 0) cJSON_AddNumberToObject(o, "matmul_gflops", r->flops_layers / 1e9 / (r->t_matmul / a->K));
    if (r->t_attention > 0)
        cJSON_AddNumberToObject(o, "attention_gflops", r->flops_attn / 1e9 / (r->t_attention / a->K));
}

static int write_json(const bench_args *a, const lmc_bench_result *r, const bench_figures *x, lmc_err *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "lmc_version", LMC_VERSION);
    cJSON_AddStringToObject(o, "shape", a->shape ? a->shape : "");
    cJSON_AddStringToObject(o, "model", a->shape ? "" : a->model);
    cJSON_AddStringToObject(o, "architecture", r->architecture);
    cJSON_AddStringToObject(o, "compute", lmc_compute_name((lmc_compute)a->compute));
    cJSON_AddStringToObject(o, "weights_dtype", r->weights_dtype);
    cJSON_AddStringToObject(o, "openblas_core", lmc_blas_core());
    cJSON_AddStringToObject(o, "cpu", r->cpu_features);
    cJSON_AddNumberToObject(o, "threads", x->nthreads);
    cJSON_AddNumberToObject(o, "block_size", (double)a->W);
    cJSON_AddNumberToObject(o, "stride", (double)a->S);
    cJSON_AddNumberToObject(o, "windows", (double)a->K);
    cJSON_AddNumberToObject(o, "window_tokens_per_s", a->W / x->secs);
    cJSON_AddNumberToObject(o, "gflop_per_window", x->per_window / 1e9);
    cJSON_AddNumberToObject(o, "achieved_gflops", x->achieved);
    cJSON_AddNumberToObject(o, "sgemm_gflops", r->sgemm_gflops);
    cJSON_AddNumberToObject(o, "ratio", r->sgemm_gflops > 0 ? x->achieved / r->sgemm_gflops : 0);
    cJSON_AddNumberToObject(o, "cpu_use", x->use / x->nthreads);
    add_peak_json(o, a, r, x);
    cJSON_AddNumberToObject(o, "peak_rss_gb", r->peak_rss_gb);
    cJSON_AddNumberToObject(o, "weights_gb", r->weights_bytes / 1e9);
    cJSON *split = cJSON_AddObjectToObject(o, "seconds_per_window");
    for (int k = 0; k < r->n_split; k++) cJSON_AddNumberToObject(split, r->split_name[k], r->split[k] / a->K);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    int rc = lmc_write_file_atomic(a->json, text, strlen(text), err);
    free(text);
    return rc;
}

/* ---- lmc bench --------------------------------------------------------------------------------- */

int cmd_bench(int argc, char **argv) {
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_GO) return rc;
    int nthreads = cli_threads(a.threads);
    static const char *const WEIGHTS[] = {"f32", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"}; /* --weights' choices */
    lmc_bench_opts o = {a.shape, a.model, (lmc_compute)a.compute, a.weights >= 0 ? WEIGHTS[a.weights] : NULL,
                        (int)a.W, (int)a.S, (int)a.K, (int)a.layers, nthreads, cli_memory_limit()};
    lmc_bench_result r;
    lmc_err err = {{0}};
    rc = lmc_bench_run(&o, &r, &err);
    bench_figures x;
    if (rc == 0) x = figures(&a, &r, nthreads);
    if (rc == 0 && !a.quiet) {
        print_speed(&a, &r, &x);
        print_split(&a, &r, &x);
    }
    if (rc == 0 && a.json) rc = write_json(&a, &r, &x, &err);
    return rc ? cli_fail(err.msg) : 0;
}
