/* manifest.c — the pieces every manifest and output line needs: a file's sha256 (nettle), JSON string literals
 * of byte ranges (content may hold NUL), and the manifest's path beside the output. */
#include "corpus/corpus.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int corpus_sha256_file(const char *path, char hex[65], lmc_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return lmc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct sha256_ctx h;
    sha256_init(&h);
    uint8_t buf[1 << 16], d[SHA256_DIGEST_SIZE];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&h, got, buf);
    int bad = ferror(f);
    fclose(f);
    if (bad) return lmc_fail(err, "%s: read error", path);
    sha256_digest(&h, sizeof d, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

char *lmc_corpus_manifest_path(const char *out_path, char *buf, size_t cap) {
    size_t n = strlen(out_path);
    if (n > 6 && !strcmp(out_path + n - 6, ".jsonl")) n -= 6;
    snprintf(buf, cap, "%.*s.manifest.json", (int)n, out_path);
    return buf;
}

/* ---- a one-step command's manifest ---------------------------------------------------------------------- */

static int step_manifest_text(const step_manifest *m, lmc_buf *b, lmc_err *err) {
    lmc_buf_printf(b, "{\n  \"lmc_version\": \"%s\",\n  \"command\": \"%s\",\n  \"arguments\": ", LMC_VERSION, m->command);
    const char *args = m->arguments ? m->arguments : "";
    lmc_buf_json(b, args, strlen(args));
    if (m->seed >= 0) lmc_buf_printf(b, ",\n  \"seed\": %lld,\n  \"inputs\": [", m->seed);
    else lmc_buf_printf(b, ",\n  \"seed\": null,\n  \"inputs\": [");
    for (size_t i = 0; i < m->n_inputs; i++) {
        char hex[65];
        if (corpus_sha256_file(m->inputs[i], hex, err)) return -1;
        lmc_buf_printf(b, "%s\n    {\"path\": ", i ? "," : "");
        lmc_buf_json(b, m->inputs[i], strlen(m->inputs[i]));
        lmc_buf_printf(b, ", \"sha256\": \"%s\"}", hex);
    }
    lmc_buf_printf(b, "\n  ],\n  \"read\": {\"bad_records\": %zu, \"first_bad\": ", m->bad);
    lmc_buf_json(b, m->first_bad ? m->first_bad : "", m->first_bad ? strlen(m->first_bad) : 0);
    lmc_buf_printf(b, "},\n  \"filters\": [\n    {\"name\": \"%s\", \"params\": %s, \"docs_in\": %zu, \"docs_out\": %zu, "
                      "\"chars_in\": %zu, \"chars_out\": %zu}\n  ],\n  \"skipped\": [],\n  \"output\": {\"path\": ",
                   m->step, m->params, m->docs_in, m->docs_out, m->chars_in, m->chars_out);
    lmc_buf_json(b, m->out_path, strlen(m->out_path));
    lmc_buf_printf(b, ", \"documents\": %zu, \"chars\": %zu, \"bytes\": %zu}\n}\n", m->docs_out, m->chars_out, m->bytes_out);
    return 0;
}

int corpus_write_with_manifest(const step_manifest *m, const void *data, size_t len, lmc_err *err) {
    lmc_buf b = {0};
    char mpath[4200];
    lmc_corpus_manifest_path(m->out_path, mpath, sizeof mpath);
    int rc = step_manifest_text(m, &b, err);
    if (rc == 0) rc = lmc_write_file_atomic(mpath, b.p, b.len, err);
    lmc_buf_free(&b);
    if (rc == 0 && (rc = lmc_write_file_atomic(m->out_path, data, len, err))) unlink(mpath);
    return rc;
}

/* ---- a multi-step run's manifest ------------------------------------------------------------------------------ */

static int manifest_inputs(lmc_buf *b, const run_manifest *m, lmc_err *err) {
    lmc_buf_printf(b, "  \"inputs\": [");
    for (size_t i = 0; i < m->n_inputs; i++) {
        lmc_buf_printf(b, "%s\n    {\"path\": ", i ? "," : "");
        lmc_buf_json(b, m->inputs[i], strlen(m->inputs[i]));
        char hex[65];
        if (lmc_is_dir(m->inputs[i])) lmc_buf_printf(b, ", \"sha256\": null}");
        else if (corpus_sha256_file(m->inputs[i], hex, err)) return -1;
        else lmc_buf_printf(b, ", \"sha256\": \"%s\"}", hex);
    }
    lmc_buf_printf(b, "\n  ],\n");
    return 0;
}

static void manifest_rows(lmc_buf *b, const run_manifest *m) {
    lmc_buf_printf(b, "  \"filters\": [");
    int first = 1;
    for (size_t i = 0; i < m->n_rows; i++) {
        const filter_row *r = &m->rows[i];
        if (r->skipped) continue;
        lmc_buf_printf(b, "%s\n    {\"name\": \"%s\", \"params\": %s, \"docs_in\": %zu, \"docs_out\": %zu, "
                          "\"chars_in\": %zu, \"chars_out\": %zu}",
                       first ? "" : ",", r->name, r->params[0] ? r->params : "{}", r->docs_in, r->docs_out,
                       r->chars_in, r->chars_out);
        first = 0;
    }
    lmc_buf_printf(b, "\n  ],\n  \"skipped\": [");
    first = 1;
    for (size_t i = 0; i < m->n_rows; i++) {
        if (!m->rows[i].skipped) continue;
        lmc_buf_printf(b, "%s\n    {\"step\": \"%s\", \"reason\": ", first ? "" : ",", m->rows[i].name);
        lmc_buf_json(b, m->rows[i].reason, strlen(m->rows[i].reason));
        lmc_buf_printf(b, "}");
        first = 0;
    }
    lmc_buf_printf(b, "\n  ],\n");
}

int corpus_manifest_write(const run_manifest *m, lmc_err *err) {
    lmc_buf b = {0};
    lmc_buf_printf(&b, "{\n  \"lmc_version\": \"%s\",\n  \"command\": \"%s\",\n  \"arguments\": ", LMC_VERSION, m->command);
    const char *args = m->arguments ? m->arguments : "";
    lmc_buf_json(&b, args, strlen(args));
    if (m->seed >= 0) lmc_buf_printf(&b, ",\n  \"seed\": %lld,\n", m->seed);
    else lmc_buf_printf(&b, ",\n  \"seed\": null,\n");
    int rc = manifest_inputs(&b, m, err);
    if (rc == 0) {
        lmc_buf_printf(&b, "  \"read\": %s,\n", m->read_json);
        manifest_rows(&b, m);
        lmc_buf_printf(&b, "  \"output\": {\"path\": ");
        lmc_buf_json(&b, m->out_path, strlen(m->out_path));
        lmc_buf_printf(&b, ", \"subset\": \"%s\", \"documents\": %zu, \"chars\": %zu, \"bytes\": %zu}\n}\n", m->subset,
                       m->docs, m->chars, m->bytes);
        char mpath[4200];
        rc = lmc_write_file_atomic(lmc_corpus_manifest_path(m->out_path, mpath, sizeof mpath), b.p, b.len, err);
    }
    lmc_buf_free(&b);
    return rc;
}
