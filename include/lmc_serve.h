/* lmc_serve.h — public API of `lmc serve`: an OpenAI-compatible HTTP server (libmicrohttpd) that scores and
 * continues prompts with one model, speaking the protocol lm-evaluation-harness's `local-completions` client uses
 * (docs/serve.md): POST /v1/completions (echo + logprobs for every prompt token), the tokenizer endpoints
 * (/tokenizer_info, /tokenize, /detokenize), GET /v1/models and GET /health.
 *
 * Conventions are lmc.h's: 0 / -1 with an lmc_err, nothing printed: the access log and the start-up facts go to
 * callbacks / out-structs that the program prints.
 */
#ifndef LMC_SERVE_H
#define LMC_SERVE_H

#include "lmc.h"

#include <signal.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lmc_serve lmc_serve;

/* One line per answered request (no newline), e.g. `127.0.0.1 "POST /v1/completions" 200 4 prompts 812 tokens
 * 0.153 s`; called from the server's worker threads, one call per request. */
typedef void (*lmc_serve_log_fn)(const char *line, void *user);

typedef struct lmc_serve_opts {
    const char *model;      /* what lmc_model_open reads */
    const char *tokenizer;  /* NULL: the model's own (lmc_tokenizer_open of model) */
    const char *name;       /* the model id /v1/models lists and responses echo; NULL: the model path */
    lmc_compute compute;
    int         threads;    /* 0: all cores */
    size_t      memory_limit; /* lmc_model_opts.memory_limit */
    const char *host;       /* numeric IPv4 address to bind; NULL: "127.0.0.1" */
    int         port;       /* 0: any free port (lmc_serve_port says which) */
    int         ctx;        /* most tokens per sequence (prompt + generated); 0: the model's window limit, else 2048 */
    int         parallel;   /* HTTP worker threads (requests in flight); the model runs one forward at a time */
    size_t      max_body;   /* request body bytes; 0: 8 MiB */
    size_t      max_batch_tokens; /* prompt tokens per request, all prompts together; 0: 256 Ki */
    int         timeout_s;  /* an idle connection is closed after this many seconds; 0: 120 */
    lmc_serve_log_fn log;   /* NULL: no access log */
    void       *log_user;
} lmc_serve_opts;

/* Opens the model and tokenizer and starts listening (refusing requests until lmc_serve_run). */
int lmc_serve_open(const lmc_serve_opts *opts, lmc_serve **out, lmc_err *err);

/* What the server is, for its start-up lines (the strings live as long as the server). */
typedef struct lmc_serve_info {
    const char *host;       /* bound address */
    int         port;       /* bound port */
    int         ctx;        /* the context limit: lm-eval's max_length */
    int         vocab;      /* ids a prompt may hold */
    const char *name;       /* model id */
    const char *bos_token, *eos_token; /* their text, or NULL */
    int         bos_id, eos_id;        /* -1: none */
    int         loopback;   /* 1: bound to a 127.x address (unreachable from other hosts) */
} lmc_serve_info;
void lmc_serve_describe(const lmc_serve *s, lmc_serve_info *out);

/* Answers requests until *stop becomes non-zero (a signal handler sets it), then stops accepting, lets the
 * requests in flight finish (at most timeout_s seconds) and returns 0. */
int lmc_serve_run(lmc_serve *s, volatile sig_atomic_t *stop, lmc_err *err);

void lmc_serve_close(lmc_serve *s);

#ifdef __cplusplus
}
#endif
#endif
