/* json_scan.c — see json_scan.h. */
#include "common/json_scan.h"
#include "common/util.h"

#include <string.h>

static void skip_ws(const char *s, size_t n, size_t *p) {
    while (*p < n && (s[*p] == ' ' || s[*p] == '\t' || s[*p] == '\n' || s[*p] == '\r')) (*p)++;
}

static int hex4(const char *s, size_t n, size_t p, unsigned *out) {
    uint64_t v;
    if (p + 4 > n || lmc_hex_value(s + p, 4, 1, &v)) return -1;
    *out = (unsigned)v;
    return 0;
}

static void put_utf8(lmc_buf *b, unsigned cp) {
    char u[4];
    size_t k;
    if (cp < 0x80) { u[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 63)); k = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 63)); u[2] = (char)(0x80 | (cp & 63)); k = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 63));
        u[2] = (char)(0x80 | (cp >> 6 & 63)); u[3] = (char)(0x80 | (cp & 63)); k = 4;
    }
    if (b) lmc_buf_append(b, u, k);
}

int lmc_json_decode_string(const char *s, size_t n, size_t *pos, lmc_buf *out, size_t *chars, const char **why) {
    size_t p = *pos, cps = 0;
    if (p >= n || s[p] != '"') { *why = "expected a string"; return -1; }
    p++;
    for (;;) {
        /* copy a run of plain bytes at once (the common case) */
        size_t run = p;
        while (run < n && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20) {
            if (((unsigned char)s[run] & 0xC0) != 0x80) cps++; /* count lead bytes: input is valid UTF-8 */
            run++;
        }
        if (out && run > p) lmc_buf_append(out, s + p, run - p);
        p = run;
        if (p >= n) { *why = "unterminated string"; return -1; }
        unsigned char c = (unsigned char)s[p];
        if (c == '"') { p++; break; }
        if (c < 0x20) { *why = "raw control character in string"; return -1; }
        /* backslash escape */
        if (++p >= n) { *why = "unterminated escape"; return -1; }
        char e = s[p++];
        const char *simple = NULL;
        switch (e) {
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case '/': simple = "/"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'n': simple = "\n"; break;
        case 'r': simple = "\r"; break;
        case 't': simple = "\t"; break;
        case 'u': break;
        default: *why = "invalid escape"; return -1;
        }
        cps++;
        if (simple) { if (out) lmc_buf_append(out, simple, 1); continue; }
        unsigned u;
        if (hex4(s, n, p, &u)) { *why = "invalid \\u escape"; return -1; }
        p += 4;
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo;
            if (p + 6 <= n && s[p] == '\\' && s[p + 1] == 'u' && !hex4(s, n, p + 2, &lo) && lo >= 0xDC00 &&
                lo <= 0xDFFF) {
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else {
                *why = "lone surrogate escape (not encodable as UTF-8)";
                return -1;
            }
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            *why = "lone surrogate escape (not encodable as UTF-8)";
            return -1;
        }
        if (out) put_utf8(out, u);
        else put_utf8(NULL, u);
    }
    *pos = p;
    if (chars) *chars = cps;
    return 0;
}

static int skip_number(const char *s, size_t n, size_t *pos) {
    size_t p = *pos;
    if (p < n && s[p] == '-') p++;
    if (p >= n) return -1;
    if (s[p] == '0') p++;
    else if (s[p] >= '1' && s[p] <= '9') while (p < n && s[p] >= '0' && s[p] <= '9') p++;
    else return -1;
    if (p < n && s[p] == '.') {
        p++;
        if (p >= n || s[p] < '0' || s[p] > '9') return -1;
        while (p < n && s[p] >= '0' && s[p] <= '9') p++;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < n && (s[p] == '+' || s[p] == '-')) p++;
        if (p >= n || s[p] < '0' || s[p] > '9') return -1;
        while (p < n && s[p] >= '0' && s[p] <= '9') p++;
    }
    *pos = p;
    return 0;
}

static int skip_value_depth(const char *s, size_t n, size_t *pos, int depth, const char **why) {
    if (depth > 512) { *why = "nesting too deep"; return -1; }
    skip_ws(s, n, pos);
    if (*pos >= n) { *why = "unexpected end of input"; return -1; }
    char c = s[*pos];
    if (c == '"') return lmc_json_decode_string(s, n, pos, NULL, NULL, why);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        (*pos)++;
        skip_ws(s, n, pos);
        if (*pos < n && s[*pos] == close) { (*pos)++; return 0; }
        for (;;) {
            if (c == '{') {
                skip_ws(s, n, pos);
                if (lmc_json_decode_string(s, n, pos, NULL, NULL, why)) { if (!*why) *why = "expected a key"; return -1; }
                skip_ws(s, n, pos);
                if (*pos >= n || s[*pos] != ':') { *why = "expected ':'"; return -1; }
                (*pos)++;
            }
            if (skip_value_depth(s, n, pos, depth + 1, why)) return -1;
            skip_ws(s, n, pos);
            if (*pos >= n) { *why = "unexpected end of input"; return -1; }
            if (s[*pos] == ',') { (*pos)++; continue; }
            if (s[*pos] == close) { (*pos)++; return 0; }
            *why = c == '{' ? "expected ',' or '}'" : "expected ',' or ']'";
            return -1;
        }
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t L = strlen(lits[i]);
        if (*pos + L <= n && memcmp(s + *pos, lits[i], L) == 0) { *pos += L; return 0; }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (skip_number(s, n, pos) == 0) return 0;
        *why = "invalid number";
        return -1;
    }
    *why = "unexpected character";
    return -1;
}

int lmc_json_skip_value(const char *s, size_t n, size_t *pos, const char **why) {
    *why = NULL;
    return skip_value_depth(s, n, pos, 0, why);
}

int lmc_json_object_string(const char *s, size_t n, const char *key, lmc_buf *out, size_t *chars,
                           lmc_json_field *field, const char **why) {
    size_t p = 0, klen = strlen(key);
    *why = NULL;
    *field = LMC_JSON_MISSING;
    skip_ws(s, n, &p);
    if (p >= n || s[p] != '{') { *why = "not a JSON object"; return -1; }
    p++;
    skip_ws(s, n, &p);
    if (p < n && s[p] == '}') { p++; goto tail; }
    lmc_buf keybuf = {0};
    for (;;) {
        skip_ws(s, n, &p);
        keybuf.len = 0;
        if (lmc_json_decode_string(s, n, &p, &keybuf, NULL, why)) { lmc_buf_free(&keybuf); return -1; }
        skip_ws(s, n, &p);
        if (p >= n || s[p] != ':') { *why = "expected ':'"; lmc_buf_free(&keybuf); return -1; }
        p++;
        skip_ws(s, n, &p);
        int match = keybuf.len == klen && memcmp(keybuf.p, key, klen) == 0;
        if (match && p < n && s[p] == '"') {
            if (out) out->len = 0;
            if (lmc_json_decode_string(s, n, &p, out, chars, why)) { lmc_buf_free(&keybuf); return -1; }
            *field = LMC_JSON_STRING;
        } else {
            if (lmc_json_skip_value(s, n, &p, why)) { lmc_buf_free(&keybuf); return -1; }
            if (match) *field = LMC_JSON_NOT_STRING;
        }
        skip_ws(s, n, &p);
        if (p < n && s[p] == ',') { p++; continue; }
        if (p < n && s[p] == '}') { p++; break; }
        *why = p >= n ? "unexpected end of input (truncated record?)" : "expected ',' or '}'";
        lmc_buf_free(&keybuf);
        return -1;
    }
    lmc_buf_free(&keybuf);
tail:
    skip_ws(s, n, &p);
    if (p != n) { *why = "trailing characters after the JSON object"; return -1; }
    return 0;
}
