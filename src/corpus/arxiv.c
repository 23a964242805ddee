/* arxiv.c — `lmc corpus arxiv`: arXiv bulk source tars → the `arxiv_math` subset, the paper's way. Each member
 * YYMM/<id>.gz of a tar (libarchive) is a gzipped tar of the paper's directory or a gzipped single .tex; it is
 * unpacked into a temporary directory, its main file chosen (a top-level .tex whose name contains main, Main,
 * MAIN, paper, Paper, in that order; else the only .tex; else every .tex with a \title), read as UTF-8 or else
 * Latin-1, and converted with `pandoc -s FILE -t markdown --wrap=none` run in that directory so that \input
 * finds its files (lines whose stripped text starts with ":::" dropped), or kept as LaTeX. Papers are kept when
 * the metadata snapshot's primary category's prefix before '.' is --category and the first version's date is in
 * the window. */
#include "corpus/corpus.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_PAPER (512u << 20) /* a paper's sources, unpacked */

void lmc_arxiv_opts_default(lmc_arxiv_opts *o) {
    memset(o, 0, sizeof *o);
    o->category = "math";
    o->pandoc_timeout = 10;
}

/* ---- the metadata snapshot ------------------------------------------------------------------------------------ */

typedef struct paper_meta {
    char *id;   /* "0704.0001", "math/0601001" */
    char *json; /* the meta fields as JSON object members: "\"title\": ..., ..." */
} paper_meta;

typedef struct meta_index {
    paper_meta *p; /* (n) sorted by id: the papers kept by category and date */
    size_t      n, cap;
    size_t      records, bad, out_of_scope;
} meta_index;

/* "Mon, 2 Apr 2007 19:18:42 GMT" → "2007-04-02"; 0 when it does not parse. */
static int rfc2822_day(const char *s, char day[11]) {
    struct tm tm = {0};
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
    if (!end) return 0;
    return strftime(day, 11, "%Y-%m-%d", &tm) == 10;
}

static void member(lmc_buf *b, const char *key, const cJSON *v) {
    lmc_buf_printf(b, ", \"%s\": ", key);
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    lmc_buf_json(b, s, strlen(s));
}

/* One snapshot record: kept into m when its primary category and first version's date fit. */
static void meta_record(meta_index *m, const lmc_arxiv_opts *o, cJSON *j) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id"), *cats = cJSON_GetObjectItemCaseSensitive(j, "categories"),
                *v0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "versions"), 0),
                *created = cJSON_GetObjectItemCaseSensitive(v0, "created");
    char day[11];
    if (!cJSON_IsString(id) || !cJSON_IsString(cats) || !cJSON_IsString(created) || !rfc2822_day(created->valuestring, day)) {
        m->bad++;
        return;
    }
    size_t prefix = strcspn(cats->valuestring, ". ");
    int in = strlen(o->category) == prefix && !strncmp(cats->valuestring, o->category, prefix) &&
             (!o->submitted_after || strcmp(day, o->submitted_after) >= 0) &&
             (!o->submitted_before || strcmp(day, o->submitted_before) < 0);
    if (!in) { m->out_of_scope++; return; }
    lmc_buf b = {0};
    lmc_buf_printf(&b, "\"created\": \"%s\"", day);
    static const char *const KEYS[] = {"title", "authors", "doi", "license", "journal-ref", "categories"};
    for (int k = 0; k < 6; k++) member(&b, KEYS[k], cJSON_GetObjectItemCaseSensitive(j, KEYS[k]));
    lmc_buf_append(&b, "", 1);
    if (m->n == m->cap) m->p = lmc_xrealloc(m->p, (m->cap = m->cap ? 2 * m->cap : 256) * sizeof *m->p);
    m->p[m->n++] = (paper_meta){lmc_xstrdup(id->valuestring), b.p};
}

static int by_id(const void *a, const void *b) { return strcmp(((const paper_meta *)a)->id, ((const paper_meta *)b)->id); }

static void meta_parse(meta_index *m, const lmc_arxiv_opts *o, const char *data, size_t len) {
    for (const char *line = data, *next; line < data + len; line = next) {
        next = memchr(line, '\n', (size_t)(data + len - line));
        next = next ? next + 1 : data + len;
        const char *c = line;
        while (c < next && (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')) c++;
        if (c == next) continue; /* a blank line (data need not end in NUL: bounded scan) */
        m->records++;
        cJSON *j = cJSON_ParseWithLength(line, (size_t)(next - line));
        if (j) meta_record(m, o, j);
        else m->bad++;
        cJSON_Delete(j);
    }
    if (m->n) qsort(m->p, m->n, sizeof *m->p, by_id); /* (qsort of NULL is undefined even for 0) */
}

static int meta_read(meta_index *m, const lmc_arxiv_opts *o, lmc_err *err) {
    char *data;
    size_t len;
    if (lmc_read_file(o->meta, &data, &len, err)) return -1;
    meta_parse(m, o, data, len);
    free(data);
    return 0;
}

static const paper_meta *meta_find(const meta_index *m, const char *id) {
    paper_meta key = {(char *)id, NULL};
    return bsearch(&key, m->p, m->n, sizeof *m->p, by_id);
}

static void meta_free(meta_index *m) {
    for (size_t i = 0; i < m->n; i++) free(m->p[i].id), free(m->p[i].json);
    free(m->p);
}

void corpus_arxiv_meta_scan(const char *data, size_t n, const char *category, size_t *kept, size_t *bad) {
    lmc_arxiv_opts o;
    lmc_arxiv_opts_default(&o);
    o.category = category;
    meta_index m = {0};
    meta_parse(&m, &o, data, n);
    *kept = m.n, *bad = m.bad;
    meta_free(&m);
}

/* ---- one paper's sources, unpacked ------------------------------------------------------------------------- */

/* gunzips in[0..n) into *out (NUL-terminated); 0, or -1 when it is not a complete gzip stream. */
static int gunzip(const void *in, size_t n, char **out, size_t *out_len) {
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return -1;
    size_t cap = n * 4 + 4096, len = 0;
    char *p = malloc(cap + 1);
    int ret = Z_OK;
    z.next_in = (Bytef *)in, z.avail_in = (uInt)n;
    while (p && ret == Z_OK) {
        if (len == cap) {
            char *q = cap < MAX_PAPER ? realloc(p, (cap *= 2) + 1) : NULL;
            if (!q) { free(p); p = NULL; break; }
            p = q;
        }
        z.next_out = (Bytef *)p + len, z.avail_out = (uInt)(cap - len);
        ret = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
    }
    inflateEnd(&z);
    if (!p || ret != Z_STREAM_END) { free(p); return -1; }
    p[len] = 0;
    *out = p, *out_len = len;
    return 0;
}

/* Whether a tar member's path is safe to create under the paper's directory (relative, no ".."). */
static int safe_path(const char *p) {
    if (!*p || *p == '/') return 0;
    for (const char *s = p; *s; s += strcspn(s, "/"), s += *s == '/')
        if (!strncmp(s, "..", 2) && (s[2] == '/' || !s[2])) return 0;
    return 1;
}

/* Creates dir/path's parent directories. */
static void make_parents(const char *dir, const char *path) {
    char full[8500];
    snprintf(full, sizeof full, "%s/%s", dir, path);
    for (char *s = full + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(full, 0700);
        *s = '/';
    }
}

static int write_in(const char *dir, const char *path, const void *data, size_t n) {
    char full[8500];
    snprintf(full, sizeof full, "%s/%s", dir, path);
    FILE *f = fopen(full, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Unpacks a tar held in memory into dir: 1 when it is a tar, 0 when it is not one, -1 when it breaks off. */
static int untar(const char *data, size_t n, const char *dir, char *why, size_t cap) {
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    struct archive_entry *e;
    int rc = archive_read_open_memory(a, data, n) == ARCHIVE_OK ? archive_read_next_header(a, &e) : ARCHIVE_FATAL;
    int is_tar = rc == ARCHIVE_OK || rc == ARCHIVE_WARN;
    char *buf = NULL;
    while (is_tar && (rc == ARCHIVE_OK || rc == ARCHIVE_WARN)) {
        const char *name = archive_entry_pathname(e);
        la_int64_t size = archive_entry_size(e);
        if (archive_entry_filetype(e) == AE_IFREG && name && safe_path(name) && size >= 0 && size <= MAX_PAPER) {
            buf = realloc(buf, (size_t)size + 1);
            if (!buf || archive_read_data(a, buf, (size_t)size) != (la_ssize_t)size) {
                snprintf(why, cap, "tar member %s: %s", name, archive_error_string(a));
                is_tar = -1;
                break;
            }
            make_parents(dir, name);
            write_in(dir, name, buf, (size_t)size);
        }
        rc = archive_read_next_header(a, &e);
    }
    if (is_tar == 1 && rc == ARCHIVE_FATAL) snprintf(why, cap, "corrupt tar: %s", archive_error_string(a)), is_tar = -1;
    free(buf);
    archive_read_free(a);
    return is_tar;
}

/* Whether text looks like TeX: no NUL byte, and a backslash command. */
static int looks_like_tex(const char *t, size_t n) {
    return memchr(t, 0, n) == NULL && (strstr(t, "\\documentclass") || strstr(t, "\\begin") || strstr(t, "\\section") ||
                                       strstr(t, "\\title") || strstr(t, "\\input"));
}

/* The paper's member (gzip bytes) unpacked into dir; 0, or -1 with why set (not gzip, neither tar nor TeX). */
static int unpack(const void *gz, size_t n, const char *id_file, const char *dir, char *why, size_t cap) {
    char *text;
    size_t len;
    if (gunzip(gz, n, &text, &len)) { snprintf(why, cap, "not a complete gzip stream"); return -1; }
    int t = untar(text, len, dir, why, cap);
    int rc = t == 1 ? 0 : -1;
    if (t == 0 && looks_like_tex(text, len)) rc = write_in(dir, id_file, text, len);
    else if (t == 0) snprintf(why, cap, "neither a tar nor a TeX file");
    free(text);
    return rc;
}

/* ---- the main file ---------------------------------------------------------------------------------------------- */

static int is_tex(const char *name) {
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".tex");
}

/* A file of dir, read whole (NUL-terminated), or NULL. */
static char *read_in(const char *dir, const char *name, size_t *len) {
    char full[8500];
    snprintf(full, sizeof full, "%.4200s/%.4200s", dir, name);
    char *data;
    lmc_err e;
    return lmc_read_file(full, &data, len, &e) ? NULL : data;
}

/* The main files among dir's top-level .tex files (names sorted), into mains (at most cap); their count. */
static int main_files(const char *dir, char mains[][256], int cap) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), n_tex = 0, found = 0;
    char tex[64][256];
    for (int i = 0; i < n; i++) {
        if (is_tex(names[i]->d_name) && n_tex < 64) snprintf(tex[n_tex++], 256, "%s", names[i]->d_name);
        free(names[i]);
    }
    if (n > 0) free(names);
    static const char *const KEYS[] = {"main", "Main", "MAIN", "paper", "Paper"};
    for (int k = 0; k < 5 && !found; k++)
        for (int i = 0; i < n_tex && !found; i++)
            if (strstr(tex[i], KEYS[k])) snprintf(mains[found++], 256, "%.255s", tex[i]);
    if (!found && n_tex == 1) snprintf(mains[found++], 256, "%s", tex[0]);
    int titled = !found; /* else every .tex with a \title */
    for (int i = 0; titled && i < n_tex && found < cap; i++) {
        size_t len;
        char *t = read_in(dir, tex[i], &len);
        if (t && strstr(t, "\\title")) snprintf(mains[found++], 256, "%.255s", tex[i]);
        free(t);
    }
    return found;
}

/* text as UTF-8: as it is when valid, else read as Latin-1 (*latin1 = 1). Returns a malloc'ed string. */
static char *as_utf8(const char *t, size_t n, size_t *out_len, int *latin1) {
    size_t chars, bad;
    *latin1 = !lmc_utf8_validate(t, n, &chars, &bad);
    lmc_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!*latin1 || c < 0x80) lmc_buf_append(&b, t + i, 1);
        else { char u[2] = {(char)(0xc0 | c >> 6), (char)(0x80 | (c & 0x3f))}; lmc_buf_append(&b, u, 2); }
    }
    lmc_buf_append(&b, "", 1);
    *out_len = b.len - 1;
    return b.p;
}

/* ---- pandoc ----------------------------------------------------------------------------------------------------- */

/* Runs `pandoc -s FILE -t markdown --wrap=none` in dir, stdout into out_path, killed (its process group) after
 * timeout seconds. 0, or -1 with why set. */
static int run_pandoc(const char *program, const char *dir, const char *file, const char *out_path, double timeout,
                      char *why, size_t cap) {
    pid_t pid = fork();
    if (pid < 0) { snprintf(why, cap, "cannot start %s: %s", program, strerror(errno)); return -1; }
    if (pid == 0) {
        setpgid(0, 0);
        int o = open(out_path, O_WRONLY | O_TRUNC | O_CREAT, 0600), nul = open("/dev/null", O_WRONLY);
        if (o < 0 || nul < 0 || chdir(dir) || dup2(o, 1) < 0 || dup2(nul, 2) < 0) _exit(127);
        execlp(program, program, "-s", file, "-t", "markdown", "--wrap=none", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct timespec step = {0, 10 * 1000 * 1000};
    double waited = 0;
    pid_t got;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && waited < timeout) nanosleep(&step, NULL), waited += 0.01;
    if (got == 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(why, cap, "pandoc ran past %.0f s: killed", timeout);
        return -1;
    }
    if (got < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
        snprintf(why, cap, "pandoc failed (%s %d)", WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    return 0;
}

/* Markdown without the lines whose stripped text starts with ":::" (pandoc's div fences), appended to out. */
static void drop_fences(const char *md, size_t n, lmc_buf *out) {
    for (size_t pos = 0; pos < n;) {
        const char *nl = memchr(md + pos, '\n', n - pos);
        size_t e = nl ? (size_t)(nl - md) : n, b, s;
        corpus_strip(md + pos, e - pos, &b, &s);
        if (!(s - b >= 3 && !memcmp(md + pos + b, ":::", 3))) {
            lmc_buf_append(out, md + pos, e - pos);
            if (nl) lmc_buf_append(out, "\n", 1);
        }
        pos = e + 1;
    }
}

/* ---- the run ---------------------------------------------------------------------------------------------------- */

enum { A_META, A_UNPACK, A_MAIN, A_CONVERT, N_ARXIV_FILTERS };

typedef struct arxiv_run {
    const lmc_arxiv_opts *o;
    const char           *program; /* pandoc */
    meta_index            meta;
    filter_row            f[N_ARXIV_FILTERS];
    size_t                members, pdf, other; /* tar members: all, .pdf skipped, neither .gz nor .pdf */
    lmc_buf               problems;           /* JSON objects naming the bad input (first 1000) */
    size_t                n_problems;
    lmc_buf               out;                /* the JSON lines */
    size_t                docs, chars, bytes;
    uint64_t              tar_done, tar_total, gz_bytes; /* progress: bytes of the tars before this one, of all;
                                                          * papers' gzip read */
} arxiv_run;

static void problem(arxiv_run *r, const char *tar, const char *member, const char *what) {
    if (r->n_problems++ >= 1000) return;
    lmc_buf *b = &r->problems;
    lmc_buf_printf(b, "%s\n    {\"file\": ", b->len ? "," : "");
    lmc_buf_json(b, tar, strlen(tar));
    lmc_buf_printf(b, ", \"member\": ");
    lmc_buf_json(b, member, strlen(member));
    lmc_buf_printf(b, ", \"problem\": ");
    lmc_buf_json(b, what, strlen(what));
    lmc_buf_printf(b, "}");
}

/* The arXiv id of a member "YYMM/<id>.gz": "0704.0001", or "math0601001" → "math/0601001". */
static void member_id(const char *member, char *id, size_t cap) {
    const char *base = strrchr(member, '/');
    base = base ? base + 1 : member;
    size_t n = strlen(base) - 3, letters = strspn(base, "abcdefghijklmnopqrstuvwxyz-");
    if (letters && letters < n) snprintf(id, cap, "%.*s/%.*s", (int)letters, base, (int)(n - letters), base + letters);
    else snprintf(id, cap, "%.*s", (int)n, base);
}

/* The content of the main files (converted, or LaTeX), joined by a blank line; 0, or -1 with why set. */
static int convert(arxiv_run *r, const char *dir, char mains[][256], int n_main, lmc_buf *content, int *latin1,
                   char *why, size_t cap) {
    for (int i = 0; i < n_main; i++) {
        size_t len, ulen;
        int l1;
        char *raw = read_in(dir, mains[i], &len), *u = raw ? as_utf8(raw, len, &ulen, &l1) : NULL;
        free(raw);
        if (!u) { snprintf(why, cap, "%.255s: cannot read it", mains[i]); return -1; }
        *latin1 |= l1;
        if (i) lmc_buf_append(content, "\n\n", 2);
        if (r->o->latex) { lmc_buf_append(content, u, ulen); free(u); continue; }
        write_in(dir, mains[i], u, ulen); /* pandoc reads UTF-8 */
        free(u);
        char out[8500];
        snprintf(out, sizeof out, "%s.md", dir);
        int rc = run_pandoc(r->program, dir, mains[i], out, r->o->pandoc_timeout, why, cap);
        char *md = rc ? NULL : lmc_read_file(out, &raw, &len, &(lmc_err){{0}}) ? NULL : raw;
        unlink(out);
        if (!md) { if (!rc) snprintf(why, cap, "pandoc wrote no output"); return -1; }
        drop_fences(md, len, content);
        free(md);
    }
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) { return remove(p); }

static void paper_line(arxiv_run *r, const char *id, const char *member, const paper_meta *m, char mains[][256],
                       int n_main, const lmc_buf *content, int latin1) {
    size_t chars = 0;
    for (size_t i = 0; i < content->len; i++) chars += ((unsigned char)content->p[i] & 0xc0) != 0x80;
    lmc_buf *b = &r->out;
    lmc_buf_printf(b, "{\"content\": ");
    lmc_buf_json(b, content->p ? content->p : "", content->len);
    lmc_buf_printf(b, ", \"subset\": \"arxiv_math\", \"meta\": {\"id\": ");
    lmc_buf_json(b, id, strlen(id));
    lmc_buf_printf(b, ", \"filename\": ");
    lmc_buf fn = {0};
    for (int i = 0; i < n_main; i++) lmc_buf_printf(&fn, "%s%s", i ? "," : "", mains[i]);
    lmc_buf_json(b, fn.p ? fn.p : "", fn.len);
    lmc_buf_free(&fn);
    lmc_buf_printf(b, ", %s, \"encoding\": \"%s\", \"format\": \"%s\", \"source\": ", m->json,
                   latin1 ? "latin-1" : "utf-8", r->o->latex ? "latex" : "markdown");
    lmc_buf_json(b, member, strlen(member));
    lmc_buf_printf(b, "}}\n");
    r->docs++, r->chars += chars, r->bytes += content->len;
    r->f[A_CONVERT].chars_out += chars;
}

/* One member "YYMM/<id>.gz" of a source tar. */
static void paper(arxiv_run *r, const char *tar, const char *member, const void *gz, size_t n) {
    char id[128], dir[4200], why[300] = "", mains[16][256];
    member_id(member, id, sizeof id);
    const paper_meta *m = meta_find(&r->meta, id);
    r->f[A_META].docs_in++;
    if (!m) return;
    r->f[A_META].docs_out++, r->f[A_UNPACK].docs_in++;
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/lmc_arxiv_XXXXXX", tmp);
    if (!mkdtemp(dir)) { problem(r, tar, member, "cannot make a temporary directory"); return; }
    char id_file[160];
    snprintf(id_file, sizeof id_file, "%s.tex", strrchr(id, '/') ? strrchr(id, '/') + 1 : id);
    int n_main = 0, latin1 = 0;
    lmc_buf content = {0};
    if (unpack(gz, n, id_file, dir, why, sizeof why)) problem(r, tar, member, why);
    else if (r->f[A_UNPACK].docs_out++, r->f[A_MAIN].docs_in++, !(n_main = main_files(dir, mains, 16)))
        problem(r, tar, member, "no main .tex file");
    else if (r->f[A_MAIN].docs_out++, r->f[A_CONVERT].docs_in++, convert(r, dir, mains, n_main, &content, &latin1, why, sizeof why))
        problem(r, tar, member, why);
    else r->f[A_CONVERT].docs_out++, paper_line(r, id, member, m, mains, n_main, &content, latin1);
    lmc_buf_free(&content);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every member of one source tar. */
static void source_tar(arxiv_run *r, const char *path) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    struct archive_entry *e;
    int rc = archive_read_open_filename(a, path, 1 << 16);
    char *buf = NULL;
    while (rc == ARCHIVE_OK && ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)) {
        rc = ARCHIVE_OK;
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        const char *name = archive_entry_pathname(e);
        la_int64_t size = archive_entry_size(e);
        size_t n = strlen(name ? name : "");
        r->members++;
        if (n > 4 && !strcmp(name + n - 4, ".pdf")) { r->pdf++; continue; }
        if (n < 4 || strcmp(name + n - 3, ".gz") || size < 0 || size > MAX_PAPER) { r->other++; continue; }
        buf = realloc(buf, (size_t)size + 1);
        if (!buf || archive_read_data(a, buf, (size_t)size) != (la_ssize_t)size) { rc = ARCHIVE_FATAL; break; }
        paper(r, path, name, buf, (size_t)size);
        r->gz_bytes += (uint64_t)size;
        corpus_report(r->o->progress, r->o->progress_user, "papers", "bytes",
                      r->tar_done + (uint64_t)archive_filter_bytes(a, -1), r->tar_total, r->gz_bytes);
    }
    if (rc == ARCHIVE_FATAL) problem(r, path, "", archive_error_string(a) ? archive_error_string(a) : "corrupt tar");
    free(buf);
    archive_read_free(a);
}

static void describe(arxiv_run *r) {
    const lmc_arxiv_opts *o = r->o;
    static const char *const NAMES[] = {"metadata", "unpack", "main-file", "convert"};
    for (int i = 0; i < N_ARXIV_FILTERS; i++) r->f[i].name = NAMES[i];
    snprintf(r->f[A_META].params, 400, "{\"category\": \"%s\", \"submitted_after\": \"%s\", \"submitted_before\": \"%s\", "
             "\"chars\": \"counted on the converted text only\"}", o->category, o->submitted_after ? o->submitted_after : "",
             o->submitted_before ? o->submitted_before : "");
    snprintf(r->f[A_MAIN].params, 400, "{\"order\": \"main, Main, MAIN, paper, Paper; the only .tex; every .tex with \\\\title\"}");
    if (o->latex) snprintf(r->f[A_CONVERT].params, 400, "{\"format\": \"latex\"}");
    else snprintf(r->f[A_CONVERT].params, 400, "{\"format\": \"markdown\", \"command\": \"%s -s FILE -t markdown "
                  "--wrap=none\", \"timeout_s\": %g, \"dropped\": \"lines starting with :::\"}", r->program, o->pandoc_timeout);
}

static void read_json(const arxiv_run *r, lmc_buf *b) {
    lmc_buf_printf(b, "{\"members\": %zu, \"pdf_skipped\": %zu, \"other_members\": %zu, \"metadata_records\": %zu, "
                      "\"metadata_bad\": %zu, \"metadata_out_of_scope\": %zu, \"problems\": %zu, \"problems_named\": [",
                   r->members, r->pdf, r->other, r->meta.records, r->meta.bad, r->meta.out_of_scope, r->n_problems);
    lmc_buf_append(b, r->problems.p ? r->problems.p : "", r->problems.len);
    lmc_buf_printf(b, "]}");
    lmc_buf_append(b, "", 1);
}

int lmc_corpus_arxiv(const lmc_arxiv_opts *o, const char *const *tars, size_t n_tars, const char *out_path,
                     lmc_corpus_summary *sum, lmc_err *err) {
    arxiv_run r = {.o = o, .program = o->pandoc ? o->pandoc : "pandoc"};
    if (!o->meta) return lmc_fail(err, "corpus arxiv: no metadata file (--meta)");
    if (!o->latex && !corpus_program_found(r.program))
        return lmc_fail(err, "%s: program not found (Debian package pandoc; or --format latex keeps the LaTeX)", r.program);
    for (size_t i = 0; i < n_tars; i++) {
        struct stat st;
        if (stat(tars[i], &st) != 0) return lmc_fail(err, "%s: cannot open: no such file", tars[i]);
        r.tar_total += (uint64_t)st.st_size;
    }
    if (meta_read(&r.meta, o, err)) return -1;
    describe(&r);
    for (size_t i = 0; i < n_tars; i++) {
        source_tar(&r, tars[i]);
        struct stat st;
        r.tar_done += stat(tars[i], &st) == 0 ? (uint64_t)st.st_size : 0;
    }
    r.f[A_CONVERT].chars_in = r.f[A_CONVERT].chars_out;
    const char **inputs = lmc_xcalloc(n_tars + 1, sizeof *inputs);
    inputs[0] = o->meta;
    for (size_t i = 0; i < n_tars; i++) inputs[i + 1] = tars[i];
    lmc_buf rj = {0};
    read_json(&r, &rj);
    run_manifest m = {"corpus arxiv", o->arguments, "arxiv_math", -1, inputs, n_tars + 1, rj.p, r.f, N_ARXIV_FILTERS,
                      out_path, r.docs, r.chars, r.bytes};
    int rc = corpus_manifest_write(&m, err);
    if (rc == 0) rc = lmc_write_file_atomic(out_path, r.out.p ? r.out.p : "", r.out.len, err);
    if (rc == 0 && sum) *sum = (lmc_corpus_summary){r.members, r.docs, r.chars, r.bytes, r.n_problems, 0};
    lmc_buf_free(&rj), lmc_buf_free(&r.out), lmc_buf_free(&r.problems);
    free(inputs);
    meta_free(&r.meta);
    return rc;
}
