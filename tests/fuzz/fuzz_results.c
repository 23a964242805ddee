/* fuzz_results.c — a results file (docs/results.md) as `lmc report`, `lmc compare` and `lmc merge` read it, on
 * arbitrary bytes. Loading must fail with one line, or give a file that renders as Markdown, HTML and SVG and
 * compares with itself (a few bootstrap resamples, so that an input runs fast); merging it as the only part must
 * fail with one line or give a merged text. Nothing may crash, leak or hit undefined behaviour. */
#include "fuzz_common.h"
#include "lmc_tools.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    fz_scratch();
    return 0;
}

/* The report in each format and the paired comparison of the file with itself. */
static void render_all(const lmc_results *r) {
    lmc_report_opts o = {.resamples = 4, .seed = 1};
    lmc_report_format fmts[] = {LMC_REPORT_MD, LMC_REPORT_HTML, LMC_REPORT_SVG};
    for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++) {
        lmc_buf b = {0};
        lmc_err err = {{0}};
        if (lmc_report_render(r, 1, &o, fmts[i], &b, &err)) FZ_ASSERT(err.msg[0] && !strchr(err.msg, '\n'));
        lmc_buf_free(&b);
    }
    lmc_buf b = {0};
    lmc_err err = {{0}};
    if (lmc_compare_text(r, r, 4, 1, &b, &err)) FZ_ASSERT(err.msg[0] && !strchr(err.msg, '\n'));
    lmc_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("r.json", data, size);
    fz_path(path, sizeof path, "r.json");
    lmc_results r;
    lmc_err err = {{0}};
    if (lmc_results_load(path, &r, &err) == 0) {
        render_all(&r);
        lmc_results_free(&r);
    } else FZ_ASSERT(err.msg[0] && !strchr(err.msg, '\n'));
    const char *parts[] = {path};
    char *text = NULL;
    lmc_result *res = NULL;
    size_t n_res = 0;
    int bootstrap = 0;
    lmc_err merr = {{0}};
    if (lmc_merge(parts, 1, &text, &res, &n_res, &bootstrap, &merr) == 0) FZ_ASSERT(text != NULL);
    else FZ_ASSERT(merr.msg[0] && !strchr(merr.msg, '\n'));
    free(text);
    for (size_t i = 0; i < n_res; i++) lmc_result_free(&res[i]);
    free(res);
    return 0;
}
