/* softmax.c — log-sum-exp of a logits row, the normaliser of log-softmax. */
#include "kernels.h"

#include <math.h>

/* logits: (n). Max-shifted; the exponentials are summed in double so the result does not depend on the
 * vocabulary's size or order beyond f32 input rounding. */
double logsumexp_f32(const float *logits, int n) {
    float m = -INFINITY;
    for (int i = 0; i < n; i++) m = logits[i] > m ? logits[i] : m;
    double s = 0;
    for (int i = 0; i < n; i++) s += exp((double)logits[i] - (double)m);
    return (double)m + log(s);
}
