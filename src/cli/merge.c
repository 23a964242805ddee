/* merge.c — `lmc merge`: the partial results of `lmc eval --shard I/N` combined into the result one run writes,
 * bit-identical (src/eval/merge.h). */
#include "cli/cli.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct merge_args {
    const char *output;
    cli_list    parts;
} merge_args;

static const cli_opt OPTS[] = {
    CLI_JSON_OUTPUT(offsetof(merge_args, output), "the merged results file (written atomically)"),
    {0}};

const cli_spec merge_spec = {
    "merge", "combine the partial results of `lmc eval --shard I/N` into one run's result",
    "lmc merge PART.json [PART.json ...] --json OUT.json",
    "Every shard exactly once, all of the same model, data and settings; the result is bit-identical to what a "
    "single run writes, and its table is printed.",
    OPTS, offsetof(merge_args, parts), 1, -1, "PART.json"};

/* The table and the interval lines, as `lmc eval` prints them for a whole run; a note for each result whose parts
 * had no split by document (written by an older lmc). */
static int print_merged(const lmc_result *res, size_t n, int bootstrap, lmc_err *err) {
    cli_print_table(res, n);
    lmc_buf ib = {0};
    int rc = lmc_intervals_text(&ib, res, n, bootstrap, err);
    if (rc == 0 && ib.len) fputs(ib.p, stdout);
    lmc_buf_free(&ib);
    for (size_t i = 0; i < n; i++)
        if (!res[i].doc_stats)
            fprintf(stderr, "lmc: note: %s: the parts hold no per-document NLLs (written by an older lmc): the merged "
                            "result has no doc_stats, which lmc report and compare need; rerun the shards with this "
                            "lmc\n", res[i].data);
    return rc;
}

int cmd_merge(int argc, char **argv) {
    merge_args a = {0};
    int rc = cli_parse(&merge_spec, argc, argv, &a);
    if (rc == CLI_GO && !a.output) rc = cli_usage(&merge_spec, "merge needs --json OUT.json");
    if (rc != CLI_GO) { cli_free(&merge_spec, &a); return rc; }
    lmc_err err = {{0}};
    char *text;
    lmc_result *res;
    size_t n_res;
    int bootstrap;
    lmc_outputs *held = NULL;
    rc = lmc_outputs_check(&a.output, 1, a.parts.v, (size_t)a.parts.n, &err) ||
         lmc_outputs_lock(&a.output, 1, &held, &err) ||
         lmc_merge(a.parts.v, (size_t)a.parts.n, &text, &res, &n_res, &bootstrap, &err);
    cli_free(&merge_spec, &a);
    if (rc) { lmc_outputs_unlock(held); return cli_fail(err.msg); }
    lmc_buf b = {0};
    lmc_buf_printf(&b, "%s\n", text);
    free(text);
    rc = lmc_write_file_atomic(a.output, b.p, b.len, &err);
    lmc_buf_free(&b);
    lmc_outputs_unlock(held);
    if (rc == 0) rc = print_merged(res, n_res, bootstrap, &err);
    for (size_t i = 0; i < n_res; i++) lmc_result_free(&res[i]);
    free(res);
    return rc ? cli_fail(err.msg) : 0;
}
