/* arch.h — what an architecture file provides. Each src/model/arch/<family>.c reads its own HF config keys and
 * tensor names and implements one forward pass; they share kernels, not control flow. arch/load.c turns the
 * tensor list into loaded weights; arch/runtime.c is what a forward runs on (arena, attention, scratch, timing).
 * Single letters (T tokens, W window, N/K a linear's features, ...) mean what kernels/kernels.h says. */
#ifndef LMC_ARCH_H
#define LMC_ARCH_H

#include "kernels.h"
#include "lmc.h"
#include "model/linear.h"
#include "common/prof.h"
#include "model/weights.h"

#include <cjson/cJSON.h>

/* What the rest of the engine needs to know about a loaded model. */
typedef struct lmc_model_info {
    int               dim;         /* width of the final hidden state fed to lm_head */
    int               vocab;       /* rows of lm_head (logits per position) */
    int               max_window;  /* > 0: windows longer than this are refused (lmc_model_check_window) */
    char              max_window_why[128]; /* what sets that limit, e.g. "the model's 1024 learned positions" */
    int64_t           n_params;    /* parameter count (tied matrices counted once) */
    /* FLOP model (lmc bench): attention costs 2·attn_dims multiply-adds per causal (query, key) pair, attn_dims
     * being Σ over layers of n_heads·(qk_dim + v_dim); a routed expert's matrices run for routed_share of the
     * tokens (k/E; 1 without MoE). */
    double            attn_dims, routed_share;
    const lmc_linear *lm_head;     /* (vocab, dim), owned by the arch state */
    lmc_prof         *prof;        /* where forwards add their kernel times (owned by the arch state) */
} lmc_model_info;

/* How a model computes, decided once when it is opened (arch_compute_plan: from the compute dtype, the memory
 * and the CPU) and then only read: by the loader (how each linear is prepared), the runtime (which attention
 * kernel, what scratch a T-token forward needs) and lmc_model_describe. Architecture files never look at it. */
typedef struct lmc_compute_plan {
    lmc_linear_mode matmul;       /* how every linear multiplies */
    int             attn_bf16;    /* 1: a window's attention takes bf16 operands (attention_causal_bf16) */
    int             fused_linear; /* 1: the fused linear forms run, with lmc_linear_scratch_bytes of scratch */
    lmc_dtype       int8_requant; /* int8 compute: the layer linears' Q8_0 copies of float weights requantized to
                                   * this ggml type as they are loaded (lmc_model_opts.int8_weights), or 0 */
    char            kernels[96];  /* the above in words: lmc_model_desc.kernels */
} lmc_compute_plan;

/* The plan for linears of `matmul` mode on this CPU: bf16 attention wherever the matmuls are bf16 and the CPU
 * has AVX512_BF16; the fused linear forms on the packed bf16 path. */
lmc_compute_plan arch_compute_plan(lmc_linear_mode matmul);

typedef struct lmc_arch_ctx {
    const cJSON       *config;  /* parsed config.json */
    const char        *origin;  /* the model path, for error messages */
    const lmc_weights *w;
    lmc_compute_plan   plan;    /* how the model computes */
} lmc_arch_ctx;

/* RoPE frequencies of a model (arch/rope_freq.c, functions below). */
typedef struct lmc_rope {
    int    rot_dim;      /* rotated dims per head (head_dim, or less for partial rotary) */
    int    interleaved;  /* 1: Meta pairs (2i, 2i+1); 0: HF rotate_half */
    float *inv_freq;     /* (rot_dim/2) after scaling */
    float  mscale;       /* multiplies cos/sin (YaRN), else 1 */
    /* dynamic NTK needs the sequence length: kept so inv_freq can be recomputed per T */
    double theta, factor;
    int    dynamic, max_pos;
} lmc_rope;

/* ---- the weights an architecture holds, one line per tensor (arch/load.c) ----
 * Each architecture lists its tensors (name, shape, flags, where the loaded form goes) the way llama.cpp's
 * loaders call create_tensor; one loader walks the list and one free walks it again, so an architecture file
 * has no loading or freeing code of its own, and a second weight source only needs its own names. */
typedef enum arch_tensor_kind {
    ARCH_VEC,        /* float ** ← f32 copy of a 1-D tensor (rows) (norm weights and biases) */
    ARCH_LINEAR,     /* lmc_linear * ← "<name>.weight" (rows = N, cols = K) [+ "<name>.bias" (N)] */
    ARCH_CONV1D,     /* lmc_linear * ← HF Conv1D "<name>.weight" stored [K, N] + "<name>.bias", transposed */
    ARCH_QKV,        /* lmc_linear * ← fused QKV stored per KV group, re-laid-out to [Q | K | V] (see load.c) */
    ARCH_MATRIX,     /* const lmc_tensor ** ← a (rows, cols) tensor left in the mmap (position tables) */
    ARCH_ROUTER,     /* float ** ← f32 copy of a (rows, cols) tensor (MoE routers run in f32) */
    ARCH_EMBED_HEAD, /* the base's embed (vocab, dim) and lm_head: `name` and `name2`, tied per flags */
} arch_tensor_kind;

enum {
    ARCH_BIAS = 1,        /* LINEAR / QKV: a "<name>.bias" too */
    ARCH_TIED = 2,        /* EMBED_HEAD: lm_head is the embedding (tie_word_embeddings) */
    ARCH_TIED_EITHER = 4, /* EMBED_HEAD with ARCH_TIED: the shared matrix may be stored under either name, and a
                           * stored head is used as is (llama2.c imports, TinyStories-656K-f32 keeps only lm_head) */
    ARCH_ROUTED = 8,      /* LINEAR: a routed expert's matrix (a token runs it only when routed there) */
};

typedef struct arch_tensor {
    arch_tensor_kind kind;
    char             name[160], name2[96]; /* tensor name (LINEAR/CONV1D/QKV: without ".weight") */
    void            *dst;                  /* float **, lmc_linear *, const lmc_tensor ** (see the kinds) */
    int64_t          rows, cols;
    int              flags;
    int              heads, kv_heads, head_dim; /* ARCH_QKV */
    const char      *what;                 /* MATRIX / ROUTER / EMBED_HEAD: the config keys behind the shape */
} arch_tensor;

typedef struct arch_tensors {
    arch_tensor *v; /* (n) */
    size_t       n, cap;
} arch_tensors;

/* Appends one line; name is printf-formatted. Returns the line so QKV / EMBED_HEAD can fill their extras. */
arch_tensor *arch_add(arch_tensors *t, arch_tensor_kind kind, void *dst, int64_t rows, int64_t cols, int flags,
                      const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* A norm's "<name>.weight" and, when b is not NULL, "<name>.bias", each (n). */
void arch_add_norm(arch_tensors *t, float **w, float **b, int64_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The embedding (vocab, dim) and lm_head (head_name unless tied, see ARCH_TIED*); `what` names the config keys
 * behind the shape in errors. */
void arch_add_embed_head(arch_tensors *t, const char *embed_name, const char *head_name, int64_t vocab, int64_t dim,
                         int flags, const char *what);

/* A fused QKV (ARCH_QKV) of n_heads query and n_kv key/value heads of head_dim over dim inputs. */
void arch_add_qkv(arch_tensors *t, lmc_linear *dst, int n_heads, int n_kv, int head_dim, int dim, int flags,
                  const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* ---- activations, sized and pointed from one table (arch/runtime.c) ----
 * As llm.c's malloc_and_point_activations: each architecture lists its buffers once (where the pointer goes,
 * elements per token, elements independent of T); the same list sizes the memory check and carves one arena
 * that the model keeps, grown only when a longer window arrives, so T = 1 steps reuse it. */
typedef struct arch_act {
    float   **p;               /* a float buffer's pointer, or NULL for an int32 one */
    size_t    per_token, fixed; /* elements: floats or int32s, 4 bytes either way */
    int32_t **ip;              /* an int32 buffer's pointer (positions, routed expert ids), with p NULL */
} arch_act;
/* The lines of an activation table: ARCH_FLOATS(&a->x, dim, 0), ARCH_INTS(&a->ids, k, 0). */
#define ARCH_FLOATS(ptr, per_token, fixed) {(ptr), (per_token), (fixed), NULL}
#define ARCH_INTS(ptr, per_token, fixed)   {NULL, (per_token), (fixed), (ptr)}

enum { ARCH_MAX_ACTS = 32 };

/* Copies an activation table written as an array literal into tab; returns its line count. */
int arch_acts_copy(arch_act *tab, const arch_act *lines, size_t n);
#define ARCH_ACTS(tab, lines) arch_acts_copy(tab, lines, sizeof lines / sizeof lines[0])

/* ---- what every architecture's state starts with ---- */
enum { ARCH_SCRATCH_LINEAR, ARCH_SCRATCH_ATTENTION, ARCH_SCRATCH_N }; /* scratch uses, live at the same time */
typedef struct arch_base {
    arch_tensors      tensors; /* every weight the state holds */
    void             *arena;   /* (arena_bytes) a forward's activations, then its scratch (arch/runtime.c) */
    size_t            arena_bytes;
    lmc_prof          prof;
    const lmc_tensor *embed;   /* (vocab, dim), in the mmap */
    lmc_linear        lm_head; /* (vocab, dim) */
    lmc_rope          rope;    /* RoPE frequencies, for the architectures with rotary positions */
    void            **allocs;  /* (n_allocs) arrays from arch_alloc (layers, experts), freed with the state */
    size_t            n_allocs;
    lmc_model_info    info;    /* config sets dim, vocab, max_window; the loader the rest */
    attn_shape        attn;    /* the model's attention (arch_set_attention, from the config) */
    lmc_compute_plan  plan;    /* how it computes (from lmc_arch_ctx) */
    int               max_k;   /* the widest input of any linear (sizes the fused linears' scratch) */
    int               threads; /* OpenMP threads the current forward's scratch was sized for */
    void             *scratch[ARCH_SCRATCH_N]; /* this forward's scratch per use, in the arena; NULL when the plan
                                                * has no use for it */
} arch_base;

struct arch_kv;
typedef struct lmc_arch {
    const char *name;  /* HF `architectures[0]`, e.g. "LlamaForCausalLM" */
    size_t      size;  /* of the state struct, whose first member is an arch_base */
    /* Reads config.json into the (zeroed) state and allocates its layer array. */
    int (*config)(const lmc_arch_ctx *c, void *state, lmc_err *err);
    /* Lists every tensor the state holds, in loading order. */
    void (*tensors)(void *state, arch_tensors *t);
    /* Fills tab (at most ARCH_MAX_ACTS lines) with the activation buffers of a forward; returns the count. */
    int (*acts)(void *state, arch_act *tab);
    /* The forward: tokens (T) → hidden (T, info.dim), the final normalised hidden states; the activations are
     * already pointed for T. kv NULL: a window, positions 0..T-1, causal attention among its tokens. Otherwise
     * a decoding step: positions kv->pos..kv->pos+T-1, the tokens' keys and values appended to kv (which has
     * room: kv->pos + T <= kv->cap) and attended with everything before them; the caller advances kv->pos.
     * One function for both, so a step runs the window's own layer code (arch_attend does the difference). */
    int (*run)(void *state, struct arch_kv *kv, const int32_t *tokens, int T, float *hidden, lmc_err *err);
    /* Optional (NULL: incremental decoding is not supported for this architecture, and run is never given a kv).
     * The per-layer width of one position's cached keys and values, in floats (after RoPE, before any grouping
     * is expanded). */
    void (*kv_shape)(void *state, int *n_layers, int *k_width, int *v_width);
} lmc_arch;

/* One sequence's KV cache: what has been computed for positions 0..pos-1, per layer. */
typedef struct arch_kv {
    int    n_layers, k_width, v_width; /* from the architecture's kv_shape */
    int    cap, pos;                   /* positions the cache holds room for; positions filled */
    float *k;                          /* (n_layers, cap, k_width) */
    float *v;                          /* (n_layers, cap, v_width) */
} arch_kv;

/* Layer l's cached keys / values (cap rows). */
static inline float *arch_kv_k(const arch_kv *kv, int l) { return kv->k + (size_t)l * kv->cap * kv->k_width; }
static inline float *arch_kv_v(const arch_kv *kv, int l) { return kv->v + (size_t)l * kv->cap * kv->v_width; }

/* A zeroed array of n elements owned by the state (freed by arch_close), for layers and experts. */
void *arch_alloc(arch_base *b, size_t n, size_t size);
/* After the config is read: the model's output shape into info, and its (n_layers) layer array once n_layers is
 * bounded by the tensors in the file (cfg_check_layers; `key` names it). NULL with an error otherwise. */
void *arch_layers(const lmc_arch_ctx *c, arch_base *b, int dim, int vocab, const char *key, long n_layers,
                  size_t layer_size, lmc_err *err);

/* The skeleton every architecture shares: allocate, config, tensors, load; NULL state on failure. */
int    arch_open(const lmc_arch *a, const lmc_arch_ctx *c, void **state, lmc_err *err);
/* Config and tensor list only, with no weights (c->w NULL): what a model of this config is made of, e.g. to
 * generate one (lmc bench). Closed with arch_close. */
int    arch_plan(const lmc_arch *a, const lmc_arch_ctx *c, void **state, lmc_err *err);
void   arch_close(void *state);
/* Points the activations for T (growing the arena when needed), runs the forward and adds its time split. */
int    arch_forward(const lmc_arch *a, void *state, const int32_t *tokens, int T, float *hidden, lmc_err *err);
/* The same for a decoding step of n tokens appended to kv (the architecture has a step). */
int    arch_step(const lmc_arch *a, void *state, arch_kv *kv, const int32_t *tokens, int n, float *hidden,
                 lmc_err *err);
/* In the config: the model's attention shape (strides of the forward's q, k, v rows, heads, scale), which the
 * runtime sizes the attention scratch for, and the FLOP model's info.attn_dims over n_layers layers. */
void   arch_set_attention(arch_base *b, int n_layers, attn_shape s);
/* Layer l's attention (arch/runtime.c), shared by a forward and its step so an architecture writes its layer
 * once; s is &b->attn, or a copy with another scale (GPT-2's scale_attn_by_inverse_layer_idx). kv NULL: the T
 * tokens at positions 0..T-1, causal among themselves (attention_causal, or attention_causal_bf16 under bf16
 * compute on an AVX512_BF16 CPU). Otherwise a step: the T tokens' keys and values (n_kv_heads·qk_dim and
 * n_kv_heads·v_dim floats per row, which must be kv's k_width and v_width) are appended to layer l of the cache
 * at rows kv->pos.., then each query attends to every cached position up to its own (attention_prefix, f32).
 * The caller advances kv->pos after the last layer. Timed into the model's profiler. */
void   arch_attend(arch_base *b, arch_kv *kv, int l, float *out, const float *q, const float *k, const float *v,
                   int T, const attn_shape *s);
/* Bytes of activation and scratch memory a T-token forward uses (for the memory check). */
size_t arch_scratch_bytes(const lmc_arch *a, void *state, int T);
/* Sets info.max_window and the reason named when a window exceeds it (printf-style). */
void   arch_limit_window(arch_base *b, int max_window, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Scratch for the fused linear forms (lmc_linear_apply_n, _swiglu, _add) of the current forward, sized for its T
 * and the model's widest linear; NULL when the plan runs them unfused (the same bits either way). */
void *arch_linear_scratch(const arch_base *b);

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

/* Whether the weights hold a tensor of that name (printf-style): for name prefixes that vary between files. */
int cfg_has_tensor(const lmc_arch_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- RoPE frequencies (arch/rope_freq.c) ---- */

/* Reads rope_theta-style base `theta` and the config's rope_scaling object (none, linear, dynamic, llama3, yarn;
 * anything else is an error naming it). */
int  lmc_rope_from_config(const lmc_arch_ctx *c, double theta, int rot_dim, int interleaved, lmc_rope *r,
                          lmc_err *err);
/* cos/sin tables (T, rot_dim/2) for a window of T tokens (dynamic NTK acts when T > max_pos). */
void lmc_rope_tables(const lmc_rope *r, int T, float *cos_t, float *sin_t);
/* The rows for positions pos0..pos0+n-1 only (a decoding step). */
void lmc_rope_tables_at(const lmc_rope *r, int pos0, int n, float *cos_t, float *sin_t);
void lmc_rope_free(lmc_rope *r);
/* YaRN's magnitude correction: 1 for scale <= 1, else 0.1 · mscale · ln(scale) + 1 (HF yarn_get_mscale). */
double lmc_yarn_get_mscale(double scale, double mscale);

#endif
