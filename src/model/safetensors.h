/* safetensors.h — named tensor views over mmapped safetensors files (single file, or HF sharded checkpoint
 * with model.safetensors.index.json), and a writer for `lmc convert`. Knows no architecture. */
#ifndef LMC_SAFETENSORS_H
#define LMC_SAFETENSORS_H

#include "lmc.h"
#include <stddef.h>
#include <stdint.h>

/* F32, BF16, F16: the element types of safetensors files. The others are ggml's block-quantized types, which
 * only GGUF files hold (src/model/gguf_weights.c): a row is a run of whole blocks, widened by kernels/dequant.h. */
typedef enum lmc_dtype {
    LMC_F32 = 0, LMC_BF16 = 1, LMC_F16 = 2,
    LMC_Q8_0 = 3, LMC_Q4_0 = 4, LMC_Q4_K = 5, LMC_Q6_K = 6, LMC_Q5_0 = 7,
} lmc_dtype;
#define LMC_N_DTYPES 8

size_t      lmc_dtype_size(lmc_dtype dt);   /* bytes per element; 0 for a block-quantized type */
const char *lmc_dtype_name(lmc_dtype dt);   /* "F32", "BF16", "F16", "Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q5_0" */
int         lmc_dtype_quantized(lmc_dtype dt); /* 1 for the block-quantized types */
/* Bytes of n consecutive elements (for a quantized type n must be a multiple of its block: a row). */
size_t      lmc_dtype_bytes(lmc_dtype dt, int64_t n);
/* Widens n elements of src (whole blocks for a quantized type) to f32, exactly as ggml does. */
void        lmc_dtype_to_f32(lmc_dtype dt, const void *src, float *dst, int64_t n);
/* Parses a user-facing dtype name, case-insensitive: f32|float32, bf16|bfloat16, f16|fp16|float16.
 * Returns 0, or -1 when s names none of them. */
int         lmc_dtype_parse(const char *s, lmc_dtype *out);

typedef struct lmc_tensor {
    const char *name;     /* owned by the lmc_weights */
    lmc_dtype   dtype;
    int         ndim;     /* 0..4 */
    int64_t     shape[4];
    int64_t     numel;
    const void *data;     /* points into the read-only mmap; aligned to the element size whenever the file's
                           * layout is (every file HF's safetensors or lmc_st_write produces); not checked */
    size_t      nbytes;
    int         file;     /* index of the shard file it lives in */
    int         gguf_layout; /* 1: laid out as llama.cpp's converter writes it, which the loader must know where
                              * HF's layout differs: GPT-2's Conv1D weights already [out, in], fused QKV already
                              * [Q | K | V] (arch/load.c) */
} lmc_tensor;

typedef struct lmc_weights lmc_weights;

/* path: a .safetensors file, a sharded index (*.index.json), or a directory holding model.safetensors
 * (preferred, as HF does) or model.safetensors.index.json. Validates every header: length within the file,
 * JSON well-formed, known dtype, shape × dtype size == byte range, offsets inside the data section and
 * non-overlapping, tensor names unique across shards, every shard named by the index present and holding the
 * tensors mapped to it.
 *
 * Unsupported dtypes: a tensor whose dtype the safetensors format defines but lmc does not compute with
 * (F64, I64, I32, U8, BOOL, F8_*, ...) is validated like any other, but it is not an lmc_tensor: count/at/find
 * do not see it, lmc_weights_get names it in its error, lmc_weights_unsupported_* list it. A checkpoint may
 * hold such buffers without the model needing them. A dtype string the format does not define is a header
 * error at open. */
int  lmc_weights_open(const char *path, lmc_weights **out, lmc_err *err);
/* A GGUF file (path ends in .gguf or starts with the magic "GGUF"; lmc_weights_open dispatches here) as HF-named
 * tensors with a synthesized config.json in the "lmc.config" metadata (src/model/gguf_weights.c). */
int  lmc_gguf_weights_open(const char *path, lmc_weights **out, lmc_err *err);
void lmc_weights_close(lmc_weights *w);

size_t            lmc_weights_count(const lmc_weights *w);
const lmc_tensor *lmc_weights_at(const lmc_weights *w, size_t i);
const lmc_tensor *lmc_weights_find(const lmc_weights *w, const char *name); /* NULL when absent */
size_t            lmc_weights_total_bytes(const lmc_weights *w);            /* Σ tensor bytes */
/* find falls back to a torch shared-tensor alias: when `name` is not a tensor but some file's __metadata__
 * maps name → another tensor's name (e.g. TinyStories-656K-f32: "model.embed_tokens.weight" →
 * "lm_head.weight"), the tensor it names is returned (its ->name is the stored name). One level only. */

/* Like find, but fails with a one-line error naming the file: "no tensor X" or "tensor X has dtype I64,
 * not supported (lmc reads F32, BF16, F16)". */
const lmc_tensor *lmc_weights_get(const lmc_weights *w, const char *name, lmc_err *err);

/* Tensors present in the headers with a dtype lmc cannot use, in file order. *dtype gets its name. */
size_t      lmc_weights_unsupported_count(const lmc_weights *w);
const char *lmc_weights_unsupported_at(const lmc_weights *w, size_t i, const char **dtype);

/* __metadata__ string value of the (first) file, or NULL. For a sharded checkpoint the first file is the
 * first shard name in byte order (model-00001-of-...). A file written by `lmc convert` has "lmc.format". */
const char *lmc_weights_meta(const lmc_weights *w, const char *key);
size_t      lmc_weights_meta_count(const lmc_weights *w);            /* entries of the first file */
const char *lmc_weights_meta_at(const lmc_weights *w, size_t i, const char **value); /* returns the key */

/* Path of the file that `t` lives in (for error messages). */
const char *lmc_weights_file_path(const lmc_weights *w, int file);

/* ---- weights held elsewhere (the GGUF adapter, src/model/gguf_weights.c) ----
 * A weights object whose tensors point into memory another reader owns: `owner` is released with
 * release(owner) at close, after every buffer handed to lmc_weights_add. Names and metadata are copied. */
lmc_weights *lmc_weights_new(const char *path, void *owner, void (*release)(void *owner));
/* Adds a tensor view; `owned` (or NULL) is a malloc'ed buffer that the weights free at close (t->data points
 * into it when the tensor had to be rewritten, e.g. Llama's Q/K rows). */
void lmc_weights_add(lmc_weights *w, const lmc_tensor *t, void *owned);
/* Adds a tensor lmc cannot compute with, listed by lmc_weights_unsupported_*. */
void lmc_weights_add_unsupported(lmc_weights *w, const char *name, const char *dtype_name);
void lmc_weights_set_meta(lmc_weights *w, const char *key, const char *value);
/* Indexes the tensors for lookup; fails on a duplicate name. Closes w on failure. */
int  lmc_weights_finish(lmc_weights *w, lmc_err *err);
/* Bytes of tensor data the weights own (copies made while adapting a file), not in any mmap. */
size_t lmc_weights_owned_bytes(const lmc_weights *w);

/* Writer: tensors are written in the given order, 8-byte aligned header, data contiguous. `meta` is a list
 * of n_meta key/value string pairs for __metadata__. Written atomically (tmp file + rename).
 * meta_kv is flat: meta_kv[2i] is a key, meta_kv[2i+1] its value (n_meta pairs). Data is streamed: at most a
 * few MB of conversion buffers are held, whatever the model size. The header is padded with spaces to a
 * multiple of 8, so the data section starts 8-aligned; a tensor is aligned to its element size when every
 * tensor before it has a byte size that is a multiple of it (always so when all tensors share one dtype).
 * Fails (nothing at path, no tmp file left) on duplicate names, a name "__metadata__", ndim > 4, negative
 * dims, NULL src with numel > 0, or any I/O error. */
typedef struct lmc_st_entry {
    const char *name;
    lmc_dtype   dtype;     /* dtype written to the file */
    int         ndim;
    int64_t     shape[4];
    const void *src;       /* numel elements of src_dtype (e.g. an mmapped tensor) */
    lmc_dtype   src_dtype; /* converted to dtype in chunks while writing (f32→bf16/f16 round to nearest even; a
                            * quantized source is dequantized, as ggml does, then rounded) */
} lmc_st_entry;

int lmc_st_write(const char *path, const lmc_st_entry *tensors, size_t n, const char *const *meta_kv,
                 size_t n_meta, lmc_err *err);

#endif
