/* checkpoint.c — see checkpoint.h for the file format and its guarantees. */
#include "eval/checkpoint.h"
#include "cpu.h"
#include "common/threads.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC "lmc-checkpoint 1\n"

/* ---- the fingerprint as key/value lines --------------------------------------------------------- */

enum { NFIELDS = 20 };
typedef struct field {
    const char *key;
    char        val[1100];
    int         compared;
} field;

static void sanitize(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

static int fp_fields(const lmc_ckpt_fp *fp, field f[NFIELDS]) {
    int n = 0;
#define F(k, cmp, ...) do { f[n].key = k; f[n].compared = cmp; snprintf(f[n].val, sizeof f[n].val, __VA_ARGS__); \
                            sanitize(f[n].val); n++; } while (0)
    F("lmc_version", 1, "%s", fp->lmc_version);
    F("lmc_build", 1, "%s", fp->lmc_build);
    F("blas", 1, "%s", fp->blas);
    F("cpu", 1, "%s", fp->cpu);
    F("model_sha256", 1, "%s", fp->model_sha256);
    F("tokenizer_sha256", 1, "%s", fp->tokenizer_sha256);
    F("compute", 1, "%s", fp->compute);
    F("data_sha256", 1, "%s", fp->data_sha256);
    F("file_num", 1, "%ld", fp->file_num);
    F("skip_bad", 1, "%d", fp->skip_bad);
    F("block_size", 1, "%d", fp->block_size);
    F("stride", 1, "%d", fp->stride);
    F("docs", 1, "%zu", fp->docs);
    F("tokens", 1, "%zu", fp->tokens);
    F("windows", 1, "%zu", fp->windows);
    F("tokens_sha256", 1, "%s", fp->tokens_sha256);
    F("model_path", 0, "%s", fp->model_path);
    F("data_path", 0, "%s", fp->data_path);
#undef F
    return n;
}

static void header_text(const lmc_ckpt_fp *fp, lmc_buf *b) {
    field f[NFIELDS];
    int n = fp_fields(fp, f);
    lmc_buf_append(b, MAGIC, strlen(MAGIC));
    for (int i = 0; i < n; i++) lmc_buf_printf(b, "%s %s\n", f[i].key, f[i].val);
    uLong crc = crc32(0L, (const Bytef *)b->p, (uInt)b->len);
    lmc_buf_printf(b, "end c%08lx\n", crc);
}

void lmc_ckpt_fp_text(const lmc_ckpt_fp *fp, lmc_buf *out) {
    field f[NFIELDS];
    int n = fp_fields(fp, f);
    for (int i = 0; i < n; i++) lmc_buf_printf(out, "%s %s\n", f[i].key, f[i].val);
}

/* The value of "key value" in a fingerprint text, or NULL; *len its length. */
static const char *fp_lookup(const char *text, const char *key, size_t *len) {
    size_t kl = strlen(key);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll > kl && !memcmp(p, key, kl) && p[kl] == ' ') {
            *len = ll - kl - 1;
            return p + kl + 1;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return NULL;
}

int lmc_ckpt_fp_diff(const char *a, const char *b, lmc_buf *diff) {
    lmc_ckpt_fp none;
    memset(&none, 0, sizeof none);
    field f[NFIELDS];
    int n = fp_fields(&none, f), nd = 0; /* only the key names and which are compared */
    for (int i = 0; i < n; i++) {
        if (!f[i].compared) continue;
        size_t la = 0, lb = 0;
        const char *va = fp_lookup(a, f[i].key, &la), *vb = fp_lookup(b, f[i].key, &lb);
        if (va && vb && la == lb && !memcmp(va, vb, la)) continue;
        lmc_buf_printf(diff, "%s%s", nd ? ", " : "", f[i].key);
        nd++;
    }
    return nd;
}

/* ---- the checkpoint object --------------------------------------------------------------------- */

struct lmc_ckpt {
    int            fd;
    char           path[4096];
    size_t         K, done, torn;
    unsigned char *have;     /* (K) */
    double        *nll;      /* (K) */
    size_t        *part_off; /* (K) into parts */
    size_t        *part_n;   /* (K) */
    lmc_ckpt_part *parts;
    size_t         n_parts, cap_parts;
    double         last_sync;
    int            dirty;
};

static void ckpt_free(lmc_ckpt *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd); /* closing drops the flock */
    free(c->have);
    free(c->nll);
    free(c->part_off);
    free(c->part_n);
    free(c->parts);
    free(c);
}

static uint64_t dbits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void record_text(size_t k, double nll, const lmc_ckpt_part *p, size_t n, lmc_buf *b) {
    size_t start = b->len;
    lmc_buf_printf(b, "w %zu %016" PRIx64 " %zu", k, dbits(nll), n);
    for (size_t i = 0; i < n; i++) lmc_buf_printf(b, " %zu %016" PRIx64, p[i].doc, dbits(p[i].nll));
    uLong crc = crc32(0L, (const Bytef *)b->p + start, (uInt)(b->len - start));
    lmc_buf_printf(b, " c%08lx\n", crc);
}

/* Parses an unsigned decimal (no sign, no leading '+') at *s; advances past it and one following space or end. */
static int parse_dec(const char **s, const char *end, size_t *out) {
    const char *p = *s;
    uint64_t v = 0;
    if (p >= end || *p < '0' || *p > '9') return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p < end) {
        if (*p != ' ') return -1;
        p++;
    }
    *out = (size_t)v;
    *s = p;
    return 0;
}

static int parse_hex16(const char **s, const char *end, uint64_t *out) {
    const char *p = *s;
    if (end - p < 16) return -1;
    uint64_t v;
    if (lmc_hex_value(p, 16, 0, &v)) return -1;
    p += 16;
    if (p < end) {
        if (*p != ' ') return -1;
        p++;
    }
    *out = v;
    *s = p;
    return 0;
}

/* One record line (without its '\n'). Returns 0 and fills k, nll and parts (appended to tmp), or -1. */
static int parse_record(const char *line, size_t len, size_t n_docs, size_t *k, double *nll, lmc_buf *tmp,
                        size_t *n_parts) {
    /* checksum: the line ends in " c" + 8 hex digits over everything before it */
    if (len < 11 || line[len - 10] != ' ' || line[len - 9] != 'c') return -1;
    uint64_t want;
    if (lmc_hex_value(line + len - 8, 8, 0, &want)) return -1;
    size_t body = len - 10;
    if (crc32(0L, (const Bytef *)line, (uInt)body) != want) return -1;
    const char *p = line, *end = line + body;
    if (body < 2 || p[0] != 'w' || p[1] != ' ') return -1;
    p += 2;
    uint64_t bits;
    size_t n;
    if (parse_dec(&p, end, k) || parse_hex16(&p, end, &bits) || parse_dec(&p, end, &n)) return -1;
    *nll = bitsd(bits);
    if (!isfinite(*nll) || n == 0 || n > n_docs) return -1;
    size_t prev_doc = 0;
    for (size_t i = 0; i < n; i++) {
        lmc_ckpt_part part;
        if (parse_dec(&p, end, &part.doc) || parse_hex16(&p, end, &bits)) return -1;
        part.nll = bitsd(bits);
        if (part.doc >= n_docs || (i && part.doc <= prev_doc) || !isfinite(part.nll)) return -1;
        prev_doc = part.doc;
        lmc_buf_append(tmp, &part, sizeof part);
    }
    if (p != end) return -1;
    *n_parts = n;
    return 0;
}

static void add_parts(lmc_ckpt *c, const lmc_ckpt_part *p, size_t n) {
    if (c->n_parts + n > c->cap_parts) {
        c->cap_parts = (c->n_parts + n) * 2 + 64;
        c->parts = lmc_xrealloc(c->parts, c->cap_parts * sizeof *c->parts);
    }
    memcpy(c->parts + c->n_parts, p, n * sizeof *p);
    c->n_parts += n;
}

/* Stores a parsed or appended record. Returns -1 when window k is already recorded with different values. */
static int store(lmc_ckpt *c, size_t k, double nll, const lmc_ckpt_part *p, size_t n) {
    if (c->have[k]) {
        if (dbits(c->nll[k]) != dbits(nll) || c->part_n[k] != n) return -1;
        for (size_t i = 0; i < n; i++) {
            const lmc_ckpt_part *q = &c->parts[c->part_off[k] + i];
            if (q->doc != p[i].doc || dbits(q->nll) != dbits(p[i].nll)) return -1;
        }
        return 0;
    }
    c->have[k] = 1;
    c->nll[k] = nll;
    c->part_off[k] = c->n_parts;
    c->part_n[k] = n;
    add_parts(c, p, n);
    c->done++;
    return 0;
}

static void fsync_dir_of(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A value for an error message: hashes cut to 12 hex digits, anything else to 80 characters. */
static void short_value(char *out, size_t cap, const char *v, size_t len, int hash) {
    size_t keep = hash ? 12 : 80;
    snprintf(out, cap, "%.*s%s", (int)(len < keep ? len : keep), v, len > keep ? "..." : "");
}

/* Compares the stored header fields with fp; fills err with every difference. */
static int compare_header(const char *path, const char *hdr, size_t len, const lmc_ckpt_fp *fp, lmc_err *err) {
    field f[NFIELDS];
    int n = fp_fields(fp, f);
    lmc_buf diff = {0};
    int ndiff = 0;
    const char *stored_data = NULL, *stored_model = NULL;
    size_t stored_data_len = 0, stored_model_len = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            /* find "key value\n" in the header */
            size_t kl = strlen(f[i].key);
            const char *val = NULL;
            size_t vl = 0;
            for (const char *p = hdr; p < hdr + len;) {
                const char *nl = memchr(p, '\n', (size_t)(hdr + len - p));
                if (!nl) break;
                if ((size_t)(nl - p) > kl && memcmp(p, f[i].key, kl) == 0 && p[kl] == ' ') {
                    val = p + kl + 1;
                    vl = (size_t)(nl - val);
                }
                p = nl + 1;
            }
            if (pass == 0) {
                if (!strcmp(f[i].key, "data_path")) { stored_data = val; stored_data_len = vl; }
                if (!strcmp(f[i].key, "model_path")) { stored_model = val; stored_model_len = vl; }
                continue;
            }
            if (!f[i].compared) continue;
            if (val && vl == strlen(f[i].val) && memcmp(val, f[i].val, vl) == 0) continue;
            int hash = strstr(f[i].key, "sha256") != NULL || !strcmp(f[i].key, "lmc_build");
            char was[100], now[100];
            short_value(was, sizeof was, val ? val : "absent", val ? vl : 6, hash && val);
            short_value(now, sizeof now, f[i].val, strlen(f[i].val), hash);
            lmc_buf_printf(&diff, "%s%s (checkpoint %s, this run %s", ndiff ? "; " : "", f[i].key, was, now);
            if (!strcmp(f[i].key, "data_sha256") && stored_data)
                lmc_buf_printf(&diff, "; checkpoint made for %.*s", (int)(stored_data_len > 200 ? 200 : stored_data_len),
                               stored_data);
            if (!strcmp(f[i].key, "model_sha256") && stored_model)
                lmc_buf_printf(&diff, "; checkpoint made for %.*s",
                               (int)(stored_model_len > 200 ? 200 : stored_model_len), stored_model);
            if (!strcmp(f[i].key, "lmc_build") || !strcmp(f[i].key, "blas") || !strcmp(f[i].key, "cpu"))
                lmc_buf_printf(&diff, "; another executable, BLAS or CPU kernel path can round differently, so "
                                      "resumed numbers would not be bit-identical");
            lmc_buf_append(&diff, ")", 1);
            ndiff++;
        }
    int rc = 0;
    if (ndiff)
        rc = lmc_fail(err, "%s: checkpoint belongs to a different evaluation, refusing to reuse it: %s differ%s: %s. "
                           "Delete it or pass another --checkpoint", path, ndiff == 1 ? "1 field" : "fields",
                      ndiff == 1 ? "s" : "", diff.p);
    lmc_buf_free(&diff);
    return rc;
}

/* Length of the header (through its "end" line) when `data` holds a complete, valid one; 0 when the data is a
 * header whose write was cut short (only possible before any record was written); -1 when it is not ours. */
static long header_length(const char *data, size_t len) {
    size_t ml = strlen(MAGIC);
    if (len < ml) return memcmp(data, MAGIC, len) == 0 ? 0 : -1;
    if (memcmp(data, MAGIC, ml) != 0) return -1;
    for (size_t p = ml; p < len;) {
        const char *nl = memchr(data + p, '\n', len - p);
        if (!nl) return 0; /* torn header */
        size_t e = (size_t)(nl - data);
        if (e - p == 13 && memcmp(data + p, "end c", 5) == 0) {
            uint64_t want;
            if (lmc_hex_value(data + p + 5, 8, 0, &want)) return -1;
            return crc32(0L, (const Bytef *)data, (uInt)p) == want ? (long)(e + 1) : -1;
        }
        p = e + 1;
    }
    return 0;
}

static lmc_ckpt *ckpt_new(const char *path, size_t K) {
    lmc_ckpt *c = lmc_xcalloc(1, sizeof *c);
    c->fd = -1;
    snprintf(c->path, sizeof c->path, "%s", path);
    c->K = K;
    size_t K1 = K ? K : 1;
    c->have = lmc_xcalloc(K1, 1);
    c->nll = lmc_xcalloc(K1, sizeof *c->nll);
    c->part_off = lmc_xcalloc(K1, sizeof *c->part_off);
    c->part_n = lmc_xcalloc(K1, sizeof *c->part_n);
    return c;
}

/* Opens (or creates) the file, takes its lock (one process per checkpoint) and reads all of it into *data. */
static int ckpt_lock_and_read(lmc_ckpt *c, char **data, size_t *len, lmc_err *err) {
    const char *path = c->path;
    c->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c->fd < 0) return lmc_fail(err, "%s: cannot open checkpoint: %s", path, strerror(errno));
    if (flock(c->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) return lmc_fail(err, "%s: cannot lock checkpoint: %s", path, strerror(errno));
        int pid = lmc_lock_holder(c->fd);
        if (pid) return lmc_fail(err, "%s: checkpoint is in use by another lmc process (pid %d holds its flock)", path, pid);
        return lmc_fail(err, "%s: checkpoint is in use by another lmc process (it holds its flock)", path);
    }
    struct stat st;
    if (fstat(c->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return lmc_fail(err, "%s: checkpoint is not a regular file", path);
    *len = (size_t)st.st_size;
    *data = lmc_xmalloc(*len + 1);
    for (size_t got = 0; got < *len;) {
        ssize_t r = pread(c->fd, *data + got, *len - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return lmc_fail(err, "%s: cannot read checkpoint: %s", path, r ? strerror(errno) : "file shrank");
        got += (size_t)r;
    }
    return 0;
}

/* A new checkpoint, or one whose header was cut short while it was being created: (re)write the header. */
static int ckpt_write_header(lmc_ckpt *c, const lmc_ckpt_fp *fp, lmc_err *err) {
    lmc_buf h = {0};
    header_text(fp, &h);
    int bad = ftruncate(c->fd, 0) != 0 || lmc_write_all(c->fd, h.p, h.len) != 0 || fsync(c->fd) != 0;
    int e = errno;
    lmc_buf_free(&h);
    if (bad) return lmc_fail(err, "%s: cannot write checkpoint header: %s", c->path, strerror(e));
    fsync_dir_of(c->path);
    c->last_sync = lmc_now();
    return 0;
}

/* The records after a header of hl bytes: each stored; a damaged last line (a write cut short) is counted in
 * c->torn and cut off the file; a damaged line before it, or a window recorded twice differently, is refused. */
static int ckpt_read_records(lmc_ckpt *c, const lmc_ckpt_fp *fp, const char *data, size_t len, size_t hl,
                             lmc_err *err) {
    const char *path = c->path;
    lmc_buf tmp = {0};
    int rc = -1;
    size_t pos = hl, good_end = pos, lineno = 0;
    for (const char *h = data; h < data + hl; h++) lineno += *h == '\n';
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        lineno++;
        size_t k, n;
        double nll;
        tmp.len = 0;
        int ok = nl && parse_record(line, (size_t)(nl - line), fp->docs, &k, &nll, &tmp, &n) == 0 && k < c->K;
        size_t next = nl ? (size_t)(nl - data) + 1 : len;
        if (!ok) {
            if (next >= len) { c->torn++; break; } /* the last line: a write cut short */
            lmc_fail(err, "%s:%zu: damaged checkpoint record (not the last line, so not an interrupted write); "
                          "refusing to use the checkpoint", path, lineno);
            goto out;
        }
        if (store(c, k, nll, (const lmc_ckpt_part *)tmp.p, n)) {
            lmc_fail(err, "%s:%zu: window %zu is recorded twice with different values; refusing to use the "
                          "checkpoint", path, lineno, k);
            goto out;
        }
        pos = good_end = next;
    }
    if (good_end < len && ftruncate(c->fd, (off_t)good_end) != 0) {
        lmc_fail(err, "%s: cannot cut off a torn record: %s", path, strerror(errno));
        goto out;
    }
    c->last_sync = lmc_now();
    rc = 0;
out:
    lmc_buf_free(&tmp);
    return rc;
}

int lmc_ckpt_open(const char *path, const lmc_ckpt_fp *fp, lmc_ckpt **out, lmc_err *err) {
    *out = NULL;
    lmc_ckpt *c = ckpt_new(path, fp->windows);
    char *data = NULL;
    size_t len = 0;
    int rc = ckpt_lock_and_read(c, &data, &len, err);
    if (!rc) {
        long hl = header_length(data, len);
        if (hl < 0)
            rc = lmc_fail(err, "%s: not an lmc checkpoint (or its header is damaged); refusing to overwrite it", path);
        else if (hl == 0) /* absent, empty, or a header cut short while it was being created */
            rc = ckpt_write_header(c, fp, err);
        else
            rc = compare_header(path, data, (size_t)hl, fp, err) ? -1
                                                                 : ckpt_read_records(c, fp, data, len, (size_t)hl, err);
    }
    free(data);
    if (rc) { ckpt_free(c); return -1; }
    *out = c;
    return 0;
}

size_t lmc_ckpt_done(const lmc_ckpt *c) { return c ? c->done : 0; }
size_t lmc_ckpt_torn(const lmc_ckpt *c) { return c ? c->torn : 0; }

int lmc_ckpt_get(const lmc_ckpt *c, size_t k, double *nll, const lmc_ckpt_part **parts, size_t *n_parts) {
    if (!c || k >= c->K || !c->have[k]) return 0;
    *nll = c->nll[k];
    *parts = c->parts + c->part_off[k];
    *n_parts = c->part_n[k];
    return 1;
}

int lmc_ckpt_append(lmc_ckpt *c, size_t k, double nll, const lmc_ckpt_part *parts, size_t n, lmc_err *err) {
    if (k >= c->K || c->have[k] || n == 0 || !isfinite(nll))
        return lmc_fail(err, "%s: internal error: bad checkpoint record for window %zu", c->path, k);
    lmc_buf b = {0};
    record_text(k, nll, parts, n, &b);
    int bad = lmc_write_all(c->fd, b.p, b.len);
    int e = errno;
    lmc_buf_free(&b);
    if (bad) return lmc_fail(err, "%s: cannot append to checkpoint: %s", c->path, strerror(e));
    store(c, k, nll, parts, n);
    c->dirty = 1;
    double now = lmc_now();
    if (now - c->last_sync >= 1.0) {
        if (fdatasync(c->fd) != 0) return lmc_fail(err, "%s: fsync failed: %s", c->path, strerror(errno));
        c->last_sync = now;
        c->dirty = 0;
    }
    return 0;
}

int lmc_ckpt_close(lmc_ckpt *c, lmc_err *err) {
    if (!c) return 0;
    int rc = 0;
    if (c->dirty && fdatasync(c->fd) != 0) rc = lmc_fail(err, "%s: fsync failed: %s", c->path, strerror(errno));
    ckpt_free(c);
    return rc;
}

/* ---- fingerprint ------------------------------------------------------------------------------- */

void lmc_ckpt_fingerprint(lmc_ckpt_fp *fp, const lmc_model *m, const char *model_sha256, const lmc_tokenizer *tok,
                          const lmc_eval_opts *o, const char *data_path, const lmc_result *r, size_t n_docs) {
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    memset(fp, 0, sizeof *fp);
    snprintf(fp->lmc_version, sizeof fp->lmc_version, "%s", LMC_VERSION);
    lmc_err e2;
    if (lmc_file_sha256("/proc/self/exe", fp->lmc_build, &e2)) snprintf(fp->lmc_build, sizeof fp->lmc_build, "unknown");
    snprintf(fp->blas, sizeof fp->blas, "%.120s / %.60s", lmc_blas_config(), lmc_blas_core());
    snprintf(fp->cpu, sizeof fp->cpu, "%.190s", cpu_features_string());
    if (model_sha256) snprintf(fp->model_sha256, sizeof fp->model_sha256, "%s", model_sha256);
    else lmc_model_sha256(m, fp->model_sha256);
    snprintf(fp->tokenizer_sha256, sizeof fp->tokenizer_sha256, "%s", lmc_tokenizer_hash(tok));
    snprintf(fp->compute, sizeof fp->compute, "%s", lmc_compute_name(d.compute));
    memcpy(fp->data_sha256, r->data_sha256, sizeof fp->data_sha256);
    memcpy(fp->tokens_sha256, r->tokens_sha256, sizeof fp->tokens_sha256);
    fp->file_num = o->file_num;
    fp->skip_bad = o->skip_bad;
    fp->block_size = o->block_size;
    fp->stride = o->stride;
    fp->docs = n_docs;
    fp->tokens = r->tokens;
    fp->windows = r->windows;
    snprintf(fp->model_path, sizeof fp->model_path, "%.1000s", d.path);
    snprintf(fp->data_path, sizeof fp->data_path, "%.1000s", data_path);
}

/* ---- file identity ----------------------------------------------------------------------------- */

int lmc_file_sha256(const char *path, char hex[65], lmc_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lmc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    lmc_sha256 s;
    lmc_sha256_init(&s);
    static __thread unsigned char buf[1 << 16];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return lmc_fail(err, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        lmc_sha256_update(&s, buf, (size_t)r);
    }
    close(fd);
    lmc_sha256_final_hex(&s, hex);
    return 0;
}
