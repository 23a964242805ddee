/* http.c — lmc_serve (include/lmc_serve.h): the HTTP glue around the engine, on libmicrohttpd. Sections: the
 * server; answers (JSON bodies, OpenAI-style errors); routes; the request life cycle (body in bounded pieces,
 * answer, access log); start, run, stop.
 *
 * libmicrohttpd owns the sockets and the HTTP parsing; it runs `parallel` worker threads (a thread pool with
 * epoll/poll), each calling on_request for its connections. The body is collected up to max_body bytes; past
 * that the rest is read and dropped (so the client gets its 400 instead of a reset). Requests in flight are
 * counted (on_request's first call to the completion notice), so that a stop can wait for them. */
#include "lmc_serve.h"
#include "common/threads.h"
#include "common/util.h"
#include "serve/engine.h"
#include "serve/request.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the server -------------------------------------------------------------------------------- */

struct lmc_serve {
    lmc_serve_opts  o;          /* as given, defaults filled */
    char            host[64];
    char           *name;       /* model id */
    int             port;       /* bound */
    serve_engine    e;
    serve_limits    lim;
    struct MHD_Daemon *d;
    atomic_int      in_flight;  /* requests begun and not yet completed */
    atomic_int      accepting;  /* 0 before lmc_serve_run and while stopping: every request gets 503 */
};

/* One request's state across on_request calls (libmicrohttpd's per-request pointer). */
typedef struct serve_req {
    lmc_buf body;      /* up to max_body bytes */
    int     too_big;   /* more came: dropped */
    double  t0;
} serve_req;

/* ---- answers ----------------------------------------------------------------------------------- */

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, cJSON *j) {
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* {"error": {"message", "type", "param", "code"}}, as OpenAI's API answers a bad request. */
static cJSON *error_json(unsigned status, const char *msg, const char *param) {
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", status == 400 ? "invalid_request_error" : status == 404 ? "not_found_error"
                                                     : status == 503 ? "unavailable_error" : "server_error");
    if (param && param[0]) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
    return o;
}

/* What the access log says about an answer beyond its status. */
typedef struct answer_note {
    unsigned    status;
    serve_usage use;
} answer_note;

static enum MHD_Result send_error(struct MHD_Connection *c, answer_note *note, unsigned status, const char *msg,
                                  const char *param) {
    note->status = status;
    return send_json(c, status, error_json(status, msg, param));
}

/* ---- routes ------------------------------------------------------------------------------------ */

static cJSON *tokenizer_info(const lmc_serve *s) {
    cJSON *o = cJSON_CreateObject();
    if (s->e.eos_text) cJSON_AddStringToObject(o, "eos_token", s->e.eos_text);
    else cJSON_AddNullToObject(o, "eos_token");
    if (s->e.bos_text) cJSON_AddStringToObject(o, "bos_token", s->e.bos_text);
    else cJSON_AddNullToObject(o, "bos_token");
    cJSON_AddNullToObject(o, "pad_token");
    cJSON_AddNumberToObject(o, "model_max_length", s->e.ctx);
    cJSON_AddStringToObject(o, "tokenizer_class", "lmc");
    if (s->e.chat_template) cJSON_AddStringToObject(o, "chat_template", s->e.chat_template);
    return o;
}

static cJSON *models_list(const lmc_serve *s) {
    cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data"), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON_AddStringToObject(m, "id", s->name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddStringToObject(m, "owned_by", "lmc");
    cJSON_AddNumberToObject(m, "max_model_len", s->e.ctx);
    cJSON_AddItemToArray(data, m);
    return o;
}

static enum MHD_Result post_completions(lmc_serve *s, struct MHD_Connection *c, const lmc_buf *b, answer_note *note) {
    serve_completion req;
    serve_refusal why = {{0}, {{0}}};
    if (serve_parse_completion(b->p, b->len, &s->lim, &req, &why))
        return send_error(c, note, 400, why.err.msg, why.param);
    cJSON *out;
    int status = 500;
    int rc = serve_complete(&s->e, &req, s->name, &out, &note->use, &why, &status);
    serve_completion_free(&req);
    if (rc) return send_error(c, note, (unsigned)status, why.err.msg, why.param);
    note->status = 200;
    return send_json(c, 200, out);
}

static enum MHD_Result post_tokenize(lmc_serve *s, struct MHD_Connection *c, const lmc_buf *b, answer_note *note) {
    serve_refusal why = {{0}, {{0}}};
    char *text;
    size_t len;
    int add_special;
    cJSON *out = NULL;
    int rc = serve_parse_tokenize(b->p, b->len, &text, &len, &add_special, &why);
    if (rc == 0) rc = serve_tokenize_answer(&s->e, text, len, add_special, &out, &why);
    free(text);
    if (rc) return send_error(c, note, 400, why.err.msg, why.param);
    note->status = 200;
    return send_json(c, 200, out);
}

static enum MHD_Result post_detokenize(lmc_serve *s, struct MHD_Connection *c, const lmc_buf *b, answer_note *note) {
    serve_refusal why = {{0}, {{0}}};
    int32_t *ids;
    size_t n;
    if (serve_parse_detokenize(b->p, b->len, &s->lim, &ids, &n, &why))
        return send_error(c, note, 400, why.err.msg, why.param);
    cJSON *out = serve_detokenize_answer(&s->e, ids, n);
    free(ids);
    note->status = 200;
    return send_json(c, 200, out);
}

/* The route table: GET answers need no body; POST handlers read the JSON body. */
static enum MHD_Result route(lmc_serve *s, struct MHD_Connection *c, const char *method, const char *url,
                             const lmc_buf *body, answer_note *note) {
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    note->status = 200;
    if (get && !strcmp(url, "/health")) return send_json(c, 200, cJSON_Parse("{\"status\":\"ok\"}"));
    if (get && !strcmp(url, "/v1/models")) return send_json(c, 200, models_list(s));
    if (get && !strcmp(url, "/tokenizer_info")) return send_json(c, 200, tokenizer_info(s));
    if (post && !strcmp(url, "/v1/completions")) return post_completions(s, c, body, note);
    if (post && !strcmp(url, "/tokenize")) return post_tokenize(s, c, body, note);
    if (post && !strcmp(url, "/detokenize")) return post_detokenize(s, c, body, note);
    static const char *const known[] = {"/health", "/v1/models", "/tokenizer_info", "/v1/completions", "/tokenize",
                                        "/detokenize", NULL};
    for (int i = 0; known[i]; i++)
        if (!strcmp(url, known[i])) return send_error(c, note, 405, "method not allowed on this path", NULL);
    char msg[300];
    snprintf(msg, sizeof msg, "no such path: %.200s", url);
    return send_error(c, note, 404, msg, NULL);
}

/* ---- the request life cycle -------------------------------------------------------------------- */

/* One access-log line: client, request, status, prompts and tokens, seconds. */
static void access_log(lmc_serve *s, struct MHD_Connection *c, const char *method, const char *url,
                       const answer_note *note, double t0) {
    if (!s->o.log) return;
    char who[64] = "?";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, who, sizeof who);
    char line[512];
    int n = snprintf(line, sizeof line, "%s \"%s %.200s\" %u %.3f s", who, method, url, note->status, lmc_now() - t0);
    if (note->use.prompts && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " %zu prompts %zu tokens %zu generated", note->use.prompts,
                 note->use.prompt_tokens, note->use.completion_tokens);
    s->o.log(line, s->o.log_user);
}

/* Appends an upload piece, or drops it once the body is over the limit. */
static void take_piece(const lmc_serve *s, serve_req *r, const char *data, size_t n) {
    if (r->too_big || r->body.len + n > s->o.max_body) { r->too_big = 1; return; }
    lmc_buf_append(&r->body, data, n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state) {
    lmc_serve *s = cls;
    serve_req *r = *state;
    if (!r) { /* first call: headers only */
        r = lmc_xcalloc(1, sizeof *r);
        r->t0 = lmc_now();
        *state = r;
        atomic_fetch_add(&s->in_flight, 1);
        return MHD_YES;
    }
    if (*upload_size) {
        take_piece(s, r, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    answer_note note = {0};
    enum MHD_Result ok;
    char msg[128];
    if (!atomic_load(&s->accepting)) {
        ok = send_error(c, &note, 503, "the server is stopping", NULL);
    } else if (r->too_big) {
        snprintf(msg, sizeof msg, "the request body is over the limit of %zu bytes (lmc serve --max-body)", s->o.max_body);
        ok = send_error(c, &note, 400, msg, NULL);
    } else {
        ok = route(s, c, method, url, &r->body, &note);
    }
    access_log(s, c, method, url, &note, r->t0);
    return ok;
}

/* libmicrohttpd's notice that a request is over (answered, or its connection gone): frees its state. */
static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why) {
    lmc_serve *s = cls;
    serve_req *r = *state;
    if (!r) return;
    lmc_buf_free(&r->body);
    free(r);
    *state = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

/* ---- start, run, stop -------------------------------------------------------------------------- */

static void fill_defaults(lmc_serve *s, const lmc_serve_opts *opts) {
    s->o = *opts;
    snprintf(s->host, sizeof s->host, "%s", opts->host ? opts->host : "127.0.0.1");
    if (!s->o.max_body) s->o.max_body = 8u << 20;
    if (!s->o.max_batch_tokens) s->o.max_batch_tokens = 256u << 10;
    if (s->o.timeout_s <= 0) s->o.timeout_s = 120;
    if (s->o.parallel <= 0) s->o.parallel = 1;
    s->name = lmc_xstrdup(opts->name ? opts->name : opts->model);
}

/* Binds host:port and starts the worker threads. */
static int start_daemon(lmc_serve *s, lmc_err *err) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->o.port)};
    if (inet_pton(AF_INET, s->host, &addr.sin_addr) != 1)
        return lmc_fail(err, "--host '%s' is not a numeric IPv4 address (e.g. 127.0.0.1)", s->host);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC;
    s->d = MHD_start_daemon(flags, (uint16_t)s->o.port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.parallel,
                            MHD_OPTION_CONNECTION_LIMIT, 256u, /* lm-eval keeps num_concurrent connections open */
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout_s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->d) return lmc_fail(err, "cannot listen on %s:%d (in use, or not an address of this host)", s->host, s->o.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->o.port;
    return 0;
}

int lmc_serve_open(const lmc_serve_opts *opts, lmc_serve **out, lmc_err *err) {
    lmc_serve *s = lmc_xcalloc(1, sizeof *s);
    fill_defaults(s, opts);
    lmc_model_opts mo = {.compute = opts->compute, .threads = lmc_threads_init(opts->threads),
                         .memory_limit = opts->memory_limit};
    int rc = serve_engine_open(&s->e, opts->model, opts->tokenizer, &mo, opts->ctx, err);
    s->lim = (serve_limits){.vocab = s->e.vocab, .ctx = s->e.ctx, .max_prompts = 4096,
                            .max_ids = s->o.max_batch_tokens};
    if (rc == 0) rc = start_daemon(s, err);
    if (rc) { lmc_serve_close(s); return -1; }
    *out = s;
    return 0;
}

void lmc_serve_describe(const lmc_serve *s, lmc_serve_info *out) {
    *out = (lmc_serve_info){.host = s->host, .port = s->port, .ctx = s->e.ctx, .vocab = s->e.vocab, .name = s->name,
                            .bos_token = s->e.bos_text, .eos_token = s->e.eos_text, .bos_id = s->e.bos_text ? s->e.bos_id : -1,
                            .eos_id = s->e.eos_id, .loopback = !strncmp(s->host, "127.", 4)};
}

int lmc_serve_run(lmc_serve *s, volatile sig_atomic_t *stop, lmc_err *err) {
    atomic_store(&s->accepting, 1);
    while (!*stop) usleep(50 * 1000);
    /* stop taking connections, then let the requests in flight finish (bounded by the time-out) */
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    double until = lmc_now() + s->o.timeout_s;
    while (atomic_load(&s->in_flight) > 0 && lmc_now() < until) usleep(20 * 1000);
    atomic_store(&s->accepting, 0);
    return 0;
}

void lmc_serve_close(lmc_serve *s) {
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d);
    if (s->e.m || s->e.tok) serve_engine_close(&s->e);
    free(s->name);
    free(s);
}
