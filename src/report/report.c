/* report.c — lmc report / lmc compare / the interval lines of lmc eval (report.h).
 *
 * Sections: scores and reference-line files; the table (results files → models × corpora, checked against each
 * other, with intervals); the renderers (HTML, Markdown, SVG); compare; eval's interval lines. */
#include "report/report.h"
#include "lmc_paper.h"
#include "eval/stats.h"
#include "report/svg.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- scores and reference lines ------------------------------------------------------------------- */

static cJSON *parse_json_file(const char *path, const char *what, lmc_err *err) {
    char *text;
    size_t len;
    if (lmc_read_file(path, &text, &len, err)) return NULL;
    cJSON *root = strlen(text) == len ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!root) lmc_fail(err, "%s: not valid JSON (expected %s)", path, what);
    else if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = NULL;
        lmc_fail(err, "%s: expected a JSON object (%s)", path, what);
    }
    return root;
}

int lmc_scores_load(const char *path, lmc_scores *out, lmc_err *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->label, sizeof out->label, "score");
    cJSON *root = parse_json_file(path, "{\"model name\": score, ...}", err);
    if (!root) return -1;
    const cJSON *map = root, *sc = cJSON_GetObjectItemCaseSensitive(root, "scores");
    if (cJSON_IsObject(sc)) {
        map = sc;
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(root, "label");
        if (cJSON_IsString(lab)) snprintf(out->label, sizeof out->label, "%s", lab->valuestring);
    }
    int rc = -1;
    size_t n = (size_t)cJSON_GetArraySize(map);
    if (n == 0) { lmc_fail(err, "%s: no scores (expected {\"model name\": score, ...})", path); goto out; }
    out->model = calloc(n, sizeof *out->model);
    out->score = calloc(n, sizeof *out->score);
    if (!out->model || !out->score) { lmc_fail(err, "%s: out of memory for %zu scores", path, n); goto out; }
    const cJSON *it;
    cJSON_ArrayForEach(it, map) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
            lmc_fail(err, "%s: the score of '%.200s' is not a number", path, it->string);
            goto out;
        }
        snprintf(out->model[out->n], sizeof out->model[0], "%s", it->string);
        out->score[out->n++] = it->valuedouble;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc) lmc_scores_free(out);
    return rc;
}

void lmc_scores_free(lmc_scores *s) {
    free(s->model);
    free(s->score);
    s->model = NULL;
    s->score = NULL;
    s->n = 0;
}

int lmc_reflines_load(const char *path, lmc_reflines *out, lmc_err *err) {
    memset(out, 0, sizeof *out);
    cJSON *root = parse_json_file(path, "{\"corpus\": {\"slope\": b, \"intercept\": a, \"label\": \"...\"}}", err);
    if (!root) return -1;
    int rc = -1;
    size_t n = (size_t)cJSON_GetArraySize(root);
    out->corpus = calloc(n + 1, sizeof *out->corpus);
    out->label = calloc(n + 1, sizeof *out->label);
    out->slope = calloc(n + 1, sizeof *out->slope);
    out->intercept = calloc(n + 1, sizeof *out->intercept);
    if (!out->corpus || !out->label || !out->slope || !out->intercept) {
        lmc_fail(err, "%s: out of memory for %zu corpora", path, n);
        goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "slope");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "intercept");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(it, "label");
        if (!cJSON_IsObject(it) || !cJSON_IsNumber(s) || !cJSON_IsNumber(a) || !isfinite(s->valuedouble) ||
            !isfinite(a->valuedouble)) {
            lmc_fail(err, "%s: '%.200s' needs numbers \"slope\" and \"intercept\"", path, it->string);
            goto out;
        }
        snprintf(out->corpus[out->n], sizeof out->corpus[0], "%s", it->string);
        snprintf(out->label[out->n], sizeof out->label[0], "%s", cJSON_IsString(l) ? l->valuestring : "reference");
        out->slope[out->n] = s->valuedouble;
        out->intercept[out->n++] = a->valuedouble;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc) lmc_reflines_free(out);
    return rc;
}

void lmc_reflines_free(lmc_reflines *r) {
    free(r->corpus);
    free(r->label);
    free(r->slope);
    free(r->intercept);
    memset(r, 0, sizeof *r);
}

/* ---- the table: models × corpora ------------------------------------------------------------------ */

typedef struct cell {
    const lmc_results       *file; /* NULL: this model has no result for this corpus */
    const lmc_corpus_result *c;
    lmc_interval             iv;
} cell;

typedef struct table {
    size_t                    n_models, n_corpora;
    const lmc_results       **model;  /* (n_models) the first file of each model (name, parameters, dtypes) */
    const lmc_corpus_result **col;    /* (n_corpora) the first result of each corpus */
    const lmc_results       **colf;   /* (n_corpora) the file it came from */
    cell                     *cells;  /* (n_models × n_corpora), row-major by model */
    double                   *mean;   /* (n_models) mean BPC over the corpora; NaN when one is missing */
    size_t                   *order;  /* (n_models) leaderboard order: mean BPC, then name */
} table;

static void table_free(table *t) {
    free(t->model);
    free(t->col);
    free(t->colf);
    free(t->cells);
    free(t->mean);
    free(t->order);
}

static const table *sort_table; /* qsort has no context argument in C11 */
static int cmp_rank(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = sort_table->mean[i], y = sort_table->mean[j];
    if (isfinite(x) != isfinite(y)) return isfinite(x) ? -1 : 1;
    if (isfinite(x) && x != y) return x < y ? -1 : 1;
    return strcmp(sort_table->model[i]->model, sort_table->model[j]->model);
}

static const char *short_sha(const char *s, char buf[16]) {
    snprintf(buf, 16, "%.12s", s);
    return buf;
}

/* Columns: corpora in order of first appearance; one column holds one data set. */
static int table_columns(const lmc_results *f, size_t nf, table *t, lmc_err *err) {
    for (size_t i = 0; i < nf; i++)
        for (size_t k = 0; k < f[i].n; k++) {
            const lmc_corpus_result *c = &f[i].r[k];
            size_t j = 0;
            while (j < t->n_corpora && strcmp(t->col[j]->corpus, c->corpus)) j++;
            if (j == t->n_corpora) { t->colf[j] = &f[i]; t->col[t->n_corpora++] = c; continue; }
            const lmc_corpus_result *c0 = t->col[j];
            if (strcmp(c0->data_sha256, c->data_sha256) || c0->file_num != c->file_num || c0->docs != c->docs) {
                char s0[16], s1[16];
                return lmc_fail(err, "corpus '%s' mixes different data in one column: %s has data sha256 %s… "
                                     "(file_num %ld, %zu documents), %s has %s… (file_num %ld, %zu documents)",
                                c->corpus, t->colf[j]->path, short_sha(c0->data_sha256, s0), c0->file_num, c0->docs,
                                f[i].path, short_sha(c->data_sha256, s1), c->file_num, c->docs);
            }
        }
    return 0;
}

/* Rows: models by display name; a model may come in several files (one per corpus). row_of[i]: file i's row. */
static void table_rows(const lmc_results *f, size_t nf, table *t, size_t *row_of) {
    for (size_t i = 0; i < nf; i++) {
        size_t m = 0;
        while (m < t->n_models && strcmp(t->model[m]->model, f[i].model)) m++;
        if (m == t->n_models) t->model[t->n_models++] = &f[i];
        row_of[i] = m;
    }
}

/* Cells: each result in its (model, corpus) cell, at most one per cell, with its interval. */
static int table_cells(const lmc_results *f, size_t nf, const size_t *row_of, const lmc_report_opts *o, table *t,
                       lmc_err *err) {
    for (size_t i = 0; i < nf; i++)
        for (size_t k = 0; k < f[i].n; k++) {
            size_t j = 0;
            while (strcmp(t->col[j]->corpus, f[i].r[k].corpus)) j++;
            cell *c = &t->cells[row_of[i] * t->n_corpora + j];
            if (c->file)
                return lmc_fail(err, "model '%s' has two results for corpus '%s' (%s and %s): report one of them",
                                f[i].model, f[i].r[k].corpus, c->file->path, f[i].path);
            c->file = &f[i];
            c->c = &f[i].r[k];
            if (lmc_results_interval(c->c, o->resamples, o->seed, &c->iv, err)) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                return lmc_fail(err, "%s: %s: %s", f[i].path, f[i].r[k].corpus, msg);
            }
        }
    return 0;
}

/* Mean BPC per model (NaN when a corpus is missing) and the leaderboard order. */
static void table_rank(table *t) {
    for (size_t m = 0; m < t->n_models; m++) {
        double s = 0;
        for (size_t j = 0; j < t->n_corpora; j++) {
            const cell *c = &t->cells[m * t->n_corpora + j];
            s += c->file ? c->c->bpc : NAN;
        }
        t->mean[m] = s / (double)t->n_corpora;
        t->order[m] = m;
    }
    sort_table = t;
    qsort(t->order, t->n_models, sizeof *t->order, cmp_rank);
    sort_table = NULL;
}

/* Every score and reference line must name something in the results. */
static int table_check_names(const table *t, const lmc_report_opts *o, lmc_err *err) {
    if (o->scores)
        for (size_t s = 0; s < o->scores->n; s++) {
            size_t m = 0, k = 0;
            while (m < t->n_models && strcmp(t->model[m]->model, o->scores->model[s])) m++;
            while (o->paper && k < o->paper->n && strcmp(o->paper->model[k], o->scores->model[s])) k++;
            if (m == t->n_models && !(o->paper && k < o->paper->n)) {
                lmc_buf names = {0};
                for (size_t k = 0; k < t->n_models && names.len < 600; k++)
                    lmc_buf_printf(&names, "%s'%s'", k ? ", " : "", t->model[k]->model);
                lmc_fail(err, "%s: model '%.200s' is not in the results (models: %s)", o->scores_path,
                         o->scores->model[s], names.p);
                lmc_buf_free(&names);
                return -1;
            }
        }
    if (o->refs)
        for (size_t r = 0; r < o->refs->n; r++) {
            size_t j = 0;
            while (j < t->n_corpora && strcmp(t->col[j]->corpus, o->refs->corpus[r])) j++;
            if (j == t->n_corpora)
                return lmc_fail(err, "%s: corpus '%.200s' is not in the results (corpora are named after their data "
                                     "files, e.g. '%s')", o->refs_path, o->refs->corpus[r], t->col[0]->corpus);
        }
    return 0;
}

static int build_table(const lmc_results *f, size_t nf, const lmc_report_opts *o, table *t, lmc_err *err) {
    memset(t, 0, sizeof *t);
    size_t cap = 0;
    for (size_t i = 0; i < nf; i++) cap += f[i].n;
    t->model = calloc(nf, sizeof *t->model);
    t->col = calloc(cap, sizeof *t->col);
    t->colf = calloc(cap, sizeof *t->colf);
    if (!t->model || !t->col || !t->colf) return lmc_fail(err, "out of memory for a table of %zu results", cap);
    if (table_columns(f, nf, t, err)) return -1;
    size_t *row_of = calloc(nf, sizeof *row_of);
    if (!row_of) return lmc_fail(err, "out of memory for a table of %zu results files", nf);
    table_rows(f, nf, t, row_of);
    t->cells = calloc(t->n_models * t->n_corpora, sizeof *t->cells);
    t->mean = calloc(t->n_models, sizeof *t->mean);
    t->order = calloc(t->n_models, sizeof *t->order);
    int rc = !t->cells || !t->mean || !t->order ? lmc_fail(err, "out of memory for a table of %zu models", t->n_models)
                                                : table_cells(f, nf, row_of, o, t, err);
    free(row_of);
    if (rc) return -1;
    table_rank(t);
    return table_check_names(t, o, err);
}

/* ---- formatting helpers ----------------------------------------------------------------------------- */

static void fmt_params(char *b, size_t cap, double p) {
    if (!(p > 0)) snprintf(b, cap, "?");
    else if (p >= 1e9) snprintf(b, cap, "%.2fB", p / 1e9);
    else if (p >= 1e6) snprintf(b, cap, "%.1fM", p / 1e6);
    else if (p >= 1e3) snprintf(b, cap, "%.0fK", p / 1e3);
    else snprintf(b, cap, "%.0f", p);
}

static void fmt_num(char *b, size_t cap, const char *fmt, double v) {
    if (isfinite(v)) snprintf(b, cap, fmt, v);
    else snprintf(b, cap, "n/a");
}

static void fmt_ci(char *b, size_t cap, const lmc_interval *iv) {
    if (isfinite(iv->lo)) snprintf(b, cap, "[%.4f, %.4f]", iv->lo, iv->hi);
    else snprintf(b, cap, "n/a");
}

static double model_seconds(const table *t, size_t m) {
    double s = 0;
    for (size_t j = 0; j < t->n_corpora; j++) {
        const cell *c = &t->cells[m * t->n_corpora + j];
        if (c->file) s += c->c->seconds;
    }
    return s;
}

/* the score of a model, or NaN */
static double score_of(const lmc_scores *s, const char *model) {
    for (size_t i = 0; s && i < s->n; i++)
        if (!strcmp(s->model[i], model)) return s->score[i];
    return NAN;
}

static double ref_of(const lmc_reflines *r, const char *corpus, size_t i, int slope) {
    return slope ? r->slope[i] : r->intercept[i];
}

/* ---- the paper's published leaderboard (--paper) ----------------------------------------------------------- */

/* The reference points of one corpus panel, after the measured ones (which alone make the least-squares line); on a
 * scatter only the paper's models the scores file gives a score. */
static void paper_points(const lmc_report_opts *o, const char *corpus, lmc_plot *p, lmc_plot_point *pts) {
    if (!o->paper) return;
    int pc = lmc_paper_corpus(corpus);
    p->n_fit = p->n;
    if (pc < 0) {
        p->ref_legend = "no published reference: the paper measured cc, python and arxiv_math only";
        return;
    }
    for (size_t i = 0; i < o->paper->n; i++) {
        double y = score_of(o->scores, o->paper->model[i]);
        if (o->scores && !isfinite(y)) continue;
        pts[p->n++] = (lmc_plot_point){o->paper->bpc[i][pc], y, NAN, NAN, o->paper->model[i], 1};
    }
    p->ref_legend = "□ published in the paper (Huang et al. 2024), not measured by lmc";
}

/* ---- SVG: one panel per corpus ------------------------------------------------------------------------ */

/* dot plot rows, drawn bottom-up: the highest BPC first, so the best model of this corpus is at the top */
static int cmp_dot(const void *a, const void *b) {
    const lmc_plot_point *p = a, *q = b;
    if (p->x != q->x) return p->x > q->x ? -1 : 1;
    return strcmp(q->label, p->label);
}

/* standalone (--svg): one figure, the panels in a grid of up to three columns. In the HTML page: one <svg> per
 * panel, which the page's CSS lays out in a row that shrinks to fit and wraps onto more rows on a narrow screen. */
static void render_svg(const table *t, const lmc_report_opts *o, lmc_buf *b, int standalone) {
    size_t cols = t->n_corpora < 3 ? t->n_corpora : 3, rows = (t->n_corpora + cols - 1) / cols;
    if (standalone) lmc_svg_begin(b, (double)(cols * LMC_PANEL_W), (double)(rows * LMC_PANEL_H), 1);
    lmc_plot_point *pts = calloc(t->n_models + (o->paper ? o->paper->n : 0), sizeof *pts);
    lmc_plot_line *refs = calloc(o->refs ? o->refs->n + 1 : 1, sizeof *refs);
    char title[400], xlabel[400], ylabel[200];
    for (size_t j = 0; j < t->n_corpora; j++) {
        lmc_plot p = {title, xlabel, ylabel, pts, 0, o->scores != NULL, refs, 0, o->scores == NULL, 0, NULL};
        for (size_t r = t->n_models; r-- > 0;) {
            size_t m = t->order[r];
            const cell *c = &t->cells[m * t->n_corpora + j];
            double y = score_of(o->scores, t->model[m]->model);
            if (!c->file || (o->scores && !isfinite(y))) continue;
            pts[p.n++] = (lmc_plot_point){c->c->bpc, y, c->iv.lo, c->iv.hi, t->model[m]->model, 0};
        }
        paper_points(o, t->col[j]->corpus, &p, pts);
        if (p.dot) qsort(pts, p.n, sizeof *pts, cmp_dot);
        for (size_t i = 0; o->refs && i < o->refs->n; i++)
            if (!strcmp(o->refs->corpus[i], t->col[j]->corpus))
                refs[p.n_refs++] = (lmc_plot_line){ref_of(o->refs, NULL, i, 1), ref_of(o->refs, NULL, i, 0),
                                                   o->refs->label[i]};
        if (o->scores) snprintf(title, sizeof title, "%s: %s against BPC", t->col[j]->corpus, o->scores->label);
        else snprintf(title, sizeof title, "%s: BPC per model (best at the top)", t->col[j]->corpus);
        snprintf(xlabel, sizeof xlabel, "BPC on %s (bar: 95%% interval), lower is better", t->col[j]->corpus);
        snprintf(ylabel, sizeof ylabel, "%s", o->scores ? o->scores->label : "");
        if (standalone) {
            lmc_svg_panel(b, &p, (double)(j % cols * LMC_PANEL_W), (double)(j / cols * LMC_PANEL_H));
            continue;
        }
        lmc_svg_begin(b, LMC_PANEL_W, LMC_PANEL_H, 0);
        lmc_svg_panel(b, &p, 0, 0);
        lmc_svg_end(b);
    }
    free(pts);
    free(refs);
    if (standalone) lmc_svg_end(b);
}

/* ---- HTML and Markdown ---------------------------------------------------------------------------------- */

static void method_text(lmc_buf *b, const lmc_report_opts *o, int html) {
    lmc_buf_printf(b, "%sIntervals: BPC = Σ nll / (ln 2 · Σ characters) over documents. ± is the standard error "
                      "clustered by document (ratio estimator, n/(n−1) correction); the 95%% interval is the "
                      "percentile interval of %d bootstrap resamples of the documents (drawn with replacement, nll "
                      "and characters summed per resample; seed %llu). Tokens inside a document are not treated as "
                      "independent. Compression rate = 12.5 × BPB %% (bits per byte / 8). zlib-BPC: the same text "
                      "under deflate level 9.%s\n",
                   html ? "<p class=\"method\">" : "", o->resamples, (unsigned long long)o->seed, html ? "</p>" : "\n");
}

static void html_text(lmc_buf *b, const char *s) { lmc_xml_escape(b, s); }

/* The page up to its first section: the style sheet and what the report holds. */
static void html_head(const table *t, size_t nf, lmc_buf *b) {
    lmc_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<title>lmc report</title>\n<style>\n"
                      "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px;color:#111;"
                      "background:#fff;max-width:1400px}\n"
                      "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 6px}h3{font-size:14px;"
                      "margin:14px 0 4px}\n"
                      "table{border-collapse:collapse;font-size:13px}th,td{padding:4px 10px;border-bottom:1px solid "
                      "#ddd;text-align:right;white-space:nowrap}\n"
                      "th{background:#f2f4f7;border-bottom:2px solid #999}td.l,th.l{text-align:left}\n"
                      "small{color:#555}.method,.note{font-size:12px;color:#444;max-width:1000px}\n"
                      /* an interval goes under its BPC, so the leaderboard fits 1200 px; a table wider than the
                       * screen scrolls in its box instead of being cut off; the plots share a row and wrap */
                      "td small,th small{display:block}.wide{overflow-x:auto;max-width:100%%}\n"
                      ".plots{display:flex;flex-wrap:wrap;column-gap:12px}"
                      "svg.plot{flex:1 1 340px;min-width:0;max-width:460px;height:auto}\n"
                      "table.paper td,table.paper th{color:#a0522d;font-style:italic}\n"
                      "</style>\n</head>\n<body>\n<h1>lmc report</h1>\n"
                      "<p class=\"note\">%zu model%s, %zu %s, from %zu results file%s. Lower BPC is better.</p>\n",
                   t->n_models, t->n_models == 1 ? "" : "s", t->n_corpora, t->n_corpora == 1 ? "corpus" : "corpora", nf,
                   nf == 1 ? "" : "s");
}

/* One row per model in leaderboard order: BPC with its interval per corpus, the mean, the time. */
static void html_leaderboard(const table *t, lmc_buf *b) {
    char s1[64], s2[64], s3[64];
    lmc_buf_printf(b, "<h2>Leaderboard</h2>\n<div class=\"wide\"><table>\n<tr><th>#</th><th class=\"l\">model</th>"
                      "<th>parameters</th>"
                      "<th>weights / compute</th>");
    for (size_t j = 0; j < t->n_corpora; j++) {
        lmc_buf_printf(b, "<th>BPC ");
        html_text(b, t->col[j]->corpus);
        lmc_buf_printf(b, " <small>95%% interval</small></th>");
    }
    if (t->n_corpora > 1) lmc_buf_printf(b, "<th>mean BPC</th>");
    lmc_buf_printf(b, "<th>wall time (s)</th></tr>\n");
    for (size_t r = 0; r < t->n_models; r++) {
        size_t m = t->order[r];
        fmt_params(s1, sizeof s1, t->model[m]->parameters);
        lmc_buf_printf(b, "<tr><td>%zu</td><td class=\"l\">", r + 1);
        html_text(b, t->model[m]->model);
        lmc_buf_printf(b, "</td><td>%s</td><td>", s1);
        html_text(b, t->model[m]->weights_dtype);
        lmc_buf_printf(b, " / ");
        html_text(b, t->model[m]->compute_dtype);
        lmc_buf_printf(b, "</td>");
        for (size_t j = 0; j < t->n_corpora; j++) {
            const cell *c = &t->cells[m * t->n_corpora + j];
            if (!c->file) { lmc_buf_printf(b, "<td>—</td>"); continue; }
            fmt_ci(s2, sizeof s2, &c->iv);
            lmc_buf_printf(b, "<td>%.4f <small>%s</small></td>", c->c->bpc, s2);
        }
        if (t->n_corpora > 1) {
            fmt_num(s3, sizeof s3, "%.4f", t->mean[m]);
            lmc_buf_printf(b, "<td>%s</td>", isfinite(t->mean[m]) ? s3 : "—");
        }
        lmc_buf_printf(b, "<td>%.1f</td></tr>\n", model_seconds(t, m));
    }
    lmc_buf_printf(b, "</table></div>\n");
}

static void html_plots(const table *t, const lmc_report_opts *o, lmc_buf *b) {
    lmc_buf_printf(b, "<h2>%s</h2>\n", o->scores ? "BPC against benchmark score" : "BPC per model");
    if (o->scores)
        lmc_buf_printf(b, "<p class=\"note\">One point per model with a score; red: least-squares line of the score "
                          "on BPC, with Pearson r%s.</p>\n",
                       o->refs ? "; dashed: reference lines given with --reference" : "");
    lmc_buf_printf(b, "<div class=\"plots\">\n");
    render_svg(t, o, b, 0);
    lmc_buf_printf(b, "</div>\n");
}

/* One table per corpus: every figure of each model's result. */
static void html_corpora(const table *t, lmc_buf *b) {
    char s1[64], s2[64], s3[64];
    lmc_buf_printf(b, "<h2>Per corpus</h2>\n");
    for (size_t j = 0; j < t->n_corpora; j++) {
        const lmc_corpus_result *c0 = t->col[j];
        lmc_buf_printf(b, "<h3>");
        html_text(b, c0->corpus);
        lmc_buf_printf(b, " <small>(");
        html_text(b, c0->data);
        char sha[13];
        snprintf(sha, sizeof sha, "%.12s", c0->data_sha256);
        lmc_buf_printf(b, ", %zu document%s, %zu characters, sha256 ", c0->docs, c0->docs == 1 ? "" : "s", c0->chars);
        html_text(b, sha);
        lmc_buf_printf(b, "…)</small></h3>\n");
        lmc_buf_printf(b, "<div class=\"wide\"><table>\n<tr><th class=\"l\">model</th><th>BPC</th><th>± SE</th><th>95%% interval</th>"
                          "<th>BPB</th><th>compression %%</th><th>zlib-BPC</th><th>tokens/s</th><th>seconds</th>"
                          "<th>W / S</th></tr>\n");
        for (size_t r = 0; r < t->n_models; r++) {
            size_t m = t->order[r];
            const cell *c = &t->cells[m * t->n_corpora + j];
            if (!c->file) continue;
            lmc_buf_printf(b, "<tr><td class=\"l\">");
            html_text(b, t->model[m]->model);
            fmt_num(s1, sizeof s1, "%.4f", c->iv.se);
            fmt_ci(s2, sizeof s2, &c->iv);
            fmt_num(s3, sizeof s3, "%.4f", c->c->zlib_bpc);
            lmc_buf_printf(b, "</td><td>%.4f</td><td>%s</td><td>%s</td><td>%.4f</td><td>%.2f</td><td>%s</td>",
                           c->c->bpc, s1, s2, c->c->bpb, 12.5 * c->c->bpb, s3);
            fmt_num(s1, sizeof s1, "%.0f", c->c->tokens_per_s);
            lmc_buf_printf(b, "<td>%s</td><td>%.1f</td><td>%d / %d</td></tr>\n", s1, c->c->seconds, c->c->block_size,
                           c->c->stride);
        }
        lmc_buf_printf(b, "</table></div>\n");
    }
}

/* How the numbers were computed, and the files they came from. */
static void html_inputs(const lmc_results *f, size_t nf, const lmc_report_opts *o, lmc_buf *b) {
    lmc_buf_printf(b, "<h2>Method and inputs</h2>\n");
    method_text(b, o, 1);
    lmc_buf_printf(b, "<ul class=\"note\">\n");
    for (size_t i = 0; i < nf; i++) {
        lmc_buf_printf(b, "<li>");
        html_text(b, f[i].path);
        lmc_buf_printf(b, ": ");
        html_text(b, f[i].model_path);
        lmc_buf_printf(b, " (");
        html_text(b, f[i].architecture);
        lmc_buf_printf(b, ")</li>\n");
    }
    if (o->scores_path) {
        lmc_buf_printf(b, "<li>scores: ");
        html_text(b, o->scores_path);
        lmc_buf_printf(b, "</li>\n");
    }
    if (o->refs_path) {
        lmc_buf_printf(b, "<li>reference lines: ");
        html_text(b, o->refs_path);
        lmc_buf_printf(b, "</li>\n");
    }
    lmc_buf_printf(b, "</ul>\n<p class=\"note\">Written by lmc %s.</p>\n</body>\n</html>\n", LMC_VERSION);
}

static void paper_table(const table *t, const lmc_paper *pp, lmc_buf *b, int html);

static void render_html(const table *t, const lmc_results *f, size_t nf, const lmc_report_opts *o, lmc_buf *b) {
    html_head(t, nf, b);
    html_leaderboard(t, b);
    if (o->paper) paper_table(t, o->paper, b, 1);
    html_plots(t, o, b);
    html_corpora(t, b);
    html_inputs(f, nf, o, b);
}

/* Text from a results file in a Markdown cell: it must not break the table ('|' and the backslash that would
 * escape an escape are escaped, a line break becomes a space) nor become HTML, which Markdown passes through. */
static void md_text(lmc_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|' || *s == '\\') lmc_buf_printf(b, "\\%c", *s);
        else if (*s == '<') lmc_buf_printf(b, "&lt;");
        else if (*s == '>') lmc_buf_printf(b, "&gt;");
        else if (*s == '&') lmc_buf_printf(b, "&amp;");
        else if (*s == '\n' || *s == '\r') lmc_buf_printf(b, " ");
        else lmc_buf_append(b, s, 1);
    }
}

/* The reference table under the leaderboard: the paper's rows on the columns it has, a note for the others. */
static void paper_table(const table *t, const lmc_paper *pp, lmc_buf *b, int html) {
    int matched = 0;
    lmc_buf_printf(b, html ? "<h2>Published reference: the paper's leaderboard</h2>\n<p class=\"note\">"
                           : "\n**Published reference: the paper's leaderboard** (");
    lmc_buf_printf(b, "Published, not measured by lmc. ");
    if (html) html_text(b, pp->source);
    else md_text(b, pp->source);
    lmc_buf_printf(b, html ? " Columns are matched by subset name.</p>\n" : " Columns are matched by subset name.)\n\n");
    for (size_t j = 0; j < t->n_corpora; j++) {
        if (lmc_paper_corpus(t->col[j]->corpus) >= 0) { matched++; continue; }
        lmc_buf_printf(b, html ? "<p class=\"note\">" : "");
        lmc_buf_printf(b, "Note: corpus '");
        if (html) html_text(b, t->col[j]->corpus);
        else md_text(b, t->col[j]->corpus);
        lmc_buf_printf(b, "' has no published reference: the paper measured cc, python and arxiv_math only.%s\n",
                       html ? "</p>" : "\n");
    }
    if (!matched) return;
    lmc_buf_printf(b, html ? "<div class=\"wide\"><table class=\"paper\">\n<tr><th class=\"l\">model (published)</th>"
                           : "| model (published, not measured by lmc) |");
    for (size_t j = 0; j < t->n_corpora; j++)
        if (lmc_paper_corpus(t->col[j]->corpus) >= 0)
            lmc_buf_printf(b, html ? "<th>BPC %s</th>" : " BPC %s |", t->col[j]->corpus);
    lmc_buf_printf(b, html ? "<th>average of the three</th></tr>\n" : " average of the three |\n|---|");
    for (int j = 0; !html && j <= matched; j++) lmc_buf_printf(b, "---:|");
    if (!html) lmc_buf_printf(b, "\n");
    for (size_t i = 0; i < pp->n; i++) {
        lmc_buf_printf(b, html ? "<tr class=\"paper\"><td class=\"l\">" : "| ");
        if (html) html_text(b, pp->model[i]);
        else md_text(b, pp->model[i]);
        lmc_buf_printf(b, html ? "</td>" : " |");
        for (size_t j = 0; j < t->n_corpora; j++) {
            int pc = lmc_paper_corpus(t->col[j]->corpus);
            if (pc >= 0) lmc_buf_printf(b, html ? "<td>%.3f</td>" : " %.3f |", pp->bpc[i][pc]);
        }
        lmc_buf_printf(b, html ? "<td>%.3f</td></tr>\n" : " %.3f |\n", pp->average[i]);
    }
    if (html) lmc_buf_printf(b, "</table></div>\n");
}

static void render_md(const table *t, const lmc_report_opts *o, lmc_buf *b) {
    char s1[64], s2[64], s3[64];
    lmc_buf_printf(b, "| # | model | parameters | weights / compute |");
    for (size_t j = 0; j < t->n_corpora; j++) {
        lmc_buf_printf(b, " BPC ");
        md_text(b, t->col[j]->corpus);
        lmc_buf_printf(b, " [95%%] |");
    }
    if (t->n_corpora > 1) lmc_buf_printf(b, " mean BPC |");
    lmc_buf_printf(b, " wall time (s) |\n|---:|---|---:|---|");
    for (size_t j = 0; j < t->n_corpora; j++) lmc_buf_printf(b, "---:|");
    lmc_buf_printf(b, "%s---:|\n", t->n_corpora > 1 ? "---:|" : "");
    for (size_t r = 0; r < t->n_models; r++) {
        size_t m = t->order[r];
        fmt_params(s1, sizeof s1, t->model[m]->parameters);
        lmc_buf_printf(b, "| %zu | ", r + 1);
        md_text(b, t->model[m]->model);
        lmc_buf_printf(b, " | %s | ", s1);
        md_text(b, t->model[m]->weights_dtype);
        lmc_buf_printf(b, " / ");
        md_text(b, t->model[m]->compute_dtype);
        lmc_buf_printf(b, " |");
        for (size_t j = 0; j < t->n_corpora; j++) {
            const cell *c = &t->cells[m * t->n_corpora + j];
            if (!c->file) { lmc_buf_printf(b, " — |"); continue; }
            fmt_ci(s2, sizeof s2, &c->iv);
            lmc_buf_printf(b, " %.4f %s |", c->c->bpc, s2);
        }
        if (t->n_corpora > 1) {
            fmt_num(s3, sizeof s3, "%.4f", t->mean[m]);
            lmc_buf_printf(b, " %s |", isfinite(t->mean[m]) ? s3 : "—");
        }
        lmc_buf_printf(b, " %.1f |\n", model_seconds(t, m));
    }
    if (o->paper) paper_table(t, o->paper, b, 0);
    for (size_t j = 0; j < t->n_corpora; j++) {
        const lmc_corpus_result *c0 = t->col[j];
        lmc_buf_printf(b, "\n**");
        md_text(b, c0->corpus);
        lmc_buf_printf(b, "** (%zu document%s, %zu characters)\n\n| model | BPC | ± SE | 95%% interval | BPB | "
                          "compression %% | zlib-BPC | tokens/s | seconds | W / S |\n"
                          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", c0->docs, c0->docs == 1 ? "" : "s",
                       c0->chars);
        for (size_t r = 0; r < t->n_models; r++) {
            size_t m = t->order[r];
            const cell *c = &t->cells[m * t->n_corpora + j];
            if (!c->file) continue;
            lmc_buf_printf(b, "| ");
            md_text(b, t->model[m]->model);
            fmt_num(s1, sizeof s1, "%.4f", c->iv.se);
            fmt_ci(s2, sizeof s2, &c->iv);
            fmt_num(s3, sizeof s3, "%.4f", c->c->zlib_bpc);
            lmc_buf_printf(b, " | %.4f | %s | %s | %.4f | %.2f | %s |", c->c->bpc, s1, s2, c->c->bpb,
                           12.5 * c->c->bpb, s3);
            fmt_num(s1, sizeof s1, "%.0f", c->c->tokens_per_s);
            lmc_buf_printf(b, " %s | %.1f | %d / %d |\n", s1, c->c->seconds, c->c->block_size, c->c->stride);
        }
    }
    lmc_buf_printf(b, "\n");
    method_text(b, o, 0);
}

int lmc_report_render(const lmc_results *files, size_t n_files, const lmc_report_opts *o, lmc_report_format fmt,
                      lmc_buf *out, lmc_err *err) {
    table t;
    if (n_files == 0) return lmc_fail(err, "report needs at least one results file");
    if (build_table(files, n_files, o, &t, err)) { table_free(&t); return -1; }
    if (fmt == LMC_REPORT_HTML) render_html(&t, files, n_files, o, out);
    else if (fmt == LMC_REPORT_MD) render_md(&t, o, out);
    else render_svg(&t, o, out, 1);
    table_free(&t);
    return 0;
}

/* ---- compare ---------------------------------------------------------------------------------------------- */

int lmc_compare_text(const lmc_results *a, const lmc_results *b, int resamples, uint64_t seed, lmc_buf *out,
                     lmc_err *err) {
    lmc_buf_printf(out, "A = %s (%s)\nB = %s (%s)\npaired over documents; %d bootstrap resamples, seed %llu\n",
                   a->model, a->path, b->model, b->path, resamples, (unsigned long long)seed);
    lmc_buf_printf(out, "%-16s %6s %9s %9s %10s %9s %23s  %s\n", "corpus", "docs", "BPC A", "BPC B", "A - B", "SE",
                   "95% interval of A - B", "verdict");
    size_t shared = 0;
    lmc_buf notes = {0};
    for (size_t i = 0; i < a->n; i++) {
        const lmc_corpus_result *ca = &a->r[i], *cb = NULL;
        for (size_t j = 0; j < b->n && !cb; j++)
            if (!strcmp(b->r[j].corpus, ca->corpus)) cb = &b->r[j];
        if (!cb) { lmc_buf_printf(&notes, "note: corpus '%s' is only in A\n", ca->corpus); continue; }
        char s0[16], s1[16];
        if (strcmp(ca->data_sha256, cb->data_sha256) || ca->file_num != cb->file_num || ca->docs != cb->docs) {
            lmc_buf_free(&notes);
            return lmc_fail(err, "corpus '%s': %s evaluated data sha256 %s… (file_num %ld, %zu documents) but %s "
                                 "%s… (file_num %ld, %zu documents): a paired comparison needs the same documents",
                            ca->corpus, a->path, short_sha(ca->data_sha256, s0), ca->file_num, ca->docs, b->path,
                            short_sha(cb->data_sha256, s1), cb->file_num, cb->docs);
        }
        for (size_t d = 0; d < ca->docs; d++)
            if (ca->doc[d].chars != cb->doc[d].chars) {
                lmc_buf_free(&notes);
                return lmc_fail(err, "corpus '%s': document %zu has %zu characters in %s but %zu in %s", ca->corpus, d,
                                ca->doc[d].chars, a->path, cb->doc[d].chars, b->path);
            }
        lmc_interval iv;
        if (lmc_stats_paired(ca->y, cb->y, ca->x, ca->docs, resamples, seed, &iv, err)) {
            lmc_buf_free(&notes);
            return -1;
        }
        char se[32], ci[64];
        const char *verdict = "interval n/a";
        fmt_num(se, sizeof se, "%.5f", iv.se);
        if (isfinite(iv.lo)) {
            snprintf(ci, sizeof ci, "[%+.5f, %+.5f]", iv.lo, iv.hi);
            verdict = iv.lo > 0 ? "excludes 0: B is better (lower BPC)"
                    : iv.hi < 0 ? "excludes 0: A is better (lower BPC)"
                                : "includes 0: no clear difference";
        } else {
            snprintf(ci, sizeof ci, "n/a");
        }
        lmc_buf_printf(out, "%-16.16s %6zu %9.5f %9.5f %+10.5f %9s %23s  %s\n", ca->corpus, ca->docs, ca->bpc, cb->bpc,
                       iv.est, se, ci, verdict);
        if (ca->block_size != cb->block_size || ca->stride != cb->stride)
            lmc_buf_printf(&notes, "note: corpus '%s' was evaluated with W/S %d/%d in A and %d/%d in B\n", ca->corpus,
                           ca->block_size, ca->stride, cb->block_size, cb->stride);
        shared++;
    }
    for (size_t j = 0; j < b->n; j++) {
        size_t i = 0;
        while (i < a->n && strcmp(a->r[i].corpus, b->r[j].corpus)) i++;
        if (i == a->n) lmc_buf_printf(&notes, "note: corpus '%s' is only in B\n", b->r[j].corpus);
    }
    if (!shared) {
        lmc_buf_free(&notes);
        return lmc_fail(err, "%s and %s share no corpus (corpora are matched by data file name)", a->path, b->path);
    }
    if (notes.len) lmc_buf_append(out, notes.p, notes.len);
    lmc_buf_free(&notes);
    return 0;
}

/* ---- eval's interval lines -------------------------------------------------------------------------------- */

int lmc_intervals_text(lmc_buf *out, const lmc_result *r, size_t n, int resamples, lmc_err *err) {
    for (size_t i = 0; i < n; i++) {
        if (!r[i].doc_stats) continue;
        double *y = malloc(sizeof(double) * r[i].docs), *x = malloc(sizeof(double) * r[i].docs);
        if (!y || !x) {
            free(y);
            free(x);
            return lmc_fail(err, "%s: out of memory for the interval's %zu per-document values", r[i].data, r[i].docs);
        }
        for (size_t d = 0; d < r[i].docs; d++) {
            y[d] = r[i].doc_stats[d].nll / M_LN2;
            x[d] = (double)r[i].doc_stats[d].chars;
        }
        lmc_interval iv;
        int rc = lmc_stats_ratio(y, x, r[i].docs, resamples, LMC_BOOTSTRAP_SEED, &iv, err);
        free(y);
        free(x);
        if (rc) return -1;
        char nb[64], se[32], ci[64];
        const char *name = lmc_fit_path(r[i].data, 28, nb, sizeof nb);
        fmt_num(se, sizeof se, "%.4f", iv.se);
        fmt_ci(ci, sizeof ci, &iv);
        if (r[i].docs < 2)
            lmc_buf_printf(out, "%-28s BPC %.4f: no standard error or interval (one document; both need at least "
                                "2)\n", name, r[i].bpc);
        else
            lmc_buf_printf(out, "%-28s BPC %.4f ± %s (SE clustered by document), 95%% interval %s (bootstrap, %d "
                                "resamples of %zu documents)\n", name, r[i].bpc, se, ci, resamples, r[i].docs);
    }
    return 0;
}

const char *lmc_fit_path(const char *path, int width, char *buf, size_t cap) {
    size_t n = strlen(path);
    if (n <= (size_t)width) return path;
    const char *tail = path + n - (width - 3);
    while (((unsigned char)*tail & 0xC0) == 0x80) tail++; /* not inside a UTF-8 character */
    snprintf(buf, cap, "...%s", tail);
    return buf;
}
