/* bench.c — the measurement behind `lmc bench` (lmc_tools.h lmc_bench_run): end-to-end evaluation speed on a
 * model shape with random weights (generated in memory, no files) or on a real model, with the machine's own
 * sgemm measured in the same run at the model's matrix shapes. The command line (src/cli/bench.c) prints it.
 *
 * Counted FLOPs per window: layer matmuls 2·W·P (P = parameters of the layers' weight matrices; a routed MoE
 * expert counts k/E times), attention 2·(W(W+1)/2)·n_heads·(qk_dim + v_dim) (Q·Kᵀ and P·V, causal half),
 * lm_head 2·scored·vocab·dim. Norms, RoPE and activations are not counted. */
#include "lmc_tools.h"
#include "common/util.h"
#include "cpu.h"
#include "eval/score.h"
#include "eval/windows.h"
#include "gemm_bf16.h"
#include "gemm_i8.h"
#include "kernels.h"
#include "model/model.h"
#include "peak.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
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
        float *x = malloc(4 * xa), *weight = malloc(4 * wa), *y = malloc(4 * ya);
        if (!x || !weight || !y) { free(x); free(weight); free(y); continue; }
        for (size_t j = 0; j < xa; j++) x[j] = (float)(j % 13) * 0.01f;
        for (size_t j = 0; j < wa; j++) weight[j] = (float)(j % 7) * 0.01f;
        matmul_f32(y, x, weight, NULL, T, g[i].N, g[i].K); /* warm-up */
        double f = 2.0 * T * g[i].N * g[i].K, t0 = lmc_now();
        int reps = 0;
        do { matmul_f32(y, x, weight, NULL, T, g[i].N, g[i].K); reps++; } while (lmc_now() - t0 < 0.3 && reps < 20);
        double dt = (lmc_now() - t0) / reps;
        flops += f * g[i].count;
        secs += dt * g[i].count;
        free(x); free(weight); free(y);
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

/* The peak resident size since the start or the last reset_peak_rss (VmHWM; getrusage where /proc is not). */
static double peak_rss_gb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return kb * 1024.0 / 1e9;
}

static void reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) fputs("5", f), fclose(f);
}

/* --weights q4_k and the like: the layer matrices now live in the model's own quantized copies, so their bf16 bytes
 * in the generated image are given back (holes punched in the in-memory file) and the peak resident size starts
 * again: what the windows then hold is what a file of that type would (its matrices mapped), with the embeddings
 * and norms still bf16, plus the runtime's own memory. The image is a safetensors file whose data starts at
 * 8 + header length, the tensors in it laid out from there in address order. */
static size_t drop_requantized(const lmc_model *m, int fd) {
    uint64_t hlen = 0;
    size_t dropped = 0;
    if (pread(fd, &hlen, 8, 0) != 8) return 0;
    const char *base = NULL;
    for (size_t i = 0; i < lmc_weights_count(m->w); i++) {
        const char *d = lmc_weights_at(m->w, i)->data;
        if (!base || d < base) base = d;
    }
    const arch_base *b = m->state;
    for (size_t i = 0; i < b->tensors.n; i++) {
        const arch_tensor *e = &b->tensors.v[i];
        const lmc_linear *l = e->dst;
        if ((e->kind != ARCH_LINEAR && e->kind != ARCH_QKV && e->kind != ARCH_CONV1D) || !l->owned ||
            l->mode != LMC_LINEAR_INT8)
            continue;
        char name[200];
        snprintf(name, sizeof name, "%s.weight", e->name);
        const lmc_tensor *t = lmc_weights_find(m->w, name);
        if (!t) continue;
        off_t at = (off_t)(8 + hlen + (size_t)((const char *)t->data - base));
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, (off_t)t->nbytes) == 0) dropped += t->nbytes;
    }
    reset_peak_rss();
    return dropped;
}

static size_t weights_bytes_of(const char *path) {
    lmc_weights *w;
    lmc_err e;
    if (lmc_weights_open(path, &w, &e)) return 0;
    size_t n = lmc_weights_total_bytes(w);
    lmc_weights_close(w);
    return n;
}


/* For bf16 compute, the peak its GEMM path can reach, measured in this process: vdpbf16ps on AVX512_BF16, else
 * the f32 FMA peak (the AVX2 path widens bf16 to f32 and FMAs); for int8, vpdpbusd (zmm, or ymm AVX-VNNI) or
 * vpmaddwd (the AVX2 path), in GOP/s (a multiply-add is 2 operations, as a FLOP pair), with the vdpbf16ps peak
 * sampled beside it. On a shared host the cores' clock drifts by
 * 5-10 % within a minute (815-930 GFLOP/s seen on one 2-vCPU Zen 5), so the peak is sampled around every
 * measured window (a ~7 ms register-only run before each one and after the last) and the windows are compared
 * with the mean of those samples: the peak of the machine while it ran them. */
typedef struct bench_peak {
    double      sum, lo, hi; /* GFLOP/s: the samples' sum, lowest and highest */
    int         n;           /* samples; 0 for f32 compute */
    const char *kind, *path;
} bench_peak;

/* The register-only peak behind a compute's GEMM path (kind), and that path's name; 0 when there is none (f32). */
static int peak_kind_of(lmc_compute compute, const char **kind, const char **path) {
    if (compute == LMC_COMPUTE_BF16) {
        const int p = gemm_bf16_auto_path(), avx512 = p == GEMM_BF16_AVX512;
        *kind = avx512 ? "vdpbf16ps" : "f32 FMA (ymm)";
        *path = gemm_bf16_path_name(p);
        return avx512 ? PEAK_DPBF16 : PEAK_FMA256;
    }
    if (compute == LMC_COMPUTE_INT8) {
        const int p = gemm_i8_auto_path();
        *path = gemm_i8_path_name(p);
        return gemm_i8_peak_kind(p, kind);
    }
    return -1;
}

static void peak_add(bench_peak *p, int kind, const char *name, const char *path) {
    const double g = kind < 0 ? 0 : cpu_peak_gflops(kind, PEAK_ITERS / 8, NULL);
    if (g <= 0) return;
    p->kind = name;
    p->path = path;
    p->sum += g;
    p->lo = p->n == 0 || g < p->lo ? g : p->lo;
    p->hi = g > p->hi ? g : p->hi;
    p->n++;
}

/* One sample of the compute's peak, and under int8 one of the bf16 peak beside it (into *beside). */
static void peak_sample(bench_peak *p, bench_peak *beside, lmc_compute compute) {
    const char *kind = NULL, *path = NULL;
    const int k = peak_kind_of(compute, &kind, &path);
    peak_add(p, k, kind, path);
    if (compute == LMC_COMPUTE_INT8 && peak_kind_of(LMC_COMPUTE_BF16, &kind, &path) == PEAK_DPBF16)
        peak_add(beside, PEAK_DPBF16, kind, path);
}
static double peak_mean(const bench_peak *p) { return p->n ? p->sum / p->n : 0; }


/* What K windows took. */
typedef struct bench_run {
    double t_gen, t_load; /* generating the weights, loading the model */
    double t_head, t_total; /* lm_head + log-softmax, and everything, summed over the K windows */
    double cpu;             /* CPU time of the process over the K windows (all threads) */
    size_t scored;          /* rows scored over the K windows */
    bench_peak peak;        /* sampled around the windows (bf16, int8 compute) */
    bench_peak beside;      /* int8 compute: the vdpbf16ps peak, sampled with it */
    size_t dropped;         /* image bytes given back after requantizing (drop_requantized) */
} bench_run;

/* One warm-up window (first touch of weights and buffers), then K windows of random ids as eval runs them. */
static int measure(lmc_model *m, const lmc_bench_opts *a, bench_run *r, lmc_err *err) {
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
        peak_sample(&r->peak, &r->beside, a->compute);
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
    peak_sample(&r->peak, &r->beside, a->compute);
    free(hidden);
    free(ids);
    return rc;
}

/* The counted FLOPs of one window (see the top of this file) and the sgemm reference at the model's shapes. */
typedef struct bench_flops {
    double layers, attn, head, sgemm_gflops;
} bench_flops;

static bench_flops count_flops(const lmc_model *m, const lmc_bench_opts *a, const bench_run *r) {
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

/* The ggml type --weights names (q8_0, q4_0, q4_k, q6_k: random weights quantized in memory, int8 compute), or 0. */
static int quantized_weights(const char *name) {
    static const struct { const char *name; lmc_dtype dt; } Q[] = {
        {"q8_0", LMC_Q8_0}, {"q4_0", LMC_Q4_0}, {"q4_k", LMC_Q4_K}, {"q6_k", LMC_Q6_K}};
    for (size_t i = 0; name && i < sizeof Q / sizeof Q[0]; i++)
        if (!strcmp(name, Q[i].name)) return Q[i].dt;
    return 0;
}

/* --shape: random weights generated into an in-memory file; path (cap bytes) gets its /proc/self/fd path and *fd
 * its descriptor. */
static int make_weights(const lmc_bench_opts *o, char *path, size_t cap, int *fd, lmc_err *err) {
    const char *cfg = NULL;
    for (int i = 0; SHAPES[i].name; i++)
        if (!strcmp(SHAPES[i].name, o->shape)) cfg = SHAPES[i].config;
    if (!cfg) return lmc_fail(err, "bench: unknown shape '%s'", o->shape);
    lmc_dtype dt = o->compute == LMC_COMPUTE_BF16 ? LMC_BF16 : LMC_F32;
    if (o->weights) dt = !strcmp(o->weights, "f32") ? LMC_F32 : LMC_BF16; /* a quantized type: from a bf16 image */
    char *own = o->layers ? config_with_layers(cfg, o->layers) : NULL;
    int rc = synth_model(own ? own : cfg, dt, path, cap, fd, err);
    free(own);
    return rc;
}

/* What the run measured, as lmc_bench_result reports it. */
static void fill_result(const lmc_model *m, const lmc_bench_opts *o, const bench_run *run, lmc_bench_result *r) {
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    snprintf(r->architecture, sizeof r->architecture, "%s", d.architecture);
    snprintf(r->weights_dtype, sizeof r->weights_dtype, "%s", d.weights_dtype);
    if (quantized_weights(o->weights)) /* the layer matrices as held, not the generated image's type */
        snprintf(r->weights_dtype, sizeof r->weights_dtype, "%s (from BF16)",
                 lmc_dtype_name((lmc_dtype)quantized_weights(o->weights)));
    r->n_params = d.n_params;
    r->mapped_bytes = d.mapped_bytes;
    r->resident_bytes = d.resident_bytes;
    r->weights_bytes = (double)lmc_weights_total_bytes(m->w);
    if (run->dropped) /* the requantized matrices as held, the rest of the image as mapped */
        r->weights_bytes = (double)(lmc_weights_total_bytes(m->w) - run->dropped) + (double)d.resident_bytes;
    r->t_gen = run->t_gen;
    r->t_load = run->t_load;
    r->t_total = run->t_total;
    r->cpu = run->cpu;
    bench_flops f = count_flops(m, o, run);
    r->flops_layers = f.layers;
    r->flops_attn = f.attn;
    r->flops_head = f.head;
    r->sgemm_gflops = f.sgemm_gflops;
    r->peak = peak_mean(&run->peak);
    r->peak_lo = run->peak.lo;
    r->peak_hi = run->peak.hi;
    r->peak_n = run->peak.n;
    r->peak_kind = run->peak.kind;
    r->gemm_path = run->peak.path;
    r->bf16_peak = peak_mean(&run->beside);
    r->act_block = o->compute == LMC_COMPUTE_INT8 ? GEMM_I8_QK : 0;
    r->widen = o->compute == LMC_COMPUTE_F32 ? widen_seconds(m->w) : 0;
    r->n_split = PROF_N < LMC_BENCH_SPLITS ? PROF_N : LMC_BENCH_SPLITS;
    for (int k = 0; k < r->n_split; k++) {
        r->split_name[k] = lmc_prof_name(k);
        r->split[k] = split_seconds(m, run, k);
    }
    r->t_matmul = split_seconds(m, run, PROF_MATMUL);
    r->t_attention = split_seconds(m, run, PROF_ATTENTION);
    r->cpu_features = cpu_features_string();
    r->peak_rss_gb = peak_rss_gb();
}

const char *lmc_bench_shape(int i) {
    return i >= 0 && i < (int)(sizeof SHAPES / sizeof SHAPES[0]) ? SHAPES[i].name : NULL;
}

int lmc_bench_run(const lmc_bench_opts *o, lmc_bench_result *r, lmc_err *err) {
    memset(r, 0, sizeof *r);
    bench_run run;
    memset(&run, 0, sizeof run);
    char path[64];
    int fd = -1;
    double t0 = lmc_now();
    if (o->shape && make_weights(o, path, sizeof path, &fd, err)) return -1;
    run.t_gen = lmc_now() - t0;
    lmc_model_opts mo = {.compute = o->compute, .threads = o->threads, .memory_limit = o->memory_limit,
                         .int8_weights = quantized_weights(o->weights)};
    /* the random weights already sit in memory (an in-memory file, not reclaimable like page cache), so the
     * loader's "does it fit" check must not count them a second time */
    if (o->shape && !mo.memory_limit) mo.memory_limit = lmc_memory_available() + weights_bytes_of(path);
    lmc_model *m = NULL;
    t0 = lmc_now();
    int rc = lmc_model_open(o->shape ? path : o->model, &mo, &m, err);
    run.t_load = lmc_now() - t0;
    if (rc == 0 && fd >= 0 && quantized_weights(o->weights)) run.dropped = drop_requantized(m, fd);
    if (rc == 0) rc = measure(m, o, &run, err);
    if (rc == 0) fill_result(m, o, &run, r);
    lmc_model_close(m);
    if (fd >= 0) close(fd);
    return rc;
}
