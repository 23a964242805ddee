/* tokenizer.c — opening a tokenizer directory, the encode driver, and the accessors.
 *
 * Encoding follows HF TokenizerImpl::encode for one sequence:
 *   1. the input must be valid UTF-8 (else an error with the byte offset);
 *   2. added tokens with normalized = false are cut out of the raw text;
 *   3. each remaining piece is normalized, then added tokens with normalized = true are cut out of it;
 *   4. each remaining piece goes through the pre-tokenizer stages and the BPE model;
 *   5. with add_special, the post-processor's (or tokenizer_config's, SPEC §2) prefix and suffix are added.
 * Empty pieces are dropped at every step, as HF does. tiktoken (Qwen-1) runs the same driver after NFC of the
 * whole text; llama2.c's tokenizer.bin has its own encoder (llama2c.c).
 */
#include "tokenizer/internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- construction --------------------------------------------------------------------------------- */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes get U+0100.. in
 * byte order. */
static void bytelevel_init(lmc_tokenizer *t) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        uint32_t cp = printable ? (uint32_t)b : next++;
        t->bytelevel_len[b] = (uint8_t)tk_utf8_encode(cp, t->bytelevel[b]);
    }
}

lmc_tokenizer *tk_new(tk_kind kind, const char *origin) {
    lmc_tokenizer *t = lmc_xcalloc(1, sizeof *t);
    t->kind = kind;
    snprintf(t->origin, sizeof t->origin, "%s", origin ? origin : "tokenizer");
    t->bpe.unk_id = -1;
    bytelevel_init(t);
    t->md = pcre2_match_data_create(16, NULL);
    t->mctx = pcre2_match_context_create(NULL);
    t->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!t->md || !t->mctx || !t->jit_stack) lmc_oom(8 * 1024 * 1024, "the PCRE2 match data and JIT stack"); /* as lmc_xmalloc: bookkeeping */
    pcre2_jit_stack_assign(t->mctx, NULL, t->jit_stack);
    return t;
}

void tk_set_hash(lmc_tokenizer *t, const void *a, size_t alen, const void *b, size_t blen) {
    lmc_sha256 h;
    lmc_sha256_init(&h);
    lmc_sha256_update(&h, a, alen);
    if (b && blen) lmc_sha256_update(&h, b, blen);
    lmc_sha256_final_hex(&h, t->hash);
}

int32_t tk_token_id(const lmc_tokenizer *t, const char *s, size_t n) {
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->added[i].content, s, n) == 0) return t->added[i].id;
    return tk_strmap_get(&t->bpe.vocab, s, n);
}

void lmc_tokenizer_free(lmc_tokenizer *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n_norms; i++) tk_norm_free(&t->norms[i]);
    free(t->norms);
    for (size_t i = 0; i < t->n_pretoks; i++) tk_pretok_free(&t->pretoks[i]);
    for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    tk_trie_free(&t->raw_trie);
    tk_trie_free(&t->norm_trie);
    tk_bpe_free(&t->bpe);
    free(t->prefix);
    free(t->suffix);
    free(t->dec_off);
    free(t->dec_len);
    free(t->dec_special);
    lmc_buf_free(&t->dec_strs);
    if (t->md) pcre2_match_data_free(t->md);
    if (t->mctx) pcre2_match_context_free(t->mctx);
    if (t->jit_stack) pcre2_jit_stack_free(t->jit_stack);
    lmc_buf_free(&t->whole);
    lmc_buf_free(&t->norm_a);
    lmc_buf_free(&t->norm_b);
    free(t->pass1.v);
    free(t->pass2.v);
    for (size_t i = 0; i < TK_MAX_PRETOK; i++) {
        tk_level *lv = &t->levels[i];
        lmc_buf_free(&lv->a);
        lmc_buf_free(&lv->b);
        free(lv->segs.v);
        free(lv->out.v);
    }
    free(t);
}

/* ---- opening a directory ------------------------------------------------------------------------------ */

static bool exists_maybe_gz(const char *path) {
    char gz[4400];
    snprintf(gz, sizeof gz, "%s.gz", path);
    return lmc_file_exists(path) || lmc_file_exists(gz);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Reads dir/tokenizer_config.json[.gz] when present (*cfg stays NULL otherwise). */
static int read_config(const char *dir, char **cfg, size_t *cfg_len, lmc_err *err) {
    char path[4200];
    lmc_path_join(path, sizeof path, dir, "tokenizer_config.json");
    *cfg = NULL;
    *cfg_len = 0;
    if (!exists_maybe_gz(path)) return 0;
    return lmc_read_file_or_gz(path, cfg, cfg_len, NULL, 0, err);
}

typedef int (*tk_loader)(const char *, size_t, const char *, size_t, const char *, lmc_tokenizer **, lmc_err *);

static int open_file(const char *path, const char *dir, tk_loader load, lmc_tokenizer **out, lmc_err *err) {
    char found[4200], *data = NULL, *cfg = NULL;
    size_t len = 0, cfg_len = 0;
    if (lmc_read_file_or_gz(path, &data, &len, found, sizeof found, err)) return -1;
    if (read_config(dir, &cfg, &cfg_len, err)) { free(data); return -1; }
    int rc = load(data, len, cfg, cfg_len, found, out, err);
    free(data);
    free(cfg);
    return rc;
}

static int llama2c_loader(const char *bin, size_t len, const char *cfg, size_t cfg_len, const char *origin,
                          lmc_tokenizer **out, lmc_err *err) {
    (void)cfg, (void)cfg_len;
    return lmc_tokenizer_from_llama2c(bin, len, origin, out, err);
}

/* A llama2.c tokenizer in dir: tokenizer.bin or tok*.bin (tok512.bin beside stories260K.bin). 1 and its path
 * in file when there is exactly one; 0 when none; fails naming two when there are more. */
static int llama2c_tokenizer_in(const char *dir, char *file, size_t cap, lmc_err *err) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char names[2][256];
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t k = strlen(de->d_name);
        if (k < 7 || strncmp(de->d_name, "tok", 3) != 0 || strcmp(de->d_name + k - 4, ".bin") != 0) continue;
        if (n < 2) snprintf(names[n], sizeof names[n], "%s", de->d_name);
        n++;
    }
    closedir(d);
    if (n > 1)
        return lmc_fail(err, "%s: no tokenizer.json, and %d llama2.c tokenizers (%s, %s%s): pass one with --tokenizer",
                        dir, n, names[0], names[1], n > 2 ? ", ..." : "");
    if (n == 1) lmc_path_join(file, cap, dir, names[0]);
    return n;
}

int lmc_tokenizer_open_dir(const char *path, lmc_tokenizer **out, lmc_err *err) {
    *out = NULL;
    char dir[4096], file[4200];
    if (lmc_is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        lmc_path_join(file, sizeof file, dir, "tokenizer.json");
        if (exists_maybe_gz(file)) return open_file(file, dir, lmc_tokenizer_from_json, out, err);
        lmc_path_join(file, sizeof file, dir, "qwen.tiktoken");
        if (exists_maybe_gz(file)) return open_file(file, dir, lmc_tokenizer_from_tiktoken, out, err);
        int l2c = llama2c_tokenizer_in(dir, file, sizeof file, err);
        if (l2c) return l2c < 0 ? -1 : open_file(file, dir, llama2c_loader, out, err);
        return lmc_fail(err, "%s: no tokenizer.json, qwen.tiktoken (or .gz) or llama2.c tok*.bin in this directory",
                        path);
    }
    if (!exists_maybe_gz(path)) return lmc_fail(err, "%s: no such file or directory", path);
    snprintf(dir, sizeof dir, "%s", path); /* the file's directory, for tokenizer_config.json */
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    if (ends_with(path, ".tiktoken") || ends_with(path, ".tiktoken.gz"))
        return open_file(path, dir, lmc_tokenizer_from_tiktoken, out, err);
    if (ends_with(path, ".bin")) return open_file(path, dir, llama2c_loader, out, err);
    return open_file(path, dir, lmc_tokenizer_from_json, out, err);
}

/* ---- encoding ----------------------------------------------------------------------------------------- */

/* Steps 2-4 for one text. */
static int encode_pipeline(lmc_tokenizer *t, const char *text, size_t len, tk_ids *out, lmc_err *err) {
    const char *s = text;
    size_t n = len;
    if (t->nfc_whole_text) {
        if (tk_nfc(text, len, &t->whole, t->origin, err)) return -1;
        s = t->whole.p;
        n = t->whole.len;
    }
    tk_added_split(t, &t->raw_trie, s, n, &t->pass1);
    for (size_t i = 0; i < t->pass1.n; i++) {
        const tk_piece *p = &t->pass1.v[i];
        if (p->id >= 0) { tk_ids_push(out, p->id); continue; }
        if (p->end == p->start) continue;
        bool at_start = p->start == 0; /* HF Metaspace "first": the piece's original offset is 0 */
        const char *ns;
        size_t nn;
        if (tk_normalize(t, s + p->start, p->end - p->start, &ns, &nn, &at_start, err)) return -1;
        tk_added_split(t, &t->norm_trie, ns, nn, &t->pass2);
        for (size_t j = 0; j < t->pass2.n; j++) {
            const tk_piece *q = &t->pass2.v[j];
            if (q->id >= 0) { tk_ids_push(out, q->id); continue; }
            if (tk_pretokenize(t, 0, ns + q->start, q->end - q->start, at_start && q->start == 0, out, err))
                return -1;
        }
    }
    return 0;
}

int lmc_tokenize(lmc_tokenizer *tok, const char *text, size_t len, int add_special, int32_t **ids, size_t *n_ids,
                 lmc_err *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!tok) return lmc_fail(err, "lmc_tokenize: no tokenizer");
    if (!text && len) return lmc_fail(err, "%s: lmc_tokenize: NULL text", tok->origin);
    if (!text) text = "";
    size_t bad = 0;
    if (!lmc_utf8_validate(text, len, NULL, &bad))
        return lmc_fail(err, "%s: input is not valid UTF-8 at byte offset %zu", tok->origin, bad);
    tk_ids out = {lmc_xmalloc(256 * sizeof(int32_t)), 0, 256}; /* never NULL, even for no ids */
    if (add_special) tk_ids_append(&out, tok->prefix, tok->n_prefix);
    int rc = tok->kind == TK_KIND_LLAMA2C ? tk_llama2c_encode(tok, text, len, &out, err)
                                          : encode_pipeline(tok, text, len, &out, err);
    if (rc) { free(out.v); return -1; }
    if (add_special) tk_ids_append(&out, tok->suffix, tok->n_suffix);
    *ids = out.v;
    *n_ids = out.n;
    return 0;
}

/* ---- accessors ---------------------------------------------------------------------------------------- */

int lmc_tokenizer_bos(const lmc_tokenizer *tok) { return tok && tok->n_prefix ? tok->prefix[0] : -1; }

int lmc_tokenizer_vocab_size(const lmc_tokenizer *tok) { return tok ? tok->vocab_size : 0; }

const char *lmc_tokenizer_hash(const lmc_tokenizer *tok) { return tok ? tok->hash : ""; }

/* ---- a tokenizer for a model -------------------------------------------------------------------------- */

int lmc_check_tokenizer_fits(const lmc_model *m, const lmc_tokenizer *tok, const char *tok_path, lmc_err *err) {
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    if (tok->vocab_size <= d.vocab) return 0;
    return lmc_fail(err, "tokenizer %s has %d tokens but model %s has %d (its embedding rows): the tokenizer "
                         "belongs to another model", tok_path ? tok_path : tok->origin, (int)tok->vocab_size, d.path,
                    d.vocab);
}
