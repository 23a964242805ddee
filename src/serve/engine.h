/* engine.h — the model side of `lmc serve`: a parsed request (request.h) in, a JSON answer out. Prompt
 * log-probs come from the forward `lmc eval` runs (lmc_model_hidden, then lm_head and a log-softmax per row as
 * lmc_score_rows computes them); generation steps a KV cache (lmc_model_step) and samples (model/sample.h).
 * One request at a time: the model's scratch and the tokenizer's caches are not shared between threads, so
 * every call below takes the engine's lock. */
#ifndef LMC_SERVE_ENGINE_H
#define LMC_SERVE_ENGINE_H

#include "lmc.h"
#include "serve/request.h"

#include <cjson/cJSON.h>
#include <pthread.h>

typedef struct serve_engine {
    lmc_model      *m;
    lmc_tokenizer  *tok;
    int             vocab;     /* ids both the model and the tokenizer have */
    int             ctx;       /* prompt + generated tokens per sequence */
    int             bos_id, eos_id;  /* -1: none */
    char           *bos_text, *eos_text; /* their strings, NULL when none */
    char           *chat_template; /* tokenizer_config.json's, NULL when none */
    int             threads;   /* OpenMP threads per forward, set again in each worker thread (ICVs are per thread) */
    int             has_kv;    /* the architecture has incremental decoding (max_tokens > 1) */
    char          **names;     /* (vocab) each token's name in answers, made on first use (engine.c token_name) */
    int32_t        *text_len;  /* (vocab) bytes of each token's text, valid where names[id] is set */
    pthread_mutex_t lock;
} serve_engine;

/* What one answer took, for the access log. */
typedef struct serve_usage {
    size_t prompts, prompt_tokens, completion_tokens;
} serve_usage;

/* model_path / tokenizer_path (NULL: the model's) opened with mo; ctx 0: the model's window limit, else 2048. */
int  serve_engine_open(serve_engine *e, const char *model_path, const char *tokenizer_path, const lmc_model_opts *mo,
                       int ctx, lmc_err *err);
void serve_engine_close(serve_engine *e);

/* POST /v1/completions: *out is the response object (caller deletes). -1 with *why and *status (400 for the
 * request's fault: a prompt too long, an empty prompt; 500 for the engine's). */
int serve_complete(serve_engine *e, const serve_completion *req, const char *model_name, cJSON **out,
                   serve_usage *use, serve_refusal *why, int *status);

/* POST /tokenize and /detokenize answers. */
int serve_tokenize_answer(serve_engine *e, const char *text, size_t len, int add_special, cJSON **out,
                          serve_refusal *why);
cJSON *serve_detokenize_answer(serve_engine *e, const int32_t *ids, size_t n);

/* Appends token id's text: its bytes, or a special token's own string ("</s>"). */
struct lmc_buf;
void serve_token_text(serve_engine *e, int32_t id, struct lmc_buf *out);

#endif
