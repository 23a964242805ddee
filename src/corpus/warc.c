/* warc.c — one WET file read whole: gunzip (one member per record, as Common Crawl writes them, or one stream),
 * then records parsed by header name. Bodies are read as CCNet reads them (line by line with Python's universal
 * newlines, every line stripped, the first line the title, two trailing empty lines dropped), and Content-Length
 * is used only to find the next record: when it does not land on one (CCNet's own test sample has such lengths),
 * the reader resynchronises on the next "WARC/1.x" line and counts a mismatch. */
#include "corpus/corpus.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the bytes: read, hashed, gunzipped --------------------------------------------------------- */

/* The file's bytes, mapped read-only (no copy through read(2); the parser reads them once). */
static int read_raw(const char *path, uint8_t **data, size_t *n, lmc_err *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lmc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lmc_fail(err, "%s: not a regular file", path);
    }
    *n = (size_t)st.st_size;
    void *p = *n ? mmap(NULL, *n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : NULL;
    int e = errno;
    close(fd);
    if (*n && p == MAP_FAILED) return lmc_fail(err, "%s: cannot map it: %s", path, strerror(e));
    *data = p;
    return 0;
}

static void unmap_raw(uint8_t *p, size_t n) {
    if (p) munmap(p, n);
}

/* Inflates every gzip member of in[0..n) into out. Damage (a truncated or corrupt member, bytes after the last
 * member that are not gzip) stops the inflation: what came before is kept and the problem is described. */
static int gunzip_members(const uint8_t *in, size_t n, lmc_buf *out, char *problem, size_t cap) {
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return -1;
    size_t pos = 0;
    while (pos < n && !problem[0]) {
        if (n - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b) {
            snprintf(problem, cap, "bytes after the last gzip member at byte %zu", pos);
            break;
        }
        z.next_in = (Bytef *)in + pos;
        z.avail_in = (uInt)(n - pos > (1u << 30) ? 1u << 30 : n - pos);
        for (int ret = Z_OK; ret != Z_STREAM_END;) {
            if (out->cap - out->len < (1 << 16)) {
                size_t c = out->cap ? out->cap * 2 : 1 << 20;
                char *q = realloc(out->p, c);
                if (!q) { inflateEnd(&z); return -1; }
                out->p = q, out->cap = c;
            }
            z.next_out = (Bytef *)out->p + out->len;
            z.avail_out = (uInt)(out->cap - out->len);
            size_t before_in = z.avail_in;
            ret = inflate(&z, Z_NO_FLUSH);
            out->len = out->cap - z.avail_out;
            pos += before_in - z.avail_in;
            if (ret == Z_STREAM_END) break;
            if (ret == Z_BUF_ERROR && z.avail_in == 0 && pos < n) { /* more than 1 GiB of input: refill */
                z.next_in = (Bytef *)in + pos;
                z.avail_in = (uInt)(n - pos > (1u << 30) ? 1u << 30 : n - pos);
                continue;
            }
            if (ret == Z_BUF_ERROR && z.avail_in == 0) { snprintf(problem, cap, "truncated gzip member at byte %zu", pos); break; }
            if (ret != Z_OK && ret != Z_BUF_ERROR) {
                snprintf(problem, cap, "corrupt gzip data at byte %zu (%s)", pos, z.msg ? z.msg : "zlib error");
                break;
            }
        }
        inflateReset(&z);
    }
    inflateEnd(&z);
    return 0;
}

/* ---- lines ---------------------------------------------------------------------------------------- */

/* The line starting at pos in t[0..n): its end (before the line break) and the start of the next line. A line
 * break is "\n", "\r\n" or "\r" (Python's universal newlines, which CCNet reads with). */
static size_t line_end(const char *t, size_t n, size_t pos, size_t *next) {
    size_t e = pos;
    while (e < n && t[e] != '\n' && t[e] != '\r') e++;
    *next = e < n ? e + 1 + (t[e] == '\r' && e + 1 < n && t[e + 1] == '\n') : n;
    return e;
}

/* Whether the stripped line [b, e) is a record's first line. */
static int is_version_line(const char *t, size_t b, size_t e) {
    size_t sb, se;
    corpus_strip(t + b, e - b, &sb, &se);
    return se - sb == 8 && (!memcmp(t + b + sb, "WARC/1.0", 8) || !memcmp(t + b + sb, "WARC/1.1", 8));
}

/* The start of the first record line at or after pos (n when none). */
static size_t next_record(const char *t, size_t n, size_t pos) {
    while (pos < n) {
        size_t next, e = line_end(t, n, pos, &next);
        if (is_version_line(t, pos, e)) return pos;
        pos = next;
    }
    return n;
}

/* ---- one record ------------------------------------------------------------------------------------ */

static span arena_put(wet_file *f, const char *s, size_t n) {
    span sp = {f->arena.len, n};
    lmc_buf_append(&f->arena, s, n);
    return sp;
}

/* One "Name: value" header line into the record; -1 when it has no ':'. */
static int header_line(wet_file *f, wet_record *r, const char *s, size_t n, int *has_type, int *conversion,
                       long long *content_length) {
    const char *colon = memchr(s, ':', n);
    if (!colon) return -1;
    size_t name_n = (size_t)(colon - s), vb, ve;
    corpus_strip(colon + 1, n - name_n - 1, &vb, &ve);
    const char *v = colon + 1 + vb;
    size_t vn = ve - vb;
#define IS(name) (name_n == sizeof name - 1 && !strncasecmp(s, name, name_n))
    if (IS("WARC-Type")) { *has_type = 1; *conversion = vn == 10 && !memcmp(v, "conversion", 10); }
    else if (IS("WARC-Target-URI")) r->url = arena_put(f, v, vn);
    else if (IS("WARC-Date")) r->date = arena_put(f, v, vn);
    else if (IS("WARC-Block-Digest")) r->digest = arena_put(f, v, vn);
    else if (IS("WARC-Record-ID")) r->record_id = arena_put(f, v, vn);
    else if (IS("WARC-Identified-Content-Language")) r->lang = arena_put(f, v, vn);
    else if (IS("Content-Length")) {
        char *end, num[24];
        snprintf(num, sizeof num, "%.*s", (int)(vn < 23 ? vn : 23), v);
        long long x = strtoll(num, &end, 10);
        *content_length = vn && vn < 20 && !*end && x >= 0 ? x : -1;
    }
#undef IS
    return 0;
}

/* Where the next record starts, given the body's start and the declared length: the declared end when only line
 * breaks lie between it and a record line (or the end of the text); else the next record line (a mismatch). */
static size_t body_stop(wet_file *f, const char *t, size_t n, size_t body, long long length) {
    if (length >= 0 && (unsigned long long)length <= n - body) {
        size_t p = body + (size_t)length;
        while (p < n && (t[p] == '\r' || t[p] == '\n')) p++;
        if (p == n || next_record(t, n, p) == p) return p;
    }
    f->length_mismatches++;
    return next_record(t, n, body);
}

/* The body's lines [body, stop): stripped, the first the title, two trailing empty lines dropped. */
static void parse_body(wet_file *f, wet_record *r, const char *t, size_t body, size_t stop) {
    size_t n_lines = 0, cap = 64, *lines = lmc_xmalloc(cap * 2 * sizeof *lines); /* [begin, end) pairs */
    for (size_t pos = body; pos < stop;) {
        size_t next, e = line_end(t, stop, pos, &next), b, s;
        corpus_strip(t + pos, e - pos, &b, &s);
        if (n_lines == cap) lines = lmc_xrealloc(lines, (cap *= 2) * 2 * sizeof *lines);
        lines[2 * n_lines] = pos + b, lines[2 * n_lines + 1] = pos + s, n_lines++;
        pos = next;
    }
    if (n_lines >= 2 && lines[2 * n_lines - 1] == lines[2 * n_lines - 2] &&
        lines[2 * n_lines - 3] == lines[2 * n_lines - 4])
        n_lines -= 2;
    if (n_lines == 0) { r->status = WET_EMPTY; free(lines); return; }
    r->title = arena_put(f, t + lines[0], lines[1] - lines[0]);
    r->content.off = f->arena.len;
    for (size_t i = 1; i < n_lines; i++) {
        if (i > 1) lmc_buf_append(&f->arena, "\n", 1);
        lmc_buf_append(&f->arena, t + lines[2 * i], lines[2 * i + 1] - lines[2 * i]);
    }
    r->content.len = f->arena.len - r->content.off;
    free(lines);
    size_t bad, title_chars;
    if (!lmc_utf8_validate(wet_at(f, r->title), r->title.len, &title_chars, &bad) ||
        !lmc_utf8_validate(wet_at(f, r->content), r->content.len, &r->chars, &bad))
        r->status = WET_BAD_UTF8;
}

/* The record whose version line starts at pos; returns where the next one starts. */
static size_t parse_record(wet_file *f, const char *t, size_t n, size_t pos) {
    if (f->n == f->cap) f->recs = lmc_xrealloc(f->recs, (f->cap = f->cap ? f->cap * 2 : 256) * sizeof *f->recs);
    wet_record *r = &f->recs[f->n];
    memset(r, 0, sizeof *r);
    r->index = f->n++;
    size_t next;
    line_end(t, n, pos, &next);
    int has_type = 0, conversion = 0, bad = 0;
    long long length = -1;
    for (pos = next; pos < n;) { /* headers, up to the first empty line */
        size_t e = line_end(t, n, pos, &next), b, s;
        corpus_strip(t + pos, e - pos, &b, &s);
        if (b == s) { pos = next; break; }
        if (header_line(f, r, t + pos + b, s - b, &has_type, &conversion, &length)) bad = 1;
        pos = next;
    }
    size_t before = f->length_mismatches, stop = body_stop(f, t, n, pos, length);
    r->length_mismatch = f->length_mismatches > before;
    if (bad || !has_type) r->status = WET_BAD_HEADER;
    else if (!conversion) r->status = WET_NOT_CONVERSION;
    else parse_body(f, r, t, pos, stop);
    return stop;
}

/* ---- the file -------------------------------------------------------------------------------------- */

int wet_file_parse(const uint8_t *raw, size_t n, wet_file *f) {
    lmc_buf text = {0};
    const char *t = (const char *)raw;
    if (n >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        if (gunzip_members(raw, n, &text, f->gzip_problem, sizeof f->gzip_problem)) { free(text.p); return -1; }
        t = text.p ? text.p : "", n = text.len;
    }
    f->text_bytes = n;
    f->arena.p = lmc_xmalloc(n + 1); /* titles, contents and header values are shorter than the text */
    f->arena.cap = n + 1, f->arena.len = 0;
    for (size_t pos = next_record(t, n, 0); pos < n;) pos = parse_record(f, t, n, pos);
    free(text.p);
    return 0;
}

int wet_file_read(const char *path, int want_sha256, wet_file *f, lmc_err *err) {
    memset(f, 0, sizeof *f);
    uint8_t *raw = NULL;
    if (read_raw(path, &raw, &f->raw_bytes, err)) return -1;
    if (want_sha256) {
        struct sha256_ctx h;
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_init(&h);
        sha256_update(&h, f->raw_bytes, raw);
        sha256_digest(&h, sizeof d, d);
        for (int i = 0; i < 32; i++) snprintf(f->sha256 + 2 * i, 3, "%02x", d[i]);
    }
    int rc = wet_file_parse(raw, f->raw_bytes, f);
    unmap_raw(raw, f->raw_bytes);
    return rc ? lmc_fail(err, "%s: out of memory decompressing it", path) : 0;
}

void wet_file_free(wet_file *f) {
    lmc_buf_free(&f->arena);
    free(f->recs);
    memset(f, 0, sizeof *f);
}
