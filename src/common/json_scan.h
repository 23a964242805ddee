/* json_scan.h — a strict, allocation-light JSON scanner for JSONL records.
 *
 * cJSON returns strings NUL-terminated, which loses "\u0000" and cannot report lone surrogates; corpus text
 * needs exact bytes, so JSONL records are scanned here (RFC 8259, as Python's json.loads with strict=True). */
#ifndef LMC_JSON_SCAN_H
#define LMC_JSON_SCAN_H

#include "common/util.h"

/* Skips one JSON value (any type, nesting ≤ 512) starting at s[*pos] (leading whitespace allowed).
 * On error returns -1 and sets *why. */
int lmc_json_skip_value(const char *s, size_t n, size_t *pos, const char **why);

/* Decodes the JSON string at s[*pos] == '"' into out (appended, UTF-8) and advances *pos past it; *chars
 * (may be NULL) gets the decoded code points. Surrogate pairs combine; a lone surrogate is an error. */
int lmc_json_decode_string(const char *s, size_t n, size_t *pos, lmc_buf *out, size_t *chars, const char **why);

typedef enum lmc_json_field {
    LMC_JSON_STRING = 0,  /* found, decoded into out */
    LMC_JSON_MISSING = 1, /* the object has no such key */
    LMC_JSON_NOT_STRING = 2,
} lmc_json_field;

/* s[0..n) must be exactly one JSON object (surrounding whitespace allowed). Finds the top-level `key`
 * (the last occurrence wins, as in Python) and decodes it when it is a string. Returns -1 with *why when the
 * text is not one valid JSON object, else 0 with *field set. */
int lmc_json_object_string(const char *s, size_t n, const char *key, lmc_buf *out, size_t *chars,
                           lmc_json_field *field, const char **why);

#endif
