/* test_serve.c — `lmc serve` without HTTP: the request parser (src/serve/request.c) on accepted and refused
 * bodies, and the engine (src/serve/engine.c) on the demo model: echoed log-probs against a log-softmax of
 * lmc_model_logits computed here, the prompt_len + 1 shape lm-eval counts on, the top-1 value printed as the token's
 * own, greedy generation against lmc_model_logits' argmax. */
#include "test.h"
#include "common/util.h"
#include "model/model.h"
#include "serve/engine.h"
#include "serve/request.h"

#include <math.h>
#include <string.h>

static const serve_limits LIM = {.vocab = 4096, .ctx = 64, .max_prompts = 4, .max_ids = 100};

/* Parses body; returns 0 / -1, and on -1 leaves the refusal in *why. */
static int parse(const char *body, serve_completion *c, serve_refusal *why) {
    memset(why, 0, sizeof *why);
    return serve_parse_completion(body, strlen(body), &LIM, c, why);
}

static void test_parse_accepted(void) {
    serve_completion c;
    serve_refusal why;
    REQUIRE(parse("{\"model\":\"m\",\"prompt\":[[0,1,2],[3]],\"temperature\":0,\"max_tokens\":1,\"logprobs\":1,"
                  "\"seed\":1234,\"echo\":true}", &c, &why) == 0, "%s", why.err.msg);
    CHECK(c.n_prompts == 2 && c.prompts[0].n_ids == 3 && c.prompts[1].ids[0] == 3 && !c.prompts[0].text, "id lists");
    CHECK(c.echo == 1 && c.logprobs == 1 && c.max_tokens == 1 && c.temperature == 0 && c.seed == 1234, "options");
    CHECK(!strcmp(c.model, "m"), "model '%s'", c.model);
    serve_completion_free(&c);
    REQUIRE(parse("{\"prompt\":\"hi\",\"stop\":\"\\n\"}", &c, &why) == 0, "%s", why.err.msg);
    CHECK(c.n_prompts == 1 && c.prompts[0].text && !strcmp(c.prompts[0].text, "hi"), "a string prompt");
    CHECK(c.max_tokens == 16 && c.temperature == 1 && c.top_p == 1 && c.logprobs == -1 && !c.echo, "defaults");
    CHECK(c.n_stop == 1 && !strcmp(c.stop[0], "\n"), "a stop string");
    serve_completion_free(&c);
    REQUIRE(parse("{\"prompt\":[5,6],\"logprobs\":null,\"n\":1,\"stream\":false}", &c, &why) == 0, "%s", why.err.msg);
    CHECK(c.n_prompts == 1 && c.prompts[0].n_ids == 2 && c.logprobs == -1, "one id list; null is absent");
    serve_completion_free(&c);
}

static void test_parse_refused(void) {
    static const struct { const char *body, *param, *needle; } cases[] = {
        {"{\"prompt\":[[0,1]", "", "not valid JSON"},
        {"{\"prompt\":\"a\"} {}", "", "more after its JSON value"},
        {"[1]", "", "must be a JSON object"},
        {"{\"prompt\":[[0,4096]]}", "prompt", "token id 4096 is not in the vocabulary"},
        {"{\"prompt\":\"a\",\"max_tokens\":-1}", "max_tokens", "must be an integer in [0, 64]"},
        {"{\"prompt\":\"a\",\"max_tokens\":65}", "max_tokens", "must be an integer in [0, 64]"},
        {"{\"prompt\":\"a\",\"top_p\":0}", "top_p", "more than 0"},
        {"{\"prompt\":\"a\",\"bogus\\n\":1}", "bogus?", "unknown field 'bogus?'"},
        {"{\"prompt\":[[1],[2],[3],[4],[5]]}", "prompt", "more than 4 prompts"},
        {"{\"prompt\":[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,"
         "35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50],[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,"
         "24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51]]}", "prompt",
         "more than 100 token ids"},
        {"{\"prompt\":\"a\",\"stop\":[1]}", "stop", "'stop' must be"},
        {"{\"prompt\":\"a\",\"n\":2}", "n", "'n' must be an integer in [1, 1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        serve_completion c;
        serve_refusal why;
        CHECK(parse(cases[i].body, &c, &why) == -1, "accepted: %s", cases[i].body);
        CHECK(!strcmp(why.param, cases[i].param), "%s: param '%s', not '%s'", cases[i].body, why.param, cases[i].param);
        CHECK(strstr(why.err.msg, cases[i].needle) && !strchr(why.err.msg, '\n'), "%s: '%s'", cases[i].body, why.err.msg);
        CHECK(c.prompts == NULL, "a refusal keeps nothing");
    }
}

/* log p(ids[j] | ids[..j]) for j = 1..n-1 from the full logits, in double (the reference). */
static double ref_logprob(const float *logits, int V, int32_t next) {
    double mx = -INFINITY, s = 0;
    for (int v = 0; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    for (int v = 0; v < V; v++) s += exp((double)logits[v] - mx);
    return (double)logits[next] - mx - log(s);
}

/* The demo model in an engine (f32, one thread); tok: another tokenizer directory or NULL. */
static int open_demo(serve_engine *e, const char *tok, int ctx) {
    lmc_err err = {{0}};
    lmc_model_opts mo = {.compute = LMC_COMPUTE_F32, .threads = 1};
    if (serve_engine_open(e, "demo-model", tok, &mo, ctx, &err) == 0) return 0;
    t_note_fail(__FILE__, __LINE__, "%s", err.msg);
    return -1;
}

/* body parsed into *req and answered: the response, or NULL with *why and *status. */
static cJSON *answer(serve_engine *e, const char *body, serve_completion *req, serve_usage *use, serve_refusal *why,
                     int *status) {
    cJSON *out = NULL;
    if (parse(body, req, why)) return NULL;
    return serve_complete(e, req, "demo", &out, use, why, status) == 0 ? out : NULL;
}

static void test_engine_echo(void) {
    serve_engine e;
    lmc_err err = {{0}};
    REQUIRE(open_demo(&e, NULL, 0) == 0, "engine");
    serve_completion req = {0};
    serve_refusal why;
    serve_usage use;
    int status;
    cJSON *out = answer(&e, "{\"prompt\":[[0,74,339,306,297,4002]],\"max_tokens\":1,\"logprobs\":1,\"echo\":true,"
                            "\"temperature\":0}", &req, &use, &why, &status);
    REQUIRE(out, "%s", why.err.msg);
    const int32_t *ids = req.prompts[0].ids;
    int n = 6, V = e.m->info.vocab;
    float *logits = lmc_xmalloc(sizeof(float) * (size_t)n * V);
    REQUIRE(lmc_model_logits(e.m, ids, n, logits, &err) == 0, "%s", err.msg);
    cJSON *lp = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "choices"), 0), "logprobs");
    cJSON *vals = cJSON_GetObjectItem(lp, "token_logprobs"), *tops = cJSON_GetObjectItem(lp, "top_logprobs");
    CHECK(cJSON_GetArraySize(vals) == n + 1 && cJSON_GetArraySize(tops) == n + 1, "prompt_len + 1 entries");
    CHECK(cJSON_IsNull(cJSON_GetArrayItem(vals, 0)) && cJSON_IsNull(cJSON_GetArrayItem(tops, 0)), "first is null");
    for (int j = 1; j < n; j++) {
        double got = cJSON_GetArrayItem(vals, j)->valuedouble, want = ref_logprob(logits + (size_t)(j - 1) * V, V, ids[j]);
        CHECK(fabs(got - want) <= 1e-5 * fabs(want), "token %d: %.10f, reference %.10f", j, got, want);
    }
    /* the generated token is the argmax of the last row, and its top-1 value prints exactly as its own */
    const float *last = logits + (size_t)(n - 1) * V;
    int best = 0;
    for (int v = 1; v < e.vocab; v++) best = last[v] > last[best] ? v : best;
    cJSON *gen_top = cJSON_GetArrayItem(tops, n), *gen_val = cJSON_GetArrayItem(vals, n);
    CHECK(cJSON_GetArraySize(gen_top) == 1, "one alternative for the greedy token");
    char *a = cJSON_PrintUnformatted(gen_val), *b = cJSON_PrintUnformatted(gen_top->child);
    CHECK(!strcmp(a, b), "top-1 %s printed as the token's own %s", b, a);
    CHECK(fabs(gen_val->valuedouble - ref_logprob(last, V, best)) < 1e-5, "the generated token is the argmax %d", best);
    free(a);
    free(b);
    free(logits);
    cJSON_Delete(out);
    serve_completion_free(&req);
    serve_engine_close(&e);
}

/* max_tokens 6, greedy, through the KV cache: each token is the argmax of lmc_model_logits over the sequence so far
 * (a prefill of the whole sequence: the same model, summed in another order), and the text is their bytes. */
static void test_engine_generate(void) {
    serve_engine e;
    lmc_err err = {{0}};
    REQUIRE(open_demo(&e, NULL, 0) == 0, "engine");
    serve_completion req = {0};
    serve_refusal why;
    serve_usage use;
    int status;
    cJSON *out = answer(&e, "{\"prompt\":[[0,74,339]],\"max_tokens\":6,\"temperature\":0,\"logprobs\":2}", &req, &use,
                        &why, &status);
    REQUIRE(out, "%s", why.err.msg);
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "choices"), 0);
    int32_t seq[16] = {0, 74, 339};
    int n = 3, V = e.m->info.vocab;
    float *logits = lmc_xmalloc(sizeof(float) * 16 * (size_t)V);
    lmc_buf text = {0};
    for (int k = 0; k < (int)use.completion_tokens; k++, n++) {
        REQUIRE(lmc_model_logits(e.m, seq, n, logits, &err) == 0, "%s", err.msg);
        const float *row = logits + (size_t)(n - 1) * V;
        int best = 0;
        for (int v = 1; v < e.vocab; v++) best = row[v] > row[best] ? v : best;
        seq[n] = best;
        serve_token_text(&e, best, &text);
    }
    CHECK(use.completion_tokens == 6 || !strcmp(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "stop"),
          "6 tokens or an EOS");
    lmc_buf_append(&text, "", 1);
    CHECK(!strcmp(cJSON_GetObjectItem(ch, "text")->valuestring, text.p), "text '%s', argmax gives '%s'",
          cJSON_GetObjectItem(ch, "text")->valuestring, text.p);
    cJSON *tops = cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "logprobs"), "top_logprobs");
    CHECK(cJSON_GetArraySize(tops) == (int)use.completion_tokens && cJSON_GetArraySize(cJSON_GetArrayItem(tops, 0)) == 2,
          "no echo: one entry per generated token, two alternatives");
    lmc_buf_free(&text);
    free(logits);
    cJSON_Delete(out);
    serve_completion_free(&req);
    serve_engine_close(&e);
}

/* A tokenizer directory whose tokenizer_config.json has a chat_template: the engine keeps it for /tokenizer_info. */
static void test_engine_chat_template(void) {
    char *tj, *cfg;
    size_t tj_len, cfg_len;
    lmc_err err = {{0}};
    REQUIRE(lmc_read_file("demo-model/tokenizer.json", &tj, &tj_len, &err) == 0, "%s", err.msg);
    REQUIRE(lmc_read_file("demo-model/tokenizer_config.json", &cfg, &cfg_len, &err) == 0, "%s", err.msg);
    cJSON *c = cJSON_ParseWithLength(cfg, cfg_len);
    cJSON_AddStringToObject(c, "chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}");
    char *cfg2 = cJSON_Print(c);
    REQUIRE(lmc_write_file_atomic(t_tmp("tokenizer.json"), tj, tj_len, &err) == 0, "%s", err.msg);
    REQUIRE(lmc_write_file_atomic(t_tmp("tokenizer_config.json"), cfg2, strlen(cfg2), &err) == 0, "%s", err.msg);
    free(tj);
    free(cfg);
    free(cfg2);
    cJSON_Delete(c);
    serve_engine e;
    REQUIRE(open_demo(&e, t_tmp_dir(), 0) == 0, "engine");
    CHECK(e.chat_template && strstr(e.chat_template, "for m in messages"), "chat_template %s", e.chat_template);
    serve_engine_close(&e);
    REQUIRE(open_demo(&e, NULL, 0) == 0, "engine");
    CHECK(e.chat_template == NULL, "the demo model has no chat template");
    serve_engine_close(&e);
}

static void test_engine_limits(void) {
    serve_engine e;
    REQUIRE(open_demo(&e, NULL, 8) == 0, "engine");
    CHECK(e.ctx == 8 && e.bos_id == 0 && e.eos_id == 1 && e.eos_text && !strcmp(e.eos_text, "</s>"), "ctx, BOS, EOS");
    serve_completion req = {0};
    serve_refusal why;
    serve_usage use;
    int status = 0;
    CHECK(!answer(&e, "{\"prompt\":[[0,1,2,3,4,5,6]],\"max_tokens\":2}", &req, &use, &why, &status) && status == 400,
          "too long accepted");
    CHECK(strstr(why.err.msg, "over the context limit of 8 tokens") != NULL, "'%s'", why.err.msg);
    serve_completion_free(&req);
    serve_engine_close(&e);
}

int main(void) {
    RUN(test_parse_accepted);
    RUN(test_parse_refused);
    RUN(test_engine_echo);
    RUN(test_engine_generate);
    RUN(test_engine_chat_template);
    RUN(test_engine_limits);
    t_tmp_cleanup();
    return test_summary();
}
