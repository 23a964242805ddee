/* tokenize.c — `lmc tokenize`: a file's token ids as the model's tokenizer gives them. */
#include "cli/cli.h"
#include "common/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct tokenize_args {
    const char *model;
    int         no_special;
    cli_list    file;
} tokenize_args;

static const cli_opt OPTS[] = {
    {"--model", "-m", CLI_STR, "MODEL", 0, 0, offsetof(tokenize_args, model),
     "a model (its tokenizer is used) or a directory holding only tokenizer files"},
    {"--no-special", NULL, CLI_FLAG, "", 0, 0, offsetof(tokenize_args, no_special), "omit BOS"},
    {0}};

const cli_spec tokenize_spec = {
    "tokenize", "print a file's token ids",
    "lmc tokenize --model MODEL FILE [--no-special]",
    "Prints FILE's token ids (the whole file as one document) separated by spaces.",
    OPTS, offsetof(tokenize_args, file), 1, 1, "FILE"};

/* The ids of the file's text: 0, or -1 with err naming the file. */
static int tokenize_file(const tokenize_args *a, int32_t **ids, size_t *n, lmc_err *err) {
    lmc_tokenizer *tok;
    if (lmc_tokenizer_open(a->model, &tok, err)) return -1;
    char *text;
    size_t len;
    if (lmc_read_file(a->file.v[0], &text, &len, err)) { lmc_tokenizer_free(tok); return -1; }
    int rc = lmc_tokenize(tok, text, len, !a->no_special, ids, n, err);
    free(text);
    lmc_tokenizer_free(tok);
    if (rc) {
        lmc_err inner = *err;
        return lmc_fail(err, "%s: %s", a->file.v[0], inner.msg);
    }
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    tokenize_args a = {0};
    int rc = cli_parse(&tokenize_spec, argc, argv, &a);
    if (rc == CLI_GO && !a.model) rc = cli_usage(&tokenize_spec, "tokenize needs --model");
    if (rc != CLI_GO) { cli_free(&tokenize_spec, &a); return rc; }
    lmc_err err = {{0}};
    int32_t *ids;
    size_t n;
    rc = tokenize_file(&a, &ids, &n, &err);
    cli_free(&tokenize_spec, &a);
    if (rc) return cli_fail(err.msg);
    lmc_buf b = {0};
    for (size_t i = 0; i < n; i++) lmc_buf_printf(&b, i ? " %d" : "%d", ids[i]);
    printf("%s\n", b.p ? b.p : "");
    lmc_buf_free(&b);
    free(ids);
    return 0;
}
