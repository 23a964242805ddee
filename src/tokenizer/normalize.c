/* normalize.c — character classes (Rust's char predicates, which HF uses) and the normalizers.
 *
 * Each normalizer maps a valid UTF-8 string to a valid UTF-8 string. A Sequence was flattened at load, so
 * tk_normalize applies tokenizer.norms[] in order, ping-ponging between two scratch buffers. A normalizer
 * that would not change its input (e.g. NFC of text below U+0300) passes it through without a copy.
 */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- UTF-8 ------------------------------------------------------------------------------------ */

size_t tk_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- character classes --------------------------------------------------------------------------- */

/* Rust char::is_whitespace: the Unicode White_Space property. */
bool tk_is_whitespace(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Rust char::is_numeric: general categories Nd, Nl, No (so '½' and '²' are numeric). */
bool tk_is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* HF's is_punc: char::is_ascii_punctuation (which includes $+<=>^`|~) or a Unicode P* category. */
bool tk_is_punctuation(uint32_t c) {
    if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                         (c >= 0x7B && c <= 0x7E);
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* Rust regex \w: Alphabetic, M*, Nd, Pc, Join_Control (letters and Nl stand in for Alphabetic). */
bool tk_is_word_char(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (c == 0x200C || c == 0x200D) return true;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC;
}

static bool is_mark(uint32_t c) {
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

/* ---- Unicode normalization forms ----------------------------------------------------------------- */

/* Below U+0300 every character is its own NFC and nothing composes with it unless a combining character
 * (>= U+0300) follows; lead bytes of those are >= 0xCC. Other forms change Latin-1 characters too. */
static bool unchanged_by_form(tk_norm_kind k, const char *s, size_t n) {
    unsigned char limit = k == TK_NORM_NFC ? 0xCC : 0x80;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= limit) return false;
    return true;
}

static int unicode_form(tk_norm_kind k, const char *s, size_t n, lmc_buf *out, const char *origin,
                        lmc_err *err) {
    utf8proc_option_t opt = UTF8PROC_STABLE;
    switch (k) {
    case TK_NORM_NFC: opt |= UTF8PROC_COMPOSE; break;
    case TK_NORM_NFD: opt |= UTF8PROC_DECOMPOSE; break;
    case TK_NORM_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opt);
    if (r < 0) return lmc_fail(err, "%s: unicode normalization failed: %s", origin, utf8proc_errmsg(r));
    lmc_buf_append(out, dst, (size_t)r);
    free(dst);
    return 0;
}

int tk_nfc(const char *s, size_t n, lmc_buf *out, const char *origin, lmc_err *err) {
    out->len = 0;
    if (unchanged_by_form(TK_NORM_NFC, s, n)) { lmc_buf_append(out, s, n); return 0; }
    return unicode_form(TK_NORM_NFC, s, n, out, origin, err);
}

/* ---- the other normalizers --------------------------------------------------------------------------- */

/* Rust char::to_lowercase, one character at a time as HF's NormalizedString::lowercase does (no final-sigma
 * rule). U+0130 is the one unconditional multi-character lowercase mapping. */
static void lowercase(const char *s, size_t n, lmc_buf *out) {
    for (size_t i = 0; i < n;) {
        size_t cl;
        uint32_t c = tk_utf8_decode(s + i, &cl);
        if (c < 0x80) {
            char b = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            lmc_buf_append(out, &b, 1);
        } else if (c == 0x130) {
            lmc_buf_append(out, "i\xCC\x87", 3);
        } else {
            char enc[4];
            lmc_buf_append(out, enc, tk_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)c), enc));
        }
        i += cl;
    }
}

static void strip(const tk_norm *nm, const char *s, size_t n, lmc_buf *out, bool *at_start) {
    size_t a = 0, b = n;
    if (nm->strip_left)
        while (a < b) {
            size_t cl;
            if (!tk_is_whitespace(tk_utf8_decode(s + a, &cl))) break;
            a += cl;
        }
    if (nm->strip_right)
        while (b > a) {
            size_t k = b - 1;
            while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
            size_t cl;
            if (!tk_is_whitespace(tk_utf8_decode(s + k, &cl))) break;
            b = k;
        }
    if (a > 0) *at_start = false;
    lmc_buf_append(out, s + a, b - a);
}

static void strip_accents(const char *s, size_t n, lmc_buf *out) {
    for (size_t i = 0; i < n;) {
        size_t cl;
        uint32_t c = tk_utf8_decode(s + i, &cl);
        if (!is_mark(c)) lmc_buf_append(out, s + i, cl);
        i += cl;
    }
}

static int replace(lmc_tokenizer *t, const tk_norm *nm, const char *s, size_t n, lmc_buf *out, bool *at_start,
                   lmc_err *err) {
    tk_segs segs = {0};
    if (tk_find_matches(t, &nm->m, s, n, &segs, err)) { free(segs.v); return -1; }
    for (size_t i = 0; i < segs.n; i++) {
        const tk_seg *g = &segs.v[i];
        if (!g->is_match) { lmc_buf_append(out, s + g->start, g->end - g->start); continue; }
        lmc_buf_append(out, nm->str, nm->str_len);
        if (g->start == 0 && g->end > 0 && nm->str_len == 0) *at_start = false;
    }
    free(segs.v);
    return 0;
}

static void bytelevel(const lmc_tokenizer *t, const char *s, size_t n, lmc_buf *out) {
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        lmc_buf_append(out, t->bytelevel[b], t->bytelevel_len[b]);
    }
}

/* ---- the normalizer ------------------------------------------------------------------------------------ */

/* Applies one normalizer from s into out; returns 1 when s is unchanged (and nothing was written). */
static int apply_one(lmc_tokenizer *t, const tk_norm *nm, const char *s, size_t n, lmc_buf *out, bool *at_start,
                     lmc_err *err) {
    switch (nm->kind) {
    case TK_NORM_NFC: case TK_NORM_NFD: case TK_NORM_NFKC: case TK_NORM_NFKD:
        if (unchanged_by_form(nm->kind, s, n)) return 1;
        return unicode_form(nm->kind, s, n, out, t->origin, err);
    case TK_NORM_LOWERCASE: lowercase(s, n, out); return 0;
    case TK_NORM_STRIP: strip(nm, s, n, out, at_start); return 0;
    case TK_NORM_STRIP_ACCENTS: strip_accents(s, n, out); return 0;
    case TK_NORM_PREPEND: /* HF: only a non-empty string gets the prefix */
        if (n == 0) return 1;
        lmc_buf_append(out, nm->str, nm->str_len);
        lmc_buf_append(out, s, n);
        return 0;
    case TK_NORM_REPLACE: return replace(t, nm, s, n, out, at_start, err);
    case TK_NORM_BYTELEVEL: bytelevel(t, s, n, out); return 0;
    }
    return 1;
}

int tk_normalize(lmc_tokenizer *t, const char *s, size_t n, const char **out, size_t *out_n, bool *at_start,
                 lmc_err *err) {
    const char *cur = s;
    size_t cur_n = n;
    for (size_t i = 0; i < t->n_norms; i++) {
        lmc_buf *dst = (cur == t->norm_a.p) ? &t->norm_b : &t->norm_a;
        dst->len = 0;
        lmc_buf_append(dst, "", 0); /* allocated, so dst->p never equals a foreign pointer by accident */
        int rc = apply_one(t, &t->norms[i], cur, cur_n, dst, at_start, err);
        if (rc < 0) return -1;
        if (rc == 1) continue;
        cur = dst->p;
        cur_n = dst->len;
    }
    *out = cur;
    *out_n = cur_n;
    return 0;
}

void tk_norm_free(tk_norm *nm) {
    free(nm->str);
    tk_matcher_free(&nm->m);
}
