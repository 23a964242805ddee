/* fuzz_warc.c — the WET reader (src/corpus/warc.c) on the raw input, as plain text and (when it starts with the
 * gzip magic) as gzip members. Invariants: records are numbered in order, every span lies inside the arena, a
 * kept record's title and content are valid UTF-8 with content's code points counted, and no line of content
 * holds a line break (bodies are split on them). */
#include "fuzz_common.h"
#include "corpus/corpus.h"

#include <stdint.h>

static void check_span(const wet_file *f, span s) { FZ_ASSERT(s.off <= f->arena.len && s.len <= f->arena.len - s.off); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    wet_file f;
    memset(&f, 0, sizeof f);
    FZ_ASSERT(wet_file_parse(data, size, &f) == 0);
    for (size_t i = 0; i < f.n; i++) {
        const wet_record *r = &f.recs[i];
        FZ_ASSERT(r->index == i);
        check_span(&f, r->url), check_span(&f, r->date), check_span(&f, r->title), check_span(&f, r->content);
        if (r->status != WET_OK) continue;
        size_t chars, bad;
        FZ_ASSERT(lmc_utf8_validate(wet_at(&f, r->content), r->content.len, &chars, &bad) && chars == r->chars);
        FZ_ASSERT(!memchr(wet_at(&f, r->content), '\r', r->content.len));
        FZ_ASSERT(lmc_utf8_validate(wet_at(&f, r->title), r->title.len, &chars, &bad));
        uint64_t h = lmc_corpus_line_hash(wet_at(&f, r->title), r->title.len);
        (void)h;
    }
    FZ_ASSERT(f.length_mismatches <= f.n);
    wet_file_free(&f);
    return 0;
}
