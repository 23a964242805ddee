/* fuzz_serve.c — `lmc serve`'s request parser (src/serve/request.c) on arbitrary bodies: POST /v1/completions,
 * /tokenize and /detokenize, with small limits so that the limit paths are reached too. Invariants: a refusal is
 * one line and leaves nothing allocated; an accepted completion has 1..max_prompts prompts, each either text
 * (NUL-terminated at its length) or 1.. ids inside the vocabulary, ids within the budget, options in range. */
#include "fuzz_common.h"
#include "serve/request.h"

#include <stdint.h>

static const serve_limits LIM = {.vocab = 300, .ctx = 64, .max_prompts = 8, .max_ids = 256};

static void check_completion(const serve_completion *c) {
    size_t ids = 0;
    FZ_ASSERT(c->n_prompts >= 1 && c->n_prompts <= LIM.max_prompts);
    for (size_t i = 0; i < c->n_prompts; i++) {
        const serve_prompt *p = &c->prompts[i];
        if (p->text) { FZ_ASSERT(!p->ids && p->text[p->len] == 0 && strlen(p->text) == p->len); ids += p->len; continue; }
        FZ_ASSERT(p->ids && p->n_ids >= 1);
        for (size_t k = 0; k < p->n_ids; k++) FZ_ASSERT(p->ids[k] >= 0 && p->ids[k] < LIM.vocab);
        ids += p->n_ids;
    }
    FZ_ASSERT(ids <= LIM.max_ids);
    FZ_ASSERT(c->max_tokens >= 0 && c->max_tokens <= LIM.ctx);
    FZ_ASSERT(c->temperature >= 0 && c->top_p > 0 && c->top_p <= 1);
    FZ_ASSERT(c->logprobs >= -1 && c->logprobs <= SERVE_MAX_LOGPROBS);
    FZ_ASSERT(c->n_stop >= 0 && c->n_stop <= SERVE_MAX_STOP);
    for (int i = 0; i < c->n_stop; i++) FZ_ASSERT(c->stop[i][0] != 0);
}

static void check_refusal(const serve_refusal *why) {
    FZ_ASSERT(why->err.msg[0] && strchr(why->err.msg, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    serve_completion c;
    serve_refusal why = {{0}, {{0}}};
    if (serve_parse_completion(body, size, &LIM, &c, &why) == 0) {
        check_completion(&c);
        serve_completion_free(&c);
    } else {
        check_refusal(&why);
        FZ_ASSERT(c.prompts == NULL && c.n_prompts == 0);
    }
    char *text;
    size_t len;
    int add;
    memset(&why, 0, sizeof why);
    if (serve_parse_tokenize(body, size, &text, &len, &add, &why) == 0) FZ_ASSERT(text && strlen(text) == len);
    else check_refusal(&why);
    free(text);
    int32_t *ids;
    size_t n;
    memset(&why, 0, sizeof why);
    if (serve_parse_detokenize(body, size, &LIM, &ids, &n, &why) == 0) {
        FZ_ASSERT(n <= LIM.max_ids);
        for (size_t k = 0; k < n; k++) FZ_ASSERT(ids[k] >= 0 && ids[k] < LIM.vocab);
    } else {
        check_refusal(&why);
    }
    free(ids);
    return 0;
}
