/* tokenizer_open.c — the tokenizer of a model path: a HF directory (tokenizer files), a tokenizer.json, a
 * file written by `lmc convert` (tokenizer stored in its __metadata__), or a GGUF file (its tokenizer.ggml.*
 * metadata). */
#include "model/filekind.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static int tokenizer_from_converted(const char *path, lmc_tokenizer **out, lmc_err *err) {
    lmc_weights *w;
    if (lmc_weights_open(path, &w, err)) return -1;
    const char *tj = lmc_weights_meta(w, "lmc.tokenizer"), *tc = lmc_weights_meta(w, "lmc.tokenizer_config");
    const char *tt = lmc_weights_meta(w, "lmc.tiktoken"), *tl = lmc_weights_meta(w, "lmc.tokenizer_llama2c");
    int rc;
    if (tj) rc = lmc_tokenizer_from_json(tj, strlen(tj), tc, tc ? strlen(tc) : 0, path, out, err);
    else if (tt) rc = lmc_tokenizer_from_tiktoken(tt, strlen(tt), tc, tc ? strlen(tc) : 0, path, out, err);
    else if (tl) {
        uint8_t *bin;
        size_t n;
        if (lmc_base64_decode(tl, strlen(tl), &bin, &n)) rc = lmc_fail(err, "%s: lmc.tokenizer_llama2c is not valid base64", path);
        else { rc = lmc_tokenizer_from_llama2c(bin, n, path, out, err); free(bin); }
    } else rc = lmc_fail(err, "%s: no tokenizer in the file's metadata (lmc.tokenizer / lmc.tiktoken / lmc.tokenizer_llama2c)", path);
    lmc_weights_close(w);
    return rc;
}

int lmc_tokenizer_open(const char *path, lmc_tokenizer **out, lmc_err *err) {
    if (lmc_is_dir(path)) return lmc_tokenizer_open_dir(path, out, err);
    size_t n = strlen(path);
    if (n > 12 && !strcmp(path + n - 12, ".safetensors")) return tokenizer_from_converted(path, out, err);
    if (n > 5 && !strcmp(path + n - 5, ".gguf")) return lmc_tokenizer_open_gguf(path, out, err);
    if (!lmc_file_exists(path)) return lmc_fail(err, "%s: no such file or directory", path);
    switch (lmc_sniff_file(path)) { /* whatever the name says */
    case LMC_KIND_SAFETENSORS: return tokenizer_from_converted(path, out, err);
    case LMC_KIND_GGUF: return lmc_tokenizer_open_gguf(path, out, err);
    case LMC_KIND_LLAMA2C:
        return lmc_fail(err, "%s looks like a llama2.c checkpoint, not a tokenizer: pass its tok*.bin, or the "
                             "directory that holds both", path);
    default: return lmc_tokenizer_open_dir(path, out, err); /* tokenizer.json, tok*.bin, qwen.tiktoken */
    }
}
