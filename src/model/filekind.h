/* filekind.h — what a file given as a model is, from its first bytes, so that the wrong kind of file (a
 * config.json, a text file, a llama2.c checkpoint that needs converting) is named for what it is instead of
 * failing deep in the safetensors parser ("header length 9287020993001037859 is implausible"). */
#ifndef LMC_FILEKIND_H
#define LMC_FILEKIND_H
#include "lmc.h"
#include <stddef.h>

typedef enum lmc_file_kind {
    LMC_KIND_UNREADABLE = 0, /* missing, a directory, or cannot be read: the caller's open reports it */
    LMC_KIND_SAFETENSORS,    /* u64 header length that fits the file, then '{' */
    LMC_KIND_GGUF,           /* "GGUF" magic */
    LMC_KIND_LLAMA2C,        /* a llama2.c checkpoint: 7 int32 of a plausible config, or the "ak42" magic */
    LMC_KIND_LLAMA2C_TOKENIZER, /* a llama2.c tokenizer.bin: max length, then (score, length, bytes) to the end */
    LMC_KIND_JSON,           /* first non-blank byte '{' or '[' */
    LMC_KIND_TEXT,           /* valid UTF-8 without NUL */
    LMC_KIND_OTHER,          /* none of these */
} lmc_file_kind;

lmc_file_kind lmc_sniff_file(const char *path);

/* 0 when path may hold weights (safetensors, GGUF, an unknown binary: the reader judges); else fails with one
 * line saying what the file is and what to pass instead. */
int lmc_refuse_non_weights(const char *path, lmc_err *err);

/* For a model directory without weights: a hint, " (…)", when it holds a llama2.c checkpoint (a .bin that
 * sniffs as one), else "". Written into buf. */
const char *lmc_model_dir_hint(const char *dir, char *buf, size_t cap);

#endif
