/* bench_dequant.c — dequantization speed per GGUF tensor type, and a dump of every tensor as f32 for checking
 * lmc's dequantizers against another implementation (bench/peer_dequant.sh compares it with gguf-py's on files
 * that llama.cpp's llama-quantize wrote).
 *
 *   build/bench/bench_dequant [FILE.gguf [OUT.bin]]
 *
 * Without a file: MB/s and elements/s of each type lmc dequantizes, on 64 MB of random blocks (finite scales).
 * With a file: each tensor dequantized row by row, the time per type; with OUT.bin every tensor lmc can
 * dequantize is written there as "name\n" "numel\n" then numel little-endian f32 values, in file order. */
#include "dequant.h"
#include "model/weights.h"
#include "model/gguf.h"
#include "common/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* random blocks of `type` with the f16 scales set to 1.0 (0x3c00), so values stay finite */
static void fill_blocks(int type, uint8_t *p, size_t nblocks, size_t bbytes) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < nblocks * bbytes; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        p[i] = (uint8_t)s;
    }
    for (size_t b = 0; b < nblocks; b++) {
        uint8_t *q = p + b * bbytes;
        if (type == LMC_GGML_Q8_0 || type == LMC_GGML_Q4_0 || type == LMC_GGML_Q5_0) { q[0] = 0x00; q[1] = 0x3c; }
        if (type == LMC_GGML_Q4_K) { q[0] = q[2] = 0x00; q[1] = q[3] = 0x3c; }
        if (type == LMC_GGML_Q6_K) { q[208] = 0x00; q[209] = 0x3c; }
    }
}

static int synthetic(void) {
    static const int types[] = {LMC_GGML_F16, LMC_GGML_BF16, LMC_GGML_Q8_0, LMC_GGML_Q4_0, LMC_GGML_Q5_0, LMC_GGML_Q4_K,
                                LMC_GGML_Q6_K};
    const int64_t row = 4096;
    printf("%-6s %10s %12s   (rows of %lld elements, 64 MB of blocks each)\n", "type", "MB/s in", "Melem/s", (long long)row);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        int64_t block;
        size_t bbytes;
        lmc_ggml_type_block(types[k], &block, &bbytes);
        size_t row_bytes = (size_t)(row / block) * bbytes, rows = ((size_t)64 << 20) / row_bytes;
        uint8_t *src = lmc_xmalloc(rows * row_bytes);
        fill_blocks(types[k], src, rows * (size_t)(row / block), bbytes);
        float *dst = lmc_xmalloc(sizeof(float) * (size_t)row);
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            for (size_t r = 0; r < rows; r++) lmc_dequant(types[k], src + r * row_bytes, dst, row);
            double t = now() - t0;
            if (t < best) best = t;
        }
        printf("%-6s %10.0f %12.0f\n", lmc_ggml_type_name(types[k]), rows * row_bytes / best / 1e6,
               (double)rows * row / best / 1e6);
        free(src);
        free(dst);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return synthetic();
    lmc_gguf *g;
    lmc_err err = {{0}};
    if (lmc_gguf_open(argv[1], &g, &err)) {
        fprintf(stderr, "bench_dequant: %s\n", err.msg);
        return 1;
    }
    FILE *out = argc > 2 ? fopen(argv[2], "wb") : NULL;
    if (argc > 2 && !out) {
        perror(argv[2]);
        return 1;
    }
    double secs[64] = {0};
    int64_t elems[64] = {0};
    for (size_t i = 0; i < lmc_gguf_tensor_count(g); i++) {
        const lmc_gguf_tensor *t = lmc_gguf_tensor_at(g, i);
        int64_t block;
        size_t bbytes;
        lmc_ggml_type_block(t->type, &block, &bbytes);
        if (t->numel == 0) continue;
        size_t row_bytes = (size_t)(t->ne[0] / block) * bbytes;
        float *v = lmc_xmalloc(sizeof(float) * (size_t)t->numel);
        double t0 = now();
        int ok = 1;
        for (int64_t r = 0; r < t->numel / t->ne[0] && ok; r++)
            ok = lmc_dequant(t->type, (const uint8_t *)t->data + r * row_bytes, v + r * t->ne[0], t->ne[0]) == 0;
        if (!ok) {
            fprintf(stderr, "bench_dequant: %s is %s, which lmc does not dequantize; skipped\n", t->name,
                    lmc_ggml_type_name(t->type));
            free(v);
            continue;
        }
        if (t->type < 64) { secs[t->type] += now() - t0; elems[t->type] += t->numel; }
        if (out) {
            fprintf(out, "%s\n%lld\n", t->name, (long long)t->numel);
            fwrite(v, sizeof(float), (size_t)t->numel, out);
        }
        free(v);
    }
    for (int k = 0; k < 64; k++)
        if (elems[k]) printf("%-6s %12lld elements %8.3f s\n", lmc_ggml_type_name(k), (long long)elems[k], secs[k]);
    int rc = 0;
    if (out && fclose(out)) { perror(argv[2]); rc = 1; }
    lmc_gguf_close(g);
    return rc;
}
