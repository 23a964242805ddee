/* tok_fixture.h — reading fixtures/tokenizer/<family>.jsonl exactly: the texts hold NUL and other control
 * characters as JSON \u escapes, so strings are decoded byte-exactly here (json_string) instead of through
 * cJSON's NUL-terminated valuestring; cJSON only reads the id arrays. Shared by test_tokenizer.c and
 * test_gguf_tokenizer.c. */
#ifndef LMC_TOK_FIXTURE_H
#define LMC_TOK_FIXTURE_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmc.h"
#include "common/util.h"

/* ---- exact JSON strings ------------------------------------------------------------------------- */

static void put_utf8(lmc_buf *b, uint32_t cp) {
    char o[4];
    size_t n;
    if (cp < 0x80) { o[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    lmc_buf_append(b, o, n);
}

static int hex4(const char *p, uint32_t *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* Decodes the JSON string starting at the quote *p into out (exact bytes, NULs included); returns the
 * position after the closing quote, or NULL when malformed. A lone surrogate is written as its 3-byte form,
 * which is then invalid UTF-8 (as it is for HF). */
static const char *json_string(const char *p, lmc_buf *out) {
    out->len = 0;
    lmc_buf_append(out, "", 0);
    if (*p++ != '"') return NULL;
    while (*p && *p != '"') {
        if (*p != '\\') {
            const char *q = p;
            while (*q && *q != '"' && *q != '\\') q++;
            lmc_buf_append(out, p, (size_t)(q - p));
            p = q;
            continue;
        }
        char e = p[1];
        p += 2;
        switch (e) {
        case '"': lmc_buf_append(out, "\"", 1); break;
        case '\\': lmc_buf_append(out, "\\", 1); break;
        case '/': lmc_buf_append(out, "/", 1); break;
        case 'b': lmc_buf_append(out, "\b", 1); break;
        case 'f': lmc_buf_append(out, "\f", 1); break;
        case 'n': lmc_buf_append(out, "\n", 1); break;
        case 'r': lmc_buf_append(out, "\r", 1); break;
        case 't': lmc_buf_append(out, "\t", 1); break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(p, &cp)) return NULL;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u' && !hex4(p + 2, &lo) && lo >= 0xDC00 &&
                lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            put_utf8(out, cp);
            break;
        }
        default: return NULL;
        }
    }
    return *p == '"' ? p + 1 : NULL;
}

/* Skips one JSON value (no validation beyond brackets and strings). */
static const char *skip_value(const char *p) {
    lmc_buf tmp = {0};
    if (*p == '"') { p = json_string(p, &tmp); lmc_buf_free(&tmp); return p; }
    int depth = 0;
    for (; *p; p++) {
        if (*p == '"') {
            p = json_string(p, &tmp);
            if (!p) break;
            p--;
        } else if (*p == '{' || *p == '[') depth++;
        else if (*p == '}' || *p == ']') { if (depth-- == 0) break; if (depth == 0) { p++; break; } }
        else if (depth == 0 && (*p == ',' || *p == '\n')) break;
    }
    lmc_buf_free(&tmp);
    return p;
}

/* The string value of top-level key `key` in the JSON object on `line`, exactly; 0 when found. */
static int json_key_string(const char *line, const char *key, lmc_buf *out) {
    const char *p = line;
    while (*p && strchr(" \t\r\n", *p)) p++;
    if (*p++ != '{') return -1;
    lmc_buf k = {0};
    int rc = -1;
    for (;;) {
        while (*p && strchr(" \t\r\n,", *p)) p++;
        if (*p != '"') break;
        p = json_string(p, &k);
        if (!p) break;
        while (*p && strchr(" \t\r\n:", *p)) p++;
        if (strcmp(k.p, key) == 0) { rc = *p == '"' && json_string(p, out) ? 0 : -1; break; }
        p = skip_value(p);
        if (!p) break;
    }
    lmc_buf_free(&k);
    return rc;
}

/* ---- files ---------------------------------------------------------------------------------------- */

typedef struct lines { char *data; char **v; size_t n; } lines;

static int read_lines(const char *path, lines *L) {
    lmc_err err;
    size_t len;
    memset(L, 0, sizeof *L);
    if (lmc_read_file(path, &L->data, &len, &err)) return -1;
    size_t cap = 0;
    for (char *p = L->data; *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (*p) {
            if (L->n == cap) { cap = cap ? cap * 2 : 256; L->v = realloc(L->v, cap * sizeof *L->v); }
            L->v[L->n++] = p;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

static void free_lines(lines *L) { free(L->data); free(L->v); }

/* "first difference at 3: expected 1234, got 99 (lengths 10 / 11)" */
static void describe_diff(char *buf, size_t cap, const int32_t *want, size_t nw, const int32_t *got, size_t ng) {
    size_t i = 0;
    while (i < nw && i < ng && want[i] == got[i]) i++;
    snprintf(buf, cap, "first difference at %zu: expected %ld, got %ld (lengths %zu / %zu)", i,
             i < nw ? (long)want[i] : -1L, i < ng ? (long)got[i] : -1L, nw, ng);
}

static size_t json_ids(const cJSON *arr, int32_t **out) {
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    *out = malloc((n ? n : 1) * sizeof **out);
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) (*out)[i++] = (int32_t)e->valuedouble;
    return n;
}

#endif
