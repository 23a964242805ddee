/* kld_report.c — a comparison's statistics as text (llama-perplexity's lines, then lmc's) and as JSON. */
#include "lmc_kld.h"
#include "common/util.h"
#include "eval/results.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- text ---------------------------------------------------------------------------------------------- */

/* "Maximum", the percentiles, "Minimum" of one distribution (scale: 100 for %). */
static void text_dist(lmc_buf *b, const char *what, const lmc_kld_dist *d, double scale, const char *unit) {
    lmc_buf_printf(b, "Mean    %-5s: %11.6g ± %.6g%s\n", what, d->mean * scale, d->se * scale, unit);
    lmc_buf_printf(b, "Maximum %-5s: %11.6g%s\n", what, d->max * scale, unit);
    for (int i = 0; i < LMC_KLD_N_PCT; i++) {
        char lv[16];
        snprintf(lv, sizeof lv, "%g%%", lmc_kld_pct_levels[i]);
        lmc_buf_printf(b, "%-7s %-5s: %11.6g%s\n", lmc_kld_pct_levels[i] == 50 ? "Median" : lv, what,
                       d->pct[i] * scale, unit);
    }
    lmc_buf_printf(b, "Minimum %-5s: %11.6g%s\n", what, d->min * scale, unit);
}

static void text_interval(lmc_buf *b, const char *what, const lmc_kld_est *e) {
    lmc_buf_printf(b, "%-28s: %+.6g ± %.6g", what, e->est, e->se);
    if (isfinite(e->lo)) lmc_buf_printf(b, "  95%% [%+.6g, %+.6g]", e->lo, e->hi);
    lmc_buf_printf(b, "\n");
}

char *lmc_kld_text(const lmc_kld_result *r) {
    lmc_buf b = {0};
    lmc_buf_printf(&b, "%s: %zu documents, %zu scored tokens in %zu windows (W %d, S %d), vocabulary %d\n", r->data,
                   r->docs, r->scored_tokens, r->windows, r->block_size, r->stride, r->vocab);
    if (r->top_k)
        lmc_buf_printf(&b, "base from a stored file: top %d log-probs + tail per token; the divergences are lower "
                           "bounds of the exact ones (docs/kld.md)\n", r->top_k);
    lmc_buf_printf(&b, "====== Perplexity statistics ======\n");
    lmc_buf_printf(&b, "Mean PPL(Q)                   : %10.6f ± %10.6f\n", r->ppl_model.est, r->ppl_model.se);
    lmc_buf_printf(&b, "Mean PPL(base)                : %10.6f ± %10.6f\n", r->ppl_base.est, r->ppl_base.se);
    lmc_buf_printf(&b, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100 * r->cor_ln_ppl);
    lmc_buf_printf(&b, "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", r->ln_ppl_ratio.est, r->ln_ppl_ratio.se);
    lmc_buf_printf(&b, "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", r->ppl_ratio.est, r->ppl_ratio.se);
    lmc_buf_printf(&b, "Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", r->ppl_diff.est, r->ppl_diff.se);
    lmc_buf_printf(&b, "\n====== KL divergence statistics ======\n");
    text_dist(&b, "KLD", &r->kld, 1, "");
    lmc_buf_printf(&b, "\n====== Token probability statistics ======\n");
    text_dist(&b, "Δp", &r->dp, 100, " %");
    lmc_buf_printf(&b, "RMS Δp    : %.3f ± %.3f %%\n", 100 * r->rms_dp.est, 100 * r->rms_dp.se);
    lmc_buf_printf(&b, "Same top p: %.3f ± %.3f %%\n", 100 * r->same_top.est, 100 * r->same_top.se);
    lmc_buf_printf(&b, "\n====== lmc: both directions, per text, BPC ======\n");
    lmc_buf_printf(&b, "Mean KL(Q‖base)  : %11.6g ± %.6g   (max %.6g, 99%% %.6g)\n", r->kld_rev.mean, r->kld_rev.se,
                   r->kld_rev.max, r->kld_rev.pct[1]);
    lmc_buf_printf(&b, "Mean JSD         : %11.6g ± %.6g   (max %.6g, 99%% %.6g)\n", r->jsd.mean, r->jsd.se,
                   r->jsd.max, r->jsd.pct[1]);
    lmc_buf_printf(&b, "Top-5 overlap    : %.3f ± %.3f %%\n", 100 * r->top5_overlap.est, 100 * r->top5_overlap.se);
    lmc_buf_printf(&b, "bits per byte    : KL(base‖Q) %.6g   KL(Q‖base) %.6g   JSD %.6g\n", r->kld_bpb, r->kld_rev_bpb,
                   r->jsd_bpb);
    lmc_buf_printf(&b, "bits per char    : KL(base‖Q) %.6g   KL(Q‖base) %.6g   JSD %.6g\n", r->kld_bpc.est,
                   r->kld_rev_bpc, r->jsd_bpc);
    text_interval(&b, "KL(base‖Q) bits/char (docs)", &r->kld_bpc);
    lmc_buf_printf(&b, "BPC base %.6f, BPC Q %.6f\n", r->bpc_base, r->bpc_model);
    text_interval(&b, "ΔBPC Q − base (paired, docs)", &r->dbpc);
    return b.p;
}

/* ---- JSON ---------------------------------------------------------------------------------------------- */

/* A number, or null when it is not finite (JSON has no NaN). */
static void add_num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static void add_est(cJSON *o, const char *key, const lmc_kld_est *e) {
    cJSON *x = cJSON_AddObjectToObject(o, key);
    add_num(x, "est", e->est);
    add_num(x, "se", e->se);
    if (isfinite(e->lo)) {
        add_num(x, "lo95", e->lo);
        add_num(x, "hi95", e->hi);
    }
}

static void add_dist(cJSON *o, const char *key, const lmc_kld_dist *d) {
    cJSON *x = cJSON_AddObjectToObject(o, key);
    add_num(x, "mean", d->mean);
    add_num(x, "se", d->se);
    add_num(x, "max", d->max);
    add_num(x, "min", d->min);
    cJSON *p = cJSON_AddObjectToObject(x, "percentiles");
    for (int i = 0; i < LMC_KLD_N_PCT; i++) {
        char k[16];
        snprintf(k, sizeof k, "%g", lmc_kld_pct_levels[i]);
        add_num(p, k, d->pct[i]);
    }
}

static cJSON *result_json(const lmc_kld_result *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data", r->data);
    add_num(o, "docs", (double)r->docs);
    add_num(o, "chars", (double)r->chars);
    add_num(o, "bytes", (double)r->bytes);
    add_num(o, "tokens", (double)r->tokens);
    add_num(o, "windows", (double)r->windows);
    add_num(o, "scored_tokens", (double)r->scored_tokens);
    add_num(o, "block_size", r->block_size);
    add_num(o, "stride", r->stride);
    add_num(o, "vocab", r->vocab);
    cJSON_AddStringToObject(o, "mode", r->mode ? r->mode : "exact");
    add_num(o, "top_k", r->top_k);
    add_num(o, "base_file_bytes", (double)r->base_file_bytes);
    add_num(o, "memory_bytes", (double)r->memory_bytes);
    add_num(o, "resumed_windows", (double)r->resumed_windows);
    add_num(o, "seconds", r->seconds);
    add_est(o, "ppl_base", &r->ppl_base);
    add_est(o, "ppl_model", &r->ppl_model);
    add_num(o, "cor_ln_ppl", r->cor_ln_ppl);
    add_est(o, "ln_ppl_ratio", &r->ln_ppl_ratio);
    add_est(o, "ppl_ratio", &r->ppl_ratio);
    add_est(o, "ppl_diff", &r->ppl_diff);
    add_dist(o, "kld", &r->kld);
    add_dist(o, "kld_reverse", &r->kld_rev);
    add_dist(o, "jsd", &r->jsd);
    add_dist(o, "delta_p", &r->dp);
    add_est(o, "rms_delta_p", &r->rms_dp);
    add_est(o, "same_top_p", &r->same_top);
    add_est(o, "top5_overlap", &r->top5_overlap);
    add_num(o, "kld_bits_per_byte", r->kld_bpb);
    add_num(o, "kld_reverse_bits_per_byte", r->kld_rev_bpb);
    add_num(o, "jsd_bits_per_byte", r->jsd_bpb);
    add_est(o, "kld_bits_per_char", &r->kld_bpc);
    add_num(o, "kld_reverse_bits_per_char", r->kld_rev_bpc);
    add_num(o, "jsd_bits_per_char", r->jsd_bpc);
    add_num(o, "bpc_base", r->bpc_base);
    add_num(o, "bpc_model", r->bpc_model);
    add_est(o, "delta_bpc", &r->dbpc);
    return o;
}

int lmc_kld_write_json(const char *path, const char *base_path, const char *model_path, const lmc_kld_result *r,
                       size_t n, lmc_err *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "lmc_version", LMC_VERSION);
    cJSON_AddStringToObject(o, "base", base_path);
    cJSON_AddStringToObject(o, "model", model_path);
    cJSON *a = cJSON_AddArrayToObject(o, "results");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, result_json(&r[i]));
    return lmc_json_write_atomic(path, o, err);
}
