/* golden.h — helpers for golden tests against ../shared/fixtures: read reference arrays, run a model, and
 * compare logits / log-probs with a stated tolerance. Header-only, included by test files. */
#ifndef LMC_GOLDEN_H
#define LMC_GOLDEN_H

#include "model/model.h"
#include "test.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <math.h>

/* Reads a little-endian float32 / int32 file into a malloc'ed array; *n elements. */
static inline void *g_read_raw(const char *path, size_t elem, size_t *n) {
    char *d;
    size_t len;
    lmc_err e;
    if (lmc_read_file(path, &d, &len, &e)) return NULL;
    *n = len / elem;
    return d;
}

static inline cJSON *g_read_json(const char *path) {
    char *d;
    size_t len;
    lmc_err e;
    if (lmc_read_file(path, &d, &len, &e)) return NULL;
    cJSON *j = cJSON_ParseWithLength(d, len);
    free(d);
    return j;
}

static inline int32_t *g_ids(const cJSON *arr, int *T) {
    *T = cJSON_GetArraySize(arr);
    int32_t *ids = lmc_xmalloc(sizeof(int32_t) * (size_t)(*T ? *T : 1));
    for (int i = 0; i < *T; i++) ids[i] = (int32_t)cJSON_GetArrayItem(arr, i)->valuedouble;
    return ids;
}

static inline double g_logsumexp(const float *row, int V) { /* double-precision reference for comparisons */
    double m = -INFINITY, s = 0;
    for (int i = 0; i < V; i++) m = row[i] > m ? row[i] : m;
    for (int i = 0; i < V; i++) s += exp(row[i] - m);
    return m + log(s);
}

static inline int g_argmax(const float *row, int V, double *gap) {
    int best = 0;
    for (int i = 1; i < V; i++) if (row[i] > row[best]) best = i;
    double second = -INFINITY;
    for (int i = 0; i < V; i++) if (i != best && row[i] > second) second = row[i];
    if (gap) *gap = row[best] - second;
    return best;
}

#endif
