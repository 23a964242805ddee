/* lmc_tools.h — the library's entries behind lmc's other subcommands, next to lmc.h's model, tokenizer and
 * evaluation: the results file (write, read, merge, report, compare), compressing a file with a model,
 * converting a checkpoint, sampling for generate, speed measurement for bench, the MPI transport of ./lmc, and
 * the few helpers (buffers, files, clocks, threads) a program built on them needs. The command line (src/cli/)
 * includes only lmc.h and this header. Same conventions as lmc.h: 0 / -1 with a one-line lmc_err, nothing
 * prints, whoever allocates frees. */
#ifndef LMC_TOOLS_H
#define LMC_TOOLS_H

#include "lmc.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- helpers --------------------------------------------------------------------------------- */

/* Growable byte buffer (p is NUL-terminated when not NULL). */
typedef struct lmc_buf {
    char  *p;
    size_t len, cap;
} lmc_buf;
void lmc_buf_append(lmc_buf *b, const void *data, size_t n);
/* Room for n more bytes (and the NUL) without moving len: the caller writes at p + len. */
void lmc_buf_reserve(lmc_buf *b, size_t n);
void lmc_buf_printf(lmc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lmc_buf_free(lmc_buf *b);
/* Appends s[0..n) as a JSON string literal: UTF-8 passes through; quotes, backslashes and control bytes escaped. */
void lmc_buf_json(lmc_buf *b, const char *s, size_t n);

/* malloc/calloc/realloc/strdup for small bookkeeping allocations: on out-of-memory they call the program's
 * handler (lmc_set_oom_handler) with the calling function's name, then abort. */
#define lmc_xmalloc(n)       lmc_xmalloc_in((n), __func__)
#define lmc_xcalloc(n, size) lmc_xcalloc_in((n), (size), __func__)
#define lmc_xrealloc(p, n)   lmc_xrealloc_in((p), (n), __func__)
#define lmc_xstrdup(s)       lmc_xstrdup_in((s), __func__)
void *lmc_xmalloc_in(size_t n, const char *where);
void *lmc_xcalloc_in(size_t n, size_t size, const char *where);
void *lmc_xrealloc_in(void *p, size_t n, const char *where);
char *lmc_xstrdup_in(const char *s, const char *where);

/* Reads a whole file into a malloc'ed, NUL-terminated buffer (*len excludes the NUL). A file whose name
 * ends in ".gz" (or that starts with the gzip magic) is decompressed. */
int lmc_read_file(const char *path, char **data, size_t *len, lmc_err *err);

/* Writes data to path atomically: path.tmp.PID, fsync, rename. Never leaves a partial file at path. */
int lmc_write_file_atomic(const char *path, const void *data, size_t len, lmc_err *err);

/* Output paths, checked before any work (src/common/outpath.c): each of outs (NULL entries skipped) must not be
 * a directory, must be in an existing directory on a writable file system with space left, must not be the same
 * file as any of ins (by device and inode: another path or a link to it is caught; an input directory, such as a
 * model, by each file in it), and no two outs may be one file. -1 with one line naming the output otherwise. */
int lmc_outputs_check(const char *const *outs, size_t n_out, const char *const *ins, size_t n_in, lmc_err *err);

/* One writer per output: an exclusive flock on OUT.lock beside each of outs (NULL skipped), held until
 * lmc_outputs_unlock, which removes the lock files. Another process holding one: -1, naming its pid and lock. */
typedef struct lmc_outputs lmc_outputs;
int  lmc_outputs_lock(const char *const *outs, size_t n_out, lmc_outputs **held, lmc_err *err);
void lmc_outputs_unlock(lmc_outputs *held);

/* Wall clock in seconds (monotonic). */
double lmc_now(void);

/* ---- threads --------------------------------------------------------------------------------- */

/* The one place the thread count is set: OpenMP kernels and OpenBLAS (its OpenMP build) share it.
 * n > 0: use n threads; 0: the OpenMP default (OMP_NUM_THREADS or the core count). Returns the count in use. */
int lmc_threads_init(int n);

/* OpenBLAS's kernel family in use ("SkylakeX", "Haswell", ...) and build config. */
const char *lmc_blas_core(void);
const char *lmc_blas_config(void);

/* ---- uncertainty (src/eval/stats.h describes the estimators) ---------------------------------- */

#define LMC_BOOTSTRAP_DEFAULT 1000
#define LMC_BOOTSTRAP_SEED    1
#define LMC_BOOTSTRAP_MAX     1000000

typedef struct lmc_interval {
    double   est;       /* the point estimate: Σy/Σx (paired: the difference of the two) */
    double   se;        /* clustered standard error; NaN with fewer than 2 documents */
    double   lo, hi;    /* 95% bootstrap percentile interval; NaN when resamples == 0 */
    int      resamples; /* B */
    uint64_t seed;
    size_t   n;         /* documents */
} lmc_interval;

/* ---- results files (docs/results.md; src/eval/results.c owns the format) ------------------------ */

/* The version of the format lmc_results_write writes; a file without "schema_version" is version 0. */
#define LMC_RESULTS_SCHEMA 1

/* What a results file says about the run besides its per-file results. */
typedef struct lmc_results_meta {
    const lmc_model     *model;
    const lmc_tokenizer *tokenizer;
    const char          *model_sha256; /* lmc_model_sha256 of the model */
    int                  threads;      /* in use */
    double               wall_seconds; /* from opening the model to writing */
    int                  bootstrap;    /* resamples for each BPC's interval (0: none) */
    const char          *name;         /* the model's display name (lmc_model_name), or NULL: derived here */
} lmc_results_meta;

/* Where a model's display name came from (lmc_model_name). */
typedef enum lmc_name_source { LMC_NAME_GIVEN, LMC_NAME_CONFIG, LMC_NAME_PATH } lmc_name_source;

/* The name results and reports show for a model: `given` when not NULL (eval --name); else the config's
 * "_name_or_path" (the HF name the checkpoint was saved as); else the path's last component without .safetensors /
 * .gguf, or "ORG/NAME" for a HF cache snapshot (.../models--ORG--NAME/snapshots/HASH). Returns where it came from. */
lmc_name_source lmc_model_name(const lmc_model *m, const char *given, char *out, size_t cap);

/* Writes the results file of an evaluation (atomically: complete or absent): r[i] evaluated with eo[i] (its
 * output paths and shard), i < n; each result must carry doc_stats. */
int lmc_results_write(const char *path, const lmc_results_meta *meta, const lmc_result *r, const lmc_eval_opts *eo,
                      size_t n, lmc_err *err);

/* A data file's name as reports show it (their column) and per-data-file output paths use it (`{}`): the last
 * path component without .gz, then .jsonl / .json / .txt ("cc" for data/cc.jsonl.gz). */
void lmc_corpus_name(const char *data, char *out, size_t cap);

/* One corpus result read back. */
typedef struct lmc_corpus_result {
    char    corpus[256];      /* column name: the data file's name without directory and .jsonl/.gz/.txt */
    char    data[4096];       /* the data path as evaluated */
    char    data_sha256[65];
    long    file_num;
    int     block_size, stride;
    double  bpc, bpb, nll, zlib_bpc, tokens_per_s, seconds;
    size_t  docs, chars, bytes;
    double *y, *x;            /* (docs) bits (nll / ln 2) and characters per document: the stats' inputs */
    lmc_doc_stat *doc;        /* (docs) */
} lmc_corpus_result;

/* One results file (one model, one or more corpora). */
typedef struct lmc_results {
    char   path[4096];        /* the file read */
    char   model[256];        /* display name: the file's model.name (lmc_model_name), else the path's last component */
    char   model_path[4096];
    char   architecture[128], weights_dtype[32], compute_dtype[32];
    double parameters, wall_seconds;
    lmc_corpus_result *r;     /* (n) */
    size_t n;
} lmc_results;

/* Reads and checks a results file: malformed JSON, another lmc version (major.minor) or a newer schema_version,
 * missing or mistyped fields and per-document statistics that disagree with the totals each fail with one line
 * naming the file. */
int  lmc_results_load(const char *path, lmc_results *out, lmc_err *err);
void lmc_results_free(lmc_results *rs);

/* The interval of one corpus result (BPC, clustered by document). */
int lmc_results_interval(const lmc_corpus_result *c, int resamples, uint64_t seed, lmc_interval *out, lmc_err *err);

/* `lmc merge`: reads the parts of `lmc eval --shard I/N` runs, checks them (one evaluation, one shard count, every
 * window exactly once) and returns the merged results JSON (malloc'ed text, caller frees), bit-identical to a
 * single run's, and the merged results (*res: n_res of them, malloc'ed, each freed with lmc_result_free; the fields
 * the table prints are filled, and doc_stats when the parts carry their split by document, as parts of this lmc
 * do). *bootstrap: the parts' --bootstrap resamples, for lmc_intervals_text. Errors name the part and the
 * problem. */
int lmc_merge(const char *const *parts, size_t n_parts, char **json, lmc_result **res, size_t *n_res, int *bootstrap,
              lmc_err *err);

/* ---- reports (lmc report, lmc compare, the intervals under lmc eval's table) --------------------- */

/* Benchmark scores: a JSON object {"model name": score, ...}, or {"label": "...", "scores": {...}}. */
typedef struct lmc_scores {
    char    label[128];   /* the score's name on the plots ("score" unless the file names it) */
    char  (*model)[256];  /* (n) */
    double *score;        /* (n) */
    size_t  n;
} lmc_scores;

int  lmc_scores_load(const char *path, lmc_scores *out, lmc_err *err);
void lmc_scores_free(lmc_scores *s);

/* Reference lines: {"cc": {"slope": b, "intercept": a, "label": "..."}, ...}: score = a + b · BPC per corpus. */
typedef struct lmc_reflines {
    char   (*corpus)[256];  /* (n) */
    char   (*label)[128];   /* (n) */
    double *slope, *intercept;
    size_t  n;
} lmc_reflines;

int  lmc_reflines_load(const char *path, lmc_reflines *out, lmc_err *err);
void lmc_reflines_free(lmc_reflines *r);

typedef struct lmc_report_opts {
    int                 resamples;  /* bootstrap resamples per interval */
    uint64_t            seed;
    const lmc_scores   *scores;     /* NULL: no scatter, a dot plot of BPC per corpus instead */
    const char         *scores_path;
    const lmc_reflines *refs;       /* NULL: none */
    const char         *refs_path;
    const struct lmc_paper *paper;  /* NULL, or the paper's leaderboard (lmc_paper.h): reference rows and points on
                                     * the columns named cc, python, arxiv_math, and a note for every other column */
} lmc_report_opts;

/* Output formats of one report. */
typedef enum lmc_report_format { LMC_REPORT_HTML, LMC_REPORT_MD, LMC_REPORT_SVG } lmc_report_format;

/* Checks the files against each other (one column per corpus: the same data in every file; one result per model
 * and corpus; scores and reference lines naming known models and corpora) and renders the report. */
int lmc_report_render(const lmc_results *files, size_t n_files, const lmc_report_opts *o, lmc_report_format fmt,
                      lmc_buf *out, lmc_err *err);

/* `lmc compare A B`: the paired difference per shared corpus, as text. */
int lmc_compare_text(const lmc_results *a, const lmc_results *b, int resamples, uint64_t seed, lmc_buf *out,
                     lmc_err *err);

/* path as it fits a table column of width characters: itself, or "..." and its last width − 3 bytes (starting on
 * a UTF-8 character), written to buf (cap ≥ width + 1 bytes). Returns what to print. */
const char *lmc_fit_path(const char *path, int width, char *buf, size_t cap);

/* The lines lmc eval prints under its table: each result's BPC ± clustered SE and bootstrap interval
 * (results must carry doc_stats). */
int lmc_intervals_text(lmc_buf *out, const lmc_result *r, size_t n, int resamples, lmc_err *err);

/* ---- compressing a file with a model (.lmcz; src/compress/compress.c describes the format) ------- */

#define LMCZ_HEADER_BYTES   50  /* the header before the coded stream */
#define LMCZ_WINDOW_DEFAULT 512

/* Where a compression or decompression stands, for a progress line. */
typedef struct lmcz_progress {
    size_t done, total; /* bytes of the original coded (or rebuilt) so far, of all */
    size_t tokens;      /* symbols coded so far */
    double elapsed;     /* seconds */
} lmcz_progress;
typedef void (*lmcz_progress_fn)(const lmcz_progress *p, void *user);

typedef struct lmcz_opts {
    int              window;   /* compress: positions per context, BOS included (0: LMCZ_WINDOW_DEFAULT, at most
                                * the model's limit); the context restarts every `window` tokens. Decompress
                                * reads it from the header. */
    lmcz_progress_fn progress; /* NULL, or called about every `interval` seconds and once at the end */
    void            *progress_user;
    double           interval;
    const volatile sig_atomic_t *stop; /* NULL, or a flag (a signal handler's): once non-zero, coding stops
                                        * at the next symbol with -1 "NAME: interrupted ..." and no output */
} lmcz_opts;

typedef struct lmcz_stats {
    size_t in_bytes, chars;  /* the original: bytes; characters (UTF-8 code points, an invalid byte counts one) */
    size_t out_bytes;        /* the compressed file: header + coded stream */
    size_t tokens;           /* symbols coded: model tokens and escaped bytes */
    size_t model_tokens;     /* of those, tokens the model predicted (after BOS or another token) */
    size_t escaped_bytes;    /* bytes with no token of their own, coded after an escape symbol */
    size_t contexts;         /* context (re)starts */
    int    window;           /* positions per context */
    double model_bits;       /* Σ -log2 p(token) of the model's softmax (double), over model-predicted tokens */
    double other_bits;       /* exact cost of the symbols coded without the model (flat first tokens, escapes) */
    double table_bits;       /* Σ -log2(freq / total) of every coded symbol under the integer tables */
    double seconds;          /* coding time (model steps included; loading excluded) */
} lmcz_stats;

/* Compresses in[0..n) (n ≥ 1) with model m (f32 compute; any architecture lmc_kv_open accepts) and its tokenizer
 * into *out (appended: header, then the coded stream). `name` names the input in errors. */
int lmcz_compress(lmc_model *m, lmc_tokenizer *tok, const uint8_t *in, size_t n, const char *name,
                  const lmcz_opts *opts, lmc_buf *out, lmcz_stats *st, lmc_err *err);

/* Rebuilds the original from a compressed file's bytes. Fails, naming `name`, when the file is not one (too
 * short, wrong magic or version, damaged header), belongs to another model, tokenizer or arithmetic, is
 * truncated or damaged (an impossible symbol, bytes left over, a length or CRC-32 mismatch): never returns
 * wrong bytes. *out (malloc'ed, the caller frees) and *out_len on success only. */
int lmcz_decompress(lmc_model *m, lmc_tokenizer *tok, const uint8_t *in, size_t n, const char *name,
                    const lmcz_opts *opts, uint8_t **out, size_t *out_len, lmcz_stats *st, lmc_err *err);

/* ---- converting a checkpoint (tools/convert.h describes sources and output) --------------------- */

/* lmc_convert's dtype: each tensor keeps its own. */
#define LMC_CONVERT_KEEP_DTYPE (-1)

/* The dtype lmc_convert takes for "f32", "bf16" or "f16"; -2 for any other name. */
int lmc_convert_dtype(const char *name);

/* src → one self-describing .safetensors file at out_path (atomically). dtype: from lmc_convert_dtype, or
 * LMC_CONVERT_KEEP_DTYPE. tokenizer: the llama2.c tokenizer.bin to embed for a .bin source, or the tokenizer for a
 * .gguf source; NULL: for a .bin, the one tok*.bin beside it. */
int lmc_convert(const char *src, const char *out_path, int dtype, const char *tokenizer, lmc_err *err);

/* Fails (one line; for .gguf pointing to tools/hf_to_gguf.py) unless out_path ends in ".safetensors": a file
 * named .gguf that holds safetensors would be refused by every reader, lmc included. lmc_convert calls it
 * before any work; a command line calls it first to make it a usage error. */
int lmc_convert_check_output(const char *out_path, lmc_err *err);

/* ---- sampling (lmc generate) ------------------------------------------------------------------ */

typedef struct lmc_cand {
    float   p;
    int32_t id;
} lmc_cand;

typedef struct lmc_sampler {
    float     temperature; /* 0: greedy (argmax, lowest id on ties) */
    float     top_p;       /* in (0, 1]: sample among the fewest most likely tokens whose mass reaches top_p */
    uint64_t  rng;         /* PRNG state (the seed): splitmix64, the same text for a seed on every machine */
    /* scratch, grown on demand and owned by the sampler (lmc_sampler_free) */
    float    *probs;       /* (cap) */
    lmc_cand *cand;        /* (cap) the nucleus candidates */
    size_t    cap;
} lmc_sampler;

/* The next token among ids 0..n-1 of logits (n floats; logits are not modified). */
int32_t lmc_sample(lmc_sampler *s, const float *logits, int n);
void    lmc_sampler_free(lmc_sampler *s);

/* ---- speed (lmc bench; src/eval/bench.c) ----------------------------------------------------- */

typedef struct lmc_bench_opts {
    const char *shape;        /* a shape (lmc_bench_shape) whose random weights are generated in memory, or NULL */
    const char *model;        /* a model path, when shape is NULL */
    lmc_compute compute;
    const char *weights;      /* the generated weights' dtype, "f32" or "bf16"; NULL: that of compute; under int8
                               * compute also "q8_0", "q4_0", "q4_k", "q6_k": a bf16 image whose layer matrices
                               * the model holds in that type (lmc_model_opts.int8_weights) */
    int         W, S, K;      /* window length, stride, windows measured (after one warm-up window) */
    int         layers;       /* > 0: the shape with only this many layers */
    int         threads;      /* in use (lmc_threads_init) */
    size_t      memory_limit; /* as lmc_model_opts; 0: what is available (plus the generated weights) */
} lmc_bench_opts;

#define LMC_BENCH_SPLITS 8

/* What K windows took, and the references to compare it with. Times are summed over the K windows. */
typedef struct lmc_bench_result {
    char        architecture[128], weights_dtype[32];
    int64_t     n_params;
    size_t      mapped_bytes, resident_bytes; /* as lmc_model_desc */
    double      weights_bytes;   /* of the weight file(s) */
    double      t_gen, t_load;   /* seconds generating the weights, loading the model */
    double      t_total, cpu;    /* wall and CPU (all threads) seconds over the windows */
    double      flops_layers, flops_attn, flops_head; /* counted FLOPs of one window */
    double      sgemm_gflops;    /* cblas_sgemm at the model's matrix shapes with W rows, measured in this run */
    double      peak, peak_lo, peak_hi; /* bf16/int8 compute: the GEMM path's peak GFLOP/s (int8: GOP/s) sampled
                                         * around the windows
                                         * (mean, lowest, highest); 0 for f32 */
    int         peak_n;          /* samples */
    const char *peak_kind, *gemm_path; /* which peak ("vdpbf16ps", "vpdpbusd", ...) and the compute's GEMM path
                                        * ("avx512bf16", "vnni512", ...); NULL for f32 */
    double      bf16_peak;       /* int8 compute: the vdpbf16ps peak sampled beside its own (mean), else 0 */
    int         act_block;       /* int8 compute: values per activation scale (32), else 0 */
    double      widen;           /* f32 compute: seconds to widen every 16-bit weight to f32 once */
    int         n_split;         /* the time split by stage: */
    const char *split_name[LMC_BENCH_SPLITS];
    double      split[LMC_BENCH_SPLITS];
    double      t_matmul, t_attention; /* of those, layer matmuls and attention */
    double      peak_rss_gb;
    const char *cpu_features;    /* the CPU features the kernels dispatch on */
} lmc_bench_result;

/* The name of shape i (tinyllama-1.1b, llama2-7b, ...); NULL past the last. */
const char *lmc_bench_shape(int i);

/* Generates the shape's weights (or opens the model), runs one warm-up window and K measured windows of random
 * ids as lmc eval runs them, and measures the references. */
int lmc_bench_run(const lmc_bench_opts *o, lmc_bench_result *r, lmc_err *err);

/* ---- MPI (src/eval/mpi_shard.c: linked into an MPI build of ./lmc only, never into the library) ---- */

typedef struct lmc_dist lmc_dist; /* the ranks of one job sharing an evaluation (lmc_eval_opts.dist) */

/* Starts MPI when this process was launched by an MPI launcher (mpirun / mpiexec / srun: its environment says
 * so) and returns the job; *out = NULL when run on its own (no MPI start-up cost, no singleton runtime). */
int lmc_mpi_start(int *argc, char ***argv, lmc_dist **out, lmc_err *err);

/* This process's rank and the number of ranks in the job. */
void lmc_mpi_rank(const lmc_dist *d, int *rank, int *size);

/* Threads per rank when --threads is not given: the CPUs this rank may use, shared with the other ranks on the
 * same host when the launcher did not bind it to a subset. */
int lmc_mpi_default_threads(const lmc_dist *d);

/* Ends the job after an error on this rank: every rank is stopped with exit status `code`. Does not return. */
void lmc_mpi_abort(lmc_dist *d, int code);

/* Waits for every rank, shuts MPI down and frees d (NULL: nothing). */
int lmc_mpi_finish(lmc_dist *d);

/* "Open MPI v4.1.4, ..." (the library's own version line). */
const char *lmc_mpi_version(void);

#ifdef __cplusplus
}
#endif
#endif
