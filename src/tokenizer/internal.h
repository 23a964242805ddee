/* internal.h — what the tokenizer's files share: the lmc_tokenizer struct and the data each stage reads.
 *
 * A tokenizer.json becomes data here, stage by stage, in the order HF `tokenizers` applies them:
 *
 *   text ─▶ added tokens (raw) ─▶ normalizer ─▶ added tokens (normalized) ─▶ pre-tokenizer ─▶ BPE ─▶ post
 *           added_tokens.c        normalize.c    added_tokens.c               pretokenize.c    bpe.c   tokenizer.c
 *
 * json_load.c fills the structs from tokenizer.json (+ tokenizer_config.json), tiktoken.c from Qwen-1's ranks
 * file, llama2c.c from a llama2.c tokenizer.bin (which has its own, much simpler, encoder).
 *
 * Invariants: every string the pipeline passes along is valid UTF-8 (the input is validated once, and each
 * stage maps valid UTF-8 to valid UTF-8); pieces are (pointer, length) views, never NUL-terminated.
 */
#ifndef LMC_TOKENIZER_INTERNAL_H
#define LMC_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokenizer.h"
#include "common/util.h"

/* ---- small vectors ----------------------------------------------------------------------------- */

typedef struct tk_ids {
    int32_t *v;
    size_t   n, cap;
} tk_ids;

void tk_ids_push(tk_ids *a, int32_t id);
void tk_ids_append(tk_ids *a, const int32_t *ids, size_t n);

/* A span [start, end) of some string; is_match tells a pattern match from the text between matches. */
typedef struct tk_seg {
    size_t start, end;
    int    is_match;
} tk_seg;

typedef struct tk_segs {
    tk_seg *v;
    size_t  n, cap;
} tk_segs;

void tk_segs_push(tk_segs *a, size_t start, size_t end, int is_match);

/* ---- UTF-8 and character classes (normalize.c) -------------------------------------------------- */

/* Decodes the code point at s (valid UTF-8 assumed) and stores its byte length in *len. */
static inline uint32_t tk_utf8_decode(const char *str, size_t *len) {
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) { *len = 1; return s[0]; }
    if (s[0] < 0xE0) { *len = 2; return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F); }
    if (s[0] < 0xF0) { *len = 3; return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F); }
    *len = 4;
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}
static inline size_t tk_utf8_len(unsigned char lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
size_t tk_utf8_encode(uint32_t cp, char out[4]);

/* Rust's char predicates, which HF uses: is_whitespace (White_Space), is_numeric (Nd|Nl|No), HF's is_punc
 * (ASCII punctuation or Unicode P*), and "word" characters for single_word added tokens. */
bool tk_is_whitespace(uint32_t cp);
bool tk_is_numeric(uint32_t cp);
bool tk_is_punctuation(uint32_t cp);
bool tk_is_word_char(uint32_t cp);

/* ---- hash tables (bpe.c) ------------------------------------------------------------------------ */

uint64_t tk_hash(const void *p, size_t n);

/* Byte string -> int32. Keys are copied into one arena. */
typedef struct tk_strmap {
    struct tk_strslot { uint32_t hash, len; size_t off; int32_t val; } *slots; /* len == UINT32_MAX: empty */
    size_t mask, count;
    lmc_buf keys;
} tk_strmap;

void    tk_strmap_init(tk_strmap *m, size_t expected);
int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n); /* -1 when absent */
void    tk_strmap_put(tk_strmap *m, const char *s, size_t n, int32_t val); /* replaces an existing value */
void    tk_strmap_clear(tk_strmap *m);
void    tk_strmap_free(tk_strmap *m);

/* (id, id) -> (rank, merged id): the BPE merges. */
typedef struct tk_pairmap {
    struct tk_pairslot { uint64_t key; uint32_t rank; int32_t id; } *slots; /* rank == UINT32_MAX: empty */
    size_t mask, count;
} tk_pairmap;

void tk_pairmap_init(tk_pairmap *m, size_t expected);
bool tk_pairmap_get(const tk_pairmap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *id);
void tk_pairmap_put(tk_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t id); /* replaces (HF: later wins) */
void tk_pairmap_free(tk_pairmap *m);

/* ---- regexes (pretokenize.c) -------------------------------------------------------------------- */

/* A PCRE2 pattern compiled UTF | UCP | MULTILINE with LF-only newlines (Oniguruma's `$` is end of line). */
typedef struct tk_regex {
    pcre2_code *code;
    bool        jit;
} tk_regex;

int  tk_regex_compile(tk_regex *re, const char *pat, size_t len, const char *origin, lmc_err *err);
void tk_regex_free(tk_regex *re);

/* ---- what splits and Replace look for (pretokenize.c) ------------------------------------------ */

/* HF SplitDelimiterBehavior. */
typedef enum tk_behavior {
    TK_REMOVED, TK_ISOLATED, TK_MERGED_WITH_PREVIOUS, TK_MERGED_WITH_NEXT, TK_CONTIGUOUS,
} tk_behavior;

/* What a split looks for: a regex, a literal string, or single characters of a class. */
typedef enum tk_match_kind { TK_MATCH_REGEX, TK_MATCH_LITERAL, TK_MATCH_CHARS } tk_match_kind;
typedef enum tk_char_class { TK_CC_NUMERIC, TK_CC_PUNCT, TK_CC_WHITESPACE, TK_CC_ONE_CHAR } tk_char_class;

typedef struct tk_matcher {
    tk_match_kind kind;
    tk_regex      re;
    char         *lit;
    size_t        lit_len;
    tk_char_class cc;
    uint32_t      ch; /* TK_CC_ONE_CHAR */
} tk_matcher;

/* ---- normalizers (normalize.c) ------------------------------------------------------------------ */

typedef enum tk_norm_kind {
    TK_NORM_NFC, TK_NORM_NFD, TK_NORM_NFKC, TK_NORM_NFKD, TK_NORM_LOWERCASE, TK_NORM_STRIP,
    TK_NORM_STRIP_ACCENTS, TK_NORM_PREPEND, TK_NORM_REPLACE, TK_NORM_BYTELEVEL,
} tk_norm_kind;

typedef struct tk_norm {
    tk_norm_kind kind;
    bool         strip_left, strip_right; /* Strip */
    char        *str;                     /* Prepend: the prefix; Replace: the replacement */
    size_t       str_len;
    tk_matcher   m;                       /* Replace: the pattern (String or Regex) */
} tk_norm;

/* ---- pre-tokenizers (pretokenize.c) ------------------------------------------------------------- */

typedef enum tk_pretok_kind { TK_PT_SPLIT, TK_PT_BYTELEVEL, TK_PT_METASPACE } tk_pretok_kind;
typedef enum tk_prepend { TK_PREPEND_ALWAYS, TK_PREPEND_FIRST, TK_PREPEND_NEVER } tk_prepend;

typedef struct tk_pretok {
    tk_pretok_kind kind;
    /* TK_PT_SPLIT (Split, Digits, Punctuation, Whitespace, WhitespaceSplit, CharDelimiterSplit) */
    tk_matcher  m;
    tk_behavior behavior;
    bool        invert;
    /* TK_PT_BYTELEVEL: optional prefix space, optional GPT-2 regex split (in m), then the byte alphabet */
    bool add_prefix_space, use_regex;
    /* TK_PT_METASPACE: ' ' -> replacement, prepend per scheme, optional split (MergedWithNext) */
    char       rep[4];
    size_t     rep_len;
    uint32_t   rep_cp;
    tk_prepend prepend;
    bool       split;
} tk_pretok;

/* ---- added tokens (added_tokens.c) -------------------------------------------------------------- */

typedef struct tk_added {
    char   *content;
    size_t  len;
    int32_t id;
    bool    special, lstrip, rstrip, single_word, normalized;
} tk_added;

/* Byte trie over the patterns of one matching set (leftmost-longest, like HF's Aho-Corasick). */
typedef struct tk_trie_node {
    int32_t child, sibling; /* first child, next sibling; -1: none */
    int32_t tok;            /* index into lmc_tokenizer.added of the pattern ending here, or -1 */
    uint8_t byte;
} tk_trie_node;

typedef struct tk_trie {
    tk_trie_node *nodes; /* nodes[0] is the root */
    size_t        n, cap;
    uint8_t       first[256]; /* 1 when some pattern starts with this byte */
    size_t        n_patterns;
} tk_trie;

/* One piece after added-token splitting: text (id < 0) or an added token's id. */
typedef struct tk_piece {
    size_t  start, end;
    int32_t id;
} tk_piece;

typedef struct tk_pieces {
    tk_piece *v;
    size_t    n, cap;
} tk_pieces;

void tk_trie_init(tk_trie *t);
void tk_trie_add(tk_trie *t, const char *pat, size_t len, int32_t tok_index);
void tk_trie_free(tk_trie *t);
/* Splits s[0..n) on the trie's patterns as HF's AddedVocabulary::find_matches does (single_word, lstrip,
 * rstrip honoured), replacing *out. */
void tk_added_split(const lmc_tokenizer *t, const tk_trie *trie, const char *s, size_t n, tk_pieces *out);

/* ---- the BPE model (bpe.c) ---------------------------------------------------------------------- */

typedef enum tk_bpe_mode {
    TK_BPE_HF,       /* tokenizer.json merges: pair -> rank, leftmost lowest rank first */
    TK_BPE_TIKTOKEN, /* ranks of byte strings: merge the pair whose concatenation has the lowest rank */
    TK_BPE_LLAMA2C,  /* run.c: merge the pair whose concatenated string has the highest score */
} tk_bpe_mode;

typedef struct tk_sym {
    int32_t id;         /* token id; -1 once merged into its left neighbour */
    int32_t prev, next; /* neighbours in the word, -1 at the ends */
    uint32_t start, len; /* bytes of the word it covers */
} tk_sym;

typedef struct tk_merge_cand {
    uint64_t key; /* priority << 32 | left position: the smallest key merges first */
    int32_t  left_id, right_id, new_id;
    int32_t  right;
} tk_merge_cand;

typedef struct tk_bpe {
    tk_bpe_mode mode;
    tk_strmap   vocab;  /* token string (tiktoken: raw bytes) -> id */
    tk_pairmap  merges; /* TK_BPE_HF */
    int32_t     unk_id; /* -1: no unk_token */
    char       *unk_token;
    bool        unk_missing; /* unk_token set but not in the vocab: error when it is needed (as HF) */
    bool        fuse_unk, byte_fallback, ignore_merges;
    int32_t     byte_ids[256]; /* byte_fallback: id of "<0xXX>", -1 when absent */
    char       *prefix, *suffix; /* continuing_subword_prefix / end_of_word_suffix (NULL: none) */
    size_t      prefix_len, suffix_len;
    /* SentencePiece-style BPE sees whole texts as one word. When no merge can make a token with "▁" after
     * another character (checked on every merge at load), nothing merges across the point before a "▁" that
     * follows a non-"▁", so such a word is merged chunk by chunk, each chunk through the cache. */
    bool        chunk_at_meta;
    /* TK_BPE_LLAMA2C: per id its string and score */
    char      **strs;
    uint32_t   *str_lens;
    float      *scores;
    int32_t     n_tokens;
    /* word cache: piece -> offset in cache_ids of [count, ids...] */
    tk_strmap   cache;
    tk_ids      cache_ids;
    /* scratch for one word */
    tk_sym        *syms;
    size_t         syms_cap;
    tk_merge_cand *heap;
    size_t         heap_n, heap_cap;
    lmc_buf        key;
} tk_bpe;

#define TK_META "\xE2\x96\x81" /* U+2581, SentencePiece's space */

/* Appends the ids of one pre-tokenized piece. */
int  tk_bpe_encode(tk_bpe *m, const char *s, size_t n, tk_ids *out, const char *origin, lmc_err *err);
/* Merges syms[0..n) in place (a linked list afterwards: follow next from 0). */
int  tk_bpe_merge(tk_bpe *m, const char *word, size_t nsym, const char *origin, lmc_err *err);
void tk_bpe_free(tk_bpe *m);
/* For chunk_at_meta: true when token string s has a "▁" after a character other than "▁". */
bool tk_meta_after_other(const char *s, size_t n);
/* llama2c's encoder (llama2c.c). */
int tk_llama2c_encode(lmc_tokenizer *t, const char *text, size_t len, tk_ids *out, lmc_err *err);

/* ---- the tokenizer ------------------------------------------------------------------------------ */

typedef enum tk_kind { TK_KIND_HF, TK_KIND_TIKTOKEN, TK_KIND_LLAMA2C } tk_kind;

#define TK_MAX_PRETOK 16

/* Scratch of one pre-tokenizer level: the level's rewritten text, its splits, and its output spans. */
typedef struct tk_level {
    lmc_buf a, b;
    tk_segs segs, out;
} tk_level;

struct lmc_tokenizer {
    tk_kind kind;
    char    origin[512]; /* for error messages */
    char    hash[65];

    /* normalizer, flattened (Sequence nesting removed) */
    tk_norm *norms;
    size_t   n_norms;
    bool     nfc_whole_text; /* tiktoken (Qwen-1): NFC the whole text before anything else */

    /* pre-tokenizer, flattened */
    tk_pretok pretoks[TK_MAX_PRETOK];
    size_t    n_pretoks;

    /* added tokens and the two matching sets: on the raw text and on the normalized text */
    tk_added *added;
    size_t    n_added;
    tk_trie   raw_trie, norm_trie;

    tk_bpe bpe;

    /* what add_special = 1 adds around the ids */
    int32_t *prefix, *suffix;
    size_t   n_prefix, n_suffix;

    int32_t vocab_size;
    char    bytelevel[256][3]; /* GPT-2 bytes_to_unicode, as UTF-8 (1 or 2 bytes, NUL-padded) */
    uint8_t bytelevel_len[256];

    /* decoding (decode.c), built on the first lmc_token_bytes: each id's string in dec_strs */
    uint32_t *dec_off, *dec_len; /* (vocab_size); dec_len UINT32_MAX: no token has that id */
    uint8_t  *dec_special;       /* (vocab_size) 1: a special added token (decodes to nothing) */
    lmc_buf   dec_strs;

    /* per-call scratch */
    pcre2_match_data    *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack     *jit_stack;
    lmc_buf              whole, norm_a, norm_b;
    tk_pieces            pass1, pass2;
    tk_level             levels[TK_MAX_PRETOK];
};

/* tokenizer.c */
lmc_tokenizer *tk_new(tk_kind kind, const char *origin);
int32_t        tk_token_id(const lmc_tokenizer *t, const char *s, size_t n); /* added tokens, then vocab */
void           tk_set_hash(lmc_tokenizer *t, const void *a, size_t alen, const void *b, size_t blen);

/* json_load.c: the added-token tries (after the normalizer is loaded), and what add_special adds (SPEC §2:
 * a Llama-style tokenizer_class in cfg rebuilds it from add_bos_token/add_eos_token, else the post-processor;
 * either may be NULL). */
struct cJSON;
int tk_build_added_tries(lmc_tokenizer *t, lmc_err *err);
int tk_decide_specials(lmc_tokenizer *t, const struct cJSON *cfg, const struct cJSON *post_processor,
                       lmc_err *err);

/* normalize.c: applies the normalizer to s[0..n); *out points into the tokenizer's scratch (or at s).
 * *at_start is cleared when the first original character was removed (HF offsets_original().0 != 0). */
int tk_normalize(lmc_tokenizer *t, const char *s, size_t n, const char **out, size_t *out_n, bool *at_start,
                 lmc_err *err);
int tk_nfc(const char *s, size_t n, lmc_buf *out, const char *origin, lmc_err *err);
void tk_norm_free(tk_norm *nm);

/* pretokenize.c: runs pre-tokenizer stages [level..] on one piece, then the model; appends ids. */
int  tk_pretokenize(lmc_tokenizer *t, size_t level, const char *s, size_t n, bool at_start, tk_ids *out,
                    lmc_err *err);
int  tk_find_matches(lmc_tokenizer *t, const tk_matcher *m, const char *s, size_t n, tk_segs *out, lmc_err *err);
void tk_pretok_free(tk_pretok *p);
void tk_matcher_free(tk_matcher *m);
/* The GPT-2 pre-tokenization regex that ByteLevel(use_regex = true) uses. */
extern const char tk_gpt2_pattern[];

#endif
