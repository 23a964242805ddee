/* fuzz_safetensors.c — the safetensors reader (src/model/safetensors.c) on arbitrary bytes.
 *
 * An input starting with '{' is a sharded index (model.safetensors.index.json) next to two fixed, valid shards;
 * anything else is one .safetensors file. Whatever the bytes, opening must either fail with a message or give
 * tensors whose views lie inside the file: every tensor's bytes are read, names are found again, and the
 * metadata and unsupported-dtype lists are walked. */
#include "fuzz_common.h"
#include "model/safetensors.h"
#include "common/util.h"

#include <stdint.h>

static void write_shards(void) {
    static float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {7, 8}, c[4] = {9, 10, 11, 12};
    lmc_st_entry s1[] = {{"a", LMC_F32, 2, {2, 3}, a, LMC_F32}, {"b", LMC_BF16, 1, {2}, b, LMC_F32}};
    lmc_st_entry s2[] = {{"c", LMC_F16, 2, {2, 2}, c, LMC_F32}};
    const char *meta[] = {"format", "pt", "alias.x", "a"};
    char p[512];
    lmc_err e;
    if (lmc_st_write(fz_path(p, sizeof p, "model-00001-of-00002.safetensors"), s1, 2, meta, 2, &e) ||
        lmc_st_write(fz_path(p, sizeof p, "model-00002-of-00002.safetensors"), s2, 1, NULL, 0, &e)) {
        fprintf(stderr, "fuzz: %s\n", e.msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    fz_scratch();
    write_shards();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    if (size > 0 && data[0] == '{') {
        fz_write("model.safetensors.index.json", data, size);
        fz_path(path, sizeof path, "model.safetensors.index.json");
    } else {
        fz_write("x.safetensors", data, size);
        fz_path(path, sizeof path, "x.safetensors");
    }
    lmc_weights *w;
    lmc_err err = {{0}};
    if (lmc_weights_open(path, &w, &err)) {
        FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL);
        return 0;
    }
    size_t n = lmc_weights_count(w), total = 0;
    volatile unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        const lmc_tensor *t = lmc_weights_at(w, i);
        FZ_ASSERT(t && t->name);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        FZ_ASSERT(t->ndim >= 0 && t->ndim <= 4 && numel == t->numel);
        FZ_ASSERT(t->nbytes == (size_t)t->numel * lmc_dtype_size(t->dtype));
        const unsigned char *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sum += p[k];
        FZ_ASSERT(lmc_weights_find(w, t->name) == t);
        lmc_err e2;
        FZ_ASSERT(lmc_weights_get(w, t->name, &e2) == t);
        FZ_ASSERT(lmc_weights_file_path(w, t->file) != NULL);
        total += t->nbytes;
    }
    (void)sum;
    FZ_ASSERT(total == lmc_weights_total_bytes(w));
    for (size_t i = 0; i < lmc_weights_unsupported_count(w); i++) {
        const char *dt = NULL, *name = lmc_weights_unsupported_at(w, i, &dt);
        FZ_ASSERT(name && dt);
        lmc_err e2 = {{0}};
        FZ_ASSERT(lmc_weights_find(w, name) == NULL || strcmp(lmc_weights_find(w, name)->name, name) != 0);
        (void)lmc_weights_get(w, name, &e2);
    }
    for (size_t i = 0; i < lmc_weights_meta_count(w); i++) {
        const char *v = NULL, *k = lmc_weights_meta_at(w, i, &v);
        FZ_ASSERT(k && v);
        FZ_ASSERT(lmc_weights_meta(w, k) != NULL);
        (void)lmc_weights_find(w, k); /* a metadata alias */
    }
    lmc_err e3;
    FZ_ASSERT(lmc_weights_get(w, "\x01no such tensor", &e3) == NULL);
    lmc_weights_close(w);
    return 0;
}
