/* normalize.c — the text rules CCNet applies to a line: Python's str.strip, normalize_for_dedup, and the
 * paragraph hash (first 8 bytes of SHA-1, little-endian). SHA-1 is nettle's. */
#include "corpus/corpus.h"
#include "common/util.h"
#include "common/bytes32.h"

#include <nettle/sha1.h>
#include <string.h>
#include <utf8proc.h>

/* ---- white space as Python's str.strip sees it --------------------------------------------------- */

/* Python's str.isspace: the Unicode White_Space characters plus the ASCII separators \x1c..\x1f. */
int corpus_py_space(int32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
    return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
           c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The code point that ends at s[end) (end > 0) and where it starts; -1 for a byte that is not one. */
static int32_t last_cp(const char *s, size_t end, size_t *start) {
    size_t i = end - 1;
    while (i > 0 && end - i < 4 && ((unsigned char)s[i] & 0xc0) == 0x80) i--;
    int32_t c;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(end - i), &c) == (utf8proc_ssize_t)(end - i)) {
        *start = i;
        return c;
    }
    *start = end - 1;
    return -1;
}

void corpus_strip(const char *s, size_t len, size_t *b, size_t *e) {
    size_t i = 0, j = len;
    const unsigned char *u = (const unsigned char *)s;
    while (i < j && u[i] < 0x80 && corpus_py_space(u[i])) i++; /* ASCII ends at once: the common case */
    while (j > i && u[j - 1] < 0x80 && corpus_py_space(u[j - 1])) j--;
    if (i < j && u[i] < 0x80 && u[j - 1] < 0x80) {
        *b = i, *e = j;
        return;
    }
    while (i < j) {
        int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(j - i), &c);
        if (n <= 0 || !corpus_py_space(c)) break;
        i += (size_t)n;
    }
    while (j > i) {
        size_t start;
        int32_t c = last_cp(s, j, &start);
        if (c < 0 || !corpus_py_space(c)) break;
        j = start;
    }
    *b = i;
    *e = j;
}

/* ---- normalize_for_dedup --------------------------------------------------------------------------- */

/* CCNet's 34 non-ASCII punctuation characters (text_normalizer.py), which normalize_for_dedup deletes. */
static const int32_t CCNET_PUNCT[] = {
    0xff0c, 0x3002, 0x3001, 0x201e, 0x201d, 0x201c, 0xab,   0xbb,   0xff11, 0x300d, 0x300c, 0x300a,
    0x300b, 0xb4,   0x2236, 0xff1a, 0xff1f, 0xff01, 0xff08, 0xff09, 0xff1b, 0x2013, 0x2014, 0xff0e,
    0xff5e, 0x2019, 0x2026, 0x2501, 0x3008, 0x3009, 0x3010, 0x3011, 0xff05, 0x25ba};

static int deleted(int32_t c) {
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return 1;
    if (c < 0xab) return 0;
    for (size_t i = 0; i < sizeof CCNET_PUNCT / sizeof CCNET_PUNCT[0]; i++)
        if (CCNET_PUNCT[i] == c) return 1;
    return 0;
}

static void put_cp(lmc_buf *b, int32_t c) {
    utf8proc_uint8_t u[4];
    lmc_buf_append(b, u, (size_t)utf8proc_encode_char(c, u));
}

/* One code point through lowercase → digits → deletion, in CCNet's order. */
static void normalize_cp(lmc_buf *b, int32_t c) {
    if (c < 0x80) {
        if (c >= 'A' && c <= 'Z') c += 32;
        else if (c >= '0' && c <= '9') c = '0';
        if (!deleted(c)) { char ch = (char)c; lmc_buf_append(b, &ch, 1); }
        return;
    }
    if (c == 0x130) { put_cp(b, 'i'); put_cp(b, 0x307); return; } /* Python's full lowercase of İ: two code points */
    c = utf8proc_tolower(c);
    if (utf8proc_category(c) == UTF8PROC_CATEGORY_ND) c = '0';
    if (!deleted(c)) put_cp(b, c);
}

/* 32 printable ASCII bytes (0x20..0x7e) of s lowered, digits to '0', into w; 0 (nothing written) when one is
 * not printable ASCII. */
static int normalize32(const char *s, char *w) {
    lmc_u8x32 v = lmc_load32(s);
    if (lmc_any32((lmc_u8x32)(v < 0x20) | (lmc_u8x32)(v > 0x7e))) return 0;
    v += LMC_IN32(v, 'A', 'Z') & 32;
    lmc_u8x32 digit = LMC_IN32(v, '0', '9');
    lmc_store32(w, (v & ~digit) | (digit & '0'));
    return 1;
}

void corpus_normalize(const char *line, size_t len, lmc_buf *out) {
    size_t i, end;
    corpus_strip(line, len, &i, &end);
    while (i < end) { /* a run of plain ASCII at once: letters lowered, digits to 0, controls deleted */
        size_t j = i;
        while (j + 32 <= end && !lmc_any32((lmc_u8x32)(lmc_load32(line + j) > 0x7f))) j += 32;
        while (j < end && (unsigned char)line[j] < 0x80) j++;
        if (j > i) {
            lmc_buf_reserve(out, j - i);
            char *w = out->p + out->len;
            for (; i + 32 <= j && normalize32(line + i, w); i += 32) w += 32;
            for (; i < j; i++) {
                char c = line[i];
                if (c >= 'A' && c <= 'Z') *w++ = (char)(c + 32);
                else if (c >= '0' && c <= '9') *w++ = '0';
                else if ((unsigned char)c >= 0x20 && c != 0x7f) *w++ = c;
            }
            out->len = (size_t)(w - out->p);
            if (i == end) break;
        }
        int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)line + i, (utf8proc_ssize_t)(end - i), &c);
        if (n <= 0) { lmc_buf_append(out, line + i, 1); i++; continue; } /* invalid byte: kept as is */
        normalize_cp(out, c);
        i += (size_t)n;
    }
}

char *lmc_corpus_normalize_for_dedup(const char *line, size_t len, size_t *out_len) {
    lmc_buf b = {0};
    corpus_normalize(line, len, &b);
    lmc_buf_append(&b, "", 1);
    *out_len = b.len - 1;
    return b.p;
}

/* ---- the hash -------------------------------------------------------------------------------------- */

uint64_t corpus_hash_bytes(const void *data, size_t n) {
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, n, data);
    sha1_digest(&ctx, sizeof d, d);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | d[i];
    return h;
}

uint64_t corpus_line_hash(const char *line, size_t len, lmc_buf *scratch) {
    scratch->len = 0;
    corpus_normalize(line, len, scratch);
    return corpus_hash_bytes(scratch->p ? scratch->p : "", scratch->len);
}

uint64_t lmc_corpus_line_hash(const char *line, size_t len) {
    lmc_buf b = {0};
    uint64_t h = corpus_line_hash(line, len, &b);
    lmc_buf_free(&b);
    return h;
}

/* ---- a document's units ------------------------------------------------------------------------------- */

uint64_t *corpus_line_hashes(const char *c, size_t len, size_t *n, lmc_buf *scratch) {
    size_t cap = 16;
    uint64_t *h = lmc_xmalloc(cap * sizeof *h);
    *n = 0;
    for (size_t pos = 0;;) {
        const char *nl = memchr(c + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - c) : len;
        if (*n == cap) h = lmc_xrealloc(h, (cap *= 2) * sizeof *h);
        h[(*n)++] = corpus_line_hash(c + pos, e - pos, scratch);
        if (!nl) break;
        pos = e + 1;
    }
    return h;
}

/* The words of normalize_for_dedup of every line, each ended by one ' ', into words; their starts into *at. */
static size_t doc_words(const char *c, size_t len, lmc_buf *words, size_t **at) {
    lmc_buf norm = {0};
    size_t n = 0, cap = 64;
    *at = lmc_xmalloc(cap * sizeof **at);
    for (size_t pos = 0; pos <= len;) {
        const char *nl = memchr(c + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - c) : len;
        norm.len = 0;
        corpus_normalize(c + pos, e - pos, &norm);
        for (size_t i = 0; i < norm.len;) {
            while (i < norm.len && (norm.p[i] == ' ' || norm.p[i] == '\t')) i++;
            size_t j = i;
            while (j < norm.len && norm.p[j] != ' ' && norm.p[j] != '\t') j++;
            if (j == i) break;
            if (n == cap) *at = lmc_xrealloc(*at, (cap *= 2) * sizeof **at);
            (*at)[n++] = words->len;
            lmc_buf_append(words, norm.p + i, j - i);
            lmc_buf_append(words, " ", 1);
            i = j;
        }
        pos = e + 1;
    }
    lmc_buf_free(&norm);
    return n;
}

uint64_t *corpus_gram_hashes(const char *c, size_t len, size_t *n) {
    lmc_buf words = {0};
    size_t *at, n_words = doc_words(c, len, &words, &at);
    *n = n_words >= CORPUS_GRAM ? n_words - CORPUS_GRAM + 1 : 0;
    uint64_t *h = lmc_xmalloc((*n ? *n : 1) * sizeof *h);
    for (size_t i = 0; i < *n; i++) { /* the 13 words joined by ' ', without the last word's ' ' */
        size_t end = i + CORPUS_GRAM < n_words ? at[i + CORPUS_GRAM] : words.len;
        h[i] = corpus_hash_bytes(words.p + at[i], end - at[i] - 1);
    }
    free(at);
    lmc_buf_free(&words);
    return h;
}
