/* fuzz_llama2c_tok.c — a llama2.c tokenizer.bin (src/tokenizer/llama2c.c, reached through lmc_tokenizer_open's
 * sniffing) on arbitrary bytes. Opening must fail with one line, or give a tokenizer whose every id decodes
 * (lmc_token_bytes: a count, 0 for a special token, never more than was asked for without saying so) and that
 * tokenizes a few fixed strings into ids below its vocabulary size. */
#include "fuzz_common.h"
#include "lmc.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    fz_scratch();
    return 0;
}

static void encode(lmc_tokenizer *tok, const char *s) {
    int32_t *ids = NULL;
    size_t k = 0;
    lmc_err e = {{0}};
    if (lmc_tokenize(tok, s, strlen(s), 1, &ids, &k, &e)) {
        FZ_ASSERT(e.msg[0] != 0 && strchr(e.msg, '\n') == NULL);
        return;
    }
    for (size_t i = 0; i < k; i++) FZ_ASSERT(ids[i] >= 0 && ids[i] < lmc_tokenizer_vocab_size(tok));
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("tokenizer.bin", data, size);
    fz_path(path, sizeof path, "tokenizer.bin");
    lmc_tokenizer *tok;
    lmc_err err = {{0}};
    if (lmc_tokenizer_open(path, &tok, &err)) {
        FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL);
        return 0;
    }
    int n = lmc_tokenizer_vocab_size(tok);
    FZ_ASSERT(n >= 0);
    char buf[64];
    for (int32_t id = 0; id < n && id < 4096; id++) FZ_ASSERT(lmc_token_bytes(tok, id, buf, sizeof buf) >= 0);
    FZ_ASSERT(lmc_token_bytes(tok, n, buf, sizeof buf) == -1);
    static const char *texts[] = {"Hello world", "  two  spaces\n\nnewlines", "ünïcödé 日本語 👍🏽", "a", ""};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) encode(tok, texts[i]);
    lmc_tokenizer_free(tok);
    return 0;
}
