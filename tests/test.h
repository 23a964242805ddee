/* test.h — a tiny test harness. Each tests/test_*.c is one binary; each TEST is a function run by RUN().
 * Output, one line per test: "PASS name", "FAIL name: reason" or "SKIP name: reason"; the binary's last
 * line is "N passed, N failed, N skipped" and tests/run.sh adds them up.
 *
 *   static void test_windows_tail(void) { CHECK(k == 3, "K = %d", k); }
 *   int main(void) { RUN(test_windows_tail); return test_summary(); }
 */
#ifndef LMC_TEST_H
#define LMC_TEST_H

#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int         t_passed, t_failed, t_skipped;
static int         t_cur_failed, t_cur_skipped;
static char        t_cur_msg[1024];

static inline void t_note_fail(const char *file, int line, const char *fmt, ...) {
    if (t_cur_failed++) return; /* keep the first failure's message */
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(t_cur_msg, sizeof t_cur_msg, "%s:%d: ", file, line);
    vsnprintf(t_cur_msg + n, sizeof t_cur_msg - (size_t)n, fmt, ap);
    va_end(ap);
}

/* CHECK(cond, fmt, ...): records a failure (the test goes on). REQUIRE: records and returns. */
#define CHECK(cond, ...) do { if (!(cond)) t_note_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define REQUIRE(cond, ...) do { if (!(cond)) { t_note_fail(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)
#define SKIP(...) do { t_cur_skipped = 1; snprintf(t_cur_msg, sizeof t_cur_msg, __VA_ARGS__); return; } while (0)

#define RUN(fn) t_run(#fn, fn)
static inline void t_run(const char *name, void (*fn)(void)) {
    t_cur_failed = t_cur_skipped = 0;
    t_cur_msg[0] = 0;
    fn();
    if (t_cur_failed) { t_failed++; printf("FAIL %s: %s\n", name, t_cur_msg); }
    else if (t_cur_skipped) { t_skipped++; printf("SKIP %s: %s\n", name, t_cur_msg); }
    else { t_passed++; printf("PASS %s\n", name); }
    fflush(stdout);
}

static inline int test_summary(void) {
    printf("%d passed, %d failed, %d skipped\n", t_passed, t_failed, t_skipped);
    return t_failed ? 1 : 0;
}

/* Path under $LMC_SHARED (default ../shared), or NULL when that file does not exist (callers SKIP). */
static inline const char *t_shared(const char *rel) {
    static char bufs[8][4096];
    static int  next;
    const char *root = getenv("LMC_SHARED");
    if (!root || !*root) root = "../shared";
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", root, rel);
    struct stat st;
    return stat(b, &st) == 0 ? b : NULL;
}
#define SHARED_OR_SKIP(var, rel) \
    const char *var = t_shared(rel); \
    if (!var) SKIP("shared reference %s not found (set LMC_SHARED)", rel)

/* ---- scratch files: one temporary directory per test binary ----------------------------------------
 *   t_tmp_dir()      the directory, made on first use (/tmp/lmc_test_XXXXXX); exits 2 if it cannot be made
 *   t_tmp(name)      a path in it (rotating buffers: up to 16 may be alive at once)
 *   t_tmp_cleanup()  removes it and everything in it; call it at the end of main
 * t_write_file and t_exists work on any path. */
static char t_tmp_root[64];

static inline const char *t_tmp_dir(void) {
    if (!t_tmp_root[0]) {
        snprintf(t_tmp_root, sizeof t_tmp_root, "/tmp/lmc_test_XXXXXX");
        if (!mkdtemp(t_tmp_root)) { perror("mkdtemp"); exit(2); }
    }
    return t_tmp_root;
}

static inline const char *t_tmp(const char *name) {
    static char bufs[16][512];
    static int  next;
    char *b = bufs[next++ % 16];
    snprintf(b, sizeof bufs[0], "%s/%s", t_tmp_dir(), name);
    return b;
}

/* path ← the n bytes at data (a test's input file); exits 2 if it cannot be written. */
static inline void t_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    if (n && fwrite(data, 1, n, f) != n) { perror(path); exit(2); }
    if (fclose(f)) { perror(path); exit(2); }
}

static inline int t_exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

static inline int t_rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void t_tmp_cleanup(void) {
    if (!t_tmp_root[0]) return;
    if (nftw(t_tmp_root, t_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) fprintf(stderr, "could not remove %s\n", t_tmp_root);
    t_tmp_root[0] = 0;
}

static inline int t_full(void) { const char *f = getenv("LMC_FULL"); return f && *f && strcmp(f, "0") != 0; }

#endif
