/* engine.c — see engine.h. Sections: opening; token text; scoring a prompt (prefill rows); generating
 * (KV cache); the completion answer; the tokenizer answers. */
#include "serve/engine.h"
#include "common/threads.h"
#include "common/util.h"
#include "kernels.h"
#include "model/model.h"
#include "model/sample.h"
#include "tokenizer/internal.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- opening ----------------------------------------------------------------------------------- */

/* The model's EOS id: config.json's eos_token_id (a number or the first of a list), -1 when it has none. */
static int config_eos(const lmc_model *m) {
    const cJSON *v = m->config ? cJSON_GetObjectItemCaseSensitive(m->config, "eos_token_id") : NULL;
    if (cJSON_IsArray(v)) v = v->child;
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int)v->valuedouble : -1;
}

/* A special token's own string ("</s>"), malloc'ed; NULL for an id that is not one. */
static char *special_text(serve_engine *e, int id) {
    if (id < 0 || !lmc_token_special(e->tok, id)) return NULL;
    const lmc_tokenizer *t = e->tok;
    char *s = lmc_xmalloc(t->dec_len[id] + 1);
    memcpy(s, t->dec_strs.p + t->dec_off[id], t->dec_len[id]);
    s[t->dec_len[id]] = 0;
    return s;
}

/* tokenizer_config.json's "chat_template" (a string) in the tokenizer's directory, malloc'ed; NULL when there is
 * none (a GGUF file, a converted model, no such key: /tokenizer_info then has no chat_template). */
static char *chat_template(const char *dir) {
    char path[4096], *text;
    size_t len;
    lmc_err ignored;
    if (!lmc_is_dir(dir) || lmc_read_file(lmc_path_join(path, sizeof path, dir, "tokenizer_config.json"), &text, &len,
                                          &ignored))
        return NULL;
    cJSON *cfg = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *t = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "chat_template") : NULL;
    char *out = cJSON_IsString(t) ? lmc_xstrdup(t->valuestring) : NULL;
    cJSON_Delete(cfg);
    return out;
}

int serve_engine_open(serve_engine *e, const char *model_path, const char *tokenizer_path, const lmc_model_opts *mo,
                      int ctx, lmc_err *err) {
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    e->threads = mo->threads;
    if (lmc_model_open(model_path, mo, &e->m, err)) return -1;
    if (lmc_tokenizer_open(tokenizer_path ? tokenizer_path : model_path, &e->tok, err)) return -1;
    int tv = lmc_tokenizer_vocab_size(e->tok);
    e->vocab = e->m->info.vocab < tv ? e->m->info.vocab : tv;
    int limit = e->m->info.max_window;
    e->ctx = ctx > 0 ? ctx : limit > 0 ? limit : 2048;
    if (limit > 0 && e->ctx > limit)
        return lmc_fail(err, "--ctx %d is longer than %s allows (%d)", e->ctx, e->m->info.max_window_why, limit);
    e->has_kv = lmc_kv_bytes_per_token(e->m) > 0;
    e->bos_id = lmc_tokenizer_bos(e->tok);
    e->eos_id = config_eos(e->m);
    e->bos_text = special_text(e, e->bos_id);
    e->eos_text = special_text(e, e->eos_id);
    if (!e->eos_text) e->eos_id = -1;
    e->chat_template = chat_template(tokenizer_path ? tokenizer_path : model_path);
    return 0;
}

void serve_engine_close(serve_engine *e) {
    for (int i = 0; e->names && i < e->vocab; i++) free(e->names[i]);
    free(e->names);
    free(e->text_len);
    free(e->bos_text);
    free(e->eos_text);
    free(e->chat_template);
    lmc_tokenizer_free(e->tok);
    lmc_model_close(e->m);
    pthread_mutex_destroy(&e->lock);
    memset(e, 0, sizeof *e);
}

/* ---- token text -------------------------------------------------------------------------------- */

void serve_token_text(serve_engine *e, int32_t id, lmc_buf *out) {
    char piece[256];
    long n = lmc_token_bytes(e->tok, id, piece, sizeof piece);
    if (n == 0 && lmc_token_special(e->tok, id)) {
        lmc_buf_append(out, e->tok->dec_strs.p + e->tok->dec_off[id], e->tok->dec_len[id]);
    } else if (n > (long)sizeof piece) {
        char *big = lmc_xmalloc((size_t)n);
        lmc_token_bytes(e->tok, id, big, (size_t)n);
        lmc_buf_append(out, big, (size_t)n);
        free(big);
    } else if (n > 0) {
        lmc_buf_append(out, piece, (size_t)n);
    }
}

/* A JSON string for bytes that may not be UTF-8 (a token that ends inside a character): invalid bytes become
 * U+FFFD, as Python's bytes.decode("utf-8", "replace") does. */
static cJSON *utf8_string(const char *s, size_t n) {
    lmc_buf b = {0};
    size_t bad;
    while (!lmc_utf8_validate(s, n, NULL, &bad)) {
        lmc_buf_append(&b, s, bad);
        lmc_buf_append(&b, "\xEF\xBF\xBD", 3);
        s += bad + 1;
        n -= bad + 1;
    }
    lmc_buf_append(&b, s, n);
    lmc_buf_append(&b, "", 1);
    cJSON *j = cJSON_CreateString(b.p);
    lmc_buf_free(&b);
    return j;
}

/* A token's name in "tokens" and as a top_logprobs key: its text when that is UTF-8, else OpenAI's
 * "bytes:\xNN..." spelling of its bytes. Made once per id (an answer names each scored token about three times)
 * and kept in the engine, with the length of the token's text in *text_len (its bytes in the choice's text). */
static const char *token_name(serve_engine *e, int32_t id, size_t *text_len) {
    if (!e->names) {
        e->names = lmc_xcalloc((size_t)e->vocab, sizeof *e->names);
        e->text_len = lmc_xcalloc((size_t)e->vocab, sizeof *e->text_len);
    }
    if (!e->names[id]) {
        lmc_buf raw = {0}, name = {0};
        serve_token_text(e, id, &raw);
        if (lmc_utf8_validate(raw.p ? raw.p : "", raw.len, NULL, NULL) && !memchr(raw.p ? raw.p : "", 0, raw.len)) {
            lmc_buf_append(&name, raw.p ? raw.p : "", raw.len);
        } else {
            lmc_buf_printf(&name, "bytes:");
            for (size_t i = 0; i < raw.len; i++) lmc_buf_printf(&name, "\\x%02x", (unsigned char)raw.p[i]);
        }
        lmc_buf_append(&name, "", 1);
        e->names[id] = name.p;
        e->text_len[id] = (int32_t)raw.len;
        lmc_buf_free(&raw);
    }
    if (text_len) *text_len = (size_t)e->text_len[id];
    return e->names[id];
}

/* ---- one scored position ----------------------------------------------------------------------- */

/* A token of a choice: its id, its log-prob under the row before it and that row's best alternatives. */
typedef struct serve_entry {
    int32_t id;
    int     has_lp;                      /* 0: the first prompt token (nothing before it) */
    double  lp;
    int     n_top;
    int32_t top_id[SERVE_MAX_LOGPROBS];  /* most likely first */
    double  top_lp[SERVE_MAX_LOGPROBS];
} serve_entry;

/* Fills entry from one row of logits (vocab floats): the log-prob of entry->id and the k best, each computed as
 * logit − logsumexp in double, so that the best's value is bit-identical to the token's own when it is the best. */
static void entry_from_row(const float *row, int vocab, int k, serve_entry *en) {
    double lse = logsumexp_f32(row, vocab);
    en->has_lp = 1;
    en->lp = (double)row[en->id] - lse;
    en->n_top = 0;
    for (int j = 0; j < k; j++) { /* k ≤ 20 passes: the best not yet taken, lowest id on ties */
        int best = -1;
        for (int v = 0; v < vocab; v++) {
            int taken = 0;
            for (int q = 0; q < j && !taken; q++) taken = en->top_id[q] == v;
            if (!taken && (best < 0 || row[v] > row[best])) best = v;
        }
        if (best < 0) break;
        en->top_id[j] = best;
        en->top_lp[j] = (double)row[best] - lse;
        en->n_top++;
    }
}

/* ---- scoring a prompt -------------------------------------------------------------------------- */

/* The prompt ids[0..n) in one forward: entries[r+1] gets the log-prob of ids[r+1] under row r for r ≥ from (the
 * earlier rows are not computed past the hidden state), and *last (vocab floats, malloc'ed) the last row's
 * logits, which choose the first generated token. */
static int score_prompt(serve_engine *e, const int32_t *ids, int n, int from, int k, serve_entry *entries,
                        float **last, lmc_err *err) {
    const lmc_linear *head = e->m->info.lm_head;
    int dim = e->m->info.dim, V = e->m->info.vocab;
    float *hidden = malloc(sizeof(float) * (size_t)n * dim);
    int block = (int)((16u << 20) / (sizeof(float) * (size_t)V)); /* ~16 MiB of logits, as lmc_score_rows */
    if (block < 8) block = 8;
    float *logits = malloc(sizeof(float) * (size_t)block * V);
    int rc = !hidden || !logits ? lmc_fail(err, "out of memory for a %d-token prompt", n) : 0;
    if (rc == 0) rc = lmc_model_hidden(e->m, ids, n, hidden, err);
    for (int r0 = from; rc == 0 && r0 < n; r0 += block) {
        int rows = n - r0 < block ? n - r0 : block;
        lmc_linear_apply(head, hidden + (size_t)r0 * dim, logits, rows);
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < rows - (r0 + rows == n); i++)
            entry_from_row(logits + (size_t)i * V, e->vocab, k, &entries[r0 + i + 1]);
        if (r0 + rows == n) {
            *last = lmc_xmalloc(sizeof(float) * (size_t)V);
            memcpy(*last, logits + (size_t)(rows - 1) * V, sizeof(float) * (size_t)V);
        }
    }
    free(hidden);
    free(logits);
    return rc;
}

/* ---- generating -------------------------------------------------------------------------------- */

/* What a choice holds while it is built. */
typedef struct serve_choice {
    serve_entry *entries;  /* (n_prompt + max_tokens) */
    int          n_prompt, n_gen;
    const char  *finish;   /* "length" or "stop" */
    lmc_buf      gen_text; /* the generated text so far (cut at a stop string) */
} serve_choice;

/* 1 when a stop string now occurs in the generated text: the text is cut where it starts. */
static int hit_stop(const serve_completion *req, lmc_buf *text) {
    for (int i = 0; i < req->n_stop; i++) {
        const char *at = memmem(text->p ? text->p : "", text->len, req->stop[i], strlen(req->stop[i]));
        if (at) { text->len = (size_t)(at - text->p); return 1; }
    }
    return 0;
}

/* Appends one sampled token from logits; returns 1 when generation ends here (a stop string, a special token). */
static int take_token(serve_engine *e, const serve_completion *req, lmc_sampler *smp, const float *logits,
                      serve_choice *c) {
    serve_entry *en = &c->entries[c->n_prompt + c->n_gen++];
    en->id = lmc_sample(smp, logits, e->vocab);
    entry_from_row(logits, e->vocab, req->logprobs > 0 ? req->logprobs : 0, en);
    if (lmc_token_special(e->tok, en->id)) { c->finish = "stop"; return 1; }
    serve_token_text(e, en->id, &c->gen_text);
    if (hit_stop(req, &c->gen_text)) { c->finish = "stop"; return 1; }
    return 0;
}

/* max_tokens tokens after the prompt; the first from *first (the prefill's last row) when there is one and
 * only one token is asked for, else everything from a KV cache filled with the prompt. */
static int generate(serve_engine *e, const serve_completion *req, const int32_t *ids, const float *first,
                    serve_choice *c, lmc_err *err) {
    lmc_sampler smp = {.temperature = (float)req->temperature, .top_p = (float)req->top_p, .rng = req->seed};
    c->finish = "length";
    int rc = 0;
    if (req->max_tokens == 1 && first) {
        take_token(e, req, &smp, first, c);
    } else if (req->max_tokens > 0) {
        lmc_kv *kv = NULL;
        float *logits = malloc(sizeof(float) * (size_t)e->m->info.vocab);
        rc = logits ? lmc_kv_open(e->m, c->n_prompt + (int)req->max_tokens, &kv, err)
                    : lmc_fail(err, "out of memory for logits");
        if (rc == 0) rc = lmc_model_step(e->m, kv, ids, c->n_prompt, logits, err);
        while (rc == 0 && !take_token(e, req, &smp, logits, c) && c->n_gen < req->max_tokens)
            rc = lmc_model_step(e->m, kv, &c->entries[c->n_prompt + c->n_gen - 1].id, 1, logits, err);
        lmc_kv_free(kv);
        free(logits);
    }
    lmc_sampler_free(&smp);
    return rc;
}

/* ---- the completion answer --------------------------------------------------------------------- */

/* The "logprobs" object of a choice: entries from..end, text offsets in bytes of the choice's text. */
static cJSON *logprobs_json(serve_engine *e, const serve_choice *c, int from, int k) {
    cJSON *lp = cJSON_CreateObject(), *toks = cJSON_AddArrayToObject(lp, "tokens");
    cJSON *vals = cJSON_AddArrayToObject(lp, "token_logprobs"), *tops = cJSON_AddArrayToObject(lp, "top_logprobs");
    cJSON *offs = cJSON_AddArrayToObject(lp, "text_offset");
    size_t offset = 0, len;
    for (int i = from; i < c->n_prompt + c->n_gen; i++) {
        const serve_entry *en = &c->entries[i];
        const char *own = token_name(e, en->id, &len);
        cJSON_AddItemToArray(toks, cJSON_CreateString(own));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        offset += len;
        cJSON_AddItemToArray(vals, en->has_lp ? cJSON_CreateNumber(en->lp) : cJSON_CreateNull());
        if (!en->has_lp) { cJSON_AddItemToArray(tops, cJSON_CreateNull()); continue; }
        cJSON *top = cJSON_CreateObject();
        for (int j = 0; j < en->n_top && j < k; j++) {
            const char *key = token_name(e, en->top_id[j], NULL);
            if (!cJSON_GetObjectItemCaseSensitive(top, key)) cJSON_AddNumberToObject(top, key, en->top_lp[j]);
        }
        /* the chosen token is always listed (OpenAI, vLLM) */
        if (!cJSON_GetObjectItemCaseSensitive(top, own)) cJSON_AddNumberToObject(top, own, en->lp);
        cJSON_AddItemToArray(tops, top);
    }
    return lp;
}

static cJSON *choice_json(serve_engine *e, const serve_completion *req, const serve_choice *c, size_t index) {
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", (double)index);
    lmc_buf text = {0};
    for (int i = 0; req->echo && i < c->n_prompt; i++) serve_token_text(e, c->entries[i].id, &text);
    lmc_buf_append(&text, c->gen_text.p ? c->gen_text.p : "", c->gen_text.len);
    cJSON_AddItemToObject(ch, "text", utf8_string(text.p ? text.p : "", text.len));
    lmc_buf_free(&text);
    if (req->logprobs >= 0) cJSON_AddItemToObject(ch, "logprobs", logprobs_json(e, c, req->echo ? 0 : c->n_prompt,
                                                                                 req->logprobs));
    else cJSON_AddNullToObject(ch, "logprobs");
    cJSON_AddStringToObject(ch, "finish_reason", c->finish);
    return ch;
}

/* The prompt's ids: given, or its text tokenized with BOS as `lmc eval` adds it (SPEC §2). *owned: to free. */
static int prompt_ids(serve_engine *e, const serve_prompt *p, const int32_t **ids, size_t *n, int32_t **owned,
                      serve_refusal *why) {
    *owned = NULL;
    if (!p->text) { *ids = p->ids; *n = p->n_ids; return 0; }
    if (lmc_tokenize(e->tok, p->text, p->len, 1, owned, n, &why->err)) {
        snprintf(why->param, sizeof why->param, "prompt");
        return -1;
    }
    *ids = *owned;
    if (*n == 0) {
        snprintf(why->param, sizeof why->param, "prompt");
        return lmc_fail(&why->err, "a prompt is empty and the tokenizer adds no BOS: nothing to score or continue");
    }
    return 0;
}

/* One prompt's choice: its ids checked against the context, scored when echoed, continued. 400 or 500 on error. */
static int one_choice(serve_engine *e, const serve_completion *req, const int32_t *ids, size_t n, serve_choice *c,
                      serve_refusal *why, int *status) {
    *status = 400;
    snprintf(why->param, sizeof why->param, "prompt");
    if (n + (size_t)req->max_tokens > (size_t)e->ctx)
        return lmc_fail(&why->err, "a prompt of %zu tokens plus max_tokens %ld is over the context limit of %d tokens "
                        "(lmc serve --ctx)", n, req->max_tokens, e->ctx);
    if (req->max_tokens > 1 && !e->has_kv)
        return lmc_fail(&why->err, "this model's architecture has no incremental decoding: max_tokens must be 0 or 1");
    *status = 500;
    why->param[0] = 0;
    c->n_prompt = (int)n;
    c->entries = lmc_xcalloc(n + (size_t)req->max_tokens, sizeof(serve_entry));
    for (size_t i = 0; i < n; i++) c->entries[i].id = ids[i];
    float *last = NULL;
    int k = req->logprobs > 0 ? req->logprobs : 0, rc = 0;
    if (req->echo || req->max_tokens == 1) /* the prompt's rows only when they are shown */
        rc = score_prompt(e, ids, (int)n, req->echo ? 0 : (int)n - 1, k, c->entries, &last, &why->err);
    if (rc == 0) rc = generate(e, req, ids, last, c, &why->err);
    free(last);
    return rc;
}

/* Every prompt in order, under the engine's lock; the answer in OpenAI's text_completion shape. */
int serve_complete(serve_engine *e, const serve_completion *req, const char *model_name, cJSON **out,
                   serve_usage *use, serve_refusal *why, int *status) {
    cJSON *resp = cJSON_CreateObject(), *choices = cJSON_CreateArray();
    int rc = 0;
    memset(use, 0, sizeof *use);
    pthread_mutex_lock(&e->lock);
    lmc_threads_init(e->threads); /* this worker thread's OpenMP team: --threads, not the default of all cores */
    for (size_t i = 0; rc == 0 && i < req->n_prompts; i++) {
        const int32_t *ids;
        size_t n;
        int32_t *owned;
        serve_choice c = {0};
        *status = 400;
        rc = prompt_ids(e, &req->prompts[i], &ids, &n, &owned, why);
        if (rc == 0) rc = one_choice(e, req, ids, n, &c, why, status);
        if (rc == 0) cJSON_AddItemToArray(choices, choice_json(e, req, &c, i));
        use->prompts++;
        use->prompt_tokens += n;
        use->completion_tokens += (size_t)c.n_gen;
        free(owned);
        free(c.entries);
        lmc_buf_free(&c.gen_text);
    }
    pthread_mutex_unlock(&e->lock);
    if (rc) { cJSON_Delete(resp); cJSON_Delete(choices); return -1; }
    cJSON_AddStringToObject(resp, "id", "cmpl-lmc");
    cJSON_AddStringToObject(resp, "object", "text_completion");
    cJSON_AddNumberToObject(resp, "created", (double)time(NULL));
    cJSON_AddStringToObject(resp, "model", model_name);
    cJSON_AddItemToObject(resp, "choices", choices);
    cJSON *u = cJSON_AddObjectToObject(resp, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)use->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)use->completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(use->prompt_tokens + use->completion_tokens));
    *out = resp;
    return 0;
}

/* ---- the tokenizer answers --------------------------------------------------------------------- */

int serve_tokenize_answer(serve_engine *e, const char *text, size_t len, int add_special, cJSON **out,
                          serve_refusal *why) {
    int32_t *ids = NULL;
    size_t n = 0;
    pthread_mutex_lock(&e->lock);
    int rc = lmc_tokenize(e->tok, text, len, add_special, &ids, &n, &why->err);
    pthread_mutex_unlock(&e->lock);
    if (rc) { snprintf(why->param, sizeof why->param, "prompt"); return -1; }
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "tokens");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
    cJSON_AddNumberToObject(o, "count", (double)n);
    cJSON_AddNumberToObject(o, "max_model_len", e->ctx);
    free(ids);
    *out = o;
    return 0;
}

cJSON *serve_detokenize_answer(serve_engine *e, const int32_t *ids, size_t n) {
    lmc_buf text = {0};
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < n; i++) serve_token_text(e, ids[i], &text);
    pthread_mutex_unlock(&e->lock);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "prompt", utf8_string(text.p ? text.p : "", text.len));
    lmc_buf_free(&text);
    return o;
}
