/* paper.c — the paper's published leaderboard (lmc_paper.h): read and checked from its TSV file. */
#include "lmc_paper.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lmc_paper_corpora[LMC_PAPER_N_CORPORA] = {"cc", "python", "arxiv_math"};

int lmc_paper_corpus(const char *subset) {
    for (int i = 0; i < LMC_PAPER_N_CORPORA; i++)
        if (!strcmp(subset, lmc_paper_corpora[i])) return i;
    return -1;
}

/* One data row "model \t cc \t python \t arxiv_math \t average" into row i. */
static int parse_row(char *line, const char *path, size_t ln, lmc_paper *p, lmc_err *err) {
    char *f[5], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(line, "\t", &save); t && n < 6; t = strtok_r(NULL, "\t", &save)) {
        if (n == 5) return lmc_fail(err, "%s:%zu: more than 5 tab-separated fields", path, ln);
        f[n++] = t;
    }
    if (n != 5) return lmc_fail(err, "%s:%zu: %d tab-separated fields, expected 5 (model and 4 numbers)", path, ln, n);
    size_t i = p->n;
    snprintf(p->model[i], sizeof p->model[i], "%s", f[0]);
    double v[4];
    for (int k = 0; k < 4; k++) {
        char *end;
        v[k] = strtod(f[k + 1], &end);
        if (end == f[k + 1] || *end || !(v[k] > 0 && v[k] < 10))
            return lmc_fail(err, "%s:%zu: '%s' is not a BPC between 0 and 10", path, ln, f[k + 1]);
    }
    if (fabs((v[0] + v[1] + v[2]) / 3 - v[3]) > 0.0011)
        return lmc_fail(err, "%s:%zu: the average %.3f is not the mean of %.3f, %.3f, %.3f", path, ln, v[3], v[0], v[1],
                        v[2]);
    memcpy(p->bpc[i], v, sizeof p->bpc[i]);
    p->average[i] = v[3];
    p->n++;
    return 0;
}

static int parse_lines(char *text, const char *path, lmc_paper *p, lmc_err *err) {
    int header = 0;
    size_t ln = 0, cap = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        ln++; /* blank lines are skipped by strtok_r: line numbers count the others */
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = 0;
        if (line[0] == '#') {
            size_t used = strlen(p->source);
            snprintf(p->source + used, sizeof p->source - used, "%s%s", used ? " " : "", line + 1 + (line[1] == ' '));
            continue;
        }
        if (!header) {
            if (strcmp(line, "model\tcc\tpython\tarxiv_math\taverage"))
                return lmc_fail(err, "%s:%zu: expected the header 'model<TAB>cc<TAB>python<TAB>arxiv_math<TAB>average'",
                                path, ln);
            header = 1;
            continue;
        }
        if (p->n == cap) {
            cap = cap * 2 + 32;
            p->model = lmc_xrealloc(p->model, cap * sizeof *p->model);
            p->bpc = lmc_xrealloc(p->bpc, cap * sizeof *p->bpc);
            p->average = lmc_xrealloc(p->average, cap * sizeof *p->average);
        }
        if (parse_row(line, path, ln, p, err)) return -1;
    }
    if (!p->n) return lmc_fail(err, "%s: no models in the table", path);
    if (!p->source[0]) return lmc_fail(err, "%s: no '#' lines naming the table's source", path);
    return 0;
}

int lmc_paper_load(const char *path, lmc_paper *out, lmc_err *err) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    if (lmc_read_file(path, &text, &len, err)) return -1;
    int rc = parse_lines(text, path, out, err);
    free(text);
    if (rc) lmc_paper_free(out);
    return rc;
}

void lmc_paper_free(lmc_paper *p) {
    free(p->model);
    free(p->bpc);
    free(p->average);
    memset(p, 0, sizeof *p);
}
