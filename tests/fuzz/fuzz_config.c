/* fuzz_config.c — model loading (src/model/model.c and the architectures in src/model/arch/) on an arbitrary config.json next to a fixed, valid tiny
 * weights file (Llama-family names, with every optional bias: vocab 32, hidden 8, 2 heads of 4, 1 KV head,
 * intermediate 16, 1 layer). The config decides the architecture, shapes, RoPE scaling and options; whatever it
 * says, lmc_model_open must fail with a one-line message or give a model whose forward pass runs. */
#include "fuzz_common.h"
#include "lmc.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "common/util.h"

#include <stdint.h>

enum { V = 32, D = 8, QD = 8, KVD = 4, H = 16 };

static void write_weights(void) {
    static float buf[V * D * 2 + 4096];
    for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) buf[i] = (float)((i * 2654435761u) % 1000) / 5000.0f - 0.1f;
    static float ones[H];
    for (int i = 0; i < H; i++) ones[i] = 1.0f;
    const char *L = "model.layers.0.";
    char names[32][96];
    lmc_st_entry t[32];
    int n = 0;
#define T2(nm, r, c, src) do { snprintf(names[n], sizeof names[n], "%s", nm); \
        t[n] = (lmc_st_entry){names[n], LMC_F32, 2, {r, c}, src, LMC_F32}; n++; } while (0)
#define T1(nm, r, src) do { snprintf(names[n], sizeof names[n], "%s", nm); \
        t[n] = (lmc_st_entry){names[n], LMC_F32, 1, {r}, src, LMC_F32}; n++; } while (0)
    char nm[96];
    T2("model.embed_tokens.weight", V, D, buf);
    T2("lm_head.weight", V, D, buf + 7);
    T1("model.norm.weight", D, ones);
#define LN(suffix) (snprintf(nm, sizeof nm, "%s%s", L, suffix), nm)
    T1(LN("input_layernorm.weight"), D, ones);
    T1(LN("post_attention_layernorm.weight"), D, ones);
    T2(LN("self_attn.q_proj.weight"), QD, D, buf + 11);
    T2(LN("self_attn.k_proj.weight"), KVD, D, buf + 13);
    T2(LN("self_attn.v_proj.weight"), KVD, D, buf + 17);
    T2(LN("self_attn.o_proj.weight"), D, QD, buf + 19);
    T1(LN("self_attn.q_proj.bias"), QD, buf + 23);
    T1(LN("self_attn.k_proj.bias"), KVD, buf + 29);
    T1(LN("self_attn.v_proj.bias"), KVD, buf + 31);
    T1(LN("self_attn.o_proj.bias"), D, buf + 37);
    T2(LN("mlp.gate_proj.weight"), H, D, buf + 41);
    T2(LN("mlp.up_proj.weight"), H, D, buf + 43);
    T2(LN("mlp.down_proj.weight"), D, H, buf + 47);
    T1(LN("mlp.gate_proj.bias"), H, buf + 53);
    T1(LN("mlp.up_proj.bias"), H, buf + 59);
    T1(LN("mlp.down_proj.bias"), D, buf + 61);
    char p[512];
    lmc_err e;
    if (lmc_st_write(fz_path(p, sizeof p, "model.safetensors"), t, (size_t)n, NULL, 0, &e)) {
        fprintf(stderr, "fuzz: %s\n", e.msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    fz_scratch();
    write_weights();
    setenv("LMC_MEMORY_LIMIT", "1000000000", 1); /* deterministic: not the machine's free memory */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_write("config.json", data, size);
    lmc_model *m;
    lmc_err err = {{0}};
    lmc_model_opts mo = {.compute = LMC_COMPUTE_F32, .threads = 1};
    if (lmc_model_open(fz_scratch(), &mo, &m, &err)) {
        FZ_ASSERT(err.msg[0] != 0 && strchr(err.msg, '\n') == NULL);
        return 0;
    }
    FZ_ASSERT(m->info.dim > 0 && m->info.vocab > 0 && m->info.lm_head);
    /* a forward pass over a few tokens, and the logits of every row */
    int T = 3 + (int)(size % 5);
    if (m->info.max_window > 0 && T > m->info.max_window) T = m->info.max_window;
    int32_t ids[8];
    for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 7 + (int)size) % m->info.vocab);
    float *logits = malloc(sizeof(float) * (size_t)T * (size_t)m->info.vocab);
    FZ_ASSERT(logits);
    lmc_err e2 = {{0}};
    if (lmc_model_logits(m, ids, T, logits, &e2)) FZ_ASSERT(e2.msg[0] != 0);
    free(logits);
    lmc_model_close(m);
    return 0;
}
