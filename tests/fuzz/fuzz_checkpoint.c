/* fuzz_checkpoint.c — the checkpoint reader (src/eval/checkpoint.c) on arbitrary file contents, for a fixed
 * fingerprint (16 windows, 4 documents; the seeds in tests/fuzz/checkpoint/ match it). Whatever the bytes, opening
 * must fail with a one-line message, or load records that are then readable, accept one more window, and reopen
 * with that window recorded; a torn last line is dropped at most once. */
#include "fuzz_common.h"
#include "eval/checkpoint.h"
#include "common/util.h"

#include <math.h>
#include <stdint.h>

static lmc_ckpt_fp fp;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    fz_scratch();
    memset(&fp, 0, sizeof fp);
    snprintf(fp.lmc_version, sizeof fp.lmc_version, "fuzz");
    memset(fp.lmc_build, 'b', 64);
    snprintf(fp.blas, sizeof fp.blas, "OpenBLAS test / Haswell");
    snprintf(fp.cpu, sizeof fp.cpu, "avx2 fma");
    memset(fp.model_sha256, 'a', 64);
    memset(fp.tokenizer_sha256, 'c', 64);
    snprintf(fp.compute, sizeof fp.compute, "f32");
    memset(fp.data_sha256, 'd', 64);
    fp.file_num = -1;
    fp.block_size = 8;
    fp.stride = 4;
    fp.docs = 4;
    fp.tokens = 69;
    fp.windows = 16;
    memset(fp.tokens_sha256, 'e', 64);
    snprintf(fp.model_path, sizeof fp.model_path, "m");
    snprintf(fp.data_path, sizeof fp.data_path, "d.jsonl");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("c.ckpt", data, size);
    fz_path(path, sizeof path, "c.ckpt");
    lmc_ckpt *c;
    lmc_err err = {{0}};
    if (lmc_ckpt_open(path, &fp, &c, &err)) {
        FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL);
        return 0;
    }
    size_t done = lmc_ckpt_done(c), seen = 0, missing = fp.windows;
    FZ_ASSERT(done <= fp.windows && lmc_ckpt_torn(c) <= 1);
    for (size_t k = 0; k < fp.windows; k++) {
        double v;
        const lmc_ckpt_part *p;
        size_t n;
        if (!lmc_ckpt_get(c, k, &v, &p, &n)) { missing = k; continue; }
        FZ_ASSERT(isfinite(v) && n >= 1 && n <= fp.docs);
        for (size_t i = 0; i < n; i++) FZ_ASSERT(p[i].doc < fp.docs && isfinite(p[i].nll) && (i == 0 || p[i].doc > p[i - 1].doc));
        seen++;
    }
    FZ_ASSERT(seen == done);
    if (missing < fp.windows) {
        lmc_ckpt_part part = {1, 0.25};
        FZ_ASSERT(lmc_ckpt_append(c, missing, 0.25, &part, 1, &err) == 0);
    }
    FZ_ASSERT(lmc_ckpt_close(c, &err) == 0);
    FZ_ASSERT(lmc_ckpt_open(path, &fp, &c, &err) == 0);
    FZ_ASSERT(lmc_ckpt_done(c) == done + (missing < fp.windows) && lmc_ckpt_torn(c) == 0);
    lmc_ckpt_close(c, NULL);
    return 0;
}
