/* arch.h — what an architecture file provides. Each src/arch/<family>.c reads its own HF config keys and
 * tensor names and implements one forward pass; they share kernels, not control flow. */
#ifndef LMC_ARCH_H
#define LMC_ARCH_H

#include "lmc.h"
#include "linear.h"
#include "prof.h"
#include "safetensors.h"

#include <cjson/cJSON.h>

/* What the rest of the engine needs to know about a loaded model. */
typedef struct lmc_model_info {
    int               dim;         /* width of the final hidden state fed to lm_head */
    int               vocab;       /* rows of lm_head (logits per position) */
    int               max_positions; /* > 0: windows longer than this are an error (learned positions) */
    int64_t           n_params;    /* parameter count (tied matrices counted once) */
    const lmc_linear *lm_head;     /* (vocab, dim), owned by the arch state */
    lmc_prof         *prof;        /* where forward adds its kernel times (owned by the arch state), or NULL */
} lmc_model_info;

typedef struct lmc_arch_ctx {
    const cJSON       *config;  /* parsed config.json */
    const char        *origin;  /* the model path, for error messages */
    const lmc_weights *w;
    lmc_model_opts     opts;
} lmc_arch_ctx;

typedef struct lmc_arch {
    const char *name; /* HF `architectures[0]`, e.g. "LlamaForCausalLM" */
    /* Reads config and tensors, checks every shape; on success *state is the arch's own struct. */
    int (*load)(const lmc_arch_ctx *ctx, void **state, lmc_model_info *info, lmc_err *err);
    /* tokens (T) at positions 0..T-1 → hidden (T, info.dim): the final normalised hidden states. */
    int (*forward)(void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err);
    /* Bytes of activation memory a forward over T tokens allocates (for the memory check). */
    size_t (*scratch_bytes)(const void *state, int T);
    void (*free)(void *state);
} lmc_arch;

/* Fills what a loaded architecture tells the engine. max_positions: 0 for RoPE models (any window length),
 * else the number of learned positions. prof may be NULL (the forward does not report a time split). */
static inline lmc_model_info arch_info(int dim, int vocab, int max_positions, int64_t n_params,
                                       const lmc_linear *lm_head, lmc_prof *prof) {
    lmc_model_info i = {dim, vocab, max_positions, n_params, lm_head, prof};
    return i;
}

/* All architectures lmc knows, NULL-terminated (arch/registry.c). */
extern const lmc_arch *const lmc_archs[];

/* ---- config helpers (arch/config.c) ---- */
/* Each reads `key` from a config object. Absent (or null) → *out = dflt (when required is 0) or an error.
 * Wrong type → error naming the key. */
int cfg_int(const lmc_arch_ctx *c, const char *key, int required, long dflt, long *out, lmc_err *err);
int cfg_num(const lmc_arch_ctx *c, const char *key, int required, double dflt, double *out, lmc_err *err);
/* An optional number that must lie in [lo, hi] (norm epsilons, rotary fractions): out-of-range values would
 * give NaN activations or undefined integer casts further on, so they are refused here with the key named. */
int cfg_num_in(const lmc_arch_ctx *c, const char *key, double dflt, double lo, double hi, double *out, lmc_err *err);
/* Before the per-layer arrays are allocated: a layer count beyond the number of tensors (each layer has several)
 * is refused, so a config saying 1e9 layers gives a message instead of a terabyte calloc. */
int cfg_check_layers(const lmc_arch_ctx *c, const char *key, long n_layers, lmc_err *err);
int cfg_bool(const lmc_arch_ctx *c, const char *key, int dflt, int *out, lmc_err *err);
/* String value or dflt; the returned pointer lives as long as the config. */
int cfg_str(const lmc_arch_ctx *c, const char *key, const char *dflt, const char **out, lmc_err *err);
/* Same on a sub-object (e.g. rope_scaling). */
int cfg_obj_num(const lmc_arch_ctx *c, const cJSON *obj, const char *objname, const char *key, int required,
                double dflt, double *out, lmc_err *err);

/* Tensor lookup that fails with "<origin>: missing tensor NAME". printf-style name. */
const lmc_tensor *arch_tensor(const lmc_arch_ctx *c, lmc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, but NULL without an error when absent. */
const lmc_tensor *arch_tensor_opt(const lmc_arch_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- RoPE frequencies (arch/rope_freq.c) ---- */
typedef struct lmc_rope {
    int    rot_dim;      /* rotated dims per head (head_dim, or less for partial rotary) */
    int    interleaved;  /* 1: Meta pairs (2i, 2i+1); 0: HF rotate_half */
    float *inv_freq;     /* (rot_dim/2) after scaling */
    float  mscale;       /* multiplies cos/sin (YaRN), else 1 */
    /* dynamic NTK needs the sequence length: kept so inv_freq can be recomputed per T */
    double theta, factor;
    int    dynamic, max_pos;
} lmc_rope;

/* Reads rope_theta-style base `theta` and the config's rope_scaling object (none, linear, dynamic, llama3, yarn;
 * anything else is an error naming it). */
int  lmc_rope_from_config(const lmc_arch_ctx *c, double theta, int rot_dim, int interleaved, lmc_rope *r,
                          lmc_err *err);
/* cos/sin tables (T, rot_dim/2) for a window of T tokens (dynamic NTK acts when T > max_pos). */
void lmc_rope_tables(const lmc_rope *r, int T, float *cos_t, float *sin_t);
void lmc_rope_free(lmc_rope *r);
/* YaRN's magnitude correction: 1 for scale <= 1, else 0.1 · mscale · ln(scale) + 1 (HF yarn_get_mscale). */
double lmc_yarn_get_mscale(double scale, double mscale);

#endif
