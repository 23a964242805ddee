/* convert.c — `lmc convert`: any checkpoint lmc reads → one self-describing .safetensors file (tools/convert.h). */
#include "cli/cli.h"

#include <stddef.h>
#include <stdio.h>

typedef struct convert_args {
    const char *output, *tokenizer;
    int         dtype; /* index into DTYPES, -1: keep each tensor's */
    int         quiet;
    cli_list    src;
} convert_args;

#define F(x) offsetof(convert_args, x)
static const cli_opt OPTS[] = {
    CLI_OUTPUT(F(output), "OUT.safetensors", "the file to write (atomically)"),
    {"--dtype", NULL, CLI_CHOICE, "f32|bf16|f16", 0, 0, F(dtype),
     "convert every tensor to this dtype (default: each keeps its own; a GGUF's quantized tensors become f32)"},
    {"--tokenizer", NULL, CLI_STR, "TOK", 0, 0, F(tokenizer),
     "the tokenizer to embed: a HF directory, tokenizer.json or llama2.c .bin (for a llama2.c .bin or a GGUF "
     "source)"},
    CLI_QUIET(F(quiet), "no \"wrote OUT\" line on stderr"),
    {0}};
#undef F

const cli_spec convert_spec = {
    "convert", "any checkpoint lmc reads → one self-describing .safetensors file",
    "lmc convert SRC -o OUT.safetensors [--dtype f32|bf16|f16] [--tokenizer TOK]",
    "SRC: a HF checkpoint directory, a llama2.c .bin checkpoint (tokenizer.bin/tok*.bin beside it, or "
    "--tokenizer), a converted file, or a GGUF file. Writes one file with the config and tokenizer inside.",
    OPTS, offsetof(convert_args, src), 1, 1, "SRC"};

static const char *const DTYPES[] = {"f32", "bf16", "f16"}; /* in the order of --dtype's choices */

int cmd_convert(int argc, char **argv) {
    convert_args a = {.dtype = -1};
    int rc = cli_parse(&convert_spec, argc, argv, &a);
    if (rc == CLI_GO && !a.output) rc = cli_usage(&convert_spec, "convert needs -o OUT.safetensors");
    lmc_err err = {{0}};
    if (rc == CLI_GO && lmc_convert_check_output(a.output, &err)) rc = cli_usage(&convert_spec, "%s", err.msg);
    if (rc != CLI_GO) { cli_free(&convert_spec, &a); return rc; }
    const char *ins[] = {a.src.v[0], a.tokenizer};
    lmc_outputs *held = NULL;
    if (lmc_outputs_check(&a.output, 1, ins, 2, &err) || lmc_outputs_lock(&a.output, 1, &held, &err)) {
        cli_free(&convert_spec, &a);
        return cli_fail(err.msg);
    }
    int dtype = a.dtype < 0 ? LMC_CONVERT_KEEP_DTYPE : lmc_convert_dtype(DTYPES[a.dtype]);
    rc = lmc_convert(a.src.v[0], a.output, dtype, a.tokenizer, &err);
    lmc_outputs_unlock(held);
    cli_free(&convert_spec, &a);
    if (rc) return cli_fail(err.msg);
    if (!a.quiet) fprintf(stderr, "wrote %s\n", a.output);
    return 0;
}
