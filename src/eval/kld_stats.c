/* kld_stats.c — `lmc kld`'s statistics: the running sums a comparison adds its rows to, the summaries
 * llama-perplexity --kl-divergence prints (and lmc's additions), and the text and JSON they are shown as.
 *
 * Standard errors of per-token means treat tokens as independent draws: sd / sqrt(n − 1), the ± llama.cpp
 * prints, kept so the two can be compared line by line. Tokens of one document are not independent, so the
 * quantities lmc adds per character (KLD per character, ΔBPC) take the document as the unit instead (stats.h). */
#include "eval/kld_internal.h"
#include "eval/stats.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double lmc_kld_pct_levels[LMC_KLD_N_PCT] = {99.9, 99, 95, 90, 50, 10, 5, 1, 0.1};

/* ---- the running sums ----------------------------------------------------------------------------------- */

int lmc_kld_acc_init(lmc_kld_acc *a, size_t tokens, size_t n_docs) {
    memset(a, 0, sizeof *a);
    size_t t = tokens ? tokens : 1, d = n_docs ? n_docs : 1;
    a->cap = tokens;
    a->n_docs = n_docs;
    a->kld = malloc(t * sizeof(double));
    a->kld_rev = malloc(t * sizeof(double));
    a->jsd = malloc(t * sizeof(double));
    a->dp = malloc(t * sizeof(double));
    a->doc_na = calloc(d, sizeof(double));
    a->doc_nb = calloc(d, sizeof(double));
    a->doc_kld = calloc(d, sizeof(double));
    return a->kld && a->kld_rev && a->jsd && a->dp && a->doc_na && a->doc_nb && a->doc_kld ? 0 : -1;
}

void lmc_kld_acc_add(lmc_kld_acc *a, const lmc_kld_row *x, size_t doc) {
    if (a->n == a->cap) return; /* cannot happen: cap is the plan's scored-token count */
    size_t i = a->n++;
    a->kld[i] = x->kld;
    a->kld_rev[i] = x->kld_rev;
    a->jsd[i] = x->jsd;
    a->dp[i] = x->dp;
    a->na += x->nll_a;
    a->na2 += x->nll_a * x->nll_a;
    a->nb += x->nll_b;
    a->nb2 += x->nll_b * x->nll_b;
    a->nab += x->nll_a * x->nll_b;
    double d = x->nll_b - x->nll_a, t5 = x->top5 / 5.0;
    a->d += d;
    a->d2 += d * d;
    a->kld_sum += x->kld;
    a->kld_rev_sum += x->kld_rev;
    a->jsd_sum += x->jsd;
    a->dp2 += x->dp * x->dp;
    a->dp4 += x->dp * x->dp * x->dp * x->dp;
    a->same += x->same_top;
    a->top5 += t5;
    a->top5_2 += t5 * t5;
    a->doc_na[doc] += x->nll_a;
    a->doc_nb[doc] += x->nll_b;
    a->doc_kld[doc] += x->kld;
}

void lmc_kld_acc_free(lmc_kld_acc *a) {
    free(a->kld);
    free(a->kld_rev);
    free(a->jsd);
    free(a->dp);
    free(a->doc_na);
    free(a->doc_nb);
    free(a->doc_kld);
    memset(a, 0, sizeof *a);
}

/* ---- summaries ------------------------------------------------------------------------------------------ */

/* Mean of n values from their sum and sum of squares, and its standard error sd / sqrt(n − 1). */
static lmc_kld_est mean_se(double s, double s2, size_t n) {
    double m = s / (double)n, var = s2 / (double)n - m * m;
    lmc_kld_est e = {m, n > 1 ? sqrt((var > 0 ? var : 0) / (double)(n - 1)) : NAN, NAN, NAN};
    return e;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Mean ± se, min, max and percentiles of v (n values; sorted in place). */
static void dist_of(double *v, size_t n, lmc_kld_dist *d) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        s2 += v[i] * v[i];
    }
    lmc_kld_est e = mean_se(s, s2, n);
    d->mean = e.est;
    d->se = e.se;
    qsort(v, n, sizeof *v, cmp_double);
    d->min = v[0];
    d->max = v[n - 1];
    for (int i = 0; i < LMC_KLD_N_PCT; i++) d->pct[i] = lmc_quantile_sorted(v, n, lmc_kld_pct_levels[i] / 100);
}

/* llama-perplexity's first block: both perplexities, their correlation, ratio and difference. */
static void perplexities(const lmc_kld_acc *a, lmc_kld_result *r) {
    size_t n = a->n;
    lmc_kld_est la = mean_se(a->na, a->na2, n), lb = mean_se(a->nb, a->nb2, n);
    double pa = exp(la.est), pb = exp(lb.est);
    r->ppl_base = (lmc_kld_est){pa, pa * la.se, NAN, NAN};
    r->ppl_model = (lmc_kld_est){pb, pb * lb.se, NAN, NAN};
    double va = a->na2 / (double)n - la.est * la.est, vb = a->nb2 / (double)n - lb.est * lb.est;
    double cov = a->nab / (double)n - la.est * lb.est;
    r->cor_ln_ppl = va > 0 && vb > 0 ? cov / sqrt(va * vb) : NAN;
    r->ln_ppl_ratio = mean_se(a->d, a->d2, n);
    double q = exp(r->ln_ppl_ratio.est);
    r->ppl_ratio = (lmc_kld_est){q, q * r->ln_ppl_ratio.se, NAN, NAN};
    /* the difference of two correlated estimates (delta method) */
    double v = pb * pb * lb.se * lb.se + pa * pa * la.se * la.se - 2 * r->cor_ln_ppl * pa * pb * la.se * lb.se;
    r->ppl_diff = (lmc_kld_est){pb - pa, sqrt(v > 0 ? v : 0), NAN, NAN};
}

/* The quantities per character and per byte; ΔBPC and KLD per character with the document-clustered interval. */
static int per_text(const lmc_kld_acc *a, const lmc_corpus *c, int bootstrap, lmc_kld_result *r, lmc_err *err) {
    double bits = 1 / M_LN2, ch = (double)r->chars, by = (double)r->bytes;
    r->kld_bpb = a->kld_sum * bits / by;
    r->kld_rev_bpb = a->kld_rev_sum * bits / by;
    r->jsd_bpb = a->jsd_sum * bits / by;
    r->kld_rev_bpc = a->kld_rev_sum * bits / ch;
    r->jsd_bpc = a->jsd_sum * bits / ch;
    r->bpc_base = a->na * bits / ch;
    r->bpc_model = a->nb * bits / ch;
    size_t nd = c->n_docs;
    double *x = lmc_xmalloc(nd * sizeof *x), *ya = lmc_xmalloc(nd * sizeof *ya), *yb = lmc_xmalloc(nd * sizeof *yb);
    double *yk = lmc_xmalloc(nd * sizeof *yk);
    for (size_t d = 0; d < nd; d++) {
        x[d] = (double)c->docs[d].chars;
        ya[d] = a->doc_na[d] * bits;
        yb[d] = a->doc_nb[d] * bits;
        yk[d] = a->doc_kld[d] * bits;
    }
    lmc_interval di, ki;
    int rc = lmc_stats_paired(yb, ya, x, nd, bootstrap, LMC_BOOTSTRAP_SEED, &di, err) ||
             lmc_stats_ratio(yk, x, nd, bootstrap, LMC_BOOTSTRAP_SEED, &ki, err) ? -1 : 0;
    r->dbpc = (lmc_kld_est){di.est, di.se, di.lo, di.hi};
    r->kld_bpc = (lmc_kld_est){ki.est, ki.se, ki.lo, ki.hi};
    free(x);
    free(ya);
    free(yb);
    free(yk);
    return rc;
}

int lmc_kld_summarise(lmc_kld_acc *a, const lmc_corpus *c, int bootstrap, lmc_kld_result *r, lmc_err *err) {
    size_t n = a->n;
    if (n == 0 || n != r->scored_tokens) return lmc_fail(err, "internal error: %zu of %zu tokens compared", n,
                                                         r->scored_tokens);
    perplexities(a, r);
    dist_of(a->kld, n, &r->kld);
    dist_of(a->kld_rev, n, &r->kld_rev);
    dist_of(a->jsd, n, &r->jsd);
    dist_of(a->dp, n, &r->dp);
    double ms = a->dp2 / (double)n, rms = sqrt(ms);
    lmc_kld_est msq = mean_se(a->dp2, a->dp4, n);
    r->rms_dp = (lmc_kld_est){rms, rms > 0 ? msq.se / (2 * rms) : 0, NAN, NAN};
    double p = a->same / (double)n;
    r->same_top = (lmc_kld_est){p, n > 1 ? sqrt(p * (1 - p) / (double)(n - 1)) : NAN, NAN, NAN};
    r->top5_overlap = mean_se(a->top5, a->top5_2, n);
    return per_text(a, c, bootstrap, r, err);
}
