/* filekind.c — sniffing what a file given as a model is (filekind.h).
 *
 * The tests run in an order where a cheaper, surer one goes first: a safetensors header length must fit the file
 * and be followed by '{' (a JSON file's first 8 bytes never make such a length: '{' then text bytes is a number
 * far beyond any file), GGUF has its magic, a llama2.c tokenizer parses as one to its last byte, a llama2.c
 * checkpoint is 7 int32 of a plausible config (or the "ak42" magic of llama2.c's later exports; text makes
 * int32s far too large for either); JSON and text are judged on the first 64 KiB. */
#include "model/filekind.h"
#include "common/util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SNIFF_BYTES   (64u << 10)
#define TOKENIZER_MAX (64u << 20) /* a llama2.c tokenizer larger than this is not looked at */

/* ---- the tests ----------------------------------------------------------------------------------- */

static int64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return (int64_t)v;
}

static int32_t le32(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static int is_safetensors(const unsigned char *b, size_t n, size_t size) {
    int64_t h = n >= 9 ? le64(b) : -1;
    return h > 0 && (uint64_t)h <= size - 8 && b[8] == '{';
}

/* llama2.c's version-0 header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: a separate
 * classifier), seq_len, in the bounds tools/convert.c accepts. */
static int is_llama2c(const unsigned char *b, size_t n) {
    if (n < 28) return 0;
    if (memcmp(b, "42ka", 4) == 0) return 1; /* 0x616b3432 little-endian: export.py version >= 1 */
    int32_t h[7];
    for (int i = 0; i < 7; i++) h[i] = le32(b + 4 * i);
    int32_t vocab = h[5] < 0 && h[5] != INT32_MIN ? -h[5] : h[5];
    return h[0] > 0 && h[0] <= 1 << 16 && h[1] > 0 && h[1] <= 1 << 18 && h[2] > 0 && h[2] <= 1 << 10 && h[3] > 0 &&
           h[4] > 0 && h[0] % h[3] == 0 && h[3] % h[4] == 0 && vocab > 0 && vocab <= 1 << 22 && h[6] > 0 &&
           h[6] <= 1 << 22;
}

/* int32 max_token_length, then per token float32 score, int32 length (0..max), bytes, to exactly the end. */
static int is_llama2c_tokenizer(const char *path, const unsigned char *b, size_t n, size_t size) {
    int32_t max_len = n >= 4 ? le32(b) : 0;
    if (max_len < 1 || max_len > 4096 || size > TOKENIZER_MAX || size < 12) return 0;
    char *all;
    size_t len;
    lmc_err e;
    if (lmc_read_file(path, &all, &len, &e)) return 0;
    size_t off = 4, tokens = 0;
    int ok = 1;
    while (ok && off < len) {
        int32_t k = len - off >= 8 ? le32((const unsigned char *)all + off + 4) : -1;
        float score;
        if (k >= 0) memcpy(&score, all + off, 4);
        ok = k >= 0 && k <= max_len && isfinite(score) && len - off - 8 >= (size_t)k;
        off += ok ? 8 + (size_t)k : 0;
        tokens++;
    }
    free(all);
    return ok && tokens > 0;
}

static int is_json(const unsigned char *b, size_t n) {
    size_t i = n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
    return i < n && (b[i] == '{' || b[i] == '[');
}

/* Valid UTF-8 without NUL; a character cut at the end of the sniffed bytes does not count against it. */
static int is_text(const unsigned char *b, size_t n, size_t size) {
    if (n == 0 || memchr(b, 0, n)) return 0;
    size_t bad;
    if (lmc_utf8_validate((const char *)b, n, NULL, &bad)) return 1;
    return n < size && n - bad < 4 && lmc_utf8_ready((const char *)b, n) == bad;
}

lmc_file_kind lmc_sniff_file(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return LMC_KIND_UNREADABLE;
    FILE *f = fopen(path, "rb");
    if (!f) return LMC_KIND_UNREADABLE;
    unsigned char *b = lmc_xmalloc(SNIFF_BYTES);
    size_t n = fread(b, 1, SNIFF_BYTES, f), size = (size_t)st.st_size;
    fclose(f);
    lmc_file_kind k = is_safetensors(b, n, size)                ? LMC_KIND_SAFETENSORS
                      : n >= 4 && memcmp(b, "GGUF", 4) == 0     ? LMC_KIND_GGUF
                      : is_llama2c_tokenizer(path, b, n, size)  ? LMC_KIND_LLAMA2C_TOKENIZER
                      : is_llama2c(b, n)                        ? LMC_KIND_LLAMA2C
                      : is_json(b, n)                           ? LMC_KIND_JSON
                      : is_text(b, n, size)                     ? LMC_KIND_TEXT
                                                                : LMC_KIND_OTHER;
    free(b);
    return k;
}

/* ---- the messages -------------------------------------------------------------------------------- */

/* The directory part of path ("." when it has none). */
static void dir_of(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, cap, ".");
    else if (slash == path) snprintf(dir, cap, "/");
    else snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

/* path without its directory and without a final ".bin": what `lmc convert` output could be called. */
static void stem(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".bin") == 0) n -= 4;
    snprintf(out, cap, "%.*s", (int)n, base);
}

int lmc_refuse_non_weights(const char *path, lmc_err *err) {
    char name[256], dir[4096];
    switch (lmc_sniff_file(path)) {
    case LMC_KIND_JSON:
        dir_of(path, dir, sizeof dir);
        return lmc_fail(err, "%s is a JSON file, not a model: pass its directory (%s)", path, dir);
    case LMC_KIND_LLAMA2C:
        stem(path, name, sizeof name);
        return lmc_fail(err, "%s looks like a llama2.c checkpoint: convert it with `lmc convert %s -o %s.safetensors`"
                             " and pass that file", path, path, name);
    case LMC_KIND_LLAMA2C_TOKENIZER:
        return lmc_fail(err, "%s looks like a llama2.c tokenizer, not a model: give it to `lmc convert MODEL.bin "
                             "--tokenizer %s` with its checkpoint", path, path);
    case LMC_KIND_TEXT:
        return lmc_fail(err, "%s is a text file, not a model: pass a HF checkpoint directory, a .safetensors file "
                             "written by `lmc convert` or a .gguf file", path);
    default:
        return 0;
    }
}

const char *lmc_model_dir_hint(const char *dir, char *buf, size_t cap) {
    buf[0] = 0;
    DIR *d = opendir(dir);
    if (!d) return buf;
    char path[4200], name[256];
    for (struct dirent *de; (de = readdir(d));) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".bin") != 0) continue;
        if (lmc_sniff_file(lmc_path_join(path, sizeof path, dir, de->d_name)) != LMC_KIND_LLAMA2C) continue;
        stem(path, name, sizeof name);
        snprintf(buf, cap, " (%s looks like a llama2.c checkpoint: convert it with `lmc convert %s -o "
                           "%s.safetensors` and pass that file)", de->d_name, path, name);
        break;
    }
    closedir(d);
    return buf;
}
