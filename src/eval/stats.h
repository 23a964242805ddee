/* stats.h — uncertainty of a BPC: a standard error clustered by document and a bootstrap interval over
 * documents, for one result (a ratio Σy/Σx) and for the paired difference of two results on the same documents.
 *
 * BPC is a ratio estimator: y_d = nll_d / ln 2 (bits of document d), x_d = chars of document d, BPC = Σy/Σx.
 * Tokens inside a document are not independent, so the document is the unit of sampling:
 *   - clustered SE (linearisation of the ratio): SE = sqrt(n/(n−1) · Σ_d (y_d − R·x_d)²) / Σx, n documents;
 *   - 95% interval: B bootstrap resamples of n documents drawn with replacement; each resample's ratio is
 *     Σy'/Σx' (sums over the drawn documents in draw order); the interval is the 2.5% and 97.5% quantiles of
 *     the B ratios (linear interpolation between order statistics, numpy's default: h = (B−1)·p).
 * Paired: both results share the documents (and x); each resample draws one set of documents and takes the
 * difference Σya'/Σx' − Σyb'/Σx'; the SE uses z_d = (ya_d − yb_d) − D·x_d.
 *
 * The random draws are a fixed definition, so anyone can reproduce an interval: splitmix64 seeded with `seed`,
 * one 64-bit output r per draw, document index = ⌊r · n / 2⁶⁴⌋; resamples are drawn one after another. */
#ifndef LMC_STATS_H
#define LMC_STATS_H

#include "lmc.h"
#include "lmc_tools.h"

#include <stddef.h>
#include <stdint.h>

/* LMC_BOOTSTRAP_DEFAULT / _SEED / _MAX and lmc_interval: lmc_tools.h */

/* splitmix64: the generator the bootstrap draws from (state advances by the golden gamma per call). */
uint64_t lmc_splitmix64(uint64_t *state);

/* Quantile p (0..1) of sorted v (m ≥ 1 values), linear between order statistics (numpy's default,
 * h = (m−1)·p). */
double lmc_quantile_sorted(const double *v, size_t m, double p);

/* One ratio: y (n) and x (n), x_d > 0. Fails when n == 0 or Σx is not positive. */
int lmc_stats_ratio(const double *y, const double *x, size_t n, int resamples, uint64_t seed, lmc_interval *out,
                    lmc_err *err);

/* Paired difference Σya/Σx − Σyb/Σx over the same n documents. */
int lmc_stats_paired(const double *ya, const double *yb, const double *x, size_t n, int resamples, uint64_t seed,
                     lmc_interval *out, lmc_err *err);

#endif
