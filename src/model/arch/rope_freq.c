/* rope_freq.c — RoPE inverse frequencies with HF's rope_scaling variants (none/default, linear, dynamic,
 * llama3, yarn). Computed in double and rounded once to f32, as HF's f32 `inv_freq` buffer holds them. */
#include "model/arch/arch.h"
#include "kernels.h"
#include "common/util.h"

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

double lmc_yarn_get_mscale(double scale, double mscale) {
    return scale <= 1 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

/* Dimension index (of rot_dim) whose wavelength makes `rotations` turns over `max_pos` positions. */
static double yarn_correction_dim(double rotations, int dim, double base, double max_pos) {
    return dim * log(max_pos / (rotations * 2 * M_PI)) / (2 * log(base));
}

/* YaRN as DeepSeek-V2's DeepseekV2YarnRotaryEmbedding computes it (and HF's generic "yarn" for the inv_freq):
 * pair i blends the interpolated (θ_i / factor) and the extrapolated (θ_i) frequency with a linear ramp between
 * the correction dims of beta_fast and beta_slow (floored/ceiled unless "truncate": false), and cos/sin are
 * multiplied by mscale(factor, mscale) / mscale(factor, mscale_all_dim) with mscale(s, m) = 0.1·m·ln s + 1
 * (defaults mscale 1, mscale_all_dim 0; an explicit "attention_factor" replaces that ratio, as in HF). The
 * extra softmax scale DeepSeek applies (mscale(factor, mscale_all_dim)²) is the architecture's business. */
static int yarn_scale(const lmc_arch_ctx *c, const cJSON *rs, lmc_rope *r, lmc_err *err) {
    double factor, old, beta_fast, beta_slow, mscale, mscale_all, attn_factor;
    if (cfg_obj_num(c, rs, "rope_scaling", "factor", 1, 0, &factor, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "original_max_position_embeddings", 1, 0, &old, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "beta_fast", 0, 32, &beta_fast, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "beta_slow", 0, 1, &beta_slow, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "mscale", 0, 1, &mscale, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "mscale_all_dim", 0, 0, &mscale_all, err) ||
        cfg_obj_num(c, rs, "rope_scaling", "attention_factor", 0, 0, &attn_factor, err))
        return -1;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(rs, "truncate");
    int truncate = !cJSON_IsFalse(tr);
    if (factor <= 0 || old <= 0 || beta_fast <= 0 || beta_slow <= 0)
        return lmc_fail(err, "%s: invalid yarn rope_scaling values", c->origin);
    int dim = r->rot_dim, half = dim / 2;
    double lo = yarn_correction_dim(beta_fast, dim, r->theta, old);
    double hi = yarn_correction_dim(beta_slow, dim, r->theta, old);
    if (truncate) { lo = floor(lo); hi = ceil(hi); }
    if (lo < 0) lo = 0;
    if (hi > dim - 1) hi = dim - 1;
    if (lo == hi) hi += 0.001;
    for (int i = 0; i < half; i++) {
        double extra = 1.0 / pow(r->theta, (double)(2 * i) / dim), inter = extra / factor;
        double ramp = (i - lo) / (hi - lo);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        double keep = 1.0 - ramp; /* weight of the extrapolated (unscaled) frequency */
        r->inv_freq[i] = (float)(inter * (1 - keep) + extra * keep);
    }
    r->factor = factor;
    r->mscale = (float)(attn_factor > 0 ? attn_factor
                                        : lmc_yarn_get_mscale(factor, mscale) / lmc_yarn_get_mscale(factor, mscale_all));
    return 0;
}

int lmc_rope_from_config(const lmc_arch_ctx *c, double theta, int rot_dim, int interleaved, lmc_rope *r,
                         lmc_err *err) {
    memset(r, 0, sizeof *r);
    if (rot_dim < 2 || rot_dim % 2 || rot_dim > 65536) /* checked before the table is allocated */
        return lmc_fail(err, "%s: %d rotary dimensions per head (must be even, 2..65536)", c->origin, rot_dim);
    if (!(theta > 0)) /* theta^(-2i/d) must be a finite positive frequency */
        return lmc_fail(err, "%s: config.json rope base (rope_theta) is %g; it must be positive", c->origin, theta);
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
    if (!strcmp(type, "yarn")) return yarn_scale(c, rs, r, err);
    return lmc_fail(err, "%s: rope_scaling type \"%s\" is not supported (supported: linear, dynamic, llama3, yarn)",
                    c->origin, type);
}

void lmc_rope_tables(const lmc_rope *r, int T, float *cos_t, float *sin_t) {
    lmc_rope_tables_at(r, 0, T, cos_t, sin_t);
}

/* Dynamic NTK scales by the length seen so far (pos0 + n), as HF does when decoding with a cache: past the
 * trained length, cached keys keep the angles of the step that wrote them, so a step then differs from a
 * prefill of the same tokens (in HF too). */
void lmc_rope_tables_at(const lmc_rope *r, int pos0, int n, float *cos_t, float *sin_t) {
    const float *inv = r->inv_freq;
    float *dyn = NULL;
    int T = pos0 + n;
    if (r->dynamic && T > r->max_pos) {
        /* HF dynamic NTK: base · ((factor · T / max_pos) − (factor − 1))^(d / (d − 2)) for a T-token input */
        double d = r->rot_dim;
        double base = r->theta * pow(r->factor * T / r->max_pos - (r->factor - 1), d / (d - 2));
        dyn = lmc_xmalloc(sizeof(float) * (size_t)(r->rot_dim / 2 + 1));
        base_freqs(dyn, r->rot_dim, base);
        inv = dyn;
    }
    rope_tables_at(cos_t, sin_t, inv, pos0, n, r->rot_dim, r->mscale);
    free(dyn);
}

void lmc_rope_free(lmc_rope *r) { free(r->inv_freq); r->inv_freq = NULL; }
