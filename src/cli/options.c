/* options.c — the table-driven option parser and the help it prints (options.h). */
#include "cli/options.h"
#include "lmc.h"
#include "lmc_tools.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------------------------ */

static void usage_tail(const cli_spec *s) {
    fprintf(stderr, " (usage: %s; see lmc %s --help)\n", s->usage, s->name);
}

int cli_usage(const cli_spec *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("lmc: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    usage_tail(s);
    return 2;
}

int cli_fail(const char *msg) {
    fprintf(stderr, "lmc: %s\n", msg);
    return 1;
}

/* ---- matching a word of argv against an option --------------------------------------------------- */

/* Whether arg spells `word` exactly, or as "word=VALUE" (then *inline_value points at VALUE). */
static int spells(const char *arg, const char *word, size_t n, const char **inline_value) {
    if (strncmp(arg, word, n)) return 0;
    if (arg[n] == '\0') return 1;
    if (arg[n] == '=') { *inline_value = arg + n + 1; return 1; }
    return 0;
}

/* Whether arg is this option under its name or one of its aliases. */
static int matches(const cli_opt *o, const char *arg, const char **inline_value) {
    *inline_value = NULL;
    if (spells(arg, o->name, strlen(o->name), inline_value)) return 1;
    for (const char *a = o->alias; a && *a;) {
        size_t n = strcspn(a, " ");
        if (n && spells(arg, a, n, inline_value)) return 1;
        a += n;
        a += strspn(a, " ");
    }
    return 0;
}

static const cli_opt *find_opt(const cli_spec *s, const char *arg, const char **inline_value) {
    for (const cli_opt *o = s->opts; o->name; o++)
        if (matches(o, arg, inline_value)) return o;
    return NULL;
}

/* ---- values ------------------------------------------------------------------------------------ */

static void list_push(cli_list *l, const char *v, int cap) {
    if (!l->v) l->v = lmc_xcalloc((size_t)cap, sizeof *l->v);
    l->v[l->n++] = v;
}

/* The index of v among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v) {
    int i = 0;
    for (const char *c = choices; *c; i++) {
        size_t n = strcspn(c, "|");
        if (strlen(v) == n && !strncmp(c, v, n)) return i;
        c += n;
        if (*c == '|') c++;
    }
    return -1;
}

/* "a, b or c" from "a|b|c". */
static void choices_text(char *out, size_t cap, const char *choices) {
    size_t pos = 0, total = 1;
    for (const char *c = choices; *c; c++) total += *c == '|';
    size_t k = 0;
    for (const char *c = choices; *c && pos + 8 < cap; k++) {
        size_t n = strcspn(c, "|");
        const char *sep = k == 0 ? "" : k + 1 == total ? " or " : ", ";
        pos += (size_t)snprintf(out + pos, cap - pos, "%s%.*s", sep, (int)n, c);
        c += n;
        if (*c == '|') c++;
    }
}

/* Writes v into the option's field; 0, or 2 after printing the usage error (flag: the spelling typed). */
static int set_value(const cli_spec *s, const cli_opt *o, const char *flag, const char *v, void *args, int argc) {
    char *field = (char *)args + o->field, *end;
    errno = 0;
    switch (o->kind) {
    case CLI_FLAG: *(int *)field = 1; return 0;
    case CLI_STR: *(const char **)field = v; return 0;
    case CLI_LIST: {
        cli_list *l = (cli_list *)field;
        if (o->hi > 0 && l->n >= o->hi) return cli_usage(s, "too many %s (at most %ld)", o->name, o->hi);
        list_push(l, v, argc);
        return 0;
    }
    case CLI_INT: {
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno == ERANGE || x < o->lo || x > o->hi)
            return cli_usage(s, "%s must be %ld..%ld, not '%s'", flag, o->lo, o->hi, v);
        *(long *)field = x;
        return 0;
    }
    case CLI_REAL: {
        double x = strtod(v, &end);
        if (!*v || *end || errno == ERANGE || !(x >= (double)o->lo && x <= (double)o->hi)) /* !(..): NaN too */
            return cli_usage(s, "%s must be a number in %ld..%ld, not '%s'", flag, o->lo, o->hi, v);
        *(double *)field = x;
        return 0;
    }
    case CLI_CHOICE:
    case CLI_COMPUTE: {
        const char *choices = o->kind == CLI_CHOICE ? o->arg : COMPUTE_CHOICES;
        int i = choice_index(choices, v);
        char text[128];
        choices_text(text, sizeof text, choices);
        if (i < 0) return cli_usage(s, "%s must be %s, not '%s'", flag, text, v);
        if (o->kind == CLI_CHOICE) *(int *)field = i;
        else {
            lmc_compute c;
            if (lmc_compute_parse(v, &c)) return cli_usage(s, "%s must be %s, not '%s'", flag, text, v);
            *(int *)field = (int)c;
        }
        return 0;
    }
    }
    return 0;
}

/* ---- the parser -------------------------------------------------------------------------------- */

static int is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

/* One option word at argv[*i] (advancing *i past its value): 0, or the usage exit status. */
static int parse_option(const cli_spec *s, int argc, char **argv, int *i, void *args) {
    const char *arg = argv[*i], *v;
    const cli_opt *o = find_opt(s, arg, &v);
    if (!o) return cli_usage(s, "unknown option '%s' for %s", arg, s->name);
    char flag[64];
    size_t n = v ? (size_t)(v - 1 - arg) : strlen(arg);
    snprintf(flag, sizeof flag, "%.*s", (int)n, arg);
    if (o->kind == CLI_FLAG) {
        if (v) return cli_usage(s, "%s takes no value, not '%s'", flag, v);
        return set_value(s, o, flag, NULL, args, argc);
    }
    if (!v) {
        if (*i + 1 >= argc) return cli_usage(s, "%s needs a value", flag);
        v = argv[++*i];
    }
    return set_value(s, o, flag, v, args, argc);
}

int cli_parse(const cli_spec *s, int argc, char **argv, void *args) {
    cli_list *pos = (cli_list *)((char *)args + s->pos);
    for (int i = 2; i < argc; i++)
        if (is_help(argv[i])) { cli_print_help(s); return 0; }
    int only_positional = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!only_positional && !strcmp(a, "--")) { only_positional = 1; continue; }
        if (!only_positional && a[0] == '-' && a[1]) {
            int rc = parse_option(s, argc, argv, &i, args);
            if (rc) return rc;
            continue;
        }
        if (s->pos_max == 0 || (s->pos_max > 0 && pos->n >= s->pos_max))
            return cli_usage(s, "unexpected argument '%s'", a);
        list_push(pos, a, argc);
    }
    if (pos->n < s->pos_min) return cli_usage(s, "missing %s", s->pos_name);
    return CLI_GO;
}

void cli_free(const cli_spec *s, void *args) {
    if (s->pos_max) free(((cli_list *)((char *)args + s->pos))->v);
    for (const cli_opt *o = s->opts; o->name; o++)
        if (o->kind == CLI_LIST) free(((cli_list *)((char *)args + o->field))->v);
}

/* ---- help -------------------------------------------------------------------------------------- */

/* "-w, --block-size W": the short alias, the name, the value; *rest: the long aliases ("--window ..."). */
static void option_label(const cli_opt *o, char *out, size_t cap, const char **rest) {
    const char *a = o->alias ? o->alias : "";
    size_t short_n = a[0] == '-' && a[1] != '-' ? strcspn(a, " ") : 0;
    *rest = a + short_n + strspn(a + short_n, " ");
    const char *arg = o->kind == CLI_FLAG ? "" : o->kind == CLI_COMPUTE ? COMPUTE_CHOICES : o->arg;
    snprintf(out, cap, "%.*s%s%s%s%s", (int)short_n, a, short_n ? ", " : "", o->name, *arg ? " " : "", arg);
}

/* Prints text wrapped to `width` columns, every line but the first indented by `indent` spaces (the first
 * starts at column `col`). */
static void print_wrapped(const char *text, int col, int indent, int width) {
    while (*text) {
        if (*text == '\n') { printf("\n%*s", indent, ""); col = indent; text++; continue; }
        size_t n = strcspn(text, " \n");
        if (col > indent && col + 1 + (int)n > width) { printf("\n%*s", indent, ""); col = indent; }
        else if (col > indent) { putchar(' '); col++; }
        printf("%.*s", (int)n, text);
        col += (int)n;
        text += n;
        text += strspn(text, " ");
    }
    putchar('\n');
}

void cli_print_help(const cli_spec *s) {
    printf("usage: %s\n\n", s->usage);
    print_wrapped(s->about, 0, 0, 100);
    printf("\noptions:\n");
    for (const cli_opt *o = s->opts; o->name; o++) {
        char label[96];
        const char *rest;
        option_label(o, label, sizeof label, &rest);
        char help[1024];
        if (*rest) snprintf(help, sizeof help, "%s (also: %s)", o->help, rest);
        else snprintf(help, sizeof help, "%s", o->help);
        int col = printf("  %-24s", label);
        if (col > 26) { printf("\n%26s", ""); col = 26; }
        print_wrapped(help, col, 26, 110);
    }
    printf("  %-24s%s\n", "-h, --help", "this help");
}

/* Markdown table cells must not hold a bare '|' or newline. */
static void md_cell(const char *t) {
    for (; *t; t++) {
        if (*t == '|') fputs("\\|", stdout);
        else if (*t == '\n') fputs("<br>", stdout);
        else putchar(*t);
    }
}

void cli_print_markdown_at(const cli_spec *s, int level) {
    printf("%.*s lmc %s\n\n%s\n\n```\n%s\n```\n\n", level, "####", s->name, s->summary, s->usage);
    for (const char *p = s->about; *p; p++) fputs(*p == '\n' ? "\n\n" : (char[2]){*p, 0}, stdout);
    printf("\n\n| option | value | also | what it does |\n|---|---|---|---|\n");
    for (const cli_opt *o = s->opts; o->name; o++) {
        char label[96];
        const char *rest;
        option_label(o, label, sizeof label, &rest);
        const char *arg = o->kind == CLI_FLAG ? "" : o->kind == CLI_COMPUTE ? COMPUTE_CHOICES : o->arg;
        printf("| `%.*s` | ", (int)(strlen(label) - (*arg ? strlen(arg) + 1 : 0)), label);
        if (*arg) { putchar('`'); md_cell(arg); putchar('`'); }
        printf(" | ");
        if (*rest) printf("`%s`", rest);
        printf(" | ");
        md_cell(o->help);
        printf(" |\n");
    }
    printf("| `-h, --help` |  |  | this help |\n\n");
}

void cli_print_markdown(const cli_spec *s) { cli_print_markdown_at(s, 2); }
