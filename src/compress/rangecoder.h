/* rangecoder.h — a range coder (arithmetic coding with bytewise output) for `lmc compress`.
 *
 * The LZMA construction (Subbotin's range coder with carry propagation through a cached byte and a count of
 * pending 0xFF bytes), widened from 32 to 56 bits of range: `low` keeps 56 bits plus a carry bit in a uint64,
 * and the range is renormalised (one byte shifted out) whenever it falls below 2^48. A symbol's interval is
 * range / total · [start, start + size), so with total ≤ 2^30 the quotient r = range / total is at least 2^18
 * and the truncation wastes under 2^-18 of the range per symbol: a 150k-token vocabulary can have a frequency
 * total of 2^30 with a floor of 1 per token and the coder still codes within ~10^-5 bit of -log2(size/total).
 *
 * Everything is integer arithmetic, so the decoder follows the encoder exactly on any machine. The stream ends
 * with the fewest bytes that pin down the last interval (one, where the LZMA flush writes five): the decoder reads
 * zeros past the end, so trailing zero bytes are not written either. A stream's length therefore says nothing
 * about truncation: the file format records it (compress.c). */
#ifndef LMC_RANGECODER_H
#define LMC_RANGECODER_H

#include "common/util.h"

#include <stddef.h>
#include <stdint.h>

#define RC_TOTAL_MAX (1u << 30) /* the largest frequency total a symbol may be coded with */

typedef struct rc_enc {
    uint64_t low;     /* 56 bits of the interval's start, bit 56: a carry into the bytes not yet written */
    uint64_t range;   /* the interval's width, in [2^48, 2^56) between symbols */
    uint8_t  cache;   /* the last byte shifted out of low, held back because a carry may still reach it */
    uint64_t pending; /* bytes held back: the cache, then pending - 1 bytes of 0xFF a carry would turn to 0x00 */
    int      started; /* the first byte (always 0: the interval never leaves [0, 2^56)) was dropped */
    lmc_buf *out;     /* the coded bytes are appended here */
    size_t   start;   /* out->len at init: where this stream begins */
} rc_enc;

void rc_enc_init(rc_enc *e, lmc_buf *out);
/* Codes the symbol whose interval is [start, start + size) of total (0 < size, start + size ≤ total ≤
 * RC_TOTAL_MAX). */
void rc_encode(rc_enc *e, uint32_t start, uint32_t size, uint32_t total);
/* Writes what the decoder needs of low: after this, the stream is complete. */
void rc_enc_finish(rc_enc *e);

typedef struct rc_dec {
    uint64_t       code;    /* the coded value minus the interval's start, < range */
    uint64_t       range;
    uint64_t       r;       /* range / total of the symbol being decoded (set by rc_decode_target) */
    const uint8_t *in;      /* (n) the coded bytes; zeros are read past the end */
    size_t         n, pos;  /* pos: bytes consumed */
} rc_dec;

void rc_dec_init(rc_dec *d, const uint8_t *in, size_t n);
/* The target value in [0, total) that lies in the next symbol's interval; the caller finds the symbol s with
 * start(s) ≤ target < start(s) + size(s) and calls rc_decode_update. Returns -1 (a damaged stream) when the
 * value lies beyond every interval. */
int64_t rc_decode_target(rc_dec *d, uint32_t total);
void    rc_decode_update(rc_dec *d, uint32_t start, uint32_t size);

#endif
