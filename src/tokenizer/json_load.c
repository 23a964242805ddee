/* json_load.c — tokenizer.json (+ tokenizer_config.json) to the pipeline structs of internal.h.
 *
 * Every field this file reads is a field of HF's serialization; anything it does not know (a normalizer,
 * pre-tokenizer, model or post-processor type, BPE dropout) is an error that names it, so a tokenizer is
 * never silently applied differently from HF. `truncation` and `padding` are ignored on purpose:
 * transformers turns both off for a plain encode(text).
 *
 * BOS follows SPEC §2 (the transformers rule): a Llama-style tokenizer_class in tokenizer_config.json rebuilds
 * the post-processor from add_bos_token / add_eos_token; otherwise tokenizer.json's post_processor decides.
 */
#include "tokenizer/internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON helpers -------------------------------------------------------------------------------- */

static const cJSON *field(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static bool is_absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

static const char *str_field(const cJSON *o, const char *key) {
    const cJSON *v = field(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool bool_field(const cJSON *o, const char *key, bool dflt) {
    const cJSON *v = field(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* A non-negative integer id that fits int32. */
static bool as_id(const cJSON *v, int32_t *id) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= INT32_MAX) || floor(d) != d) return false;
    *id = (int32_t)d;
    return true;
}

static char *dup_bytes(const char *s, size_t n) {
    char *d = lmc_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static int behavior_from(const char *s, tk_behavior *b) {
    static const struct { const char *name; tk_behavior b; } names[] = {
        {"Removed", TK_REMOVED}, {"Isolated", TK_ISOLATED}, {"MergedWithPrevious", TK_MERGED_WITH_PREVIOUS},
        {"MergedWithNext", TK_MERGED_WITH_NEXT}, {"Contiguous", TK_CONTIGUOUS},
    };
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) { *b = names[i].b; return 0; }
    return -1;
}

/* A Split/Replace "pattern": {"String": s} (a literal) or {"Regex": r}. */
static int load_pattern(lmc_tokenizer *t, const cJSON *p, const char *where, tk_matcher *m, lmc_err *err) {
    const char *lit = str_field(p, "String"), *re = str_field(p, "Regex");
    if (lit) {
        m->kind = TK_MATCH_LITERAL;
        m->lit_len = strlen(lit);
        m->lit = dup_bytes(lit, m->lit_len);
        return 0;
    }
    if (re) {
        m->kind = TK_MATCH_REGEX;
        return tk_regex_compile(&m->re, re, strlen(re), t->origin, err);
    }
    return lmc_fail(err, "%s: %s has no \"pattern\" with a \"String\" or \"Regex\"", t->origin, where);
}

/* ---- normalizer ---------------------------------------------------------------------------------- */

static tk_norm *push_norm(lmc_tokenizer *t, tk_norm_kind kind) {
    t->norms = lmc_xrealloc(t->norms, (t->n_norms + 1) * sizeof *t->norms);
    tk_norm *nm = &t->norms[t->n_norms++];
    memset(nm, 0, sizeof *nm);
    nm->kind = kind;
    return nm;
}

static int load_normalizer(lmc_tokenizer *t, const cJSON *n, int depth, lmc_err *err) {
    if (is_absent(n)) return 0;
    const char *type = str_field(n, "type");
    if (!cJSON_IsObject(n) || !type) return lmc_fail(err, "%s: normalizer without a \"type\"", t->origin);
    if (depth > 8) return lmc_fail(err, "%s: normalizer Sequence nested too deeply", t->origin);
    static const struct { const char *name; tk_norm_kind kind; } simple[] = {
        {"NFC", TK_NORM_NFC}, {"NFD", TK_NORM_NFD}, {"NFKC", TK_NORM_NFKC}, {"NFKD", TK_NORM_NFKD},
        {"Lowercase", TK_NORM_LOWERCASE}, {"StripAccents", TK_NORM_STRIP_ACCENTS}, {"ByteLevel", TK_NORM_BYTELEVEL},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(type, simple[i].name) == 0) { push_norm(t, simple[i].kind); return 0; }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = field(n, "normalizers"), *item;
        if (!cJSON_IsArray(list)) return lmc_fail(err, "%s: normalizer Sequence without \"normalizers\"", t->origin);
        cJSON_ArrayForEach(item, list)
            if (load_normalizer(t, item, depth + 1, err)) return -1;
        return 0;
    }
    if (strcmp(type, "Strip") == 0) {
        tk_norm *nm = push_norm(t, TK_NORM_STRIP);
        nm->strip_left = bool_field(n, "strip_left", true);
        nm->strip_right = bool_field(n, "strip_right", true);
        return 0;
    }
    if (strcmp(type, "Prepend") == 0) {
        const char *p = str_field(n, "prepend");
        if (!p) return lmc_fail(err, "%s: normalizer Prepend without \"prepend\"", t->origin);
        tk_norm *nm = push_norm(t, TK_NORM_PREPEND);
        nm->str_len = strlen(p);
        nm->str = dup_bytes(p, nm->str_len);
        return 0;
    }
    if (strcmp(type, "Replace") == 0) {
        const char *content = str_field(n, "content");
        if (!content) return lmc_fail(err, "%s: normalizer Replace without \"content\"", t->origin);
        tk_norm *nm = push_norm(t, TK_NORM_REPLACE);
        nm->str_len = strlen(content);
        nm->str = dup_bytes(content, nm->str_len);
        return load_pattern(t, field(n, "pattern"), "normalizer Replace", &nm->m, err);
    }
    return lmc_fail(err, "%s: normalizer type \"%s\" is not supported", t->origin, type);
}

/* ---- pre-tokenizer ------------------------------------------------------------------------------- */

static tk_pretok *push_pretok(lmc_tokenizer *t, tk_pretok_kind kind, lmc_err *err) {
    if (t->n_pretoks == TK_MAX_PRETOK) {
        lmc_fail(err, "%s: more than %d pre-tokenizers", t->origin, TK_MAX_PRETOK);
        return NULL;
    }
    tk_pretok *p = &t->pretoks[t->n_pretoks++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    return p;
}

static tk_pretok *push_char_split(lmc_tokenizer *t, tk_char_class cc, tk_behavior b, lmc_err *err) {
    tk_pretok *p = push_pretok(t, TK_PT_SPLIT, err);
    if (!p) return NULL;
    p->m.kind = TK_MATCH_CHARS;
    p->m.cc = cc;
    p->behavior = b;
    return p;
}

/* A one-character string field (Metaspace replacement, CharDelimiterSplit delimiter). */
static int one_char(lmc_tokenizer *t, const cJSON *n, const char *key, const char *what, uint32_t *cp,
                    lmc_err *err) {
    const char *s = str_field(n, key);
    size_t len = s ? strlen(s) : 0, cl = 0;
    if (len) *cp = tk_utf8_decode(s, &cl);
    if (!len || cl != len) return lmc_fail(err, "%s: %s \"%s\" must be one character", t->origin, what, key);
    return 0;
}

static int load_metaspace(lmc_tokenizer *t, const cJSON *n, lmc_err *err) {
    tk_pretok *p = push_pretok(t, TK_PT_METASPACE, err);
    if (!p) return -1;
    if (one_char(t, n, "replacement", "pre_tokenizer Metaspace", &p->rep_cp, err)) return -1;
    p->rep_len = tk_utf8_encode(p->rep_cp, p->rep);
    const char *scheme = str_field(n, "prepend_scheme");
    if (scheme) {
        if (strcmp(scheme, "always") == 0) p->prepend = TK_PREPEND_ALWAYS;
        else if (strcmp(scheme, "first") == 0) p->prepend = TK_PREPEND_FIRST;
        else if (strcmp(scheme, "never") == 0) p->prepend = TK_PREPEND_NEVER;
        else return lmc_fail(err, "%s: Metaspace prepend_scheme \"%s\" is not supported", t->origin, scheme);
    } else { /* files older than prepend_scheme */
        p->prepend = bool_field(n, "add_prefix_space", true) ? TK_PREPEND_ALWAYS : TK_PREPEND_NEVER;
    }
    p->split = bool_field(n, "split", true);
    return 0;
}

static int load_pretokenizer(lmc_tokenizer *t, const cJSON *n, int depth, lmc_err *err) {
    if (is_absent(n)) return 0;
    const char *type = str_field(n, "type");
    if (!cJSON_IsObject(n) || !type) return lmc_fail(err, "%s: pre_tokenizer without a \"type\"", t->origin);
    if (depth > 8) return lmc_fail(err, "%s: pre_tokenizer Sequence nested too deeply", t->origin);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = field(n, "pretokenizers"), *item;
        if (!cJSON_IsArray(list))
            return lmc_fail(err, "%s: pre_tokenizer Sequence without \"pretokenizers\"", t->origin);
        cJSON_ArrayForEach(item, list)
            if (load_pretokenizer(t, item, depth + 1, err)) return -1;
        return 0;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        tk_pretok *p = push_pretok(t, TK_PT_BYTELEVEL, err);
        if (!p) return -1;
        p->add_prefix_space = bool_field(n, "add_prefix_space", true);
        p->use_regex = bool_field(n, "use_regex", true);
        p->m.kind = TK_MATCH_REGEX;
        return p->use_regex ? tk_regex_compile(&p->m.re, tk_gpt2_pattern, strlen(tk_gpt2_pattern), t->origin, err)
                            : 0;
    }
    if (strcmp(type, "Split") == 0) {
        tk_pretok *p = push_pretok(t, TK_PT_SPLIT, err);
        if (!p) return -1;
        const char *b = str_field(n, "behavior");
        if (behavior_from(b, &p->behavior))
            return lmc_fail(err, "%s: pre_tokenizer Split behavior \"%s\" is not supported", t->origin,
                            b ? b : "(missing)");
        p->invert = bool_field(n, "invert", false);
        return load_pattern(t, field(n, "pattern"), "pre_tokenizer Split", &p->m, err);
    }
    if (strcmp(type, "Digits") == 0) {
        bool each = bool_field(n, "individual_digits", false);
        return push_char_split(t, TK_CC_NUMERIC, each ? TK_ISOLATED : TK_CONTIGUOUS, err) ? 0 : -1;
    }
    if (strcmp(type, "Punctuation") == 0) {
        tk_behavior beh = TK_ISOLATED;
        const char *b = str_field(n, "behavior");
        if (b && behavior_from(b, &beh))
            return lmc_fail(err, "%s: pre_tokenizer Punctuation behavior \"%s\" is not supported", t->origin, b);
        return push_char_split(t, TK_CC_PUNCT, beh, err) ? 0 : -1;
    }
    if (strcmp(type, "Metaspace") == 0) return load_metaspace(t, n, err);
    if (strcmp(type, "Whitespace") == 0) { /* HF: keep the matches of \w+|[^\w\s]+ */
        static const char pat[] = "\\w+|[^\\w\\s]+";
        tk_pretok *p = push_pretok(t, TK_PT_SPLIT, err);
        if (!p) return -1;
        p->m.kind = TK_MATCH_REGEX;
        p->behavior = TK_REMOVED;
        p->invert = true;
        return tk_regex_compile(&p->m.re, pat, strlen(pat), t->origin, err);
    }
    if (strcmp(type, "WhitespaceSplit") == 0)
        return push_char_split(t, TK_CC_WHITESPACE, TK_REMOVED, err) ? 0 : -1;
    if (strcmp(type, "CharDelimiterSplit") == 0) {
        tk_pretok *p = push_char_split(t, TK_CC_ONE_CHAR, TK_REMOVED, err);
        return p ? one_char(t, n, "delimiter", "pre_tokenizer CharDelimiterSplit", &p->m.ch, err) : -1;
    }
    return lmc_fail(err, "%s: pre_tokenizer type \"%s\" is not supported", t->origin, type);
}

/* ---- the BPE model -------------------------------------------------------------------------------- */

static int load_vocab(lmc_tokenizer *t, const cJSON *vocab, int32_t *max_id, lmc_err *err) {
    if (!cJSON_IsObject(vocab)) return lmc_fail(err, "%s: model has no \"vocab\" object", t->origin);
    tk_strmap_init(&t->bpe.vocab, (size_t)cJSON_GetArraySize(vocab));
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int32_t id;
        if (!as_id(e, &id))
            return lmc_fail(err, "%s: vocab entry \"%.60s\" has no valid id", t->origin, e->string ? e->string : "");
        tk_strmap_put(&t->bpe.vocab, e->string, strlen(e->string), id);
        if (id > *max_id) *max_id = id;
    }
    return 0;
}

static int32_t vocab_id(const lmc_tokenizer *t, const char *s, size_t n) { return tk_strmap_get(&t->bpe.vocab, s, n); }

/* One merge: "a b" (exactly one space, as HF's split(' ') requires) or ["a", "b"]. */
static int load_merge(lmc_tokenizer *t, const cJSON *mg, size_t rank, lmc_buf *tmp, lmc_err *err) {
    const char *a, *b;
    size_t alen, blen;
    if (cJSON_IsString(mg)) {
        const char *s = mg->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return lmc_fail(err, "%s: merge %zu \"%.60s\" is not two tokens separated by one space", t->origin,
                            rank, s);
        a = s, alen = (size_t)(sp - s), b = sp + 1, blen = strlen(b);
    } else if (cJSON_IsArray(mg) && cJSON_GetArraySize(mg) == 2 && cJSON_IsString(cJSON_GetArrayItem(mg, 0)) &&
               cJSON_IsString(cJSON_GetArrayItem(mg, 1))) {
        a = cJSON_GetArrayItem(mg, 0)->valuestring, alen = strlen(a);
        b = cJSON_GetArrayItem(mg, 1)->valuestring, blen = strlen(b);
    } else {
        return lmc_fail(err, "%s: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", t->origin, rank);
    }
    int32_t ia = vocab_id(t, a, alen), ib = vocab_id(t, b, blen);
    if (ia < 0 || ib < 0)
        return lmc_fail(err, "%s: merge %zu uses token \"%.*s\" that is not in the vocabulary", t->origin, rank,
                        (int)(ia < 0 ? alen : blen), ia < 0 ? a : b);
    if (blen < t->bpe.prefix_len)
        return lmc_fail(err, "%s: merge %zu: \"%s\" is shorter than continuing_subword_prefix", t->origin, rank, b);
    tmp->len = 0; /* merged token: a + b without b's continuing_subword_prefix */
    lmc_buf_append(tmp, a, alen);
    lmc_buf_append(tmp, b + t->bpe.prefix_len, blen - t->bpe.prefix_len);
    int32_t merged = vocab_id(t, tmp->p, tmp->len);
    if (merged < 0)
        return lmc_fail(err, "%s: merge %zu makes \"%.60s\", which is not in the vocabulary", t->origin, rank, tmp->p);
    if (t->bpe.chunk_at_meta && tk_meta_after_other(tmp->p, tmp->len)) t->bpe.chunk_at_meta = false;
    tk_pairmap_put(&t->bpe.merges, ia, ib, (uint32_t)rank, merged);
    return 0;
}

static void optional_affix(const cJSON *model, const char *key, char **out, size_t *len) {
    const char *s = str_field(model, key);
    if (s && *s) { *len = strlen(s); *out = dup_bytes(s, *len); }
}

static int load_model(lmc_tokenizer *t, const cJSON *model, int32_t *max_id, lmc_err *err) {
    if (!cJSON_IsObject(model)) return lmc_fail(err, "%s: no \"model\" object", t->origin);
    const char *type = str_field(model, "type");
    const cJSON *merges = field(model, "merges");
    if (type ? strcmp(type, "BPE") != 0 : !merges)
        return lmc_fail(err, "%s: model type \"%s\" is not supported (only BPE)", t->origin, type ? type : "(none)");
    const cJSON *dropout = field(model, "dropout");
    if (!is_absent(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0))
        return lmc_fail(err, "%s: BPE dropout is not supported (it makes tokenization random)", t->origin);

    tk_bpe *m = &t->bpe;
    m->mode = TK_BPE_HF;
    m->fuse_unk = bool_field(model, "fuse_unk", false);
    m->byte_fallback = bool_field(model, "byte_fallback", false);
    m->ignore_merges = bool_field(model, "ignore_merges", false);
    optional_affix(model, "continuing_subword_prefix", &m->prefix, &m->prefix_len);
    optional_affix(model, "end_of_word_suffix", &m->suffix, &m->suffix_len);
    if (load_vocab(t, field(model, "vocab"), max_id, err)) return -1;

    m->unk_id = -1;
    const char *unk = str_field(model, "unk_token");
    if (unk) {
        m->unk_token = lmc_xstrdup(unk);
        m->unk_id = vocab_id(t, unk, strlen(unk));
        m->unk_missing = m->unk_id < 0;
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = vocab_id(t, name, 6);
    }

    if (is_absent(merges)) return 0;
    if (!cJSON_IsArray(merges)) return lmc_fail(err, "%s: model \"merges\" is not an array", t->origin);
    tk_pairmap_init(&m->merges, (size_t)cJSON_GetArraySize(merges));
    /* chunking needs "▁" to be a token of its own and no prefix/suffix rules (which see word ends) */
    m->chunk_at_meta = !m->prefix_len && !m->suffix_len && vocab_id(t, TK_META, 3) >= 0;
    lmc_buf tmp = {0};
    size_t rank = 0;
    const cJSON *mg;
    int rc = 0;
    cJSON_ArrayForEach(mg, merges) {
        if ((rc = load_merge(t, mg, rank++, &tmp, err))) break;
    }
    lmc_buf_free(&tmp);
    return rc;
}

/* ---- added tokens ----------------------------------------------------------------------------------- */

static int load_added_tokens(lmc_tokenizer *t, const cJSON *list, int32_t *max_id, lmc_err *err) {
    if (is_absent(list)) return 0;
    if (!cJSON_IsArray(list)) return lmc_fail(err, "%s: \"added_tokens\" is not an array", t->origin);
    size_t n = (size_t)cJSON_GetArraySize(list);
    t->added = lmc_xcalloc(n ? n : 1, sizeof *t->added);
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        tk_added *a = &t->added[t->n_added];
        const char *content = str_field(e, "content");
        if (!content || !as_id(field(e, "id"), &a->id))
            return lmc_fail(err, "%s: added token %zu has no \"content\" or no valid \"id\"", t->origin, t->n_added);
        a->len = strlen(content);
        a->content = dup_bytes(content, a->len);
        a->special = bool_field(e, "special", false);
        a->single_word = bool_field(e, "single_word", false);
        a->lstrip = bool_field(e, "lstrip", false);
        a->rstrip = bool_field(e, "rstrip", false);
        a->normalized = bool_field(e, "normalized", !a->special);
        if (a->id > *max_id) *max_id = a->id;
        t->n_added++;
    }
    return 0;
}

/* HF refresh_added_tokens: special tokens first, then the others; normalized ones are matched by their
 * normalized content. */
int tk_build_added_tries(lmc_tokenizer *t, lmc_err *err) {
    tk_trie_init(&t->raw_trie);
    tk_trie_init(&t->norm_trie);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < t->n_added; i++) {
            const tk_added *a = &t->added[i];
            if (a->special != (pass == 0)) continue;
            if (!a->normalized) { tk_trie_add(&t->raw_trie, a->content, a->len, (int32_t)i); continue; }
            const char *s;
            size_t n;
            bool at_start = true;
            if (tk_normalize(t, a->content, a->len, &s, &n, &at_start, err)) return -1;
            tk_trie_add(&t->norm_trie, s, n, (int32_t)i);
        }
    return 0;
}

/* ---- post-processor and BOS --------------------------------------------------------------------------- */

/* The ids one post-processor puts before and after a single sequence. */
static int load_post_one(lmc_tokenizer *t, const cJSON *pp, tk_ids *pre, tk_ids *post, int depth, lmc_err *err);

static int template_special(lmc_tokenizer *t, const cJSON *specials, const char *name, tk_ids *to, lmc_err *err) {
    const cJSON *st = specials ? field(specials, name) : NULL, *ids = st ? field(st, "ids") : NULL, *e;
    if (!cJSON_IsArray(ids))
        return lmc_fail(err, "%s: TemplateProcessing token \"%s\" is not in its special_tokens", t->origin, name);
    cJSON_ArrayForEach(e, ids) {
        int32_t id;
        if (!as_id(e, &id)) return lmc_fail(err, "%s: TemplateProcessing token \"%s\" has a bad id", t->origin, name);
        tk_ids_push(to, id);
    }
    return 0;
}

static int load_template(lmc_tokenizer *t, const cJSON *pp, tk_ids *pre, tk_ids *post, lmc_err *err) {
    const cJSON *single = field(pp, "single"), *specials = field(pp, "special_tokens"), *item;
    if (!cJSON_IsArray(single))
        return lmc_fail(err, "%s: TemplateProcessing \"single\" is not a list of pieces", t->origin);
    bool seen_a = false;
    cJSON_ArrayForEach(item, single) {
        const cJSON *seq = field(item, "Sequence"), *sp = field(item, "SpecialToken");
        if (seq) {
            const char *id = str_field(seq, "id");
            if (!id || strcmp(id, "A") != 0 || seen_a)
                return lmc_fail(err, "%s: TemplateProcessing \"single\" must use $A exactly once", t->origin);
            seen_a = true;
        } else if (sp && str_field(sp, "id")) {
            if (template_special(t, specials, str_field(sp, "id"), seen_a ? post : pre, err)) return -1;
        } else {
            return lmc_fail(err, "%s: TemplateProcessing piece is neither Sequence nor SpecialToken", t->origin);
        }
    }
    if (!seen_a) return lmc_fail(err, "%s: TemplateProcessing \"single\" has no $A", t->origin);
    return 0;
}

/* BertProcessing / RobertaProcessing: "cls": [token, id] before, "sep": [token, id] after. */
static int load_cls_sep(lmc_tokenizer *t, const cJSON *pp, const char *type, tk_ids *pre, tk_ids *post,
                        lmc_err *err) {
    const cJSON *cls = field(pp, "cls"), *sep = field(pp, "sep");
    int32_t ic, is;
    if (!cJSON_IsArray(cls) || !cJSON_IsArray(sep) || !as_id(cJSON_GetArrayItem(cls, 1), &ic) ||
        !as_id(cJSON_GetArrayItem(sep, 1), &is))
        return lmc_fail(err, "%s: %s needs \"cls\" and \"sep\" as [token, id]", t->origin, type);
    tk_ids_push(pre, ic);
    tk_ids_push(post, is);
    return 0;
}

static int load_post_one(lmc_tokenizer *t, const cJSON *pp, tk_ids *pre, tk_ids *post, int depth, lmc_err *err) {
    if (is_absent(pp)) return 0;
    const char *type = str_field(pp, "type");
    if (!cJSON_IsObject(pp) || !type) return lmc_fail(err, "%s: post_processor without a \"type\"", t->origin);
    if (depth > 8) return lmc_fail(err, "%s: post_processor Sequence nested too deeply", t->origin);
    if (strcmp(type, "ByteLevel") == 0) return 0; /* only adjusts offsets */
    if (strcmp(type, "TemplateProcessing") == 0) return load_template(t, pp, pre, post, err);
    if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0)
        return load_cls_sep(t, pp, type, pre, post, err);
    if (strcmp(type, "Sequence") == 0) { /* each one wraps what the previous ones produced */
        const cJSON *list = field(pp, "processors"), *item;
        if (!cJSON_IsArray(list)) return lmc_fail(err, "%s: post_processor Sequence without \"processors\"", t->origin);
        cJSON_ArrayForEach(item, list) {
            tk_ids p = {0}, s = {0};
            if (load_post_one(t, item, &p, &s, depth + 1, err)) { free(p.v); free(s.v); return -1; }
            tk_ids_append(&p, pre->v, pre->n); /* pre = p + pre */
            free(pre->v);
            *pre = p;
            tk_ids_append(post, s.v, s.n);
            free(s.v);
        }
        return 0;
    }
    return lmc_fail(err, "%s: post_processor type \"%s\" is not supported", t->origin, type);
}

static bool is_llama_style(const char *cls) {
    static const char *const names[] = {"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer",
                                        "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast"};
    for (size_t i = 0; cls && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(cls, names[i]) == 0) return true;
    return false;
}

/* tokenizer_config.json's bos_token / eos_token: a string or {"content": ...}, resolved to an id. */
static int config_token(lmc_tokenizer *t, const cJSON *cfg, const char *key, tk_ids *to, lmc_err *err) {
    const cJSON *v = field(cfg, key);
    const char *s = cJSON_IsString(v) ? v->valuestring : cJSON_IsObject(v) ? str_field(v, "content") : NULL;
    const char *flag = strcmp(key, "bos_token") == 0 ? "add_bos_token" : "add_eos_token";
    if (!s) return lmc_fail(err, "%s: tokenizer_config.json sets %s but has no %s", t->origin, flag, key);
    int32_t id = tk_token_id(t, s, strlen(s));
    if (id < 0) return lmc_fail(err, "%s: tokenizer_config.json %s \"%s\" is not a known token", t->origin, key, s);
    tk_ids_push(to, id);
    return 0;
}

/* SPEC §2. cfg may be NULL; post_processor may be NULL (tiktoken). */
int tk_decide_specials(lmc_tokenizer *t, const cJSON *cfg, const cJSON *post_processor, lmc_err *err) {
    tk_ids pre = {0}, post = {0};
    int rc;
    if (cfg && is_llama_style(str_field(cfg, "tokenizer_class"))) {
        rc = 0;
        if (bool_field(cfg, "add_bos_token", true)) rc = config_token(t, cfg, "bos_token", &pre, err);
        if (!rc && bool_field(cfg, "add_eos_token", false)) rc = config_token(t, cfg, "eos_token", &post, err);
    } else {
        rc = load_post_one(t, post_processor, &pre, &post, 0, err);
    }
    if (rc) { free(pre.v); free(post.v); return -1; }
    t->prefix = pre.v, t->n_prefix = pre.n;
    t->suffix = post.v, t->n_suffix = post.n;
    return 0;
}

/* ---- the whole file ---------------------------------------------------------------------------------- */

static int parse_json(const char *text, size_t len, const char *origin, const char *what, cJSON **out,
                      lmc_err *err) {
    /* JSON text is UTF-8 (RFC 8259; HF's serde_json refuses anything else). cJSON copies raw bytes into strings,
     * and those strings (Prepend/Replace contents, added tokens, affixes) are spliced into the text the regex
     * engine then matches with UTF checks off, so one invalid byte here would be undefined behaviour there. */
    size_t bad = 0;
    *out = NULL;
    if (!lmc_utf8_validate(text, len, NULL, &bad))
        return lmc_fail(err, "%s: %s is not valid UTF-8 at byte offset %zu", origin, what, bad);
    *out = cJSON_ParseWithLength(text, len);
    if (*out && cJSON_IsObject(*out)) return 0;
    cJSON_Delete(*out);
    *out = NULL;
    return lmc_fail(err, "%s: %s is not a valid JSON object", origin, what);
}

static int load_tokenizer_json(lmc_tokenizer *t, const cJSON *root, const cJSON *cfg, lmc_err *err) {
    int32_t max_id = -1;
    if (load_model(t, field(root, "model"), &max_id, err)) return -1;
    if (load_normalizer(t, field(root, "normalizer"), 0, err)) return -1;
    if (load_pretokenizer(t, field(root, "pre_tokenizer"), 0, err)) return -1;
    if (load_added_tokens(t, field(root, "added_tokens"), &max_id, err)) return -1;
    if (tk_build_added_tries(t, err)) return -1;
    t->vocab_size = max_id + 1;
    return tk_decide_specials(t, cfg, field(root, "post_processor"), err);
}

int lmc_tokenizer_from_json(const char *tokenizer_json, size_t len, const char *config_json, size_t config_len,
                            const char *origin, lmc_tokenizer **out, lmc_err *err) {
    *out = NULL;
    if (!origin) origin = "tokenizer.json";
    cJSON *root = NULL, *cfg = NULL;
    if (parse_json(tokenizer_json, len, origin, "tokenizer.json", &root, err)) return -1;
    if (config_json && parse_json(config_json, config_len, origin, "tokenizer_config.json", &cfg, err)) {
        cJSON_Delete(root);
        return -1;
    }
    lmc_tokenizer *t = tk_new(TK_KIND_HF, origin);
    int rc = load_tokenizer_json(t, root, cfg, err);
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    if (rc) { lmc_tokenizer_free(t); return -1; }
    tk_set_hash(t, tokenizer_json, len, config_json, config_json ? config_len : 0);
    *out = t;
    return 0;
}
