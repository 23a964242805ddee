/* fuzz_gguf.c — the GGUF reader (src/model/gguf.c) and the dequantizers (kernels/dequant.c) on arbitrary bytes.
 *
 * Whatever the bytes, opening must either fail with a one-line message or give metadata and tensors that lie
 * inside the file: every metadata element is read through the typed accessors, every tensor's bytes are read
 * and, when lmc has a dequantizer for its type, widened row by row; names and keys are found again. */
#include "fuzz_common.h"
#include "dequant.h"
#include "model/weights.h"
#include "model/gguf.h"
#include "common/util.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    fz_scratch();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("x.gguf", data, size);
    fz_path(path, sizeof path, "x.gguf");
    lmc_gguf *g;
    lmc_err err = {{0}};
    if (lmc_gguf_open(path, &g, &err)) {
        FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL && strstr(err.msg, "x.gguf"));
        return 0;
    }
    volatile double sink = 0;
    FZ_ASSERT(lmc_gguf_version(g) == 2 || lmc_gguf_version(g) == 3);
    uint32_t a = lmc_gguf_alignment(g);
    FZ_ASSERT(a && !(a & (a - 1)));
    for (size_t i = 0; i < lmc_gguf_kv_count(g); i++) {
        const lmc_gguf_kv *kv = lmc_gguf_kv_at(g, i);
        FZ_ASSERT(kv && kv->key && lmc_gguf_find_kv(g, kv->key) == kv);
        FZ_ASSERT(kv->type == LMC_GGUF_ARRAY ? kv->elem != LMC_GGUF_ARRAY : (kv->elem == kv->type && kv->n == 1));
        for (uint64_t k = 0; k < kv->n; k++) {
            int64_t iv;
            double d;
            const char *s;
            size_t len;
            if (lmc_gguf_kv_int(kv, k, &iv) == 0) sink += (double)iv;
            if (lmc_gguf_kv_float(kv, k, &d) == 0) sink += d;
            if (lmc_gguf_kv_str(kv, k, &s, &len) == 0)
                for (size_t c = 0; c < len; c++) sink += (unsigned char)s[c];
        }
        lmc_err e2;
        int64_t iv;
        double d;
        const char *s;
        size_t len;
        (void)lmc_gguf_get_int(g, kv->key, &iv, &e2);
        (void)lmc_gguf_get_float(g, kv->key, &d, &e2);
        (void)lmc_gguf_get_str(g, kv->key, &s, &len, &e2);
    }
    float *row = NULL;
    for (size_t i = 0; i < lmc_gguf_tensor_count(g); i++) {
        const lmc_gguf_tensor *t = lmc_gguf_tensor_at(g, i);
        FZ_ASSERT(t && t->name && lmc_gguf_find_tensor(g, t->name) == t);
        FZ_ASSERT(t->ndim >= 0 && t->ndim <= 4);
        int64_t numel = 1, block;
        size_t bytes;
        for (int d = 0; d < 4; d++) numel *= t->ne[d];
        FZ_ASSERT(numel == t->numel && lmc_ggml_type_block(t->type, &block, &bytes) == 0);
        FZ_ASSERT(t->ne[0] % block == 0 && t->nbytes == (size_t)(numel / block) * bytes);
        FZ_ASSERT((t->data == NULL) == (t->nbytes == 0));
        const unsigned char *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sink += p[k];
        if (t->numel > 0 && t->numel <= (1 << 16)) {
            size_t row_bytes = (size_t)(t->ne[0] / block) * bytes;
            row = lmc_xrealloc(row, sizeof(float) * (size_t)t->ne[0]);
            for (int64_t r = 0; r < t->numel / t->ne[0]; r++)
                if (lmc_dequant(t->type, p + r * row_bytes, row, t->ne[0]) == 0)
                    for (int64_t k = 0; k < t->ne[0]; k++) sink += row[k];
        }
    }
    free(row);
    (void)sink;
    lmc_err e3;
    FZ_ASSERT(lmc_gguf_get_tensor(g, "\x01no such tensor", &e3) == NULL);
    lmc_gguf_close(g);
    return 0;
}
