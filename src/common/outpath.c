/* outpath.c — output paths checked and claimed before a command does any work (include/lmc_tools.h).
 *
 * An output is written atomically at the end (lmc_write_file_atomic), so a bad destination would otherwise be
 * found only after hours of evaluation, and an output that is the same file as an input (`lmc compress x -o x`)
 * would replace that input. lmc_outputs_check refuses, before anything is computed: a directory, a missing or
 * read-only directory, a full file system, an output that is an input (compared by device and inode, so another
 * spelling, a symbolic or a hard link is caught; an input directory — a model — by each file in it), and two
 * outputs that are one file. lmc_outputs_lock then takes an exclusive flock on OUT.lock beside each output for
 * the whole run, so that a second process given the same output is refused instead of racing to the rename. */
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- where an output goes ---------------------------------------------------------------------- */

/* The directory part of path ("." for a bare name). */
static void dir_of(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, cap, ".");
    else if (slash == path) snprintf(dir, cap, "/");
    else snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

/* The output's directory exists, is a directory this process may write in, is not on a read-only file system and
 * has space left. */
static int check_dir(const char *out, lmc_err *err) {
    char dir[PATH_MAX];
    dir_of(out, dir, sizeof dir);
    struct stat st;
    if (stat(dir, &st) != 0)
        return lmc_fail(err, "%s: cannot write there: directory %s: %s", out, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return lmc_fail(err, "%s: cannot write there: %s is not a directory", out, dir);
    struct statvfs vs;
    if (statvfs(dir, &vs) == 0) {
        if (vs.f_flag & ST_RDONLY)
            return lmc_fail(err, "%s: cannot write there: directory %s is on a read-only file system", out, dir);
        if (vs.f_bavail == 0)
            return lmc_fail(err, "%s: cannot write there: no space left on the device of %s", out, dir);
    }
    if (access(dir, W_OK | X_OK) != 0) /* a read-only directory on a writable file system (root passes) */
        return lmc_fail(err, "%s: cannot write there: directory %s is not writable", out, dir);
    return 0;
}

/* Whether a file in dir is the same file as st. */
static int same_in_dir(const char *dir, const struct stat *st) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int hit = 0;
    struct dirent *e;
    while (!hit && (e = readdir(d))) {
        char p[PATH_MAX];
        struct stat es;
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p || stat(p, &es) != 0) continue;
        hit = S_ISREG(es.st_mode) && es.st_dev == st->st_dev && es.st_ino == st->st_ino;
    }
    closedir(d);
    return hit;
}

/* An existing output (st) is not an input, nor a file inside an input directory. */
static int check_not_input(const char *out, const struct stat *st, const char *const *ins, size_t n_in,
                           lmc_err *err) {
    for (size_t i = 0; i < n_in; i++) {
        struct stat is;
        if (!ins[i] || stat(ins[i], &is) != 0) continue;
        if (is.st_dev == st->st_dev && is.st_ino == st->st_ino)
            return lmc_fail(err, "%s: is the same file as the input %s: refusing to overwrite an input", out, ins[i]);
        if (S_ISDIR(is.st_mode) && same_in_dir(ins[i], st))
            return lmc_fail(err, "%s: is a file of the input directory %s: refusing to overwrite an input", out, ins[i]);
    }
    return 0;
}

/* Where path will be once written: its directory resolved (links, "..") + its last component. */
static void canonical(const char *path, char *buf, size_t cap) {
    char dir[PATH_MAX], real[PATH_MAX];
    dir_of(path, dir, sizeof dir);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!realpath(dir, real) || snprintf(buf, cap, "%s/%s", real, base) >= (int)cap) snprintf(buf, cap, "%s", path);
}

/* Outputs a and b are not one file: the same place, or existing files with one inode. */
static int check_distinct(const char *a, const char *b, lmc_err *err) {
    char ca[PATH_MAX], cb[PATH_MAX];
    canonical(a, ca, sizeof ca);
    canonical(b, cb, sizeof cb);
    struct stat sa, sb;
    int same = !strcmp(ca, cb) ||
               (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
    if (same) return lmc_fail(err, "%s and %s are the same file: give each output its own path", a, b);
    return 0;
}

int lmc_outputs_check(const char *const *outs, size_t n_out, const char *const *ins, size_t n_in, lmc_err *err) {
    for (size_t i = 0; i < n_out; i++) {
        const char *out = outs[i];
        if (!out) continue;
        if (!*out) return lmc_fail(err, "an output path is empty");
        struct stat st;
        int exists = stat(out, &st) == 0;
        if (exists && S_ISDIR(st.st_mode)) return lmc_fail(err, "%s: is a directory, not a file to write", out);
        if (exists && !S_ISREG(st.st_mode)) /* the rename into place would replace a device or a pipe */
            return lmc_fail(err, "%s: is not a regular file (a device, pipe or socket): lmc writes a file and renames "
                                 "it into place", out);
        if (check_dir(out, err)) return -1;
        if (exists && check_not_input(out, &st, ins, n_in, err)) return -1;
        for (size_t j = 0; j < i; j++)
            if (outs[j] && check_distinct(outs[j], out, err)) return -1;
    }
    return 0;
}

/* ---- one writer per output ----------------------------------------------------------------------- */

struct lmc_outputs {
    size_t n;
    int   *fd;        /* (n) the flocked OUT.lock of each output; -1: none */
    char (*lock)[PATH_MAX]; /* (n) its path, removed on unlock */
};

int lmc_lock_holder(int fd) {
    struct stat st;
    FILE *f = fopen("/proc/locks", "r");
    if (!f || fstat(fd, &st) != 0) {
        if (f) fclose(f);
        return 0;
    }
    char line[512];
    int pid = 0;
    while (!pid && fgets(line, sizeof line, f)) {
        int p;
        unsigned maj, min;
        unsigned long long ino;
        char *fl = strstr(line, "FLOCK");
        if (fl && sscanf(fl, "FLOCK %*s %*s %d %x:%x:%llu", &p, &maj, &min, &ino) == 4 &&
            ino == (unsigned long long)st.st_ino && makedev(maj, min) == st.st_dev && p != getpid())
            pid = p;
    }
    fclose(f);
    return pid;
}

/* Takes the flock on path + ".lock" into *fd; the lock file is checked to still be the one at its path, since a
 * finishing process removes it. */
static int lock_one(const char *out, char *lock, size_t cap, int *fd, lmc_err *err) {
    snprintf(lock, cap, "%s.lock", out);
    for (int tries = 0; tries < 100; tries++) {
        int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (f < 0) return lmc_fail(err, "%s: cannot write there: %s: %s", out, lock, strerror(errno));
        if (flock(f, LOCK_EX | LOCK_NB) != 0) {
            int e = errno, pid = e == EWOULDBLOCK ? lmc_lock_holder(f) : 0;
            close(f);
            if (e != EWOULDBLOCK) return lmc_fail(err, "%s: cannot lock %s: %s", out, lock, strerror(e));
            if (pid) return lmc_fail(err, "%s: being written by another lmc process (pid %d holds the lock %s)", out, pid, lock);
            return lmc_fail(err, "%s: being written by another lmc process (it holds the lock %s)", out, lock);
        }
        struct stat a, b;
        if (fstat(f, &a) == 0 && stat(lock, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            *fd = f;
            return 0;
        }
        close(f); /* removed by its owner between open and flock: take the new one */
    }
    return lmc_fail(err, "%s: cannot lock %s: it keeps being replaced", out, lock);
}

int lmc_outputs_lock(const char *const *outs, size_t n_out, lmc_outputs **held, lmc_err *err) {
    lmc_outputs *h = lmc_xcalloc(1, sizeof *h);
    h->n = n_out;
    h->fd = lmc_xcalloc(n_out ? n_out : 1, sizeof *h->fd);
    h->lock = lmc_xcalloc(n_out ? n_out : 1, sizeof *h->lock);
    for (size_t i = 0; i < n_out; i++) h->fd[i] = -1;
    for (size_t i = 0; i < n_out; i++)
        if (outs[i] && lock_one(outs[i], h->lock[i], sizeof h->lock[i], &h->fd[i], err)) {
            lmc_outputs_unlock(h);
            *held = NULL;
            return -1;
        }
    *held = h;
    return 0;
}

void lmc_outputs_unlock(lmc_outputs *h) {
    if (!h) return;
    for (size_t i = 0; i < h->n; i++)
        if (h->fd[i] >= 0) {
            unlink(h->lock[i]); /* while still held: no one else has it */
            close(h->fd[i]);
        }
    free(h->fd);
    free(h->lock);
    free(h);
}
