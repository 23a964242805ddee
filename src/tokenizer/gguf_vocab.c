/* gguf_vocab.c — a tokenizer from a GGUF file's `tokenizer.ggml.*` metadata (llama.cpp's vocab format).
 *
 * A GGUF carries the vocabulary as data (tokens in id order, SentencePiece scores, token types, BPE merges as
 * "a b" strings, special ids, BOS/EOS flags) and names the rest: `tokenizer.ggml.model` the algorithm and
 * `tokenizer.ggml.pre` the pre-tokenizer. This file turns both into the same pipeline structs that json_load.c
 * fills from a tokenizer.json, so a GGUF vocab tokenizes exactly as the HF tokenizer.json it was converted from:
 *
 *   model "llama" (SentencePiece BPE): normalizer [Prepend "▁" when add_space_prefix] + Replace " " → "▁", no
 *       pre-tokenizer, BPE that merges the adjacent pair whose concatenation is the token with the highest
 *       score (SentencePiece's rule; the HF converter turns those scores into the merge order), byte fallback
 *       to the <0xXX> tokens. llama.cpp prepends the space to the first text piece and to each piece after a
 *       special token: that is what the Prepend normalizer does in HF, which runs on each piece between added
 *       tokens (the legacy Llama tokenizer.json layout; see the README for the Metaspace "first" layout).
 *   model "gpt2" (byte-level BPE): merges by rank, and the pre-tokenizer its `pre` name stands for (PRE below).
 *
 * Tokens of type control, user-defined and unknown become added tokens matched in the raw text before anything
 * else, as llama.cpp's "parse special" mode and HF's added vocabulary both do (control and unknown ones are
 * special: they decode to nothing). Anything this file does not know (another model, a pre name missing from
 * PRE, a merge naming a token that does not exist) is an error naming it.
 */
#include "model/gguf.h"
#include "tokenizer/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* llama.cpp's token types (tokenizer.ggml.token_type); the numbers are part of the format. */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* ---- pre-tokenizer names ------------------------------------------------------------------------- */

/* One HF pre-tokenizer stage. Regexes are the ones of the HF tokenizer.json each name was detected from
 * (convert_hf_to_gguf_update.py hashes HF's output to pick the name), not llama.cpp's hand-adapted copies:
 * the HF ids are the reference. */
typedef enum ps_kind {
    PS_SPLIT,          /* Split(regex, Isolated) */
    PS_DIGITS,         /* Digits(individual_digits = false): runs of digits */
    PS_DIGITS_EACH,    /* Digits(individual_digits = true) */
    PS_PUNCT_RUNS,     /* Punctuation(Contiguous) */
    PS_BYTES,          /* ByteLevel(use_regex = false): only the byte alphabet */
    PS_BYTES_GPT2,     /* ByteLevel(use_regex = true): GPT-2's regex, then the byte alphabet */
} ps_kind;

typedef struct pre_stage {
    ps_kind     kind;
    const char *regex; /* PS_SPLIT */
} pre_stage;

typedef struct pre_def {
    const char *names[6];      /* tokenizer.ggml.pre values that mean this pipeline */
    bool        nfc;           /* an NFC normalizer first (HF Qwen2; llama.cpp leaves it out) */
    bool        ignore_merges; /* a piece that is a whole token is taken as is (HF ignore_merges) */
    bool        add_bos;       /* llama.cpp's default when the file has no add_bos_token */
    pre_stage   stages[8];
} pre_def;

#define LLAMA3_RE \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN35_RE \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
    "\\s+(?!\\S)|\\s+"
#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"

static const pre_def PRE[] = {
    /* no HF file behind it: llama.cpp's own default for BPE vocabs */
    {{"default"}, false, false, false,
     {{PS_SPLIT, "[\\p{P}\\$\\+<=>\\^~\\|]+"}, {PS_SPLIT, GPT2_RE}, {PS_SPLIT, "\\p{N}+"},
      {PS_SPLIT, "[0-9][0-9][0-9]"}, {PS_BYTES, NULL}}},
    {{"gpt-2", "phi-2", "mpt", "olmo"}, false, false, false, {{PS_BYTES_GPT2, NULL}}},
    {{"llama-bpe", "llama3", "llama-v3"}, false, true, true, {{PS_SPLIT, LLAMA3_RE}, {PS_BYTES, NULL}}},
    {{"dbrx", "smaug-bpe"}, false, false, false, {{PS_SPLIT, LLAMA3_RE}, {PS_BYTES, NULL}}},
    {{"qwen2", "deepseek-r1-qwen"}, true, false, false, {{PS_SPLIT, QWEN2_RE}, {PS_BYTES, NULL}}},
    {{"qwen35"}, false, false, false, {{PS_SPLIT, QWEN35_RE}, {PS_BYTES, NULL}}}, /* no NFC, unlike Qwen2 */
    {{"falcon"}, false, false, false,
     {{PS_PUNCT_RUNS, NULL}, {PS_BYTES_GPT2, NULL}, {PS_DIGITS, NULL}, {PS_SPLIT, "[0-9][0-9][0-9]"}}},
    {{"starcoder", "refact", "command-r", "smollm", "codeshell"}, false, false, false,
     {{PS_DIGITS_EACH, NULL}, {PS_BYTES_GPT2, NULL}}},
    {{"deepseek-llm"}, false, false, false,
     {{PS_SPLIT, "[\r\n]"},
      {PS_SPLIT, "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF"
                 "\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5"
                 "\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA"
                 "\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45"
                 "\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-"
                 "\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107"
                 "\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F"
                 "\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D"
                 "\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17"
                 "\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB"
                 "\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+"},
      {PS_SPLIT, "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+"},
      {PS_SPLIT, "\\s+$"},
      {PS_SPLIT, "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"},
      {PS_DIGITS_EACH, NULL}, {PS_BYTES, NULL}}},
    {{"deepseek-coder"}, false, false, false,
     {{PS_SPLIT, "[\r\n]"}, {PS_SPLIT, "\\s?\\p{L}+"}, {PS_SPLIT, "\\s?\\p{P}+"},
      {PS_SPLIT, "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"}, {PS_DIGITS_EACH, NULL}, {PS_BYTES, NULL}}},
    {{"deepseek-v3"}, false, false, false,
     {{PS_SPLIT, "\\p{N}{1,3}"}, {PS_SPLIT, "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+"},
      {PS_SPLIT, "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
                 " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
      {PS_BYTES, NULL}}},
};

static const pre_def *find_pre(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof PRE / sizeof PRE[0]; i++)
        for (size_t k = 0; k < 6 && PRE[i].names[k]; k++)
            if (strlen(PRE[i].names[k]) == len && memcmp(PRE[i].names[k], name, len) == 0) return &PRE[i];
    return NULL;
}

/* ---- metadata ------------------------------------------------------------------------------------- */

/* The tokenizer.ggml.* values, as views into the GGUF's map. */
typedef struct gv {
    const lmc_gguf    *g;
    const char        *origin;
    bool               spm;      /* model "llama" (else "gpt2") */
    const lmc_gguf_kv *tokens;   /* (n) strings */
    const lmc_gguf_kv *scores;   /* (n) floats, or NULL */
    const lmc_gguf_kv *types;    /* (n) integers, or NULL (all normal) */
    const lmc_gguf_kv *merges;   /* strings "a b", or NULL */
    uint64_t           n;
} gv;

/* An array key: NULL in *out when absent and not required; elements must be strings (want_str), integers
 * (want_int) or numbers. */
static int get_array(const gv *v, const char *key, bool want_str, bool want_int, bool required,
                     const lmc_gguf_kv **out, lmc_err *err) {
    const lmc_gguf_kv *kv = lmc_gguf_find_kv(v->g, key);
    *out = NULL;
    if (!kv) return required ? lmc_fail(err, "%s: no %s in the GGUF metadata", v->origin, key) : 0;
    bool is_str = kv->elem == LMC_GGUF_STRING;
    bool is_float = kv->elem == LMC_GGUF_F32 || kv->elem == LMC_GGUF_F64;
    if (kv->type != LMC_GGUF_ARRAY || is_str != want_str || kv->elem == LMC_GGUF_BOOL || (want_int && is_float))
        return lmc_fail(err, "%s: %s is %s %s, not an array of %s", v->origin, key,
                        kv->type == LMC_GGUF_ARRAY ? "an array of" : "a single", lmc_gguf_vtype_name(kv->elem),
                        want_str ? "strings" : want_int ? "integers" : "numbers");
    *out = kv;
    return 0;
}

/* A bool flag; *out keeps its default when the key is absent. */
static int get_flag(const gv *v, const char *key, bool *out, lmc_err *err) {
    const lmc_gguf_kv *kv = lmc_gguf_find_kv(v->g, key);
    int64_t x;
    if (!kv) return 0;
    if (kv->type != LMC_GGUF_BOOL || lmc_gguf_kv_int(kv, 0, &x))
        return lmc_fail(err, "%s: %s is a %s, not a bool", v->origin, key, lmc_gguf_vtype_name(kv->type));
    *out = x != 0;
    return 0;
}

/* A token id; *id keeps its default when absent, and must name a token (llama.cpp only warns). */
static int get_id(const gv *v, const char *key, int32_t *id, lmc_err *err) {
    const lmc_gguf_kv *kv = lmc_gguf_find_kv(v->g, key);
    int64_t x;
    if (kv) {
        if (kv->type == LMC_GGUF_ARRAY || lmc_gguf_kv_int(kv, 0, &x))
            return lmc_fail(err, "%s: %s is a %s, not an integer", v->origin, key, lmc_gguf_vtype_name(kv->type));
        if (x < 0 || (uint64_t)x >= v->n)
            return lmc_fail(err, "%s: %s = %lld is not a token id (the vocabulary has %llu tokens)", v->origin, key,
                            (long long)x, (unsigned long long)v->n);
        *id = (int32_t)x;
    } else if (*id >= 0 && (uint64_t)*id >= v->n) {
        *id = -1; /* a default past a small vocabulary: none */
    }
    return 0;
}

static void token_at(const gv *v, uint64_t i, const char **s, size_t *len) {
    if (lmc_gguf_kv_str(v->tokens, i, s, len)) { *s = ""; *len = 0; } /* checked to be a string array */
}

static int type_at(const gv *v, uint64_t i) {
    int64_t x;
    return v->types && lmc_gguf_kv_int(v->types, i, &x) == 0 ? (int)x : TT_NORMAL;
}

static bool is_added_type(int type) { return type == TT_CONTROL || type == TT_USER_DEFINED || type == TT_UNKNOWN; }

/* ---- the vocabulary -------------------------------------------------------------------------------- */

/* token string -> id. Control, user-defined and unknown tokens are added tokens; they enter the BPE vocab only
 * when no other token has their string: a user-defined token's text is raw (llama.cpp's converter writes
 * added tokens unencoded), so in a byte-level vocab "ø" the added token must not shadow "ø" the byte 0xF8. */
static int load_vocab(lmc_tokenizer *t, const gv *v, lmc_err *err) {
    tk_bpe *m = &t->bpe;
    tk_strmap_init(&m->vocab, (size_t)v->n);
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t i = 0; i < v->n; i++) {
            const char *s;
            size_t len;
            token_at(v, i, &s, &len);
            if (len == 0 || is_added_type(type_at(v, i)) != (pass == 1)) continue;
            if (pass == 1 && tk_strmap_get(&m->vocab, s, len) >= 0) continue;
            tk_strmap_put(&m->vocab, s, len, (int32_t)i); /* a repeated string: the later id, as llama.cpp */
        }
    size_t n_added = 0;
    for (uint64_t i = 0; i < v->n; i++) n_added += is_added_type(type_at(v, i));
    t->added = lmc_xcalloc(n_added ? n_added : 1, sizeof *t->added);
    for (uint64_t i = 0; i < v->n; i++) {
        int type = type_at(v, i);
        const char *s;
        size_t len;
        token_at(v, i, &s, &len);
        if (!is_added_type(type) || len == 0) continue;
        tk_added *a = &t->added[t->n_added++];
        a->content = lmc_xmalloc(len + 1);
        memcpy(a->content, s, len);
        a->content[len] = 0;
        a->len = len;
        a->id = (int32_t)i;
        a->special = type != TT_USER_DEFINED;
        a->normalized = false; /* matched in the raw text, as llama.cpp does */
    }
    (void)err;
    return 0;
}

/* SentencePiece BPE: per id its string and score, for the highest-score merge rule (bpe.c TK_BPE_LLAMA2C). */
static int load_scores(lmc_tokenizer *t, const gv *v, lmc_err *err) {
    tk_bpe *m = &t->bpe;
    if (!v->scores) return lmc_fail(err, "%s: model \"llama\" needs tokenizer.ggml.scores", v->origin);
    m->mode = TK_BPE_LLAMA2C;
    m->n_tokens = (int32_t)v->n;
    m->strs = lmc_xcalloc((size_t)v->n, sizeof *m->strs);
    m->str_lens = lmc_xcalloc((size_t)v->n, sizeof *m->str_lens);
    m->scores = lmc_xcalloc((size_t)v->n, sizeof *m->scores);
    bool meta_inside = false;
    for (uint64_t i = 0; i < v->n; i++) {
        const char *s;
        size_t len;
        double sc;
        token_at(v, i, &s, &len);
        if (lmc_gguf_kv_float(v->scores, i, &sc))
            return lmc_fail(err, "%s: tokenizer.ggml.scores[%llu] is not a number", v->origin, (unsigned long long)i);
        m->strs[i] = lmc_xmalloc(len + 1);
        memcpy(m->strs[i], s, len);
        m->strs[i][len] = 0;
        m->str_lens[i] = (uint32_t)len;
        m->scores[i] = (float)sc;
        meta_inside |= tk_meta_after_other(s, len);
    }
    /* any token may be a merge's result here, so chunking at "▁" is safe only when none has "▁" inside */
    m->chunk_at_meta = !meta_inside && tk_strmap_get(&m->vocab, TK_META, 3) >= 0;
    m->byte_fallback = true;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = tk_strmap_get(&m->vocab, name, 6);
    }
    return 0;
}

/* Byte-level BPE: merge i is "a b" (split at the first space after the first byte, as llama.cpp does) with
 * rank i; a later duplicate replaces an earlier one (HF). */
static int load_merges(lmc_tokenizer *t, const gv *v, lmc_err *err) {
    tk_bpe *m = &t->bpe;
    if (!v->merges) return lmc_fail(err, "%s: model \"gpt2\" needs tokenizer.ggml.merges", v->origin);
    m->mode = TK_BPE_HF;
    tk_pairmap_init(&m->merges, (size_t)v->merges->n);
    lmc_buf tmp = {0};
    int rc = 0;
    for (uint64_t r = 0; r < v->merges->n && rc == 0; r++) {
        const char *s, *sp;
        size_t len;
        lmc_gguf_kv_str(v->merges, r, &s, &len);
        sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp) {
            rc = lmc_fail(err, "%s: merge %llu \"%.*s\" is not two tokens separated by a space", v->origin,
                          (unsigned long long)r, (int)(len > 60 ? 60 : len), s);
            break;
        }
        size_t alen = (size_t)(sp - s), blen = len - alen - 1;
        int32_t ia = tk_strmap_get(&m->vocab, s, alen), ib = tk_strmap_get(&m->vocab, sp + 1, blen);
        tmp.len = 0;
        lmc_buf_append(&tmp, s, alen);
        lmc_buf_append(&tmp, sp + 1, blen);
        int32_t merged = tk_strmap_get(&m->vocab, tmp.p, tmp.len);
        if (ia < 0 || ib < 0 || merged < 0)
            rc = lmc_fail(err, "%s: merge %llu \"%.*s\" %s \"%.*s\", which is not in the vocabulary", v->origin,
                          (unsigned long long)r, (int)(len > 60 ? 60 : len), s, merged < 0 && ia >= 0 && ib >= 0 ? "makes" : "uses",
                          (int)(ia < 0 ? alen : ib < 0 ? blen : tmp.len), ia < 0 ? s : ib < 0 ? sp + 1 : tmp.p);
        else
            tk_pairmap_put(&m->merges, ia, ib, (uint32_t)r, merged);
    }
    lmc_buf_free(&tmp);
    return rc;
}

/* ---- normalizer and pre-tokenizer -------------------------------------------------------------------- */

static tk_norm *push_norm(lmc_tokenizer *t, tk_norm_kind kind, const char *str) {
    t->norms = lmc_xrealloc(t->norms, (t->n_norms + 1) * sizeof *t->norms);
    tk_norm *nm = &t->norms[t->n_norms++];
    memset(nm, 0, sizeof *nm);
    nm->kind = kind;
    if (str) {
        nm->str_len = strlen(str);
        nm->str = lmc_xstrdup(str);
    }
    return nm;
}

static tk_pretok *push_pretok(lmc_tokenizer *t, tk_pretok_kind kind) {
    tk_pretok *p = &t->pretoks[t->n_pretoks++]; /* PRE has at most 8 stages < TK_MAX_PRETOK */
    memset(p, 0, sizeof *p);
    p->kind = kind;
    return p;
}

static int build_spm_pipeline(lmc_tokenizer *t, bool add_space_prefix) {
    if (add_space_prefix) push_norm(t, TK_NORM_PREPEND, TK_META);
    tk_norm *r = push_norm(t, TK_NORM_REPLACE, TK_META);
    r->m.kind = TK_MATCH_LITERAL;
    r->m.lit = lmc_xstrdup(" ");
    r->m.lit_len = 1;
    return 0;
}

static int build_bpe_pipeline(lmc_tokenizer *t, const pre_def *pre, lmc_err *err) {
    if (pre->nfc) push_norm(t, TK_NORM_NFC, NULL);
    t->bpe.ignore_merges = pre->ignore_merges;
    for (size_t i = 0; i < 8 && (pre->stages[i].kind != PS_SPLIT || pre->stages[i].regex); i++) {
        const pre_stage *st = &pre->stages[i];
        tk_pretok *p;
        switch (st->kind) {
        case PS_SPLIT:
            p = push_pretok(t, TK_PT_SPLIT);
            p->m.kind = TK_MATCH_REGEX;
            p->behavior = TK_ISOLATED;
            if (tk_regex_compile(&p->m.re, st->regex, strlen(st->regex), t->origin, err)) return -1;
            break;
        case PS_DIGITS: case PS_DIGITS_EACH: case PS_PUNCT_RUNS:
            p = push_pretok(t, TK_PT_SPLIT);
            p->m.kind = TK_MATCH_CHARS;
            p->m.cc = st->kind == PS_PUNCT_RUNS ? TK_CC_PUNCT : TK_CC_NUMERIC;
            p->behavior = st->kind == PS_DIGITS_EACH ? TK_ISOLATED : TK_CONTIGUOUS;
            break;
        case PS_BYTES: case PS_BYTES_GPT2:
            p = push_pretok(t, TK_PT_BYTELEVEL);
            p->use_regex = st->kind == PS_BYTES_GPT2;
            p->m.kind = TK_MATCH_REGEX;
            if (p->use_regex && tk_regex_compile(&p->m.re, tk_gpt2_pattern, strlen(tk_gpt2_pattern), t->origin, err))
                return -1;
            break;
        }
    }
    return 0;
}

/* ---- the fingerprint ------------------------------------------------------------------------------------ */

/* SHA-256 over every tokenizer.ggml.* entry (key, type, values) in file order: the same vocabulary gives the same
 * hash whatever else the file holds (weights, chat template, general.*). */
static void set_hash(lmc_tokenizer *t, const lmc_gguf *g) {
    static const char tag[] = "lmc gguf vocab 1";
    lmc_sha256 h;
    lmc_sha256_init(&h);
    lmc_sha256_update(&h, tag, sizeof tag);
    for (size_t k = 0; k < lmc_gguf_kv_count(g); k++) {
        const lmc_gguf_kv *kv = lmc_gguf_kv_at(g, k);
        if (strncmp(kv->key, "tokenizer.ggml.", 15) != 0) continue;
        uint64_t head[3] = {(uint64_t)kv->type, (uint64_t)kv->elem, kv->n};
        lmc_sha256_update(&h, kv->key, strlen(kv->key) + 1);
        lmc_sha256_update(&h, head, sizeof head);
        for (uint64_t i = 0; i < kv->n; i++) {
            const char *s;
            size_t len;
            int64_t x;
            double d;
            if (lmc_gguf_kv_str(kv, i, &s, &len) == 0) {
                uint64_t l = len;
                lmc_sha256_update(&h, &l, 8);
                lmc_sha256_update(&h, s, len);
            } else if (lmc_gguf_kv_int(kv, i, &x) == 0) {
                lmc_sha256_update(&h, &x, 8);
            } else if (lmc_gguf_kv_float(kv, i, &d) == 0) {
                lmc_sha256_update(&h, &d, 8);
            }
        }
    }
    lmc_sha256_final_hex(&h, t->hash);
}

/* ---- the whole vocabulary ------------------------------------------------------------------------------ */

static int build(lmc_tokenizer *t, gv *v, lmc_err *err) {
    const char *model, *pre_name = "default";
    size_t model_len, pre_len = 7;
    if (lmc_gguf_get_str(v->g, "tokenizer.ggml.model", &model, &model_len, err)) return -1;
    if (model_len == 5 && memcmp(model, "llama", 5) == 0) v->spm = true;
    else if (!(model_len == 4 && memcmp(model, "gpt2", 4) == 0))
        return lmc_fail(err, "%s: tokenizer.ggml.model \"%.*s\" is not supported (only \"llama\" and \"gpt2\")",
                        v->origin, (int)(model_len > 60 ? 60 : model_len), model);
    if (get_array(v, "tokenizer.ggml.tokens", true, false, true, &v->tokens, err)) return -1;
    v->n = v->tokens->n;
    if (v->n == 0 || v->n > INT32_MAX) return lmc_fail(err, "%s: tokenizer.ggml.tokens has %llu tokens", v->origin,
                                                       (unsigned long long)v->n);
    if (get_array(v, "tokenizer.ggml.scores", false, false, false, &v->scores, err) ||
        get_array(v, "tokenizer.ggml.token_type", false, true, false, &v->types, err) ||
        get_array(v, "tokenizer.ggml.merges", true, false, false, &v->merges, err))
        return -1;
    const lmc_gguf_kv *short_arrays[] = {v->scores, v->types};
    for (int k = 0; k < 2; k++)
        if (short_arrays[k] && short_arrays[k]->n < v->n)
            return lmc_fail(err, "%s: %s has %llu entries for %llu tokens", v->origin, short_arrays[k]->key,
                            (unsigned long long)short_arrays[k]->n, (unsigned long long)v->n);

    const pre_def *pre = NULL;
    if (!v->spm) { /* llama.cpp reads the pre name for BPE vocabs only; a file without one gets "default" */
        const lmc_gguf_kv *kv = lmc_gguf_find_kv(v->g, "tokenizer.ggml.pre");
        if (kv && lmc_gguf_get_str(v->g, "tokenizer.ggml.pre", &pre_name, &pre_len, err)) return -1;
        if (!(pre = find_pre(pre_name, pre_len)))
            return lmc_fail(err, "%s: tokenizer.ggml.pre \"%.*s\" is a pre-tokenizer lmc does not know", v->origin,
                            (int)(pre_len > 60 ? 60 : pre_len), pre_name);
    }

    /* special ids and flags: llama.cpp's defaults, then the file's keys */
    int32_t bos = v->spm ? 1 : 11, eos = v->spm ? 2 : 11, unk = v->spm ? 0 : -1, pad = -1;
    bool add_bos = v->spm || pre->add_bos, add_eos = false, add_space_prefix = v->spm;
    if (get_id(v, "tokenizer.ggml.bos_token_id", &bos, err) || get_id(v, "tokenizer.ggml.eos_token_id", &eos, err) ||
        get_id(v, "tokenizer.ggml.unknown_token_id", &unk, err) ||
        get_id(v, "tokenizer.ggml.padding_token_id", &pad, err) ||
        get_flag(v, "tokenizer.ggml.add_bos_token", &add_bos, err) ||
        get_flag(v, "tokenizer.ggml.add_eos_token", &add_eos, err) ||
        get_flag(v, "tokenizer.ggml.add_space_prefix", &add_space_prefix, err))
        return -1;
    if ((add_bos && bos < 0) || (add_eos && eos < 0))
        return lmc_fail(err, "%s: add_%s_token is set but the vocabulary has no %s token", v->origin,
                        add_bos && bos < 0 ? "bos" : "eos", add_bos && bos < 0 ? "BOS" : "EOS");

    if (load_vocab(t, v, err)) return -1;
    if (v->spm ? load_scores(t, v, err) || build_spm_pipeline(t, add_space_prefix)
               : load_merges(t, v, err) || build_bpe_pipeline(t, pre, err))
        return -1;
    if (unk >= 0) {
        const char *s;
        size_t len;
        token_at(v, (uint64_t)unk, &s, &len);
        t->bpe.unk_id = unk;
        t->bpe.unk_token = lmc_xmalloc(len + 1);
        memcpy(t->bpe.unk_token, s, len);
        t->bpe.unk_token[len] = 0;
    }
    if (tk_build_added_tries(t, err)) return -1;
    t->vocab_size = (int32_t)v->n;
    if (add_bos) { t->prefix = lmc_xmalloc(sizeof *t->prefix); t->prefix[0] = bos; t->n_prefix = 1; }
    if (add_eos) { t->suffix = lmc_xmalloc(sizeof *t->suffix); t->suffix[0] = eos; t->n_suffix = 1; }
    return 0;
}

int lmc_tokenizer_from_gguf(const lmc_gguf *g, const char *origin, lmc_tokenizer **out, lmc_err *err) {
    *out = NULL;
    if (!origin) origin = lmc_gguf_path(g);
    lmc_tokenizer *t = tk_new(TK_KIND_HF, origin);
    gv v = {.g = g, .origin = t->origin};
    if (build(t, &v, err)) { lmc_tokenizer_free(t); return -1; }
    set_hash(t, g);
    *out = t;
    return 0;
}

int lmc_tokenizer_open_gguf(const char *path, lmc_tokenizer **out, lmc_err *err) {
    lmc_gguf *g;
    *out = NULL;
    if (lmc_gguf_open(path, &g, err)) return -1;
    int rc = lmc_tokenizer_from_gguf(g, path, out, err);
    lmc_gguf_close(g);
    return rc;
}
