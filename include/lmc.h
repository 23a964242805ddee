/* lmc.h — public API of lmc, a transformer inference engine that measures how well a language model
 * compresses text (bits per character), following "Compression Represents Intelligence Linearly".
 *
 * Conventions used across the library:
 *   - Functions that can fail return 0 on success and -1 on error, and fill an lmc_err with one line that
 *     names the file (when there is one) and the problem. Nothing in the library prints or exits.
 *   - Whoever allocates frees: every *_open / *_load has a matching *_close / *_free.
 *   - Model weights are mmapped read-only and never copied unless a dtype conversion asks for it.
 */
#ifndef LMC_H
#define LMC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LMC_VERSION "0.1.0"

/* ---- errors ---------------------------------------------------------------------------------- */

typedef struct lmc_err {
    char msg[1024]; /* one line, no trailing newline; "" when no error */
} lmc_err;

/* Formats msg into err (printf-style) and returns -1, so callers can write `return lmc_fail(err, ...)`. */
int lmc_fail(lmc_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Small bookkeeping allocations (names, lists, the tokenizer's tables) and the forward pass's scratch do not
 * report errors: when one fails the library calls this handler with the size asked for and what it was for (the
 * allocating function's name, or a phrase), then abort()s if the handler returns. The default handler does
 * nothing; a program may install one that says so and exits (lmc does: one line on stderr, exit status 1; no
 * output is partial then, since every output is written whole at the end). Large buffers are checked and reported
 * through lmc_err. */
typedef void (*lmc_oom_handler)(size_t bytes, const char *what);
void lmc_set_oom_handler(lmc_oom_handler h);

/* ---- corpus ---------------------------------------------------------------------------------- */

typedef struct lmc_doc {
    char  *text;  /* UTF-8, NUL-terminated for convenience, but may contain NUL: use len */
    size_t len;   /* bytes */
    size_t chars; /* Unicode code points (Python len) */
} lmc_doc;

/* How a corpus file is read: JSON Lines (each record's "content" a document) or plain text (the whole file one
 * document). */
typedef enum lmc_format {
    LMC_FORMAT_AUTO = 0,  /* by content: see lmc_corpus_load (in a result: not known, e.g. merged shards) */
    LMC_FORMAT_JSONL = 1,
    LMC_FORMAT_TEXT = 2,
} lmc_format;

/* "auto", "jsonl", "text"; NULL for a value outside the enum. */
const char *lmc_format_name(lmc_format f);
/* The format a name ("auto", "jsonl", "text") stands for: 0, or -1 for any other name. */
int lmc_format_parse(const char *name, lmc_format *out);
/* What a file's name alone says: JSONL for .jsonl, .json, .ndjson (also .gz), else TEXT (content may say JSONL). */
lmc_format lmc_format_by_name(const char *path);

typedef struct lmc_corpus {
    lmc_format format; /* LMC_FORMAT_JSONL or LMC_FORMAT_TEXT: how the file was read */
    lmc_doc *docs;     /* (n_docs) non-empty documents, in file order */
    size_t   n_docs;
    size_t   records;  /* records read (before empty documents were dropped) */
    size_t   skipped;  /* bad records skipped (only with skip_bad) */
    size_t   chars;    /* Σ docs[i].chars */
    size_t   bytes;    /* Σ docs[i].len */
} lmc_corpus;

typedef struct lmc_corpus_opts {
    long file_num; /* keep the first file_num records (-1: all), counted before empty docs are dropped */
    int  skip_bad; /* 1: skip malformed records (counted in `skipped`) instead of failing */
    lmc_format format; /* LMC_FORMAT_AUTO (0): see lmc_corpus_load; JSONL / TEXT: read the file so, whatever
                        * its name and content */
} lmc_corpus_opts;

/* Reads a JSON Lines or plain UTF-8 text file (.gz: gunzipped first). With format AUTO, a file named .jsonl,
 * .json or .ndjson (.gz too) is JSONL (and fails when it is not); any other is JSONL when its first non-blank
 * line (after an optional UTF-8 BOM) is a JSON object whose "content" is a string, else plain text.
 * out->format says which. */
int  lmc_corpus_load(const char *path, const lmc_corpus_opts *opts, lmc_corpus *out, lmc_err *err);
void lmc_corpus_free(lmc_corpus *c);

/* ---- tokenizer ------------------------------------------------------------------------------- */

typedef struct lmc_tokenizer lmc_tokenizer;

/* Loads a tokenizer from a directory (tokenizer.json[.gz] + tokenizer_config.json, or qwen.tiktoken[.gz])
 * or from a model file written by `lmc convert`, or from a .gguf file (its tokenizer.ggml.* metadata). */
int  lmc_tokenizer_open(const char *path, lmc_tokenizer **out, lmc_err *err);
void lmc_tokenizer_free(lmc_tokenizer *tok);

/* Tokenizes text[0..len) as HF transformers' AutoTokenizer.encode would (add_special = 1: BOS per docs/SPEC.md §2).
 * *ids is malloc'ed (caller frees), *n_ids its length. Fails on invalid UTF-8. */
int lmc_tokenize(lmc_tokenizer *tok, const char *text, size_t len, int add_special,
                 int32_t **ids, size_t *n_ids, lmc_err *err);

/* The bytes token `id` stands for (the inverse of the encoder: byte-level BPE undone, SentencePiece's "▁" as a
 * space, a byte-fallback "<0xXX>" as that byte), written to out when they fit in cap; returns their count
 * (snprintf-style: more than cap means truncated), 0 for a special token (BOS, EOS: not text), -1 for an id the
 * tokenizer does not have. A token may end inside a UTF-8 character: see lmc_utf8_ready. */
long lmc_token_bytes(lmc_tokenizer *tok, int32_t id, char *out, size_t cap);

/* 1 when `id` is a special token (BOS, EOS, chat markers: added tokens marked special), else 0. */
int lmc_token_special(lmc_tokenizer *tok, int32_t id);

/* How many leading bytes of s[0..n) can be written now when more bytes may follow: all but a trailing UTF-8
 * sequence that is incomplete so far (held back until the next token completes it). */
size_t lmc_utf8_ready(const char *s, size_t n);

/* Number of ids the tokenizer can produce (max id + 1; a model's logits may have more). */
int lmc_tokenizer_vocab_size(const lmc_tokenizer *tok);

/* SHA-256 hex of the tokenizer's source bytes (tokenizer.json + config, or ranks/bin), for fingerprints. */
const char *lmc_tokenizer_hash(const lmc_tokenizer *tok);

/* ---- model ----------------------------------------------------------------------------------- */

typedef struct lmc_model lmc_model;

typedef enum lmc_compute {
    LMC_COMPUTE_F32 = 0,  /* all activations f32; bf16/f16 weights widened tile by tile (exact) */
    LMC_COMPUTE_BF16 = 1, /* bf16 x bf16 dot products with f32 accumulation (AVX512_BF16 when present) */
    /* int8 x int8 matmuls (weights as a GGUF stores them, F32/F16/BF16 ones quantized once to Q8_0; activations
     * quantized per 32 values), attention as under bf16: a different measurement from f32/bf16, not an
     * approximation of them (docs/performance.md "int8") */
    LMC_COMPUTE_INT8 = 2,
} lmc_compute;

/* "f32" / "bf16" / "int8" for a compute mode (the spelling of --dtype and of the results' compute_dtype). */
const char *lmc_compute_name(lmc_compute c);
/* The compute mode a name spells: 0, or -1 when it is none of them (*out unchanged). */
int lmc_compute_parse(const char *name, lmc_compute *out);

typedef struct lmc_model_opts {
    lmc_compute compute;
    int         threads;         /* > 0: lmc_threads_init(threads) when the model opens: the count every kernel and
                                  * OpenBLAS use, process-wide; 0: as already set (default: all cores) */
    size_t      memory_limit;    /* bytes of memory + swap the model may take; 0: MemAvailable + SwapFree */
    /* bf16 compute keeps a packed copy of the weights resident when weights + copy take at most this many
     * bytes, else packs each matrix inside each call; 0: half the available memory (1 GB when unknown) */
    size_t      bf16_pack_limit;
    /* int8 compute: the layer matrices stored as F32/F16/BF16 are held as this ggml type (lmc_dtype: 0 = Q8_0, or
     * Q4_0 / Q4_K / Q6_K: random weights of lmc bench --weights; quantized through Q8_0), lm_head as Q8_0 */
    int         int8_weights;
} lmc_model_opts;

/* path: a HF checkpoint directory (config.json + model.safetensors or a sharded index), a single
 * .safetensors file written by `lmc convert`, or a GGUF file (src/model/gguf_weights.c). */
int  lmc_model_open(const char *path, const lmc_model_opts *opts, lmc_model **out, lmc_err *err);
void lmc_model_close(lmc_model *m);

/* What a loaded model is (the strings live as long as the model). */
typedef struct lmc_model_desc {
    const char *path;          /* as opened */
    const char *architecture;  /* HF architectures[0], e.g. "LlamaForCausalLM" */
    int64_t     n_params;      /* tied matrices counted once */
    const char *weights_dtype; /* "F32", "BF16", "F16" or "mixed"; a GGUF model's quantized type ("Q8_0",
                                * "Q4_K mixed": the type of most weights, others present) */
    lmc_compute compute;
    int         dim, vocab;    /* final hidden width, logits per position */
    int         max_window;    /* > 0: the longest window the model allows */
    int         trained_context; /* > 0: the context the model was trained with (config max_position_embeddings,
                                  * n_positions, seq_length or max_sequence_length; a GGUF's context_length);
                                  * longer windows run, but positions past it are extrapolated */
    const char *name_or_path;  /* the config's "_name_or_path" (the HF name it was saved as), or NULL */
    const char *kernels;       /* which matmul / attention kernels this CPU runs for `compute`, e.g.
                                * "bf16 GEMM avx512bf16, bf16 attention" or "f32 sgemm (OpenBLAS), f32 attention" */
    size_t      mapped_bytes;  /* weight bytes read in place from the mmapped file(s) */
    size_t      resident_bytes;/* weight bytes the model holds itself: packed bf16 copies, re-laid-out matrices
                                * (GGUF Llama Q/K rows, fused QKV), f32 norms and biases */
} lmc_model_desc;
void lmc_model_describe(const lmc_model *m, lmc_model_desc *out);

/* sha256 over: the config (cJSON unformatted print of the parsed config), then for every tensor in name order
 * its name, dtype, shape and byte size, then weight bytes: all of them when the weights total at most 64 MiB,
 * otherwise all of each tensor up to 256 KiB and, of larger tensors, 64 evenly spaced 4 KiB slices (first and
 * last included). Cheap (well under a second for the sampled case) and independent of the file's layout and path. */
void lmc_model_sha256(const lmc_model *m, char hex[65]);

/* One pass over every weight: fails, naming the file, tensor and element, at the first NaN or Inf. */
int lmc_model_check_finite(const lmc_model *m, lmc_err *err);

/* Fails, naming both files and both sizes, when the tokenizer has more tokens than the model has embedding rows
 * (logits per position): a tokenizer of another model, whose ids would run past the embedding table. tok_path
 * names the tokenizer in the message (NULL: the path it was opened from). lmc_evaluate, lmcz_compress and
 * lmcz_decompress call it; a program that steps a model on its own tokens (generate) should too. */
int lmc_check_tokenizer_fits(const lmc_model *m, const lmc_tokenizer *tok, const char *tok_path, lmc_err *err);

/* ---- incremental decoding (a KV cache per sequence) ------------------------------------------- */

typedef struct lmc_kv lmc_kv;

/* Bytes one position of a sequence takes in a KV cache of this model (keys and values of every layer, f32), or
 * 0 when its architecture has no incremental decoding yet. */
size_t lmc_kv_bytes_per_token(const lmc_model *m);

/* An empty cache (f32, also under bf16 compute) with room for max_tokens positions of one sequence. Fails with
 * one line when the architecture has no incremental decoding, when max_tokens exceeds the model's window limit,
 * or when the cache does not fit in the memory available (the message gives the size needed and per token). */
int  lmc_kv_open(lmc_model *m, int max_tokens, lmc_kv **out, lmc_err *err);
void lmc_kv_free(lmc_kv *kv);
int  lmc_kv_pos(const lmc_kv *kv);   /* positions filled so far */
int  lmc_kv_cap(const lmc_kv *kv);   /* positions the cache has room for */
void lmc_kv_reset(lmc_kv *kv);       /* forgets every position (a new sequence) */

/* Appends n >= 1 tokens at positions pos..pos+n-1 (pos = lmc_kv_pos) and writes the logits (vocab) of the last
 * one. The logits agree with a prefill's (lmc_model_logits of the whole sequence) to rounding, not bit for bit:
 * the attention and the matmuls sum in another order (under bf16 compute, the prefill's attention also rounds
 * q, k, v to bf16 where a step's does not). Fails when the cache has no room for n more. */
int lmc_model_step(lmc_model *m, lmc_kv *kv, const int32_t *tokens, int n, float *logits, lmc_err *err);

/* ---- evaluation ------------------------------------------------------------------------------ */

/* Where an evaluation stands, reported to lmc_eval_opts.progress. */
typedef struct lmc_progress {
    const char *data;          /* the corpus path */
    size_t      done, total;   /* windows finished (resumed + computed), of all */
    size_t      resumed;       /* windows taken from the checkpoint */
    double      elapsed;       /* seconds since the first window */
    double      eta;           /* seconds left at the rate so far (NaN before a window was computed; 0 when final) */
    double      window_tokens_per_s; /* W per window computed in this run, per second elapsed */
    double      bpc;           /* running BPC over the windows finished */
    int         final;         /* 1 on the last report */
} lmc_progress;
typedef void (*lmc_progress_fn)(const lmc_progress *p, void *user);

struct lmc_dist; /* the ranks of one MPI job sharing an evaluation (src/eval/dist.h) */

#define LMC_SHARDS_MAX 1000000 /* lmc_eval_opts.shard_count */

typedef struct lmc_eval_opts {
    int         block_size; /* W, default 1900 */
    int         stride;     /* S, default 512 */
    long        file_num;   /* -1: all records */
    int         skip_bad;   /* skip malformed corpus records (counted) instead of failing */
    lmc_format  format;     /* the corpus file's format (lmc_corpus_opts.format): 0 = AUTO */
    lmc_progress_fn progress;   /* NULL: no reports; else called at most every progress_interval s, and at the end */
    void           *progress_user;     /* passed to progress */
    double          progress_interval; /* seconds; 0: after every window */
    const char *checkpoint; /* NULL, or a file recording finished windows for resume (src/eval/checkpoint.h) */
    const char *per_window; /* NULL, or a JSONL file: one line per window (k, start, scored, nll) */
    const char *per_doc;    /* NULL, or a JSONL file: one line per document (index, chars, bytes, tokens,
                             * scored_tokens, nll) */
    const char *model_sha256; /* NULL, or lmc_model_sha256 of the model, computed once by the caller (else computed
                               * here when a checkpoint needs it) */
    int         doc_stats;  /* 1: fill lmc_result.doc_stats (the caller frees it with lmc_result_free) */
    int         shard_index;  /* with shard_count > 0: compute only the windows k with k mod shard_count ==
                               * shard_index (0-based) and return a partial result (lmc_result.window_nll) */
    int         shard_count;  /* 0: all windows; at most LMC_SHARDS_MAX */
    struct lmc_dist *dist;    /* NULL, or the job whose ranks share this evaluation: each computes its share of
                               * the windows not yet done; rank 0 alone gets the complete result and writes the
                               * per-window / per-document logs */
    const volatile sig_atomic_t *stop; /* NULL, or a flag (a signal handler's): once non-zero, the evaluation ends
                               * at the next window boundary, every finished window in the checkpoint, with -1
                               * and "DATA: interrupted after window k of n; rerun the same command to resume" */
} lmc_eval_opts;

/* One document's share of a result: what a standard error clustered by document needs (src/eval/stats.h). */
typedef struct lmc_doc_stat {
    double nll;           /* nats over the scored targets that lie in this document (window order) */
    size_t tokens;        /* its tokens, BOS included */
    size_t scored_tokens; /* of those, targets scored by some window */
    size_t chars, bytes;  /* code points, UTF-8 bytes */
} lmc_doc_stat;

/* One document's share of one window's NLL: the window's scored rows whose target lies in document `doc`, added
 * in row order. What a per-document NLL is rebuilt from, window by window (checkpoints, shards, MPI ranks). */
typedef struct lmc_doc_part {
    size_t doc;
    double nll;
} lmc_doc_part;

typedef struct lmc_result {
    char   data[4096];  /* corpus path */
    double nll;         /* nats, Σ over scored targets (double): window sums added in window order */
    double bpc, bpb, token_ppl;
    size_t docs, chars, bytes, tokens, windows, scored_tokens, skipped;
    size_t records;     /* records read (before empty documents were dropped) */
    lmc_format format;  /* how the corpus file was read: JSONL or TEXT (AUTO: not known, e.g. merged shards) */
    int    block_size, stride;
    long   file_num;
    double zlib_bpc;    /* baseline: 8 · |zlib level 9 (concatenated documents)| / chars */
    size_t zlib_bytes;  /* that compressed size (zlib format: 2-byte header + deflate + 4-byte Adler-32) */
    double seconds;
    double forward_seconds; /* time in the forward + scoring of windows computed in this run */
    double tokens_per_s; /* window tokens (W per computed window) per second of forward time */
    size_t resumed_windows; /* windows taken from the checkpoint instead of being computed */
    size_t torn_records;    /* torn last checkpoint records dropped at resume (0 or 1) */
    char   data_sha256[65];   /* of the data file's bytes */
    char   tokens_sha256[65]; /* of the token stream (int32 little-endian) */
    lmc_doc_stat *doc_stats;  /* (docs) with lmc_eval_opts.doc_stats, else NULL; owned: lmc_result_free. In a
                               * partial (--shard) result each nll covers only this shard's windows */
    size_t computed_windows;  /* windows computed in this run (by every rank of an MPI job) */
    int    partial;           /* 1: a --shard result: nll and the ratios cover only this shard's windows */
    double *window_nll;       /* (windows) with shard_count > 0: each window's NLL, NaN for the windows of other
                               * shards; else NULL. Freed by lmc_result_free */
    lmc_doc_part *window_parts; /* with shard_count > 0: window k's NLL split by document is window_parts[
                               * window_part_off[k] ..+ window_part_n[k]) (0 parts for other shards' windows), what
                               * lmc merge rebuilds doc_stats from; else NULL. Freed by lmc_result_free */
    size_t *window_part_off, *window_part_n; /* (windows) */
    char   *fingerprint;      /* with a checkpoint, a shard or MPI: what the NLL depends on (checkpoint.h
                               * lmc_ckpt_fp_text); else NULL. Freed by lmc_result_free */
} lmc_result;

/* Frees what a result owns (doc_stats, window_nll, window parts, fingerprint); the struct itself is the
 * caller's. */
void lmc_result_free(lmc_result *r);

/* The share of prediction targets (tokens − 1: every token but the first) that some window scored. Below 1 when
 * the tail after the last window is left unscored (docs/SPEC.md §3): its characters still count, so the BPC is
 * then biased low by roughly the unscored share. 1 for a result without tokens. */
double lmc_result_scored_fraction(const lmc_result *r);

/* Evaluates one corpus file: documents → tokens → windows → forward → scored NLL (docs/SPEC.md §1–4). */
int lmc_evaluate(lmc_model *m, lmc_tokenizer *tok, const char *data_path, const lmc_eval_opts *opts,
                 lmc_result *res, lmc_err *err);

#ifdef __cplusplus
}
#endif
#endif
