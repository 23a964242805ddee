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

const char *cli_indexed_path(char *buf, size_t cap, const char *path, size_t i, size_t n) {
    if (!path) return NULL;
    if (n > 1) snprintf(buf, cap, "%s.%zu", path, i);
    else snprintf(buf, cap, "%s", path);
    return buf;
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
