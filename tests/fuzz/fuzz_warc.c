/* fuzz_warc.c — the WET reader (src/corpus/warc.c) on the raw input, as plain text and (when it starts with the
 * gzip magic) as gzip members. Invariants: records are numbered in order, every span lies inside the arena, a
 * kept record's title and content are valid UTF-8 with content's code points counted, no line of content holds a
 * line break (bodies are split on them), and the records read in small chunks (1 to 64 bytes, so that records
 * are carried from chunk to chunk) are exactly those read at once. */
#include "fuzz_common.h"
#include "corpus/corpus.h"

#include <stdint.h>

static void check_span(const wet_file *f, span s) { FZ_ASSERT(s.off <= f->arena.len && s.len <= f->arena.len - s.off); }

static int same_span(const wet_file *a, span x, const wet_file *b, span y) {
    return x.len == y.len && !memcmp(wet_at(a, x), wet_at(b, y), x.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    wet_file f, g;
    FZ_ASSERT(wet_file_parse(data, size, 0, &f) == 0);
    FZ_ASSERT(wet_file_parse(data, size, 1 + (size ? data[size - 1] % 64 : 0), &g) == 0);
    FZ_ASSERT(f.n == g.n && f.length_mismatches == g.length_mismatches && f.text_bytes == g.text_bytes);
    FZ_ASSERT(!strcmp(f.gzip_problem, g.gzip_problem));
    for (size_t i = 0; i < f.n; i++) {
        const wet_record *r = &f.recs[i], *q = &g.recs[i];
        FZ_ASSERT(r->index == i && q->index == i && r->status == q->status && r->chars == q->chars);
        FZ_ASSERT(r->length_mismatch == q->length_mismatch);
        check_span(&f, r->url), check_span(&f, r->date), check_span(&f, r->title), check_span(&f, r->content);
        FZ_ASSERT(same_span(&f, r->url, &g, q->url) && same_span(&f, r->date, &g, q->date));
        FZ_ASSERT(same_span(&f, r->record_id, &g, q->record_id) && same_span(&f, r->lang, &g, q->lang));
        if (r->status != WET_OK) continue;
        FZ_ASSERT(same_span(&f, r->title, &g, q->title) && same_span(&f, r->content, &g, q->content));
        size_t chars, bad;
        FZ_ASSERT(lmc_utf8_validate(wet_at(&f, r->content), r->content.len, &chars, &bad) && chars == r->chars);
        FZ_ASSERT(!memchr(wet_at(&f, r->content), '\r', r->content.len));
        FZ_ASSERT(lmc_utf8_validate(wet_at(&f, r->title), r->title.len, &chars, &bad));
        uint64_t h = lmc_corpus_line_hash(wet_at(&f, r->title), r->title.len);
        (void)h;
    }
    FZ_ASSERT(f.length_mismatches <= f.n);
    wet_file_free(&f), wet_file_free(&g);
    return 0;
}
