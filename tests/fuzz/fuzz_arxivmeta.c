/* fuzz_arxivmeta.c — the arXiv metadata snapshot reader of `lmc corpus arxiv` (src/corpus/arxiv.c) on the raw
 * input as JSON Lines, for the categories math and cs. Invariants: the records kept for math and for cs are
 * disjoint shares of the parsed ones (a record has one primary category), and nothing reads past the input. */
#include "fuzz_common.h"
#include "corpus/corpus.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t math, bad, cs, bad2, lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    corpus_arxiv_meta_scan((const char *)data, size, "math", &math, &bad);
    corpus_arxiv_meta_scan((const char *)data, size, "cs", &cs, &bad2);
    FZ_ASSERT(bad == bad2 && math + cs + bad <= lines);
    return 0;
}
