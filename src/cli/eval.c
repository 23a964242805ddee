/* eval.c — `lmc eval`: the bits per character of a model on one or more corpus files. Parse the options, open
 * the model and tokenizer, evaluate each --data file, print the table and intervals, write the results file.
 * Under mpirun (an MPI build) the ranks share the windows and rank 0 alone prints and writes. */
#include "cli/cli.h"
#include "gemm_i8.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- options ----------------------------------------------------------------------------------- */

typedef struct eval_args {
    const char *model, *tokenizer, *output, *per_window, *per_doc, *checkpoint, *shard, *name;
    cli_list    data, pos;
    long        block_size, stride, file_num, threads, batch, bootstrap;
    int         compute, quiet, verbose, check_weights, skip_bad, format;
} eval_args;

#define F(x) offsetof(eval_args, x)
static const cli_opt OPTS[] = {
    CLI_MODEL(F(model),
              "a HuggingFace checkpoint directory, a .safetensors file written by `lmc convert`, or a GGUF file "
     "(llama.cpp: llama, qwen2, gpt2, gptneox, falcon; F32/F16/BF16/Q8_0/Q4_0/Q4_K/Q6_K)"),
    {"--data", "-d", CLI_LIST, "FILE", 0, 64, F(data),
     ".jsonl / .jsonl.gz with a string field \"content\" per record, or a plain UTF-8 text file; repeat for "
     "several (at most 64)"},
    {"--format", NULL, CLI_CHOICE, "auto|jsonl|text", 0, 0, F(format),
     "how to read each --data file: auto (default): JSON Lines when the name ends in .jsonl/.json/.ndjson (.gz) or "
     "the first non-blank line is a JSON object with a string \"content\", else one plain-text document"},
    {"--tokenizer", NULL, CLI_STR, "TOK", 0, 0, F(tokenizer),
     "the tokenizer from TOK (HF directory, tokenizer.json, converted file) instead of MODEL"},
    CLI_BLOCK_SIZE(F(block_size), 1, "window length in tokens (default 1900)"),
    CLI_STRIDE(F(stride)),
    {"--file-num", "--file_num", CLI_INT, "N", LONG_MIN, LONG_MAX, F(file_num),
     "use only the first N records of each file (default -1: all)"},
    CLI_THREADS(F(threads),
                "threads for all kernels (default 0: all cores; under mpirun the rank's share of the CPUs)"),
    CLI_DTYPE(F(compute), "compute: f32 (exact, default), bf16 x bf16 dot products with f32 accumulation, or int8 (int8 matmuls: a different measurement)"),
    CLI_JSON_OUTPUT(F(output),
                    "also write the results as JSON (atomically: complete or absent; fields in docs/results.md)"),
    {"--name", NULL, CLI_STR, "NAME", 0, 0, F(name),
     "the model's name in the results file and reports (default: the config's _name_or_path, else the path's "
     "last component, or ORG/NAME for a HF cache snapshot)"},
    {"--per-window", NULL, CLI_STR, "OUT.jsonl", 0, 0, F(per_window), "one line per window: k, start, scored, nll"},
    {"--per-doc", NULL, CLI_STR, "OUT.jsonl", 0, 0, F(per_doc),
     "one line per document: index, chars, bytes, tokens, scored_tokens, nll"},
    {"--checkpoint", NULL, CLI_STR, "FILE", 0, 0, F(checkpoint),
     "record each finished window in FILE; rerunning the same command resumes where it stopped, with a "
     "bit-identical result; a FILE made for another model, data or setting is refused. In --checkpoint, "
     "--per-window and --per-doc each {} becomes the data file's name (ck.{} gives ck.cc for cc.jsonl): with "
     "several --data files they need one"},
    {"--check-weights", NULL, CLI_FLAG, "", 0, 0, F(check_weights),
     "scan every weight for NaN/Inf before evaluating (a non-finite NLL always stops the run)"},
    {"--skip-bad-records", NULL, CLI_FLAG, "", 0, 0, F(skip_bad),
     "skip malformed records (counted and reported) instead of failing"},
    {"--shard", NULL, CLI_STR, "I/N", 0, 0, F(shard),
     "evaluate only shard I of N (1 <= I <= N: the windows k with k mod N = I-1) and write a partial result "
     "to --output; `lmc merge` combines the N parts"},
    {"--bootstrap", NULL, CLI_INT, "N", 0, LMC_BOOTSTRAP_MAX, F(bootstrap),
     "resamples for the 95% interval of each BPC (default 1000; 0: none); the JSON also holds per-document "
     "statistics (doc_stats) for lmc report / compare"},
    {"--batch-size", "--batch_size", CLI_INT, "B", LONG_MIN, LONG_MAX, F(batch),
     "accepted and ignored: windows are evaluated one at a time (batching does not change the result)"},
    CLI_QUIET(F(quiet), "no progress on stderr"),
    {"--verbose", "-v", CLI_FLAG, "", 0, 0, F(verbose), "also print model, kernel and BLAS details on stderr"},
    {0}};
#undef F

const cli_spec eval_spec = {
    "eval", "bits per character of a model on corpus files (the paper's measurement)",
    "lmc eval --model MODEL --data FILE [--data FILE ...] [options]",
    "Prints one row per data file (BPC, BPB, token perplexity, the zlib baseline) and each BPC's 95% interval. "
    "Under mpirun (an MPI build) the ranks share the windows; rank 0 prints and writes the result, "
    "bit-identical to one process.",
    OPTS, offsetof(eval_args, pos), 0, 0, NULL};

/* "I/N" with 1 <= I <= N: shard I of N (index 0-based). */
static int parse_shard(const char *v, int *index, int *count) {
    char *end;
    long i = strtol(v, &end, 10);
    if (end == v || *end != '/') return -1;
    const char *b = end + 1;
    long n = strtol(b, &end, 10);
    if (end == b || *end || i < 1 || n < 1 || n > LMC_SHARDS_MAX || i > n) return -1;
    *index = (int)i - 1;
    *count = (int)n;
    return 0;
}

/* The options as evaluation options: CLI_GO, or the usage exit status (printed). */
static int check_args(const eval_args *a, lmc_eval_opts *eo) {
    if (!a->model) return cli_usage(&eval_spec, "eval needs --model");
    if (!a->data.n) return cli_usage(&eval_spec, "eval needs at least one --data FILE");
    long stride = a->stride;
    int rc = cli_window_stride(&eval_spec, a->block_size, &stride);
    if (rc != CLI_GO) return rc;
    *eo = (lmc_eval_opts){.block_size = (int)a->block_size, .stride = (int)stride, .file_num = a->file_num,
                          .skip_bad = a->skip_bad, .checkpoint = a->checkpoint, .per_window = a->per_window,
                          .per_doc = a->per_doc, .doc_stats = 1, .format = (lmc_format)a->format};
    if (a->shard && parse_shard(a->shard, &eo->shard_index, &eo->shard_count))
        return cli_usage(&eval_spec, "--shard wants I/N with 1 <= I <= N (shard I of N), not '%s'", a->shard);
    if (eo->shard_count && !a->output)
        return cli_usage(&eval_spec, "--shard writes a partial result: it needs --json PART.json");
    if (eo->shard_count && eo->per_doc) return cli_usage(&eval_spec, "--per-doc needs every window, not one shard's");
    rc = cli_check_data_path(&eval_spec, "--checkpoint", a->checkpoint, &a->data);
    if (rc == CLI_GO) rc = cli_check_data_path(&eval_spec, "--per-window", a->per_window, &a->data);
    if (rc == CLI_GO) rc = cli_check_data_path(&eval_spec, "--per-doc", a->per_doc, &a->data);
    return rc;
}

/* ---- progress on stderr ------------------------------------------------------------------------ */

static void fmt_hms(char *b, size_t cap, double s) {
    if (!(s >= 0) || s > 1e8) { snprintf(b, cap, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(b, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(b, cap, "%ld:%02ld", t / 60, t % 60);
}

static void show_progress(const lmc_progress *p, void *user) {
    const char *slash = strrchr(p->data, '/');
    char els[32], etas[32], res[64] = "", line[512];
    fmt_hms(els, sizeof els, p->elapsed);
    fmt_hms(etas, sizeof etas, p->eta);
    if (p->resumed) snprintf(res, sizeof res, "  (%zu resumed from checkpoint)", p->resumed);
    snprintf(line, sizeof line, "%s: window %zu/%zu (%.1f%%)  %.0f window-tok/s  elapsed %s  ETA %s  BPC %.4f%s",
             slash ? slash + 1 : p->data, p->done, p->total,
             p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, p->window_tokens_per_s, els, etas, p->bpc,
             res);
    cli_progress_show(user, line, p->final);
}

/* ---- the run ----------------------------------------------------------------------------------- */

/* One evaluation: the model, what it was given, and the results (one per --data file). */
typedef struct eval_run {
    const eval_args *a;
    lmc_eval_opts    eo;        /* shared by every data file; eos[i] adds its indexed output paths */
    lmc_dist        *dist;      /* NULL, or the MPI job */
    int              root;      /* this process prints and writes (rank 0, or no MPI) */
    int              threads;   /* in use */
    lmc_model       *m;
    lmc_tokenizer   *tok;
    char             model_sha[65];
    double           t0;        /* when the model began opening */
    cli_progress     po;
    lmc_result      *res;       /* (data.n) */
    lmc_eval_opts   *eos;       /* (data.n) */
    char           (*paths)[3][4200]; /* (data.n) checkpoint, per-window, per-doc file of each */
    lmc_err          err;
} eval_run;

/* An error on one rank of an MPI job ends the whole job: the other ranks would wait for it forever. */
static int eval_fail(lmc_dist *dist, const char *msg) {
#ifdef LMC_MPI
    if (dist) {
        int rank, size;
        lmc_mpi_rank(dist, &rank, &size);
        fprintf(stderr, "lmc: rank %d of %d: %s\n", rank, size, msg);
        fflush(stderr);
        lmc_mpi_abort(dist, cli_exit_status(1)); /* 130 / 143 when a signal stopped this rank */
    }
#endif
    return cli_fail(msg);
}

/* Opens the model and its tokenizer (with a hint for a GGUF model that has none), checks the weights when asked
 * and hashes the model when the results, a checkpoint or the ranks need its fingerprint. */
static int open_model(eval_run *r) {
    const eval_args *a = r->a;
    lmc_model_opts mo = {.compute = (lmc_compute)a->compute, .threads = r->threads, .memory_limit = cli_memory_limit()};
    if (lmc_model_open(a->model, &mo, &r->m, &r->err)) return -1;
    if (lmc_tokenizer_open(a->tokenizer ? a->tokenizer : a->model, &r->tok, &r->err)) {
        size_t n = strlen(a->model);
        if (!a->tokenizer && n > 5 && !strcmp(a->model + n - 5, ".gguf")) { /* say how to give it one */
            size_t len = strlen(r->err.msg);
            snprintf(r->err.msg + len, sizeof r->err.msg - len,
                     " (the tokenizer of a GGUF model: --tokenizer TOK gives one)");
        }
        return -1;
    }
    if (a->check_weights && lmc_model_check_finite(r->m, &r->err)) return -1;
    if (a->output || a->checkpoint || r->dist) {
        lmc_model_sha256(r->m, r->model_sha);
        r->eo.model_sha256 = r->model_sha;
    }
    return 0;
}

static void print_details(const eval_run *r) {
    lmc_model_desc d;
    lmc_model_describe(r->m, &d);
    fprintf(stderr, "model: %s (%s, %.2fM parameters, weights %s, compute %s)\nkernels: %s\nthreads: %d; "
            "OpenBLAS core %s (%s)\n", r->a->model, d.architecture, d.n_params / 1e6, d.weights_dtype,
            lmc_compute_name(d.compute), d.kernels, r->threads, lmc_blas_core(), lmc_blas_config());
    if (d.compute == LMC_COMPUTE_INT8)
        fprintf(stderr, "compute int8: matmuls on int8 weights and activations (blocks of 32) — a different "
                "measurement from f32/bf16, not comparable at their precision\n");
    fprintf(stderr, "weight memory: %.1f MB mmapped (file) + %.1f MB held by the model (packed bf16 copies, "
            "Q8_0 copies, re-laid-out matrices, f32 norms)\n", d.mapped_bytes / 1e6, d.resident_bytes / 1e6);
}

/* A window longer than the model was trained with runs (the positions are extrapolated), but says so. */
static void warn_window(const eval_run *r) {
    lmc_model_desc d;
    lmc_model_describe(r->m, &d);
    if (d.trained_context > 0 && r->eo.block_size > d.trained_context)
        fprintf(stderr, "lmc: warning: --block-size %d exceeds the %d-token context %s was trained with; positions "
                "past it are extrapolated and the BPC may not mean much (use --block-size %d or less)\n",
                r->eo.block_size, d.trained_context, r->a->model, d.trained_context);
}

/* What a result's reader should know: an unscored tail that biases the BPC low, a format found by content. */
static void warn_result(const eval_run *r, const lmc_result *x) {
    double unscored = 1.0 - lmc_result_scored_fraction(x);
    if (unscored > 0.01)
        fprintf(stderr, "lmc: warning: %s: %.1f%% of the tokens (%zu of %zu) lie after the last window and are never "
                "scored while their characters count, so this BPC is biased low by about that share; use a smaller "
                "--stride (the tail is shorter than one stride) or more text (docs/SPEC.md §3)\n", x->data,
                100 * unscored, x->tokens - 1 - x->scored_tokens, x->tokens - 1);
    if (r->eo.format == LMC_FORMAT_AUTO && !r->a->quiet && x->format != lmc_format_by_name(x->data))
        fprintf(stderr, "lmc: note: %s: read as %s by its content (--format %s reads it the other way)\n", x->data,
                x->format == LMC_FORMAT_JSONL ? "JSON Lines" : "plain text",
                x->format == LMC_FORMAT_JSONL ? "text" : "jsonl");
}

/* Each --data file's options and output paths (eos[i], paths[i]). */
static void plan_outputs(eval_run *r) {
    size_t n = (size_t)r->a->data.n;
    for (size_t i = 0; i < n; i++) {
        lmc_eval_opts *e = &r->eos[i];
        *e = r->eo;
        const char *d = r->a->data.v[i];
        e->checkpoint = cli_data_path(r->paths[i][0], sizeof r->paths[i][0], r->eo.checkpoint, d);
        e->per_window = cli_data_path(r->paths[i][1], sizeof r->paths[i][1], r->eo.per_window, d);
        e->per_doc = cli_data_path(r->paths[i][2], sizeof r->paths[i][2], r->eo.per_doc, d);
    }
}

/* Before any work: every output (the results, per-window and per-doc files, the checkpoints) can be written,
 * none is an input (data, model, tokenizer) nor another output; the process that writes holds their locks
 * (a checkpoint takes its own when opened). */
static int claim_outputs(eval_run *r, lmc_outputs **held) {
    size_t n = (size_t)r->a->data.n, n_out = 1 + 3 * n;
    const char **outs = lmc_xcalloc(n_out, sizeof *outs), **ins = lmc_xcalloc(n + 2, sizeof *ins);
    outs[0] = r->a->output;
    for (size_t i = 0; i < n; i++) {
        outs[1 + 3 * i] = r->eos[i].per_window;
        outs[2 + 3 * i] = r->eos[i].per_doc;
        outs[3 + 3 * i] = r->eos[i].checkpoint;
        ins[i] = r->a->data.v[i];
    }
    ins[n] = r->a->model;
    ins[n + 1] = r->a->tokenizer;
    int rc = lmc_outputs_check(outs, n_out, ins, n + 2, &r->err);
    for (size_t i = 0; i < n; i++) outs[3 + 3 * i] = NULL;
    if (rc == 0 && r->root) rc = lmc_outputs_lock(outs, n_out, held, &r->err);
    free(outs);
    free(ins);
    return rc;
}

/* Evaluates every --data file in order; stops at the first error. */
static int evaluate_all(eval_run *r) {
    size_t n = (size_t)r->a->data.n;
    for (size_t i = 0; i < n; i++) {
        lmc_eval_opts *e = &r->eos[i];
        e->model_sha256 = r->eo.model_sha256; /* known once the model is open */
        int rc = lmc_evaluate(r->m, r->tok, r->a->data.v[i], e, &r->res[i], &r->err);
        cli_progress_end(&r->po); /* an error or note must not land on the progress line */
        if (rc) return -1;
        if (r->root) warn_result(r, &r->res[i]);
        if (r->res[i].torn_records)
            fprintf(stderr, "lmc: note: %s: dropped a torn last record (an interrupted write) and recomputed it\n",
                    e->checkpoint);
    }
    return 0;
}

static int write_results(eval_run *r) {
    static const char *from[] = {"--name", "the config's _name_or_path", "the model path"};
    char name[256];
    lmc_name_source src = lmc_model_name(r->m, r->a->name, name, sizeof name);
    lmc_results_meta meta = {r->m, r->tok, r->model_sha, r->threads, lmc_now() - r->t0, (int)r->a->bootstrap, name};
    int rc = lmc_results_write(r->a->output, &meta, r->res, r->eos, (size_t)r->a->data.n, &r->err);
    if (rc == 0 && !r->a->quiet)
        fprintf(stderr, "lmc: wrote %s (model named '%s', from %s%s)\n", r->a->output, name, from[src],
                src == LMC_NAME_GIVEN ? "" : "; --name sets another");
    return rc;
}

/* A shard's run: which of its windows it has, and the partial result file. */
static int report_shard(eval_run *r) {
    for (int i = 0; i < r->a->data.n; i++) {
        const lmc_result *x = &r->res[i];
        printf("%s: shard %d/%d: %zu of %zu windows (%zu computed, %zu resumed); partial result in %s\n", x->data,
               r->eo.shard_index + 1, r->eo.shard_count, x->computed_windows + x->resumed_windows, x->windows,
               x->computed_windows, x->resumed_windows, r->a->output);
    }
    return write_results(r);
}

/* A whole run: the table, the intervals, notes on skipped records, then the results file. */
static int report_all(eval_run *r) {
    size_t n = (size_t)r->a->data.n;
    cli_print_table(r->res, n);
    lmc_buf ib = {0};
    int rc = lmc_intervals_text(&ib, r->res, n, (int)r->a->bootstrap, &r->err);
    if (rc == 0 && ib.len) fputs(ib.p, stdout);
    lmc_buf_free(&ib);
    if (r->a->compute == LMC_COMPUTE_INT8)
        printf("compute int8 (weights and activations in int8, activation blocks of %d): a different measurement "
               "from f32/bf16\n", GEMM_I8_QK);
    for (size_t i = 0; i < n; i++)
        if (r->res[i].skipped)
            fprintf(stderr, "lmc: note: %s: skipped %zu malformed record%s of %zu (--skip-bad-records)\n",
                    r->res[i].data, r->res[i].skipped, r->res[i].skipped == 1 ? "" : "s", r->res[i].records);
    if (rc == 0 && r->a->output) rc = write_results(r);
    return rc;
}

static void run_free(eval_run *r) {
    for (int i = 0; r->res && i < r->a->data.n; i++) lmc_result_free(&r->res[i]);
    free(r->res);
    free(r->eos);
    free(r->paths);
    lmc_tokenizer_free(r->tok);
    lmc_model_close(r->m);
}

/* Starts the MPI job when launched by mpirun (an MPI build), and with it the thread count and who reports. */
static int start_job(eval_run *r, int *argc, char ***argv) {
    long threads = r->a->threads;
#ifdef LMC_MPI
    if (lmc_mpi_start(argc, argv, &r->dist, &r->err)) return -1;
    if (r->dist && threads == 0) threads = lmc_mpi_default_threads(r->dist);
    r->eo.dist = r->dist;
#endif
    int rank = 0;
#ifdef LMC_MPI
    int size;
    if (r->dist) lmc_mpi_rank(r->dist, &rank, &size);
#endif
    r->root = rank == 0;
    r->eo.stop = cli_stop_on_signals();
    r->threads = cli_threads(threads);
    r->po = (cli_progress){isatty(2), 0};
    if (r->root && !r->a->quiet) {
        r->eo.progress = show_progress;
        r->eo.progress_user = &r->po;
        const char *iv = getenv("LMC_PROGRESS_INTERVAL"); /* the CLI's knob for tests */
        r->eo.progress_interval = iv && *iv ? atof(iv) : r->po.tty ? 0.5 : 5.0;
    }
    return 0;
}

/* ---- lmc eval ---------------------------------------------------------------------------------- */

int cmd_eval(int argc, char **argv) {
    eval_args a = {.block_size = 1900, .stride = 0 /* cli_window_stride */, .file_num = -1, .batch = 1,
                   .bootstrap = LMC_BOOTSTRAP_DEFAULT, .compute = LMC_COMPUTE_F32};
    eval_run r = {.a = &a};
    int rc = cli_parse(&eval_spec, argc, argv, &a);
    if (rc == CLI_GO) rc = check_args(&a, &r.eo);
    if (rc != CLI_GO) { cli_free(&eval_spec, &a); return rc; }
    if (start_job(&r, &argc, &argv)) { cli_free(&eval_spec, &a); return cli_fail(r.err.msg); }
    r.t0 = lmc_now();
    r.res = lmc_xcalloc((size_t)a.data.n, sizeof *r.res);
    r.eos = lmc_xcalloc((size_t)a.data.n, sizeof *r.eos);
    r.paths = lmc_xcalloc((size_t)a.data.n, sizeof *r.paths);
    plan_outputs(&r);
    lmc_outputs *held = NULL;
    rc = claim_outputs(&r, &held);
    if (rc == 0) rc = open_model(&r);
    if (rc == 0 && a.verbose && r.root) print_details(&r);
    if (rc == 0) rc = evaluate_all(&r);
    if (rc == 0 && r.root) warn_window(&r); /* after the windows were planned: an error is the one line */
    if (rc == 0 && r.root) rc = r.eo.shard_count ? report_shard(&r) : report_all(&r);
    lmc_outputs_unlock(held);
    run_free(&r);
    cli_free(&eval_spec, &a);
    if (rc) return cli_exit_status(eval_fail(r.dist, r.err.msg));
#ifdef LMC_MPI
    lmc_mpi_finish(r.dist);
#endif
    return 0;
}
