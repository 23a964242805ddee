/* fuzz_tar.c — the tarball path of `lmc corpus code` (src/corpus/sources.c, libarchive) on the raw input as a
 * tar (compressed or not). Invariants: every file read is a .py of at most 1 MiB, its status agrees with its
 * bytes (UTF-8 with the counted code points, or not), the commit (git archive's pax global header) is empty or
 * 40 hex digits, and damage is a problem named, never a crash. */
#include "fuzz_common.h"
#include "corpus/corpus.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    code_set s;
    code_tar_read_memory(data, size, &s);
    FZ_ASSERT(s.n_repos == 1);
    size_t c = strlen(s.repos[0].commit);
    FZ_ASSERT(c == 0 || (c == 40 && strspn(s.repos[0].commit, "0123456789abcdef") == 40));
    for (size_t i = 0; i < s.n; i++) {
        const code_file *f = &s.files[i];
        size_t n = strlen(f->path), chars, bad;
        FZ_ASSERT(n > 3 && !strcmp(f->path + n - 3, ".py") && f->repo == 0);
        if (f->status == CODE_OK) FZ_ASSERT(f->text && lmc_utf8_validate(f->text, f->len, &chars, &bad) && chars == f->chars);
        if (f->status == CODE_NOT_UTF8) FZ_ASSERT(f->text && !lmc_utf8_validate(f->text, f->len, &chars, &bad));
        if (f->status == CODE_TOO_BIG) FZ_ASSERT(!f->text && f->len > (1u << 20));
    }
    code_set_free(&s);
    return 0;
}
