/* score.h — negative log-likelihood of scored targets: lm_head only on scored rows, log-softmax in row
 * blocks (never a W × vocab buffer), double-precision sums. Knows nothing of where windows come from. */
#ifndef LMC_SCORE_H
#define LMC_SCORE_H

#include "model/linear.h"

/* hidden: (T, dim) final hidden states of one window; rows r = from .. from+count-1 are scored against
 * targets[r] (targets has T entries, targets[r] = the token after input r). Writes −log p per scored row into
 * row_nll (count) when not NULL and returns their sum (added in row order) in *nll. Fails when a target id is
 * outside the vocabulary. */
int lmc_score_rows(const lmc_linear *lm_head, const float *hidden, const int32_t *targets, int from, int count,
                   double *nll, double *row_nll, lmc_err *err);

#endif
