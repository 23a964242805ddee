/* fuzz_llama2c.c — a llama2.c "version 0" checkpoint (.bin) through lmc_convert (tools/convert.c), with the
 * 285-token tokenizer.bin of tests/fuzz/llama2c_tok/synthetic.bin (make fuzz runs from the repository root); a
 * converted file is then opened as a model. The first byte picks the mode:
 *   even: the rest is the .bin as given, so the header's checks and the size check are what is fuzzed;
 *   odd:  the rest is a 28-byte header whose vocabulary is set to the tokenizer's 285 (its sign, shared or
 *         separate classifier, kept), followed by weight bytes repeated to the exact size the header asks for
 *         when that is at most 96 KiB — a size libFuzzer would almost never hit — so that conversion and the
 *         converted model's loading see arbitrary shapes and floats (NaN, infinities, subnormals).
 * Converting must fail with one line or write a file that lmc_model_open opens or refuses with one line. */
#include "fuzz_common.h"
#include "lmc.h"
#include "lmc_tools.h"

#include <stdint.h>

enum { VOCAB = 285, MAX_FILE = 96 << 10 };

static char tok_path[512], bin_path[512], out_path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    char *tok;
    size_t n;
    lmc_err err = {{0}};
    if (lmc_read_file("tests/fuzz/llama2c_tok/synthetic.bin", &tok, &n, &err)) {
        fprintf(stderr, "fuzz_llama2c: %s (run from the repository root)\n", err.msg);
        abort();
    }
    fz_write("tokenizer.bin", tok, n);
    free(tok);
    fz_path(tok_path, sizeof tok_path, "tokenizer.bin");
    fz_path(bin_path, sizeof bin_path, "model.bin");
    fz_path(out_path, sizeof out_path, "model.safetensors");
    return 0;
}

/* The bytes the header h asks for (tools/convert.c l2c_expected_size), or 0 when it is not plausible. */
static uint64_t expected_bytes(const int32_t h[7]) {
    if (h[0] <= 0 || h[0] > 4096 || h[1] <= 0 || h[1] > 4096 || h[2] <= 0 || h[2] > 64 || h[3] <= 0 || h[4] <= 0 ||
        h[6] <= 0 || h[6] > 4096 || h[0] % h[3] || h[3] % h[4] || (h[0] / h[3]) % 2)
        return 0;
    uint64_t D = (uint64_t)h[0], H = (uint64_t)h[1], L = (uint64_t)h[2], V = VOCAB, head = D / (uint64_t)h[3];
    uint64_t KV = head * (uint64_t)h[4];
    uint64_t floats = V * D + L * D + 2 * L * D * D + 2 * L * KV * D + L * D + 3 * L * H * D + D +
                      (uint64_t)h[6] * head + (h[5] > 0 ? 0 : V * D);
    return 28 + 4 * floats;
}

/* The odd mode's file: the header (vocabulary set) and weight bytes repeated to the expected size. */
static size_t fix_up(const uint8_t *data, size_t size, uint8_t **file) {
    int32_t h[7] = {0};
    memcpy(h, data, size < 28 ? size : 28);
    h[5] = h[5] < 0 ? -VOCAB : VOCAB;
    uint64_t want = expected_bytes(h);
    if (want == 0 || want > MAX_FILE) want = 28 + (size > 28 ? size - 28 : 0);
    *file = calloc(1, (size_t)want);
    memcpy(*file, h, 28);
    const uint8_t *w = data + (size < 28 ? size : 28);
    size_t nw = size > 28 ? size - 28 : 0;
    for (size_t i = 28; nw && i < want; i++) (*file)[i] = w[(i - 28) % nw];
    return (size_t)want;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t *file = NULL;
    size_t n = size - 1;
    if (data[0] & 1) n = fix_up(data + 1, size - 1, &file);
    fz_write("model.bin", file ? file : data + 1, n);
    free(file);
    lmc_err err = {{0}};
    if (lmc_convert(bin_path, out_path, LMC_CONVERT_KEEP_DTYPE, tok_path, &err)) {
        FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL);
        return 0;
    }
    lmc_model *m;
    lmc_model_opts mo = {.threads = 1};
    if (lmc_model_open(out_path, &mo, &m, &err)) FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL);
    else lmc_model_close(m);
    unlink(out_path);
    return 0;
}
