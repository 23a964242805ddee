/* results.c — the results file, written by `lmc eval` (writing), merged by `lmc merge` (shard records and merged
 * fields) and read back for `lmc report` and `lmc compare` (reading, with one-line errors for anything that would
 * otherwise give a silent number). The only file that names the format's keys: see docs/results.md. */
#include "eval/results.h"
#include "common/util.h"
#include "eval/windows.h"
#include "gemm_i8.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------------------------------ */

/* a double as the shortest decimal that reads back as the same double; null when not finite */
static cJSON *exact_number(double v) {
    if (!isfinite(v)) return cJSON_CreateNull();
    char b[40];
    lmc_fmt_double_exact(b, v);
    return cJSON_CreateRaw(b);
}

static void add_double(cJSON *o, const char *key, double v) { cJSON_AddItemToObject(o, key, exact_number(v)); }

static void add_count(cJSON *o, const char *key, size_t v) { cJSON_AddNumberToObject(o, key, (double)v); }

static void add_path(cJSON *o, const char *key, const char *path) {
    if (path) cJSON_AddStringToObject(o, key, path);
    else cJSON_AddNullToObject(o, key);
}

/* A double's 64 bits as 16 hex digits: what `lmc merge` adds back exactly. */
static void bits_hex(double v, char hex[24]) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    snprintf(hex, 24, "%016llx", (unsigned long long)bits);
}

int lmc_results_add_stats(cJSON *o, const lmc_result *r, int resamples, lmc_err *err) {
    size_t n = r->docs;
    double *y = malloc(sizeof(double) * n), *x = malloc(sizeof(double) * n);
    if (!y || !x) { free(y); free(x); return lmc_fail(err, "out of memory for %zu per-document statistics", n); }
    for (size_t d = 0; d < n; d++) {
        y[d] = r->doc_stats[d].nll / M_LN2;
        x[d] = (double)r->doc_stats[d].chars;
    }
    lmc_interval iv;
    int rc = lmc_stats_ratio(y, x, n, resamples, LMC_BOOTSTRAP_SEED, &iv, err);
    free(y);
    free(x);
    if (rc) return lmc_fail(err, "%s: %s", r->data, err->msg);
    cJSON_AddItemToObject(o, "bpc_se", exact_number(iv.se));
    if (resamples > 0) {
        cJSON *ci = cJSON_AddArrayToObject(o, "bpc_ci95");
        cJSON_AddItemToArray(ci, exact_number(iv.lo));
        cJSON_AddItemToArray(ci, exact_number(iv.hi));
    } else {
        cJSON_AddNullToObject(o, "bpc_ci95");
    }
    cJSON *bs = cJSON_AddObjectToObject(o, "bootstrap");
    cJSON_AddNumberToObject(bs, "resamples", resamples);
    cJSON_AddNumberToObject(bs, "seed", (double)LMC_BOOTSTRAP_SEED);
    cJSON_AddStringToObject(bs, "unit", "document");
    cJSON *ds = cJSON_AddObjectToObject(o, "doc_stats");
    cJSON *a_nll = cJSON_AddArrayToObject(ds, "nll"), *a_tok = cJSON_AddArrayToObject(ds, "tokens");
    cJSON *a_sc = cJSON_AddArrayToObject(ds, "scored_tokens"), *a_ch = cJSON_AddArrayToObject(ds, "chars");
    cJSON *a_by = cJSON_AddArrayToObject(ds, "bytes");
    for (size_t d = 0; d < n; d++) {
        const lmc_doc_stat *s = &r->doc_stats[d];
        cJSON_AddItemToArray(a_nll, exact_number(s->nll));
        cJSON_AddItemToArray(a_tok, cJSON_CreateNumber((double)s->tokens));
        cJSON_AddItemToArray(a_sc, cJSON_CreateNumber((double)s->scored_tokens));
        cJSON_AddItemToArray(a_ch, cJSON_CreateNumber((double)s->chars));
        cJSON_AddItemToArray(a_by, cJSON_CreateNumber((double)s->bytes));
    }
    return 0;
}

/* The per-document facts every shard knows in full (doc_stats less nll): what `lmc merge` completes with the
 * per-document NLLs it rebuilds. */
static void add_documents(cJSON *sh, const lmc_result *r) {
    cJSON *ds = cJSON_AddObjectToObject(sh, "documents");
    cJSON *a_tok = cJSON_AddArrayToObject(ds, "tokens"), *a_sc = cJSON_AddArrayToObject(ds, "scored_tokens");
    cJSON *a_ch = cJSON_AddArrayToObject(ds, "chars"), *a_by = cJSON_AddArrayToObject(ds, "bytes");
    for (size_t d = 0; d < r->docs; d++) {
        const lmc_doc_stat *s = &r->doc_stats[d];
        cJSON_AddItemToArray(a_tok, cJSON_CreateNumber((double)s->tokens));
        cJSON_AddItemToArray(a_sc, cJSON_CreateNumber((double)s->scored_tokens));
        cJSON_AddItemToArray(a_ch, cJSON_CreateNumber((double)s->chars));
        cJSON_AddItemToArray(a_by, cJSON_CreateNumber((double)s->bytes));
    }
}

/* What `lmc merge` needs of a shard's result: whose windows these are, their exact NLLs and their split by
 * document, the fingerprint, and what the merged result's doc_stats and interval need besides. */
static void add_shard(cJSON *o, const lmc_result *r, const lmc_eval_opts *eo, int bootstrap) {
    cJSON *sh = cJSON_AddObjectToObject(o, "shard");
    cJSON_AddNumberToObject(sh, "index", eo->shard_index + 1);
    cJSON_AddNumberToObject(sh, "count", eo->shard_count);
    cJSON_AddStringToObject(sh, "fingerprint", r->fingerprint ? r->fingerprint : "");
    cJSON *ks = cJSON_AddArrayToObject(sh, "windows"), *bs = cJSON_AddArrayToObject(sh, "nll_bits");
    /* without the parts or the documents (a library caller's lmc_eval_opts.doc_stats = 0), a merge has no
     * doc_stats */
    int docs = r->window_parts && r->doc_stats;
    cJSON *pd = docs ? cJSON_AddArrayToObject(sh, "part_docs") : NULL;
    cJSON *pb = docs ? cJSON_AddArrayToObject(sh, "part_nll_bits") : NULL;
    char hex[24];
    for (size_t k = 0; k < r->windows; k++) {
        if (isnan(r->window_nll[k])) continue; /* another shard's window */
        bits_hex(r->window_nll[k], hex);
        cJSON_AddItemToArray(ks, cJSON_CreateNumber((double)k));
        cJSON_AddItemToArray(bs, cJSON_CreateString(hex));
        if (!docs) continue;
        cJSON *ds = cJSON_CreateArray(), *ns = cJSON_CreateArray();
        for (size_t i = 0; i < r->window_part_n[k]; i++) {
            const lmc_doc_part *p = &r->window_parts[r->window_part_off[k] + i];
            bits_hex(p->nll, hex);
            cJSON_AddItemToArray(ds, cJSON_CreateNumber((double)p->doc));
            cJSON_AddItemToArray(ns, cJSON_CreateString(hex));
        }
        cJSON_AddItemToArray(pd, ds);
        cJSON_AddItemToArray(pb, ns);
    }
    if (!docs) return;
    cJSON_AddNumberToObject(sh, "bootstrap", bootstrap);
    add_documents(sh, r);
}

/* One entry of "results": one data file (docs/results.md lists the fields in this order). */
static cJSON *result_json(const lmc_result *r, const lmc_eval_opts *eo, int bootstrap, lmc_err *err) {
    cJSON *o = cJSON_CreateObject();
    char hex[24];
    bits_hex(r->nll, hex);
    cJSON_AddStringToObject(o, "data", r->data);
    cJSON_AddStringToObject(o, "data_sha256", r->data_sha256);
    add_double(o, "bpc", r->bpc);
    add_double(o, "bpb", r->bpb);
    add_double(o, "nll", r->nll);
    cJSON_AddStringToObject(o, "nll_bits", hex);
    add_double(o, "token_ppl", r->token_ppl);
    add_count(o, "chars", r->chars);
    add_count(o, "bytes", r->bytes);
    add_count(o, "docs", r->docs);
    add_count(o, "records", r->records);
    add_count(o, "skipped_records", r->skipped);
    add_count(o, "tokens", r->tokens);
    cJSON_AddStringToObject(o, "tokens_sha256", r->tokens_sha256);
    add_count(o, "windows", r->windows);
    add_count(o, "scored_tokens", r->scored_tokens);
    add_double(o, "scored_fraction", lmc_result_scored_fraction(r));
    cJSON_AddStringToObject(o, "format", lmc_format_name(r->format));
    cJSON_AddNumberToObject(o, "block_size", r->block_size);
    cJSON_AddNumberToObject(o, "stride", r->stride);
    cJSON_AddNumberToObject(o, "file_num", (double)r->file_num);
    add_double(o, "zlib_bpc", r->zlib_bpc);
    add_count(o, "zlib_bytes", r->zlib_bytes);
    add_double(o, "seconds", r->seconds);
    add_double(o, "forward_seconds", r->forward_seconds);
    add_double(o, "window_tokens_per_s", r->tokens_per_s);
    add_count(o, "resumed_windows", r->resumed_windows);
    add_path(o, "checkpoint", eo->checkpoint);
    add_path(o, "per_window", eo->per_window);
    add_path(o, "per_doc", eo->per_doc);
    /* a part's per-document NLLs cover its windows only: lmc merge adds the statistics */
    if (!r->partial && r->doc_stats && lmc_results_add_stats(o, r, bootstrap, err)) { cJSON_Delete(o); return NULL; }
    if (r->partial) add_shard(o, r, eo, bootstrap);
    return o;
}

/* The "model" object: what was evaluated, and how. */
static void add_model(cJSON *root, const lmc_results_meta *meta) {
    cJSON *mo = cJSON_AddObjectToObject(root, "model");
    lmc_model_desc d;
    lmc_model_describe(meta->model, &d);
    char name[256];
    if (meta->name) snprintf(name, sizeof name, "%s", meta->name);
    else lmc_model_name(meta->model, NULL, name, sizeof name);
    cJSON_AddStringToObject(mo, "name", name);
    cJSON_AddStringToObject(mo, "path", d.path);
    cJSON_AddStringToObject(mo, "architecture", d.architecture);
    cJSON_AddNumberToObject(mo, "parameters", (double)d.n_params);
    cJSON_AddStringToObject(mo, "weights_dtype", d.weights_dtype);
    cJSON_AddStringToObject(mo, "compute_dtype", lmc_compute_name(d.compute));
    if (d.compute == LMC_COMPUTE_INT8) /* a different measurement: say how the activations were rounded */
        cJSON_AddNumberToObject(mo, "int8_activation_block", GEMM_I8_QK);
    cJSON_AddStringToObject(mo, "tokenizer_sha256", lmc_tokenizer_hash(meta->tokenizer));
    cJSON_AddStringToObject(mo, "model_sha256", meta->model_sha256);
}

int lmc_json_write_atomic(const char *path, cJSON *root, lmc_err *err) {
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lmc_fail(err, "%s: out of memory formatting the JSON", path);
    lmc_buf b = {0};
    lmc_buf_printf(&b, "%s\n", text);
    free(text);
    int rc = lmc_write_file_atomic(path, b.p, b.len, err);
    lmc_buf_free(&b);
    return rc;
}

int lmc_results_write(const char *path, const lmc_results_meta *meta, const lmc_result *r, const lmc_eval_opts *eo,
                      size_t n, lmc_err *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "lmc_version", LMC_VERSION);
    cJSON_AddNumberToObject(root, "schema_version", LMC_RESULTS_SCHEMA);
    add_model(root, meta);
    cJSON_AddNumberToObject(root, "threads", meta->threads);
    add_double(root, "wall_seconds", meta->wall_seconds);
    cJSON *arr = cJSON_AddArrayToObject(root, "results");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = result_json(&r[i], &eo[i], meta->bootstrap, err);
        if (!o) { cJSON_Delete(root); return -1; }
        cJSON_AddItemToArray(arr, o);
    }
    return lmc_json_write_atomic(path, root, err);
}

/* ---- reading ------------------------------------------------------------------------------------ */

/* "0.1.0" → major.minor "0.1"; files of another major.minor may mean other fields */
static int same_minor(const char *a, const char *b) {
    const char *da = strchr(a, '.'), *db = strchr(b, '.');
    if (!da || !db) return 0;
    const char *ea = strchr(da + 1, '.'), *eb = strchr(db + 1, '.');
    size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
    return la == lb && !strncmp(a, b, la);
}

static const char *last_component(const char *p) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--; /* "dir/" names dir */
    const char *s = p + n;
    while (s > p && s[-1] != '/') s--;
    return s;
}

static int ends_with(const char *s, size_t n, const char *suffix) {
    size_t e = strlen(suffix);
    return n > e && !strncmp(s + n - e, suffix, e);
}

/* A HF cache snapshot: ".../models--ORG--NAME/snapshots/HASH" → "ORG/NAME" (cap bytes); 0, or -1 if it is not. */
static int hf_cache_name(const char *path, char *out, size_t cap) {
    const char *snap = strstr(path, "/snapshots/"), *repo = NULL;
    for (const char *p = path; snap && (p = strstr(p, "models--")) && p < snap; p++) repo = p;
    if (!repo || (repo > path && repo[-1] != '/')) return -1;
    repo += strlen("models--");
    const char *sep = strstr(repo, "--");
    if (!sep || sep > snap) snprintf(out, cap, "%.*s", (int)(snap - repo), repo);
    else snprintf(out, cap, "%.*s/%.*s", (int)(sep - repo), repo, (int)(snap - sep - 2), sep + 2);
    return 0;
}

lmc_name_source lmc_model_name(const lmc_model *m, const char *given, char *out, size_t cap) {
    lmc_model_desc d;
    lmc_model_describe(m, &d);
    if (given) { snprintf(out, cap, "%s", given); return LMC_NAME_GIVEN; }
    if (d.name_or_path) { snprintf(out, cap, "%s", d.name_or_path); return LMC_NAME_CONFIG; }
    if (hf_cache_name(d.path, out, cap) == 0) return LMC_NAME_PATH;
    const char *base = last_component(d.path);
    size_t n = strlen(base);
    while (n > 1 && base[n - 1] == '/') n--;
    static const char *ext[] = {".safetensors", ".gguf"};
    for (int i = 0; i < 2; i++)
        if (ends_with(base, n, ext[i])) n -= strlen(ext[i]);
    snprintf(out, cap, "%.*s", (int)n, base);
    return LMC_NAME_PATH;
}

void lmc_corpus_name(const char *data, char *out, size_t cap) {
    const char *base = last_component(data);
    snprintf(out, cap, "%s", base);
    size_t n = strlen(out);
    while (n && out[n - 1] == '/') out[--n] = 0;
    static const char *ext[] = {".gz", ".jsonl", ".json", ".txt"};
    for (int i = 0; i < 4; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && !strcmp(out + n - e, ext[i])) out[n -= e] = 0;
    }
}

/* field getters: each fails with "FILE: WHERE: field ... " */
static int get_num(const cJSON *o, const char *key, double *v, const char *file, const char *where, lmc_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it))
        return lmc_fail(err, "%s: %s: field \"%s\" is %s, expected a number", file, where, key,
                        it ? "not a number" : "missing");
    *v = it->valuedouble;
    return 0;
}

static int get_str(const cJSON *o, const char *key, char *buf, size_t cap, const char *file, const char *where,
                   lmc_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(it))
        return lmc_fail(err, "%s: %s: field \"%s\" is %s, expected a string", file, where, key,
                        it ? "not a string" : "missing");
    snprintf(buf, cap, "%s", it->valuestring);
    return 0;
}

static int get_count(const cJSON *o, const char *key, size_t *v, const char *file, const char *where, lmc_err *err) {
    double d = 0;
    if (get_num(o, key, &d, file, where, err)) return -1;
    if (!(d >= 0) || d > 9007199254740992.0 || d != floor(d))
        return lmc_fail(err, "%s: %s: field \"%s\" is %g, expected a non-negative integer", file, where, key, d);
    *v = (size_t)d;
    return 0;
}

/* ds[key] if it is an array of exactly n entries; else NULL with err. Called before sizing a buffer by a
 * count read from the file, so a forged count fails here rather than in malloc. */
static const cJSON *sized_array(const cJSON *ds, const char *obj, const char *key, size_t n, const char *file,
                                const char *where, lmc_err *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(ds, key);
    if (!cJSON_IsArray(a)) {
        lmc_fail(err, "%s: %s: %s.%s is missing or not an array", file, where, obj, key);
        return NULL;
    }
    if ((size_t)cJSON_GetArraySize(a) != n) {
        lmc_fail(err, "%s: %s: %s.%s has %d entries for %zu documents", file, where, obj, key,
                 cJSON_GetArraySize(a), n);
        return NULL;
    }
    return a;
}

/* <obj>.<key> (obj: "doc_stats", or a shard's "shard.documents"): an array of `n` numbers (counts when `count`) */
static int get_array(const cJSON *ds, const char *obj, const char *key, size_t n, int count, double *out,
                     const char *file, const char *where, lmc_err *err) {
    const cJSON *a = sized_array(ds, obj, key, n, file, where, err);
    if (!a) return -1;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
        if (!isfinite(v) || v < 0 || (count && (v != floor(v) || v > 9007199254740992.0)))
            return lmc_fail(err, "%s: %s: %s.%s[%zu] is not a %s", file, where, obj, key, i,
                            count ? "non-negative integer" : "finite non-negative number");
        out[i++] = v;
    }
    return 0;
}

/* The four per-document counts of doc_stats (or a shard's "documents") into tok, sc, ch, by: 4 × n values
 * from tok on. */
static int get_doc_facts(const cJSON *ds, const char *obj, size_t n, double *tok, const char *file, const char *where,
                         lmc_err *err) {
    double *sc = tok + n, *ch = sc + n, *by = ch + n;
    return get_array(ds, obj, "tokens", n, 1, tok, file, where, err) ||
           get_array(ds, obj, "scored_tokens", n, 1, sc, file, where, err) ||
           get_array(ds, obj, "chars", n, 1, ch, file, where, err) ||
           get_array(ds, obj, "bytes", n, 1, by, file, where, err) ? -1 : 0;
}

static int load_result(const cJSON *o, size_t idx, const char *file, lmc_corpus_result *c, lmc_err *err) {
    char where[64];
    snprintf(where, sizeof where, "results[%zu]", idx);
    if (!cJSON_IsObject(o)) return lmc_fail(err, "%s: %s is not an object", file, where);
    double bs = 0, st = 0, fnum = 0;
    if (get_str(o, "data", c->data, sizeof c->data, file, where, err) ||
        get_str(o, "data_sha256", c->data_sha256, sizeof c->data_sha256, file, where, err) ||
        get_num(o, "bpc", &c->bpc, file, where, err) || get_num(o, "bpb", &c->bpb, file, where, err) ||
        get_num(o, "nll", &c->nll, file, where, err) || get_count(o, "docs", &c->docs, file, where, err) ||
        get_count(o, "chars", &c->chars, file, where, err) || get_count(o, "bytes", &c->bytes, file, where, err) ||
        get_num(o, "block_size", &bs, file, where, err) || get_num(o, "stride", &st, file, where, err) ||
        get_num(o, "file_num", &fnum, file, where, err) || get_num(o, "seconds", &c->seconds, file, where, err))
        return -1;
    if (!(bs >= 1 && bs <= 1e6) || !(fabs(st) <= 1e6) || !(fabs(fnum) <= 9e18)) /* the casts below stay defined */
        return lmc_fail(err, "%s: %s: block_size %g, stride %g or file_num %g is out of range", file, where, bs, st, fnum);
    c->block_size = (int)bs;
    c->stride = (int)st;
    c->file_num = (long)fnum;
    snprintf(where, sizeof where, "results[%zu] (%.40s)", idx, last_component(c->data));
    lmc_corpus_name(c->data, c->corpus, sizeof c->corpus);
    /* optional in meaning: a baseline that failed or a fully resumed run writes null */
    const cJSON *z = cJSON_GetObjectItemCaseSensitive(o, "zlib_bpc");
    c->zlib_bpc = cJSON_IsNumber(z) ? z->valuedouble : NAN;
    const cJSON *tps = cJSON_GetObjectItemCaseSensitive(o, "window_tokens_per_s");
    c->tokens_per_s = cJSON_IsNumber(tps) ? tps->valuedouble : NAN;
    if (!(c->chars > 0) || !isfinite(c->bpc) || !isfinite(c->nll))
        return lmc_fail(err, "%s: %s: no characters or a non-finite BPC", file, where);
    if (fabs(c->nll / ((double)c->chars * M_LN2) - c->bpc) > 1e-9 * c->bpc)
        return lmc_fail(err, "%s: %s: bpc %.17g is not nll / (chars · ln 2) = %.17g: the file was edited or is "
                             "corrupt", file, where, c->bpc, c->nll / ((double)c->chars * M_LN2));
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(o, "doc_stats");
    if (!cJSON_IsObject(ds))
        return lmc_fail(err, "%s: %s: no per-document statistics (\"doc_stats\"); rerun `lmc eval --json` with this "
                             "lmc to add them", file, where);
    size_t n = c->docs;
    if (n == 0) return lmc_fail(err, "%s: %s: zero documents", file, where);
    if (!sized_array(ds, "doc_stats", "nll", n, file, where, err)) return -1;
    double *nll = malloc(sizeof(double) * n * 5);
    c->doc = malloc(sizeof *c->doc * n);
    c->y = malloc(sizeof(double) * n);
    c->x = malloc(sizeof(double) * n);
    if (!nll || !c->doc || !c->y || !c->x) { free(nll); return lmc_fail(err, "%s: out of memory for %s's %zu documents", file, where, n); }
    double *tok = nll + n, *sc = tok + n, *ch = sc + n, *by = ch + n;
    int rc = -1;
    if (get_array(ds, "doc_stats", "nll", n, 0, nll, file, where, err) ||
        get_doc_facts(ds, "doc_stats", n, tok, file, where, err))
        goto out;
    double snll = 0, sch = 0, sby = 0;
    for (size_t d = 0; d < n; d++) {
        c->doc[d] = (lmc_doc_stat){nll[d], (size_t)tok[d], (size_t)sc[d], (size_t)ch[d], (size_t)by[d]};
        c->y[d] = nll[d] / M_LN2;
        c->x[d] = ch[d];
        snll += nll[d];
        sch += ch[d];
        sby += by[d];
    }
    /* the per-document NLLs add up to the total only up to rounding (eval.c sums windows, not documents) */
    if (sch != (double)c->chars || sby != (double)c->bytes || fabs(snll - c->nll) > 1e-9 * c->nll + 1e-9) {
        lmc_fail(err, "%s: %s: doc_stats do not add up to the totals (chars %.0f vs %zu, bytes %.0f vs %zu, nll %.17g "
                      "vs %.17g)", file, where, sch, c->chars, sby, c->bytes, snll, c->nll);
        goto out;
    }
    rc = 0;
out:
    free(nll);
    return rc;
}

/* The top level's checks (lmc_results_parse) on a parsed file: 0, or -1 with err. */
static int check_top(const cJSON *root, const char *path, lmc_err *err) {
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "lmc_version");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "results");
    if (!cJSON_IsObject(root) || !cJSON_IsString(ver))
        return lmc_fail(err, "%s: not an lmc results file (no \"lmc_version\"; write one with `lmc eval --json`)",
                        path);
    if (!same_minor(ver->valuestring, LMC_VERSION))
        return lmc_fail(err, "%s: written by lmc %.40s; this lmc %s reads results of version %.*s.x only: rerun `lmc "
                             "eval --json` with this version", path, ver->valuestring, LMC_VERSION,
                        (int)(strrchr(LMC_VERSION, '.') - LMC_VERSION), LMC_VERSION);
    if (schema && !cJSON_IsNumber(schema)) return lmc_fail(err, "%s: \"schema_version\" is not a number", path);
    if (schema && !(schema->valuedouble >= 0 && schema->valuedouble <= LMC_RESULTS_SCHEMA))
        return lmc_fail(err, "%s: written with results schema_version %g; this lmc reads versions 0..%d "
                             "(docs/results.md)", path, schema->valuedouble, LMC_RESULTS_SCHEMA);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return lmc_fail(err, "%s: malformed results file: needs a non-empty \"results\" array", path);
    return 0;
}

int lmc_results_parse(const char *path, cJSON **root, lmc_err *err) {
    *root = NULL;
    char *text;
    size_t len;
    if (lmc_read_file(path, &text, &len, err)) return -1;
    if (strlen(text) != len) { free(text); return lmc_fail(err, "%s: not a results file (holds a NUL byte)", path); }
    cJSON *r = cJSON_ParseWithLength(text, len);
    if (!r) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
        free(text);
        return lmc_fail(err, "%s: not valid JSON (error near byte %zu): not an lmc results file", path, off);
    }
    free(text);
    if (check_top(r, path, err)) { cJSON_Delete(r); return -1; }
    *root = r;
    return 0;
}

cJSON *lmc_results_entries(const cJSON *root) { return cJSON_GetObjectItemCaseSensitive(root, "results"); }

int lmc_results_load(const char *path, lmc_results *out, lmc_err *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    cJSON *root;
    if (lmc_results_parse(path, &root, err)) return -1;
    int rc = -1;
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *arr = lmc_results_entries(root);
    if (!cJSON_IsObject(mo)) {
        lmc_fail(err, "%s: malformed results file: needs a \"model\" object", path);
        goto out;
    }
    if (get_str(mo, "path", out->model_path, sizeof out->model_path, path, "model", err) ||
        get_str(mo, "architecture", out->architecture, sizeof out->architecture, path, "model", err) ||
        get_str(mo, "weights_dtype", out->weights_dtype, sizeof out->weights_dtype, path, "model", err) ||
        get_str(mo, "compute_dtype", out->compute_dtype, sizeof out->compute_dtype, path, "model", err) ||
        get_num(mo, "parameters", &out->parameters, path, "model", err) ||
        get_num(root, "wall_seconds", &out->wall_seconds, path, "top level", err))
        goto out;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(mo, "name"); /* results written before names: the path */
    if (cJSON_IsString(name) && *name->valuestring) snprintf(out->model, sizeof out->model, "%s", name->valuestring);
    else snprintf(out->model, sizeof out->model, "%s", last_component(out->model_path));
    size_t slen = strlen(out->model);
    if (slen && out->model[slen - 1] == '/') out->model[slen - 1] = 0;
    out->n = (size_t)cJSON_GetArraySize(arr);
    out->r = calloc(out->n, sizeof *out->r);
    if (!out->r) { lmc_fail(err, "%s: out of memory for %zu results", path, out->n); goto out; }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (load_result(it, i, path, &out->r[i], err)) goto out;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out->r[j].corpus, out->r[i].corpus)) {
                lmc_fail(err, "%s: corpus '%s' appears twice (results[%zu] and results[%zu])", path, out->r[i].corpus,
                         j, i);
                goto out;
            }
        i++;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc) lmc_results_free(out);
    return rc;
}

/* ---- shard parts and merged results (lmc merge) ----------------------------------------------------- */

static double num_or_nan(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* A double from the 16 lowercase hex digits of its bits (as nll_bits are written); finite only. */
static int parse_bits(const char *s, double *out) {
    uint64_t u;
    if (!s || strlen(s) != 16 || lmc_hex_value(s, 16, 0, &u)) return -1;
    memcpy(out, &u, sizeof *out);
    return isfinite(*out) ? 0 : -1;
}

/* The record's window list: indices and exact NLLs. */
static int shard_windows(const cJSON *sh, const char *path, lmc_shard_record *s, lmc_err *err) {
    const cJSON *ks = cJSON_GetObjectItem(sh, "windows"), *bs = cJSON_GetObjectItem(sh, "nll_bits");
    int m = cJSON_GetArraySize(ks);
    if (m != cJSON_GetArraySize(bs)) return lmc_fail(err, "%s: damaged shard record (%s)", path, s->data);
    s->k = lmc_xcalloc((size_t)m + 1, sizeof *s->k);
    s->nll = lmc_xcalloc((size_t)m + 1, sizeof *s->nll);
    for (int i = 0; i < m; i++) {
        double kd = cJSON_GetArrayItem(ks, i)->valuedouble;
        if (!(kd >= 0 && kd < (double)s->windows) || kd != floor(kd) ||
            parse_bits(cJSON_GetStringValue(cJSON_GetArrayItem(bs, i)), &s->nll[i]))
            return lmc_fail(err, "%s: damaged shard record (%s, entry %d)", path, s->data, i);
        s->k[i] = (size_t)kd;
    }
    s->n = (size_t)m;
    return 0;
}

/* Window i's split by document: part_docs[i] and part_nll_bits[i], one or more parts, documents < n_docs. */
static int shard_window_parts(const cJSON *docs, const cJSON *bits, size_t i, const char *path,
                              lmc_shard_record *s, size_t *cap, lmc_err *err) {
    int m = cJSON_GetArraySize(docs);
    if (!cJSON_IsArray(docs) || !cJSON_IsArray(bits) || m < 1 || m != cJSON_GetArraySize(bits))
        return lmc_fail(err, "%s: damaged shard record (%s, parts of entry %zu)", path, s->data, i);
    if (s->n_parts + (size_t)m > *cap) {
        *cap = (s->n_parts + (size_t)m) * 2;
        s->parts = lmc_xrealloc(s->parts, *cap * sizeof *s->parts);
    }
    s->part_off[i] = s->n_parts;
    s->part_n[i] = (size_t)m;
    for (int j = 0; j < m; j++) {
        const cJSON *d = cJSON_GetArrayItem(docs, j);
        lmc_doc_part *p = &s->parts[s->n_parts++];
        double dd = cJSON_IsNumber(d) ? d->valuedouble : -1;
        if (!(dd >= 0 && dd < (double)s->n_docs) || dd != floor(dd) ||
            parse_bits(cJSON_GetStringValue(cJSON_GetArrayItem(bits, j)), &p->nll))
            return lmc_fail(err, "%s: damaged shard record (%s, part %d of entry %zu)", path, s->data, j, i);
        p->doc = (size_t)dd;
    }
    return 0;
}

/* The record's document parts, the documents' facts and the bootstrap's resamples. Parts written before lmc
 * recorded them have none of these (s->parts stays NULL); a record with only some of them is damaged. */
static int shard_documents(const cJSON *result, const cJSON *sh, const char *path, lmc_shard_record *s,
                           lmc_err *err) {
    const cJSON *pd = cJSON_GetObjectItem(sh, "part_docs"), *pb = cJSON_GetObjectItem(sh, "part_nll_bits");
    const cJSON *ds = cJSON_GetObjectItem(sh, "documents");
    double b = num_or_nan(sh, "bootstrap"), nd = num_or_nan(result, "docs");
    if (!pd && !pb && !ds) return 0;
    if (!cJSON_IsArray(pd) || !cJSON_IsArray(pb) || !cJSON_IsObject(ds) || (size_t)cJSON_GetArraySize(pd) != s->n ||
        (size_t)cJSON_GetArraySize(pb) != s->n || !(b >= 0 && b <= LMC_BOOTSTRAP_MAX) || b != floor(b) ||
        !(nd >= 1 && nd < 1e12) || nd != floor(nd))
        return lmc_fail(err, "%s: damaged shard record (%s: document parts)", path, s->data);
    s->bootstrap = (int)b;
    s->n_docs = (size_t)nd;
    s->part_off = lmc_xcalloc(s->n + 1, sizeof *s->part_off);
    s->part_n = lmc_xcalloc(s->n + 1, sizeof *s->part_n);
    size_t cap = 0;
    for (size_t i = 0; i < s->n; i++)
        if (shard_window_parts(cJSON_GetArrayItem(pd, (int)i), cJSON_GetArrayItem(pb, (int)i), i, path, s, &cap, err))
            return -1;
    if (!sized_array(ds, "shard.documents", "tokens", s->n_docs, path, s->data, err)) return -1;
    double *f = lmc_xmalloc(4 * s->n_docs * sizeof *f);
    int rc = get_doc_facts(ds, "shard.documents", s->n_docs, f, path, s->data, err);
    s->docs = lmc_xcalloc(s->n_docs, sizeof *s->docs);
    for (size_t d = 0; rc == 0 && d < s->n_docs; d++)
        s->docs[d] = (lmc_doc_stat){0, (size_t)f[d], (size_t)f[s->n_docs + d], (size_t)f[2 * s->n_docs + d],
                                    (size_t)f[3 * s->n_docs + d]};
    free(f);
    return rc;
}

int lmc_results_shard(const cJSON *result, const char *path, lmc_shard_record *s, lmc_err *err) {
    memset(s, 0, sizeof *s);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(result, "shard");
    s->fingerprint = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "fingerprint"));
    if (!cJSON_IsObject(sh) || !s->fingerprint || !cJSON_IsArray(cJSON_GetObjectItem(sh, "windows")) ||
        !cJSON_IsArray(cJSON_GetObjectItem(sh, "nll_bits")) || !(num_or_nan(sh, "count") >= 1) ||
        !(num_or_nan(sh, "index") >= 1))
        return lmc_fail(err, "%s: a complete result, not a shard's partial one (made without --shard): nothing to "
                             "merge", path);
    s->data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "data"));
    if (!s->data) s->data = "?";
    double index = num_or_nan(sh, "index"), count = num_or_nan(sh, "count");
    if (!(count <= LMC_SHARDS_MAX && index <= count) || index != floor(index) || count != floor(count))
        return lmc_fail(err, "%s: result for %s: shard %g of %g is not a shard number", path, s->data, index, count);
    s->index = (int)index;
    s->count = (int)count;
    double K = num_or_nan(result, "windows");
    if (!(K >= 1 && K < 1e12)) return lmc_fail(err, "%s: result for %s has no window count", path, s->data);
    s->windows = (size_t)K;
    s->seconds = num_or_nan(result, "seconds");
    s->forward_seconds = num_or_nan(result, "forward_seconds");
    s->window_tokens_per_s = num_or_nan(result, "window_tokens_per_s");
    s->resumed_windows = num_or_nan(result, "resumed_windows");
    if (shard_windows(sh, path, s, err)) return -1;
    /* A shard computes exactly the windows it owns (lmc_window_owner): a record holding others, or not all of its
     * own, is damaged — and this bounds the plan's window count, which merge sizes its tables by, by the file. */
    const size_t own = (size_t)s->index - 1, want = s->windows > own ? (s->windows - own - 1) / (size_t)s->count + 1 : 0;
    size_t foreign = 0;
    for (size_t i = 0; i < s->n; i++) foreign += (size_t)lmc_window_owner(s->k[i], s->count) != own;
    if (foreign || s->n != want)
        return lmc_fail(err, "%s: damaged shard record (%s: shard %d/%d of %zu windows must hold %zu of them)", path,
                        s->data, s->index, s->count, s->windows, want);
    return shard_documents(result, sh, path, s, err);
}

void lmc_shard_record_free(lmc_shard_record *s) {
    free(s->k);
    free(s->nll);
    free(s->part_off);
    free(s->part_n);
    free(s->parts);
    free(s->docs);
    memset(s, 0, sizeof *s);
}

/* Replaces o[key] in place (keys keep the order of a single run's file), as doubles are written. */
static void set_double(cJSON *o, const char *key, double v) {
    cJSON *item = exact_number(v);
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, item);
    else cJSON_AddItemToObject(o, key, item);
}

int lmc_results_set_merged(cJSON *o, const lmc_merged *m, lmc_result *res, lmc_err *err) {
    memset(res, 0, sizeof *res);
    res->doc_stats = m->doc_stats;
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "data"));
    snprintf(res->data, sizeof res->data, "%s", data ? data : "?");
    res->nll = m->nll;
    res->chars = (size_t)num_or_nan(o, "chars");
    res->bytes = (size_t)num_or_nan(o, "bytes");
    res->docs = (size_t)num_or_nan(o, "docs");
    res->tokens = (size_t)num_or_nan(o, "tokens");
    res->windows = (size_t)num_or_nan(o, "windows");
    res->scored_tokens = (size_t)num_or_nan(o, "scored_tokens");
    res->bpc = m->nll / ((double)res->chars * M_LN2);
    res->bpb = m->nll / ((double)res->bytes * M_LN2);
    res->token_ppl = exp(m->nll / (double)res->scored_tokens);
    res->zlib_bpc = num_or_nan(o, "zlib_bpc");
    res->seconds = m->seconds;
    char hex[24];
    bits_hex(m->nll, hex);
    set_double(o, "bpc", res->bpc);
    set_double(o, "bpb", res->bpb);
    set_double(o, "nll", m->nll);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "nll_bits", cJSON_CreateString(hex));
    set_double(o, "token_ppl", res->token_ppl);
    /* times are the parts' sums: the work done, wherever it ran */
    set_double(o, "seconds", m->seconds);
    set_double(o, "forward_seconds", m->forward_seconds);
    set_double(o, "window_tokens_per_s", m->forward_seconds > 0 ? m->work / m->forward_seconds : 0);
    set_double(o, "resumed_windows", m->resumed_windows);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "shard");
    /* where a single run's file has them: after the output paths */
    if (res->doc_stats && lmc_results_add_stats(o, res, m->bootstrap, err)) return -1;
    cJSON_AddNumberToObject(o, "merged_shards", m->shards);
    return 0;
}

double lmc_results_wall(const cJSON *root) { return num_or_nan(root, "wall_seconds"); }

void lmc_results_set_wall(cJSON *root, double wall) { set_double(root, "wall_seconds", wall); }

void lmc_results_free(lmc_results *rs) {
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->r[i].doc);
        free(rs->r[i].y);
        free(rs->r[i].x);
    }
    free(rs->r);
    rs->r = NULL;
    rs->n = 0;
}

int lmc_results_interval(const lmc_corpus_result *c, int resamples, uint64_t seed, lmc_interval *out, lmc_err *err) {
    return lmc_stats_ratio(c->y, c->x, c->docs, resamples, seed, out, err);
}
