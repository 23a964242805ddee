/* peer_vocab_check.c — lmc's GGUF tokenizer against llama.cpp's own vocab files (run by bench/peer_vocab.sh).
 *
 *   peer_vocab_check cases VOCAB.gguf
 *       VOCAB.gguf.inp holds test texts separated by "\n__ggml_vocab_test__\n" and VOCAB.gguf.out one line of
 *       expected ids per text (HF AutoTokenizer, add_special_tokens=False; llama.cpp's tests/test-tokenizer-0
 *       format). Prints: vocab, cases, matches, and the first mismatch (its index, text, expected and lmc ids).
 *   peer_vocab_check compare REAL.gguf HF_DIR PRE
 *       writes HF_DIR's tokenizer.json as a GGUF the way the tests do (tests/hf_vocab_gguf.h, pre name PRE) and
 *       compares it with REAL.gguf (written by llama.cpp's converter): tokens, token types, merges, the order of
 *       the SentencePiece scores, special ids and flags, then the ids both give on REAL.gguf.inp.
 * Exit status 0 when everything matches, 1 otherwise, 2 on a usage or file error, 3 (cases) when lmc does not
 * support the vocabulary (its model or pre-tokenizer): the error is printed in the table.
 */
#include "../tests/hf_vocab_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gguf.h"
#include "lmc.h"
#include "tokenizer/tokenizer.h"
#include "common/util.h"

/* ---- the .inp/.out pair -------------------------------------------------------------------------- */

typedef struct cases {
    char   *inp, *out;   /* file contents (owned) */
    char  **text;        /* (n) pointers into inp, each NUL-terminated in place */
    size_t *len;         /* (n) */
    char  **want;        /* (n) lines of out, spaces trimmed */
    size_t  n;
} cases;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

/* Splits as test-tokenizer-0 does; 0, or -1 (with a message) when unreadable or the counts differ. */
static int read_cases(const char *vocab, cases *c) {
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char path[4200];
    size_t ilen, olen;
    lmc_err err;
    memset(c, 0, sizeof *c);
    snprintf(path, sizeof path, "%s.inp", vocab);
    if (lmc_read_file(path, &c->inp, &ilen, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    snprintf(path, sizeof path, "%s.out", vocab);
    if (lmc_read_file(path, &c->out, &olen, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    size_t cap = 0;
    for (size_t pos = 0; pos < ilen;) {
        char *next = memmem(c->inp + pos, ilen - pos, sep, sizeof sep - 1);
        size_t end = next ? (size_t)(next - c->inp) : ilen;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 64;
            c->text = lmc_xrealloc(c->text, cap * sizeof *c->text);
            c->len = lmc_xrealloc(c->len, cap * sizeof *c->len);
        }
        c->text[c->n] = c->inp + pos;
        c->len[c->n++] = end - pos;
        c->inp[end] = 0;
        if (!next) break;
        pos = end + sizeof sep - 1;
    }
    c->want = lmc_xcalloc(c->n ? c->n : 1, sizeof *c->want);
    size_t k = 0;
    for (char *line = c->out; line && k < c->n; k++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        c->want[k] = trim(line);
        line = nl ? nl + 1 : NULL;
    }
    if (k != c->n) { fprintf(stderr, "%s: %zu texts but %zu expected lines\n", vocab, c->n, k); return -1; }
    return 0;
}

static void free_cases(cases *c) {
    free(c->inp);
    free(c->out);
    free(c->text);
    free(c->len);
    free(c->want);
}

/* ids as "1 2 3" */
static void ids_text(const int32_t *ids, size_t n, lmc_buf *b) {
    b->len = 0;
    for (size_t i = 0; i < n; i++) lmc_buf_printf(b, i ? " %d" : "%d", ids[i]);
    lmc_buf_append(b, "", 1);
}

static void print_text(const char *s, size_t n) { /* one line, control characters escaped, at most 40 bytes */
    putchar('"');
    for (size_t i = 0; i < n && i < 40; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == '"' || ch == '\\') printf("\\x%02x", ch);
        else putchar(ch);
    }
    printf(n > 40 ? "...\"" : "\"");
}

static int run_cases(const char *vocab) {
    cases c;
    if (read_cases(vocab, &c)) { free_cases(&c); return 2; }
    const char *name = strrchr(vocab, '/') ? strrchr(vocab, '/') + 1 : vocab;
    lmc_tokenizer *tok = NULL;
    lmc_err err;
    if (lmc_tokenizer_open(vocab, &tok, &err)) {
        printf("%-34s %5zu %7s   %s\n", name, c.n, "-", err.msg);
        free_cases(&c);
        return 3;
    }
    size_t match = 0, first = SIZE_MAX;
    lmc_buf got = {0}, first_got = {0};
    for (size_t i = 0; i < c.n; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (lmc_tokenize(tok, c.text[i], c.len[i], 0, &ids, &n, &err)) lmc_buf_printf(&got, "error: %s", err.msg);
        else ids_text(ids, n, &got);
        free(ids);
        if (!strcmp(got.p, c.want[i])) match++;
        else if (first == SIZE_MAX) { first = i; first_got.len = 0; lmc_buf_append(&first_got, got.p, strlen(got.p) + 1); }
    }
    printf("%-34s %5zu %7zu", name, c.n, match);
    if (first != SIZE_MAX) {
        printf("   first mismatch: case %zu ", first);
        print_text(c.text[first], c.len[first]);
        printf(" want [%s] lmc [%s]", c.want[first], first_got.p);
    }
    putchar('\n');
    lmc_buf_free(&got);
    lmc_buf_free(&first_got);
    lmc_tokenizer_free(tok);
    free_cases(&c);
    return match == c.n ? 0 : 1;
}

/* ---- a real vocabulary against a test-built one ----------------------------------------------------- */

static const lmc_gguf_kv *kv(const lmc_gguf *g, const char *key) { return lmc_gguf_find_kv(g, key); }

/* Strings of two arrays: how many of the first min(n) differ; the first such index in *first. */
static uint64_t diff_strings(const lmc_gguf_kv *a, const lmc_gguf_kv *b, uint64_t *first) {
    uint64_t n = a->n < b->n ? a->n : b->n, d = 0;
    *first = UINT64_MAX;
    for (uint64_t i = 0; i < n; i++) {
        const char *s, *t;
        size_t ls, lt;
        lmc_gguf_kv_str(a, i, &s, &ls);
        lmc_gguf_kv_str(b, i, &t, &lt);
        if (ls != lt || memcmp(s, t, ls)) { if (!d++) *first = i; }
    }
    return d;
}

static int compare(const char *real_path, const char *hf_dir, const char *pre) {
    char built_path[] = "/tmp/lmc_peer_vocab_XXXXXX";
    int fd = mkstemp(built_path);
    if (fd < 0) { perror("mkstemp"); return 2; }
    close(fd);
    lmc_err err;
    lmc_gguf *real = NULL, *built = NULL;
    if (hf_vocab_to_gguf(hf_dir, pre, built_path, &err) || lmc_gguf_open(real_path, &real, &err) ||
        lmc_gguf_open(built_path, &built, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        lmc_gguf_close(real);
        unlink(built_path);
        return 2;
    }
    int bad = 0;
    printf("%s vs %s (pre %s):\n", strrchr(real_path, '/') ? strrchr(real_path, '/') + 1 : real_path, hf_dir, pre);
    static const char *const arrays[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"};
    for (int k = 0; k < 2; k++) {
        const lmc_gguf_kv *a = kv(real, arrays[k]), *b = kv(built, arrays[k]);
        if (!a && !b) continue;
        if (!a || !b) { printf("  %-28s only in the %s file\n", arrays[k], a ? "real" : "built"); bad = 1; continue; }
        uint64_t first, d = diff_strings(a, b, &first);
        printf("  %-28s real %llu, built %llu, %llu differ", arrays[k], (unsigned long long)a->n,
               (unsigned long long)b->n, (unsigned long long)d);
        if (d) {
            const char *s, *t;
            size_t ls, lt;
            lmc_gguf_kv_str(a, first, &s, &ls);
            lmc_gguf_kv_str(b, first, &t, &lt);
            printf(" (first at %llu: real \"%.*s\", built \"%.*s\")", (unsigned long long)first, (int)(ls > 30 ? 30 : ls), s,
                   (int)(lt > 30 ? 30 : lt), t);
        }
        printf("\n");
        bad |= d != 0; /* a longer real list is padding to config.json's vocab_size ("[PADi]"), absent here */
    }
    const lmc_gguf_kv *ta = kv(real, "tokenizer.ggml.token_type"), *tb = kv(built, "tokenizer.ggml.token_type");
    if (ta && tb) {
        uint64_t n = ta->n < tb->n ? ta->n : tb->n, d = 0, first = 0;
        for (uint64_t i = 0; i < n; i++) {
            int64_t x, y;
            lmc_gguf_kv_int(ta, i, &x);
            lmc_gguf_kv_int(tb, i, &y);
            if (x != y && !d++) first = i;
        }
        printf("  %-28s %llu differ", "tokenizer.ggml.token_type", (unsigned long long)d);
        if (d) {
            int64_t x, y;
            lmc_gguf_kv_int(ta, first, &x);
            lmc_gguf_kv_int(tb, first, &y);
            printf(" (first at %llu: real %lld, built %lld)", (unsigned long long)first, (long long)x, (long long)y);
        }
        printf("\n");
    }
    /* scores: only their order matters (the merge rule compares them); count tokens i < j whose order differs,
     * among tokens i and i+1 next to each other in the real order, for normal tokens */
    const lmc_gguf_kv *sa = kv(real, "tokenizer.ggml.scores"), *sb = kv(built, "tokenizer.ggml.scores");
    if (sa && sb && ta) {
        uint64_t n = sa->n < sb->n ? sa->n : sb->n, pairs = 0, flips = 0;
        int64_t prev = -1;
        for (uint64_t i = 0; i < n; i++) {
            int64_t type;
            lmc_gguf_kv_int(ta, i, &type);
            if (type != 1) continue;
            if (prev >= 0) {
                double ra, rb, ba, bb;
                lmc_gguf_kv_float(sa, (uint64_t)prev, &ra);
                lmc_gguf_kv_float(sa, i, &rb);
                lmc_gguf_kv_float(sb, (uint64_t)prev, &ba);
                lmc_gguf_kv_float(sb, i, &bb);
                pairs++;
                flips += (ra > rb) != (ba > bb) && ra != rb;
            }
            prev = (int64_t)i;
        }
        printf("  %-28s %llu of %llu neighbouring normal tokens in opposite order\n", "tokenizer.ggml.scores",
               (unsigned long long)flips, (unsigned long long)pairs);
    }
    static const char *const scalars[] = {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id",
                                          "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                                          "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token",
                                          "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix"};
    printf("  %-28s", "special ids and flags");
    for (size_t k = 0; k < sizeof scalars / sizeof *scalars; k++) {
        const lmc_gguf_kv *a = kv(real, scalars[k]), *b = kv(built, scalars[k]);
        char va[64] = "-", vb[64] = "-";
        for (int w = 0; w < 2; w++) {
            const lmc_gguf_kv *x = w ? b : a;
            char *out = w ? vb : va;
            const char *s;
            size_t l;
            int64_t v;
            if (!x) continue;
            if (lmc_gguf_kv_str(x, 0, &s, &l) == 0) snprintf(out, 64, "%.*s", (int)(l > 40 ? 40 : l), s);
            else if (lmc_gguf_kv_int(x, 0, &v) == 0) snprintf(out, 64, "%lld", (long long)v);
        }
        if (strcmp(va, vb)) printf(" %s: real %s, built %s;", scalars[k] + 15, va, vb);
    }
    printf(" (others equal)\n");
    lmc_gguf_close(real);
    lmc_gguf_close(built);

    /* the ids both files give on the .inp texts */
    cases c;
    lmc_tokenizer *tr = NULL, *tb2 = NULL;
    if (read_cases(real_path, &c) == 0 && !lmc_tokenizer_open(real_path, &tr, &err) &&
        !lmc_tokenizer_open_gguf(built_path, &tb2, &err)) {
        size_t same = 0;
        for (size_t i = 0; i < c.n; i++) {
            int32_t *x = NULL, *y = NULL;
            size_t nx = 0, ny = 0;
            int r1 = lmc_tokenize(tr, c.text[i], c.len[i], 1, &x, &nx, &err);
            int r2 = lmc_tokenize(tb2, c.text[i], c.len[i], 1, &y, &ny, &err);
            same += !r1 && !r2 && nx == ny && !memcmp(x, y, nx * sizeof *x);
            free(x);
            free(y);
        }
        printf("  %-28s %zu of %zu texts give the same ids (with special tokens)\n", "ids", same, c.n);
        bad |= same != c.n;
    } else {
        printf("  ids: %s\n", err.msg);
        bad = 1;
    }
    lmc_tokenizer_free(tr);
    lmc_tokenizer_free(tb2);
    free_cases(&c);
    unlink(built_path);
    return bad;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "cases")) return run_cases(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "compare")) return compare(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: %s cases VOCAB.gguf | compare REAL.gguf HF_DIR PRE\n", argv[0]);
    return 2;
}
