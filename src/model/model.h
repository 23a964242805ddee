/* model.h — a loaded model: config + mmapped weights + the architecture's state + its tokenizer. */
#ifndef LMC_MODEL_H
#define LMC_MODEL_H

#include "model/arch/arch.h"
#include "lmc.h"
#include "model/weights.h"

struct lmc_model {
    char            path[4096];
    lmc_weights    *w;
    cJSON          *config;       /* parsed config.json (directory) or lmc.config (converted file) */
    const lmc_arch *arch;
    void           *state;        /* the arch's own struct */
    lmc_model_info  info;
    lmc_model_opts  opts;
    char            dtype[16];    /* dtype of the weights ("BF16", "F32", "F16", "mixed", "Q8_0", "Q4_K mixed") */
    char            sha256[65];   /* lmc_model_sha256, computed on the first ask ("" until then): weights are
                                   * read-only, so it never changes, and compress/decompress ask once per file */
};

/* Full logits (T, info.vocab) for tokens at positions 0..T-1 (for golden tests and `lmc logits`). */
int lmc_model_logits(lmc_model *m, const int32_t *tokens, int T, float *logits, lmc_err *err);

/* Final hidden states (T, info.dim). */
int lmc_model_hidden(lmc_model *m, const int32_t *tokens, int T, float *hidden, lmc_err *err);

/* Refuses a T-token window longer than the model allows (learned positions, an unimplemented sliding window, a
 * position table), naming the limit and what sets it. */
int lmc_model_check_window(const lmc_model *m, int T, lmc_err *err);

/* What a model of this config.json text is made of, without weights (arch_plan): its tensor list, e.g. to
 * generate random weights (lmc bench). *plan is an arch_base; close it with arch_close. */
int lmc_model_plan(const char *config_json, void **plan, lmc_err *err);

/* Weight memory: *mapped, bytes of the file(s) the tensors are read from in place (mmapped: resident once
 * touched, shared with the page cache); *resident, bytes the model holds of its own: packed bf16 copies,
 * re-laid-out matrices, f32 norm vectors and biases. */
void lmc_model_memory(const lmc_model *m, size_t *mapped, size_t *resident);

/* Bytes the model needs resident beyond the mmapped file for a T-token window (activations, packed weights,
 * lm_head blocks). */
size_t lmc_model_working_bytes(const lmc_model *m, int T);

#endif
