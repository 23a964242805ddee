/* safetensors.h — the safetensors reader beneath the weights container (single file, or HF sharded checkpoint
 * with model.safetensors.index.json), and a writer for `lmc convert`. Knows no architecture. Includes
 * weights.h, whose lmc_weights_open is how a model's weights are opened. */
#ifndef LMC_SAFETENSORS_H
#define LMC_SAFETENSORS_H

#include "lmc.h"
#include "model/weights.h"
#include <stddef.h>
#include <stdint.h>

/* Reads the safetensors checkpoint at `path` into w (adding its files, tensors and metadata; the caller indexes
 * and closes w): a .safetensors file, a sharded index (*.index.json), or a directory holding model.safetensors
 * (preferred, as HF does) or model.safetensors.index.json. Validates every header: length within the file,
 * JSON well-formed, known dtype, shape × dtype size == byte range, offsets inside the data section and
 * non-overlapping, tensor names unique across shards, every shard named by the index present and holding the
 * tensors mapped to it. A tensor of a dtype the format defines but lmc does not compute with (F64, I64, I32,
 * U8, BOOL, F8_*, ...) is added as unsupported (weights.h); a dtype string the format does not define is a
 * header error. */
int lmc_st_read(lmc_weights *w, const char *path, lmc_err *err);

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
