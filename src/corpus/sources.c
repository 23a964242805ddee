/* sources.c — the files `lmc corpus code` reads: a git repository (libgit2: the tree of its last commit before
 * --created-before, dated by its first commit), a plain directory, or a tarball such as `git archive` writes
 * (libarchive: dated by its entries' modification time, which git archive sets to the commit's time; the
 * commit id from git archive's pax global header). Files
 * whose name does not end in ".py" are counted and not read; files over 1 MiB are counted and not read. */
#include "corpus/corpus.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_FILE (1 << 20)

static int is_py(const char *path) {
    size_t n = strlen(path);
    return n > 3 && !strcmp(path + n - 3, ".py");
}

/* Adds one file (text: malloc'ed bytes, taken over; NULL for one over 1 MiB, or unreadable when len is 0). */
static void add_file(code_set *s, size_t repo, const char *path, char *text, size_t len) {
    if (s->n == s->cap) s->files = lmc_xrealloc(s->files, (s->cap = s->cap ? 2 * s->cap : 256) * sizeof *s->files);
    code_file *f = &s->files[s->n++];
    memset(f, 0, sizeof *f);
    f->repo = repo, f->path = lmc_xstrdup(path), f->text = text, f->len = len;
    size_t bad;
    if (!text) f->status = len > MAX_FILE ? CODE_TOO_BIG : CODE_UNREADABLE;
    else if (!lmc_utf8_validate(text, len, &f->chars, &bad)) f->status = CODE_NOT_UTF8;
}

static void utc_day(long long t, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A file of len bytes (at most 1 MiB), or NULL when it cannot be read whole. */
static char *read_small(const char *path, size_t len) {
    FILE *f = fopen(path, "rb");
    char *p = f ? malloc(len + 1) : NULL;
    if (p && fread(p, 1, len, f) != len) { free(p); p = NULL; }
    if (f) fclose(f);
    if (p) p[len] = 0;
    return p;
}

/* ---- plain directories ----------------------------------------------------------------------------------- */

static void walk_dir(code_set *s, size_t repo, const char *root, const char *rel) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort); /* sorted: the same order on every file system */
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char sub[4200], full[8500];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (strcmp(name, ".") && strcmp(name, "..") && strcmp(name, ".git") && lstat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) walk_dir(s, repo, root, sub);
            else if (S_ISREG(st.st_mode) && !is_py(name)) s->non_py++;
            else if (S_ISREG(st.st_mode)) {
                size_t len = (size_t)st.st_size;
                char *text = len <= MAX_FILE ? read_small(full, len) : NULL;
                add_file(s, repo, sub, text, text || len > MAX_FILE ? len : 0);
            }
        }
        free(names[i]);
    }
    free(names);
}

/* ---- tarballs ---------------------------------------------------------------------------------------------- */

/* The files of an opened tar (path: its name, for messages). */
static void read_tar_archive(code_set *s, size_t repo, struct archive *a, const char *path) {
    code_repo *r = &s->repos[repo];
    struct archive_entry *e;
    long long newest = -1;
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        const char *name = archive_entry_pathname(e);
        if (archive_entry_mtime(e) > newest) newest = archive_entry_mtime(e);
        if (!name || !is_py(name)) { s->non_py++; continue; }
        la_int64_t size = archive_entry_size(e);
        char *text = size >= 0 && size <= MAX_FILE ? malloc((size_t)size + 1) : NULL;
        if (text && archive_read_data(a, text, (size_t)size) != (la_ssize_t)size) {
            snprintf(r->problem, sizeof r->problem, "%s: %s: %s", path, name, archive_error_string(a));
            free(text);
            break;
        }
        if (text) text[size] = 0;
        add_file(s, repo, name, text, (size_t)(size < 0 ? 0 : size));
    }
    if (rc == ARCHIVE_FATAL && !r->problem[0])
        snprintf(r->problem, sizeof r->problem, "%s: %s", path, archive_error_string(a));
    if (newest >= 0) {
        utc_day(newest, r->created, sizeof r->created);
        snprintf(r->date_source, sizeof r->date_source, "tar-mtime");
    }
}

static struct archive *tar_reader(void) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    return a;
}

/* git archive's pax global header: the tar's first block has typeflag 'g' and its data holds records
 * "LEN key=value\n", one of them "comment=<commit id>" (the commit archived). libarchive reads that header but
 * does not hand it out, so the first blocks of the (decompressed) stream are read here. */
static void pax_commit(const unsigned char *b, size_t n, char *commit, size_t cap) {
    if (n < 512 || b[156] != 'g') return;
    size_t size = 0;
    for (int i = 124; i < 136 && b[i] >= '0' && b[i] <= '7'; i++) size = size * 8 + (size_t)(b[i] - '0');
    const char *d = (const char *)b + 512;
    size_t end = size < n - 512 ? size : n - 512;
    for (size_t pos = 0; pos < end;) {
        size_t len = 0, k = pos;
        while (k < end && d[k] >= '0' && d[k] <= '9' && k - pos < 10) len = len * 10 + (size_t)(d[k++] - '0');
        if (k == pos || k >= end || d[k] != ' ' || len <= k - pos || len > end - pos) return;
        const char *kv = d + k + 1;
        size_t kv_n = pos + len - (k + 1); /* key=value\n */
        if (kv_n >= 8 + 41 && !memcmp(kv, "comment=", 8) && kv[kv_n - 1] == '\n' && kv_n - 9 < cap) {
            size_t hex = 0;
            while (hex < kv_n - 9 && strchr("0123456789abcdef", kv[8 + hex]) && kv[8 + hex]) hex++;
            if (hex == kv_n - 9 && (hex == 40 || hex == 64)) snprintf(commit, cap, "%.*s", (int)hex, kv + 8);
        }
        pos += len;
    }
}

/* The commit id of a git archive tarball (opened by open_fn on a raw reader), or "" for another tar. */
static void tar_commit(struct archive *raw, int opened, char *commit, size_t cap) {
    unsigned char head[512 + 4096];
    struct archive_entry *e;
    size_t n = 0;
    la_ssize_t got = 0;
    if (opened && archive_read_next_header(raw, &e) == ARCHIVE_OK)
        while (n < sizeof head && (got = archive_read_data(raw, head + n, sizeof head - n)) > 0) n += (size_t)got;
    pax_commit(head, n, commit, cap);
    archive_read_free(raw);
}

static struct archive *raw_reader(void) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    return a;
}

static void read_tar(code_set *s, size_t repo, const char *path) {
    struct archive *a = tar_reader();
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK)
        snprintf(s->repos[repo].problem, sizeof s->repos[repo].problem, "%s: %s", path, archive_error_string(a));
    else read_tar_archive(s, repo, a, path);
    archive_read_free(a);
    struct archive *raw = raw_reader();
    tar_commit(raw, archive_read_open_filename(raw, path, 1 << 16) == ARCHIVE_OK, s->repos[repo].commit,
               sizeof s->repos[repo].commit);
}

void code_tar_read_memory(const void *data, size_t n, code_set *s) {
    memset(s, 0, sizeof *s);
    s->repos = lmc_xcalloc(1, sizeof *s->repos);
    s->n_repos = 1;
    struct archive *a = tar_reader();
    if (archive_read_open_memory(a, data, n) == ARCHIVE_OK) read_tar_archive(s, 0, a, "memory");
    archive_read_free(a);
    struct archive *raw = raw_reader();
    tar_commit(raw, archive_read_open_memory(raw, data, n) == ARCHIVE_OK, s->repos[0].commit, sizeof s->repos[0].commit);
}

/* ---- git repositories -------------------------------------------------------------------------------------- */

/* The first commit's time and the newest commit before `before` (NULL: HEAD). */
static int pick_commits(git_repository *g, const char *before, git_oid *tip, long long *first, lmc_err *err,
                        const char *path) {
    git_revwalk *w;
    if (git_revwalk_new(&w, g) || git_revwalk_push_head(w)) return lmc_fail(err, "%s: no HEAD commit", path);
    git_revwalk_sorting(w, GIT_SORT_TIME);
    git_oid oid;
    int found = 0;
    *first = -1;
    while (!git_revwalk_next(&oid, w)) {
        git_commit *c;
        if (git_commit_lookup(&c, g, &oid)) continue;
        long long t = (long long)git_commit_time(c);
        char day[32];
        utc_day(t, day, sizeof day);
        if (!found && (!before || strncmp(day, before, 10) < 0)) *tip = oid, found = 1;
        if (*first < 0 || t < *first) *first = t;
        git_commit_free(c);
    }
    git_revwalk_free(w);
    return found ? 0 : 1; /* 1: no commit before the day */
}

typedef struct tree_ctx {
    code_set       *s;
    size_t          repo;
    git_repository *g;
} tree_ctx;

static int tree_file(const char *root, const git_tree_entry *e, void *user) {
    tree_ctx *c = user;
    if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) return 0;
    const char *name = git_tree_entry_name(e);
    if (!is_py(name)) { c->s->non_py++; return 0; }
    git_blob *b;
    if (git_blob_lookup(&b, c->g, git_tree_entry_id(e))) return 0;
    size_t len = (size_t)git_blob_rawsize(b);
    char *text = len <= MAX_FILE ? malloc(len + 1) : NULL, path[4200];
    if (text) memcpy(text, git_blob_rawcontent(b), len), text[len] = 0;
    snprintf(path, sizeof path, "%s%s", root, name);
    add_file(c->s, c->repo, path, text, len);
    git_blob_free(b);
    return 0;
}

static int read_git(code_set *s, size_t repo, const char *path, const char *before, lmc_err *err) {
    code_repo *r = &s->repos[repo];
    git_repository *g;
    if (git_repository_open(&g, path)) return lmc_fail(err, "%s: not a git repository: %s", path, git_error_last()->message);
    git_oid tip;
    long long first = -1;
    int rc = pick_commits(g, before, &tip, &first, err, path);
    if (rc == 1) snprintf(r->problem, sizeof r->problem, "%s: no commit before %s", path, before);
    git_commit *c = NULL;
    git_tree *t = NULL;
    if (rc == 0 && !git_commit_lookup(&c, g, &tip) && !git_commit_tree(&t, c)) {
        tree_ctx ctx = {s, repo, g};
        git_tree_walk(t, GIT_TREEWALK_PRE, tree_file, &ctx);
        git_oid_tostr(r->commit, sizeof r->commit, &tip);
    }
    if (first >= 0) utc_day(first, r->created, sizeof r->created), snprintf(r->date_source, sizeof r->date_source, "first-commit");
    git_tree_free(t);
    git_commit_free(c);
    git_repository_free(g);
    return rc < 0 ? -1 : 0;
}

/* ---- the inputs -------------------------------------------------------------------------------------------- */

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* The repository's name: the base name without a trailing '/' or a tarball's extension. */
static void repo_name(const char *path, char *out, size_t cap) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    snprintf(out, cap, "%.*s", (int)(n - b), path + b);
    static const char *const EXT[] = {".tar.gz", ".tgz", ".tar.xz", ".tar"};
    for (int i = 0; i < 4; i++)
        if (has_suffix(out, EXT[i])) { out[strlen(out) - strlen(EXT[i])] = 0; break; }
}

int code_sources_read(const char *const *inputs, size_t n, const char *before, code_set *s,
                      lmc_corpus_progress_fn progress, void *user, lmc_err *err) {
    memset(s, 0, sizeof *s);
    s->repos = lmc_xcalloc(n ? n : 1, sizeof *s->repos);
    s->n_repos = n;
    git_libgit2_init();
    int rc = 0;
    size_t counted = 0; /* files whose bytes are in text */
    uint64_t text = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct stat st, gst;
        char git_dir[4200];
        repo_name(inputs[i], s->repos[i].name, sizeof s->repos[i].name);
        if (stat(inputs[i], &st) != 0) rc = lmc_fail(err, "%s: cannot open: %s", inputs[i], strerror(errno));
        else if (S_ISDIR(st.st_mode) && (snprintf(git_dir, sizeof git_dir, "%s/.git", inputs[i]), stat(git_dir, &gst) == 0))
            rc = read_git(s, i, inputs[i], before, err);
        else if (S_ISDIR(st.st_mode)) walk_dir(s, i, inputs[i], "");
        else read_tar(s, i, inputs[i]);
        for (; counted < s->n; counted++) text += s->files[counted].len;
        corpus_report(progress, user, "reading", "inputs", i + 1, n, text);
    }
    git_libgit2_shutdown();
    return rc;
}

void code_set_free(code_set *s) {
    for (size_t i = 0; i < s->n; i++) free(s->files[i].path), free(s->files[i].text);
    free(s->files), free(s->repos);
    memset(s, 0, sizeof *s);
}
