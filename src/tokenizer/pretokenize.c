/* pretokenize.c — regexes, splitting (HF NormalizedString::split with every SplitDelimiterBehavior), and the
 * pre-tokenizer stages, which end in the BPE model.
 *
 * Splitting is two steps, as in HF: tk_find_matches lists the segments of a piece, alternating text between
 * matches and matches (is_match), covering the whole piece; apply_behavior turns them into the output pieces
 * (dropping empty ones, as PreTokenizedString::split does).
 *
 * The stages run depth-first: stage k splits (and maybe rewrites) one piece and hands each sub-piece to stage
 * k+1; after the last stage comes the model. This gives the same order of ids as HF's stage-by-stage loop,
 * because every stage works on each piece independently. Stage k's scratch lives in tokenizer.levels[k], so a
 * deeper stage never overwrites the text its caller is still iterating over.
 */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

/* GPT-2's pre-tokenization pattern, used by ByteLevel(use_regex = true). */
const char tk_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* ---- regexes ---------------------------------------------------------------------------------- */

/* HF compiles with Oniguruma (Ruby syntax), where `$` and `^` are line anchors: PCRE2_MULTILINE with LF as
 * the only newline gives the same. The pattern text is used as is (never normalized). */
int tk_regex_compile(tk_regex *re, const char *pat, size_t len, const char *origin, lmc_err *err) {
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) return lmc_fail(err, "%s: out of memory compiling a regex", origin);
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int code;
    PCRE2_SIZE at;
    re->code = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &code, &at, cc);
    pcre2_compile_context_free(cc);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return lmc_fail(err, "%s: regex /%.*s%s/ does not compile (PCRE2, at offset %zu): %s", origin,
                        len > 80 ? 80 : (int)len, pat, len > 80 ? "..." : "", (size_t)at, (char *)msg);
    }
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

void tk_regex_free(tk_regex *re) {
    if (re->code) pcre2_code_free(re->code);
    re->code = NULL;
}

/* Leftmost match in s[0..n) at or after `from`: 1 (and *ms, *me), 0 when none, -1 on a PCRE2 error. The
 * subject was validated as UTF-8 once, so PCRE2 does not check it again (which would make this O(n^2)). */
static int regex_search(lmc_tokenizer *t, const tk_regex *re, const char *s, size_t n, size_t from, size_t *ms,
                        size_t *me, lmc_err *err) {
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, from, 0, t->md, t->mctx)
                     : pcre2_match(re->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, t->md, t->mctx);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return lmc_fail(err, "%s: regex match failed: %s", t->origin, (char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

/* ---- finding matches ----------------------------------------------------------------------------- */

/* Oniguruma's find_iter (the onig crate, which HF uses): an empty match right where the previous match ended
 * is skipped by stepping one character. */
static int find_regex(lmc_tokenizer *t, const tk_regex *re, const char *s, size_t n, tk_segs *out, lmc_err *err) {
    size_t prev = 0, from = 0, last_match_end = 0;
    bool have_last = false;
    while (from <= n) {
        size_t ms, me;
        int rc = regex_search(t, re, s, n, from, &ms, &me, err);
        if (rc < 0) return -1;
        if (rc == 0) break;
        if (ms == me && have_last && last_match_end == me) {
            from += from < n ? tk_utf8_len((unsigned char)s[from]) : 1;
            continue;
        }
        from = me;
        have_last = true;
        last_match_end = me;
        if (prev != ms) tk_segs_push(out, prev, ms, 0);
        tk_segs_push(out, ms, me, 1);
        prev = me;
    }
    if (prev != n) tk_segs_push(out, prev, n, 0);
    return 0;
}

static void find_literal(const char *lit, size_t lit_len, const char *s, size_t n, tk_segs *out) {
    size_t prev = 0;
    if (lit_len)
        for (size_t from = 0; from + lit_len <= n;) {
            const char *hit = memmem(s + from, n - from, lit, lit_len);
            if (!hit) break;
            size_t ms = (size_t)(hit - s);
            if (prev != ms) tk_segs_push(out, prev, ms, 0);
            tk_segs_push(out, ms, ms + lit_len, 1);
            prev = from = ms + lit_len;
        }
    if (prev != n) tk_segs_push(out, prev, n, 0);
}

static bool char_in_class(const tk_matcher *m, uint32_t c) {
    switch (m->cc) {
    case TK_CC_NUMERIC: return tk_is_numeric(c);
    case TK_CC_PUNCT: return tk_is_punctuation(c);
    case TK_CC_WHITESPACE: return tk_is_whitespace(c);
    case TK_CC_ONE_CHAR: return c == m->ch;
    }
    return false;
}

/* HF's Pattern for a char predicate: every matching character is a match of its own. */
static void find_chars(const tk_matcher *m, const char *s, size_t n, tk_segs *out) {
    size_t last = 0;
    for (size_t i = 0; i < n;) {
        size_t cl;
        uint32_t c = tk_utf8_decode(s + i, &cl);
        if (char_in_class(m, c)) {
            if (last < i) tk_segs_push(out, last, i, 0);
            tk_segs_push(out, i, i + cl, 1);
            last = i + cl;
        }
        i += cl;
    }
    if (last < n) tk_segs_push(out, last, n, 0);
}

int tk_find_matches(lmc_tokenizer *t, const tk_matcher *m, const char *s, size_t n, tk_segs *out, lmc_err *err) {
    out->n = 0;
    if (n == 0) { tk_segs_push(out, 0, 0, 0); return 0; }
    switch (m->kind) {
    case TK_MATCH_REGEX: return find_regex(t, &m->re, s, n, out, err);
    case TK_MATCH_LITERAL: find_literal(m->lit, m->lit_len, s, n, out); return 0;
    case TK_MATCH_CHARS: find_chars(m, s, n, out); return 0;
    }
    return 0;
}

void tk_matcher_free(tk_matcher *m) {
    tk_regex_free(&m->re);
    free(m->lit);
    m->lit = NULL;
}

/* ---- behaviours ------------------------------------------------------------------------------------ */

static void push_nonempty(tk_segs *out, size_t a, size_t b) {
    if (b > a) tk_segs_push(out, a, b, 0);
}

/* HF NormalizedString::split after find_matches: `invert` flips which segments are matches, then the
 * behaviour decides what is kept and what is glued together. */
static void apply_behavior(const tk_segs *in, tk_behavior behavior, bool invert, tk_segs *out) {
    out->n = 0;
    const tk_seg *g = in->v;
    size_t n = in->n;
#define MATCH(i) ((g[i].is_match != 0) != invert)
    switch (behavior) {
    case TK_ISOLATED:
        for (size_t i = 0; i < n; i++) push_nonempty(out, g[i].start, g[i].end);
        break;
    case TK_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!MATCH(i)) push_nonempty(out, g[i].start, g[i].end);
        break;
    case TK_MERGED_WITH_PREVIOUS: /* a match joins the piece before it */
    case TK_CONTIGUOUS: {         /* runs of matches, and runs of non-matches, become one piece */
        bool prev_match = false;
        size_t first = out->n;
        for (size_t i = 0; i < n; i++) {
            bool m = MATCH(i);
            bool glue = behavior == TK_CONTIGUOUS ? (m == prev_match) : (m && !prev_match);
            if (glue && out->n > first) out->v[out->n - 1].end = g[i].end;
            else tk_segs_push(out, g[i].start, g[i].end, 0);
            prev_match = m;
        }
        break;
    }
    case TK_MERGED_WITH_NEXT: { /* a match joins the piece after it: the same fold, right to left */
        bool prev_match = false;
        for (size_t k = n; k-- > 0;) {
            bool m = MATCH(k);
            if (m && !prev_match && out->n > 0) out->v[out->n - 1].start = g[k].start;
            else tk_segs_push(out, g[k].start, g[k].end, 0);
            prev_match = m;
        }
        for (size_t i = 0, j = out->n; i + 1 < j; i++, j--) { /* back to left-to-right order */
            tk_seg tmp = out->v[i];
            out->v[i] = out->v[j - 1];
            out->v[j - 1] = tmp;
        }
        break;
    }
    }
#undef MATCH
    if (behavior != TK_ISOLATED && behavior != TK_REMOVED) { /* drop the empty pieces */
        size_t k = 0;
        for (size_t i = 0; i < out->n; i++)
            if (out->v[i].end > out->v[i].start) out->v[k++] = out->v[i];
        out->n = k;
    }
}

/* ---- the stages -------------------------------------------------------------------------------------- */

static int next_stage_each(lmc_tokenizer *t, size_t level, const char *s, const tk_segs *pieces, bool at_start,
                           tk_ids *out, lmc_err *err) {
    for (size_t i = 0; i < pieces->n; i++) {
        const tk_seg *r = &pieces->v[i];
        if (tk_pretokenize(t, level + 1, s + r->start, r->end - r->start, at_start && r->start == 0, out, err))
            return -1;
    }
    return 0;
}

static int stage_split(lmc_tokenizer *t, size_t level, const char *s, size_t n, bool at_start, tk_ids *out,
                       lmc_err *err) {
    const tk_pretok *p = &t->pretoks[level];
    tk_level *lv = &t->levels[level];
    if (tk_find_matches(t, &p->m, s, n, &lv->segs, err)) return -1;
    apply_behavior(&lv->segs, p->behavior, p->invert, &lv->out);
    return next_stage_each(t, level, s, &lv->out, at_start, out, err);
}

/* HF ByteLevel pre-tokenizer: prefix space, regex split on the raw text, then each byte of each piece becomes
 * its GPT-2 alphabet character. */
static int stage_bytelevel(lmc_tokenizer *t, size_t level, const char *s, size_t n, bool at_start, tk_ids *out,
                           lmc_err *err) {
    const tk_pretok *p = &t->pretoks[level];
    tk_level *lv = &t->levels[level];
    if (p->add_prefix_space && s[0] != ' ') {
        lv->a.len = 0;
        lmc_buf_append(&lv->a, " ", 1);
        lmc_buf_append(&lv->a, s, n);
        s = lv->a.p;
        n = lv->a.len;
    }
    lv->out.n = 0;
    if (p->use_regex) {
        if (tk_find_matches(t, &p->m, s, n, &lv->segs, err)) return -1;
        apply_behavior(&lv->segs, TK_ISOLATED, false, &lv->out);
    } else {
        tk_segs_push(&lv->out, 0, n, 0);
    }
    for (size_t i = 0; i < lv->out.n; i++) {
        const tk_seg *r = &lv->out.v[i];
        lv->b.len = 0;
        for (size_t k = r->start; k < r->end; k++) {
            unsigned char b = (unsigned char)s[k];
            lmc_buf_append(&lv->b, t->bytelevel[b], t->bytelevel_len[b]);
        }
        if (tk_pretokenize(t, level + 1, lv->b.p, lv->b.len, at_start && r->start == 0, out, err)) return -1;
    }
    return 0;
}

/* HF Metaspace: ' ' -> replacement; prepend it (always, or only on the piece at the very start of the input);
 * then optionally split before each replacement character. */
static int stage_metaspace(lmc_tokenizer *t, size_t level, const char *s, size_t n, bool at_start, tk_ids *out,
                           lmc_err *err) {
    const tk_pretok *p = &t->pretoks[level];
    tk_level *lv = &t->levels[level];
    lv->a.len = 0;
    /* HF tests the text after the replacement: it starts with the replacement or with a space */
    bool starts_with_rep = s[0] == ' ' || (n >= p->rep_len && memcmp(s, p->rep, p->rep_len) == 0);
    if (!starts_with_rep && (p->prepend == TK_PREPEND_ALWAYS || (p->prepend == TK_PREPEND_FIRST && at_start)))
        lmc_buf_append(&lv->a, p->rep, p->rep_len);
    for (size_t i = 0; i < n;) {
        const char *hit = memchr(s + i, ' ', n - i);
        size_t stop = hit ? (size_t)(hit - s) : n;
        lmc_buf_append(&lv->a, s + i, stop - i);
        if (!hit) break;
        lmc_buf_append(&lv->a, p->rep, p->rep_len);
        i = stop + 1;
    }
    if (!p->split) return tk_pretokenize(t, level + 1, lv->a.p, lv->a.len, at_start, out, err);
    tk_matcher m = {.kind = TK_MATCH_CHARS, .cc = TK_CC_ONE_CHAR, .ch = p->rep_cp};
    if (tk_find_matches(t, &m, lv->a.p, lv->a.len, &lv->segs, err)) return -1;
    apply_behavior(&lv->segs, TK_MERGED_WITH_NEXT, false, &lv->out);
    return next_stage_each(t, level, lv->a.p, &lv->out, at_start, out, err);
}

int tk_pretokenize(lmc_tokenizer *t, size_t level, const char *s, size_t n, bool at_start, tk_ids *out,
                   lmc_err *err) {
    if (n == 0) return 0;
    if (level == t->n_pretoks) return tk_bpe_encode(&t->bpe, s, n, out, t->origin, err);
    switch (t->pretoks[level].kind) {
    case TK_PT_SPLIT: return stage_split(t, level, s, n, at_start, out, err);
    case TK_PT_BYTELEVEL: return stage_bytelevel(t, level, s, n, at_start, out, err);
    case TK_PT_METASPACE: return stage_metaspace(t, level, s, n, at_start, out, err);
    }
    return 0;
}

void tk_pretok_free(tk_pretok *p) { tk_matcher_free(&p->m); }
