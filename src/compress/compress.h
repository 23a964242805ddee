/* compress.h — `lmc compress` / `lmc decompress`: a language model's next-token distribution drives a range
 * coder (rangecoder.h), so a file costs about the model's NLL in bits. The format and the design are described
 * at the top of compress.c and in README "Compressing a file". */
#ifndef LMC_COMPRESS_H
#define LMC_COMPRESS_H

#include "lmc.h"
#include "lmc_tools.h" /* lmcz_compress, lmcz_decompress, their options and stats */
#include "common/util.h"

#include <stddef.h>
#include <stdint.h>

#define LMCZ_VERSION      2 /* 2: the dummy prefix space of SentencePiece tokenizers is coded (compress.c) */

/* Byte offsets of the header's fields (compress.c describes them); integers little-endian. */
enum {
    LMCZ_H_MAGIC = 0,       /* "LMCZ" */
    LMCZ_H_VERSION = 4,     /* u8 */
    LMCZ_H_COMPUTE = 5,     /* u8: 0 f32 */
    LMCZ_H_WINDOW = 6,      /* u32 */
    LMCZ_H_LENGTH = 10,     /* u48: bytes of the original */
    LMCZ_H_CRC = 16,        /* u32: CRC-32 of the original */
    LMCZ_H_MODEL = 20,      /* 8 bytes of lmc_model_sha256 */
    LMCZ_H_TOKENIZER = 28,  /* 4 bytes of lmc_tokenizer_hash */
    LMCZ_H_ARITH = 32,      /* 4 bytes of SHA-256(lmcz_arith_text) */
    LMCZ_H_STREAM_LEN = 36, /* u48: bytes of the coded stream */
    LMCZ_H_STREAM_CRC = 42, /* u32: CRC-32 of the coded stream */
    LMCZ_H_HEADER_CRC = 46, /* u32: CRC-32 of the header's bytes before this field */
    /* the header is LMCZ_HEADER_BYTES (lmc_tools.h) = 50 bytes long */
};
#define LMCZ_TOTAL_BITS   30  /* frequency total 2^30: a floor of 1 per token costs 2^-30 of the range each */

/* What decides the model's probabilities bit for bit on this machine, besides the model and the tokenizer:
 * the format version, compute dtype, the kernels the model runs (lmc_model_desc.kernels), OpenBLAS's build and
 * kernel core, the CPU features the hand-written kernels dispatch on. A file decodes only where this text is
 * the same (the header holds 8 bytes of its SHA-256). Static storage, rewritten by each call. */
const char *lmcz_arith_text(const lmc_model *m);

/* ---- the shared probability path (exposed for tests) ---- */

/* Integer frequencies for one coding step: symbols 0..n_tok-1 are tokens, n_tok the escape symbol.
 * cum: (n_tok + 2) cumulative frequencies, cum[0] = 0, cum[n_tok + 1] the total (2^LMCZ_TOTAL_BITS for a table
 * from logits, n_tok + 1 for the flat one). */
typedef struct lmcz_table {
    int       n_tok;
    uint32_t *cum;   /* (n_tok + 2) */
    double   *e;     /* (n_tok) scratch: exp(logit - max) */
} lmcz_table;

/* From logits (at least n_tok of them): p_i = exp(l_i - max) / Σ, every term in double in index order with the
 * program's own exp (basic operations only: the same bits on every IEEE machine, whatever libm), then
 * freq_i = 1 + floor(p_i · R), the rounding remainder to the first most likely token, and esc_freq for the
 * escape symbol. Fails on a non-finite logit. */
int  lmcz_table_logits(lmcz_table *t, const float *logits, uint32_t esc_freq, lmc_err *err);
/* Every token and the escape equally likely (the first token of a context when the tokenizer has no BOS). */
void lmcz_table_flat(lmcz_table *t);
void lmcz_table_init(lmcz_table *t, int n_tok);
void lmcz_table_free(lmcz_table *t);
/* The symbol whose interval holds target (binary search over cum). */
int  lmcz_table_find(const lmcz_table *t, uint32_t target);

/* The header's little-endian fields (n bytes) and its CRC-32s (zlib's, over any length). */
void     lmcz_put_le(uint8_t *p, uint64_t v, int n);
uint64_t lmcz_get_le(const uint8_t *p, int n);
uint32_t lmcz_crc32(const uint8_t *p, size_t n);

/* exp(x) for x ≤ 0 from additions, multiplications and ldexp only (|relative error| < 1e-15). */
double lmcz_exp(double x);

#endif
