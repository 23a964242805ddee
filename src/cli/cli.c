/* cli.c — what several subcommands print alike (cli.h). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_print_table(const lmc_result *r, size_t n) {
    printf("%-28s %6s %10s %9s %7s %9s %8s %8s %9s %8s %7s\n", "data", "docs", "chars", "tokens", "windows",
           "scored", "BPC", "BPB", "tok-PPL", "zlib-BPC", "seconds");
    for (size_t i = 0; i < n; i++) {
        char nb[64];
        const char *name = lmc_fit_path(r[i].data, 28, nb, sizeof nb);
        printf("%-28s %6zu %10zu %9zu %7zu %9zu %8.4f %8.4f %9.3f %8.4f %7.1f\n", name, r[i].docs, r[i].chars,
               r[i].tokens, r[i].windows, r[i].scored_tokens, r[i].bpc, r[i].bpb, r[i].token_ppl, r[i].zlib_bpc,
               r[i].seconds);
    }
}

int cli_window_stride(const cli_spec *s, long block_size, long *stride) {
    if (*stride <= 0) *stride = block_size < 512 ? block_size : 512;
    if (*stride > block_size)
        return cli_usage(s, "--stride %ld exceeds --block-size %ld: tokens between windows would never be scored",
                         *stride, block_size);
    return CLI_GO;
}

int cli_threads(long requested) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 0 && requested > cores)
        fprintf(stderr, "lmc: warning: --threads %ld is more than the %ld cores online; the run will be slower than "
                "with --threads %ld\n", requested, cores, cores);
    return lmc_threads_init((int)requested);
}

/* ---- one output path per --data file ------------------------------------------------------------------ */

/* path with every "{}" replaced by the data file's name, into buf (cap > 0); -1 when it does not fit (buf then
 * holds what fitted). */
static int expand(char *buf, size_t cap, const char *path, const char *data) {
    char name[256];
    lmc_corpus_name(data, name, sizeof name);
    size_t len = 0, nl = strlen(name);
    for (const char *p = path; *p; p++) {
        int brace = p[0] == '{' && p[1] == '}';
        size_t add = brace ? nl : 1;
        if (len + add >= cap) { buf[len] = 0; return -1; }
        memcpy(buf + len, brace ? name : p, add);
        len += add;
        p += brace;
    }
    buf[len] = 0;
    return 0;
}

const char *cli_data_path(char *buf, size_t cap, const char *path, const char *data) {
    if (!path) return NULL;
    if (expand(buf, cap, path, data)) snprintf(buf, cap, "%s", path); /* cli_check_data_path refused it */
    return buf;
}

/* Several data files, a path without {}: say how to name one file each, and how files an lmc before this rule
 * wrote (PATH.0, PATH.1, ... in --data order) resume under the new names. */
static int needs_template(const cli_spec *spec, const char *opt, const char *path, const cli_list *data) {
    lmc_buf b = {0}, tp = {0};
    lmc_buf_printf(&tp, "%s.{}", path);
    lmc_buf_printf(&b, "%s %s names one file for %d --data files: it needs {}, which each data file's name replaces "
                   "(%s %s gives", opt, path, data->n, opt, tp.p);
    char one[4200], old[4200];
    for (int i = 0; i < data->n && i < 3; i++) {
        expand(one, sizeof one, tp.p, data->v[i]);
        lmc_buf_printf(&b, "%s %s", i ? "," : "", one);
    }
    lmc_buf_printf(&b, "%s)", data->n > 3 ? ", ..." : "");
    int first = 1, ranks = 0;
    for (int i = 0; i < data->n; i++) {
        snprintf(old, sizeof old, "%s.%d", path, i);
        if (access(old, F_OK) || expand(one, sizeof one, tp.p, data->v[i])) continue;
        lmc_buf_printf(&b, "%s mv %s %s", first ? "; files an older lmc named by --data position resume under the new "
                                                  "names after" : ";", old, one);
        first = 0;
        snprintf(old, sizeof old, "%s.%d.r1", path, i);
        ranks |= access(old, F_OK) == 0;
    }
    if (ranks) lmc_buf_printf(&b, " (and their MPI rank files .r1, .r2, ... alike)");
    int rc = cli_usage(spec, "%s", b.p);
    lmc_buf_free(&b);
    lmc_buf_free(&tp);
    return rc;
}

int cli_check_data_path(const cli_spec *spec, const char *opt, const char *path, const cli_list *data) {
    if (!path) return CLI_GO;
    if (data->n > 1 && !strstr(path, "{}")) return needs_template(spec, opt, path, data);
    char (*name)[4200] = lmc_xcalloc((size_t)data->n + 1, sizeof *name);
    int rc = CLI_GO;
    for (int i = 0; rc == CLI_GO && i < data->n; i++) {
        if (expand(name[i], sizeof name[i], path, data->v[i]))
            rc = cli_usage(spec, "%s %s: the path for %s is too long", opt, path, data->v[i]);
        for (int j = 0; rc == CLI_GO && j < i; j++)
            if (!strcmp(name[i], name[j]))
                rc = cli_usage(spec, "%s %s: --data %s and %s both name %s (the {} is the file name without "
                               "directory and .jsonl/.gz/.txt): rename one", opt, path, data->v[j], data->v[i], name[i]);
    }
    free(name);
    return rc;
}

size_t cli_memory_limit(void) {
    const char *v = getenv("LMC_MEMORY_LIMIT");
    return v && *v ? (size_t)atof(v) : 0;
}

void cli_progress_show(cli_progress *p, const char *line, int final) {
    fprintf(stderr, "%s%s%s", p->tty ? "\r\033[K" : "", line, p->tty && !final ? "" : "\n");
    p->open_line = p->tty && !final;
    fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
    if (p->open_line) fputc('\n', stderr);
    p->open_line = 0;
}
