/* oom.c — an LD_PRELOAD shim that fails one memory allocation of lmc's own code, as SQLite's malloc tests do
 * (tests/cli_oom.sh sweeps it; docs/testing.md "Allocation failures").
 *
 * It counts malloc, calloc, realloc, reallocarray, posix_memalign, aligned_alloc and memalign calls made by lmc's
 * code and makes the N-th one return NULL (errno ENOMEM):
 *
 *   LMC_OOM_N=N          the counted call to fail (1-based); unset or 0: count only
 *   LMC_OOM_MIN=BYTES    count only requests of at least BYTES (default 0: every one)
 *   LMC_OOM_STATE=FILE   "CALLS HIT" (calls counted; 1 when the failure was injected), written when the failure
 *                        is injected (a program may _exit on it, skipping destructors) and again at exit, so
 *                        the sweep knows when N has passed the last call
 *
 * Which allocations are lmc's: those whose caller (the return address) lies in the main program's code, which
 * holds lmc and its static library (liblmc.a). Allocations made inside shared libraries — glibc's stdio, strdup
 * and locale code, OpenBLAS's buffers, libgomp's thread pool, cJSON, zlib, PCRE2 — are never failed: they are
 * the libraries' own, made at start-up or deep inside a call whose failure modes are theirs to define, and
 * failing them would test those libraries rather than lmc. Allocations made before this shim's constructor ran
 * (the dynamic loader's, libc's start-up) are not counted either.
 *
 * The real allocator is glibc's __libc_malloc family, so this shim calls no dlsym (which itself allocates). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

enum { MAX_SEGMENTS = 8 };

/* The main program's executable segments [lo, hi), found once in the constructor; none before that. */
static uintptr_t seg_lo[MAX_SEGMENTS], seg_hi[MAX_SEGMENTS];
static int n_seg;
static long target, min_bytes; /* the call to fail; the smallest request counted */
static long calls;             /* counted so far (atomic: OpenMP threads allocate too) */
static int hit;

static int main_program_segments(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum && n_seg < MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        seg_lo[n_seg] = info->dlpi_addr + ph->p_vaddr;
        seg_hi[n_seg] = seg_lo[n_seg] + ph->p_memsz;
        n_seg++;
    }
    return 1; /* the first object listed is the main program: stop there */
}

__attribute__((constructor)) static void oom_init(void) {
    const char *n = getenv("LMC_OOM_N"), *m = getenv("LMC_OOM_MIN");
    target = n ? atol(n) : 0;
    min_bytes = m ? atol(m) : 0;
    dl_iterate_phdr(main_program_segments, NULL);
}

static void write_state(void) {
    const char *path = getenv("LMC_OOM_STATE");
    if (!path) return;
    char line[64];
    int len = snprintf(line, sizeof line, "%ld %d\n", __atomic_load_n(&calls, __ATOMIC_SEQ_CST), hit);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)len) < 0) { /* nothing to do: the sweep then sees no state */ }
        close(fd);
    }
}

__attribute__((destructor)) static void oom_report(void) { write_state(); }

static int from_lmc(const void *caller) {
    uintptr_t a = (uintptr_t)caller;
    for (int i = 0; i < n_seg; i++)
        if (a >= seg_lo[i] && a < seg_hi[i]) return 1;
    return 0;
}

/* Counts one request of n bytes from caller; 1 when it is the one to fail (errno set). */
static int fail_now(const void *caller, size_t n) {
    if (!from_lmc(caller) || n < (size_t)min_bytes) return 0;
    if (__atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) != target) return 0;
    hit = 1;
    write_state();
    errno = ENOMEM;
    return 1;
}

#define CALLER __builtin_return_address(0)

void *malloc(size_t n) { return fail_now(CALLER, n) ? NULL : __libc_malloc(n); }

void *calloc(size_t n, size_t size) {
    size_t bytes = size && n > SIZE_MAX / size ? SIZE_MAX : n * size;
    return fail_now(CALLER, bytes) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) { return fail_now(CALLER, n) ? NULL : __libc_realloc(p, n); }

void *reallocarray(void *p, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) { errno = ENOMEM; return NULL; }
    return fail_now(CALLER, n * size) ? NULL : __libc_realloc(p, n * size);
}

void *memalign(size_t align, size_t n) { return fail_now(CALLER, n) ? NULL : __libc_memalign(align, n); }

void *aligned_alloc(size_t align, size_t n) { return fail_now(CALLER, n) ? NULL : __libc_memalign(align, n); }

int posix_memalign(void **out, size_t align, size_t n) {
    if (fail_now(CALLER, n)) return ENOMEM;
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
