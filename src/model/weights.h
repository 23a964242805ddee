/* weights.h — a model's weights: named tensor views over mapped files, whatever kind of file holds them, and
 * the one table of the element types they may have.
 *
 * The container is above the readers: lmc_weights_open looks at the path and hands it to the safetensors
 * reader (safetensors.c) or the GGUF adapter (gguf_weights.c); each reader maps its files with lmc_map_file and
 * adds them and their tensors here, and lookup by name is this file's alone. Readers include this header, never
 * each other. Knows no architecture.
 *
 * Sections: element types · mapped files · sorted names · the container · filling it (for readers). */
#ifndef LMC_WEIGHTS_H
#define LMC_WEIGHTS_H

#include "lmc.h"
#include "common/util.h"
#include <stddef.h>
#include <stdint.h>

/* ---- element types ------------------------------------------------------------------------------- */

/* F32, BF16, F16: the element types of safetensors files. The others are ggml's block-quantized types, which
 * only GGUF files hold: a row is a run of whole blocks, widened by kernels/dequant.h. */
typedef enum lmc_dtype {
    LMC_F32 = 0, LMC_BF16 = 1, LMC_F16 = 2,
    LMC_Q8_0 = 3, LMC_Q4_0 = 4, LMC_Q4_K = 5, LMC_Q6_K = 6, LMC_Q5_0 = 7,
} lmc_dtype;
#define LMC_N_DTYPES 8

/* Widens n elements (whole blocks for a quantized type; src of any alignment the type's kernel accepts) to f32,
 * bit-identical to ggml's dequantize_row_* for the ggml types. */
typedef void (*lmc_to_f32_fn)(const void *src, float *dst, int64_t n);
/* y (T, N) = x (T, K) · weightᵀ (+ bias), weight (N, K) row-major in its own type (kernels.h matmul_*). */
typedef void (*lmc_matmul_fn)(float *y, const float *x, const void *weight, const float *bias, int T, int N,
                              int K);

/* The int8 form of n values (whole blocks): q (n), a scale dw and an offset mw per sub-block, w = dw·q + mw
 * (kernels/dequant.h lmc_unpack_*; the weight side of the int8 GEMM, gemm_i8.h gemm_i8_unpack_fn). */
typedef void (*lmc_to_i8_fn)(const void *src, int8_t *q, float *dw, float *mw, int64_t n);

/* What lmc knows of an element type: one row per type (weights.c TYPES[], as ggml's type_traits[]), so a new
 * type is one row plus its kernels. */
typedef struct lmc_type_traits {
    const char   *name;        /* "F32", "BF16", ... as both file formats spell it */
    int64_t       block;       /* elements per block: 1 for a plain element type */
    size_t        block_bytes; /* bytes per block (the element size when block is 1) */
    int           quantized;   /* 1: block-quantized, a row is whole blocks, no single element is addressable */
    int           ggml;        /* ggml type id (ggml.h enum ggml_type), how a GGUF file names it */
    lmc_to_f32_fn to_f32;      /* widening (embedding rows, norm vectors, packing for bf16, conversion) */
    lmc_matmul_fn matmul;      /* f32 GEMM reading the weight as stored, or NULL: rows widened by to_f32 chunk by chunk
                                * then the same f32 GEMM (matmul_rows_w), as ggml's CPU path does */
    lmc_to_i8_fn  to_i8;       /* the int8 GEMM reads the weight as stored through this, or NULL: quantized once at
                                * load to Q8_0 (the 16/32-bit float types) */
    int           i8_sub;      /* values per scale of the int8 form: 32, 16 for Q6_K */
    int           i8_min;      /* 1: the int8 form has offsets (Q4_K) */
} lmc_type_traits;

/* The traits of dt, or NULL when dt is not a type lmc knows. */
const lmc_type_traits *lmc_type_traits_of(lmc_dtype dt);
/* The lmc type of ggml type id `ggml`: 0, or -1 when lmc cannot compute with it. */
int         lmc_dtype_from_ggml(int ggml, lmc_dtype *out);

size_t      lmc_dtype_size(lmc_dtype dt);      /* bytes per element; 0 for a block-quantized type */
const char *lmc_dtype_name(lmc_dtype dt);      /* "F32", "BF16", "F16", "Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q5_0" */
int         lmc_dtype_quantized(lmc_dtype dt); /* 1 for the block-quantized types */
/* Bytes of n consecutive elements (for a quantized type n must be a multiple of its block: a row). */
size_t      lmc_dtype_bytes(lmc_dtype dt, int64_t n);
/* Widens n elements of src (whole blocks for a quantized type) to f32, exactly as ggml does. */
void        lmc_dtype_to_f32(lmc_dtype dt, const void *src, float *dst, int64_t n);
/* The same by ggml type id (a GGUF tensor's type): 0, or -1 when lmc has no row for `ggml` or n is not a whole
 * number of its blocks (nothing written). */
int         lmc_dequant(int ggml, const void *src, float *dst, int64_t n);
/* Parses a user-facing dtype name, case-insensitive: f32|float32, bf16|bfloat16, f16|fp16|float16.
 * Returns 0, or -1 when s names none of them. */
int         lmc_dtype_parse(const char *s, lmc_dtype *out);

/* ---- mapped files: lmc_map, lmc_map_file, lmc_unmap (common/util.h, shared with the corpus readers) ---- */

/* ---- sorted names -------------------------------------------------------------------------------
 * Items 0..n-1 found by name through an order sorted by name: the tensors of the container, a GGUF file's
 * tensors and metadata keys. `name_at(ctx, i)` is item i's NUL-terminated name. */
typedef const char *(*lmc_name_at_fn)(const void *ctx, size_t i);

/* The n indices sorted by name, equal names in index order (malloc'ed; one element when n is 0). */
size_t *lmc_names_sort(size_t n, lmc_name_at_fn name_at, const void *ctx);
/* The position k ≥ 1 in `order` where order[k-1] and order[k] name the same, or 0 when every name is unique. */
size_t  lmc_names_dup(const size_t *order, size_t n, lmc_name_at_fn name_at, const void *ctx);
/* The item named `name` (the first in index order when several are), or -1. */
long    lmc_names_find(const size_t *order, size_t n, const char *name, lmc_name_at_fn name_at, const void *ctx);

/* ---- the container ------------------------------------------------------------------------------ */

typedef struct lmc_tensor {
    const char *name;     /* owned by the lmc_weights */
    lmc_dtype   dtype;
    int         ndim;     /* 0..4 */
    int64_t     shape[4];
    int64_t     numel;
    const void *data;     /* points into the read-only mmap; aligned to the element size whenever the file's
                           * layout is (every file HF's safetensors or lmc_st_write produces); not checked */
    size_t      nbytes;
    int         file;     /* index of the file it lives in (lmc_weights_file_path) */
    int         gguf_layout; /* 1: laid out as llama.cpp's converter writes it, which the loader must know where
                              * HF's layout differs: GPT-2's Conv1D weights already [out, in], fused QKV already
                              * [Q | K | V] (arch/load.c) */
} lmc_tensor;

typedef struct lmc_weights lmc_weights;

/* path: a GGUF file (name ends in .gguf, or its first bytes are the magic "GGUF"): the GGUF adapter's tensors
 * under HF names with a synthesized config.json as "lmc.config" metadata (gguf_weights.c). Anything else is
 * safetensors (safetensors.h lmc_st_read): a .safetensors file, a sharded index (*.index.json), or a directory
 * holding model.safetensors or model.safetensors.index.json.
 *
 * Unsupported dtypes: a tensor whose dtype the file format defines but lmc does not compute with (F64, I64,
 * Q3_K, ...) is validated like any other, but it is not an lmc_tensor: count/at/find do not see it,
 * lmc_weights_get names it in its error, lmc_weights_unsupported_* list it. A checkpoint may hold such buffers
 * without the model needing them.
 *
 * A file `lmc convert` wrote from a GGUF lists in "lmc.gguf_layout" metadata the tensors it kept in llama.cpp's
 * layout; they are marked (lmc_tensor.gguf_layout) as the GGUF's own are. */
int  lmc_weights_open(const char *path, lmc_weights **out, lmc_err *err);
void lmc_weights_close(lmc_weights *w);

size_t            lmc_weights_count(const lmc_weights *w);
const lmc_tensor *lmc_weights_at(const lmc_weights *w, size_t i);
/* NULL when absent. Falls back to a torch shared-tensor alias: when `name` is not a tensor but some file's
 * __metadata__ maps name → another tensor's name (e.g. TinyStories-656K-f32: "model.embed_tokens.weight" →
 * "lm_head.weight"), the tensor it names is returned (its ->name is the stored name). One level only. */
const lmc_tensor *lmc_weights_find(const lmc_weights *w, const char *name);
size_t            lmc_weights_total_bytes(const lmc_weights *w);            /* Σ tensor bytes */

/* Like find, but fails with a one-line error naming the file: "no tensor X" or "tensor X has dtype I64,
 * not supported (lmc reads F32, BF16, F16)". */
const lmc_tensor *lmc_weights_get(const lmc_weights *w, const char *name, lmc_err *err);

/* Tensors present in the headers with a dtype lmc cannot use, in file order. *dtype gets its name. */
size_t      lmc_weights_unsupported_count(const lmc_weights *w);
const char *lmc_weights_unsupported_at(const lmc_weights *w, size_t i, const char **dtype);

/* Metadata string value of the (first) file, or NULL. For a sharded checkpoint the first file is the first
 * shard name in byte order (model-00001-of-...). A file written by `lmc convert` has "lmc.format". */
const char *lmc_weights_meta(const lmc_weights *w, const char *key);
size_t      lmc_weights_meta_count(const lmc_weights *w);            /* entries of the first file */
const char *lmc_weights_meta_at(const lmc_weights *w, size_t i, const char **value); /* returns the key */

/* Path of file number `file` (lmc_tensor.file), for error messages; "?" when there is none. */
const char *lmc_weights_file_path(const lmc_weights *w, int file);
/* Bytes of tensor data the weights own (copies made while adapting a file), not in any mmap. */
size_t      lmc_weights_owned_bytes(const lmc_weights *w);

/* ---- filling it (for readers) -------------------------------------------------------------------
 * A reader adds files, then each file's tensors and metadata (which belong to the file added last), then
 * indexes the names. Names, dtype names and metadata are copied. */

/* An empty container. With `path`, one file of that path without a mapping (the GGUF adapter, whose tensors
 * point into memory its reader owns: `owner` is released with release(owner) at close, after every buffer
 * handed to lmc_weights_add). */
lmc_weights *lmc_weights_new(const char *path, void *owner, void (*release)(void *owner));
/* Adds a file the container now holds mapped (unmapped at close); returns its number. */
int  lmc_weights_add_file(lmc_weights *w, const char *path, lmc_map map);
/* Adds a tensor view of the last file; `owned` (or NULL) is a malloc'ed buffer that the weights free at close
 * (t->data points into it when the tensor had to be rewritten, e.g. Llama's Q/K rows). */
void lmc_weights_add(lmc_weights *w, const lmc_tensor *t, void *owned);
/* Adds a tensor of the last file that lmc cannot compute with, listed by lmc_weights_unsupported_*;
 * dtype_name must outlive w (a static string). */
void lmc_weights_add_unsupported(lmc_weights *w, const char *name, const char *dtype_name);
void lmc_weights_set_meta(lmc_weights *w, const char *key, const char *value); /* of the last file */
/* Indexes the tensors for lookup; fails on a name stored twice (in one file or across files). Once indexed,
 * lmc_weights_find works; indexing again is a no-op. */
int  lmc_weights_index(lmc_weights *w, lmc_err *err);
/* lmc_weights_index, closing w on failure. */
int  lmc_weights_finish(lmc_weights *w, lmc_err *err);
/* After indexing: the file a tensor of any dtype (supported or not) named `name` lives in, or -1. */
int  lmc_weights_file_of(const lmc_weights *w, const char *name);

#endif
