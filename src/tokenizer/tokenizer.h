/* tokenizer.h — internal tokenizer API (the public part is in lmc.h).
 *
 * The tokenizer applies a HuggingFace tokenizer.json as data (normalizer → pre-tokenizer → BPE model →
 * post-processor), Qwen-1's tiktoken file, or a llama2.c tokenizer.bin, and decides BOS exactly as SPEC §2
 * (the transformers rule). It never sees models, windows or files other than its own.
 *
 * Thread safety: one lmc_tokenizer may be used by one thread at a time (it owns a word cache).
 */
#ifndef LMC_TOKENIZER_H
#define LMC_TOKENIZER_H

#include "lmc.h"
#include <stddef.h>
#include <stdint.h>

/* From a directory: tokenizer.json (or tokenizer.json.gz) + optional tokenizer_config.json; or, when there is
 * no tokenizer.json, qwen.tiktoken[.gz] (Qwen-1); or a tokenizer.json file path itself. (lmc_tokenizer_open in
 * lmc.h also accepts converted model files; it calls this for directories.) */
int lmc_tokenizer_open_dir(const char *dir, lmc_tokenizer **out, lmc_err *err);

/* From in-memory tokenizer.json text and (optional, may be NULL) tokenizer_config.json text. `origin` names
 * the source in error messages (e.g. the file path). */
int lmc_tokenizer_from_json(const char *tokenizer_json, size_t len, const char *config_json, size_t config_len,
                            const char *origin, lmc_tokenizer **out, lmc_err *err);

/* From a tiktoken ranks file (Qwen-1 `qwen.tiktoken`: "base64 rank" lines) with Qwen-1's pattern and
 * special tokens; config_json may be NULL. */
int lmc_tokenizer_from_tiktoken(const char *ranks, size_t len, const char *config_json, size_t config_len,
                                const char *origin, lmc_tokenizer **out, lmc_err *err);

/* From a llama2.c tokenizer.bin (e.g. tok512.bin): run.c's score-driven merges, BOS 1, dummy prefix space,
 * byte fallback to <0xXX> tokens (id = byte + 3). */
int lmc_tokenizer_from_llama2c(const void *bin, size_t len, const char *origin, lmc_tokenizer **out,
                               lmc_err *err);

/* From a GGUF file's tokenizer.ggml.* metadata (gguf_vocab.c): model "llama" (SentencePiece BPE with scores)
 * or "gpt2" (byte-level BPE with merges and the pre-tokenizer named by tokenizer.ggml.pre), tokenizing as the
 * HF tokenizer the file was converted from. `origin` names the source in errors (NULL: the GGUF's path). The
 * tokenizer copies what it needs: g may be closed afterwards. */
struct lmc_gguf;
int lmc_tokenizer_from_gguf(const struct lmc_gguf *g, const char *origin, lmc_tokenizer **out, lmc_err *err);
int lmc_tokenizer_open_gguf(const char *path, lmc_tokenizer **out, lmc_err *err);

/* BOS id added by lmc_tokenize(add_special = 1), or -1 when none is added. */
int lmc_tokenizer_bos(const lmc_tokenizer *tok);

/* lmc_tokenizer_vocab_size: lmc.h */

#endif
