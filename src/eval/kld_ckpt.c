/* kld_ckpt.c — `lmc kld --checkpoint`: every finished window recorded, so a killed comparison resumes where it
 * stopped with a bit-identical result (the rows are stored as their exact bytes and added up again in row order).
 *
 * The file: "LMCKLDC1", u32 length and the fingerprint text (what the rows depend on: lmc eval's checkpoint
 * fields for the data, tokens, build, BLAS and CPU, and both models, computes and the mode), u32 crc32 of it; then
 * one record per window: u64 window index, u32 payload bytes, the payload (the window's lmc_kld_row values, or
 * its base-file records under --save-base), u32 crc32 of all before it in the record. Each record goes out with
 * one write(2) and an fsync, so a kill loses at most the window being computed. A torn last record (a kill during
 * its write) is dropped and cut off; a bad record anywhere else means the file was damaged and is refused. The
 * file is locked (flock) while open: a second process on the same checkpoint is refused. */
#include "eval/kld_internal.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#define CK_MAGIC "LMCKLDC1"

struct lmc_kld_ckpt {
    int            fd;
    char           path[4096];
    char          *data;   /* the file as read at open */
    size_t         K, done, torn;
    size_t        *off;    /* (K) offset of window k's payload in data, or 0 */
    size_t        *bytes;  /* (K) its length */
};

static uint32_t crc(const void *p, size_t n) { return (uint32_t)crc32(0, p, (uInt)n); }

/* The line of text whose first word is key[0..klen) (its length in *len), or NULL. */
static const char *line_of(const char *text, const char *key, size_t klen, size_t *len) {
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n >= klen && !strncmp(l, key, klen) && (n == klen || l[klen] == ' ')) { *len = n; return l; }
        l += n + (e != NULL);
    }
    return NULL;
}

/* Lists in diff the keys (first words) whose lines differ between fingerprint texts a and b, or that only one
 * has; the paths are informational (moving the files does not invalidate a checkpoint). Returns their count. */
static int fp_diff(const char *a, const char *b, lmc_buf *diff) {
    int nd = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *x = pass ? b : a, *y = pass ? a : b;
        for (const char *l = x; *l;) {
            const char *e = strchr(l, '\n'), *sp = strchr(l, ' ');
            size_t len = e ? (size_t)(e - l) : strlen(l), klen = sp && sp < l + len ? (size_t)(sp - l) : len, ylen = 0;
            const char *m = line_of(y, l, klen, &ylen);
            int info = (klen == 10 && !strncmp(l, "model_path", 10)) || (klen == 9 && !strncmp(l, "data_path", 9));
            int differs = pass == 0 ? !m || ylen != len || strncmp(m, l, len) : !m; /* pass 1: keys only b has */
            if (!info && differs) lmc_buf_printf(diff, "%s%.*s", nd++ ? ", " : "", (int)klen, l);
            l += len + (e != NULL);
        }
    }
    return nd;
}

/* ---- open: create, or read back and check ------------------------------------------------------------------ */

static int create(lmc_kld_ckpt *c, const char *fp, lmc_err *err) {
    lmc_buf b = {0};
    uint32_t n = (uint32_t)strlen(fp), h = crc(fp, n);
    lmc_buf_append(&b, CK_MAGIC, 8);
    lmc_buf_append(&b, &n, 4);
    lmc_buf_append(&b, fp, n);
    lmc_buf_append(&b, &h, 4);
    int ok = lmc_write_all(c->fd, b.p, b.len) == 0 && fsync(c->fd) == 0, e = errno;
    lmc_buf_free(&b);
    return ok ? 0 : lmc_fail(err, "%s: cannot write the checkpoint: %s", c->path, strerror(e));
}

/* The records after the header at *pos; a torn last one is cut off the file. */
static int read_records(lmc_kld_ckpt *c, size_t pos, size_t size, lmc_err *err) {
    const unsigned char *d = (const unsigned char *)c->data;
    while (pos < size) {
        uint64_t k;
        uint32_t n, h;
        int whole = size - pos >= 12;
        if (whole) {
            memcpy(&k, d + pos, 8);
            memcpy(&n, d + pos + 8, 4);
            whole = size - pos - 12 >= (size_t)n + 4;
        }
        if (whole) memcpy(&h, d + pos + 12 + n, 4);
        if (!whole || h != crc(d + pos, 12 + (size_t)n)) {
            if (whole && pos + 16 + n < size)
                return lmc_fail(err, "%s: damaged checkpoint (a bad record before its last); delete it to start over",
                                c->path);
            c->torn = 1; /* the last record, cut short or garbled by a kill during its write */
            if (ftruncate(c->fd, (off_t)pos)) return lmc_fail(err, "%s: cannot cut off a torn record", c->path);
            return 0;
        }
        if (k >= c->K || c->off[k])
            return lmc_fail(err, "%s: damaged checkpoint (window %llu recorded twice or out of range)", c->path,
                            (unsigned long long)k);
        c->off[k] = pos + 12;
        c->bytes[k] = n;
        c->done++;
        pos += 16 + n;
    }
    return 0;
}

static int read_back(lmc_kld_ckpt *c, const char *fp, lmc_err *err) {
    size_t size;
    if (lmc_read_file(c->path, &c->data, &size, err)) return -1;
    uint32_t n = 0, h = 0;
    if (size < 12 || memcmp(c->data, CK_MAGIC, 8) || (memcpy(&n, c->data + 8, 4), size < 16 + (size_t)n) ||
        (memcpy(&h, c->data + 12 + n, 4), h != crc(c->data + 12, n)))
        return lmc_fail(err, "%s: not an lmc kld checkpoint (or its header is damaged)", c->path);
    char *have = lmc_xmalloc((size_t)n + 1);
    memcpy(have, c->data + 12, n);
    have[n] = 0;
    lmc_buf diff = {0};
    int nd = fp_diff(fp, have, &diff);
    if (nd) lmc_fail(err, "%s: a checkpoint of another comparison (%s differ%s): delete it or use another "
                          "--checkpoint", c->path, diff.p, nd == 1 ? "s" : "");
    free(have);
    lmc_buf_free(&diff);
    return nd ? -1 : read_records(c, 16 + (size_t)n, size, err);
}

int lmc_kld_ckpt_open(const char *path, const char *fp, size_t K, lmc_kld_ckpt **out, lmc_err *err) {
    lmc_kld_ckpt *c = lmc_xcalloc(1, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    c->K = K;
    c->off = lmc_xcalloc(K ? K : 1, sizeof *c->off);
    c->bytes = lmc_xcalloc(K ? K : 1, sizeof *c->bytes);
    c->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int rc = -1;
    if (c->fd < 0) lmc_fail(err, "%s: cannot open the checkpoint: %s", path, strerror(errno));
    else if (flock(c->fd, LOCK_EX | LOCK_NB))
        lmc_fail(err, "%s: the checkpoint is in use by another process", path);
    else if (lseek(c->fd, 0, SEEK_END) == 0) rc = create(c, fp, err);
    else rc = read_back(c, fp, err);
    if (rc == 0 && lseek(c->fd, 0, SEEK_END) < 0) rc = lmc_fail(err, "%s: cannot seek", path);
    if (rc) {
        lmc_kld_ckpt_close(c, NULL);
        return -1;
    }
    *out = c;
    return 0;
}

/* ---- use ---------------------------------------------------------------------------------------------------- */

size_t lmc_kld_ckpt_done(const lmc_kld_ckpt *c) { return c->done; }
size_t lmc_kld_ckpt_torn(const lmc_kld_ckpt *c) { return c->torn; }

const void *lmc_kld_ckpt_get(const lmc_kld_ckpt *c, size_t k, size_t *bytes) {
    if (k >= c->K || !c->off[k]) return NULL;
    *bytes = c->bytes[k];
    return c->data + c->off[k];
}

int lmc_kld_ckpt_append(lmc_kld_ckpt *c, size_t k, const void *payload, size_t bytes, lmc_err *err) {
    lmc_buf b = {0};
    uint64_t kk = k;
    uint32_t n = (uint32_t)bytes;
    lmc_buf_append(&b, &kk, 8);
    lmc_buf_append(&b, &n, 4);
    lmc_buf_append(&b, payload, bytes);
    uint32_t h = crc(b.p, b.len);
    lmc_buf_append(&b, &h, 4);
    int ok = lmc_write_all(c->fd, b.p, b.len) == 0 && fsync(c->fd) == 0, e = errno;
    lmc_buf_free(&b);
    return ok ? 0 : lmc_fail(err, "%s: cannot record window %zu: %s", c->path, k, strerror(e));
}

int lmc_kld_ckpt_close(lmc_kld_ckpt *c, lmc_err *err) {
    if (!c) return 0;
    int rc = 0;
    if (c->fd >= 0 && (fsync(c->fd) != 0 && errno != EINVAL) && err)
        rc = lmc_fail(err, "%s: %s", c->path, strerror(errno));
    if (c->fd >= 0) close(c->fd);
    free(c->data);
    free(c->off);
    free(c->bytes);
    free(c);
    return rc;
}
