/* lid.c — language id with the fastText program (Debian `fasttext`) as a subprocess: the texts go to a temporary
 * file, one per line, `fasttext predict-prob MODEL FILE 1` writes one "__label__xx 0.97" line per text. */
#include "corpus/corpus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int corpus_program_found(const char *program) {
    if (strchr(program, '/')) return access(program, X_OK) == 0;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        char full[4096];
        snprintf(full, sizeof full, "%.*s/%s", (int)n, p, program);
        if (n && access(full, X_OK) == 0) return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* A temporary file made from template (…XXXXXX), open for writing. */
static FILE *temp_file(char *template, lmc_err *err) {
    int fd = mkstemp(template);
    if (fd < 0) { lmc_fail(err, "%s: cannot create a temporary file: %s", template, strerror(errno)); return NULL; }
    return fdopen(fd, "w");
}

/* Runs argv with stdout into out_path and stderr into err_path; the exit status, or -1 when it could not run. */
static int run_program(char *const argv[], const char *out_path, const char *err_path) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_TRUNC), e = open(err_path, O_WRONLY | O_TRUNC);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Reads the predictions: one "__label__X score" line per text. */
static int read_predictions(const char *path, const char *program, size_t n, char (*labels)[16], double *scores,
                            lmc_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return lmc_fail(err, "%s: cannot read its output", program);
    char line[256];
    size_t i = 0;
    for (; i < n && fgets(line, sizeof line, f); i++) {
        char label[64];
        if (sscanf(line, "__label__%63s %lf", label, &scores[i]) != 2) break;
        snprintf(labels[i], 16, "%.15s", label);
    }
    fclose(f);
    if (i < n) return lmc_fail(err, "%s: %zu predictions for %zu texts (unexpected output)", program, i, n);
    return 0;
}

int corpus_lid(const char *program, const char *model, const char *const *texts, size_t n, char (*labels)[16],
               double *scores, lmc_err *err) {
    if (n == 0) return 0;
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char in[4096], out[4096], errp[4096];
    snprintf(in, sizeof in, "%s/lmc_lid_in_XXXXXX", dir);
    snprintf(out, sizeof out, "%s/lmc_lid_out_XXXXXX", dir);
    snprintf(errp, sizeof errp, "%s/lmc_lid_err_XXXXXX", dir);
    FILE *fi = temp_file(in, err), *fo = fi ? temp_file(out, err) : NULL, *fe = fo ? temp_file(errp, err) : NULL;
    int rc = fi && fo && fe ? 0 : -1;
    if (fo) fclose(fo);
    if (fe) fclose(fe);
    for (size_t i = 0; rc == 0 && i < n; i++) fprintf(fi, "%s\n", texts[i]);
    if (fi && fclose(fi) != 0 && rc == 0) rc = lmc_fail(err, "%s: write failed", in);
    if (rc == 0) {
        char *argv[] = {(char *)program, "predict-prob", (char *)model, in, "1", NULL};
        int st = run_program(argv, out, errp);
        if (st != 0) {
            char msg[200] = "";
            FILE *f = fopen(errp, "r");
            if (f) { if (!fgets(msg, sizeof msg, f)) msg[0] = 0; fclose(f); }
            msg[strcspn(msg, "\r\n")] = 0;
            rc = lmc_fail(err, "%s: %s (exit status %d)%s%s", program, st < 0 || st == 127 ? "cannot run" : "failed",
                          st, msg[0] ? ": " : "", msg);
        } else rc = read_predictions(out, program, n, labels, scores, err);
    }
    if (fi) unlink(in);
    if (fo) unlink(out);
    if (fe) unlink(errp);
    return rc;
}
