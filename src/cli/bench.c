/* bench.c — `lmc bench`: end-to-end evaluation speed on a model shape with random weights (generated in
 * memory, no files) or on a real model, reported against the machine's own sgemm measured in the same run.
 *
 *   lmc bench --shape tinyllama-1.1b --dtype f32 --block-size 1900 --windows 3
 *
 * Counted FLOPs per window (stated in the output): layer matmuls 2·W·P (P = parameters of the layers' weight
 * matrices; a routed MoE expert counts k/E times), attention 2·(W(W+1)/2)·n_heads·(qk_dim + v_dim) (Q·Kᵀ and
 * P·V, causal half), lm_head 2·scored·vocab·dim. Norms, RoPE and activations are not counted. */
#include "cli/cli.h"
#include "cpu.h"
#include "gemm_bf16.h"
#include "kernels.h"
#include "model/model.h"
#include "peak.h"
#include "eval/score.h"
#include "common/threads.h"
#include "common/util.h"
#include "eval/windows.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- shapes ------------------------------------------------------------------------------------ */

typedef struct bench_shape {
    const char *name;
    const char *config; /* an HF config.json */
} bench_shape;

static const bench_shape SHAPES[] = {
    {"tinyllama-1.1b",
     "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":2048,\"num_hidden_layers\":22,"
     "\"num_attention_heads\":32,\"num_key_value_heads\":4,\"intermediate_size\":5632,\"vocab_size\":32000,"
     "\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"tie_word_embeddings\":false}"},
    {"llama2-7b",
     "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":4096,\"num_hidden_layers\":32,"
     "\"num_attention_heads\":32,\"num_key_value_heads\":32,\"intermediate_size\":11008,\"vocab_size\":32000,"
     "\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"tie_word_embeddings\":false}"},
    {"llama3-8b",
     "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":4096,\"num_hidden_layers\":32,"
     "\"num_attention_heads\":32,\"num_key_value_heads\":8,\"intermediate_size\":14336,\"vocab_size\":128256,"
     "\"rms_norm_eps\":1e-5,\"rope_theta\":500000.0,\"tie_word_embeddings\":false}"},
    {"mistral-7b",
     "{\"architectures\":[\"MistralForCausalLM\"],\"hidden_size\":4096,\"num_hidden_layers\":32,"
     "\"num_attention_heads\":32,\"num_key_value_heads\":8,\"intermediate_size\":14336,\"vocab_size\":32000,"
     "\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"sliding_window\":4096,\"tie_word_embeddings\":false}"},
    {"qwen2-0.5b",
     "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":896,\"num_hidden_layers\":24,"
     "\"num_attention_heads\":14,\"num_key_value_heads\":2,\"intermediate_size\":4864,\"vocab_size\":151936,"
     "\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,\"tie_word_embeddings\":true}"},
    {"qwen2-7b",
     "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":3584,\"num_hidden_layers\":28,"
     "\"num_attention_heads\":28,\"num_key_value_heads\":4,\"intermediate_size\":18944,\"vocab_size\":152064,"
     "\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,\"tie_word_embeddings\":false}"},
    /* MoE shapes scaled down from Mixtral-8x7B (hidden 4096, 32 layers) and DeepSeek-V2-Lite (hidden 2048,
     * 27 layers, 64 experts): same expert counts, routing and attention layout, ~0.8 B parameters each. */
    {"mixtral-8x7b-mini",
     "{\"architectures\":[\"MixtralForCausalLM\"],\"hidden_size\":1024,\"num_hidden_layers\":8,"
     "\"num_attention_heads\":16,\"num_key_value_heads\":4,\"intermediate_size\":3584,\"vocab_size\":32000,"
     "\"num_local_experts\":8,\"num_experts_per_tok\":2,\"rms_norm_eps\":1e-5,\"rope_theta\":1000000.0,"
     "\"hidden_act\":\"silu\",\"tie_word_embeddings\":false}"},
    {"deepseek-v2-lite-mini",
     "{\"architectures\":[\"DeepseekV2ForCausalLM\"],\"hidden_size\":1024,\"num_hidden_layers\":8,"
     "\"num_attention_heads\":16,\"num_key_value_heads\":16,\"vocab_size\":102400,\"q_lora_rank\":null,"
     "\"kv_lora_rank\":256,\"qk_nope_head_dim\":64,\"qk_rope_head_dim\":32,\"v_head_dim\":64,"
     "\"intermediate_size\":2816,\"moe_intermediate_size\":352,\"n_routed_experts\":64,\"n_shared_experts\":2,"
     "\"num_experts_per_tok\":6,\"first_k_dense_replace\":1,\"moe_layer_freq\":1,\"n_group\":1,\"topk_group\":1,"
     "\"topk_method\":\"greedy\",\"scoring_func\":\"softmax\",\"norm_topk_prob\":false,"
     "\"routed_scaling_factor\":1.0,\"rms_norm_eps\":1e-6,\"rope_theta\":10000,\"hidden_act\":\"silu\","
     "\"rope_scaling\":{\"type\":\"yarn\",\"factor\":40,\"original_max_position_embeddings\":4096,"
     "\"beta_fast\":32,\"beta_slow\":1,\"mscale\":0.707,\"mscale_all_dim\":0.707},\"tie_word_embeddings\":false}"},
    {NULL, NULL},
};

/* A shape's config with num_hidden_layers set to L (--layers: a quick run, e.g. next to a llama.cpp model of as
 * few layers in bench/peer.sh). Every shape states the key as an integer. The caller frees the copy. */
static char *config_with_layers(const char *cfg, int L) {
    static const char key[] = "\"num_hidden_layers\":";
    const char *p = strstr(cfg, key) + strlen(key), *e = p;
    while (*e >= '0' && *e <= '9') e++;
    size_t n = strlen(cfg) + 16;
    char *out = lmc_xmalloc(n);
    snprintf(out, n, "%.*s%d%s", (int)(p - cfg), cfg, L, e);
    return out;
}

/* ---- synthetic weights --------------------------------------------------------------------------- */

typedef struct gen_tensor {
    char    name[192];
    int     ndim;
    int64_t shape[2];
    int     is_norm; /* a norm's gain: filled with 1.0 instead of noise */
} gen_tensor;

typedef struct gen_list {
    gen_tensor *t;
    size_t      n, cap;
} gen_list;

static void gen_add(gen_list *l, int is_norm, int64_t d0, int64_t d1, const char *name, const char *suffix) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->t = lmc_xrealloc(l->t, l->cap * sizeof *l->t);
    }
    gen_tensor *g = &l->t[l->n++];
    snprintf(g->name, sizeof g->name, "%s%s", name, suffix);
    g->ndim = d1 ? 2 : 1;
    g->shape[0] = d0;
    g->shape[1] = d1;
    g->is_norm = is_norm;
}

/* The stored tensors behind one line of an architecture's tensor list (arch.h): the architecture file names
 * its weights, so bench keeps no table of its own. */
static void gen_from_plan(gen_list *l, const arch_tensor *e) {
    int bias = (e->flags & ARCH_BIAS) != 0;
    size_t n = strlen(e->name);
    switch (e->kind) {
    case ARCH_VEC: /* a norm's gain ("...weight") is 1, its bias noise */
        gen_add(l, n >= 6 && !strcmp(e->name + n - 6, "weight"), e->rows, 0, e->name, "");
        break;
    case ARCH_LINEAR:
    case ARCH_QKV:
        gen_add(l, 0, e->rows, e->cols, e->name, ".weight");
        if (bias) gen_add(l, 0, e->rows, 0, e->name, ".bias");
        break;
    case ARCH_CONV1D: /* stored [in, out] */
        gen_add(l, 0, e->cols, e->rows, e->name, ".weight");
        gen_add(l, 0, e->rows, 0, e->name, ".bias");
        break;
    case ARCH_MATRIX:
    case ARCH_ROUTER: gen_add(l, 0, e->rows, e->cols, e->name, ""); break;
    case ARCH_EMBED_HEAD:
        gen_add(l, 0, e->rows, e->cols, e->name, "");
        if (!(e->flags & ARCH_TIED)) gen_add(l, 0, e->rows, e->cols, e->name2, "");
        break;
    }
}

/* The tensors a config needs (names and shapes), from its architecture's tensor list. */
static int shape_tensors(const char *config, gen_list *l, lmc_err *err) {
    void *plan;
    if (lmc_model_plan(config, &plan, err)) return -1;
    const arch_tensors *t = &((const arch_base *)plan)->tensors;
    for (size_t i = 0; i < t->n; i++) gen_from_plan(l, &t->v[i]);
    arch_close(plan);
    return 0;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform noise of std ≈ 1/sqrt(fan_in) (keeps activations bounded through the layers), as bf16 or f32. */
static void fill_tensor(void *dst, lmc_dtype dt, const gen_tensor *g, uint64_t seed) {
    int64_t n = g->shape[0] * (g->ndim == 2 ? g->shape[1] : 1);
    float amp = g->ndim == 2 ? (float)(sqrt(3.0 / (double)g->shape[1])) : 0.02f;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < n; b += 4096) {
        uint64_t s = seed ^ (uint64_t)b * 0x2545f4914f6cdd1dull;
        float tmp[4096];
        int64_t e = n - b < 4096 ? n - b : 4096;
        for (int64_t i = 0; i < e; i++)
            tmp[i] = g->is_norm ? 1.0f : amp * (2.0f * (float)(splitmix(&s) >> 40) / (float)(1 << 24) - 1.0f);
        if (dt == LMC_BF16) f32_to_bf16((uint16_t *)dst + b, tmp, (size_t)e);
        else memcpy((float *)dst + b, tmp, sizeof(float) * (size_t)e);
    }
}

/* Writes a safetensors image (header + random data) into an anonymous memory file and returns its
 * /proc/self/fd path, so the model loads through the ordinary path with no file on disk. */
static int synth_model(const char *config, lmc_dtype dt, char *path, size_t cap, int *fd_out, lmc_err *err) {
    gen_list l = {0};
    if (shape_tensors(config, &l, err)) {
        free(l.t);
        return -1;
    }
    cJSON *hdr = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(hdr, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddStringToObject(meta, "lmc.format", "1");
    cJSON_AddStringToObject(meta, "lmc.config", config);
    size_t off = 0, es = lmc_dtype_size(dt);
    size_t *offs = lmc_xmalloc(sizeof(size_t) * (l.n + 1));
    for (size_t i = 0; i < l.n; i++) {
        gen_tensor *g = &l.t[i];
        size_t bytes = (size_t)(g->shape[0] * (g->ndim == 2 ? g->shape[1] : 1)) * es;
        cJSON *t = cJSON_AddObjectToObject(hdr, g->name);
        cJSON_AddStringToObject(t, "dtype", lmc_dtype_name(dt));
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < g->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)g->shape[d]));
        cJSON *o = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + bytes)));
        offs[i] = off;
        off += bytes;
    }
    char *text = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    size_t hlen = (strlen(text) + 7) / 8 * 8, total = 8 + hlen + off;
    int fd = memfd_create("lmc-bench-weights", 0);
    if (fd < 0 || ftruncate(fd, (off_t)total) != 0) {
        free(text); free(offs); free(l.t);
        if (fd >= 0) close(fd);
        return lmc_fail(err, "bench: cannot allocate %.2f GB for random weights", total / 1e9);
    }
    char *map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        free(text); free(offs); free(l.t); close(fd);
        return lmc_fail(err, "bench: cannot map %.2f GB for random weights", total / 1e9);
    }
    uint64_t n = hlen;
    memcpy(map, &n, 8);
    memset(map + 8, ' ', hlen);
    memcpy(map + 8, text, strlen(text));
    for (size_t i = 0; i < l.n; i++) fill_tensor(map + 8 + hlen + offs[i], dt, &l.t[i], 1234567 + i);
    munmap(map, total);
    free(text); free(offs); free(l.t);
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    *fd_out = fd;
    return 0;
}

/* ---- FLOPs and the sgemm reference ----------------------------------------------------------------- */

typedef struct gemm_shape {
    int     N, K;
    double  count; /* how many times per window */
} gemm_shape;

/* Distinct (N, K) of the model's layer matrices (its tensor list's linears and routers, not the embedding or
 * lm_head), with their multiplicity; a routed expert's count is the share of tokens it sees. The FLOPs of a
 * window's layer matmuls are Σ 2·W·N·K·count. */
static size_t layer_gemms(const lmc_model *m, gemm_shape *out, size_t cap) {
    const arch_tensors *t = &((const arch_base *)m->state)->tensors;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        const arch_tensor *e = &t->v[i];
        if (e->kind != ARCH_LINEAR && e->kind != ARCH_CONV1D && e->kind != ARCH_QKV && e->kind != ARCH_ROUTER)
            continue;
        int N = (int)e->rows, K = (int)e->cols;
        size_t j = 0;
        while (j < n && !(out[j].N == N && out[j].K == K)) j++;
        if (j == n) {
            if (n == cap) continue;
            out[n++] = (gemm_shape){N, K, 0};
        }
        out[j].count += e->flags & ARCH_ROUTED ? m->info.routed_share : 1.0;
    }
    return n;
}

/* cblas_sgemm GFLOP/s over the given shapes with T rows, each weighted by its FLOPs. */
static double sgemm_gflops(const gemm_shape *g, size_t n, int T) {
    double flops = 0, secs = 0;
    for (size_t i = 0; i < n; i++) {
        size_t xa = (size_t)T * g[i].K, wa = (size_t)g[i].N * g[i].K, ya = (size_t)T * g[i].N;
        float *x = malloc(4 * xa), *W = malloc(4 * wa), *y = malloc(4 * ya);
        if (!x || !W || !y) { free(x); free(W); free(y); continue; }
        for (size_t j = 0; j < xa; j++) x[j] = (float)(j % 13) * 0.01f;
        for (size_t j = 0; j < wa; j++) W[j] = (float)(j % 7) * 0.01f;
        matmul_f32(y, x, W, NULL, T, g[i].N, g[i].K); /* warm-up */
        double f = 2.0 * T * g[i].N * g[i].K, t0 = lmc_now();
        int reps = 0;
        do { matmul_f32(y, x, W, NULL, T, g[i].N, g[i].K); reps++; } while (lmc_now() - t0 < 0.3 && reps < 20);
        double dt = (lmc_now() - t0) / reps;
        flops += f * g[i].count;
        secs += dt * g[i].count;
        free(x); free(W); free(y);
    }
    return secs > 0 ? flops / secs / 1e9 : 0;
}

/* Seconds to widen every 16-bit weight matrix once to f32 (the f32 path's per-window conversion cost). */
static double widen_seconds(const lmc_weights *w) {
    size_t maxn = 0;
    for (size_t i = 0; i < lmc_weights_count(w); i++) {
        const lmc_tensor *t = lmc_weights_at(w, i);
        if (t->dtype != LMC_F32 && (size_t)t->numel > maxn) maxn = (size_t)t->numel;
    }
    if (!maxn) return 0;
    size_t chunk = 1 << 20;
    float *buf = malloc(sizeof(float) * chunk);
    double t0 = lmc_now();
    for (size_t i = 0; i < lmc_weights_count(w); i++) {
        const lmc_tensor *t = lmc_weights_at(w, i);
        if (t->dtype == LMC_F32) continue;
        for (size_t o = 0; o < (size_t)t->numel; o += chunk) {
            size_t n = (size_t)t->numel - o < chunk ? (size_t)t->numel - o : chunk;
            lmc_dtype_to_f32(t->dtype, (const char *)t->data + lmc_dtype_bytes(t->dtype, (int64_t)o), buf,
                             (int64_t)n); /* chunk: whole blocks of every type */
        }
    }
    double dt = lmc_now() - t0;
    free(buf);
    return dt;
}

static double peak_rss_gb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024.0 / 1e9;
}

static size_t weights_bytes_of(const char *path) {
    lmc_weights *w;
    lmc_err e;
    if (lmc_weights_open(path, &w, &e)) return 0;
    size_t n = lmc_weights_total_bytes(w);
    lmc_weights_close(w);
    return n;
}

/* ---- the benchmark ----------------------------------------------------------------------------------- */

typedef struct bench_args {
    const char *shape, *model, *json;
    long        W, S, K, threads, layers; /* layers: --layers (0: the shape's own); S -1: min(W, 512) */
    int         compute, quiet;
    int         weights;                  /* --weights: index of f32|bf16, -1: that of the compute */
    cli_list    pos;
} bench_args;

#define F(x) offsetof(bench_args, x)
static const cli_opt OPTS[] = {
    {"--shape", NULL, CLI_STR, "NAME", 0, 0, F(shape),
     "random weights of a model shape generated in memory: tinyllama-1.1b, llama2-7b, llama3-8b, mistral-7b, "
     "qwen2-0.5b, qwen2-7b, mixtral-8x7b-mini, deepseek-v2-lite-mini"},
    {"--model", "-m", CLI_STR, "MODEL", 0, 0, F(model), "a real model instead of --shape"},
    {"--dtype", NULL, CLI_COMPUTE, "", 0, 0, F(compute), "compute: f32 (default) or bf16"},
    {"--weights", NULL, CLI_CHOICE, "f32|bf16", 0, 0, F(weights),
     "the generated weights' dtype (default: that of --dtype; bf16 weights with f32 compute is what `lmc eval` "
     "does with a bf16 checkpoint)"},
    {"--block-size", "-w --window --block_size", CLI_INT, "W", 2, 1000000, F(W), "window length in tokens (default 1900)"},
    {"--stride", NULL, CLI_INT, "S", 1, 1000000, F(S), "stride between windows (default: 512, at most W)"},
    {"--windows", NULL, CLI_INT, "K", 1, 1000000, F(K), "windows measured after one warm-up window (default 3)"},
    {"--layers", NULL, CLI_INT, "L", 1, 1000, F(layers), "with --shape: only L layers (a quick run)"},
    {"--threads", "-t", CLI_INT, "T", 0, 4096, F(threads), "threads for all kernels (default 0: all cores)"},
    {"--output", "-o --json", CLI_STR, "OUT.json", 0, 0, F(json), "also write the figures as JSON"},
    {"--quiet", "-q", CLI_FLAG, "", 0, 0, F(quiet), "print nothing but errors (the figures go to --json)"},
    {0}};
#undef F

const cli_spec bench_spec = {
    "bench", "evaluation speed against the machine's own sgemm, measured in one run",
    "lmc bench (--shape NAME | --model MODEL) [--dtype f32|bf16] [--block-size W] [--windows K] [--json OUT]",
    "Evaluation speed on random weights of a model shape generated in memory (no files), or on a real model, "
    "against sgemm measured in the same run at the model's matrix shapes; the counted FLOPs, the time split by "
    "kernel and the memory taken.",
    OPTS, offsetof(bench_args, pos), 0, 0, NULL};

/* CLI_GO, or the usage exit status (the message printed). */
static int parse_args(int argc, char **argv, bench_args *a) {
    *a = (bench_args){.W = 1900, .S = -1, .K = 3, .compute = LMC_COMPUTE_F32, .weights = -1};
    int rc = cli_parse(&bench_spec, argc, argv, a);
    if (rc != CLI_GO) return rc;
    if (a->S < 0) a->S = a->W < 512 ? a->W : 512;
    if (!!a->shape == !!a->model) return cli_usage(&bench_spec, "bench needs exactly one of --shape or --model");
    if (a->S > a->W) return cli_usage(&bench_spec, "--stride must be at most --block-size");
    if (a->layers && !a->shape) return cli_usage(&bench_spec, "--layers applies to --shape only");
    return CLI_GO;
}

/* --shape: random weights generated into an in-memory file, a->model then its path (path, cap); *fd its
 * descriptor. 0, or the exit status (the message printed). */
static int make_weights(bench_args *a, char *path, size_t cap, int *fd) {
    const char *cfg = NULL;
    for (int i = 0; SHAPES[i].name; i++)
        if (!strcmp(SHAPES[i].name, a->shape)) cfg = SHAPES[i].config;
    if (!cfg) return cli_usage(&bench_spec, "unknown shape '%s'", a->shape);
    static const lmc_dtype WEIGHTS[] = {LMC_F32, LMC_BF16}; /* --weights' choices */
    lmc_dtype dt = a->weights >= 0 ? WEIGHTS[a->weights] : a->compute == LMC_COMPUTE_BF16 ? LMC_BF16 : LMC_F32;
    char *own = a->layers ? config_with_layers(cfg, a->layers) : NULL;
    lmc_err err = {{0}};
    int bad = synth_model(own ? own : cfg, dt, path, cap, fd, &err);
    free(own);
    if (bad) {
        return cli_fail(err.msg);
    }
    a->model = path;
    return 0;
}

/* For bf16 compute, the peak its GEMM path can reach, measured in this process: vdpbf16ps on AVX512_BF16, else
 * the f32 FMA peak (the AVX2 path widens bf16 to f32 and FMAs). On a shared host the cores' clock drifts by
 * 5-10 % within a minute (815-930 GFLOP/s seen on one 2-vCPU Zen 5), so the peak is sampled around every
 * measured window (a ~7 ms register-only run before each one and after the last) and the windows are compared
 * with the mean of those samples: the peak of the machine while it ran them. */
typedef struct bench_peak {
    double      sum, lo, hi; /* GFLOP/s: the samples' sum, lowest and highest */
    int         n;           /* samples; 0 for f32 compute */
    const char *kind, *path;
} bench_peak;

static void peak_sample(bench_peak *p, lmc_compute compute) {
    if (compute != LMC_COMPUTE_BF16) return;
    const int path = gemm_bf16_auto_path(), avx512 = path == GEMM_BF16_AVX512;
    p->kind = avx512 ? "vdpbf16ps" : "f32 FMA (ymm)";
    p->path = gemm_bf16_path_name(path);
    const double g = cpu_peak_gflops(avx512 ? PEAK_DPBF16 : PEAK_FMA256, PEAK_ITERS / 8, NULL);
    if (g <= 0) return;
    p->sum += g;
    p->lo = p->n == 0 || g < p->lo ? g : p->lo;
    p->hi = g > p->hi ? g : p->hi;
    p->n++;
}
static double peak_mean(const bench_peak *p) { return p->n ? p->sum / p->n : 0; }

/* What K windows took. */
typedef struct bench_run {
    double t_gen, t_load; /* generating the weights, loading the model */
    double t_head, t_total; /* lm_head + log-softmax, and everything, summed over the K windows */
    double cpu;             /* CPU time of the process over the K windows (all threads) */
    size_t scored;          /* rows scored over the K windows */
    bench_peak peak;        /* sampled around the windows (bf16 compute) */
} bench_run;

/* One warm-up window (first touch of weights and buffers), then K windows of random ids as eval runs them. */
static int measure(lmc_model *m, const bench_args *a, bench_run *r, lmc_err *err) {
    int W = a->W;
    size_t N = (size_t)W + 1 + (size_t)(a->K - 1) * a->S; /* one stream long enough for K windows */
    int32_t *ids = lmc_xmalloc(sizeof(int32_t) * N);
    uint64_t s = 42;
    for (size_t i = 0; i < N; i++) ids[i] = (int32_t)(splitmix(&s) % (uint64_t)m->info.vocab);
    float *hidden = lmc_xmalloc(sizeof(float) * (size_t)W * m->info.dim);
    double nll;
    int rc = lmc_model_hidden(m, ids, W, hidden, err);
    memset(m->info.prof, 0, sizeof *m->info.prof);
    for (int k = 0; k < a->K && rc == 0; k++) {
        lmc_window w = lmc_window_at(W, a->S, (size_t)k);
        peak_sample(&r->peak, a->compute);
        double t0 = lmc_now(), c0 = lmc_cpu_now();
        rc = lmc_model_hidden(m, ids + w.start, W, hidden, err);
        double t1 = lmc_now();
        if (rc == 0)
            rc = lmc_score_rows(m->info.lm_head, hidden, ids + w.start + 1, w.score_from, w.score_count, &nll, NULL,
                                err);
        double t2 = lmc_now();
        r->cpu += lmc_cpu_now() - c0;
        r->t_head += t2 - t1;
        r->t_total += t2 - t0;
        r->scored += (size_t)w.score_count;
    }
    peak_sample(&r->peak, a->compute);
    free(hidden);
    free(ids);
    return rc;
}

/* The counted FLOPs of one window (see the top of this file) and the sgemm reference at the model's shapes. */
typedef struct bench_flops {
    double layers, attn, head, sgemm_gflops;
} bench_flops;

static bench_flops count_flops(const lmc_model *m, const bench_args *a, const bench_run *r) {
    gemm_shape g[32];
    size_t ng = layer_gemms(m, g, 32);
    bench_flops f = {0};
    for (size_t i = 0; i < ng; i++) f.layers += 2.0 * a->W * g[i].N * g[i].K * g[i].count;
    f.attn = 2.0 * ((double)a->W * (a->W + 1) / 2) * m->info.attn_dims;
    f.head = 2.0 * (double)r->scored / a->K * m->info.vocab * m->info.dim;
    f.sgemm_gflops = sgemm_gflops(g, ng, a->W);
    return f;
}

static double split_seconds(const lmc_model *m, const bench_run *r, int k) {
    return k == PROF_LM_HEAD ? r->t_head : m->info.prof->seconds[k];
}

/* The figures of a run, computed once for the printed report and the JSON. */
typedef struct bench_figures {
    bench_flops    f;
    double         peak;        /* mean sampled peak GFLOP/s (0: none) */
    double         per_window;  /* counted FLOPs of one window */
    double         secs;        /* seconds per window */
    double         achieved;    /* GFLOP/s */
    double         widen;       /* seconds per window widening 16-bit weights (f32 compute) */
    double         wbytes;      /* weight bytes */
    double         t_mm, t_att; /* seconds in layer matmuls and attention over the K windows */
    double         use;         /* CPU time / wall over the windows */
    int            nthreads;
    lmc_model_desc d;
} bench_figures;

static bench_figures figures(const lmc_model *m, const bench_args *a, const bench_run *r, int nthreads) {
    bench_figures x = {.f = count_flops(m, a, r), .peak = peak_mean(&r->peak), .nthreads = nthreads};
    x.per_window = x.f.layers + x.f.attn + x.f.head;
    x.secs = r->t_total / a->K;
    x.achieved = x.per_window / x.secs / 1e9;
    x.widen = a->compute == LMC_COMPUTE_F32 ? widen_seconds(m->w) : 0;
    x.wbytes = (double)lmc_weights_total_bytes(m->w);
    x.t_mm = split_seconds(m, r, PROF_MATMUL);
    x.t_att = split_seconds(m, r, PROF_ATTENTION);
    x.use = r->cpu / r->t_total;
    lmc_model_describe(m, &x.d);
    return x;
}

/* The header and the speed against sgemm and the peak. */
static void print_speed(const bench_args *a, const bench_run *r, const bench_figures *x) {
    const bench_peak *pk = &r->peak;
    int W = (int)a->W;
    char lay[32] = "";
    if (a->layers) snprintf(lay, sizeof lay, " with %ld layer%s", a->layers, a->layers == 1 ? "" : "s");
    printf("lmc bench: %s%s (%s, %.3f B parameters), weights %s, compute %s, W=%d S=%ld, %ld windows, %d threads\n",
           a->shape ? a->shape : a->model, lay, x->d.architecture, x->d.n_params / 1e9, x->d.weights_dtype,
           lmc_compute_name((lmc_compute)a->compute), W, a->S, a->K, x->nthreads);
    printf("CPU: %s; OpenBLAS core %s (%s)%s\n", cpu_features_string(), lmc_blas_core(), lmc_blas_config(),
           getenv("OPENBLAS_CORETYPE") ? " [OPENBLAS_CORETYPE is set in the environment]" : "");
    printf("setup: weights generated in %.1f s, model loaded in %.1f s\n", r->t_gen, r->t_load);
    printf("window-tokens/s:        %.1f   (%.3f s per %d-token window)\n", W / x->secs, x->secs, W);
    printf("counted GFLOP / window: %.1f = layer matmuls %.1f + attention %.1f + lm_head %.1f (scored rows)\n",
           x->per_window / 1e9, x->f.layers / 1e9, x->f.attn / 1e9, x->f.head / 1e9);
    printf("achieved:               %.1f GFLOP/s\n", x->achieved);
    printf("sgemm at these shapes:  %.1f GFLOP/s (cblas_sgemm, T=%d, measured in this run)\n", x->f.sgemm_gflops, W);
    printf("ratio achieved/sgemm:   %.3f\n", x->f.sgemm_gflops > 0 ? x->achieved / x->f.sgemm_gflops : 0);
    if (x->peak > 0)
        printf("ratio achieved/peak:    %.3f (%s peak %.0f GFLOP/s: mean of %d samples around the windows, %.0f-%.0f; "
               "bf16 GEMM path %s)\n", x->achieved / x->peak, pk->kind, x->peak, pk->n, pk->lo, pk->hi, pk->path);
}

/* Where the time went, the CPU use and the memory. */
static void print_split(const lmc_model *m, const bench_args *a, const bench_run *r, const bench_figures *x) {
    long K = a->K;
    if (x->t_mm > 0 && x->t_att > 0)
        printf("by kernel:              layer matmuls %.1f GFLOP/s, attention %.1f GFLOP/s\n",
               x->f.layers / 1e9 / (x->t_mm / K), x->f.attn / 1e9 / (x->t_att / K));
    printf("time split per window:");
    double known = 0;
    for (int k = 0; k < PROF_N; k++) {
        double t = split_seconds(m, r, k);
        known += t;
        printf(" %s %.3f s (%.0f%%);", lmc_prof_name(k), t / K, 100 * t / r->t_total);
    }
    printf(" other %.3f s\n", (r->t_total - known) / K);
    printf("CPU use in the windows:  %.2f of %d threads (CPU time / wall)%s\n", x->use, x->nthreads,
           x->use < 0.9 * x->nthreads ? ": low, the host took cores from the run (or serial steps left them idle)" : "");
    if (x->widen > 0) printf("bf16/f16/quantized→f32 weight widening (inside matmul): %.3f s per window\n", x->widen);
    printf("weight memory: %.1f MB mmapped (file) + %.1f MB held by the model (packed bf16 copies, re-laid-out "
           "matrices, f32 norms)\n", x->d.mapped_bytes / 1e6, x->d.resident_bytes / 1e6);
    printf("peak RSS: %.2f GB (weights %.2f GB, beyond weights %.2f GB)\n", peak_rss_gb(), x->wbytes / 1e9,
           peak_rss_gb() - x->wbytes / 1e9);
}

/* The peak and per-kernel figures of the JSON, when they were measured. */
static void add_peak_json(cJSON *o, const bench_args *a, const bench_peak *pk, const bench_figures *x) {
    if (x->peak > 0) {
        cJSON_AddStringToObject(o, "bf16_gemm_path", pk->path);
        cJSON_AddStringToObject(o, "peak_kind", pk->kind);
        cJSON_AddNumberToObject(o, "peak_gflops", x->peak);
        cJSON_AddNumberToObject(o, "peak_gflops_min", pk->lo);
        cJSON_AddNumberToObject(o, "peak_gflops_max", pk->hi);
        cJSON_AddNumberToObject(o, "ratio_to_peak", x->achieved / x->peak);
    }
    if (x->t_mm > 0) cJSON_AddNumberToObject(o, "matmul_gflops", x->f.layers / 1e9 / (x->t_mm / a->K));
    if (x->t_att > 0) cJSON_AddNumberToObject(o, "attention_gflops", x->f.attn / 1e9 / (x->t_att / a->K));
}

static int write_json(const lmc_model *m, const bench_args *a, const bench_run *r, const bench_figures *x,
                      lmc_err *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "shape", a->shape ? a->shape : "");
    cJSON_AddStringToObject(o, "model", a->shape ? "" : a->model);
    cJSON_AddStringToObject(o, "architecture", x->d.architecture);
    cJSON_AddStringToObject(o, "compute", lmc_compute_name((lmc_compute)a->compute));
    cJSON_AddStringToObject(o, "weights_dtype", x->d.weights_dtype);
    cJSON_AddStringToObject(o, "openblas_core", lmc_blas_core());
    cJSON_AddStringToObject(o, "cpu", cpu_features_string());
    cJSON_AddNumberToObject(o, "threads", x->nthreads);
    cJSON_AddNumberToObject(o, "block_size", (double)a->W);
    cJSON_AddNumberToObject(o, "windows", (double)a->K);
    cJSON_AddNumberToObject(o, "window_tokens_per_s", a->W / x->secs);
    cJSON_AddNumberToObject(o, "gflop_per_window", x->per_window / 1e9);
    cJSON_AddNumberToObject(o, "achieved_gflops", x->achieved);
    cJSON_AddNumberToObject(o, "sgemm_gflops", x->f.sgemm_gflops);
    cJSON_AddNumberToObject(o, "ratio", x->f.sgemm_gflops > 0 ? x->achieved / x->f.sgemm_gflops : 0);
    cJSON_AddNumberToObject(o, "cpu_use", x->use / x->nthreads);
    add_peak_json(o, a, &r->peak, x);
    cJSON_AddNumberToObject(o, "peak_rss_gb", peak_rss_gb());
    cJSON_AddNumberToObject(o, "weights_gb", x->wbytes / 1e9);
    cJSON *split = cJSON_AddObjectToObject(o, "seconds_per_window");
    for (int k = 0; k < PROF_N; k++) cJSON_AddNumberToObject(split, lmc_prof_name(k), split_seconds(m, r, k) / a->K);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    int rc = lmc_write_file_atomic(a->json, text, strlen(text), err);
    free(text);
    return rc;
}

/* The report on stdout (unless --quiet), then the JSON (with --json). */
static int report(const lmc_model *m, const bench_args *a, const bench_run *r, int nthreads, lmc_err *err) {
    bench_figures x = figures(m, a, r, nthreads);
    if (!a->quiet) {
        print_speed(a, r, &x);
        print_split(m, a, r, &x);
    }
    return a->json ? write_json(m, a, r, &x, err) : 0;
}

int cmd_bench(int argc, char **argv) {
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_GO) return rc;
    int nthreads = lmc_threads_init((int)a.threads), fd = -1;
    char path[64];
    bench_run r;
    memset(&r, 0, sizeof r);
    double t0 = lmc_now();
    if (a.shape && (rc = make_weights(&a, path, sizeof path, &fd))) return rc;
    r.t_gen = lmc_now() - t0;
    lmc_model_opts mo = {.compute = (lmc_compute)a.compute, .threads = nthreads, .memory_limit = cli_memory_limit()};
    /* the random weights already sit in memory (an in-memory file, not reclaimable like page cache), so the
     * loader's "does it fit" check must not count them a second time */
    if (a.shape && !mo.memory_limit) mo.memory_limit = lmc_memory_available() + weights_bytes_of(path);
    lmc_err err = {{0}};
    lmc_model *m = NULL;
    t0 = lmc_now();
    rc = lmc_model_open(a.model, &mo, &m, &err);
    r.t_load = lmc_now() - t0;
    if (rc == 0) rc = measure(m, &a, &r, &err);
    if (rc == 0) rc = report(m, &a, &r, nthreads, &err);
    lmc_model_close(m);
    if (fd >= 0) close(fd);
    return rc ? cli_fail(err.msg) : 0;
}
