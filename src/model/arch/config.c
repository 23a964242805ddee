/* config.c — typed reads of config.json keys, with errors that name the key. */
#include "model/arch/arch.h"
#include "common/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int obj_num(const char *origin, const cJSON *obj, const char *objname, const char *key, int required,
                   double dflt, double *out, lmc_err *err) {
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v || cJSON_IsNull(v)) {
        if (required) return lmc_fail(err, "%s: config.json has no \"%s%s%s\"", origin, objname ? objname : "",
                                      objname ? "." : "", key);
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return lmc_fail(err, "%s: config.json \"%s%s%s\" is not a number", origin, objname ? objname : "",
                        objname ? "." : "", key);
    if (!isfinite(v->valuedouble)) /* cJSON turns 1e999 into inf */
        return lmc_fail(err, "%s: config.json \"%s%s%s\" is not a finite number", origin, objname ? objname : "",
                        objname ? "." : "", key);
    *out = v->valuedouble;
    return 0;
}

int cfg_obj_num(const lmc_arch_ctx *c, const cJSON *obj, const char *objname, const char *key, int required,
                double dflt, double *out, lmc_err *err) {
    return obj_num(c->origin, obj, objname, key, required, dflt, out, err);
}

int cfg_num(const lmc_arch_ctx *c, const char *key, int required, double dflt, double *out, lmc_err *err) {
    return obj_num(c->origin, c->config, NULL, key, required, dflt, out, err);
}

int cfg_int(const lmc_arch_ctx *c, const char *key, int required, long dflt, long *out, lmc_err *err) {
    double d = 0;
    if (obj_num(c->origin, c->config, NULL, key, required, (double)dflt, &d, err)) return -1;
    if (d < 0 || d > 1e9 || d != (double)(long)d) /* range first: (long)d is undefined beyond LONG_MAX */
        return lmc_fail(err, "%s: config.json \"%s\" must be a non-negative integer (got %g)", c->origin, key, d);
    *out = (long)d;
    return 0;
}

int cfg_num_in(const lmc_arch_ctx *c, const char *key, double dflt, double lo, double hi, double *out, lmc_err *err) {
    if (cfg_num(c, key, 0, dflt, out, err)) return -1;
    if (*out < lo || *out > hi)
        return lmc_fail(err, "%s: config.json \"%s\" is %g, outside [%g, %g]", c->origin, key, *out, lo, hi);
    return 0;
}

int cfg_check_layers(const lmc_arch_ctx *c, const char *key, long n_layers, lmc_err *err) {
    if (!c->w) return 0; /* a plan (arch_plan): no weights to bound it by, the caller's own config */
    size_t have = lmc_weights_count(c->w);
    if ((size_t)n_layers > have)
        return lmc_fail(err, "%s: config.json \"%s\" is %ld, but the weights hold only %zu tensors", c->origin, key,
                        n_layers, have);
    return 0;
}

int cfg_bool(const lmc_arch_ctx *c, const char *key, int dflt, int *out, lmc_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->config, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return 0; }
    if (!cJSON_IsBool(v)) return lmc_fail(err, "%s: config.json \"%s\" is not true/false", c->origin, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int cfg_str(const lmc_arch_ctx *c, const char *key, const char *dflt, const char **out, lmc_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->config, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return 0; }
    if (!cJSON_IsString(v)) return lmc_fail(err, "%s: config.json \"%s\" is not a string", c->origin, key);
    *out = v->valuestring;
    return 0;
}

int cfg_has_tensor(const lmc_arch_ctx *c, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return c->w && lmc_weights_find(c->w, name) != NULL;
}
