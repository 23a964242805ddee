/* checkpoint.h — resumable evaluation, and model identity / integrity helpers.
 *
 * A checkpoint is one text file per (model, data file, settings): a header that fingerprints everything the
 * windows' NLL depends on, then one line per finished window holding that window's NLL as the exact bits of
 * the double (hex), split by document. The evaluator re-sums the stored values in window order, so a resumed
 * run reports a result bit-identical to an uninterrupted one.
 *
 *   lmc-checkpoint 1
 *   lmc_version 0.1.0                      ┐
 *   lmc_build <hex>                        │ (sha256 of the executable) — the numbers are bit-identical only
 *   blas <OpenBLAS config / core>          │ for the same build, BLAS and CPU kernel path, so all three count
 *   cpu <features>                         │
 *   model_sha256 <hex>                     │ compared on open: any difference is refused, and the error
 *   tokenizer_sha256 <hex>                 │ lists every field that differs
 *   compute f32                            │
 *   data_sha256 <hex>                      │ (sha256 of the data file's bytes as stored)
 *   file_num -1 / skip_bad 0               │
 *   block_size 1900 / stride 512           │
 *   docs D / tokens N / windows K          │
 *   tokens_sha256 <hex>                    ┘ (sha256 of the token ids, int32 little-endian)
 *   model_path <path> / data_path <path>     informational: moving the files does not invalidate
 *   end c<crc32 of every header byte before this line, 8 hex digits>
 *   w <k> <nll bits, 16 hex> <n> <doc> <bits> ... <doc> <bits> c<crc32 of the line before " c">
 *   ...
 *
 * A record's parts are (document index, Σ NLL of the window's scored targets in that document, summed in
 * row order); the window's own NLL is the sum of all its rows in row order (what lmc_score_rows returns).
 *
 * Durability: the header is written and fsynced (file and directory) before any record. Each record is
 * appended with one write(2) as soon as its window is scored, so a killed process (SIGKILL, OOM killer)
 * loses nothing it finished; the file is fsynced at most every second and on close, so a power loss loses
 * at most about the last second of windows. A torn last line (a kill or crash during its write: no newline,
 * or a bad checksum on the final line) is dropped and cut off the file; a bad line anywhere else means the
 * file was damaged or edited, and the checkpoint is refused. The file is locked (flock) while open: a second
 * process on the same checkpoint is refused. */
#ifndef LMC_CHECKPOINT_H
#define LMC_CHECKPOINT_H

#include "lmc.h"
#include "model/model.h"
#include "common/util.h"

#include <stddef.h>
#include <stdint.h>

/* Everything a window's NLL depends on. */
typedef struct lmc_ckpt_fp {
    char   lmc_version[32];
    char   lmc_build[65];        /* sha256 of the running executable: another build may round differently */
    char   blas[200];            /* OpenBLAS config and kernel core in use */
    char   cpu[200];             /* CPU features the kernels dispatch on */
    char   model_sha256[65];     /* lmc_model_sha256 */
    char   tokenizer_sha256[65];
    char   compute[8];           /* "f32" | "bf16" */
    char   data_sha256[65];
    long   file_num;
    int    skip_bad;
    int    block_size, stride;
    size_t docs, tokens, windows;
    char   tokens_sha256[65];
    char   model_path[1024], data_path[1024]; /* informational, not compared */
} lmc_ckpt_fp;

/* The fingerprint of evaluating data file `data_path` (its sha256 and token stream in r, n_docs documents, r's
 * windows) with model m, tokenizer tok and opts o: the build, BLAS and CPU are this process's. model_sha256:
 * lmc_model_sha256 of m when the caller has it, else NULL (computed here). */
void lmc_ckpt_fingerprint(lmc_ckpt_fp *fp, const lmc_model *m, const char *model_sha256, const lmc_tokenizer *tok,
                          const lmc_eval_opts *o, const char *data_path, const lmc_result *r, size_t n_docs);

/* One document's share of a window's NLL (lmc.h). */
typedef lmc_doc_part lmc_ckpt_part;

typedef struct lmc_ckpt lmc_ckpt;

/* Opens the checkpoint at `path`, creating it (header only) when it is absent or empty, and loads its finished
 * windows. Fails when the file is not an lmc checkpoint, was made for another fingerprint (the message lists
 * the fields that differ), is damaged before its last line, or is locked by another process. A torn last
 * record is dropped (counted in lmc_ckpt_torn). */
int lmc_ckpt_open(const char *path, const lmc_ckpt_fp *fp, lmc_ckpt **out, lmc_err *err);

/* Windows already recorded, and torn records dropped at open. */
size_t lmc_ckpt_done(const lmc_ckpt *c);
size_t lmc_ckpt_torn(const lmc_ckpt *c);

/* 1 and the stored values when window k is recorded (parts valid until the next append/close), else 0. */
int lmc_ckpt_get(const lmc_ckpt *c, size_t k, double *nll, const lmc_ckpt_part **parts, size_t *n_parts);

/* Records window k (k < windows, not yet recorded; nll and every part finite). */
int lmc_ckpt_append(lmc_ckpt *c, size_t k, double nll, const lmc_ckpt_part *parts, size_t n_parts, lmc_err *err);

/* fsyncs, unlocks, closes and frees (c may be NULL). Returns -1 when the final fsync fails. */
int lmc_ckpt_close(lmc_ckpt *c, lmc_err *err);

/* The fingerprint as the "key value" lines of a checkpoint header (no magic, no end line): what partial results
 * (--shard) carry and what MPI ranks compare, so they identify an evaluation exactly as a checkpoint does. */
void lmc_ckpt_fp_text(const lmc_ckpt_fp *fp, lmc_buf *out);

/* Compares two fingerprint texts field by field (the fields a checkpoint compares; the informational paths
 * are ignored). Returns the number of fields that differ and lists their names in diff ("a, b"); a field
 * missing from either text counts as differing. */
int lmc_ckpt_fp_diff(const char *a, const char *b, lmc_buf *diff);

/* ---- file identity ---- */

/* sha256 of a file's bytes (streamed). */
int lmc_file_sha256(const char *path, char hex[65], lmc_err *err);

#endif
