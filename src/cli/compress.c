/* compress.c — the command lines of `lmc compress` and `lmc decompress` (compress.h): parse flags, read the
 * input's raw bytes, open the model, code, write the output atomically (a complete file or none), print.
 * Compress also measures the classic compressors on the same bytes for comparison: gzip -9 through zlib
 * (deflate level 9, gzip framing without a file name) and xz -9 through liblzma (preset 9, CRC-64 check, as
 * the xz tool writes), both in-process. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* The file's bytes as they are (lmc_read_file would gunzip a .gz; a compressor must not). */
static int read_raw(const char *path, uint8_t **data, size_t *len, lmc_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return lmc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    lmc_buf b = {0};
    char chunk[1 << 16];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) lmc_buf_append(&b, chunk, k);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        lmc_buf_free(&b);
        return lmc_fail(err, "%s: read error", path);
    }
    *data = (uint8_t *)b.p;
    *len = b.len;
    return 0;
}

/* ---- baselines ---------------------------------------------------------------------------------- */

/* Bytes of the gzip -9 stream of in (deflate level 9, default window and memory, 10-byte header without a file
 * name, CRC-32 + length trailer); 0 on failure. */
static size_t gzip9_size(const uint8_t *in, size_t n) {
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    size_t cap = deflateBound(&z, (uLong)n), total = 0;
    uint8_t *out = malloc(cap);
    if (!out) { deflateEnd(&z); return 0; }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END) total = z.total_out;
    deflateEnd(&z);
    free(out);
    return total;
}

/* Bytes of the .xz file xz -9 writes for in (LZMA2 preset 9, CRC-64); 0 on failure. The dictionary is capped at
 * the input's size, as xz does for a smaller file: the output is the same and the 674 MiB of a full preset-9
 * encoder are not allocated. */
static size_t xz9_size(const uint8_t *in, size_t n) {
    lzma_options_lzma opt;
    if (lzma_lzma_preset(&opt, 9)) return 0;
    if (opt.dict_size > n) opt.dict_size = n < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : (uint32_t)n;
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t cap = lzma_stream_buffer_bound(n), pos = 0;
    uint8_t *out = malloc(cap);
    if (!out) return 0;
    lzma_ret r = lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC64, NULL, in, n, out, &pos, cap);
    free(out);
    return r == LZMA_OK ? pos : 0;
}

/* ---- progress ----------------------------------------------------------------------------------- */

typedef struct progress_out {
    const char  *what;  /* "compress" | "decompress" */
    cli_progress line;
    int          shown; /* a line was printed: a short run prints none, not even the final one */
} progress_out;

static void show_progress(const lmcz_progress *p, void *user) {
    progress_out *po = user;
    int final = p->done == p->total;
    if (final && !po->shown) return;
    po->shown = 1;
    char line[256];
    snprintf(line, sizeof line, "%s: %zu/%zu bytes (%.1f%%), %zu tokens, %.1f tokens/s", po->what, p->done, p->total,
             p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, p->tokens,
             p->elapsed > 0 ? (double)p->tokens / p->elapsed : 0.0);
    cli_progress_show(&po->line, line, final);
}

/* ---- options ----------------------------------------------------------------------------------- */

typedef struct zip_args {
    const char *model, *out;
    long        threads, window;
    int         quiet;
    cli_list    in;
    const cli_spec *spec; /* compress_spec or decompress_spec */
} zip_args;

#define F(x) offsetof(zip_args, x)
#define ZIP_COMMON                                                                                              \
    CLI_MODEL(F(model), "the model (any architecture; f32 compute)"),                                           \
    CLI_THREADS(F(threads), "threads for all kernels (default 0: all cores)"),                                  \
    CLI_QUIET(F(quiet), "no progress on stderr")

static const cli_opt COMPRESS_OPTS[] = {
    CLI_OUTPUT(F(out), "OUT.lmcz", "the compressed file (written atomically)"),
    CLI_BLOCK_SIZE(F(window), 1, "the context restarts every W tokens (default 512, at most the model's limit)"),
    ZIP_COMMON, {0}};

static const cli_opt DECOMPRESS_OPTS[] = {
    CLI_OUTPUT(F(out), "OUT", "the rebuilt file (written atomically, only when it checks)"),
    ZIP_COMMON, {0}};
#undef F

const cli_spec compress_spec = {
    "compress", "code a file with a model's next-token probabilities and a range coder (.lmcz)",
    "lmc compress --model MODEL IN -o OUT.lmcz [--window W] [--threads T] [--quiet]",
    "Codes IN's bytes (any bytes) with the model's next-token probabilities. Prints the size, bits/byte and "
    "bits/char, the ideal size from the model's NLL, speed, and the gzip -9 / xz -9 sizes of the same bytes.",
    COMPRESS_OPTS, offsetof(zip_args, in), 1, 1, "IN"};

const cli_spec decompress_spec = {
    "decompress", "rebuild a file from its .lmcz with the same model",
    "lmc decompress --model MODEL IN.lmcz -o OUT [--threads T] [--quiet]",
    "Rebuilds the original byte for byte with the same model on a machine with the same arithmetic; another "
    "model, a damaged or truncated file is an error and no OUT is written.",
    DECOMPRESS_OPTS, offsetof(zip_args, in), 1, 1, "IN.lmcz"};

/* Parses, and checks what both commands need: CLI_GO, or the exit status. */
static int parse(const cli_spec *s, int argc, char **argv, zip_args *a) {
    memset(a, 0, sizeof *a);
    a->spec = s;
    int rc = cli_parse(s, argc, argv, a);
    if (rc == CLI_GO && (!a->model || !a->out)) rc = cli_usage(s, "%s needs --model and -o", s->name);
    if (rc != CLI_GO) cli_free(s, a);
    return rc;
}

/* What both commands hold while they run: the input's bytes, the model and its tokenizer, the output's lock. */
typedef struct zip_run {
    uint8_t       *in;   /* (n) the input file */
    size_t         n;
    lmc_model     *m;
    lmc_tokenizer *tok;
    lmc_outputs   *held;
    lmc_err        err;
} zip_run;

/* Refuses an output that would replace the input or the model, or cannot be written, and holds its lock; then
 * reads the input and opens the model and tokenizer (always f32 compute: its steps are thread-count independent,
 * so the decoder reproduces the encoder's probabilities). 0, or -1 with r->err and nothing held. */
static int zip_open(const zip_args *a, zip_run *r) {
    memset(r, 0, sizeof *r);
    const char *ins[] = {a->in.v[0], a->model};
    lmc_model_opts mo = {.compute = LMC_COMPUTE_F32, .threads = cli_threads(a->threads)};
    if (lmc_outputs_check(&a->out, 1, ins, 2, &r->err) || lmc_outputs_lock(&a->out, 1, &r->held, &r->err) ||
        read_raw(a->in.v[0], &r->in, &r->n, &r->err) || lmc_model_open(a->model, &mo, &r->m, &r->err) ||
        lmc_tokenizer_open(a->model, &r->tok, &r->err)) {
        lmc_model_close(r->m);
        free(r->in);
        lmc_outputs_unlock(r->held);
        return -1;
    }
    return 0;
}

/* Frees what zip_open took and the options; the exit status for rc (0, or an error in r->err). */
static int zip_close(zip_args *a, zip_run *r, int rc) {
    free(r->in);
    lmc_tokenizer_free(r->tok);
    lmc_model_close(r->m);
    lmc_outputs_unlock(r->held);
    cli_free(a->spec, a);
    return cli_exit_status(rc ? cli_fail(r->err.msg) : 0);
}

/* ---- lmc compress ------------------------------------------------------------------------------ */

int cmd_compress(int argc, char **argv) {
    zip_args a;
    int urc = parse(&compress_spec, argc, argv, &a);
    if (urc != CLI_GO) return urc;
    zip_run r;
    if (zip_open(&a, &r)) { cli_free(a.spec, &a); return cli_fail(r.err.msg); }
    const uint8_t *in = r.in;
    size_t n = r.n;
    progress_out po = {"compress", {isatty(2), 0}, 0};
    lmcz_opts o = {.window = (int)a.window, .progress = a.quiet ? NULL : show_progress, .progress_user = &po,
                   .interval = po.line.tty ? 0.5 : 5.0, .stop = cli_stop_on_signals()};
    lmcz_stats st;
    lmc_buf out = {0};
    int rc = lmcz_compress(r.m, r.tok, in, n, a.in.v[0], &o, &out, &st, &r.err);
    cli_progress_end(&po.line);
    if (rc == 0) rc = lmc_write_file_atomic(a.out, out.p, out.len, &r.err);
    lmc_buf_free(&out);
    if (rc == 0) {
        size_t gz = gzip9_size(in, n), xz = xz9_size(in, n);
        double bpb = 8.0 * (double)st.out_bytes / (double)n, ideal = (st.model_bits + st.other_bits) / 8;
        printf("%s: %zu bytes -> %s: %zu bytes: %.4f bits/byte, %.4f bits/char (%zu chars)\n", a.in.v[0], n, a.out,
               st.out_bytes, bpb, 8.0 * (double)st.out_bytes / (double)st.chars, st.chars);
        printf("  ideal %.1f bytes (the model's own NLL%s); integer tables %.1f; coded stream %zu (%+.3f%% + %d-byte "
               "header)\n", ideal, st.other_bits > 0 ? " + escapes and flat first tokens" : "", st.table_bits / 8,
               st.out_bytes - LMCZ_HEADER_BYTES, 100.0 * ((double)(st.out_bytes - LMCZ_HEADER_BYTES) / ideal - 1),
               LMCZ_HEADER_BYTES);
        printf("  %zu tokens (%zu escaped bytes), window %d (%zu contexts), %.2f s: %.1f tokens/s, %.0f bytes/s\n",
               st.tokens, st.escaped_bytes, st.window, st.contexts, st.seconds,
               st.seconds > 0 ? (double)st.tokens / st.seconds : 0.0, st.seconds > 0 ? (double)n / st.seconds : 0.0);
        printf("  gzip -9: %zu bytes (%.4f bits/byte); xz -9: %zu bytes (%.4f bits/byte)\n", gz,
               8.0 * (double)gz / (double)n, xz, 8.0 * (double)xz / (double)n);
    }
    return zip_close(&a, &r, rc);
}

/* ---- lmc decompress ---------------------------------------------------------------------------- */

int cmd_decompress(int argc, char **argv) {
    zip_args a;
    int urc = parse(&decompress_spec, argc, argv, &a);
    if (urc != CLI_GO) return urc;
    zip_run r;
    if (zip_open(&a, &r)) { cli_free(a.spec, &a); return cli_fail(r.err.msg); }
    uint8_t *out = NULL;
    size_t len = 0;
    progress_out po = {"decompress", {isatty(2), 0}, 0};
    lmcz_opts o = {.progress = a.quiet ? NULL : show_progress, .progress_user = &po,
                   .interval = po.line.tty ? 0.5 : 5.0, .stop = cli_stop_on_signals()};
    lmcz_stats st;
    int rc = lmcz_decompress(r.m, r.tok, r.in, r.n, a.in.v[0], &o, &out, &len, &st, &r.err);
    cli_progress_end(&po.line);
    if (rc == 0) rc = lmc_write_file_atomic(a.out, out, len, &r.err);
    if (rc == 0)
        printf("%s -> %s: %zu bytes (length and CRC-32 verified), %zu tokens in %.2f s: %.1f tokens/s\n", a.in.v[0],
               a.out, len, st.tokens, st.seconds, st.seconds > 0 ? (double)st.tokens / st.seconds : 0.0);
    free(out);
    return zip_close(&a, &r, rc);
}
