/* util.c — errors, whole-file I/O (plain and gzip), atomic writes, buffers, SHA-256, base64, UTF-8. */
#include "common/util.h"
#include "common/bytes32.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- errors ---------------------------------------------------------------------------------- */

int lmc_fail(lmc_err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        for (char *p = err->msg; *p; p++) /* keep it one line */
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return -1;
}

/* ---- allocation ------------------------------------------------------------------------------ */

static lmc_oom_handler oom_handler;

void lmc_set_oom_handler(lmc_oom_handler h) { oom_handler = h; }

void lmc_oom(size_t n, const char *what) {
    if (oom_handler) oom_handler(n, what);
    abort();
}
void *lmc_xmalloc_in(size_t n, const char *where) { void *p = malloc(n ? n : 1); if (!p) lmc_oom(n, where); return p; }
void *lmc_xcalloc_in(size_t n, size_t size, const char *where) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) lmc_oom(n * size, where);
    return p;
}
void *lmc_xrealloc_in(void *p, size_t n, const char *where) { p = realloc(p, n ? n : 1); if (!p) lmc_oom(n, where); return p; }
char *lmc_xstrdup_in(const char *s, const char *where) {
    size_t n = strlen(s) + 1;
    char *d = lmc_xmalloc_in(n, where);
    memcpy(d, s, n);
    return d;
}

/* ---- buffers --------------------------------------------------------------------------------- */

void lmc_buf_reserve(lmc_buf *b, size_t n) {
    if (b->len + n + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    b->p = lmc_xrealloc(b->p, cap);
    b->cap = cap;
}

void lmc_buf_append(lmc_buf *b, const void *data, size_t n) {
    lmc_buf_reserve(b, n);
    if (n) memcpy(b->p + b->len, data, n); /* data may be NULL when n == 0 (an absent prefix/suffix) */
    b->len += n;
    b->p[b->len] = 0;
}

void lmc_buf_json(lmc_buf *b, const char *s, size_t n) {
    lmc_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        while (i + 32 <= n) { /* to the next byte to escape, 32 bytes at a time: most of a document */
            lmc_u8x32 v = lmc_load32(s + i);
            unsigned k = lmc_first32((lmc_u8x32)(v < 0x20) | (lmc_u8x32)(v == '"') | (lmc_u8x32)(v == '\\'));
            i += k;
            if (k < 32) break;
        }
        if (i == n) break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        lmc_buf_append(b, s + run, i - run);
        run = i + 1;
        if (c == '"') lmc_buf_append(b, "\\\"", 2);
        else if (c == '\\') lmc_buf_append(b, "\\\\", 2);
        else if (c == '\n') lmc_buf_append(b, "\\n", 2);
        else if (c == '\t') lmc_buf_append(b, "\\t", 2);
        else if (c == '\r') lmc_buf_append(b, "\\r", 2);
        else lmc_buf_printf(b, "\\u%04x", c);
    }
    lmc_buf_append(b, s + run, n - run);
    lmc_buf_append(b, "\"", 1);
}

void lmc_buf_printf(lmc_buf *b, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { lmc_buf_append(b, small, (size_t)n); return; }
    char *big = lmc_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    lmc_buf_append(b, big, (size_t)n);
    free(big);
}

void lmc_buf_free(lmc_buf *b) { free(b->p); b->p = NULL; b->len = b->cap = 0; }

/* ---- files ----------------------------------------------------------------------------------- */

bool lmc_file_exists(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISREG(st.st_mode); }
bool lmc_is_dir(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISDIR(st.st_mode); }

char *lmc_path_join(char *buf, size_t cap, const char *dir, const char *name) {
    size_t n = strlen(dir);
    snprintf(buf, cap, "%s%s%s", dir, (n && dir[n - 1] == '/') ? "" : "/", name);
    return buf;
}

static int read_gz(const char *path, char **data, size_t *len, lmc_err *err) {
    gzFile g = gzopen(path, "rb");
    if (!g) return lmc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(g, 1 << 17);
    lmc_buf b = {0};
    char chunk[1 << 16];
    for (;;) {
        int n = gzread(g, chunk, sizeof chunk);
        if (n < 0) {
            int zerr;
            char m[256]; /* gzerror's string belongs to g: copy it before gzclose frees it */
            snprintf(m, sizeof m, "%s", gzerror(g, &zerr));
            gzclose(g);
            lmc_buf_free(&b);
            return lmc_fail(err, "%s: corrupt gzip data: %s", path, m);
        }
        if (n == 0) break;
        lmc_buf_append(&b, chunk, (size_t)n);
    }
    /* gzread stops silently at a truncated stream; gzclose_r reports it. */
    int rc = gzclose_r(g);
    if (rc != Z_OK && rc != Z_BUF_ERROR) { lmc_buf_free(&b); return lmc_fail(err, "%s: corrupt gzip data", path); }
    if (rc == Z_BUF_ERROR) { lmc_buf_free(&b); return lmc_fail(err, "%s: truncated gzip data", path); }
    if (!b.p) lmc_buf_append(&b, "", 0);
    *data = b.p;
    *len = b.len;
    return 0;
}

int lmc_read_file(const char *path, char **data, size_t *len, lmc_err *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lmc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        close(fd);
        return lmc_fail(err, "%s: not a regular file", path);
    }
    unsigned char magic[2] = {0, 0};
    ssize_t m = pread(fd, magic, 2, 0);
    if (m == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        close(fd);
        return read_gz(path, data, len, err);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) { close(fd); return lmc_fail(err, "%s: out of memory reading %zu bytes", path, size); }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { free(buf); close(fd); return lmc_fail(err, "%s: read error: %s", path, r < 0 ? strerror(errno) : "file shrank"); }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *data = buf;
    *len = size;
    return 0;
}

int lmc_read_file_or_gz(const char *path, char **data, size_t *len, char *found_path, size_t found_cap,
                        lmc_err *err) {
    char gz[4096];
    const char *use = path;
    if (!lmc_file_exists(path)) {
        snprintf(gz, sizeof gz, "%s.gz", path);
        if (lmc_file_exists(gz)) use = gz;
    }
    if (found_path && found_cap) snprintf(found_path, found_cap, "%s", use);
    return lmc_read_file(use, data, len, err);
}

int lmc_write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) { errno = EIO; return -1; }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int lmc_write_file_atomic(const char *path, const void *data, size_t len, lmc_err *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return lmc_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return lmc_fail(err, "%s: write failed: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return lmc_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return lmc_fail(err, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return 0;
}

/* ---- mapped files ----------------------------------------------------------------------------- */

int lmc_map_file(const char *path, lmc_map *m, lmc_err *err) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lmc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lmc_fail(err, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        int e = errno;
        if (p == MAP_FAILED) {
            close(fd);
            return lmc_fail(err, "%s: cannot mmap: %s", path, strerror(e));
        }
        m->data = p;
    }
    close(fd); /* the mapping keeps the file */
    m->size = (size_t)st.st_size;
    return 0;
}

void lmc_unmap(lmc_map *m) {
    if (m->data) munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
}

/* ---- SHA-256 (FIPS 180-4) -------------------------------------------------------------------- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void lmc_sha256_init(lmc_sha256 *s) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->nbytes = 0;
    s->fill = 0;
}

void lmc_sha256_update(lmc_sha256 *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->nbytes += n;
    if (s->fill) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->block + s->fill, p, take);
        s->fill += take; p += take; n -= take;
        if (s->fill < 64) return;
        sha256_block(s->h, s->block);
        s->fill = 0;
    }
    for (; n >= 64; p += 64, n -= 64) sha256_block(s->h, p);
    memcpy(s->block, p, n);
    s->fill = n;
}

void lmc_sha256_final(lmc_sha256 *s, uint8_t out[32]) {
    uint64_t bits = s->nbytes * 8;
    uint8_t pad = 0x80;
    lmc_sha256_update(s, &pad, 1);
    uint8_t zero = 0;
    while (s->fill != 56) lmc_sha256_update(s, &zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    lmc_sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24); out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8); out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void lmc_sha256_final_hex(lmc_sha256 *s, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    uint8_t d[32];
    lmc_sha256_final(s, d);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = 0;
}

void lmc_sha256_hex(const void *data, size_t n, char hex[65]) {
    lmc_sha256 s;
    lmc_sha256_init(&s);
    lmc_sha256_update(&s, data, n);
    lmc_sha256_final_hex(&s, hex);
}

int lmc_hex_value(const char *s, size_t n, int upper_ok, uint64_t *out) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : upper_ok && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* ---- base64 ---------------------------------------------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *lmc_base64_encode(const void *data, size_t n) {
    const uint8_t *p = data;
    char *out = lmc_xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = B64[v >> 18 & 63];
        *o++ = B64[v >> 12 & 63];
        *o++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *o = 0;
    return out;
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int lmc_base64_decode(const char *s, size_t slen, uint8_t **out, size_t *out_len) {
    if (slen % 4) return -1;
    uint8_t *o = lmc_xmalloc(slen / 4 * 3 + 1);
    size_t n = 0;
    for (size_t i = 0; i < slen; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = s[i + j];
            if (c == '=' && i + 4 == slen && j >= 2) { v[j] = 0; pad++; continue; }
            if (pad || (v[j] = b64val(c)) < 0) { free(o); return -1; }
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        o[n++] = (uint8_t)(x >> 16);
        if (pad < 2) o[n++] = (uint8_t)(x >> 8);
        if (pad < 1) o[n++] = (uint8_t)x;
    }
    *out = o;
    *out_len = n;
    return 0;
}

/* ---- UTF-8 ----------------------------------------------------------------------------------- */

bool lmc_utf8_validate(const char *str, size_t n, size_t *chars, size_t *bad_off) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, cp = 0;
    while (i < n) {
        uint64_t w; /* eight ASCII bytes at once: most text is mostly ASCII */
        if (i + 8 <= n && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ull))) { i += 8; cp += 8; continue; }
        unsigned c = s[i];
        if (c < 0x80) { i++; cp++; continue; }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else goto bad;
        if (i + need >= n) goto bad; /* truncated sequence */
        if (s[i + 1] < lo || s[i + 1] > hi) goto bad;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) goto bad;
        i += need + 1;
        cp++;
    }
    if (chars) *chars = cp;
    return true;
bad:
    if (bad_off) *bad_off = i;
    if (chars) *chars = cp;
    return false;
}

/* ---- misc ------------------------------------------------------------------------------------ */

double lmc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double lmc_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t lmc_memory_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    size_t avail = 0, swap = 0, kb;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1) avail = kb * 1024;
        if (sscanf(line, "SwapFree: %zu kB", &kb) == 1) swap = kb * 1024;
    }
    fclose(f);
    return avail + swap;
}

const char *lmc_shared_dir(void) {
    const char *s = getenv("LMC_SHARED");
    return (s && *s) ? s : "../shared";
}

void lmc_fmt_double_exact(char out[40], double v) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v) break;
    }
}
