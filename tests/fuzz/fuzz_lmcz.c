/* fuzz_lmcz.c — lmcz_decompress (src/compress/compress.c): the .lmcz header and the coded stream, on arbitrary
 * bytes, with the tiny GGUF test model tests/data/gguf/llama-f32.gguf (its tokenizer embedded; make fuzz runs from
 * the repository root). The first byte picks the mode:
 *   even: the rest is the file as given, so the header's checks (magic, version, CRC-32s, identities, lengths)
 *         are what is fuzzed;
 *   odd:  the rest is laid over a genuine header of this model (made at start-up by compressing a short text)
 *         from its window field on: the model, tokenizer and arithmetic identities are kept, the original's length
 *         is cut to at most 8 bytes and the window to under 6 positions (0 stays possible: it is refused) — the
 *         decoder's work is a model step per symbol, as for a genuine file that long — and both CRC-32s are
 *         recomputed, so that any coded stream reaches the range decoder: random bytes would almost never pass a
 *         CRC-32.
 * Decompressing must fail with one line, or give exactly the header's length of bytes. */
#include "fuzz_common.h"
#include "compress/compress.h"
#include "lmc.h"
#include "lmc_tools.h"

#include <stdint.h>

/* The odd mode's bounds: each decoded symbol is one step of the model, and each window its KV cache. */
enum { MAX_LENGTH = 8, MAX_WINDOW = 6 };

static lmc_model     *model;
static lmc_tokenizer *tok;
static uint8_t        genuine[LMCZ_HEADER_BYTES]; /* a header this model wrote */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *path = "tests/data/gguf/llama-f32.gguf";
    lmc_model_opts mo = {.threads = 1};
    lmc_err err = {{0}};
    if (lmc_model_open(path, &mo, &model, &err) || lmc_tokenizer_open(path, &tok, &err)) {
        fprintf(stderr, "fuzz_lmcz: %s (run from the repository root)\n", err.msg);
        abort();
    }
    static const char text[] = "The cat sat on the mat.";
    lmcz_opts o = {0};
    lmcz_stats st;
    lmc_buf out = {0};
    if (lmcz_compress(model, tok, (const uint8_t *)text, sizeof text - 1, "seed", &o, &out, &st, &err)) {
        fprintf(stderr, "fuzz_lmcz: %s\n", err.msg);
        abort();
    }
    memcpy(genuine, out.p, LMCZ_HEADER_BYTES);
    lmc_buf_free(&out);
    return 0;
}

/* The fuzz bytes over the genuine header from its window field on (identities restored), the stream after it. */
static size_t fix_up(const uint8_t *data, size_t size, uint8_t *file) {
    memcpy(file, genuine, LMCZ_HEADER_BYTES);
    size_t head = size < LMCZ_HEADER_BYTES - LMCZ_H_WINDOW ? size : LMCZ_HEADER_BYTES - LMCZ_H_WINDOW;
    memcpy(file + LMCZ_H_WINDOW, data, head);
    memcpy(file + LMCZ_H_MODEL, genuine + LMCZ_H_MODEL, LMCZ_H_STREAM_LEN - LMCZ_H_MODEL);
    size_t stream = size - head;
    memcpy(file + LMCZ_HEADER_BYTES, data + head, stream);
    lmcz_put_le(file + LMCZ_H_WINDOW, lmcz_get_le(file + LMCZ_H_WINDOW, 4) % MAX_WINDOW, 4);
    lmcz_put_le(file + LMCZ_H_LENGTH, lmcz_get_le(file + LMCZ_H_LENGTH, 6) % MAX_LENGTH + 1, 6);
    lmcz_put_le(file + LMCZ_H_STREAM_LEN, stream, 6);
    lmcz_put_le(file + LMCZ_H_STREAM_CRC, lmcz_crc32(file + LMCZ_HEADER_BYTES, stream), 4);
    lmcz_put_le(file + LMCZ_H_HEADER_CRC, lmcz_crc32(file, LMCZ_H_HEADER_CRC), 4);
    return LMCZ_HEADER_BYTES + stream;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t *file = malloc(LMCZ_HEADER_BYTES + size);
    size_t n = size - 1;
    if (data[0] & 1) n = fix_up(data + 1, size - 1, file);
    else memcpy(file, data + 1, n);
    uint8_t *orig = NULL;
    size_t len = 0;
    lmcz_opts o = {0};
    lmcz_stats st;
    lmc_err err = {{0}};
    if (lmcz_decompress(model, tok, file, n, "f.lmcz", &o, &orig, &len, &st, &err)) {
        FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL);
    } else {
        FZ_ASSERT(n >= LMCZ_HEADER_BYTES && len == lmcz_get_le(file + LMCZ_H_LENGTH, 6));
        free(orig);
    }
    free(file);
    return 0;
}
