/* merge.c — see merge.h. */
#include "eval/merge.h"
#include "eval/checkpoint.h"
#include "common/util.h"
#include "eval/windows.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct part {
    const char *path;
    cJSON      *root;
    cJSON      *results; /* array */
} part;

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Replaces o[key] in place (keys keep the order of a single run's file), as main.c writes doubles. */
static void set_raw_double(cJSON *o, const char *key, double v) {
    char b[40];
    if (isfinite(v)) lmc_fmt_double_exact(b, v);
    cJSON *item = isfinite(v) ? cJSON_CreateRaw(b) : cJSON_CreateNull();
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, item);
    else cJSON_AddItemToObject(o, key, item);
}

/* A double from the 16 lowercase hex digits of its bits (as eval writes nll_bits); finite only. */
static int parse_bits(const char *s, double *out) {
    uint64_t u;
    if (!s || strlen(s) != 16 || lmc_hex_value(s, 16, 0, &u)) return -1;
    memcpy(out, &u, sizeof *out);
    return isfinite(*out) ? 0 : -1;
}

static int load_part(const char *path, part *p, lmc_err *err) {
    char *text;
    size_t len;
    p->path = path;
    if (lmc_read_file(path, &text, &len, err)) return -1;
    p->root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!p->root) return lmc_fail(err, "%s: not JSON (a part is the --json file of `lmc eval --shard I/N`)", path);
    p->results = cJSON_GetObjectItemCaseSensitive(p->root, "results");
    if (!cJSON_IsArray(p->results) || cJSON_GetArraySize(p->results) < 1)
        return lmc_fail(err, "%s: not an lmc results file (no \"results\")", path);
    cJSON *r;
    cJSON_ArrayForEach(r, p->results) {
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(r, "shard");
        if (!cJSON_IsObject(sh) || !str(sh, "fingerprint") || !cJSON_IsArray(cJSON_GetObjectItem(sh, "windows")) ||
            !cJSON_IsArray(cJSON_GetObjectItem(sh, "nll_bits")) || !(num(sh, "count") >= 1) || !(num(sh, "index") >= 1))
            return lmc_fail(err, "%s: a complete result, not a shard's partial one (made without --shard): nothing "
                                 "to merge", path);
    }
    return 0;
}

/* Missing windows → "2/3, 3/3" (the shards that own them). */
static void missing_shards(const unsigned char *have, size_t K, int n, lmc_buf *out, size_t *n_missing) {
    unsigned char *seen = lmc_xcalloc((size_t)n, 1);
    *n_missing = 0;
    for (size_t k = 0; k < K; k++) {
        if (have[k]) continue;
        (*n_missing)++;
        int s = lmc_window_owner(k, n);
        if (seen[s]) continue;
        seen[s] = 1;
    }
    int first = 1;
    for (int s = 0; s < n; s++)
        if (seen[s]) {
            lmc_buf_printf(out, "%s%d/%d", first ? "" : ", ", s + 1, n);
            first = 0;
        }
    free(seen);
}

/* Merges result j of every part into parts[0]'s result j (which becomes the output). */
static int merge_one(part *parts, size_t np, int j, lmc_result *res, lmc_err *err) {
    cJSON *out = cJSON_GetArrayItem(parts[0].results, j);
    cJSON *sh0 = cJSON_GetObjectItemCaseSensitive(out, "shard");
    const char *fp0 = str(sh0, "fingerprint"), *data = str(out, "data");
    int n = (int)num(sh0, "count");
    double Kd = num(out, "windows");
    if (!(Kd >= 1 && Kd < 1e12)) return lmc_fail(err, "%s: result %d has no window count", parts[0].path, j + 1);
    size_t K = (size_t)Kd;
    unsigned char *have = lmc_xcalloc(K, 1);
    size_t *from = lmc_xcalloc(K, sizeof *from);
    double *wnll = lmc_xcalloc(K, sizeof *wnll);
    double seconds = 0, fwd = 0, work = 0, resumed = 0;
    lmc_buf diff = {0};
    int rc = -1;
    for (size_t p = 0; p < np; p++) {
        cJSON *r = cJSON_GetArrayItem(parts[p].results, j);
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(r, "shard");
        diff.len = 0;
        if (lmc_ckpt_fp_diff(fp0, str(sh, "fingerprint"), &diff)) {
            lmc_fail(err, "%s: belongs to another evaluation than %s (%s: %s differ%s)", parts[p].path, parts[0].path,
                     data ? data : "?", diff.p, strchr(diff.p, ',') ? "" : "s");
            goto out;
        }
        if ((int)num(sh, "count") != n) {
            lmc_fail(err, "%s: is shard %d/%d, but %s is one of %d shards", parts[p].path, (int)num(sh, "index"),
                     (int)num(sh, "count"), parts[0].path, n);
            goto out;
        }
        cJSON *ks = cJSON_GetObjectItem(sh, "windows"), *bs = cJSON_GetObjectItem(sh, "nll_bits");
        int m = cJSON_GetArraySize(ks);
        if (m != cJSON_GetArraySize(bs)) { lmc_fail(err, "%s: damaged shard record (%s)", parts[p].path, data); goto out; }
        for (int i = 0; i < m; i++) {
            double kd = cJSON_GetArrayItem(ks, i)->valuedouble, v;
            if (!(kd >= 0 && kd < Kd) || kd != floor(kd) ||
                parse_bits(cJSON_GetStringValue(cJSON_GetArrayItem(bs, i)), &v)) {
                lmc_fail(err, "%s: damaged shard record (%s, entry %d)", parts[p].path, data, i);
                goto out;
            }
            size_t k = (size_t)kd;
            if (have[k]) {
                lmc_fail(err, "%s: window %zu of %s is also in %s (the same shard given twice?); each window must "
                              "come from exactly one part", parts[p].path, k, data, parts[from[k]].path);
                goto out;
            }
            have[k] = 1;
            from[k] = p;
            wnll[k] = v;
        }
        seconds += num(r, "seconds");
        fwd += num(r, "forward_seconds");
        work += num(r, "forward_seconds") * num(r, "window_tokens_per_s");
        resumed += num(r, "resumed_windows");
    }
    size_t n_missing;
    diff.len = 0;
    missing_shards(have, K, n, &diff, &n_missing);
    if (n_missing) {
        lmc_fail(err, "%s: %zu of %zu windows are in no part: shard%s %s missing (%zu part%s given)", data, n_missing, K,
                 strchr(diff.p, ',') ? "s" : "", diff.p, np, np == 1 ? "" : "s");
        goto out;
    }
    /* window order, as a single run adds them */
    double nll = 0;
    for (size_t k = 0; k < K; k++) nll += wnll[k];
    memset(res, 0, sizeof *res);
    snprintf(res->data, sizeof res->data, "%s", data ? data : "?");
    res->nll = nll;
    res->chars = (size_t)num(out, "chars");
    res->bytes = (size_t)num(out, "bytes");
    res->docs = (size_t)num(out, "docs");
    res->tokens = (size_t)num(out, "tokens");
    res->windows = K;
    res->scored_tokens = (size_t)num(out, "scored_tokens");
    res->bpc = nll / ((double)res->chars * M_LN2);
    res->bpb = nll / ((double)res->bytes * M_LN2);
    res->token_ppl = exp(nll / (double)res->scored_tokens);
    res->zlib_bpc = num(out, "zlib_bpc");
    res->seconds = seconds;
    uint64_t bits;
    memcpy(&bits, &nll, sizeof bits);
    char hex[24];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)bits);
    set_raw_double(out, "bpc", res->bpc);
    set_raw_double(out, "bpb", res->bpb);
    set_raw_double(out, "nll", nll);
    cJSON_ReplaceItemInObjectCaseSensitive(out, "nll_bits", cJSON_CreateString(hex));
    set_raw_double(out, "token_ppl", res->token_ppl);
    /* times are the parts' sums: the work done, wherever it ran */
    set_raw_double(out, "seconds", seconds);
    set_raw_double(out, "forward_seconds", fwd);
    set_raw_double(out, "window_tokens_per_s", fwd > 0 ? work / fwd : 0);
    set_raw_double(out, "resumed_windows", resumed);
    cJSON_DeleteItemFromObjectCaseSensitive(out, "shard");
    cJSON_AddNumberToObject(out, "merged_shards", n);
    rc = 0;
out:
    free(have);
    free(from);
    free(wnll);
    lmc_buf_free(&diff);
    return rc;
}

int lmc_merge(const char *const *paths, size_t np, char **json, lmc_result **res, size_t *n_res, lmc_err *err) {
    *json = NULL;
    *res = NULL;
    *n_res = 0;
    if (np == 0) return lmc_fail(err, "lmc merge needs at least one part");
    part *parts = lmc_xcalloc(np, sizeof *parts);
    lmc_result *out = NULL;
    int rc = -1, nr = 0;
    for (size_t p = 0; p < np; p++)
        if (load_part(paths[p], &parts[p], err)) goto done;
    nr = cJSON_GetArraySize(parts[0].results);
    for (size_t p = 1; p < np; p++)
        if (cJSON_GetArraySize(parts[p].results) != nr) {
            lmc_fail(err, "%s: holds %d data files, %s holds %d: parts of different evaluations",
                     parts[p].path, cJSON_GetArraySize(parts[p].results), parts[0].path, nr);
            goto done;
        }
    out = lmc_xcalloc((size_t)nr, sizeof *out);
    for (int j = 0; j < nr; j++)
        if (merge_one(parts, np, j, &out[j], err)) goto done;
    double wall = 0;
    for (size_t p = 0; p < np; p++) wall += num(parts[p].root, "wall_seconds");
    set_raw_double(parts[0].root, "wall_seconds", wall);
    *json = cJSON_Print(parts[0].root);
    *res = out;
    *n_res = (size_t)nr;
    out = NULL;
    rc = 0;
done:
    for (size_t p = 0; p < np; p++) cJSON_Delete(parts[p].root);
    free(parts);
    free(out);
    return rc;
}
