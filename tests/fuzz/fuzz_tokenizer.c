/* fuzz_tokenizer.c — tokenizer.json loading (lmc_tokenizer_from_json) on arbitrary text, then encoding.
 *
 * An input "TOKENIZER_JSON\n==config==\nCONFIG_JSON" also passes a tokenizer_config.json (BOS rules). When the
 * tokenizer loads, a few fixed strings (ASCII, whitespace runs, digits, multi-byte and astral characters) and
 * the input itself (when it is valid UTF-8) are tokenized; every id must be non-negative. */
#include "fuzz_common.h"
#include "lmc.h"
#include "tokenizer/tokenizer.h"
#include "common/util.h"

#include <stdint.h>

static void encode(lmc_tokenizer *tok, const char *s, size_t n) {
    for (int special = 0; special < 2; special++) {
        int32_t *ids = NULL;
        size_t k = 0;
        lmc_err e = {{0}};
        if (lmc_tokenize(tok, s, n, special, &ids, &k, &e)) {
            FZ_ASSERT(e.msg[0] != 0);
            continue;
        }
        /* Not "< lmc_tokenizer_vocab_size": a post-processor may name ids outside the vocabulary (HF emits them
         * as configured too); the model rejects such ids when it embeds them. */
        for (size_t i = 0; i < k; i++) FZ_ASSERT(ids[i] >= 0);
        free(ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data, *cfg = NULL;
    size_t n = size, cn = 0;
    static const char sep[] = "\n==config==\n";
    const char *at = memmem(s, n, sep, sizeof sep - 1);
    if (at) {
        cfg = at + sizeof sep - 1;
        cn = (size_t)(s + n - cfg);
        n = (size_t)(at - s);
    }
    lmc_tokenizer *tok;
    lmc_err err = {{0}};
    if (lmc_tokenizer_from_json(s, n, cfg, cn, "fuzz/tokenizer.json", &tok, &err)) {
        FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL);
        return 0;
    }
    static const char *texts[] = {
        "Hello world", "  leading and   inner   spaces\n\n\ttabs\r\n", "12345 3.14159 1,000,000",
        "ünïcödé façade — “quotes” 日本語のテキスト", "emoji 👨‍👩‍👧‍👦 🇭🇰 👍🏽 𝔘𝔫𝔦", "a", "", "<s></s><unk> [CLS]",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) encode(tok, texts[i], strlen(texts[i]));
    if (lmc_utf8_validate(s, size < 512 ? size : 512, NULL, NULL)) encode(tok, s, size < 512 ? size : 512);
    FZ_ASSERT(lmc_tokenizer_hash(tok) && strlen(lmc_tokenizer_hash(tok)) == 64);
    int bos = lmc_tokenizer_bos(tok);
    FZ_ASSERT(bos >= -1 && lmc_tokenizer_vocab_size(tok) >= 0);
    lmc_tokenizer_free(tok);
    return 0;
}
