/* rope_freq.c — RoPE inverse frequencies with HF's rope_scaling variants (none/default, linear, dynamic,
 * llama3). Computed in double and rounded once to f32, as HF's f32 `inv_freq` buffer holds them. */
#include "arch.h"
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void base_freqs(float *inv, int rot_dim, double theta) {
    for (int i = 0; i < rot_dim / 2; i++) inv[i] = (float)(1.0 / pow(theta, (double)(2 * i) / rot_dim));
}

static int llama3_scale(const lmc_arch_ctx *c, const cJSON *rs, lmc_rope *r, lmc_err *err) {
    double factor, lo, hi, old;
    if (cfg_obj_num(c, rs, "rope_scaling", "factor", 1, 0, &factor, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "low_freq_factor", 1, 0, &lo, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "high_freq_factor", 1, 0, &hi, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "original_max_position_embeddings", 1, 0, &old, err))
        return -1;
    if (factor <= 0 || hi <= lo) return lmc_fail(err, "%s: invalid llama3 rope_scaling values", c->origin);
    double low_wavelen = old / lo, high_wavelen = old / hi;
    for (int i = 0; i < r->rot_dim / 2; i++) {
        double f = r->inv_freq[i], wavelen = 2 * M_PI / f;
        if (wavelen > low_wavelen) f = f / factor;
        else if (wavelen >= high_wavelen) {
            double smooth = (old / wavelen - lo) / (hi - lo);
            f = (1 - smooth) * f / factor + smooth * f;
        }
        r->inv_freq[i] = (float)f;
    }
    return 0;
}

int lmc_rope_from_config(const lmc_arch_ctx *c, double theta, int rot_dim, int interleaved, lmc_rope *r,
                         lmc_err *err) {
    memset(r, 0, sizeof *r);
    r->rot_dim = rot_dim;
    r->interleaved = interleaved;
    r->mscale = 1.0f;
    r->theta = theta;
    r->inv_freq = lmc_xmalloc(sizeof(float) * (size_t)(rot_dim / 2 + 1));
    base_freqs(r->inv_freq, rot_dim, theta);
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c->config, "rope_scaling");
    if (!rs || cJSON_IsNull(rs)) return 0;
    if (!cJSON_IsObject(rs)) return lmc_fail(err, "%s: config.json \"rope_scaling\" is not an object", c->origin);
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!ty) ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
    const char *type = cJSON_IsString(ty) ? ty->valuestring : NULL;
    if (!type) return lmc_fail(err, "%s: config.json rope_scaling has no \"type\"/\"rope_type\"", c->origin);
    if (!strcmp(type, "default")) return 0;
    if (!strcmp(type, "linear")) {
        double factor;
        if (cfg_obj_num(c, rs, "rope_scaling", "factor", 1, 0, &factor, err)) return -1;
        if (factor <= 0) return lmc_fail(err, "%s: rope_scaling.factor must be positive", c->origin);
        for (int i = 0; i < rot_dim / 2; i++) r->inv_freq[i] = (float)(r->inv_freq[i] / factor);
        return 0;
    }
    if (!strcmp(type, "dynamic")) {
        long max_pos;
        if (cfg_obj_num(c, rs, "rope_scaling", "factor", 1, 0, &r->factor, err) ||
            cfg_int(c, "max_position_embeddings", 1, 0, &max_pos, err))
            return -1;
        r->dynamic = 1;
        r->max_pos = (int)max_pos;
        return 0;
    }
    if (!strcmp(type, "llama3")) return llama3_scale(c, rs, r, err);
    return lmc_fail(err, "%s: rope_scaling type \"%s\" is not supported (supported: linear, dynamic, llama3)",
                    c->origin, type);
}

void lmc_rope_tables(const lmc_rope *r, int T, float *cos_t, float *sin_t) {
    const float *inv = r->inv_freq;
    float *dyn = NULL;
    if (r->dynamic && T > r->max_pos) {
        /* HF dynamic NTK: base · ((factor · T / max_pos) − (factor − 1))^(d / (d − 2)) for a T-token input */
        double d = r->rot_dim;
        double base = r->theta * pow(r->factor * T / r->max_pos - (r->factor - 1), d / (d - 2));
        dyn = lmc_xmalloc(sizeof(float) * (size_t)(r->rot_dim / 2 + 1));
        base_freqs(dyn, r->rot_dim, base);
        inv = dyn;
    }
    rope_tables(cos_t, sin_t, inv, T, r->rot_dim, r->mscale);
    free(dyn);
}

void lmc_rope_free(lmc_rope *r) { free(r->inv_freq); r->inv_freq = NULL; }
