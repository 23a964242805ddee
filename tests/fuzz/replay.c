/* replay.c — runs a libFuzzer target (tests/fuzz/fuzz_*.c) on given files, without libFuzzer or sanitizers, so
 * that `make test` replays every committed seed and every crashing input kept from a fuzzing run with the
 * ordinary build (tests/cli_fuzz_replay.sh). A target's invariants abort (FZ_ASSERT), as under libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The whole file, or NULL. */
static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 4096))) break;
        size_t got = fread(buf + *n, 1, cap - *n, f);
        *n += got;
        if (got == 0) break;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        size_t n;
        uint8_t *data = slurp(argv[i], &n);
        if (!data) { fprintf(stderr, "replay: cannot read %s\n", argv[i]); return 1; }
        LLVMFuzzerTestOneInput(data, n);
        free(data);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
