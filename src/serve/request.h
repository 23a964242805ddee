/* request.h — the JSON bodies `lmc serve` accepts, parsed and checked before any model work: no HTTP, no model,
 * no tokenizer here (tests/fuzz/fuzz_serve.c drives it alone). Every refusal is one line naming the field, for
 * an OpenAI-style error object (HTTP 400). */
#ifndef LMC_SERVE_REQUEST_H
#define LMC_SERVE_REQUEST_H

#include "lmc.h"

#include <stddef.h>
#include <stdint.h>

/* What a request may ask for: limits from the server's options and the model. */
typedef struct serve_limits {
    int    vocab;        /* ids must be in [0, vocab) */
    int    ctx;          /* prompt tokens + max_tokens per sequence */
    size_t max_prompts;  /* prompts per request */
    size_t max_ids;      /* token ids per request, all prompts together (before tokenizing strings) */
} serve_limits;

/* One prompt: text (to be tokenized, BOS added per SPEC §2) or token ids (used as given). */
typedef struct serve_prompt {
    char    *text;  /* NULL when ids are given; else len bytes, NUL-terminated */
    size_t   len;
    int32_t *ids;   /* (n_ids) when text is NULL */
    size_t   n_ids;
} serve_prompt;

#define SERVE_MAX_STOP 8
#define SERVE_MAX_LOGPROBS 20

typedef struct serve_completion {
    serve_prompt *prompts;       /* (n_prompts) */
    size_t        n_prompts;
    char          model[256];    /* as sent ("" when absent) */
    long          max_tokens;    /* >= 0; default 16 */
    double        temperature;   /* >= 0; 0: greedy (default 1) */
    double        top_p;         /* in (0, 1]; default 1 */
    uint64_t      seed;          /* default 0 */
    int           echo;          /* 1: the prompt's tokens come back with their log-probs */
    int           logprobs;      /* -1: none; else 0..SERVE_MAX_LOGPROBS alternatives per token */
    char         *stop[SERVE_MAX_STOP]; /* (n_stop) non-empty strings that end the generated text */
    int           n_stop;
} serve_completion;

/* Which field a refusal is about ("" when the body as a whole), and why. */
typedef struct serve_refusal {
    char param[64];
    lmc_err err;
} serve_refusal;

/* POST /v1/completions. Unknown fields, wrong types, out-of-range values and ids outside the vocabulary are
 * refused; 0, or -1 with *why (out is then empty). */
int  serve_parse_completion(const char *body, size_t len, const serve_limits *lim, serve_completion *out,
                            serve_refusal *why);
void serve_completion_free(serve_completion *c);

/* POST /tokenize {"prompt": str, "add_special_tokens": bool (default true), "model"}. *text is malloc'ed. */
int serve_parse_tokenize(const char *body, size_t len, char **text, size_t *text_len, int *add_special,
                         serve_refusal *why);

/* POST /detokenize {"tokens": [ids], "model"}. *ids is malloc'ed. */
int serve_parse_detokenize(const char *body, size_t len, const serve_limits *lim, int32_t **ids, size_t *n_ids,
                           serve_refusal *why);

#endif
