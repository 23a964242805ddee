/* serve.c — `lmc serve`: an OpenAI-compatible completions server for lm-evaluation-harness (lmc_serve.h,
 * docs/serve.md). Parses its options, opens the server, says where it listens and what lm-eval needs to know,
 * answers until SIGINT / SIGTERM, then lets the requests in flight finish. */
#include "cli/cli.h"
#include "cli/options.h"
#include "lmc.h"
#include "lmc_serve.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- options ----------------------------------------------------------------------------------- */

typedef struct serve_args {
    const char *model, *tokenizer, *host, *name;
    long        port, ctx, threads, parallel, max_body, max_batch_tokens, timeout;
    int         compute, quiet;
    cli_list    pos;
} serve_args;

#define F(x) offsetof(serve_args, x)
static const cli_opt OPTS[] = {
    CLI_MODEL(F(model), "the model (every architecture lmc eval reads)"),
    {"--tokenizer", NULL, CLI_STR, "T", 0, 0, F(tokenizer), "the tokenizer (default: the model's own)"},
    CLI_DTYPE(F(compute), "compute: f32 (default, exact as lmc eval), bf16 or int8"),
    {"--host", NULL, CLI_STR, "ADDR", 0, 0, F(host),
     "numeric IPv4 address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)"},
    {"--port", "-p", CLI_INT, "PORT", 0, 65535, F(port), "TCP port (default 8080; 0: any free port, printed)"},
    {"--ctx", NULL, CLI_INT, "N", 0, 1000000, F(ctx),
     "most tokens per sequence, prompt + generated: lm-eval's max_length (default: the model's window limit, "
     "else 2048)"},
    CLI_THREADS(F(threads), "threads for all kernels (default 0: all cores)"),
    {"--parallel", NULL, CLI_INT, "K", 1, 256, F(parallel),
     "HTTP worker threads: requests in flight (default 4); the model runs one forward at a time"},
    {"--name", NULL, CLI_STR, "ID", 0, 0, F(name), "the model id /v1/models lists (default: the --model path)"},
    {"--max-body", NULL, CLI_INT, "BYTES", 1024, 1L << 30, F(max_body), "largest request body (default 8 MiB)"},
    {"--max-batch-tokens", NULL, CLI_INT, "N", 1, 1L << 26, F(max_batch_tokens),
     "prompt tokens (or prompt bytes) in one request, all prompts together (default 262144)"},
    {"--timeout", NULL, CLI_INT, "S", 1, 86400, F(timeout),
     "seconds an idle connection is kept, and the most a stop waits for requests in flight (default 120)"},
    CLI_QUIET(F(quiet), "no access log (one line per request on stderr)"),
    {0}};
#undef F

const cli_spec serve_spec = {
    "serve", "an OpenAI-compatible completions server for lm-evaluation-harness (prompt log-probs)",
    "lmc serve --model MODEL [--port PORT] [--ctx N] [--host ADDR] [--parallel K] [options]",
    "POST /v1/completions (echo + logprobs for every prompt token, max_tokens >= 0, stop strings), GET "
    "/tokenizer_info, POST /tokenize, POST /detokenize, GET /v1/models, GET /health. Log-probs come from the "
    "forward lmc eval runs. Use it from lm-eval as --model local-completions with "
    "tokenizer_backend=remote and max_length = the printed context (docs/serve.md).\n"
    "SIGINT or SIGTERM stops accepting, lets the requests in flight finish, and exits 0.",
    OPTS, offsetof(serve_args, pos), 0, 0, NULL};

/* ---- signals ----------------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested; /* the one thing a signal handler may touch */

static void on_signal(int sig) { stop_requested = sig; }

static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up is libmicrohttpd's business, not a reason to die */
}

/* ---- the run ----------------------------------------------------------------------------------- */

static void log_line(const char *line, void *user) { fprintf(stderr, "lmc serve: %s\n", line); }

/* Where it listens, and the model arguments lm-eval needs. */
static void say_started(const lmc_serve_info *in) {
    fprintf(stderr, "lmc serve: listening on http://%s:%d (%s)\n", in->host, in->port,
            in->loopback ? "this machine only; --host 0.0.0.0 would open it to the network"
                         : "WARNING: reachable from other hosts; there is no authentication");
    fprintf(stderr, "lmc serve: model %s, context %d tokens, vocabulary %d, BOS %s, EOS %s\n", in->name, in->ctx,
            in->vocab, in->bos_token ? in->bos_token : "(none)", in->eos_token ? in->eos_token : "(none)");
    fprintf(stderr, "lmc serve: lm-eval --model local-completions --model_args "
                    "base_url=http://%s:%d/v1/completions,model=%s,max_length=%d,tokenizer_backend=remote",
            in->host, in->port, in->name, in->ctx);
    if (in->bos_id == 0) fprintf(stderr, ",custom_prefix_token_id=0");
    fprintf(stderr, "\n");
    fflush(stderr);
}

int cmd_serve(int argc, char **argv) {
    serve_args a = {.port = 8080, .parallel = 4, .compute = LMC_COMPUTE_F32};
    int rc = cli_parse(&serve_spec, argc, argv, &a);
    if (rc == CLI_GO && !a.model) rc = cli_usage(&serve_spec, "serve needs --model");
    if (rc != CLI_GO) return rc;
    lmc_serve_opts o = {.model = a.model, .tokenizer = a.tokenizer, .name = a.name, .compute = (lmc_compute)a.compute,
                        .threads = (int)a.threads, .memory_limit = cli_memory_limit(), .host = a.host,
                        .port = (int)a.port, .ctx = (int)a.ctx, .parallel = (int)a.parallel,
                        .max_body = (size_t)a.max_body, .max_batch_tokens = (size_t)a.max_batch_tokens,
                        .timeout_s = (int)a.timeout, .log = a.quiet ? NULL : log_line};
    lmc_err err = {{0}};
    lmc_serve *s;
    catch_stop_signals();
    if (lmc_serve_open(&o, &s, &err)) return cli_fail(err.msg);
    lmc_serve_info info;
    lmc_serve_describe(s, &info);
    say_started(&info);
    rc = lmc_serve_run(s, &stop_requested, &err);
    fprintf(stderr, "lmc serve: %s: stopped\n", stop_requested == SIGTERM ? "SIGTERM" : "SIGINT");
    lmc_serve_close(s);
    return rc ? cli_fail(err.msg) : 0;
}
