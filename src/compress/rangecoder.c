/* rangecoder.c — see rangecoder.h. */
#include "compress/rangecoder.h"

#define RC_BITS 56
#define RC_MASK ((1ull << RC_BITS) - 1)
#define RC_BOT  (1ull << 48) /* renormalise below this */

/* ---- encoder ----------------------------------------------------------------------------------- */

void rc_enc_init(rc_enc *e, lmc_buf *out) {
    e->low = 0;
    e->range = RC_MASK;
    e->cache = 0;
    e->pending = 1; /* the cache byte: 0, and never written (see shift_low) */
    e->started = 0;
    e->out = out;
    e->start = out->len;
}

/* Moves the top byte of low's 56 bits out. It is written only once no carry can change it: when it is not
 * 0xFF (a carry would stop there), or when a carry has arrived (then it and every held 0xFF take it). */
static void shift_low(rc_enc *e) {
    if (e->low < (0xFFull << 48) || e->low > RC_MASK) {
        uint8_t carry = (uint8_t)(e->low >> RC_BITS);
        uint8_t b = (uint8_t)(e->cache + carry);
        for (; e->pending; e->pending--) {
            if (e->started) lmc_buf_append(e->out, &b, 1);
            e->started = 1; /* the initial cache byte is always 0 (no carry reaches it): not written */
            b = (uint8_t)(0xFF + carry);
        }
        e->cache = (uint8_t)(e->low >> 48);
    }
    e->pending++;
    e->low = (e->low << 8) & RC_MASK;
}

void rc_encode(rc_enc *e, uint32_t start, uint32_t size, uint32_t total) {
    uint64_t r = e->range / total;
    e->low += r * start;
    e->range = r * size;
    while (e->range < RC_BOT) {
        e->range <<= 8;
        shift_low(e);
    }
}

void rc_enc_finish(rc_enc *e) {
    /* Any value in [low, low + range) identifies the symbols; since range ≥ 2^48 one of them is a multiple of
     * 2^48, whose only nonzero byte is its top one (and a possible carry). Two shifts write that byte; the zeros
     * after it, and any zeros before them, are left out: the decoder reads zeros past the end. */
    e->low = (e->low + (RC_BOT - 1)) & ~(RC_BOT - 1);
    shift_low(e);
    shift_low(e);
    while (e->out->len > e->start && e->out->p[e->out->len - 1] == 0) e->out->len--;
}

/* ---- decoder ----------------------------------------------------------------------------------- */

static uint8_t next_byte(rc_dec *d) {
    if (d->pos >= d->n) return 0; /* the encoder left out the stream's trailing zeros */
    return d->in[d->pos++];
}

void rc_dec_init(rc_dec *d, const uint8_t *in, size_t n) {
    d->in = in;
    d->n = n;
    d->pos = 0;
    d->code = 0;
    d->range = RC_MASK;
    d->r = 1;
    /* the encoder's unwritten first byte is 0: the first 7 bytes of the stream fill the 56 bits */
    for (int i = 0; i < RC_BITS / 8; i++) d->code = (d->code << 8) | next_byte(d);
}

int64_t rc_decode_target(rc_dec *d, uint32_t total) {
    d->r = d->range / total;
    uint64_t v = d->code / d->r;
    return v < total ? (int64_t)v : -1;
}

void rc_decode_update(rc_dec *d, uint32_t start, uint32_t size) {
    d->code -= d->r * start;
    d->range = d->r * size;
    while (d->range < RC_BOT) {
        d->range <<= 8;
        d->code = ((d->code << 8) | next_byte(d)) & RC_MASK;
    }
}
