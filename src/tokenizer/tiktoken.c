/* tiktoken.c — Qwen-1's tokenizer: a tiktoken ranks file run the way Qwen's tokenization_qwen.py runs it.
 *
 * QWenTokenizer.tokenize NFC-normalizes the whole text, then calls tiktoken's encode(allowed_special="all"):
 * special-token text anywhere in the input becomes its id; the rest is cut into the matches of PAT_STR (text
 * between matches is dropped, which PAT_STR never leaves), and each match is byte-pair merged by rank. That is
 * this file's setup of the shared driver: nfc_whole_text, the specials as non-normalized added tokens, one
 * Split(PAT_STR, invert, Removed) stage, and the tiktoken flavour of the BPE model. QWenTokenizer never adds
 * BOS or EOS (its class is not Llama-style, and there is no post-processor).
 */
#include "tokenizer/internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Qwen's PAT_STR (tokenization_qwen.py). */
static const char qwen_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

#define QWEN_N_EXTRA 205 /* <|extra_0|> .. <|extra_204|> */

/* ---- the ranks file -------------------------------------------------------------------------------- */

/* Lines "base64 rank"; blank lines are skipped (tiktoken's load_tiktoken_bpe). */
static int load_ranks(lmc_tokenizer *t, const char *s, size_t len, int32_t *max_rank, lmc_err *err) {
    tk_strmap_init(&t->bpe.vocab, 160000);
    size_t line_no = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - s) : len;
        line_no++;
        size_t a = i, b = end;
        while (b > a && (s[b - 1] == '\r' || s[b - 1] == ' ')) b--;
        i = end + 1;
        if (a == b) continue;
        const char *sp = memchr(s + a, ' ', b - a);
        char *stop = NULL;
        long rank = sp ? strtol(sp + 1, &stop, 10) : -1;
        uint8_t *tok = NULL;
        size_t tok_len = 0;
        if (!sp || stop != s + b || rank < 0 || rank >= INT32_MAX ||
            lmc_base64_decode(s + a, (size_t)(sp - (s + a)), &tok, &tok_len) || tok_len == 0) {
            free(tok);
            return lmc_fail(err, "%s: line %zu is not \"base64 rank\"", t->origin, line_no);
        }
        tk_strmap_put(&t->bpe.vocab, (const char *)tok, tok_len, (int32_t)rank);
        free(tok);
        if (rank > *max_rank) *max_rank = (int32_t)rank;
    }
    if (*max_rank < 0) return lmc_fail(err, "%s: no ranks in the file", t->origin);
    for (int b = 0; b < 256; b++) {
        char byte = (char)b;
        if (tk_strmap_get(&t->bpe.vocab, &byte, 1) < 0)
            return lmc_fail(err, "%s: byte 0x%02X has no rank (tiktoken needs all 256)", t->origin, b);
    }
    return 0;
}

/* ---- Qwen's special tokens ------------------------------------------------------------------------- */

static void add_special(lmc_tokenizer *t, const char *content, int32_t id) {
    tk_added *a = &t->added[t->n_added++];
    memset(a, 0, sizeof *a);
    a->len = strlen(content);
    a->content = lmc_xstrdup(content);
    a->id = id;
    a->special = true;
}

static void add_qwen_specials(lmc_tokenizer *t, int32_t first_id) {
    t->added = lmc_xcalloc(3 + QWEN_N_EXTRA, sizeof *t->added);
    add_special(t, "<|endoftext|>", first_id);
    add_special(t, "<|im_start|>", first_id + 1);
    add_special(t, "<|im_end|>", first_id + 2);
    for (int i = 0; i < QWEN_N_EXTRA; i++) {
        char name[32];
        snprintf(name, sizeof name, "<|extra_%d|>", i);
        add_special(t, name, first_id + 3 + i);
    }
}

/* ---- setup ------------------------------------------------------------------------------------------ */

static int setup(lmc_tokenizer *t, const char *ranks, size_t len, const char *config_json, size_t config_len,
                 lmc_err *err) {
    int32_t max_rank = -1;
    t->nfc_whole_text = true;
    t->bpe.mode = TK_BPE_TIKTOKEN;
    if (load_ranks(t, ranks, len, &max_rank, err)) return -1;
    add_qwen_specials(t, max_rank + 1); /* Qwen-1: 151643 = one past the last rank */
    t->vocab_size = max_rank + 1 + 3 + QWEN_N_EXTRA;
    if (tk_build_added_tries(t, err)) return -1;

    tk_pretok *p = &t->pretoks[t->n_pretoks++];
    memset(p, 0, sizeof *p);
    p->kind = TK_PT_SPLIT;
    p->m.kind = TK_MATCH_REGEX;
    p->behavior = TK_REMOVED;
    p->invert = true; /* keep only the matches */
    if (tk_regex_compile(&p->m.re, qwen_pattern, strlen(qwen_pattern), t->origin, err)) return -1;

    cJSON *cfg = NULL;
    if (config_json) {
        cfg = cJSON_ParseWithLength(config_json, config_len);
        if (!cJSON_IsObject(cfg)) {
            cJSON_Delete(cfg);
            return lmc_fail(err, "%s: tokenizer_config.json is not a valid JSON object", t->origin);
        }
    }
    int rc = tk_decide_specials(t, cfg, NULL, err);
    cJSON_Delete(cfg);
    return rc;
}

int lmc_tokenizer_from_tiktoken(const char *ranks, size_t len, const char *config_json, size_t config_len,
                                const char *origin, lmc_tokenizer **out, lmc_err *err) {
    *out = NULL;
    lmc_tokenizer *t = tk_new(TK_KIND_TIKTOKEN, origin ? origin : "qwen.tiktoken");
    if (setup(t, ranks, len, config_json, config_len, err)) { lmc_tokenizer_free(t); return -1; }
    tk_set_hash(t, ranks, len, config_json, config_json ? config_len : 0);
    *out = t;
    return 0;
}
