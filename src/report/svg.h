/* svg.h — a small SVG writer for lmc report: escaped text, and a plot panel (axes with round ticks, points
 * with horizontal interval bars and labels, a least-squares line, dashed reference lines). Text goes into an
 * lmc_buf; nothing here touches files. Points carry class="point" so tests can count them. */
#ifndef LMC_SVG_H
#define LMC_SVG_H

#include "common/util.h"

#include <stddef.h>

/* Appends s with & < > " ' escaped (XML text and attribute values). */
void lmc_xml_escape(lmc_buf *b, const char *s);

typedef struct lmc_plot_point {
    double      x, y;       /* x: BPC; y: score (or rank in a dot plot) */
    double      xlo, xhi;   /* the x interval drawn as a bar (NaN: none) */
    const char *label;      /* drawn next to the point and in its tooltip */
    int         ref;        /* 1: a published reference (lmc report --paper): a hollow square, class "paper-point",
                             * labelled only on a scatter (a dot plot names it in its tooltip) */
} lmc_plot_point;

typedef struct lmc_plot_line {
    double      slope, intercept; /* y = intercept + slope · x */
    const char *label;
} lmc_plot_line;

typedef struct lmc_plot {
    const char *title, *xlabel, *ylabel;
    const lmc_plot_point *pts;  /* (n) */
    size_t n;
    int    fit;                 /* 1: draw the least-squares line of y on x and print it with Pearson r */
    const lmc_plot_line *refs;  /* (n_refs) dashed reference lines */
    size_t n_refs;
    int    dot;                 /* 1: a dot plot: y is the row index 0..n-1 and the labels name the rows */
    size_t n_fit;               /* > 0: the least-squares line uses only the first n_fit points (the measured) */
    const char *ref_legend;     /* NULL, or a legend line for the reference points (or for their absence) */
} lmc_plot;

/* Least squares y = a + b·x and Pearson r over n points; returns -1 when it is undefined (n < 2 or no spread
 * in x; r is NaN when y has no spread). */
int lmc_fit_line(const lmc_plot_point *p, size_t n, double *a, double *b, double *r);

/* Panel size in pixels: the plot area, and below it the tick labels, the axis label and up to four legend lines. */
#define LMC_PANEL_W 460
#define LMC_PANEL_H 400

/* Appends one panel as a <g> translated to (ox, oy). */
void lmc_svg_panel(lmc_buf *b, const lmc_plot *p, double ox, double oy);

/* <svg ...> opening (with the stylesheet the panels use) and closing tags for a w × h figure. standalone: a file
 * of its own (XML declaration); otherwise an element of the HTML page, class "plot", sized by the page's CSS. */
void lmc_svg_begin(lmc_buf *b, double w, double h, int standalone);
void lmc_svg_end(lmc_buf *b);

#endif
