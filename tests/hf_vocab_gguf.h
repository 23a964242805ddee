/* hf_vocab_gguf.h — a GGUF vocabulary written from a HF tokenizer directory the way llama.cpp's
 * convert_hf_to_gguf.py writes one, so tests can check lmc's GGUF tokenizer (src/tokenizer/gguf_vocab.c) against
 * the HF ids of the same tokenizer without llama.cpp or a network. Used by tests/test_gguf_tokenizer.c and
 * bench/peer_vocab_check.c (which compares its output with llama.cpp's own ggml-vocab-*.gguf files).
 *
 * What the converter does, and what is done here:
 *   byte-level BPE (get_vocab_base + SpecialVocab): tokens in id order ("[PADi]" for holes, type unused); an
 *     added token is control when it is special or looks special ("<|...|>", "<｜...｜>"), else user-defined
 *     with "▁" written as a space; others normal. Merges as "a b" strings (the list form [a, b] joined with a
 *     space, a space inside a part written as U+0120). tokenizer.ggml.pre is the name the caller gives (the
 *     converter finds it by hashing HF's ids on a check text).
 *   SentencePiece BPE (_create_vocab_sentencepiece reads tokenizer.model, absent here): the types the
 *     .model would give (unknown, control for special added tokens, byte for <0xXX>, normal) and scores in the
 *     .model's order, recovered from tokenizer.json: HF's converter wrote the merges sorted by the score of the
 *     token they make, so a token's score is minus the rank of its first merge; tokens no merge makes get 0
 *     (unknown/control/byte, as in the .model) or, for single characters, lower scores than every merge product.
 *     add_space_prefix is written from the tokenizer.json (a Prepend("▁") normalizer, or Metaspace with a
 *     prepend scheme), which is what the .model's add_dummy_prefix says; the converter itself only copies
 *     tokenizer_config's add_prefix_space, so a Yi GGUF made by it gets llama.cpp's default (true).
 *   both: bos/eos/unk/pad ids from tokenizer_config.json's tokens resolved through added_tokens;
 *     add_bos/add_eos from the TemplateProcessing post-processor, then tokenizer_config's add_*_token.
 */
#ifndef LMC_HF_VOCAB_GGUF_H
#define LMC_HF_VOCAB_GGUF_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmc.h"
#include "tokenizer/internal.h" /* tk_strmap */
#include "common/util.h"

/* ---- a GGUF metadata writer (version 3, no tensors) ------------------------------------------------ */

typedef struct gw {
    lmc_buf  kv;   /* the key/value section */
    uint64_t n_kv;
} gw;

enum { GW_U32 = 4, GW_I32 = 5, GW_F32 = 6, GW_BOOL = 7, GW_STRING = 8, GW_ARRAY = 9 };

static void gw_u32(lmc_buf *b, uint32_t v) { lmc_buf_append(b, &v, 4); }
static void gw_u64(lmc_buf *b, uint64_t v) { lmc_buf_append(b, &v, 8); }
static void gw_strn(lmc_buf *b, const char *s, size_t n) { gw_u64(b, n); lmc_buf_append(b, s, n); }
static void gw_key(gw *w, const char *key, uint32_t type) { gw_strn(&w->kv, key, strlen(key)); gw_u32(&w->kv, type); w->n_kv++; }

static void gw_kv_str(gw *w, const char *key, const char *v) { gw_key(w, key, GW_STRING); gw_strn(&w->kv, v, strlen(v)); }
static void gw_kv_u32(gw *w, const char *key, uint32_t v) { gw_key(w, key, GW_U32); gw_u32(&w->kv, v); }
static void gw_kv_bool(gw *w, const char *key, bool v) { gw_key(w, key, GW_BOOL); uint8_t b = v; lmc_buf_append(&w->kv, &b, 1); }

static void gw_kv_strs(gw *w, const char *key, char *const *v, size_t n) {
    gw_key(w, key, GW_ARRAY);
    gw_u32(&w->kv, GW_STRING);
    gw_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++) gw_strn(&w->kv, v[i], strlen(v[i]));
}

static void gw_kv_nums(gw *w, const char *key, uint32_t type, const void *v, size_t n) { /* 4-byte elements */
    gw_key(w, key, GW_ARRAY);
    gw_u32(&w->kv, type);
    gw_u64(&w->kv, n);
    lmc_buf_append(&w->kv, v, n * 4);
}

static int gw_write(const gw *w, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    lmc_buf h = {0};
    lmc_buf_append(&h, "GGUF", 4);
    gw_u32(&h, 3);
    gw_u64(&h, 0);
    gw_u64(&h, w->n_kv);
    int ok = fwrite(h.p, 1, h.len, f) == h.len && fwrite(w->kv.p, 1, w->kv.len, f) == w->kv.len;
    lmc_buf_free(&h);
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* ---- the conversion ---------------------------------------------------------------------------------- */

enum { HV_NORMAL = 1, HV_UNKNOWN = 2, HV_CONTROL = 3, HV_USER_DEFINED = 4, HV_UNUSED = 5, HV_BYTE = 6 };

static const cJSON *hv_get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static bool hv_is(const cJSON *o, const char *k, const char *v) { /* o[k] is the string v */
    const char *s = cJSON_GetStringValue(hv_get(o, k));
    return s && !strcmp(s, v);
}

/* tokenizer_config's "<key>": a string or {"content": ...}; NULL when absent or null. */
static const char *hv_cfg_token(const cJSON *cfg, const char *key) {
    const cJSON *v = cfg ? hv_get(cfg, key) : NULL;
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v) && cJSON_IsString(hv_get(v, "content"))) return hv_get(v, "content")->valuestring;
    return NULL;
}

/* convert_hf_to_gguf's does_token_look_special */
static bool hv_looks_special(const char *s) {
    size_t n = strlen(s);
    static const char *const fixed[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(s, fixed[i])) return true;
    if (n >= 4 && !strncmp(s, "<|", 2) && !strcmp(s + n - 2, "|>")) return true;
    if (n >= 8 && !strncmp(s, "<\xEF\xBD\x9C", 4) && !strcmp(s + n - 4, "\xEF\xBD\x9C>")) return true; /* <｜ ｜> */
    return n >= 8 && !strncmp(s, "<unused", 7) && s[n - 1] == '>';
}

/* s with every "▁" replaced by a space (malloc'ed): the converter's "pre-normalized" user-defined tokens */
static char *hv_meta_to_space(const char *s) {
    lmc_buf b = {0};
    for (const char *p = s; *p;) {
        if (!strncmp(p, "\xE2\x96\x81", 3)) { lmc_buf_append(&b, " ", 1); p += 3; }
        else lmc_buf_append(&b, p++, 1);
    }
    lmc_buf_append(&b, "", 1);
    return b.p;
}

static bool hv_is_byte_token(const char *s) {
    return strlen(s) == 6 && !strncmp(s, "<0x", 3) && s[5] == '>' && strchr("0123456789ABCDEFabcdef", s[3]) &&
           strchr("0123456789ABCDEFabcdef", s[4]);
}

/* A merge as the converter writes it: "a b", or the list form [a, b] with spaces inside parts as U+0120. */
static char *hv_merge_string(const cJSON *mg) {
    if (cJSON_IsString(mg)) return lmc_xstrdup(mg->valuestring);
    lmc_buf b = {0};
    for (int k = 0; k < 2; k++) {
        const char *part = cJSON_GetStringValue(cJSON_GetArrayItem(mg, k));
        if (k) lmc_buf_append(&b, " ", 1);
        for (const char *p = part ? part : ""; *p; p++) {
            if (*p == ' ') lmc_buf_append(&b, "\xC4\xA0", 2);
            else lmc_buf_append(&b, p, 1);
        }
    }
    lmc_buf_append(&b, "", 1);
    return b.p;
}

/* The added token with this content: its id, or -1. */
static int64_t hv_added_id(const cJSON *added, const char *content) {
    const cJSON *a;
    if (!content) return -1;
    cJSON_ArrayForEach(a, added) {
        const char *c = cJSON_GetStringValue(hv_get(a, "content"));
        if (c && !strcmp(c, content)) return (int64_t)cJSON_GetNumberValue(hv_get(a, "id"));
    }
    return -1;
}

/* Does the SentencePiece layout prepend "▁" (add_dummy_prefix)? */
static bool hv_spm_prefix(const cJSON *root) {
    const cJSON *n = hv_get(root, "normalizer"), *p = hv_get(root, "pre_tokenizer"), *e;
    if (cJSON_IsObject(n)) {
        const cJSON *list = hv_get(n, "normalizers");
        if (hv_is(n, "type", "Prepend")) return true;
        if (cJSON_IsArray(list)) cJSON_ArrayForEach(e, list)
            if (hv_is(e, "type", "Prepend")) return true;
    }
    if (hv_is(p, "type", "Metaspace")) {
        const char *scheme = cJSON_GetStringValue(hv_get(p, "prepend_scheme"));
        return scheme ? strcmp(scheme, "never") != 0 : cJSON_IsTrue(hv_get(p, "add_prefix_space"));
    }
    return false;
}

/* SpecialVocab's reading of a TemplateProcessing: BOS is added when the single template starts with the
 * config's bos_token (any special token when there is no config), EOS likewise at its end. */
static void hv_template(const cJSON *p, const cJSON *cfg, int *add_bos, int *add_eos) {
    const cJSON *single = hv_get(p, "single");
    int k = cJSON_GetArraySize(single);
    if (!hv_is(p, "type", "TemplateProcessing") || k < 2) return;
    const char *first = cJSON_GetStringValue(hv_get(hv_get(cJSON_GetArrayItem(single, 0), "SpecialToken"), "id"));
    const char *last = cJSON_GetStringValue(hv_get(hv_get(cJSON_GetArrayItem(single, k - 1), "SpecialToken"), "id"));
    const char *bos = hv_cfg_token(cfg, "bos_token"), *eos = hv_cfg_token(cfg, "eos_token");
    if (first) *add_bos = !cfg || (bos && !strcmp(first, bos));
    if (last) *add_eos = !cfg || (eos && !strcmp(last, eos));
}

/* Writes dir's tokenizer as a GGUF vocabulary at out_path with tokenizer.ggml.pre = pre (ignored for a
 * SentencePiece vocab, which the converter marks "default"). 0, or -1 with err. */
static int hf_vocab_to_gguf(const char *dir, const char *pre, const char *out_path, lmc_err *err) {
    char path[4200];
    char *text = NULL, *cfg_text = NULL;
    size_t len = 0, cfg_len = 0;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (lmc_read_file_or_gz(path, &text, &len, NULL, 0, err)) return -1;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    lmc_err ignore;
    if (lmc_read_file(path, &cfg_text, &cfg_len, &ignore)) cfg_text = NULL;
    cJSON *root = cJSON_ParseWithLength(text, len), *cfg = cfg_text ? cJSON_ParseWithLength(cfg_text, cfg_len) : NULL;
    free(text);
    free(cfg_text);
    const cJSON *model = hv_get(root, "model"), *vocab = hv_get(model, "vocab"), *merges = hv_get(model, "merges");
    const cJSON *added = hv_get(root, "added_tokens"), *e;
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) {
        cJSON_Delete(root);
        cJSON_Delete(cfg);
        return lmc_fail(err, "%s: not a BPE tokenizer.json with a vocab and merges", dir);
    }
    bool spm = cJSON_IsTrue(hv_get(model, "byte_fallback"));

    /* tokens in id order: the model vocab, then the added tokens over it (transformers' get_vocab) */
    int64_t n = 0;
    cJSON_ArrayForEach(e, vocab) if ((int64_t)e->valuedouble + 1 > n) n = (int64_t)e->valuedouble + 1;
    cJSON_ArrayForEach(e, added) if ((int64_t)cJSON_GetNumberValue(hv_get(e, "id")) + 1 > n)
        n = (int64_t)cJSON_GetNumberValue(hv_get(e, "id")) + 1;
    char **tok = lmc_xcalloc((size_t)n, sizeof *tok);
    int32_t *type = lmc_xcalloc((size_t)n, sizeof *type);
    float *score = lmc_xcalloc((size_t)n, sizeof *score);
    cJSON_ArrayForEach(e, vocab) {
        int64_t id = (int64_t)e->valuedouble;
        free(tok[id]);
        tok[id] = lmc_xstrdup(e->string);
        type[id] = HV_NORMAL;
    }
    const char *unk = cJSON_GetStringValue(hv_get(model, "unk_token"));
    cJSON_ArrayForEach(e, added) {
        int64_t id = (int64_t)cJSON_GetNumberValue(hv_get(e, "id"));
        const char *c = cJSON_GetStringValue(hv_get(e, "content"));
        bool special = cJSON_IsTrue(hv_get(e, "special"));
        free(tok[id]);
        if (spm) { /* the .model's types; added_tokens_decoder below decides the rest */
            tok[id] = lmc_xstrdup(c);
            type[id] = unk && !strcmp(c, unk) ? HV_UNKNOWN : special ? HV_CONTROL : HV_USER_DEFINED;
        } else if (special || hv_looks_special(c)) {
            tok[id] = lmc_xstrdup(c);
            type[id] = HV_CONTROL;
        } else {
            tok[id] = hv_meta_to_space(c);
            type[id] = HV_USER_DEFINED;
        }
    }
    const cJSON *decoder = cfg ? hv_get(cfg, "added_tokens_decoder") : NULL;
    if (spm) cJSON_ArrayForEach(e, decoder) {
        int64_t id = strtoll(e->string, NULL, 10);
        const char *c = cJSON_GetStringValue(hv_get(e, "content"));
        if (id < 0 || id >= n || !c) continue;
        free(tok[id]);
        if (cJSON_IsTrue(hv_get(e, "special")) || hv_looks_special(c)) { tok[id] = lmc_xstrdup(c); type[id] = HV_CONTROL; }
        else { tok[id] = hv_meta_to_space(c); type[id] = HV_USER_DEFINED; }
    }
    for (int64_t i = 0; i < n; i++) {
        if (!tok[i]) {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
            tok[i] = lmc_xstrdup(pad);
            type[i] = HV_UNUSED;
        } else if (spm && type[i] == HV_NORMAL && hv_is_byte_token(tok[i])) {
            type[i] = HV_BYTE;
        }
    }

    /* merges (byte-level), or the scores they were sorted by (SentencePiece) */
    size_t n_merges = (size_t)cJSON_GetArraySize(merges), r = 0;
    char **mstr = lmc_xcalloc(n_merges ? n_merges : 1, sizeof *mstr);
    cJSON_ArrayForEach(e, merges) mstr[r++] = hv_merge_string(e);
    if (spm) {
        for (int64_t i = 0; i < n; i++) /* single characters: below every merge product, in id order */
            score[i] = type[i] == HV_NORMAL ? -(float)((int64_t)n_merges + i) : 0.0f;
        tk_strmap ids = {0}; /* cJSON's object lookup is a linear scan: too slow for 60K merges */
        cJSON_ArrayForEach(e, vocab) tk_strmap_put(&ids, e->string, strlen(e->string), (int32_t)e->valuedouble);
        bool *seen = lmc_xcalloc((size_t)n, 1);
        for (r = 0; r < n_merges; r++) {
            char *merged = lmc_xstrdup(mstr[r]), *sp = strchr(merged, ' ');
            if (sp) memmove(sp, sp + 1, strlen(sp));
            int32_t id = tk_strmap_get(&ids, merged, strlen(merged));
            if (id >= 0 && !seen[id]) {
                seen[id] = true;
                score[id] = -(float)r;
            }
            free(merged);
        }
        free(seen);
        tk_strmap_free(&ids);
    }

    gw w = {{0}, 0};
    gw_kv_str(&w, "general.architecture", "llama");
    gw_kv_str(&w, "tokenizer.ggml.model", spm ? "llama" : "gpt2");
    gw_kv_str(&w, "tokenizer.ggml.pre", spm ? "default" : pre);
    gw_kv_strs(&w, "tokenizer.ggml.tokens", tok, (size_t)n);
    if (spm) gw_kv_nums(&w, "tokenizer.ggml.scores", GW_F32, score, (size_t)n);
    gw_kv_nums(&w, "tokenizer.ggml.token_type", GW_I32, type, (size_t)n);
    if (!spm) gw_kv_strs(&w, "tokenizer.ggml.merges", mstr, n_merges);
    if (spm) gw_kv_bool(&w, "tokenizer.ggml.add_space_prefix", hv_spm_prefix(root));

    /* SpecialVocab: ids from tokenizer_config's tokens; add_bos/add_eos from the template, then the config */
    static const char *const kinds[][2] = {{"bos_token", "tokenizer.ggml.bos_token_id"},
                                           {"eos_token", "tokenizer.ggml.eos_token_id"},
                                           {"unk_token", "tokenizer.ggml.unknown_token_id"},
                                           {"pad_token", "tokenizer.ggml.padding_token_id"}};
    for (size_t k = 0; k < 4; k++) {
        int64_t id = hv_added_id(added, hv_cfg_token(cfg, kinds[k][0]));
        if (id >= 0) gw_kv_u32(&w, kinds[k][1], (uint32_t)id);
    }
    int add_bos = -1, add_eos = -1;
    const cJSON *pp = hv_get(root, "post_processor"), *procs = hv_get(pp, "processors");
    if (cJSON_IsArray(procs)) cJSON_ArrayForEach(e, procs) hv_template(e, cfg, &add_bos, &add_eos);
    else if (cJSON_IsObject(pp)) hv_template(pp, cfg, &add_bos, &add_eos);
    if (cfg && cJSON_IsBool(hv_get(cfg, "add_bos_token"))) add_bos = cJSON_IsTrue(hv_get(cfg, "add_bos_token"));
    if (cfg && cJSON_IsBool(hv_get(cfg, "add_eos_token"))) add_eos = cJSON_IsTrue(hv_get(cfg, "add_eos_token"));
    if (add_bos >= 0) gw_kv_bool(&w, "tokenizer.ggml.add_bos_token", add_bos);
    if (add_eos >= 0) gw_kv_bool(&w, "tokenizer.ggml.add_eos_token", add_eos);

    int rc = gw_write(&w, out_path) ? lmc_fail(err, "%s: cannot write", out_path) : 0;
    lmc_buf_free(&w.kv);
    for (int64_t i = 0; i < n; i++) free(tok[i]);
    for (r = 0; r < n_merges; r++) free(mstr[r]);
    free(tok);
    free(type);
    free(score);
    free(mstr);
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    return rc;
}

#endif
