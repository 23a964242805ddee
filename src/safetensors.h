/* safetensors.h — named tensor views over mmapped safetensors files (single file, or HF sharded checkpoint
 * with model.safetensors.index.json), and a writer for `lmc convert`. Knows no architecture. */
#ifndef LMC_SAFETENSORS_H
#define LMC_SAFETENSORS_H

#include "lmc.h"
#include <stddef.h>
#include <stdint.h>

typedef enum lmc_dtype { LMC_F32 = 0, LMC_BF16 = 1, LMC_F16 = 2 } lmc_dtype;

size_t      lmc_dtype_size(lmc_dtype dt);   /* bytes per element */
const char *lmc_dtype_name(lmc_dtype dt);   /* "F32", "BF16", "F16" */

typedef struct lmc_tensor {
    const char *name;     /* owned by the lmc_weights */
    lmc_dtype   dtype;
    int         ndim;     /* 0..4 */
    int64_t     shape[4];
    int64_t     numel;
    const void *data;     /* points into the read-only mmap */
    size_t      nbytes;
    int         file;     /* index of the shard file it lives in */
} lmc_tensor;

typedef struct lmc_weights lmc_weights;

/* path: a .safetensors file, or a directory holding model.safetensors or model.safetensors.index.json.
 * Validates every header: length within the file, JSON well-formed, known dtype, shape × dtype size ==
 * byte range, offsets inside the data section and non-overlapping. */
int  lmc_weights_open(const char *path, lmc_weights **out, lmc_err *err);
void lmc_weights_close(lmc_weights *w);

size_t            lmc_weights_count(const lmc_weights *w);
const lmc_tensor *lmc_weights_at(const lmc_weights *w, size_t i);
const lmc_tensor *lmc_weights_find(const lmc_weights *w, const char *name); /* NULL when absent */
size_t            lmc_weights_total_bytes(const lmc_weights *w);            /* Σ tensor bytes */

/* __metadata__ string value of the (first) file, or NULL. */
const char *lmc_weights_meta(const lmc_weights *w, const char *key);

/* Path of the file that `t` lives in (for error messages). */
const char *lmc_weights_file_path(const lmc_weights *w, int file);

/* Writer: tensors are written in the given order, 8-byte aligned header, data contiguous. `meta` is a list
 * of n_meta key/value string pairs for __metadata__. Written atomically (tmp file + rename). */
typedef struct lmc_st_entry {
    const char *name;
    lmc_dtype   dtype;     /* dtype written to the file */
    int         ndim;
    int64_t     shape[4];
    const void *src;       /* numel elements of src_dtype (e.g. an mmapped tensor) */
    lmc_dtype   src_dtype; /* converted to dtype in chunks while writing (f32→bf16/f16 round to nearest even) */
} lmc_st_entry;

int lmc_st_write(const char *path, const lmc_st_entry *tensors, size_t n, const char *const *meta_kv,
                 size_t n_meta, lmc_err *err);

#endif
