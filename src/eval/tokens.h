/* tokens.h — a corpus as one token stream, the way `lmc eval` and `lmc kld` cut it into windows (SPEC §2). */
#ifndef LMC_TOKENS_H
#define LMC_TOKENS_H

#include "lmc.h"

#include <stddef.h>
#include <stdint.h>

/* Tokenizes every document of c (BOS per document) and concatenates them: *ids (n of them) is the stream;
 * *doc_start (n_docs + 1): document d's tokens are ids[doc_start[d] .. doc_start[d+1]). Both malloc'ed. Fails,
 * naming path and the document, on text the tokenizer refuses. */
int lmc_corpus_tokens(lmc_tokenizer *tok, const lmc_corpus *c, const char *path, int32_t **ids, size_t *n,
                      size_t **doc_start, lmc_err *err);

#endif
