/* fault.c — an LD_PRELOAD shim that injects one I/O fault into a command, as SQLite's I/O error tests do
 * (tests/cli_faults.sh sweeps it; docs/safety.md).
 *
 * It counts the calls that change files — open/openat for writing, write and pwrite (not to stdin, stdout or
 * stderr), fsync, fdatasync, ftruncate, rename — and makes the N-th one fail:
 *
 *   LMC_FAULT_N=N          the call to fail (1-based); unset or 0: count only
 *   LMC_FAULT_KIND=K       enospc (errno ENOSPC), eio (EIO), or short (a write or pwrite writes half its bytes,
 *                          at least one, and succeeds: the caller must write the rest)
 *   LMC_FAULT_STATE=FILE   at exit: "CALLS HIT" (calls counted; 1 when the fault was injected), so the sweep
 *                          knows when N has passed the last call
 *
 * The library calls these POSIX functions directly for every file it writes, so the shim sees every write. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long calls, target; /* this process's count; the call to fail */
static int kind, hit;      /* 0 enospc, 1 eio, 2 short */

__attribute__((constructor)) static void fault_init(void) {
    const char *n = getenv("LMC_FAULT_N"), *k = getenv("LMC_FAULT_KIND");
    target = n ? atol(n) : 0;
    kind = k && !strcmp(k, "eio") ? 1 : k && !strcmp(k, "short") ? 2 : 0;
}

__attribute__((destructor)) static void fault_report(void) {
    const char *path = getenv("LMC_FAULT_STATE");
    if (!path) return;
    char line[64];
    int len = snprintf(line, sizeof line, "%ld %d\n", calls, hit);
    int (*real_open)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    ssize_t (*real_write)(int, const void *, size_t) = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    int fd = real_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (real_write(fd, line, (size_t)len) < 0) { /* nothing to do: the sweep then sees no state */ }
        close(fd);
    }
}

/* Counts one call; 1 when this is the one to fail (errno is set for the failing kinds). */
static int fault_now(int can_short) {
    if (++calls != target) return 0;
    if (kind == 2 && !can_short) return 0; /* a short write is a write's fault only */
    hit = 1;
    errno = kind == 1 ? EIO : ENOSPC;
    return 1;
}

#define REAL(ret, name, ...) static ret (*real)(__VA_ARGS__); if (!real) real = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static int for_writing(int flags) { return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0; }

/* The mode argument of an open that creates a file (absent otherwise). */
#define MODE_ARG(flags, mode)                                                                                     \
    do {                                                                                                          \
        va_list ap;                                                                                               \
        va_start(ap, flags);                                                                                      \
        mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;                                                   \
        va_end(ap);                                                                                               \
    } while (0)

/* open and open64 are openat at the current directory: one place counts them. */
int openat(int dir, const char *path, int flags, ...) {
    REAL(int, openat, int, const char *, int, ...);
    mode_t mode;
    MODE_ARG(flags, mode);
    if (for_writing(flags) && fault_now(0) && kind != 2) return -1;
    return real(dir, path, flags, mode);
}

int open(const char *path, int flags, ...) {
    mode_t mode;
    MODE_ARG(flags, mode);
    return openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    mode_t mode;
    MODE_ARG(flags, mode);
    return openat(AT_FDCWD, path, flags, mode);
}

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(ssize_t, write, int, const void *, size_t);
    if (fd > 2 && fault_now(1)) {
        if (kind != 2) return -1;
        return real(fd, buf, n > 1 ? n / 2 : n);
    }
    return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
    if (fd > 2 && fault_now(1)) {
        if (kind != 2) return -1;
        return real(fd, buf, n > 1 ? n / 2 : n, off);
    }
    return real(fd, buf, n, off);
}

int fsync(int fd) {
    REAL(int, fsync, int);
    if (fault_now(0) && kind != 2) return -1;
    return real(fd);
}

int fdatasync(int fd) {
    REAL(int, fdatasync, int);
    if (fault_now(0) && kind != 2) return -1;
    return real(fd);
}

int ftruncate(int fd, off_t len) {
    REAL(int, ftruncate, int, off_t);
    if (fault_now(0) && kind != 2) return -1;
    return real(fd, len);
}

int rename(const char *from, const char *to) {
    REAL(int, rename, const char *, const char *);
    if (fault_now(0) && kind != 2) return -1;
    return real(from, to);
}
