/* request.c — see request.h. The body is parsed with cJSON into a tree, then each known field is checked for its
 * type and range; anything else in the object is refused by name, so that a typo is an error, not a default. */
#include "serve/request.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- refusals ---------------------------------------------------------------------------------- */

static int refuse(serve_refusal *why, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(serve_refusal *why, const char *param, const char *fmt, ...) {
    snprintf(why->param, sizeof why->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->err.msg, sizeof why->err.msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* The body as a JSON object, or NULL with *why. */
static cJSON *parse_object(const char *body, size_t len, serve_refusal *why) {
    if (len == 0) { refuse(why, "", "the request body is empty: a JSON object was expected"); return NULL; }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        refuse(why, "", "the request body is not valid JSON (near byte %zu)", at);
        return NULL;
    }
    while (end && end < body + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (end != body + len) {
        cJSON_Delete(root);
        refuse(why, "", "the request body has more after its JSON value (at byte %zu)", (size_t)(end - body));
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        refuse(why, "", "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* name as it may appear in a one-line message: at most 60 bytes, control characters as '?'. */
static void printable(const char *name, char out[64]) {
    size_t n = 0;
    for (; name[n] && n < 60; n++) out[n] = (unsigned char)name[n] < 0x20 || name[n] == 0x7f ? '?' : name[n];
    out[n] = 0;
}

/* 0 when every member of o is named in known (NULL-terminated), else a refusal naming the first that is not. */
static int only_known(const cJSON *o, const char *const *known, serve_refusal *why) {
    for (const cJSON *it = o->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = it->string && !strcmp(it->string, known[i]);
        if (ok) continue;
        char name[64];
        printable(it->string ? it->string : "", name);
        return refuse(why, name, "unknown field '%s'", name);
    }
    return 0;
}

/* ---- typed fields ------------------------------------------------------------------------------ */

/* An optional member: NULL when absent or JSON null. */
static const cJSON *opt(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A whole number in [lo, hi] (JSON has only doubles: 3.0 is accepted, 3.5 is not). */
static int get_int(const cJSON *v, const char *name, double lo, double hi, long *out, serve_refusal *why) {
    if (!cJSON_IsNumber(v)) return refuse(why, name, "'%s' must be an integer", name);
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return refuse(why, name, "'%s' must be an integer in [%.0f, %.0f], not %.17g", name, lo, hi, d);
    *out = (long)d;
    return 0;
}

static int get_real(const cJSON *v, const char *name, double lo, double hi, double *out, serve_refusal *why) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return refuse(why, name, "'%s' must be a number in [%g, %g]", name, lo, hi);
    *out = v->valuedouble;
    return 0;
}

static int get_bool(const cJSON *v, const char *name, int *out, serve_refusal *why) {
    if (!cJSON_IsBool(v)) return refuse(why, name, "'%s' must be true or false", name);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* A JSON array of token ids into *ids (malloc'ed); *budget counts ids left for the whole request. */
static int get_ids(const cJSON *a, const serve_limits *lim, size_t *budget, int32_t **ids, size_t *n,
                   serve_refusal *why) {
    size_t count = (size_t)cJSON_GetArraySize(a);
    if (count == 0) return refuse(why, "prompt", "a prompt of token ids is empty");
    if (count > *budget)
        return refuse(why, "prompt", "the prompts hold more than %zu token ids in all", lim->max_ids);
    *budget -= count;
    int32_t *v = lmc_xmalloc(sizeof(int32_t) * count);
    size_t i = 0;
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (!cJSON_IsNumber(it) || d != floor(d) || d < 0 || d >= lim->vocab) {
            free(v);
            if (!cJSON_IsNumber(it)) return refuse(why, "prompt", "token id %zu of a prompt is not a number", i);
            return refuse(why, "prompt", "token id %.17g is not in the vocabulary (ids 0 to %d)", d, lim->vocab - 1);
        }
        v[i] = (int32_t)d;
    }
    *ids = v;
    *n = count;
    return 0;
}

/* ---- the prompt field -------------------------------------------------------------------------- */

/* One element of a prompt list: a string or a list of ids. */
static int get_prompt(const cJSON *v, const serve_limits *lim, size_t *budget, serve_prompt *p, serve_refusal *why) {
    if (cJSON_IsString(v)) {
        p->len = strlen(v->valuestring);
        if (p->len > *budget) return refuse(why, "prompt", "the prompts hold more than %zu bytes in all", lim->max_ids);
        *budget -= p->len;
        p->text = lmc_xstrdup(v->valuestring);
        return 0;
    }
    if (cJSON_IsArray(v)) return get_ids(v, lim, budget, &p->ids, &p->n_ids, why);
    return refuse(why, "prompt", "each prompt must be a string or a list of token ids");
}

/* "prompt": a string, a list of strings, a list of ids, or a list of id lists. */
static int get_prompts(const cJSON *v, const serve_limits *lim, serve_completion *c, serve_refusal *why) {
    if (!v) return refuse(why, "prompt", "'prompt' is missing");
    size_t budget = lim->max_ids;
    int single = cJSON_IsString(v) || (cJSON_IsArray(v) && v->child && cJSON_IsNumber(v->child));
    if (!single && !cJSON_IsArray(v))
        return refuse(why, "prompt", "'prompt' must be a string, a list of strings, a list of token ids or a list "
                                     "of token-id lists");
    size_t n = single ? 1 : (size_t)cJSON_GetArraySize(v);
    if (n == 0) return refuse(why, "prompt", "'prompt' is an empty list");
    if (n > lim->max_prompts) return refuse(why, "prompt", "more than %zu prompts in one request", lim->max_prompts);
    c->prompts = lmc_xcalloc(n, sizeof(serve_prompt));
    c->n_prompts = n;
    if (single) return get_prompt(v, lim, &budget, &c->prompts[0], why);
    size_t i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++)
        if (get_prompt(it, lim, &budget, &c->prompts[i], why)) return -1;
    return 0;
}

/* "stop": a string or a list of at most SERVE_MAX_STOP non-empty strings. */
static int get_stop(const cJSON *v, serve_completion *c, serve_refusal *why) {
    if (!v) return 0;
    const cJSON *one = cJSON_IsString(v) ? v : NULL;
    if (!one && !cJSON_IsArray(v)) return refuse(why, "stop", "'stop' must be a string or a list of strings");
    if (!one && cJSON_GetArraySize(v) > SERVE_MAX_STOP)
        return refuse(why, "stop", "'stop' holds more than %d strings", SERVE_MAX_STOP);
    for (const cJSON *it = one ? one : v->child; it; it = one ? NULL : it->next) {
        if (!cJSON_IsString(it)) return refuse(why, "stop", "'stop' must be a string or a list of strings");
        if (!it->valuestring[0]) continue; /* an empty stop string would stop before anything: ignored */
        if (strlen(it->valuestring) > 1024) return refuse(why, "stop", "a 'stop' string is over 1024 bytes");
        c->stop[c->n_stop++] = lmc_xstrdup(it->valuestring);
    }
    return 0;
}

/* ---- POST /v1/completions ---------------------------------------------------------------------- */

static const char *const COMPLETION_FIELDS[] = {"model", "prompt", "max_tokens", "temperature", "top_p", "seed",
                                                "stop", "echo", "logprobs", "n", "stream", "user", NULL};

/* The scalar options: numbers in range, flags; n and stream only as their defaults (1, false). */
static int get_options(const cJSON *o, const serve_limits *lim, serve_completion *c, serve_refusal *why) {
    const cJSON *v;
    long l;
    if ((v = opt(o, "model"))) {
        if (!cJSON_IsString(v)) return refuse(why, "model", "'model' must be a string");
        snprintf(c->model, sizeof c->model, "%s", v->valuestring);
    }
    if ((v = opt(o, "max_tokens")) && get_int(v, "max_tokens", 0, lim->ctx, &c->max_tokens, why)) return -1;
    if ((v = opt(o, "temperature")) && get_real(v, "temperature", 0, 100, &c->temperature, why)) return -1;
    if ((v = opt(o, "top_p")) && get_real(v, "top_p", 0, 1, &c->top_p, why)) return -1;
    if (c->top_p <= 0) return refuse(why, "top_p", "'top_p' must be more than 0 (1: no nucleus cut)");
    if ((v = opt(o, "seed"))) {
        if (get_int(v, "seed", -9007199254740992.0, 9007199254740992.0, &l, why)) return -1;
        c->seed = (uint64_t)l;
    }
    if ((v = opt(o, "echo")) && get_bool(v, "echo", &c->echo, why)) return -1;
    if ((v = opt(o, "logprobs"))) {
        if (get_int(v, "logprobs", 0, SERVE_MAX_LOGPROBS, &l, why)) return -1;
        c->logprobs = (int)l;
    }
    if ((v = opt(o, "n")) && (get_int(v, "n", 1, 1, &l, why))) return -1;
    int stream = 0;
    if ((v = opt(o, "stream")) && get_bool(v, "stream", &stream, why)) return -1;
    if (stream) return refuse(why, "stream", "'stream' is not supported: send false or leave it out");
    if ((v = opt(o, "user")) && !cJSON_IsString(v)) return refuse(why, "user", "'user' must be a string");
    return get_stop(opt(o, "stop"), c, why);
}

int serve_parse_completion(const char *body, size_t len, const serve_limits *lim, serve_completion *out,
                           serve_refusal *why) {
    memset(out, 0, sizeof *out);
    out->max_tokens = 16;
    out->temperature = 1;
    out->top_p = 1;
    out->logprobs = -1;
    cJSON *root = parse_object(body, len, why);
    if (!root) return -1;
    int rc = only_known(root, COMPLETION_FIELDS, why);
    if (rc == 0) rc = get_options(root, lim, out, why);
    if (rc == 0) rc = get_prompts(opt(root, "prompt"), lim, out, why);
    cJSON_Delete(root);
    if (rc) serve_completion_free(out);
    return rc;
}

void serve_completion_free(serve_completion *c) {
    for (size_t i = 0; i < c->n_prompts; i++) {
        free(c->prompts[i].text);
        free(c->prompts[i].ids);
    }
    free(c->prompts);
    for (int i = 0; i < c->n_stop; i++) free(c->stop[i]);
    memset(c, 0, sizeof *c);
}

/* ---- POST /tokenize, POST /detokenize ---------------------------------------------------------- */

static const char *const TOKENIZE_FIELDS[] = {"prompt", "add_special_tokens", "model", NULL};
static const char *const DETOKENIZE_FIELDS[] = {"tokens", "model", NULL};

int serve_parse_tokenize(const char *body, size_t len, char **text, size_t *text_len, int *add_special,
                         serve_refusal *why) {
    *text = NULL;
    *add_special = 1;
    cJSON *root = parse_object(body, len, why);
    if (!root) return -1;
    const cJSON *p = opt(root, "prompt"), *a = opt(root, "add_special_tokens"), *m = opt(root, "model");
    int rc = only_known(root, TOKENIZE_FIELDS, why);
    if (rc == 0 && !cJSON_IsString(p)) rc = refuse(why, "prompt", "'prompt' must be a string");
    if (rc == 0 && a) rc = get_bool(a, "add_special_tokens", add_special, why);
    if (rc == 0 && m && !cJSON_IsString(m)) rc = refuse(why, "model", "'model' must be a string");
    if (rc == 0) {
        *text_len = strlen(p->valuestring);
        *text = lmc_xstrdup(p->valuestring);
    }
    cJSON_Delete(root);
    return rc;
}

int serve_parse_detokenize(const char *body, size_t len, const serve_limits *lim, int32_t **ids, size_t *n_ids,
                           serve_refusal *why) {
    *ids = NULL;
    *n_ids = 0;
    cJSON *root = parse_object(body, len, why);
    if (!root) return -1;
    const cJSON *t = opt(root, "tokens"), *m = opt(root, "model");
    size_t budget = lim->max_ids;
    int rc = only_known(root, DETOKENIZE_FIELDS, why);
    if (rc == 0 && m && !cJSON_IsString(m)) rc = refuse(why, "model", "'model' must be a string");
    if (rc == 0 && !cJSON_IsArray(t)) rc = refuse(why, "tokens", "'tokens' must be a list of token ids");
    if (rc == 0 && cJSON_GetArraySize(t) > 0) rc = get_ids(t, lim, &budget, ids, n_ids, why);
    if (rc && why->param[0] == 'p') snprintf(why->param, sizeof why->param, "tokens");
    cJSON_Delete(root);
    return rc;
}
