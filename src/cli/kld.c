/* kld.c — `lmc kld`: how far a model's next-token distributions are from a base model's, token by token, on the
 * windows and tokens `lmc eval` scores (lmc_kld.h, docs/kld.md). Parse the options, open both models and their
 * tokenizers, state the memory, compare on each --data file, print the statistics, write the JSON. */
#include "cli/cli.h"
#include "lmc.h"
#include "lmc_kld.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------------------------------------- */

typedef struct kld_args {
    const char *base, *model, *base_tokenizer, *tokenizer, *output, *save_base, *base_file, *checkpoint;
    cli_list    data, pos;
    long        block_size, stride, file_num, threads, bootstrap, top_k;
    int         compute, base_compute, quiet, skip_bad;
} kld_args;

#define F(x) offsetof(kld_args, x)
static const cli_opt OPTS[] = {
    {"--base", "-b", CLI_STR, "MODEL", 0, 0, F(base),
     "the reference model A (any model `lmc eval --model` takes: HF directory, converted .safetensors, GGUF)"},
    CLI_MODEL(F(model), "the model B compared with it (e.g. a quantization of A)"),
    {"--data", "-d", CLI_LIST, "FILE", 0, 64, F(data),
     "corpus file as for `lmc eval` (.jsonl, .jsonl.gz or plain text); repeat for several (at most 64)"},
    {"--base-tokenizer", NULL, CLI_STR, "TOK", 0, 0, F(base_tokenizer), "the base's tokenizer from TOK instead of A"},
    {"--tokenizer", NULL, CLI_STR, "TOK", 0, 0, F(tokenizer),
     "the model's tokenizer from TOK instead of B; both must give the same token ids (checked)"},
    CLI_BLOCK_SIZE(F(block_size), 1, "window length in tokens (default 1900, as lmc eval)"),
    CLI_STRIDE(F(stride)),
    {"--file-num", "--file_num", CLI_INT, "N", LONG_MIN, LONG_MAX, F(file_num),
     "use only the first N records of each file (default -1: all)"},
    CLI_THREADS(F(threads), "threads for all kernels (default 0: all cores)"),
    CLI_DTYPE(F(compute), "the model's compute: f32 (default), bf16 or int8"),
    {"--base-dtype", NULL, CLI_COMPUTE, "", 0, 0, F(base_compute), "the base's compute: f32 (default), bf16 or int8"},
    CLI_JSON_OUTPUT(F(output), "also write every statistic as JSON (atomically: complete or absent; fields in docs/kld.md)"),
    {"--bootstrap", NULL, CLI_INT, "N", 0, 1000000, F(bootstrap),
     "resamples of documents for the 95% intervals of ΔBPC and KLD per character (default 1000; 0: none)"},
    {"--save-base", NULL, CLI_STR, "FILE", 0, 0, F(save_base),
     "run only --base and store its top --top-k log-probs and the tail mass of every scored token in FILE "
     "(atomically), for later runs with --base-file; each {} in FILE becomes the data file's name (base.{} gives "
     "base.cc for cc.jsonl): with several --data files it needs one, as do --base-file and --checkpoint"},
    {"--base-file", NULL, CLI_STR, "FILE", 0, 0, F(base_file),
     "compare --model with the base stored by --save-base instead of running --base (same data, --file-num, "
     "--block-size, --stride and tokens: checked); divergences over the top K, the target and one tail bucket"},
    {"--top-k", NULL, CLI_INT, "K", 5, 4096, F(top_k), "log-probs per token --save-base keeps (default 32)"},
    {"--checkpoint", NULL, CLI_STR, "FILE", 0, 0, F(checkpoint),
     "record each finished window in FILE; rerunning the same command resumes where it stopped, with a "
     "bit-identical result; a FILE made for another comparison is refused. Each {} in FILE becomes the data "
     "file's name"},
    {"--skip-bad-records", NULL, CLI_FLAG, "", 0, 0, F(skip_bad),
     "skip malformed records instead of failing"},
    CLI_QUIET(F(quiet), "no memory line or progress on stderr"),
    {0}};
#undef F

const cli_spec kld_spec = {
    "kld", "KL divergence of a model's next-token distributions from a base model's (quantization error)",
    "lmc kld --base MODEL --model MODEL --data FILE [--data FILE ...] [options]",
    "Both models run in one process over the windows and tokens `lmc eval` scores; every scored token's two full "
    "distributions are compared exactly. Prints llama-perplexity --kl-divergence's statistics (PPL ratio, KLD "
    "percentiles, Δp, Same top p) and lmc's: KL both ways, Jensen-Shannon, top-5 overlap, per-byte / per-character "
    "KLD and ΔBPC with its paired interval clustered by document.\n"
    "--save-base / --base-file keep the base as its top-K log-probs per token (8 + 8K bytes a token) so it need "
    "not be run again; the divergences are then lower bounds of the exact ones (docs/kld.md).",
    OPTS, offsetof(kld_args, pos), 0, 0, NULL};

/* ---- the run ------------------------------------------------------------------------------------------- */

typedef struct kld_cli {
    const kld_args *a;
    lmc_model      *ma, *mb;
    lmc_tokenizer  *ta, *tb;
    lmc_kld_result *res; /* (data.n) */
    cli_progress    po;
    lmc_err         err;
} kld_cli;

static void show_progress(const lmc_kld_progress *p, void *user) {
    const char *slash = strrchr(p->data, '/');
    char line[512], kld[64] = ""; /* no KLD while saving a base */
    if (!isnan(p->kld)) snprintf(kld, sizeof kld, "  mean KLD %.6g", p->kld);
    snprintf(line, sizeof line, "%s: window %zu/%zu (%.1f%%)  elapsed %.0f s  ETA %.0f s%s",
             slash ? slash + 1 : p->data, p->done, p->total,
             p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, p->elapsed, p->eta, kld);
    cli_progress_show(user, line, p->final);
}

/* One model and its tokenizer (the tokenizer from tok_path when given). */
static int open_one(const char *path, const char *tok_path, int compute, int threads, lmc_model **m,
                    lmc_tokenizer **t, lmc_err *err) {
    lmc_model_opts mo = {.compute = (lmc_compute)compute, .threads = threads, .memory_limit = cli_memory_limit()};
    if (lmc_model_open(path, &mo, m, err)) return -1;
    return lmc_tokenizer_open(tok_path ? tok_path : path, t, err);
}

/* Both models, then the memory a window of both takes, stated before anything runs. */
static int open_models(kld_cli *k) {
    const kld_args *a = k->a;
    if ((a->base && open_one(a->base, a->base_tokenizer, a->base_compute, (int)a->threads, &k->ma, &k->ta, &k->err)) ||
        (a->model && open_one(a->model, a->tokenizer, a->compute, (int)a->threads, &k->mb, &k->tb, &k->err)))
        return -1;
    if (!a->quiet && k->ma && k->mb) {
        lmc_model_desc da, db;
        lmc_model_describe(k->ma, &da);
        lmc_model_describe(k->mb, &db);
        fprintf(stderr, "lmc kld: base %s (%s, %s), model %s (%s, %s); memory: weights %.1f + %.1f MB (mapped and "
                "held), a %ld-token window of both %.1f MB, plus %d bytes per scored token\n", a->base,
                da.weights_dtype, lmc_compute_name(da.compute), a->model, db.weights_dtype,
                lmc_compute_name(db.compute), (da.mapped_bytes + da.resident_bytes) / 1e6,
                (db.mapped_bytes + db.resident_bytes) / 1e6, a->block_size,
                lmc_kld_memory(k->ma, k->mb, (int)a->block_size, 0) / 1e6,
                (int)((lmc_kld_memory(k->ma, k->mb, (int)a->block_size, 1000) -
                       lmc_kld_memory(k->ma, k->mb, (int)a->block_size, 0)) / 1000));
    }
    return 0;
}

/* What --save-base wrote, and what llama-perplexity would have for the same tokens (2 bytes per vocabulary entry
 * per token). */
static void print_saved(const lmc_kld_result *r, const char *file) {
    double ours = (double)r->base_file_bytes, theirs = 2.0 * r->vocab * (double)r->scored_tokens;
    printf("%s: wrote %s: %zu scored tokens, top %d log-probs + tail mass each, %.3f MB (%.0f bytes a token; "
           "llama-perplexity's uint16 per vocabulary entry: %.0f bytes a token, %.0fx as much)\n", r->data, file,
           r->scored_tokens, r->top_k, ours / 1e6, ours / (double)r->scored_tokens, 2.0 * r->vocab, theirs / ours);
}

static int compare_all(kld_cli *k) {
    const kld_args *a = k->a;
    lmc_kld_opts o = {.block_size = (int)a->block_size, .stride = (int)a->stride, .file_num = a->file_num,
                      .skip_bad = a->skip_bad, .threads = (int)a->threads, .bootstrap = (int)a->bootstrap,
                      .memory_limit = cli_memory_limit(), .top_k = (int)a->top_k};
    if (!a->quiet) {
        const char *iv = getenv("LMC_PROGRESS_INTERVAL"); /* the CLI's knob for tests */
        o.progress = show_progress;
        o.progress_user = &k->po;
        o.progress_interval = iv && *iv ? atof(iv) : k->po.tty ? 0.5 : 5.0;
    }
    for (int i = 0; i < a->data.n; i++) {
        char sb[4200], bf[4200], ck[4200];
        o.save_base = cli_data_path(sb, sizeof sb, a->save_base, a->data.v[i]);
        o.base_file = cli_data_path(bf, sizeof bf, a->base_file, a->data.v[i]);
        o.checkpoint = cli_data_path(ck, sizeof ck, a->checkpoint, a->data.v[i]);
        int rc = lmc_kld_run(k->ma, k->ta, k->mb, k->tb, a->data.v[i], &o, &k->res[i], &k->err);
        cli_progress_end(&k->po);
        if (rc) return -1;
        if (k->res[i].resumed_windows || k->res[i].torn_records)
            fprintf(stderr, "lmc: note: %s: %zu of %zu windows resumed from the checkpoint%s\n", o.checkpoint,
                    k->res[i].resumed_windows, k->res[i].windows,
                    k->res[i].torn_records ? " (a torn last record was dropped and recomputed)" : "");
        if (o.save_base) { print_saved(&k->res[i], o.save_base); continue; }
        char *text = lmc_kld_text(&k->res[i]);
        printf("%s%s", i ? "\n" : "", text);
        free(text);
    }
    if (a->output)
        return lmc_kld_write_json(a->output, a->base ? a->base : a->base_file, a->model, k->res, (size_t)a->data.n,
                                  &k->err);
    return 0;
}

/* Before any work: the JSON, each saved base and each checkpoint can be written, none is an input (a data file,
 * either model or tokenizer, a base file) nor another output; the JSON and saved bases are locked for the run
 * (a checkpoint takes its own flock when opened). */
static int claim_outputs(const kld_args *a, lmc_outputs **held, lmc_err *err) {
    size_t n = (size_t)a->data.n, n_out = 1 + 2 * n, n_in = 2 * n + 4;
    const char **outs = lmc_xcalloc(n_out, sizeof *outs), **ins = lmc_xcalloc(n_in, sizeof *ins);
    char (*paths)[3][4200] = lmc_xcalloc(n, sizeof *paths);
    outs[0] = a->output;
    for (size_t i = 0; i < n; i++) {
        outs[1 + i] = cli_data_path(paths[i][0], sizeof paths[i][0], a->save_base, a->data.v[i]);
        outs[1 + n + i] = cli_data_path(paths[i][1], sizeof paths[i][1], a->checkpoint, a->data.v[i]);
        ins[i] = a->data.v[i];
        ins[n + i] = cli_data_path(paths[i][2], sizeof paths[i][2], a->base_file, a->data.v[i]);
    }
    const char *models[] = {a->base, a->model, a->base_tokenizer, a->tokenizer};
    memcpy(ins + 2 * n, models, sizeof models);
    int rc = lmc_outputs_check(outs, n_out, ins, n_in, err);
    if (rc == 0) rc = lmc_outputs_lock(outs, 1 + n, held, err); /* not the checkpoints */
    free(paths);
    free(outs);
    free(ins);
    return rc;
}

/* ---- lmc kld ------------------------------------------------------------------------------------------- */

/* Which models the mode takes: CLI_GO, or the usage exit status (printed). */
static int check_args(const kld_args *a) {
    if (a->save_base && a->base_file) return cli_usage(&kld_spec, "--save-base and --base-file do not go together");
    if (a->save_base && (!a->base || a->model || a->output))
        return cli_usage(&kld_spec, "--save-base FILE runs the base only: give --base MODEL, and no --model or --json");
    if (a->base_file && (a->base || !a->model))
        return cli_usage(&kld_spec, "--base-file FILE stands for the base: give --model MODEL and no --base");
    if (!a->save_base && !a->base_file && (!a->base || !a->model))
        return cli_usage(&kld_spec, "kld needs --base MODEL and --model MODEL");
    if (!a->data.n) return cli_usage(&kld_spec, "kld needs at least one --data FILE");
    int rc = cli_check_data_path(&kld_spec, "--save-base", a->save_base, &a->data);
    if (rc == CLI_GO) rc = cli_check_data_path(&kld_spec, "--base-file", a->base_file, &a->data);
    if (rc == CLI_GO) rc = cli_check_data_path(&kld_spec, "--checkpoint", a->checkpoint, &a->data);
    return rc;
}

int cmd_kld(int argc, char **argv) {
    kld_args a = {.block_size = 1900, .stride = 0 /* cli_window_stride */, .file_num = -1, .bootstrap = 1000, .top_k = 32};
    int rc = cli_parse(&kld_spec, argc, argv, &a);
    if (rc == CLI_GO) rc = check_args(&a);
    if (rc == CLI_GO) rc = cli_window_stride(&kld_spec, a.block_size, &a.stride);
    if (rc != CLI_GO) { cli_free(&kld_spec, &a); return rc; }
    kld_cli k = {.a = &a, .po = {isatty(2), 0}};
    lmc_outputs *held = NULL;
    k.res = lmc_xcalloc((size_t)a.data.n, sizeof *k.res);
    rc = claim_outputs(&a, &held, &k.err);
    if (rc == 0) rc = open_models(&k);
    if (rc == 0) rc = compare_all(&k);
    lmc_outputs_unlock(held);
    free(k.res);
    lmc_tokenizer_free(k.ta);
    lmc_tokenizer_free(k.tb);
    lmc_model_close(k.ma);
    lmc_model_close(k.mb);
    cli_free(&kld_spec, &a);
    return rc ? cli_fail(k.err.msg) : 0;
}
