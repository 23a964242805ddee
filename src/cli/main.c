/* main.c — the command line: parses flags, calls the library, prints. The only place that prints errors and
 * chooses exit codes. Subcommands: eval, convert, tokenize, generate, help. */
#include "cli/bench.h"
#include "cli/options.h"
#include "compress/compress.h"
#include "lmc.h"
#include "report/report.h"
#include "eval/results.h"
#include "model/safetensors.h"
#include "model/sample.h"
#include "tokenizer/tokenizer.h"
#include "common/threads.h"
#include "convert.h"
#include "eval/dist.h"
#include "eval/merge.h"
#include "common/util.h"
#ifdef LMC_MPI
#include "eval/mpi_shard.h"
#endif

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int die(const char *msg) {
    fprintf(stderr, "lmc: %s\n", msg);
    return 1;
}

static const char *HELP =
    "lmc " LMC_VERSION " — measure how well a language model compresses text (bits per character)\n"
    "\n"
    "usage:\n"
    "  lmc eval --model MODEL --data FILE [--data FILE ...] [options]\n"
    "      MODEL: a HuggingFace checkpoint directory, a .safetensors file written by `lmc convert`, or a\n"
    "             GGUF file (llama.cpp: llama, qwen2, gpt2, gptneox, falcon; F32/F16/BF16/Q8_0/Q4_0/Q4_K/Q6_K)\n"
    "      --tokenizer TOK  the tokenizer from TOK (HF directory, tokenizer.json, converted file) instead of MODEL\n"
    "      FILE:  .jsonl / .jsonl.gz with a string field \"content\" per record, or a plain UTF-8 text file\n"
    "      --block-size W   window length in tokens (default 1900)\n"
    "      --stride S       new tokens scored per window after the first (default 512)\n"
    "      --file-num N     use only the first N records of each file (default -1: all)\n"
    "      --threads T      threads for all kernels (default: all cores)\n"
    "      --dtype f32|bf16 compute: f32 (exact, default) or bf16 x bf16 dot products with f32 accumulation\n"
    "      --json OUT.json  also write the results as JSON (atomically: complete or absent)\n"
    "      --per-window OUT.jsonl  one line per window: k, start, scored, nll\n"
    "      --per-doc OUT.jsonl     one line per document: index, chars, bytes, tokens, scored_tokens, nll\n"
    "      --checkpoint FILE  record each finished window in FILE; rerunning the same command resumes where\n"
    "                       it stopped, with a bit-identical result; a FILE made for another model, data or\n"
    "                       setting is refused. With several --data files, --checkpoint, --per-window and\n"
    "                       --per-doc name one file per data file: FILE.0, FILE.1, ... (in --data order)\n"
    "      --check-weights  scan every weight for NaN/Inf before evaluating (one pass over the weights;\n"
    "                       a non-finite NLL always stops the run, with or without it)\n"
    "      --skip-bad-records  skip malformed records (counted and reported) instead of failing\n"
    "      --shard I/N      evaluate only shard I of N (1 <= I <= N: the windows k with k mod N = I-1) and write\n"
    "                       a partial result to --json; `lmc merge` combines the N parts\n"
    "      under mpirun (an MPI build): the ranks share the windows; rank 0 prints and writes the result,\n"
    "                       bit-identical to one process; --threads defaults to the rank's share of the CPUs\n"
    "      --bootstrap N    resamples for the 95% interval of each BPC (default 1000; 0: none); the JSON\n"
    "                       also holds per-document statistics (doc_stats) for lmc report / compare\n"
    "      --quiet          no progress on stderr;  --verbose  also print model and BLAS details\n"
    "      aliases: --block_size, --file_num; --batch_size B is accepted and ignored (windows are evaluated one\n"
    "      at a time; batching does not change the result)\n"
    "  lmc merge PART.json [PART.json ...] --json OUT.json\n"
    "      combines the partial results of `lmc eval --shard I/N` (every shard exactly once, all of the same\n"
    "      model, data and settings) into the result a single run writes, bit-identical.\n"
    "  lmc convert SRC -o OUT.safetensors [--dtype f32|bf16|f16] [--tokenizer TOK]\n"
    "      SRC: a HF checkpoint directory, a llama2.c .bin checkpoint (tokenizer.bin/tok*.bin beside it, or\n"
    "      --tokenizer), a converted file, or a GGUF file (quantized tensors dequantized to f32 unless --dtype;\n"
    "      --tokenizer: a HF directory, tokenizer.json or llama2.c .bin to embed). Writes one self-describing\n"
    "      file (config and tokenizer inside).\n"
    "  lmc generate --model MODEL --prompt TEXT [-n N] [--temperature T] [--top-p P] [--seed S] [--threads T]\n"
    "               [--dtype f32|bf16]\n"
    "      continues TEXT, streaming it to stdout, with a KV cache (every architecture; the cache is f32 under\n"
    "      either --dtype); the speed goes to stderr.\n"
    "      -n: tokens to generate (default 128; a special token such as EOS stops earlier); --temperature 0:\n"
    "      greedy (default 1); --top-p: nucleus sampling (default 0.9; 1: none); --seed: the same seed gives the\n"
    "      same text (default: from the clock, printed at the end)\n"
    "  lmc compress --model MODEL IN -o OUT.lmcz [--window W] [--threads T] [--quiet]\n"
    "      codes IN's bytes (any bytes) with the model's next-token probabilities and a range coder (Llama family,\n"
    "      f32); the context restarts every W tokens (default 512, at most the model's limit). Prints the size,\n"
    "      bits/byte and bits/char, the ideal size from the model's NLL, speed, and gzip -9 / xz -9 sizes.\n"
    "  lmc decompress --model MODEL IN.lmcz -o OUT [--threads T] [--quiet]\n"
    "      rebuilds the original byte for byte with the same model on a machine with the same arithmetic;\n"
    "      another model, a damaged or truncated file is an error and no OUT is written.\n"
    "  lmc tokenize --model MODEL FILE [--no-special]\n"
    "      prints FILE's token ids (one document) separated by spaces; --no-special omits BOS.\n"
    "      MODEL may also be a directory holding only tokenizer files.\n"
    "  lmc bench (--shape NAME | --model MODEL) [--dtype f32|bf16] [--block-size W] [--windows K]\n"
    "            [--threads T] [--json OUT] [--weights f32|bf16]\n"
    "      evaluation speed on random weights of a model shape (tinyllama-1.1b, llama2-7b, llama3-8b,\n"
    "      mistral-7b, qwen2-0.5b, qwen2-7b, mixtral-8x7b-mini, deepseek-v2-lite-mini) generated in memory,\n"
    "      or on a real model, against sgemm measured in the same run. --weights: the generated weights'\n"
    "      dtype (default: that of --dtype; bf16 weights with f32 compute is what `lmc eval` does with a\n"
    "      bf16 checkpoint).\n"
    "  lmc report RESULTS.json... [-o report.html] [--md OUT.md] [--svg OUT.svg] [--scores SCORES.json]\n"
    "             [--reference LINES.json] [--bootstrap N] [--seed S]\n"
    "      a leaderboard of results files (one per model) with 95% intervals; with --scores, one scatter per\n"
    "      corpus of BPC against the benchmark score with its least-squares line and Pearson r\n"
    "  lmc compare A.json B.json [--bootstrap N] [--seed S]\n"
    "      the paired BPC difference A - B per corpus (same data, documents paired), its interval and whether\n"
    "      it excludes zero\n"
    "  lmc help | --help | --version\n";

/* ---- output ------------------------------------------------------------------------------------ */

static void print_table(const lmc_result *r, size_t n) {
    printf("%-28s %6s %10s %9s %7s %9s %8s %8s %9s %8s %7s\n", "data", "docs", "chars", "tokens", "windows",
           "scored", "BPC", "BPB", "tok-PPL", "zlib-BPC", "seconds");
    for (size_t i = 0; i < n; i++) {
        const char *name = r[i].data;
        size_t len = strlen(name);
        if (len > 28) name += len - 28;
        printf("%-28s %6zu %10zu %9zu %7zu %9zu %8.4f %8.4f %9.3f %8.4f %7.1f\n", name, r[i].docs, r[i].chars,
               r[i].tokens, r[i].windows, r[i].scored_tokens, r[i].bpc, r[i].bpb, r[i].token_ppl, r[i].zlib_bpc,
               r[i].seconds);
    }
}

/* The output paths that belong to one --data file: with several, ".<index>" is appended to each. */
typedef struct eval_paths {
    char checkpoint[4200], per_window[4200], per_doc[4200];
} eval_paths;

static const char *indexed(char *buf, size_t cap, const char *path, size_t i, size_t n) {
    if (!path) return NULL;
    if (n > 1) snprintf(buf, cap, "%s.%zu", path, i);
    else snprintf(buf, cap, "%s", path);
    return buf;
}

static void add_path(cJSON *o, const char *key, const char *path) {
    if (path) cJSON_AddStringToObject(o, key, path);
    else cJSON_AddNullToObject(o, key);
}

/* A double as its shortest decimal that reads back as exactly the same double (cJSON's own printing settles
 * for 15 digits when they are within an epsilon, which is not exact); NaN/Inf become null. */
static void add_double(cJSON *o, const char *key, double v) {
    if (!isfinite(v)) { cJSON_AddNullToObject(o, key); return; }
    char b[40];
    lmc_fmt_double_exact(b, v);
    cJSON_AddRawToObject(o, key, b);
}

static cJSON *result_json(const lmc_result *r, const lmc_eval_opts *eo, int bootstrap, lmc_err *err) {
    cJSON *o = cJSON_CreateObject();
    uint64_t bits;
    memcpy(&bits, &r->nll, sizeof bits);
    char hex[24];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)bits);
    cJSON_AddStringToObject(o, "data", r->data);
    cJSON_AddStringToObject(o, "data_sha256", r->data_sha256);
    add_double(o, "bpc", r->bpc);
    add_double(o, "bpb", r->bpb);
    add_double(o, "nll", r->nll);
    cJSON_AddStringToObject(o, "nll_bits", hex);
    add_double(o, "token_ppl", r->token_ppl);
    cJSON_AddNumberToObject(o, "chars", (double)r->chars);
    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
    cJSON_AddNumberToObject(o, "docs", (double)r->docs);
    cJSON_AddNumberToObject(o, "records", (double)r->records);
    cJSON_AddNumberToObject(o, "skipped_records", (double)r->skipped);
    cJSON_AddNumberToObject(o, "tokens", (double)r->tokens);
    cJSON_AddStringToObject(o, "tokens_sha256", r->tokens_sha256);
    cJSON_AddNumberToObject(o, "windows", (double)r->windows);
    cJSON_AddNumberToObject(o, "scored_tokens", (double)r->scored_tokens);
    cJSON_AddNumberToObject(o, "block_size", r->block_size);
    cJSON_AddNumberToObject(o, "stride", r->stride);
    cJSON_AddNumberToObject(o, "file_num", (double)r->file_num);
    add_double(o, "zlib_bpc", r->zlib_bpc);
    cJSON_AddNumberToObject(o, "zlib_bytes", (double)r->zlib_bytes);
    add_double(o, "seconds", r->seconds);
    add_double(o, "forward_seconds", r->forward_seconds);
    add_double(o, "window_tokens_per_s", r->tokens_per_s);
    cJSON_AddNumberToObject(o, "resumed_windows", (double)r->resumed_windows);
    add_path(o, "checkpoint", eo->checkpoint);
    add_path(o, "per_window", eo->per_window);
    add_path(o, "per_doc", eo->per_doc);
    if (r->doc_stats && lmc_results_add_stats(o, r, bootstrap, err)) { cJSON_Delete(o); return NULL; }
    if (r->partial) { /* what `lmc merge` needs: whose windows these are, their exact NLLs, the fingerprint */
        cJSON *sh = cJSON_AddObjectToObject(o, "shard");
        cJSON_AddNumberToObject(sh, "index", eo->shard_index + 1);
        cJSON_AddNumberToObject(sh, "count", eo->shard_count);
        cJSON_AddStringToObject(sh, "fingerprint", r->fingerprint ? r->fingerprint : "");
        cJSON *ks = cJSON_AddArrayToObject(sh, "windows"), *bs = cJSON_AddArrayToObject(sh, "nll_bits");
        for (size_t k = 0; k < r->windows; k++) {
            if (isnan(r->window_nll[k])) continue; /* another shard's window */
            uint64_t wb;
            memcpy(&wb, &r->window_nll[k], sizeof wb);
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)wb);
            cJSON_AddItemToArray(ks, cJSON_CreateNumber((double)k));
            cJSON_AddItemToArray(bs, cJSON_CreateString(hex));
        }
    }
    return o;
}

static int write_results_json(const char *path, const lmc_model *m, const lmc_tokenizer *tok, const char *compute,
                              const char *model_sha, int threads, const lmc_result *r, const lmc_eval_opts *eo,
                              size_t n, double wall, int bootstrap, lmc_err *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "lmc_version", LMC_VERSION);
    cJSON *mo = cJSON_AddObjectToObject(root, "model");
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    cJSON_AddStringToObject(mo, "path", d.path);
    cJSON_AddStringToObject(mo, "architecture", d.architecture);
    cJSON_AddNumberToObject(mo, "parameters", (double)d.n_params);
    cJSON_AddStringToObject(mo, "weights_dtype", d.weights_dtype);
    cJSON_AddStringToObject(mo, "compute_dtype", compute);
    cJSON_AddStringToObject(mo, "tokenizer_sha256", lmc_tokenizer_hash(tok));
    cJSON_AddStringToObject(mo, "model_sha256", model_sha);
    cJSON_AddNumberToObject(root, "threads", threads);
    add_double(root, "wall_seconds", wall);
    cJSON *arr = cJSON_AddArrayToObject(root, "results");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = result_json(&r[i], &eo[i], bootstrap, err);
        if (!o) { cJSON_Delete(root); return -1; }
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    lmc_buf b = {0};
    lmc_buf_printf(&b, "%s\n", text);
    free(text);
    int rc = lmc_write_file_atomic(path, b.p, b.len, err);
    lmc_buf_free(&b);
    return rc;
}

/* ---- progress on stderr ------------------------------------------------------------------------ */

typedef struct progress_out {
    int tty;       /* redraw one line (TTY) or print a line per report */
    int open_line; /* a TTY line was drawn without its newline */
} progress_out;

static void fmt_hms(char *b, size_t cap, double s) {
    if (!(s >= 0) || s > 1e8) { snprintf(b, cap, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(b, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(b, cap, "%ld:%02ld", t / 60, t % 60);
}

static void show_progress(const lmc_progress *p, void *user) {
    progress_out *po = user;
    const char *slash = strrchr(p->data, '/');
    char els[32], etas[32], res[64] = "";
    fmt_hms(els, sizeof els, p->elapsed);
    fmt_hms(etas, sizeof etas, p->eta);
    if (p->resumed) snprintf(res, sizeof res, "  (%zu resumed from checkpoint)", p->resumed);
    fprintf(stderr, "%s%s: window %zu/%zu (%.1f%%)  %.0f window-tok/s  elapsed %s  ETA %s  BPC %.4f%s%s",
            po->tty ? "\r\033[K" : "", slash ? slash + 1 : p->data, p->done, p->total,
            p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, p->window_tokens_per_s, els, etas, p->bpc,
            res, po->tty && !p->final ? "" : "\n");
    po->open_line = po->tty && !p->final;
    fflush(stderr);
}

/* The library's out-of-memory handler for small allocations (it aborts after this). */
static void say_oom(size_t bytes) { fprintf(stderr, "lmc: out of memory allocating %zu bytes\n", bytes); }

/* A size or a duration from the environment (the CLI's knobs for tests: see README), or dflt. */
static double env_number(const char *name, double dflt) {
    const char *v = getenv(name);
    return v && *v ? atof(v) : dflt;
}

/* ---- subcommands ------------------------------------------------------------------------------- */

/* An error on one rank of an MPI job ends the whole job: the other ranks would wait for it forever. */
static int eval_fail(lmc_dist *dist, const char *msg) {
#ifdef LMC_MPI
    if (dist) {
        fprintf(stderr, "lmc: rank %d of %d: %s\n", dist->rank, dist->size, msg);
        fflush(stderr);
        lmc_mpi_abort(dist, 1);
    }
#endif
    return die(msg);
}

/* "I/N" with 1 <= I <= N: shard I of N. */
static int parse_shard(const char *v, int *index, int *count) {
    long i, n;
    char a[32], b[32];
    const char *slash = strchr(v, '/');
    if (!slash || (size_t)(slash - v) >= sizeof a || strlen(slash + 1) >= sizeof b) return -1;
    snprintf(a, sizeof a, "%.*s", (int)(slash - v), v);
    snprintf(b, sizeof b, "%s", slash + 1);
    char msg[16];
    if (cli_long("--shard", a, 1, 1000000, &i, msg, sizeof msg) || cli_long("--shard", b, 1, 1000000, &n, msg, sizeof msg) ||
        i > n)
        return -1;
    *index = (int)i - 1;
    *count = (int)n;
    return 0;
}

static int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *json = NULL, *data[64], *tok_path = NULL;
    size_t n_data = 0;
    long W = 1900, S = 512, fn = -1, threads = 0, batch = 1, bootstrap = LMC_BOOTSTRAP_DEFAULT;
    int quiet = 0, verbose = 0, check_weights = 0;
    lmc_compute compute = LMC_COMPUTE_F32;
    lmc_eval_opts eo = {0};
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v;
        long *num = NULL, lo = LONG_MIN, hi = LONG_MAX; /* an integer flag's variable and range */
        const char *flag = NULL;
        if ((v = cli_flag_value(argc, argv, &i, "--model", "-m", &missing))) model = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--tokenizer", NULL, &missing))) tok_path = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--data", "-d", &missing))) {
            if (n_data == 64) return cli_usage_error("too many --data files (max %s)", "64");
            data[n_data++] = v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--json", NULL, &missing))) json = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--per-window", NULL, &missing))) eo.per_window = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--per-doc", NULL, &missing))) eo.per_doc = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--checkpoint", NULL, &missing))) eo.checkpoint = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--shard", NULL, &missing))) {
            if (parse_shard(v, &eo.shard_index, &eo.shard_count))
                return cli_usage_error("--shard wants I/N with 1 <= I <= N (shard I of N), not '%s'", v);
        }
        else if ((v = cli_flag_value(argc, argv, &i, "--block-size", "--block_size", &missing)))
            num = &W, flag = "--block-size", lo = 1, hi = 1000000;
        else if ((v = cli_flag_value(argc, argv, &i, "--stride", NULL, &missing)))
            num = &S, flag = "--stride", lo = -1000000, hi = 1000000;
        else if ((v = cli_flag_value(argc, argv, &i, "--file-num", "--file_num", &missing)))
            num = &fn, flag = "--file-num";
        else if ((v = cli_flag_value(argc, argv, &i, "--threads", "-t", &missing)))
            num = &threads, flag = "--threads", lo = 0, hi = 4096;
        else if ((v = cli_flag_value(argc, argv, &i, "--batch-size", "--batch_size", &missing)))
            num = &batch, flag = "--batch-size";
        else if ((v = cli_flag_value(argc, argv, &i, "--bootstrap", NULL, &missing)))
            num = &bootstrap, flag = "--bootstrap", lo = 0, hi = LMC_BOOTSTRAP_MAX;
        else if ((v = cli_flag_value(argc, argv, &i, "--dtype", NULL, &missing))) {
            if (!strcmp(v, "f32")) compute = LMC_COMPUTE_F32;
            else if (!strcmp(v, "bf16")) compute = LMC_COMPUTE_BF16;
            else return cli_usage_error("--dtype must be f32 or bf16, not '%s'", v);
        } else if (cli_flag_is(argv[i], "--quiet", "-q")) quiet = 1;
        else if (cli_flag_is(argv[i], "--verbose", "-v")) verbose = 1;
        else if (cli_flag_is(argv[i], "--skip-bad-records", NULL)) eo.skip_bad = 1;
        else if (cli_flag_is(argv[i], "--check-weights", NULL)) check_weights = 1;
        else if (missing) return cli_usage_error("%s needs a value", argv[i]);
        else return cli_usage_error("unknown option '%s' for eval", argv[i]);
        if (missing) return cli_usage_error("%s needs a value", argv[i]);
        char msg[160];
        if (num && cli_long(flag, v, lo, hi, num, msg, sizeof msg)) return cli_usage_error("%s", msg);
    }
    if (!model) return cli_usage_error("eval needs --model%s", "");
    if (!n_data) return cli_usage_error("eval needs at least one --data FILE%s", "");
    eo.doc_stats = 1;
    eo.block_size = (int)W;
    eo.stride = (int)S;
    eo.file_num = fn;
    if (eo.shard_count && !json)
        return cli_usage_error("--shard writes a partial result: it needs --json PART.json%s", "");
    if (eo.shard_count && eo.per_doc)
        return cli_usage_error("--per-doc needs every window, not one shard's%s", "");

    lmc_err err = {{0}};
    lmc_dist *dist = NULL;
#ifdef LMC_MPI
    if (lmc_mpi_start(&argc, &argv, &dist, &err)) return die(err.msg);
    if (dist && threads == 0) threads = lmc_mpi_default_threads(dist);
    eo.dist = dist;
#endif
    int root = !dist || dist->rank == 0; /* only rank 0 reports and writes */
    if (!root) quiet = 1;
    progress_out po = {isatty(2), 0};
    if (!quiet) {
        eo.progress = show_progress;
        eo.progress_user = &po;
        eo.progress_interval = env_number("LMC_PROGRESS_INTERVAL", po.tty ? 0.5 : 5.0);
    }

    int nthreads = lmc_threads_init((int)threads);
    lmc_model_opts mo = {.compute = compute, .threads = nthreads,
                         .memory_limit = (size_t)env_number("LMC_MEMORY_LIMIT", 0)};
    lmc_model *m;
    double t0 = lmc_now();
    if (lmc_model_open(model, &mo, &m, &err)) return eval_fail(dist, err.msg);
    lmc_tokenizer *tok;
    if (lmc_tokenizer_open(tok_path ? tok_path : model, &tok, &err)) {
        lmc_model_close(m);
        size_t n = strlen(model);
        if (!tok_path && n > 5 && !strcmp(model + n - 5, ".gguf")) { /* say how to give it one */
            char msg[sizeof err.msg + 96];
            snprintf(msg, sizeof msg, "%s (the tokenizer of a GGUF model: --tokenizer TOK gives one)", err.msg);
            return eval_fail(dist, msg);
        }
        return eval_fail(dist, err.msg);
    }
    if (check_weights && lmc_model_check_finite(m, &err)) {
        lmc_tokenizer_free(tok);
        lmc_model_close(m);
        return eval_fail(dist, err.msg);
    }
    char model_sha[65] = "";
    if (json || eo.checkpoint || dist) {
        lmc_model_sha256(m, model_sha);
        eo.model_sha256 = model_sha;
    }
    if (verbose && root) {
        lmc_model_desc d;
        lmc_model_describe(m, &d);
        fprintf(stderr, "model: %s (%s, %.2fM parameters, weights %s, compute %s)\nkernels: %s\nthreads: %d; "
                "OpenBLAS core %s (%s)\n", model, d.architecture, d.n_params / 1e6, d.weights_dtype,
                compute == LMC_COMPUTE_BF16 ? "bf16" : "f32", d.kernels, nthreads, lmc_blas_core(),
                lmc_blas_config());
        fprintf(stderr, "weight memory: %.1f MB mmapped (file) + %.1f MB held by the model (packed bf16 copies, "
                "re-laid-out matrices, f32 norms)\n", d.mapped_bytes / 1e6, d.resident_bytes / 1e6);
    }
    lmc_result *res = lmc_xcalloc(n_data, sizeof *res);
    lmc_eval_opts *eos = lmc_xcalloc(n_data, sizeof *eos);
    eval_paths *paths = lmc_xcalloc(n_data, sizeof *paths);
    int rc = 0;
    for (size_t i = 0; i < n_data && rc == 0; i++) {
        eos[i] = eo;
        eos[i].checkpoint = indexed(paths[i].checkpoint, sizeof paths[i].checkpoint, eo.checkpoint, i, n_data);
        eos[i].per_window = indexed(paths[i].per_window, sizeof paths[i].per_window, eo.per_window, i, n_data);
        eos[i].per_doc = indexed(paths[i].per_doc, sizeof paths[i].per_doc, eo.per_doc, i, n_data);
        if (lmc_evaluate(m, tok, data[i], &eos[i], &res[i], &err)) rc = 1;
        if (po.open_line) fputc('\n', stderr); /* an error or note must not land on the progress line */
        po.open_line = 0;
        if (rc) break;
        if (res[i].torn_records)
            fprintf(stderr, "lmc: note: %s: dropped a torn last record (an interrupted write) and recomputed it\n",
                    eos[i].checkpoint);
    }
    if (rc == 0 && eo.shard_count && root) {
        for (size_t i = 0; i < n_data; i++)
            printf("%s: shard %d/%d: %zu of %zu windows (%zu computed, %zu resumed); partial result in %s\n",
                   res[i].data, eo.shard_index + 1, eo.shard_count,
                   res[i].computed_windows + res[i].resumed_windows, res[i].windows, res[i].computed_windows,
                   res[i].resumed_windows, json);
        if (write_results_json(json, m, tok, compute == LMC_COMPUTE_BF16 ? "bf16" : "f32", model_sha, nthreads, res,
                               eos, n_data, lmc_now() - t0, (int)bootstrap, &err))
            rc = 1;
    } else if (rc == 0 && root) {
        print_table(res, n_data);
        lmc_buf ib = {0};
        if (lmc_intervals_text(&ib, res, n_data, (int)bootstrap, &err)) rc = 1;
        else if (ib.len) fputs(ib.p, stdout);
        lmc_buf_free(&ib);
        for (size_t i = 0; i < n_data; i++)
            if (res[i].skipped)
                fprintf(stderr, "lmc: note: %s: skipped %zu malformed record%s of %zu (--skip-bad-records)\n",
                        res[i].data, res[i].skipped, res[i].skipped == 1 ? "" : "s", res[i].records);
        if (rc == 0 && json && write_results_json(json, m, tok, compute == LMC_COMPUTE_BF16 ? "bf16" : "f32",
                                                  model_sha, nthreads, res, eos, n_data, lmc_now() - t0,
                                                  (int)bootstrap, &err))
            rc = 1;
    }
    for (size_t i = 0; i < n_data; i++) lmc_result_free(&res[i]);
    free(res);
    free(eos);
    free(paths);
    lmc_tokenizer_free(tok);
    lmc_model_close(m);
    if (rc) return eval_fail(dist, err.msg);
#ifdef LMC_MPI
    lmc_mpi_finish(dist);
#endif
    return 0;
}

static int cmd_merge(int argc, char **argv) {
    const char *json = NULL, **parts = lmc_xcalloc((size_t)argc, sizeof *parts);
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = cli_flag_value(argc, argv, &i, "--json", NULL, &missing))) json = v;
        else if (missing) { free(parts); return cli_usage_error("%s needs a value", argv[i]); }
        else if (argv[i][0] == '-' && argv[i][1]) { free(parts); return cli_usage_error("unknown option '%s' for merge", argv[i]); }
        else parts[n++] = argv[i];
    }
    if (!n || !json) {
        free(parts);
        return cli_usage_error("usage: lmc merge PART.json [PART.json ...] --json OUT.json%s", "");
    }
    lmc_err err = {{0}};
    char *text;
    lmc_result *res;
    size_t n_res;
    int rc = lmc_merge(parts, n, &text, &res, &n_res, &err);
    free(parts);
    if (rc) return die(err.msg);
    lmc_buf b = {0};
    lmc_buf_printf(&b, "%s\n", text);
    free(text);
    rc = lmc_write_file_atomic(json, b.p, b.len, &err);
    lmc_buf_free(&b);
    if (rc == 0) print_table(res, n_res);
    free(res);
    return rc ? die(err.msg) : 0;
}

static int cmd_convert(int argc, char **argv) {
    const char *src = NULL, *out = NULL, *tok = NULL;
    int dtype = LMC_CONVERT_KEEP_DTYPE;
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = cli_flag_value(argc, argv, &i, "-o", "--output", &missing))) out = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--tokenizer", NULL, &missing))) tok = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--dtype", NULL, &missing))) {
            if (!strcmp(v, "f32")) dtype = LMC_F32;
            else if (!strcmp(v, "bf16")) dtype = LMC_BF16;
            else if (!strcmp(v, "f16")) dtype = LMC_F16;
            else return cli_usage_error("--dtype must be f32, bf16 or f16, not '%s'", v);
        } else if (missing) return cli_usage_error("%s needs a value", argv[i]);
        else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("unknown option '%s' for convert", argv[i]);
        else if (!src) src = argv[i];
        else return cli_usage_error("unexpected argument '%s'", argv[i]);
    }
    if (!src || !out) return cli_usage_error("usage: lmc convert SRC -o OUT.safetensors [--dtype f32|bf16|f16]%s", "");
    lmc_err err = {{0}};
    if (lmc_convert(src, out, dtype, tok, &err)) return die(err.msg);
    fprintf(stderr, "wrote %s\n", out);
    return 0;
}

/* ---- lmc generate ------------------------------------------------------------------------------ */

/* Writes what of pending is whole UTF-8 characters to stdout (all of it when final) and keeps the rest. */
static void flush_text(lmc_buf *pending, int final) {
    size_t ready = final ? pending->len : lmc_utf8_ready(pending->p, pending->len);
    if (!ready) return;
    fwrite(pending->p, 1, ready, stdout);
    fflush(stdout);
    memmove(pending->p, pending->p + ready, pending->len - ready);
    pending->len -= ready;
}

static int generate_fail(lmc_model *m, lmc_tokenizer *tok, lmc_kv *kv, const char *msg) {
    lmc_kv_free(kv);
    lmc_tokenizer_free(tok);
    lmc_model_close(m);
    return die(msg);
}

static int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL;
    long steps = 128, threads = 0, seed = -1;
    double temperature = 1.0, top_p = 0.9;
    lmc_compute compute = LMC_COMPUTE_F32;
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v, *flag = NULL;
        long *num = NULL, lo = 0, hi = LONG_MAX;
        double *real = NULL;
        if ((v = cli_flag_value(argc, argv, &i, "--model", "-m", &missing))) model = v;
        else if ((v = cli_flag_value(argc, argv, &i, "--prompt", "-p", &missing))) prompt = v;
        else if ((v = cli_flag_value(argc, argv, &i, "-n", "--steps", &missing))) num = &steps, flag = "-n", lo = 1, hi = 1000000;
        else if ((v = cli_flag_value(argc, argv, &i, "--seed", "-s", &missing))) num = &seed, flag = "--seed";
        else if ((v = cli_flag_value(argc, argv, &i, "--threads", "-t", &missing)))
            num = &threads, flag = "--threads", hi = 4096;
        else if ((v = cli_flag_value(argc, argv, &i, "--temperature", NULL, &missing)))
            real = &temperature, flag = "--temperature";
        else if ((v = cli_flag_value(argc, argv, &i, "--top-p", "--top_p", &missing))) real = &top_p, flag = "--top-p";
        else if ((v = cli_flag_value(argc, argv, &i, "--dtype", NULL, &missing))) {
            if (!strcmp(v, "f32")) compute = LMC_COMPUTE_F32;
            else if (!strcmp(v, "bf16")) compute = LMC_COMPUTE_BF16;
            else return cli_usage_error("--dtype must be f32 or bf16, not '%s'", v);
        } else if (missing) return cli_usage_error("%s needs a value", argv[i]);
        else return cli_usage_error("unknown option '%s' for generate", argv[i]);
        char msg[160];
        if (num && cli_long(flag, v, lo, hi, num, msg, sizeof msg)) return cli_usage_error("%s", msg);
        if (real == &temperature && cli_double(flag, v, 0, 100, real, msg, sizeof msg)) return cli_usage_error("%s", msg);
        if (real == &top_p && (cli_double(flag, v, 0, 1, real, msg, sizeof msg) || top_p == 0))
            return cli_usage_error("%s", "--top-p must be a number in (0, 1] (1: no nucleus cut)");
    }
    if (!model || !prompt)
        return cli_usage_error("usage: lmc generate --model MODEL --prompt TEXT [-n N] [--temperature T] [--top-p P] "
                               "[--seed S]%s", "");
    /* no --seed: one from the clock, printed at the end so the run can be repeated */
    uint64_t seed_used = seed >= 0 ? (uint64_t)seed : (uint64_t)(lmc_now() * 1e6) % 1000000007u;

    lmc_err err = {{0}};
    lmc_model_opts mo = {.compute = compute, .threads = lmc_threads_init((int)threads),
                         .memory_limit = (size_t)env_number("LMC_MEMORY_LIMIT", 0)};
    lmc_model *m = NULL;
    lmc_tokenizer *tok = NULL;
    lmc_kv *kv = NULL;
    if (lmc_model_open(model, &mo, &m, &err)) return die(err.msg);
    if (lmc_tokenizer_open(model, &tok, &err)) return generate_fail(m, NULL, NULL, err.msg);
    int32_t *ids;
    size_t n_ids;
    if (lmc_tokenize(tok, prompt, strlen(prompt), 1, &ids, &n_ids, &err)) {
        char msg[1200];
        snprintf(msg, sizeof msg, "--prompt: %s", err.msg);
        return generate_fail(m, tok, NULL, msg);
    }
    if (n_ids == 0) {
        free(ids);
        return generate_fail(m, tok, NULL, "--prompt is empty and the tokenizer adds no BOS: nothing to start from");
    }
    if (lmc_kv_open(m, (int)(n_ids + (size_t)steps), &kv, &err)) { free(ids); return generate_fail(m, tok, NULL, err.msg); }
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    int vocab = d.vocab < lmc_tokenizer_vocab_size(tok) ? d.vocab : lmc_tokenizer_vocab_size(tok);
    float *logits = lmc_xmalloc(sizeof(float) * (size_t)d.vocab);
    lmc_sampler smp = {.temperature = (float)temperature, .top_p = (float)top_p, .rng = seed_used};

    fputs(prompt, stdout); /* the prompt as given; the model continues it */
    fflush(stdout);
    double t0 = lmc_now();
    int rc = lmc_model_step(m, kv, ids, (int)n_ids, logits, &err);
    double t1 = lmc_now();
    free(ids);
    lmc_buf pending = {0};
    long made = 0;
    const char *stop = "-n reached";
    while (rc == 0 && made < steps) {
        int32_t next = lmc_sample(&smp, logits, vocab);
        made++;
        if (lmc_token_special(tok, next)) { stop = "a special token (end of text)"; break; }
        char piece[512];
        long len = lmc_token_bytes(tok, next, piece, sizeof piece);
        if (len > 0) lmc_buf_append(&pending, piece, len < (long)sizeof piece ? (size_t)len : sizeof piece);
        flush_text(&pending, 0);
        if (made < steps) rc = lmc_model_step(m, kv, &next, 1, logits, &err);
    }
    flush_text(&pending, 1);
    fputc('\n', stdout);
    fflush(stdout);
    double t2 = lmc_now();
    lmc_buf_free(&pending);
    lmc_sampler_free(&smp);
    free(logits);
    if (rc) return generate_fail(m, tok, kv, err.msg);
    char how[64];
    if (temperature > 0) snprintf(how, sizeof how, "seed %llu", (unsigned long long)seed_used);
    else snprintf(how, sizeof how, "greedy");
    fprintf(stderr, "lmc: %ld tokens in %.2f s (%.1f tokens/s, stopped: %s); prompt %zu tokens in %.3f s; %s; "
                    "KV cache %.1f KB per token\n", made, t2 - t1, made / (t2 - t1 > 0 ? t2 - t1 : 1e-9), stop,
            n_ids, t1 - t0, how, lmc_kv_bytes_per_token(m) / 1024.0);
    lmc_kv_free(kv);
    lmc_tokenizer_free(tok);
    lmc_model_close(m);
    return 0;
}

static int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    int special = 1;
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = cli_flag_value(argc, argv, &i, "--model", "-m", &missing))) model = v;
        else if (cli_flag_is(argv[i], "--no-special", NULL)) special = 0;
        else if (missing) return cli_usage_error("%s needs a value", argv[i]);
        else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("unknown option '%s' for tokenize", argv[i]);
        else if (!file) file = argv[i];
        else return cli_usage_error("unexpected argument '%s'", argv[i]);
    }
    if (!model || !file) return cli_usage_error("usage: lmc tokenize --model MODEL FILE [--no-special]%s", "");
    lmc_err err = {{0}};
    lmc_tokenizer *tok;
    if (lmc_tokenizer_open(model, &tok, &err)) return die(err.msg);
    char *text;
    size_t len;
    if (lmc_read_file(file, &text, &len, &err)) { lmc_tokenizer_free(tok); return die(err.msg); }
    int32_t *ids;
    size_t n;
    int rc = lmc_tokenize(tok, text, len, special, &ids, &n, &err);
    free(text);
    lmc_tokenizer_free(tok);
    if (rc) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: %s", file, err.msg);
        return die(msg);
    }
    lmc_buf b = {0};
    for (size_t i = 0; i < n; i++) lmc_buf_printf(&b, i ? " %d" : "%d", ids[i]);
    printf("%s\n", b.p ? b.p : "");
    lmc_buf_free(&b);
    free(ids);
    return 0;
}

/* OpenMP threads that spin while waiting steal the cores from the next GEMM whenever anything else runs on the
 * machine (measured: 2.7x slower windows on a loaded 2-core VM); passive waiting costs ~µs per parallel region.
 * libgomp reads OMP_WAIT_POLICY before main, so when the user has not chosen one, set it and re-exec once. */
static void prefer_passive_waiting(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv); /* on failure, go on with the default policy */
}

int main(int argc, char **argv) {
    prefer_passive_waiting(argv);
    lmc_set_oom_handler(say_oom);
    if (argc < 2) { fputs(HELP, stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) { fputs(HELP, stdout); return 0; }
    if (!strcmp(cmd, "--version")) {
#ifdef LMC_MPI
        printf("lmc %s (MPI: %s)\n", LMC_VERSION, lmc_mpi_version());
#else
        printf("lmc %s\n", LMC_VERSION);
#endif
        return 0;
    }
    if (!strcmp(cmd, "eval")) return cmd_eval(argc, argv);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc, argv);
    if (!strcmp(cmd, "merge")) return cmd_merge(argc, argv);
    if (!strcmp(cmd, "tokenize")) return cmd_tokenize(argc, argv);
    if (!strcmp(cmd, "generate")) return cmd_generate(argc, argv);
    if (!strcmp(cmd, "bench")) return lmc_bench_main(argc, argv);
    if (!strcmp(cmd, "compress")) return lmc_compress_main(argc, argv);
    if (!strcmp(cmd, "decompress")) return lmc_decompress_main(argc, argv);
    if (!strcmp(cmd, "report")) return lmc_report_main(argc, argv);
    if (!strcmp(cmd, "compare")) return lmc_compare_main(argc, argv);
    return cli_usage_error("unknown command '%s'", cmd);
}
