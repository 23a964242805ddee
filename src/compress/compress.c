/* compress.c — `lmc compress` / `lmc decompress` (compress.h): a file coded token by token with the model's
 * next-token probabilities, so that it costs about the model's NLL in bits (the ts_zip / NNCP idea; Delétang et
 * al., "Language Modeling Is Compression").
 *
 * The file (all integers little-endian; offsets are LMCZ_H_* in compress.h), 50 bytes of header and the
 * coded stream, so that a file is within 64 bytes + 1% of the ideal size even when the input is one byte:
 *
 *   0  "LMCZ"            magic
 *   4  u8  version       LMCZ_VERSION
 *   5  u8  compute       0: f32 (the only value written: f32 steps are exact across thread counts)
 *   6  u32 window        W: positions per context, BOS included; the context restarts every W tokens
 *  10  u48 length        bytes of the original (≥ 1)
 *  16  u32 crc32         CRC-32 (zlib) of the original
 *  20   8 bytes          model fingerprint: the first 8 bytes of lmc_model_sha256 (config, tensor names, shapes
 *                        and weights)
 *  28   4 bytes          tokenizer: the first 4 bytes of lmc_tokenizer_hash
 *  32   4 bytes          arithmetic: the first 4 bytes of SHA-256(lmcz_arith_text)
 *  36  u48 stream bytes  length of the coded stream that follows
 *  42  u32 stream crc    CRC-32 of the coded stream: damage is found before the model runs, even in bits that
 *                        decoding does not depend on
 *  46  u32 header crc    CRC-32 of bytes 0..45
 *  50  ...               the range coder's bytes (rangecoder.h)
 *
 * Symbols. The alphabet is the tokenizer's tokens (those the model has logits for) plus one escape symbol. The
 * input is split into maximal valid UTF-8 runs and the bytes between them. A run is tokenized as a whole and
 * used only when its tokens' bytes (lmc_token_bytes) give back the run exactly; otherwise each line, then the
 * line's text and its newline, then each character of what fails, is tried alone (text that begins with a space
 * is also tried without it, for SentencePiece's dummy prefix); what still fails, and every invalid byte, is
 * coded byte by byte: as the token whose bytes are that single byte (byte-level BPE, <0xXX> byte fallback and tiktoken have
 * all 256), or, for a byte with no such token, as the escape symbol followed by the byte at 1/256. So any
 * input round-trips: invalid UTF-8, NUL, CRLF, text the normalizer would change. The escape gets frequency 1
 * when every byte has a token (it is never needed then) and 2^22 of 2^30 (8 bits) when some byte has none.
 *
 * Dummy prefix. A SentencePiece tokenizer (llama2.c's tok512.bin, HF Metaspace) puts a space before the text:
 * "Once upon" is [" Once", " upon"], whose bytes are " Once upon". Coding the input as it is would spell its
 * first word in byte tokens the model never saw after BOS (30 bits each, the table's floor, while the model
 * gives them 40: the coded size fell below the model's "own" NLL of a tokenization nobody evaluates). So when
 * the tokenizer adds that space (coder_init asks it), the symbols spell " " + the original, planned exactly as
 * above, and the decoder drops the leading space: the tokens coded are those `lmc tokenize` and `lmc eval` see.
 *
 * Determinism. The decoder must compute bit-identical probabilities to the encoder's, so:
 *   - both sides step the model one token at a time through the same lmc_model_step calls (the encoder does not
 *     prefill: a prefill sums in another order and differs in the last bits);
 *   - the step's kernels are thread-count independent (fixed sgemm tiles, one thread per attention row, see
 *     kernels/matmul.c and attention.c; tests/test_compress.c checks 1 vs 2 threads bit for bit);
 *   - logits become integer frequencies in one function (lmcz_table_logits) used by both sides: sequential
 *     loops in double, with this file's own exp built from +, ×, floor and ldexp, so libm plays no part; this
 *     file and rangecoder.c are compiled with -ffp-contract=off (no FMA contraction; the Makefile has no fast-math
 *     anywhere);
 *   - across machines OpenBLAS picks kernels by CPU and the hand-written kernels by SIMD level, so the header
 *     records a hash of everything the probabilities depend on (lmcz_arith_text) and decompression refuses a
 *     file made under another one instead of producing garbage. The CRC-32 of the original catches anything left.
 *
 * Context. Each context starts with BOS (when the tokenizer adds one; otherwise its first token is coded with
 * every symbol equally likely) and holds at most W positions; after W tokens the cache is cleared and the next
 * token starts a new context, as a file split into W-token windows would be. W is in the header. */
#include "compress/compress.h"
#include "cpu.h"
#include "kernels.h"
#include "compress/rangecoder.h"
#include "common/threads.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define TOTAL (1u << LMCZ_TOTAL_BITS)
#define ESC_FREQ_RARE 1u         /* every byte has a token: the escape is never coded */
#define ESC_FREQ_USED (1u << 22) /* some byte has none: an escape costs 8 bits */

/* ---- the probability path (encoder and decoder) ------------------------------------------------ */

double lmcz_exp(double x) {
    if (!(x > -745.0)) return 0.0; /* below the smallest subnormal (and -inf) */
    if (x > 709.0) x = 709.0;
    /* x = k ln2 + r with |r| ≤ ln2/2; ln2 split so that k · LN2_HI is exact (Cody & Waite) */
    const double LOG2E = 1.4426950408889634, LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    double kd = floor(x * LOG2E + 0.5);
    double r = (x - kd * LN2_HI) - kd * LN2_LO;
    /* Taylor series to r^13 / 13!: the next term is below 1e-17 for |r| ≤ 0.35 */
    static const double inv_fact[14] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
                                        1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800,
                                        1.0 / 479001600, 1.0 / 6227020800.0};
    double p = inv_fact[13];
    for (int i = 12; i >= 0; i--) p = p * r + inv_fact[i];
    return ldexp(p, (int)kd);
}

void lmcz_table_init(lmcz_table *t, int n_tok) {
    t->n_tok = n_tok;
    t->cum = lmc_xmalloc(sizeof *t->cum * (size_t)(n_tok + 2));
    t->e = lmc_xmalloc(sizeof *t->e * (size_t)n_tok);
}

void lmcz_table_free(lmcz_table *t) {
    free(t->cum);
    free(t->e);
    t->cum = NULL;
    t->e = NULL;
}

int lmcz_table_logits(lmcz_table *t, const float *logits, uint32_t esc_freq, lmc_err *err) {
    int n = t->n_tok, top = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(logits[i])) return lmc_fail(err, "the model gave a non-finite logit (%g) for token %d", logits[i], i);
        if (logits[i] > logits[top]) top = i;
    }
    double mx = logits[top], sum = 0;
    for (int i = 0; i < n; i++) sum += t->e[i] = lmcz_exp((double)logits[i] - mx);
    /* every token keeps 1, the escape esc_freq; the rest R is shared in proportion to p_i */
    uint32_t R = TOTAL - (uint32_t)n - esc_freq, assigned = 0, *cum = t->cum;
    double scale = (double)R / sum;
    cum[0] = 0;
    for (int i = 0; i < n; i++) {
        double q = t->e[i] * scale;
        uint32_t f = q < (double)R ? (uint32_t)q : R;
        assigned += f;
        cum[i + 1] = cum[i] + 1 + f;
    }
    /* the floors leave R - assigned (< n) unassigned (rounding could even overshoot): the most likely token takes
     * the difference; its share is at least R / n, far more than any overshoot */
    int64_t diff = (int64_t)R - (int64_t)assigned;
    for (int i = top + 1; i <= n; i++) cum[i] = (uint32_t)((int64_t)cum[i] + diff);
    cum[n + 1] = cum[n] + esc_freq;
    return 0;
}

void lmcz_table_flat(lmcz_table *t) {
    for (int i = 0; i <= t->n_tok + 1; i++) t->cum[i] = (uint32_t)i;
}

int lmcz_table_find(const lmcz_table *t, uint32_t target) {
    int lo = 0, hi = t->n_tok; /* the answer s has cum[s] ≤ target < cum[s + 1], 0 ≤ s ≤ n_tok */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (t->cum[mid] <= target) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static uint32_t table_total(const lmcz_table *t) { return t->cum[t->n_tok + 1]; }

/* The model side of coding: which table the next symbol is coded with, stepping the model when a token was
 * coded since the last table and restarting the context every `window` positions. */
typedef struct pred {
    lmc_model  *m;
    lmc_kv     *kv;
    float      *logits;    /* (vocab of the model) */
    lmcz_table  tab;
    int         window;
    int32_t     bos;       /* -1: the tokenizer adds none */
    uint32_t    esc_freq;
    int         restart;   /* the next table starts a new context */
    int32_t     pending;   /* a coded token the model has not seen yet, or -1 */
    int         from_model;/* the current table came from logits (not flat) */
    int         want_lse;  /* the encoder's statistics: also compute log Σ exp(logits) */
    double      lse;
    size_t      contexts;
} pred;

static int pred_open(pred *p, lmc_model *m, int n_tok, int window, int32_t bos, uint32_t esc_freq, lmc_err *err) {
    memset(p, 0, sizeof *p);
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    if (lmc_kv_open(m, window, &p->kv, err)) return -1;
    p->m = m;
    p->logits = lmc_xmalloc(sizeof(float) * (size_t)d.vocab);
    lmcz_table_init(&p->tab, n_tok);
    p->window = window;
    p->bos = bos;
    p->esc_freq = esc_freq;
    p->restart = 1;
    p->pending = -1;
    return 0;
}

static void pred_close(pred *p) {
    lmc_kv_free(p->kv);
    free(p->logits);
    lmcz_table_free(&p->tab);
}

static int table_from_logits(pred *p, lmc_err *err) {
    p->from_model = 1;
    if (p->want_lse) p->lse = logsumexp_f32(p->logits, p->tab.n_tok);
    return lmcz_table_logits(&p->tab, p->logits, p->esc_freq, err);
}

/* Makes p->tab the table of the next symbol. */
static int pred_table(pred *p, lmc_err *err) {
    if (p->restart) {
        p->restart = 0;
        p->pending = -1;
        p->contexts++;
        lmc_kv_reset(p->kv);
        if (p->bos < 0) {
            p->from_model = 0;
            lmcz_table_flat(&p->tab);
            return 0;
        }
        if (lmc_model_step(p->m, p->kv, &p->bos, 1, p->logits, err)) return -1;
        return table_from_logits(p, err);
    }
    if (p->pending < 0) return 0; /* an escaped byte: the model saw nothing new */
    int32_t t = p->pending;
    p->pending = -1;
    if (lmc_model_step(p->m, p->kv, &t, 1, p->logits, err)) return -1;
    return table_from_logits(p, err);
}

/* Token t was coded: the model sees it before the next table, unless the context is full. */
static void pred_push(pred *p, int32_t t) {
    if (lmc_kv_pos(p->kv) >= p->window) p->restart = 1;
    else p->pending = t;
}

/* ---- shared setup: alphabet, byte tokens, fingerprints ----------------------------------------- */

typedef struct coder {
    lmc_model     *m;
    lmc_tokenizer *tok;
    int            n_tok;          /* tokens in the alphabet: the tokenizer's, capped at the model's logits */
    int32_t        byte_tok[256];  /* the lowest token whose bytes are exactly that one byte, or -1 */
    uint32_t       esc_freq;
    char          *piece;          /* (piece_cap) scratch: one token's bytes */
    size_t         piece_cap;
    int            dummy_space;    /* the tokenizer puts a space before the text: the symbols spell " " + input */
} coder;

/* The bytes of token id into c->piece: their count, or ≤ 0 for a token with none (special or absent). */
static long token_bytes(coder *c, int32_t id) {
    long len = lmc_token_bytes(c->tok, id, c->piece, c->piece_cap);
    if (len > (long)c->piece_cap) { /* a long token: grow and ask again */
        c->piece = lmc_xrealloc(c->piece, (size_t)len);
        c->piece_cap = (size_t)len;
        len = lmc_token_bytes(c->tok, id, c->piece, c->piece_cap);
    }
    return len;
}

/* 1 when the tokenizer puts a space before the text it is given (SentencePiece's dummy prefix): "a" comes out
 * as the bytes " a". */
static int adds_dummy_space(coder *c) {
    int32_t *ids;
    size_t n_ids, pos = 0;
    char got[8];
    lmc_err e;
    if (lmc_tokenize(c->tok, "a", 1, 0, &ids, &n_ids, &e)) return 0;
    int ok = 1;
    for (size_t i = 0; i < n_ids && ok; i++) {
        long len = ids[i] >= 0 && ids[i] < c->n_tok ? token_bytes(c, ids[i]) : -1;
        ok = len > 0 && (size_t)len <= sizeof got - pos;
        if (ok) memcpy(got + pos, c->piece, (size_t)len);
        pos += ok ? (size_t)len : 0;
    }
    free(ids);
    return ok && pos == 2 && memcmp(got, " a", 2) == 0;
}

static void coder_init(coder *c, lmc_model *m, lmc_tokenizer *tok) {
    memset(c, 0, sizeof *c);
    c->m = m;
    c->tok = tok;
    c->piece_cap = 256;
    c->piece = lmc_xmalloc(c->piece_cap);
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    int tv = lmc_tokenizer_vocab_size(tok);
    c->n_tok = d.vocab < tv ? d.vocab : tv;
    for (int b = 0; b < 256; b++) c->byte_tok[b] = -1;
    int missing = 256;
    for (int32_t id = 0; id < c->n_tok && missing; id++)
        if (token_bytes(c, id) == 1 && c->byte_tok[(uint8_t)c->piece[0]] < 0) {
            c->byte_tok[(uint8_t)c->piece[0]] = id;
            missing--;
        }
    c->esc_freq = missing ? ESC_FREQ_USED : ESC_FREQ_RARE;
    c->dummy_space = adds_dummy_space(c);
}

static void coder_free(coder *c) { free(c->piece); }

const char *lmcz_arith_text(const lmc_model *m) {
    static char text[1024];
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    snprintf(text, sizeof text, "lmcz %d; lmc %s; compute %s; kernels %s; OpenBLAS %s / %s; cpu %s", LMCZ_VERSION,
             LMC_VERSION, lmc_compute_name(d.compute), d.kernels ? d.kernels : "?",
             lmc_blas_config(), lmc_blas_core(), cpu_features_string());
    return text;
}

/* The first n bytes of a hex digest. */
static void hex_prefix(const char *hex, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (strlen(hex) >= 2 * (i + 1)) lmc_hex_value(hex + 2 * i, 2, 1, &v);
        out[i] = (uint8_t)v;
    }
}

/* The three identities a file is bound to, as the header stores them (from LMCZ_H_MODEL to LMCZ_H_STREAM_LEN):
 * model (8 bytes), tokenizer (4), arithmetic (4). */
static void identities(lmc_model *m, lmc_tokenizer *tok, uint8_t id[LMCZ_H_STREAM_LEN - LMCZ_H_MODEL]) {
    char hex[65];
    lmc_model_sha256(m, hex);
    hex_prefix(hex, id, LMCZ_H_TOKENIZER - LMCZ_H_MODEL);
    hex_prefix(lmc_tokenizer_hash(tok), id + (LMCZ_H_TOKENIZER - LMCZ_H_MODEL), LMCZ_H_ARITH - LMCZ_H_TOKENIZER);
    lmc_sha256_hex(lmcz_arith_text(m), strlen(lmcz_arith_text(m)), hex);
    hex_prefix(hex, id + (LMCZ_H_ARITH - LMCZ_H_MODEL), LMCZ_H_STREAM_LEN - LMCZ_H_ARITH);
}

void lmcz_put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t lmcz_get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

uint32_t lmcz_crc32(const uint8_t *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) { /* zlib takes uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* A signal asked to stop (opts->stop): -1 with the message, and the caller writes nothing. */
static int stopped(const lmcz_opts *o, const char *name, size_t done, size_t total, lmc_err *err) {
    if (!o || !o->stop || !*o->stop) return 0;
    return lmc_fail(err, "%s: interrupted after %zu of %zu bytes: nothing written", name, done, total);
}

static void progress(const lmcz_opts *o, double t0, double *last, size_t done, size_t total, size_t tokens, int final) {
    if (!o || !o->progress) return;
    double now = lmc_now();
    if (!final && now - *last < o->interval) return;
    *last = now;
    lmcz_progress p = {done, total, tokens, now - t0};
    o->progress(&p, o->progress_user);
}

/* ---- encoder: the input as symbols ---------------------------------------------------------------- */

/* Symbols to code: a token id (≥ 0), or -(1 + b) for byte b coded after the escape. */
typedef struct plan {
    int32_t *sym;
    size_t   n, cap;
} plan;

static void plan_push(plan *p, int32_t s) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 4096;
        p->sym = lmc_xrealloc(p->sym, sizeof *p->sym * p->cap);
    }
    p->sym[p->n++] = s;
}

static void plan_bytes(coder *c, plan *p, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) plan_push(p, c->byte_tok[s[i]] >= 0 ? c->byte_tok[s[i]] : -(1 + (int32_t)s[i]));
}

/* Tokenizes t[0..tn) (valid UTF-8) and keeps the tokens only when their bytes are exactly s[0..n): 1 if kept. */
static int plan_tokens(coder *c, plan *p, const uint8_t *t, size_t tn, const uint8_t *s, size_t n) {
    int32_t *ids;
    size_t n_ids, pos = 0;
    lmc_err e;
    if (lmc_tokenize(c->tok, (const char *)t, tn, 0, &ids, &n_ids, &e)) return 0;
    int ok = 1;
    for (size_t i = 0; i < n_ids && ok; i++) {
        long len = ids[i] >= 0 && ids[i] < c->n_tok ? token_bytes(c, ids[i]) : -1;
        ok = len > 0 && (size_t)len <= n - pos && memcmp(s + pos, c->piece, (size_t)len) == 0;
        pos += ok ? (size_t)len : 0;
    }
    ok = ok && pos == n;
    for (size_t i = 0; i < n_ids && ok; i++) plan_push(p, ids[i]);
    free(ids);
    return ok;
}

/* s as tokens: tokenized as it is, or, when it begins with a space, tokenized without that space (a
 * SentencePiece tokenizer puts a space, its "dummy prefix", before the text: " upon a time" is what
 * "upon a time" decodes to). 1 if kept. */
static int plan_text(coder *c, plan *p, const uint8_t *s, size_t n) {
    if (plan_tokens(c, p, s, n, s, n)) return 1;
    return n > 1 && s[0] == ' ' && plan_tokens(c, p, s + 1, n - 1, s, n);
}

/* Character by character: each as tokens if it can be, else byte by byte. */
static void plan_chars(coder *c, plan *p, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) { /* the lead byte gives the length (s is valid UTF-8) */
        size_t cl = s[i] < 0x80 ? 1 : s[i] < 0xE0 ? 2 : s[i] < 0xF0 ? 3 : 4;
        if (!plan_text(c, p, s + i, cl)) plan_bytes(c, p, s + i, cl);
        i += cl;
    }
}

/* A piece without a newline (or a lone newline): whole; else the text before its first space character by
 * character and the rest from that space on (the dummy prefix case: only the first word is lost); else
 * character by character. */
static void plan_piece(coder *c, plan *p, const uint8_t *s, size_t n) {
    if (plan_text(c, p, s, n)) return;
    const uint8_t *sp = memchr(s, ' ', n);
    if (sp && sp > s) {
        size_t k = (size_t)(sp - s), mark = p->n;
        plan_chars(c, p, s, k);
        if (plan_text(c, p, s + k, n - k)) return;
        p->n = mark;
    }
    plan_chars(c, p, s, n);
}

/* A valid UTF-8 run: whole, else line by line (each line whole, else its text and its newline as pieces). */
static void plan_run(coder *c, plan *p, const uint8_t *s, size_t n) {
    if (plan_text(c, p, s, n)) return;
    for (size_t a = 0; a < n;) {
        const uint8_t *nl = memchr(s + a, '\n', n - a);
        size_t b = nl ? (size_t)(nl - s) + 1 : n, body = nl ? b - 1 : b;
        if ((a > 0 || b < n) && plan_text(c, p, s + a, b - a)) { a = b; continue; }
        if (body > a) plan_piece(c, p, s + a, body - a);
        if (nl) plan_piece(c, p, s + body, 1);
        a = b;
    }
}

/* The whole input: valid UTF-8 runs and the invalid bytes between them. *chars: code points + invalid bytes. */
static void plan_input(coder *c, plan *p, const uint8_t *s, size_t n, size_t *chars) {
    *chars = 0;
    for (size_t pos = 0; pos < n;) {
        size_t bad = 0, cp = 0;
        int valid = lmc_utf8_validate((const char *)s + pos, n - pos, &cp, &bad);
        size_t run = valid ? n - pos : bad;
        *chars += cp;
        if (run) plan_run(c, p, s + pos, run);
        pos += run;
        if (!valid) {
            plan_bytes(c, p, s + pos, 1);
            (*chars)++;
            pos++;
        }
    }
}

/* What the symbols spell: the input, or " " + the input when the tokenizer adds a dummy prefix space. */
static void plan_spelled(coder *c, plan *p, const uint8_t *in, size_t n, size_t *chars) {
    if (!c->dummy_space) {
        plan_input(c, p, in, n, chars);
        return;
    }
    uint8_t *s = lmc_xmalloc(n + 1);
    s[0] = ' ';
    memcpy(s + 1, in, n);
    plan_input(c, p, s, n + 1, chars);
    (*chars)--;
    free(s);
}

/* ---- compress ----------------------------------------------------------------------------------- */

/* The window (opts->window, or the default within the model's limit) of an f32 model: 0, or -1 when the model
 * computes in bf16 or the window asked for exceeds the limit: the longest window the model allows, or the context
 * it was trained with, whichever is smaller. */
static int compress_window(const lmc_model *m, const lmcz_opts *opts, int *W, lmc_err *err) {
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    if (d.compute != LMC_COMPUTE_F32) return lmc_fail(err, "%s: compression runs the model in f32 only", d.path);
    int asked = opts && opts->window > 0;
    int limit = d.max_window > 0 && (d.trained_context <= 0 || d.max_window < d.trained_context) ? d.max_window
                                                                                                  : d.trained_context;
    *W = asked ? opts->window : LMCZ_WINDOW_DEFAULT;
    if (!asked && limit > 0 && *W > limit) *W = limit;
    if (limit > 0 && *W > limit)
        return lmc_fail(err, "%s: a window of %d tokens exceeds the model's limit of %d (%s); use --window %d or less",
                        d.path, *W, limit, limit == d.max_window ? "the longest window it allows"
                                                                 : "the context it was trained with", limit);
    return 0;
}

int lmcz_compress(lmc_model *m, lmc_tokenizer *tok, const uint8_t *in, size_t n, const char *name,
                  const lmcz_opts *opts, lmc_buf *out, lmcz_stats *st, lmc_err *err) {
    memset(st, 0, sizeof *st);
    if (n == 0) return lmc_fail(err, "%s: empty input: nothing to compress", name);
    if (lmc_check_tokenizer_fits(m, tok, NULL, err)) return -1;
    int W = 0;
    if (compress_window(m, opts, &W, err)) return -1;
    coder c;
    coder_init(&c, m, tok);
    pred p;
    if (pred_open(&p, m, c.n_tok, W, lmc_tokenizer_bos(tok), c.esc_freq, err)) {
        coder_free(&c);
        return -1;
    }
    p.want_lse = 1;
    double t0 = lmc_now(), last = t0;
    plan pl = {0};
    plan_spelled(&c, &pl, in, n, &st->chars);

    uint8_t h[LMCZ_HEADER_BYTES] = {'L', 'M', 'C', 'Z', LMCZ_VERSION, 0};
    lmcz_put_le(h + LMCZ_H_WINDOW, (uint64_t)W, 4);
    lmcz_put_le(h + LMCZ_H_LENGTH, (uint64_t)n, 6);
    lmcz_put_le(h + LMCZ_H_CRC, lmcz_crc32(in, n), 4);
    identities(m, tok, h + LMCZ_H_MODEL);
    size_t out0 = out->len;
    lmc_buf_append(out, h, sizeof h); /* the stream's length and CRC are filled in at the end */

    rc_enc e;
    rc_enc_init(&e, out);
    const double LN2 = 0.69314718055994530942;
    size_t done = 0;
    int rc = 0;
    for (size_t i = 0; i < pl.n && rc == 0; i++) {
        if (stopped(opts, name, done, n, err) || pred_table(&p, err)) { rc = -1; break; }
        const uint32_t *cum = p.tab.cum, total = table_total(&p.tab);
        int32_t s = pl.sym[i];
        int32_t sym = s >= 0 ? s : c.n_tok;
        uint32_t size = cum[sym + 1] - cum[sym];
        double bits = -log2((double)size / total);
        rc_encode(&e, cum[sym], size, total);
        st->table_bits += bits;
        if (s >= 0) {
            if (p.from_model) {
                st->model_bits += (p.lse - (double)p.logits[s]) / LN2;
                st->model_tokens++;
            } else st->other_bits += bits;
            done += (size_t)token_bytes(&c, s);
            pred_push(&p, s);
        } else {
            rc_encode(&e, (uint32_t)(-s - 1), 1, 256);
            st->other_bits += bits + 8;
            st->table_bits += 8;
            st->escaped_bytes++;
            done++;
        }
        st->tokens++;
        progress(opts, t0, &last, done - (size_t)c.dummy_space, n, st->tokens, 0);
    }
    if (rc == 0) {
        rc_enc_finish(&e);
        uint8_t *hp = (uint8_t *)out->p + out0, *stream = hp + LMCZ_HEADER_BYTES;
        size_t sn = out->len - out0 - LMCZ_HEADER_BYTES;
        lmcz_put_le(hp + LMCZ_H_STREAM_LEN, (uint64_t)sn, 6);
        lmcz_put_le(hp + LMCZ_H_STREAM_CRC, lmcz_crc32(stream, sn), 4);
        lmcz_put_le(hp + LMCZ_H_HEADER_CRC, lmcz_crc32(hp, LMCZ_H_HEADER_CRC), 4);
        progress(opts, t0, &last, n, n, st->tokens, 1);
    } else out->len = out0;
    st->seconds = lmc_now() - t0;
    st->in_bytes = n;
    st->out_bytes = out->len - out0;
    st->window = W;
    st->contexts = p.contexts;
    free(pl.sym);
    pred_close(&p);
    coder_free(&c);
    return rc;
}

/* ---- decompress --------------------------------------------------------------------------------- */

static int check_header(lmc_model *m, lmc_tokenizer *tok, const uint8_t *in, size_t n, const char *name,
                        lmc_err *err) {
    if (n == 0) return lmc_fail(err, "%s: empty file, not an lmc compressed file", name);
    if (n < 4 || memcmp(in, "LMCZ", 4) != 0)
        return lmc_fail(err, "%s: not an lmc compressed file (no LMCZ magic)", name);
    if (n < LMCZ_HEADER_BYTES)
        return lmc_fail(err, "%s: truncated: %zu bytes, shorter than the %d-byte header", name, n, LMCZ_HEADER_BYTES);
    if (in[LMCZ_H_VERSION] != LMCZ_VERSION)
        return lmc_fail(err, "%s: format version %d; this lmc reads version %d", name, in[LMCZ_H_VERSION], LMCZ_VERSION);
    if (lmcz_get_le(in + LMCZ_H_HEADER_CRC, 4) != lmcz_crc32(in, LMCZ_H_HEADER_CRC))
        return lmc_fail(err, "%s: damaged header (checksum mismatch)", name);
    if (in[LMCZ_H_COMPUTE] != 0)
        return lmc_fail(err, "%s: unknown compute dtype %d in the header", name, in[LMCZ_H_COMPUTE]);
    uint8_t id[LMCZ_H_STREAM_LEN - LMCZ_H_MODEL];
    identities(m, tok, id);
    const uint8_t *hid = in + LMCZ_H_MODEL;
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    if (memcmp(id, hid, LMCZ_H_TOKENIZER - LMCZ_H_MODEL) != 0)
        return lmc_fail(err, "%s: was compressed with another model (fingerprint %02x%02x%02x%02x…, %s is "
                             "%02x%02x%02x%02x…): decompress it with the same model", name, hid[0], hid[1], hid[2],
                        hid[3], d.path, id[0], id[1], id[2], id[3]);
    if (memcmp(id + (LMCZ_H_TOKENIZER - LMCZ_H_MODEL), in + LMCZ_H_TOKENIZER, LMCZ_H_ARITH - LMCZ_H_TOKENIZER) != 0)
        return lmc_fail(err, "%s: was compressed with another tokenizer than %s's", name, d.path);
    if (memcmp(id + (LMCZ_H_ARITH - LMCZ_H_MODEL), in + LMCZ_H_ARITH, LMCZ_H_STREAM_LEN - LMCZ_H_ARITH) != 0)
        return lmc_fail(err, "%s: was compressed where the model's arithmetic differs (another CPU kernel path, "
                             "OpenBLAS or lmc version); it decodes only under the same, and this machine runs "
                             "'%s'", name, lmcz_arith_text(m));
    uint64_t W = lmcz_get_le(in + LMCZ_H_WINDOW, 4), len = lmcz_get_le(in + LMCZ_H_LENGTH, 6);
    if (W < 1 || (d.max_window > 0 && W > (uint64_t)d.max_window))
        return lmc_fail(err, "%s: window %llu in the header is outside 1..%d", name, (unsigned long long)W,
                        d.max_window);
    if (len == 0) return lmc_fail(err, "%s: damaged header (original length 0)", name);
    uint64_t sn = lmcz_get_le(in + LMCZ_H_STREAM_LEN, 6), have = n - LMCZ_HEADER_BYTES;
    if (have < sn)
        return lmc_fail(err, "%s: truncated: the coded stream has %llu of its %llu bytes", name,
                        (unsigned long long)have, (unsigned long long)sn);
    if (have > sn)
        return lmc_fail(err, "%s: damaged: %llu bytes after the end of the coded stream", name,
                        (unsigned long long)(have - sn));
    if (lmcz_get_le(in + LMCZ_H_STREAM_CRC, 4) != lmcz_crc32(in + LMCZ_HEADER_BYTES, (size_t)sn))
        return lmc_fail(err, "%s: damaged: the coded stream fails its CRC-32", name);
    return 0;
}

/* buf holds " " + the original (len bytes): the space the tokenizer put before the text goes. */
static int drop_dummy_space(uint8_t *buf, size_t len, const char *name, lmc_err *err) {
    if (buf[0] != ' ') return lmc_fail(err, "%s: damaged: the decoded text does not begin with the tokenizer's space", name);
    memmove(buf, buf + 1, len);
    return 0;
}

int lmcz_decompress(lmc_model *m, lmc_tokenizer *tok, const uint8_t *in, size_t n, const char *name,
                    const lmcz_opts *opts, uint8_t **out, size_t *out_len, lmcz_stats *st, lmc_err *err) {
    memset(st, 0, sizeof *st);
    if (lmc_check_tokenizer_fits(m, tok, NULL, err) || check_header(m, tok, in, n, name, err)) return -1;
    int W = (int)lmcz_get_le(in + LMCZ_H_WINDOW, 4);
    size_t len = (size_t)lmcz_get_le(in + LMCZ_H_LENGTH, 6);
    uint32_t crc = (uint32_t)lmcz_get_le(in + LMCZ_H_CRC, 4);
    coder c;
    coder_init(&c, m, tok);
    size_t spelled = len + (size_t)c.dummy_space; /* bytes the symbols spell */
    uint8_t *buf = malloc(spelled);
    pred p;
    if (!buf || pred_open(&p, m, c.n_tok, W, lmc_tokenizer_bos(tok), c.esc_freq, err)) {
        if (!buf) lmc_fail(err, "%s: out of memory for the %zu-byte original", name, len);
        coder_free(&c);
        free(buf);
        return -1;
    }
    rc_dec dec;
    rc_dec_init(&dec, in + LMCZ_HEADER_BYTES, n - LMCZ_HEADER_BYTES);
    double t0 = lmc_now(), last = t0;
    size_t done = 0;
    int rc = 0;
    while (done < spelled && rc == 0) {
        if (stopped(opts, name, done, len, err) || pred_table(&p, err)) { rc = -1; break; }
        int64_t target = rc_decode_target(&dec, table_total(&p.tab));
        if (target < 0) { rc = lmc_fail(err, "%s: damaged: the coded stream leaves every symbol at byte %zu of the original", name, done); break; }
        int s = lmcz_table_find(&p.tab, (uint32_t)target);
        rc_decode_update(&dec, p.tab.cum[s], p.tab.cum[s + 1] - p.tab.cum[s]);
        if (s == c.n_tok) { /* the escape: one raw byte */
            int64_t b = rc_decode_target(&dec, 256);
            if (b < 0) { rc = lmc_fail(err, "%s: damaged: an escaped byte out of range at byte %zu", name, done); break; }
            rc_decode_update(&dec, (uint32_t)b, 1);
            buf[done++] = (uint8_t)b;
        } else {
            long k = token_bytes(&c, s);
            if (k <= 0 || (size_t)k > spelled - done) {
                rc = lmc_fail(err, "%s: damaged: token %d at byte %zu of the original %s", name, s, done,
                              k <= 0 ? "stands for no bytes" : "runs past the original's length");
                break;
            }
            memcpy(buf + done, c.piece, (size_t)k);
            done += (size_t)k;
            pred_push(&p, s);
        }
        st->tokens++;
        progress(opts, t0, &last, done - (size_t)c.dummy_space, len, st->tokens, 0);
    }
    if (rc == 0 && dec.pos != dec.n)
        rc = lmc_fail(err, "%s: damaged: %zu bytes of the coded stream were not needed", name, dec.n - dec.pos);
    if (rc == 0 && c.dummy_space) rc = drop_dummy_space(buf, len, name, err);
    if (rc == 0 && lmcz_crc32(buf, len) != crc)
        rc = lmc_fail(err, "%s: damaged: the rebuilt data fails its CRC-32 (or this lmc computes the model "
                           "differently from the one that compressed it)", name);
    if (rc == 0) progress(opts, t0, &last, len, len, st->tokens, 1);
    st->seconds = lmc_now() - t0;
    st->in_bytes = len;
    st->out_bytes = n;
    st->window = W;
    st->contexts = p.contexts;
    pred_close(&p);
    coder_free(&c);
    if (rc) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}
