/* gguf.h — reads GGUF files (llama.cpp's format, versions 2 and 3): metadata key/values and named tensor views
 * over a read-only mmap. Knows no architecture; widening a type to f32 is model/weights.h (kernels/dequant.h).
 *
 * Spec: ggml's docs/gguf.md. Dimensions are in ggml order: ne[0] is the row length (the contiguous one), so a
 * PyTorch [out, in] weight is stored with ne = {in, out}. */
#ifndef LMC_GGUF_H
#define LMC_GGUF_H

#include "lmc.h"
#include <stddef.h>
#include <stdint.h>

/* Metadata value types (the numbers are part of the format). */
typedef enum lmc_gguf_vtype {
    LMC_GGUF_U8 = 0, LMC_GGUF_I8 = 1, LMC_GGUF_U16 = 2, LMC_GGUF_I16 = 3, LMC_GGUF_U32 = 4, LMC_GGUF_I32 = 5,
    LMC_GGUF_F32 = 6, LMC_GGUF_BOOL = 7, LMC_GGUF_STRING = 8, LMC_GGUF_ARRAY = 9, LMC_GGUF_U64 = 10,
    LMC_GGUF_I64 = 11, LMC_GGUF_F64 = 12,
} lmc_gguf_vtype;

const char *lmc_gguf_vtype_name(int vtype); /* "u32", "string", ...; "?" for a number the format lacks */

/* One metadata entry. A scalar is an "array" of one element of `type`; an array has type LMC_GGUF_ARRAY and
 * its elements are of `elem` (never another array: nested arrays are refused at open). */
typedef struct lmc_gguf_kv {
    const char     *key;   /* NUL-terminated copy, owned by the lmc_gguf */
    int             type;  /* lmc_gguf_vtype */
    int             elem;  /* element type: == type for a scalar, the array's element type for an array */
    uint64_t        n;     /* elements: 1 for a scalar */
    const uint8_t  *data;  /* fixed-size elements: n packed little-endian values in the map */
    const uint8_t **str;   /* strings: (n) pointers to each string's u64 length in the map; owned */
} lmc_gguf_kv;

/* One tensor. `data` lies inside the file and inside its data section, aligned to general.alignment. */
typedef struct lmc_gguf_tensor {
    const char *name;   /* NUL-terminated copy, owned by the lmc_gguf */
    int         type;   /* ggml type id (LMC_GGML_* in dequant.h; any type ggml defines is accepted) */
    int         ndim;   /* 0..4 */
    int64_t     ne[4];  /* ggml order: ne[0] = row length; dims beyond ndim are 1 */
    int64_t     numel;
    uint64_t    offset; /* within the data section */
    const void *data;   /* in the read-only map */
    size_t      nbytes; /* numel / block size × block bytes */
} lmc_gguf_tensor;

typedef struct lmc_gguf lmc_gguf;

/* Opens and validates a GGUF file: magic, version 2 or 3 (v1 and big-endian files are refused by name), every
 * count, string length, array length, dimension and offset checked against the file's size with
 * overflow-safe arithmetic before anything is allocated or read; value types and tensor types known (an
 * unknown one is an error naming it); general.alignment a u32 power of two; tensor rows a whole number of
 * blocks; tensor data aligned, inside the file, not overlapping; keys and tensor names unique and free of NUL
 * bytes. Errors are one line naming the file and the problem. */
int  lmc_gguf_open(const char *path, lmc_gguf **out, lmc_err *err);
void lmc_gguf_close(lmc_gguf *g);

uint32_t    lmc_gguf_version(const lmc_gguf *g);
uint32_t    lmc_gguf_alignment(const lmc_gguf *g); /* general.alignment, 32 when absent */
const char *lmc_gguf_path(const lmc_gguf *g);

/* Metadata, in file order, and by key (NULL when absent). */
size_t             lmc_gguf_kv_count(const lmc_gguf *g);
const lmc_gguf_kv *lmc_gguf_kv_at(const lmc_gguf *g, size_t i);
const lmc_gguf_kv *lmc_gguf_find_kv(const lmc_gguf *g, const char *key);

/* Element i of a kv (i = 0 for a scalar). Each returns 0, or -1 when i is out of range or the element type
 * does not fit: _int takes any integer type (and bool) whose value fits an int64 (a u64 above INT64_MAX does
 * not); _float any integer or float type; _str a string (not NUL-terminated: *len bytes, in the map). */
int lmc_gguf_kv_int(const lmc_gguf_kv *kv, uint64_t i, int64_t *out);
int lmc_gguf_kv_float(const lmc_gguf_kv *kv, uint64_t i, double *out);
int lmc_gguf_kv_str(const lmc_gguf_kv *kv, uint64_t i, const char **s, size_t *len);

/* Keyed scalar lookups with a one-line error naming the file and the key: "no key K", "key K is a string
 * array, not an integer", ... */
int lmc_gguf_get_int(const lmc_gguf *g, const char *key, int64_t *out, lmc_err *err);
int lmc_gguf_get_float(const lmc_gguf *g, const char *key, double *out, lmc_err *err);
int lmc_gguf_get_str(const lmc_gguf *g, const char *key, const char **s, size_t *len, lmc_err *err);

/* Tensors, in file order, and by name (NULL when absent); get fails with "FILE: no tensor NAME". */
size_t                 lmc_gguf_tensor_count(const lmc_gguf *g);
const lmc_gguf_tensor *lmc_gguf_tensor_at(const lmc_gguf *g, size_t i);
const lmc_gguf_tensor *lmc_gguf_find_tensor(const lmc_gguf *g, const char *name);
const lmc_gguf_tensor *lmc_gguf_get_tensor(const lmc_gguf *g, const char *name, lmc_err *err);

/* A GGUF file as the weights of the HF checkpoint it was converted from: tensors under their HF names, a
 * config.json synthesized from the metadata as "lmc.config" (gguf_weights.c, beneath the container in weights.h:
 * use lmc_weights_open, which dispatches here for a GGUF file). */
struct lmc_weights;
int lmc_gguf_weights_open(const char *path, struct lmc_weights **out, lmc_err *err);

/* ggml tensor types: name ("Q4_K", ...; NULL for a number ggml does not define), block size (elements) and
 * block bytes. Returns 0, or -1 for an unknown or removed type. */
const char *lmc_ggml_type_name(int type);
int         lmc_ggml_type_block(int type, int64_t *block, size_t *bytes);

#endif
