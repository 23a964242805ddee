/* generate.c — `lmc generate`: continues a prompt, streaming the text to stdout, with a KV cache; the speed
 * goes to stderr. */
#include "cli/cli.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ----------------------------------------------------------------------------------- */

typedef struct generate_args {
    const char *model, *prompt;
    long        steps, threads, seed;
    double      temperature, top_p;
    int         compute, quiet;
    cli_list    pos;
} generate_args;

#define F(x) offsetof(generate_args, x)
static const cli_opt OPTS[] = {
    CLI_MODEL(F(model), "the model (every architecture lmc eval reads)"),
    {"--prompt", "-p", CLI_STR, "TEXT", 0, 0, F(prompt), "the text to continue"},
    {"--steps", "-n", CLI_INT, "N", 1, 1000000, F(steps),
     "tokens to generate (default 128; a special token such as EOS stops earlier)"},
    {"--temperature", NULL, CLI_REAL, "T", 0, 100, F(temperature), "0: greedy (default 1)"},
    {"--top-p", "--top_p", CLI_REAL, "P", 0, 1, F(top_p), "nucleus sampling, in (0, 1] (default 0.9; 1: none)"},
    {"--seed", "-s", CLI_INT, "S", 0, LONG_MAX, F(seed),
     "the same seed gives the same text (default: from the clock, printed at the end)"},
    CLI_THREADS(F(threads), "threads for all kernels (default 0: all cores)"),
    CLI_DTYPE(F(compute), "compute: f32 (default), bf16 or int8; the KV cache is f32 under each"),
    CLI_QUIET(F(quiet), "no speed line on stderr"),
    {0}};
#undef F

const cli_spec generate_spec = {
    "generate", "continue a prompt with a model (KV cache, sampling)",
    "lmc generate --model MODEL --prompt TEXT [-n N] [--temperature T] [--top-p P] [--seed S]",
    "Prints the prompt, then streams the continuation to stdout; the speed and the seed go to stderr.",
    OPTS, offsetof(generate_args, pos), 0, 0, NULL};

/* ---- the run ----------------------------------------------------------------------------------- */

typedef struct gen_run {
    lmc_model     *m;
    lmc_tokenizer *tok;
    lmc_kv        *kv;
    int32_t       *ids;      /* (n_ids) the prompt's tokens */
    size_t         n_ids;
    float         *logits;   /* (vocab of the model) */
    int            vocab;    /* ids the sampler may pick: those of both model and tokenizer */
    long           made;     /* tokens generated */
    const char    *stop;     /* why it stopped */
    double         t_prompt, t_gen; /* seconds: the prompt's step, the generated tokens */
    lmc_err        err;
} gen_run;

/* Opens the model, tokenizer and a cache for the prompt and the tokens to come; 0, or -1 with r->err. */
static int gen_open(gen_run *r, const generate_args *a) {
    lmc_model_opts mo = {.compute = (lmc_compute)a->compute, .threads = cli_threads(a->threads),
                         .memory_limit = cli_memory_limit()};
    if (lmc_model_open(a->model, &mo, &r->m, &r->err)) return -1;
    if (lmc_tokenizer_open(a->model, &r->tok, &r->err) || lmc_check_tokenizer_fits(r->m, r->tok, NULL, &r->err))
        return -1;
    if (lmc_tokenize(r->tok, a->prompt, strlen(a->prompt), 1, &r->ids, &r->n_ids, &r->err)) {
        lmc_err inner = r->err;
        return lmc_fail(&r->err, "--prompt: %s", inner.msg);
    }
    if (r->n_ids == 0)
        return lmc_fail(&r->err, "--prompt is empty and the tokenizer adds no BOS: nothing to start from");
    if (lmc_kv_open(r->m, (int)(r->n_ids + (size_t)a->steps), &r->kv, &r->err)) return -1;
    lmc_model_desc d;
    lmc_model_describe(r->m, &d);
    r->vocab = d.vocab < lmc_tokenizer_vocab_size(r->tok) ? d.vocab : lmc_tokenizer_vocab_size(r->tok);
    r->logits = lmc_xmalloc(sizeof(float) * (size_t)d.vocab);
    return 0;
}

/* Writes what of pending is whole UTF-8 characters to stdout (all of it when final) and keeps the rest. */
static void flush_text(lmc_buf *pending, int final) {
    size_t ready = final ? pending->len : lmc_utf8_ready(pending->p, pending->len);
    if (!ready) return;
    fwrite(pending->p, 1, ready, stdout);
    fflush(stdout);
    memmove(pending->p, pending->p + ready, pending->len - ready);
    pending->len -= ready;
}

/* The prompt in one step, then one token at a time until -n or a special token, streamed to stdout. */
static int gen_loop(gen_run *r, const generate_args *a, lmc_sampler *smp) {
    fputs(a->prompt, stdout); /* the prompt as given; the model continues it */
    fflush(stdout);
    double t0 = lmc_now();
    int rc = lmc_model_step(r->m, r->kv, r->ids, (int)r->n_ids, r->logits, &r->err);
    double t1 = lmc_now();
    lmc_buf pending = {0};
    r->stop = "-n reached";
    while (rc == 0 && r->made < a->steps) {
        int32_t next = lmc_sample(smp, r->logits, r->vocab);
        r->made++;
        if (lmc_token_special(r->tok, next)) { r->stop = "a special token (end of text)"; break; }
        char piece[512];
        long len = lmc_token_bytes(r->tok, next, piece, sizeof piece);
        if (len > 0) lmc_buf_append(&pending, piece, len < (long)sizeof piece ? (size_t)len : sizeof piece);
        flush_text(&pending, 0);
        if (r->made < a->steps) rc = lmc_model_step(r->m, r->kv, &next, 1, r->logits, &r->err);
    }
    flush_text(&pending, 1);
    fputc('\n', stdout);
    fflush(stdout);
    lmc_buf_free(&pending);
    r->t_prompt = t1 - t0;
    r->t_gen = lmc_now() - t1;
    return rc;
}

static void gen_report(const gen_run *r, const lmc_sampler *smp, uint64_t seed) {
    char how[64];
    if (smp->temperature > 0) snprintf(how, sizeof how, "seed %llu", (unsigned long long)seed);
    else snprintf(how, sizeof how, "greedy");
    fprintf(stderr, "lmc: %ld tokens in %.2f s (%.1f tokens/s, stopped: %s); prompt %zu tokens in %.3f s; %s; "
                    "KV cache %.1f KB per token\n", r->made, r->t_gen, r->made / (r->t_gen > 0 ? r->t_gen : 1e-9),
            r->stop, r->n_ids, r->t_prompt, how, lmc_kv_bytes_per_token(r->m) / 1024.0);
}

static void gen_close(gen_run *r) {
    free(r->logits);
    free(r->ids);
    lmc_kv_free(r->kv);
    lmc_tokenizer_free(r->tok);
    lmc_model_close(r->m);
}

/* ---- lmc generate ------------------------------------------------------------------------------ */

int cmd_generate(int argc, char **argv) {
    generate_args a = {.steps = 128, .seed = -1, .temperature = 1.0, .top_p = 0.9, .compute = LMC_COMPUTE_F32};
    int rc = cli_parse(&generate_spec, argc, argv, &a);
    if (rc == CLI_GO && a.top_p == 0)
        rc = cli_usage(&generate_spec, "--top-p must be more than 0 (1: no nucleus cut), not '0'");
    if (rc == CLI_GO && (!a.model || !a.prompt)) rc = cli_usage(&generate_spec, "generate needs --model and --prompt");
    if (rc != CLI_GO) return rc;
    /* no --seed: one from the clock, printed at the end so the run can be repeated */
    uint64_t seed = a.seed >= 0 ? (uint64_t)a.seed : (uint64_t)(lmc_now() * 1e6) % 1000000007u;
    lmc_sampler smp = {.temperature = (float)a.temperature, .top_p = (float)a.top_p, .rng = seed};
    gen_run r = {0};
    rc = gen_open(&r, &a);
    if (rc == 0) rc = gen_loop(&r, &a, &smp);
    if (rc == 0 && !a.quiet) gen_report(&r, &smp, seed);
    lmc_sampler_free(&smp);
    gen_close(&r);
    return rc ? cli_fail(r.err.msg) : 0;
}
