/* svg.c — the SVG writer behind lmc report's plots (svg.h). Coordinates are printed with one decimal: enough
 * for a screen, and the output stays diffable. */
#include "report/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

/* ---- text --------------------------------------------------------------------------------------- */

/* Text from a results file goes into HTML and SVG as text, never as markup: the five markup characters become
 * entities, control characters (not allowed in XML 1.0) and bytes that are not UTF-8 (an XML parser stops at
 * them, and a browser would guess the encoding) become a replacement. */
void lmc_xml_escape(lmc_buf *b, const char *s) {
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp);
            if (n <= 0 || cp == 0xFFFE || cp == 0xFFFF) lmc_buf_printf(b, "\xEF\xBF\xBD"); /* U+FFFD */
            else lmc_buf_append(b, s, (size_t)n);
            s += n > 0 ? n - 1 : 0;
            continue;
        }
        switch (*s) {
        case '&': lmc_buf_printf(b, "&amp;"); break;
        case '<': lmc_buf_printf(b, "&lt;"); break;
        case '>': lmc_buf_printf(b, "&gt;"); break;
        case '"': lmc_buf_printf(b, "&quot;"); break;
        case '\'': lmc_buf_printf(b, "&#39;"); break;
        default:
            /* control characters are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') lmc_buf_printf(b, "?");
            else lmc_buf_append(b, s, 1);
        }
    }
}

static void text(lmc_buf *b, double x, double y, const char *anchor, const char *cls, const char *s) {
    lmc_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">", x, y, anchor, cls);
    lmc_xml_escape(b, s);
    lmc_buf_printf(b, "</text>\n");
}

/* A legend line at 11 px from x, broken at spaces into lines that stay within max_w (width estimated at 6.2 px
 * per character, as for point labels); *y advances by 15 px per line written. */
static void legend_text(lmc_buf *b, double x, double *y, double max_w, const char *cls, const char *s) {
    size_t max_chars = (size_t)(max_w / 6.2);
    char part[512];
    while (*s) {
        size_t cut = 0, chars = 0, i = 0; /* cut: the last space within max_chars, or the whole rest */
        for (; s[i]; i++) {
            if (((unsigned char)s[i] & 0xC0) == 0x80) continue; /* a UTF-8 continuation byte */
            if (++chars > max_chars) break;
            if (s[i] == ' ') cut = i;
        }
        if (!s[i] || !cut) cut = strlen(s);
        snprintf(part, sizeof part, "%.*s", (int)cut, s);
        text(b, x, *y, "start", cls, part);
        *y += 15;
        s += cut;
        while (*s == ' ') s++;
    }
}

static void line(lmc_buf *b, double x1, double y1, double x2, double y2, const char *cls) {
    lmc_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"%s\"/>\n", x1, y1, x2, y2, cls);
}

/* ---- numbers -------------------------------------------------------------------------------------- */

int lmc_fit_line(const lmc_plot_point *p, size_t n, double *a, double *b, double *r) {
    if (n < 2) return -1;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) { mx += p[i].x; my += p[i].y; }
    mx /= (double)n;
    my /= (double)n;
    double sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = p[i].x - mx, dy = p[i].y - my;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    if (!(sxx > 0)) return -1;
    *b = sxy / sxx;
    *a = my - *b * mx;
    *r = syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
    return 0;
}

/* A round tick step (1, 2 or 5 × 10^k) giving about five ticks over [lo, hi]. */
static double tick_step(double lo, double hi) {
    double raw = (hi - lo) / 5, m = pow(10, floor(log10(raw))), f = raw / m;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * m;
}

/* Pads a data range and widens it to whole ticks. */
static void axis_range(double lo, double hi, double *alo, double *ahi, double *step) {
    if (!(hi > lo)) { /* one value, or all equal */
        double pad = fabs(lo) > 0 ? 0.05 * fabs(lo) : 0.5;
        lo -= pad;
        hi += pad;
    }
    double pad = 0.06 * (hi - lo);
    lo -= pad;
    hi += pad;
    *step = tick_step(lo, hi);
    *alo = floor(lo / *step) * *step;
    *ahi = ceil(hi / *step) * *step;
}

static int step_decimals(double step) {
    int d = (int)-floor(log10(step) + 1e-9);
    return d < 0 ? 0 : d > 6 ? 6 : d;
}

/* ---- the panel ------------------------------------------------------------------------------------ */

typedef struct frame {
    double ox, oy;         /* panel origin */
    double l, t, w, h;     /* plot area within the panel */
    double x0, x1, y0, y1; /* data domain */
} frame;

static double px(const frame *f, double x) { return f->ox + f->l + (x - f->x0) / (f->x1 - f->x0) * f->w; }
static double py(const frame *f, double y) { return f->oy + f->t + f->h - (y - f->y0) / (f->y1 - f->y0) * f->h; }

/* y = a + b·x clipped to the domain; returns 0 when some of it is visible */
static int clip_line(const frame *f, double a, double b, double *xa, double *xb) {
    double lo = f->x0, hi = f->x1;
    if (b == 0) {
        if (a < f->y0 || a > f->y1) return -1;
    } else {
        double u = (f->y0 - a) / b, v = (f->y1 - a) / b;
        if (u > v) { double t = u; u = v; v = t; }
        if (u > lo) lo = u;
        if (v < hi) hi = v;
    }
    if (!(hi > lo)) return -1;
    *xa = lo;
    *xb = hi;
    return 0;
}

static void axes(lmc_buf *b, const frame *f, const lmc_plot *p, double xs, double ys) {
    char s[64];
    int xd = step_decimals(xs), yd = step_decimals(ys);
    lmc_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"area\"/>\n", f->ox + f->l,
                   f->oy + f->t, f->w, f->h);
    for (int i = 0;; i++) {
        double v = f->x0 + i * xs;
        if (v > f->x1 + xs * 1e-6) break;
        double x = px(f, v);
        line(b, x, f->oy + f->t, x, f->oy + f->t + f->h, "grid");
        line(b, x, f->oy + f->t + f->h, x, f->oy + f->t + f->h + 5, "axis");
        snprintf(s, sizeof s, "%.*f", xd, v);
        text(b, x, f->oy + f->t + f->h + 18, "middle", "tick", s);
    }
    if (!p->dot)
        for (int i = 0;; i++) {
            double v = f->y0 + i * ys;
            if (v > f->y1 + ys * 1e-6) break;
            double y = py(f, v);
            line(b, f->ox + f->l, y, f->ox + f->l + f->w, y, "grid");
            line(b, f->ox + f->l - 5, y, f->ox + f->l, y, "axis");
            snprintf(s, sizeof s, "%.*f", yd, v);
            text(b, f->ox + f->l - 8, y + 4, "end", "tick", s);
        }
    line(b, f->ox + f->l, f->oy + f->t + f->h, f->ox + f->l + f->w, f->oy + f->t + f->h, "axis");
    line(b, f->ox + f->l, f->oy + f->t, f->ox + f->l, f->oy + f->t + f->h, "axis");
    text(b, f->ox + f->l + f->w / 2, f->oy + f->t + f->h + 36, "middle", "label", p->xlabel);
    if (p->ylabel && *p->ylabel) {
        double x = f->ox + 16, y = f->oy + f->t + f->h / 2;
        lmc_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"label\" "
                          "transform=\"rotate(-90 %.1f %.1f)\">", x, y, x, y);
        lmc_xml_escape(b, p->ylabel);
        lmc_buf_printf(b, "</text>\n");
    }
    text(b, f->ox + f->l + f->w / 2, f->oy + 20, "middle", "title", p->title);
}

/* The reference lines and the least-squares line, each with its legend under the axis label. */
static void lines_and_legend(lmc_buf *b, const frame *fp, const lmc_plot *p) {
    const frame f = *fp;
    char s[512];
    double legend_y = f.oy + f.t + f.h + 56, legend_w = LMC_PANEL_W - f.l - 8;
    for (size_t i = 0; i < p->n_refs; i++) {
        const lmc_plot_line *r = &p->refs[i];
        double xa, xb;
        int vis = !clip_line(&f, r->intercept, r->slope, &xa, &xb);
        if (vis) line(b, px(&f, xa), py(&f, r->intercept + r->slope * xa), px(&f, xb),
                      py(&f, r->intercept + r->slope * xb), "ref");
        snprintf(s, sizeof s, "- - %s: score = %.4g %s %.4g·BPC%s", r->label, r->intercept, r->slope < 0 ? "−" : "+",
                 fabs(r->slope), vis ? "" : " (outside this range)");
        legend_text(b, f.ox + f.l, &legend_y, legend_w, "legend ref-legend", s);
    }
    if (p->ref_legend) legend_text(b, f.ox + f.l, &legend_y, legend_w, "legend paper-legend", p->ref_legend);
    double a, sl, r;
    size_t n_fit = p->n_fit ? p->n_fit : p->n;
    if (p->fit && !lmc_fit_line(p->pts, n_fit, &a, &sl, &r)) {
        double xa, xb;
        if (!clip_line(&f, a, sl, &xa, &xb))
            line(b, px(&f, xa), py(&f, a + sl * xa), px(&f, xb), py(&f, a + sl * xb), "fit");
        snprintf(s, sizeof s, "— least squares: score = %.4g %s %.4g·BPC", a, sl < 0 ? "−" : "+", fabs(sl));
        legend_text(b, f.ox + f.l, &legend_y, legend_w, "legend", s);
        snprintf(s, sizeof s, "   Pearson r = %.3f (n = %zu)", r, n_fit);
        legend_text(b, f.ox + f.l, &legend_y, legend_w, "legend", s);
    } else if (p->fit) {
        snprintf(s, sizeof s, "no line: %s", n_fit < 2 ? "fewer than 2 models with a score" : "no spread in BPC");
        legend_text(b, f.ox + f.l, &legend_y, legend_w, "legend", s);
    }
}

void lmc_svg_panel(lmc_buf *b, const lmc_plot *p, double ox, double oy) {
    frame f = {ox, oy, 64, 32, LMC_PANEL_W - 64 - 18, LMC_PANEL_H - 32 - 112, 0, 1, 0, 1};
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < p->n; i++) {
        const lmc_plot_point *q = &p->pts[i];
        double a = isfinite(q->xlo) ? fmin(q->xlo, q->x) : q->x, c = isfinite(q->xhi) ? fmax(q->xhi, q->x) : q->x;
        xlo = fmin(xlo, a);
        xhi = fmax(xhi, c);
        ylo = fmin(ylo, q->y);
        yhi = fmax(yhi, q->y);
    }
    if (p->n == 0) xlo = ylo = 0, xhi = yhi = 1;
    double xs, ys;
    axis_range(xlo, xhi, &f.x0, &f.x1, &xs);
    if (p->dot) { f.y0 = -0.75; f.y1 = (double)p->n - 0.25; ys = 1; }
    else axis_range(ylo, yhi, &f.y0, &f.y1, &ys);
    lmc_buf_printf(b, "<g class=\"panel\">\n");
    axes(b, &f, p, xs, ys);

    lines_and_legend(b, &f, p);
    char s[512];
    double boxes[64][3]; /* placed labels: x, baseline y, width (an estimate: 6.2 px per character at 11 px) */
    size_t n_boxes = 0;
    for (size_t i = 0; i < p->n; i++) {
        const lmc_plot_point *q = &p->pts[i];
        double cx = px(&f, q->x), cy = py(&f, p->dot ? (double)i : q->y);
        if (isfinite(q->xlo) && isfinite(q->xhi)) {
            line(b, px(&f, q->xlo), cy, px(&f, q->xhi), cy, "ci");
            line(b, px(&f, q->xlo), cy - 4, px(&f, q->xlo), cy + 4, "ci");
            line(b, px(&f, q->xhi), cy - 4, px(&f, q->xhi), cy + 4, "ci");
        }
        const char *pub = q->ref ? " (published, not measured by lmc)" : "";
        if (q->ref)
            lmc_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" class=\"paper-point\"><title>",
                           cx - 4, cy - 4);
        else lmc_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" class=\"point\"><title>", cx, cy);
        if (p->dot) snprintf(s, sizeof s, "%s%s: BPC %.4f", q->label, pub, q->x);
        else snprintf(s, sizeof s, "%s%s: BPC %.4f, score %.4g", q->label, pub, q->x, q->y);
        lmc_xml_escape(b, s);
        lmc_buf_printf(b, "</title></%s>\n", q->ref ? "rect" : "circle");
        if (q->ref && p->dot) continue; /* too many rows for readable labels: the tooltip and the table name it */
        /* labels right of the point, or left of it in the right third so they stay inside the panel; a label
         * that would overlap one already placed tries below the point, then further out */
        int left = cx > f.ox + f.l + f.w * 0.66;
        double w = 6.2 * (double)strlen(q->label), x0 = left ? cx - 8 - w : cx + 8;
        static const double dy[] = {-7, 16, -20, 29, -33, 42};
        double y = cy - 7;
        for (int t = 0; t < 6; t++) {
            y = cy + dy[t];
            int hit = 0;
            for (size_t k = 0; k < n_boxes && !hit; k++)
                hit = x0 < boxes[k][0] + boxes[k][2] && boxes[k][0] < x0 + w && fabs(y - boxes[k][1]) < 12;
            if (!hit) break;
        }
        if (n_boxes < 64) {
            boxes[n_boxes][0] = x0;
            boxes[n_boxes][1] = y;
            boxes[n_boxes++][2] = w;
        }
        text(b, left ? x0 + w : x0, y, left ? "end" : "start", q->ref ? "plabel paper-label" : "plabel", q->label);
    }
    lmc_buf_printf(b, "</g>\n");
}

void lmc_svg_begin(lmc_buf *b, double w, double h, int standalone) {
    if (standalone) lmc_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    lmc_buf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                   "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"%s>\n"
                   "<style>\n"
                   ".area{fill:#fff;stroke:none}.grid{stroke:#e4e4e4;stroke-width:1}.axis{stroke:#333;stroke-width:1}\n"
                   ".tick{font-size:11px;fill:#333}.label{font-size:13px;fill:#111}.title{font-size:14px;"
                   "font-weight:bold;fill:#111}\n"
                   ".legend{font-size:11px;fill:#333}.plabel{font-size:11px;fill:#1a4f8b}\n"
                   ".point{fill:#1f6fc5;stroke:#0b3768;stroke-width:1}.ci{stroke:#1f6fc5;stroke-width:1.5}\n"
                   ".fit{stroke:#c0392b;stroke-width:2}.ref{stroke:#7d7d7d;stroke-width:1.5;stroke-dasharray:6 4}\n"
                   ".paper-point{fill:#fff;stroke:#a0522d;stroke-width:1.5}.paper-label{fill:#a0522d;font-style:italic}"
                   ".paper-legend{fill:#a0522d}\n"
                   "</style>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
                   w, h, w, h, standalone ? "" : " class=\"plot\"");
}

void lmc_svg_end(lmc_buf *b) { lmc_buf_printf(b, "</svg>\n"); }
