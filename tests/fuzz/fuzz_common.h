/* fuzz_common.h — helpers shared by the libFuzzer targets in tests/fuzz/ (built and run by `make fuzz`). */
#ifndef LMC_FUZZ_COMMON_H
#define LMC_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A private scratch directory, on tmpfs when there is one (files are rewritten on every input), removed at exit. */
static char fz_dir[256];

static void fz_cleanup(void) {
    char cmd[300];
    if (!fz_dir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fz_dir);
}

static const char *fz_scratch(void) {
    if (fz_dir[0]) return fz_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fz_dir, sizeof fz_dir, "%s/lmc_fuzz_XXXXXX", base);
    if (!mkdtemp(fz_dir)) { perror("mkdtemp"); abort(); }
    atexit(fz_cleanup);
    return fz_dir;
}

/* Writes data to dir/name (whole file, replaced). */
__attribute__((unused)) static void fz_write(const char *name, const void *data, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", fz_scratch(), name);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); abort(); }
    if (n && fwrite(data, 1, n, f) != n) { perror(p); abort(); }
    if (fclose(f) != 0) { perror(p); abort(); }
}

__attribute__((unused)) static char *fz_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", fz_scratch(), name);
    return buf;
}

/* Crashes (so that libFuzzer records the input) when an invariant does not hold. */
#define FZ_ASSERT(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, \
                                                    __LINE__); abort(); } } while (0)

#endif
