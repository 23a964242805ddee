/* merge.c — see merge.h. The results file's fields are read and rewritten through results.h (the module that
 * owns the format); this file checks that the parts belong together and adds their windows up. */
#include "eval/merge.h"
#include "eval/checkpoint.h"
#include "eval/results.h"
#include "common/util.h"
#include "eval/windows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct part {
    const char *path;
    cJSON      *root;
    cJSON      *results; /* array */
} part;

/* Result j of every part, with the windows gathered so far. */
typedef struct merge_state {
    const part       *parts;
    size_t            np;
    lmc_shard_record *rec;   /* (np) result j's shard record of each part */
    size_t            K;     /* windows of the plan */
    unsigned char    *have;  /* (K) 1: some part holds window k */
    size_t           *from;  /* (K) the part that holds it */
    size_t           *slot;  /* (K) its entry in that part's record */
    double           *wnll;  /* (K) its NLL */
    lmc_buf           diff;
} merge_state;

static int load_part(const char *path, part *p, lmc_err *err) {
    p->path = path;
    if (lmc_results_parse(path, &p->root, err)) return -1;
    p->results = lmc_results_entries(p->root);
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

/* Part p belongs with part 0: the same evaluation (fingerprint), the same shard count and window plan. */
static int check_same_run(merge_state *st, size_t p, lmc_err *err) {
    const lmc_shard_record *r0 = &st->rec[0], *r = &st->rec[p];
    const char *path = st->parts[p].path, *path0 = st->parts[0].path;
    st->diff.len = 0;
    if (lmc_ckpt_fp_diff(r0->fingerprint, r->fingerprint, &st->diff))
        return lmc_fail(err, "%s: belongs to another evaluation than %s (%s: %s differ%s)", path, path0, r0->data,
                        st->diff.p, strchr(st->diff.p, ',') ? "" : "s");
    if (r->count != r0->count)
        return lmc_fail(err, "%s: is shard %d/%d, but %s is one of %d shards", path, r->index, r->count, path0,
                        r0->count);
    if (r->windows != r0->windows) return lmc_fail(err, "%s: damaged shard record (%s)", path, r->data);
    return 0;
}

/* Takes part p's windows; a window that another part already gave is an error. */
static int gather_windows(merge_state *st, size_t p, lmc_err *err) {
    const lmc_shard_record *r = &st->rec[p];
    for (size_t i = 0; i < r->n; i++) {
        size_t k = r->k[i];
        if (st->have[k])
            return lmc_fail(err, "%s: window %zu of %s is also in %s (the same shard given twice?); each window must "
                                 "come from exactly one part", st->parts[p].path, k, r->data,
                            st->parts[st->from[k]].path);
        st->have[k] = 1;
        st->from[k] = p;
        st->slot[k] = i;
        st->wnll[k] = r->nll[i];
    }
    return 0;
}

/* Every window of the plan came from some part. */
static int check_complete(merge_state *st, lmc_err *err) {
    size_t n_missing;
    st->diff.len = 0;
    missing_shards(st->have, st->K, st->rec[0].count, &st->diff, &n_missing);
    if (!n_missing) return 0;
    return lmc_fail(err, "%s: %zu of %zu windows are in no part: shard%s %s missing (%zu part%s given)",
                    st->rec[0].data, n_missing, st->K, strchr(st->diff.p, ',') ? "s" : "", st->diff.p, st->np,
                    st->np == 1 ? "" : "s");
}

/* The window NLLs in window order, as a single run adds them, and the parts' times. */
static lmc_merged add_up(const merge_state *st) {
    lmc_merged m = {.shards = st->rec[0].count};
    for (size_t k = 0; k < st->K; k++) m.nll += st->wnll[k];
    for (size_t p = 0; p < st->np; p++) {
        const lmc_shard_record *r = &st->rec[p];
        m.seconds += r->seconds;
        m.forward_seconds += r->forward_seconds;
        m.work += r->forward_seconds * r->window_tokens_per_s;
        m.resumed_windows += r->resumed_windows;
    }
    return m;
}

/* The per-document NLLs as one process adds them (eval.c): window by window in window order, each window's
 * parts in their order; with the documents' facts, the doc_stats of a single run. m->doc_stats stays NULL when a
 * part has no document parts (written by an older lmc). */
static int rebuild_doc_stats(const merge_state *st, lmc_merged *m, lmc_err *err) {
    const lmc_shard_record *r0 = &st->rec[0];
    for (size_t p = 0; p < st->np; p++) {
        const lmc_shard_record *r = &st->rec[p];
        if (!r->parts) return 0;
        if (r->bootstrap != r0->bootstrap)
            return lmc_fail(err, "%s: was run with --bootstrap %d, %s with %d: the merged interval needs one; rerun "
                                 "the shards with the same --bootstrap", st->parts[p].path, r->bootstrap,
                            st->parts[0].path, r0->bootstrap);
        if (r->n_docs != r0->n_docs) return lmc_fail(err, "%s: damaged shard record (%s)", st->parts[p].path, r->data);
    }
    lmc_doc_stat *ds = lmc_xmalloc(r0->n_docs * sizeof *ds);
    memcpy(ds, r0->docs, r0->n_docs * sizeof *ds);
    for (size_t k = 0; k < st->K; k++) {
        const lmc_shard_record *r = &st->rec[st->from[k]];
        const lmc_doc_part *p = r->parts + r->part_off[st->slot[k]];
        for (size_t j = 0; j < r->part_n[st->slot[k]]; j++) ds[p[j].doc].nll += p[j].nll;
    }
    m->doc_stats = ds;
    m->bootstrap = r0->bootstrap;
    return 0;
}

/* Merges result j of every part into parts[0]'s result j (which becomes the output). */
static int merge_one(part *parts, size_t np, int j, lmc_result *res, int *bootstrap, lmc_err *err) {
    merge_state st = {.parts = parts, .np = np, .rec = lmc_xcalloc(np, sizeof *st.rec)};
    int rc = -1;
    for (size_t p = 0; p < np; p++)
        if (lmc_results_shard(cJSON_GetArrayItem(parts[p].results, j), parts[p].path, &st.rec[p], err)) goto out;
    st.K = st.rec[0].windows;
    st.have = lmc_xcalloc(st.K, 1);
    st.from = lmc_xcalloc(st.K, sizeof *st.from);
    st.slot = lmc_xcalloc(st.K, sizeof *st.slot);
    st.wnll = lmc_xcalloc(st.K, sizeof *st.wnll);
    for (size_t p = 0; p < np; p++)
        if (check_same_run(&st, p, err) || gather_windows(&st, p, err)) goto out;
    if (check_complete(&st, err)) goto out;
    lmc_merged m = add_up(&st);
    cJSON *o = cJSON_GetArrayItem(parts[0].results, j);
    if (rebuild_doc_stats(&st, &m, err) || lmc_results_set_merged(o, &m, res, err)) goto out;
    if (m.doc_stats) *bootstrap = m.bootstrap;
    rc = 0;
out:
    for (size_t p = 0; p < np; p++) lmc_shard_record_free(&st.rec[p]);
    free(st.rec);
    free(st.have);
    free(st.from);
    free(st.slot);
    free(st.wnll);
    lmc_buf_free(&st.diff);
    return rc;
}

int lmc_merge(const char *const *paths, size_t np, char **json, lmc_result **res, size_t *n_res, int *bootstrap,
              lmc_err *err) {
    *json = NULL;
    *res = NULL;
    *n_res = 0;
    *bootstrap = 0;
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
        if (merge_one(parts, np, j, &out[j], bootstrap, err)) goto done;
    double wall = 0;
    for (size_t p = 0; p < np; p++) wall += lmc_results_wall(parts[p].root);
    lmc_results_set_wall(parts[0].root, wall);
    *json = cJSON_Print(parts[0].root);
    *res = out;
    *n_res = (size_t)nr;
    out = NULL;
    rc = 0;
done:
    for (size_t p = 0; p < np; p++) cJSON_Delete(parts[p].root);
    free(parts);
    for (int j = 0; out && j < nr; j++) lmc_result_free(&out[j]);
    free(out);
    return rc;
}
