/* warc.c — WET files read piece by piece: the file mapped (lmc_map_file), gunzipped as it is read (one member
 * per record, as Common Crawl writes them, or one stream), and parsed by header name into chunks of records.
 * Bodies are read as CCNet reads them (line by line with Python's universal newlines, every line stripped, the
 * first line the title, two trailing empty lines dropped), and Content-Length is used only to find the next
 * record: when it does not land on one (CCNet's own test sample has such lengths), the reader resynchronises on
 * the next "WARC/1.x" line and counts a mismatch.
 *
 * Why pieces: a whole file in memory (text and copies) cost a page fault per 4 KiB and bounded nothing; a chunk
 * of text reuses its buffers. Where records end is found in one sequential sweep over the headers (framing,
 * cheap: it jumps over bodies by Content-Length), and a record whose end the chunk cannot tell yet (its text
 * goes on past the chunk) is carried to the next one, so the records are those of the whole file read at once,
 * whatever the chunk size. The bodies, the expensive part, are then parsed in parallel, each into its own region
 * of the arena (a record's title and content are never longer than its text), so the result does not depend on
 * the thread count either. */
#include "corpus/corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- lines ---------------------------------------------------------------------------------------- */

/* The line starting at pos in t[0..n): its end (before the line break) and the start of the next line. A line
 * break is "\n", "\r\n" or "\r" (Python's universal newlines, which CCNet reads with). Returns -1 when the text
 * may go on past n (!eof) and the line's end is not known yet. */
static int line_at(const char *t, size_t n, int eof, size_t pos, size_t *end, size_t *next) {
    const char *nl = memchr(t + pos, '\n', n - pos), *cr = memchr(t + pos, '\r', (nl ? (size_t)(nl - t) : n) - pos);
    size_t e = cr ? (size_t)(cr - t) : nl ? (size_t)(nl - t) : n;
    if (e == n) {
        if (!eof) return -1;
        *end = *next = n;
        return 0;
    }
    if (t[e] == '\r' && e + 1 == n && !eof) return -1; /* "\r" or "\r\n": the next byte decides */
    *end = e;
    *next = e + 1 + (t[e] == '\r' && e + 1 < n && t[e + 1] == '\n');
    return 0;
}

/* Whether the stripped line [b, e) is a record's first line. */
static int is_version_line(const char *t, size_t b, size_t e) {
    if (e - b < 8) return 0;
    size_t sb, se;
    corpus_strip(t + b, e - b, &sb, &se);
    return se - sb == 8 && (!memcmp(t + b + sb, "WARC/1.0", 8) || !memcmp(t + b + sb, "WARC/1.1", 8));
}

enum { NEED_MORE = -1 };

/* The start of the first record line at or after pos: n when none (at the end of the file), NEED_MORE when the
 * text may go on. */
static long long next_record(const char *t, size_t n, int eof, size_t pos) {
    while (pos < n) {
        size_t e, next;
        if (line_at(t, n, eof, pos, &e, &next)) return NEED_MORE;
        if (is_version_line(t, pos, e)) return (long long)pos;
        pos = next;
    }
    return eof ? (long long)n : NEED_MORE;
}

/* ---- framing: a record's headers and where it ends (sequential, cheap) ----------------------------------- */

/* Header values are copied into the arena, at their own offsets, with the body (framing only reads). */
static void copy_span(wet_file *f, const char *t, span s) { memcpy(f->arena.p + s.off, t + s.off, s.len); }

static void copy_headers(wet_file *f, const wet_record *r, const char *t) {
    copy_span(f, t, r->url), copy_span(f, t, r->date), copy_span(f, t, r->digest);
    copy_span(f, t, r->record_id), copy_span(f, t, r->lang);
}

/* One "Name: value" header line [b, e) of t into the record; -1 when it has no ':'. */
static int header_line(wet_record *r, const char *t, size_t b, size_t e, int *has_type,
                       int *conversion, long long *content_length) {
    const char *s = t + b, *colon = memchr(s, ':', e - b);
    if (!colon) return -1;
    size_t name_n = (size_t)(colon - s), vb, ve;
    corpus_strip(colon + 1, e - b - name_n - 1, &vb, &ve);
    size_t voff = b + name_n + 1 + vb, vn = ve - vb;
    const char *v = t + voff;
#define IS(name) (name_n == sizeof name - 1 && !strncasecmp(s, name, name_n))
    if (IS("WARC-Type")) { *has_type = 1; *conversion = vn == 10 && !memcmp(v, "conversion", 10); }
    else if (IS("WARC-Target-URI")) r->url = (span){voff, vn};
    else if (IS("WARC-Date")) r->date = (span){voff, vn};
    else if (IS("WARC-Block-Digest")) r->digest = (span){voff, vn};
    else if (IS("WARC-Record-ID")) r->record_id = (span){voff, vn};
    else if (IS("WARC-Identified-Content-Language")) r->lang = (span){voff, vn};
    else if (IS("Content-Length")) {
        char *end, num[24];
        snprintf(num, sizeof num, "%.*s", (int)(vn < 23 ? vn : 23), v);
        long long x = strtoll(num, &end, 10);
        *content_length = vn && vn < 20 && !*end && x >= 0 ? x : -1;
    }
#undef IS
    return 0;
}

/* Where the next record starts, given the body's start and the declared length: the declared end when only line
 * breaks lie between it and a record line (or the end of the file); else the next record line (a mismatch,
 * *mismatch set). NEED_MORE when the text may go on and that is not known yet. */
static long long body_stop(const char *t, size_t n, int eof, size_t body, long long length, int *mismatch) {
    if (length >= 0 && (unsigned long long)length > n - body && !eof) return NEED_MORE;
    if (length >= 0 && (unsigned long long)length <= n - body) {
        size_t p = body + (size_t)length, e, next;
        while (p < n && (t[p] == '\r' || t[p] == '\n')) p++;
        if (p == n) {
            if (!eof) return NEED_MORE;
            return (long long)n;
        }
        if (line_at(t, n, eof, p, &e, &next)) return NEED_MORE;
        if (is_version_line(t, p, e)) return (long long)p;
    }
    *mismatch = 1;
    return next_record(t, n, eof, body);
}

/* The record whose version line starts at pos: its headers into r, its body's extent; returns where the next
 * record starts, or NEED_MORE (r untouched but for scratch). */
static long long frame_record(wet_record *r, const char *t, size_t n, int eof, size_t pos,
                              size_t *body) {
    memset(r, 0, sizeof *r);
    size_t e, next;
    if (line_at(t, n, eof, pos, &e, &next)) return NEED_MORE;
    int has_type = 0, conversion = 0, bad = 0;
    long long length = -1;
    for (pos = next;;) { /* headers, up to the first empty line */
        if (pos >= n) {
            if (!eof) return NEED_MORE;
            break;
        }
        size_t b, s;
        if (line_at(t, n, eof, pos, &e, &next)) return NEED_MORE;
        corpus_strip(t + pos, e - pos, &b, &s);
        if (b == s) { pos = next; break; }
        if (header_line(r, t, pos + b, pos + s, &has_type, &conversion, &length)) bad = 1;
        pos = next;
    }
    long long stop = body_stop(t, n, eof, pos, length, &r->length_mismatch);
    if (stop == NEED_MORE) return NEED_MORE;
    *body = pos;
    r->status = bad || !has_type ? WET_BAD_HEADER : !conversion ? WET_NOT_CONVERSION : WET_OK;
    return stop;
}

/* ---- the body (parallel: each record writes only its own region of the arena) ------------------------------ */

/* The body's lines [body, stop): stripped, the first the title, two trailing empty lines dropped; written into
 * the arena from body on. */
static void parse_body(wet_file *f, wet_record *r, const char *t, size_t body, size_t stop) {
    char *a = f->arena.p;
    size_t w = body, n_lines = 0, cut[2] = {0, 0}; /* cut: where content ended before each of the last two lines */
    int empty_last = 0, empty_prev = 0;
    for (size_t pos = body; pos < stop;) {
        size_t e, next, b, s;
        line_at(t, stop, 1, pos, &e, &next);
        corpus_strip(t + pos, e - pos, &b, &s);
        if (n_lines == 1) r->content.off = w; /* right after the title */
        if (n_lines >= 1) cut[0] = cut[1], cut[1] = w;
        if (n_lines >= 2) a[w++] = '\n';
        memcpy(a + w, t + pos + b, s - b);
        w += s - b;
        if (n_lines == 0) r->title = (span){body, s - b};
        empty_prev = empty_last, empty_last = b == s;
        n_lines++;
        pos = next;
    }
    if (n_lines == 1) r->content.off = w;
    if (n_lines >= 2 && empty_last && empty_prev) n_lines -= 2, w = cut[0];
    if (n_lines == 0) { r->status = WET_EMPTY; r->title.len = 0; return; }
    r->content.len = w - r->content.off;
    size_t bad, title_chars;
    if (!lmc_utf8_validate(wet_at(f, r->title), r->title.len, &title_chars, &bad) ||
        !lmc_utf8_validate(wet_at(f, r->content), r->content.len, &r->chars, &bad))
        r->status = WET_BAD_UTF8;
}

/* ---- one chunk --------------------------------------------------------------------------------------------- */

/* The first record line of t[0..n) (n at the end of the file); NEED_MORE when there is none yet, *skip then
 * being where the line that may go on starts (the text before it holds no record). */
static long long first_record(const char *t, size_t n, int eof, size_t *skip) {
    size_t pos = 0;
    while (pos < n) {
        size_t e, next;
        if (line_at(t, n, eof, pos, &e, &next)) break;
        if (is_version_line(t, pos, e)) return (long long)pos;
        pos = next;
    }
    *skip = pos;
    return eof ? (long long)n : NEED_MORE;
}

/* The raw bytes [sha_pos, upto) into the file's sha256. */
static void hash_raw(wet_reader *rd, size_t upto) {
    if (!rd->want_sha || upto <= rd->sha_pos) return;
    sha256_update(&rd->sha, upto - rd->sha_pos, rd->raw + rd->sha_pos);
    rd->sha_pos = upto;
}

void wet_reader_hash_read(wet_reader *rd) { hash_raw(rd, rd->hash_upto); }

/* ---- framing a chunk in segments --------------------------------------------------------------------------------
 * Framing follows Content-Length from record to record, a cache miss or two per record: serial, it was a fifth of
 * `corpus wet`. The chunk is cut into segments framed in parallel, each from the first record line after its cut;
 * a segment's framing is what the serial one gives when it lands on that line, which it does when the segment
 * before ends exactly there. Where it does not (a body holding a record line under a right Content-Length), the
 * framing goes on serially from where the segment before ended and the later segments are dropped: the records are
 * those of the serial framing, always. The number of segments follows the chunk size only, not the threads. */

typedef struct frame_seg {
    size_t      from, to;    /* frames from the record line at `from` until a record ends at or past `to` */
    wet_record *recs;        /* (n) */
    size_t     *bodies, *stops; /* (n) each record's body start and where the next record starts */
    size_t      n, cap;
    size_t      end;         /* where the last record framed ends (from when none) */
    int         need_more;   /* a record may go on past the text */
} frame_seg;

static void seg_push(frame_seg *s, const wet_record *r, size_t body, size_t stop) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->recs = lmc_xrealloc(s->recs, s->cap * sizeof *s->recs);
        s->bodies = lmc_xrealloc(s->bodies, s->cap * sizeof *s->bodies);
        s->stops = lmc_xrealloc(s->stops, s->cap * sizeof *s->stops);
    }
    s->recs[s->n] = *r, s->bodies[s->n] = body, s->stops[s->n] = stop;
    s->n++;
}

/* Frames s's records (reading t only). */
static void frame_seg_run(frame_seg *s, const char *t, size_t n, int eof) {
    size_t pos = s->from;
    s->end = pos;
    while (pos < n && pos < s->to) {
        wet_record r;
        size_t body = 0;
        long long stop = frame_record(&r, t, n, eof, pos, &body);
        if (stop == NEED_MORE) { s->need_more = 1; return; }
        seg_push(s, &r, body, (size_t)stop);
        s->end = pos = (size_t)stop;
    }
}

/* The first record line at or after the line break after `cut`, or SIZE_MAX. */
static size_t seg_start(const char *t, size_t n, int eof, size_t cut) {
    const char *nl = memchr(t + cut, '\n', n - cut);
    if (!nl) return SIZE_MAX;
    long long p = next_record(t, n, eof, (size_t)(nl - t) + 1);
    return p == NEED_MORE || (size_t)p >= n ? SIZE_MAX : (size_t)p;
}

/* Frames the records of t[0..n) into f (numbered from rd->next_index) and parses their bodies, both in parallel;
 * returns how much of t they took (the rest: a record that may go on past n; nothing is left at eof). The raw
 * bytes up to raw_upto are left to wet_reader_hash_read. */
static size_t parse_chunk(wet_reader *rd, const char *t, size_t n, int eof, size_t raw_upto, wet_file *f) {
    f->n = 0;
    f->length_mismatches = 0;
    rd->hash_upto = raw_upto;
    if (f->arena.cap < n + 1) {
        free(f->arena.p);
        f->arena.p = lmc_xmalloc(n + 1), f->arena.cap = n + 1;
    }
    f->arena.len = n;
    size_t skip = 0;
    long long first = first_record(t, n, eof, &skip);
    if (first == NEED_MORE) return skip;
    size_t pos0 = (size_t)first, seg_bytes = rd->chunk / 64 > 64 ? rd->chunk / 64 : 64;
    size_t S = (n - pos0) / seg_bytes < 64 ? (n - pos0) / seg_bytes : 64;
    if (S < 1) S = 1;
    frame_seg *seg = lmc_xcalloc(S, sizeof *seg);
    seg[0].from = pos0;
    for (size_t k = 1; k < S; k++) {
        size_t st = seg_start(t, n, eof, pos0 + k * (n - pos0) / S);
        seg[k].from = st == SIZE_MAX ? n : st < seg[k - 1].from ? seg[k - 1].from : st;
    }
    for (size_t k = 0; k < S; k++) seg[k].to = k + 1 < S ? seg[k + 1].from : n;
#pragma omp parallel for schedule(dynamic, 1) if (S > 1)
    for (size_t k = 0; k < S; k++) frame_seg_run(&seg[k], t, n, eof);
    /* the segments that continue each other, in order; the rest framed serially from where they stop */
    size_t at = pos0, used = 0;
    int more = 0; /* a record may go on past the text: nothing after it is framed */
    frame_seg tail = {0};
    for (; used < S && seg[used].from == at; used++) {
        at = seg[used].end;
        if (seg[used].need_more) { more = 1, used++; break; }
    }
    if (!more && used < S) {
        tail.from = at, tail.to = n;
        frame_seg_run(&tail, t, n, eof);
    }
    size_t total = tail.n;
    for (size_t j = 0; j < used; j++) total += seg[j].n;
    if (total > f->cap) f->recs = lmc_xrealloc(f->recs, (f->cap = total + total / 2 + 16) * sizeof *f->recs);
    size_t *bodies = lmc_xmalloc((total ? total : 1) * sizeof *bodies), *stops = lmc_xmalloc((total ? total : 1) * sizeof *stops);
    size_t taken = pos0;
    for (size_t j = 0; j <= used; j++) {
        frame_seg *g = j < used ? &seg[j] : &tail;
        for (size_t i = 0; i < g->n; i++, f->n++) {
            f->recs[f->n] = g->recs[i];
            f->recs[f->n].index = rd->next_index + f->n;
            f->length_mismatches += (size_t)g->recs[i].length_mismatch;
            bodies[f->n] = g->bodies[i], stops[f->n] = g->stops[i];
            taken = g->stops[i];
        }
    }
    for (size_t j = 0; j <= S; j++) {
        frame_seg *g = j < S ? &seg[j] : &tail;
        free(g->recs), free(g->bodies), free(g->stops);
    }
    free(seg);
#pragma omp parallel for schedule(dynamic, 8) if (f->n > 16) /* a few records: not worth waking the threads */
    for (size_t i = 0; i < f->n; i++) { /* each record writes only its own region of the arena */
        copy_headers(f, &f->recs[i], t);
        if (f->recs[i].status == WET_OK) parse_body(f, &f->recs[i], t, bodies[i], stops[i]);
    }
    free(bodies), free(stops);
    return taken;
}

/* ---- the reader: the file's text, a chunk at a time ------------------------------------------------------------ */

/* Inflates gzip members until rd->text holds at least goal bytes or the input is done. Damage (a truncated or
 * corrupt member, bytes after the last member that are not gzip) ends the input: what came before is kept and
 * the problem is described. */
static void inflate_more(wet_reader *rd, lmc_buf *out, size_t goal) {
    z_stream *z = &rd->z;
    while (out->len < goal && !rd->in_done) {
        if (!rd->in_member) {
            if (rd->in_pos >= rd->raw_n) { rd->in_done = 1; break; }
            if (rd->raw_n - rd->in_pos < 2 || rd->raw[rd->in_pos] != 0x1f || rd->raw[rd->in_pos + 1] != 0x8b) {
                snprintf(rd->gzip_problem, sizeof rd->gzip_problem, "bytes after the last gzip member at byte %zu",
                         rd->in_pos);
                rd->in_done = 1;
                break;
            }
            inflateReset(z);
            rd->in_member = 1;
            z->avail_in = 0;
        }
        if (z->avail_in == 0) { /* at most 1 GiB at a time (avail_in is 32 bits) */
            z->next_in = (Bytef *)rd->raw + rd->in_pos;
            z->avail_in = (uInt)(rd->raw_n - rd->in_pos > (1u << 30) ? 1u << 30 : rd->raw_n - rd->in_pos);
        }
        if (out->cap - out->len < (1 << 15)) {
            size_t c = out->cap ? out->cap * 2 : 1 << 16; /* doubling: a small file gets a small buffer */
            out->p = lmc_xrealloc(out->p, c), out->cap = c;
        }
        z->next_out = (Bytef *)out->p + out->len;
        z->avail_out = (uInt)(out->cap - out->len > (1u << 30) ? 1u << 30 : out->cap - out->len);
        size_t before_in = z->avail_in, before_out = z->avail_out;
        int ret = inflate(z, Z_NO_FLUSH);
        out->len += before_out - z->avail_out;
        rd->in_pos += before_in - z->avail_in;
        if (ret == Z_STREAM_END) { rd->in_member = 0; z->avail_in = 0; continue; }
        if (ret == Z_BUF_ERROR && z->avail_in == 0 && rd->in_pos < rd->raw_n) continue; /* refill */
        if (ret == Z_BUF_ERROR && z->avail_in == 0) {
            snprintf(rd->gzip_problem, sizeof rd->gzip_problem, "truncated gzip member at byte %zu", rd->in_pos);
            rd->in_done = 1;
        } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
            snprintf(rd->gzip_problem, sizeof rd->gzip_problem, "corrupt gzip data at byte %zu (%s)", rd->in_pos,
                     z->msg ? z->msg : "zlib error");
            rd->in_done = 1;
        }
    }
}

/* A mapped file: the pages of [from, to) mapped in one call rather than a fault per few pages, and those before
 * from (parsed, and hashed when asked) given back, so that the mapping adds a chunk, not the file, to the
 * resident size. */
static void map_window(wet_reader *rd, size_t from, size_t to) {
    if (!rd->map.data) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), base = (uintptr_t)rd->map.data;
    uintptr_t lo = (base + from) & ~(page - 1), hi = base + to;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_POPULATE_READ); /* a hint: failure only costs the faults */
    if (lo > base) madvise((void *)base, lo - base, MADV_DONTNEED);
}

/* ---- inflating ahead: a thread inflates the next piece of text while the chunk before is parsed -------- */

#define AHEAD 1 /* pieces waiting: one chunk of text more than inflating when needed would hold */
#define WET_AHEAD_MIN (64u << 10) /* smaller chunks (tests, fuzzing) would cost a hand-over per few records */

typedef struct wet_piece {
    lmc_buf text;
    size_t  in_pos;  /* raw bytes inflated once this piece was */
    int     last;    /* the input ended with it (gzip_problem says why, when damaged) */
} wet_piece;

struct wet_inflater {
    pthread_t       thread;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    wet_piece       q[AHEAD]; /* a ring: head, count */
    int             head, count, stop;
};

static void *inflater_main(void *arg) {
    wet_reader *rd = arg;
    struct wet_inflater *bg = rd->bg;
    for (int last = 0; !last;) {
        wet_piece piece = {{0}, 0, 0};
        inflate_more(rd, &piece.text, rd->chunk);
        piece.in_pos = rd->in_pos, piece.last = last = rd->in_done;
        pthread_mutex_lock(&bg->mu);
        while (bg->count == AHEAD && !bg->stop) pthread_cond_wait(&bg->cv, &bg->mu);
        int stop = bg->stop;
        if (!stop) bg->q[(bg->head + bg->count++) % AHEAD] = piece, pthread_cond_broadcast(&bg->cv);
        pthread_mutex_unlock(&bg->mu);
        if (stop) { lmc_buf_free(&piece.text); break; }
    }
    return NULL;
}

/* Appends the next piece to rd->text (waiting for it). */
static void take_piece(wet_reader *rd) {
    struct wet_inflater *bg = rd->bg;
    pthread_mutex_lock(&bg->mu);
    while (bg->count == 0) pthread_cond_wait(&bg->cv, &bg->mu);
    wet_piece piece = bg->q[bg->head];
    bg->head = (bg->head + 1) % AHEAD, bg->count--;
    pthread_cond_broadcast(&bg->cv);
    pthread_mutex_unlock(&bg->mu);
    lmc_buf_append(&rd->text, piece.text.p ? piece.text.p : "", piece.text.len);
    lmc_buf_free(&piece.text);
    rd->got_pos = piece.in_pos, rd->got_done = piece.last;
}

/* rd->text to at least goal bytes, or to the end of the input. */
static void more_text(wet_reader *rd, size_t goal) {
    if (!rd->bg) {
        inflate_more(rd, &rd->text, goal);
        rd->got_pos = rd->in_pos, rd->got_done = rd->in_done;
        return;
    }
    while (rd->text.len < goal && !rd->got_done) take_piece(rd);
}

static void inflater_start(wet_reader *rd) {
    struct wet_inflater *bg = lmc_xcalloc(1, sizeof *bg);
    pthread_mutex_init(&bg->mu, NULL);
    pthread_cond_init(&bg->cv, NULL);
    rd->bg = bg;
    if (pthread_create(&bg->thread, NULL, inflater_main, rd) != 0) { /* inflate when needed instead */
        pthread_mutex_destroy(&bg->mu), pthread_cond_destroy(&bg->cv);
        free(bg);
        rd->bg = NULL;
    }
}

static void inflater_stop(wet_reader *rd) {
    struct wet_inflater *bg = rd->bg;
    if (!bg) return;
    pthread_mutex_lock(&bg->mu);
    bg->stop = 1;
    pthread_cond_broadcast(&bg->cv);
    pthread_mutex_unlock(&bg->mu);
    pthread_join(bg->thread, NULL);
    for (int i = 0; i < bg->count; i++) lmc_buf_free(&bg->q[(bg->head + i) % AHEAD].text);
    pthread_mutex_destroy(&bg->mu), pthread_cond_destroy(&bg->cv);
    free(bg);
    rd->bg = NULL;
}

void wet_reader_open_memory(wet_reader *rd, const uint8_t *raw, size_t n, size_t chunk, int want_sha256) {
    memset(rd, 0, sizeof *rd);
    rd->raw = raw, rd->raw_n = n;
    rd->chunk = chunk ? chunk : WET_CHUNK;
    rd->gz = n >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
    if (rd->gz && inflateInit2(&rd->z, 15 + 16) != Z_OK) lmc_oom(sizeof rd->z, "zlib inflate state");
    rd->want_sha = want_sha256;
    if (want_sha256) sha256_init(&rd->sha);
    if (rd->gz && n > 2 * rd->chunk && rd->chunk >= WET_AHEAD_MIN) inflater_start(rd); /* inflate ahead */
}

int wet_reader_open(wet_reader *rd, const char *path, size_t chunk, int want_sha256, lmc_err *err) {
    lmc_map map;
    if (lmc_map_file(path, &map, err)) return -1;
    wet_reader_open_memory(rd, map.data, map.size, chunk, want_sha256);
    rd->map = map;
    return 0;
}

void wet_reader_close(wet_reader *rd) {
    inflater_stop(rd);
    if (rd->gz) inflateEnd(&rd->z);
    lmc_buf_free(&rd->text);
    lmc_unmap(&rd->map);
    memset(rd, 0, sizeof *rd);
}

/* ---- the next chunk ---------------------------------------------------------------------------------------- */

int wet_reader_next(wet_reader *rd, wet_file *f) {
    f->n = 0;
    wet_reader_hash_read(rd); /* when the caller did not, while it worked on the chunk before */
    if (rd->done) return 0;
    for (size_t want = rd->chunk;; want *= 2) { /* no progress (a record longer than the chunk): a longer one */
        const char *t;
        size_t n, raw_upto;
        int eof;
        if (rd->gz) {
            if (rd->start) { /* the unparsed tail to the front */
                memmove(rd->text.p, rd->text.p + rd->start, rd->text.len - rd->start);
                rd->text.len -= rd->start, rd->start = 0;
            }
            size_t before = rd->text.len;
            map_window(rd, rd->sha_pos, rd->sha_pos); /* the compressed bytes inflated and hashed before */
            more_text(rd, want);
            rd->text_bytes += rd->text.len - before;
            t = rd->text.p ? rd->text.p : "", n = rd->text.len, eof = rd->got_done;
            raw_upto = eof ? rd->raw_n : rd->got_pos;
        } else {
            t = (const char *)rd->raw + rd->start, n = rd->raw_n - rd->start < want ? rd->raw_n - rd->start : want;
            eof = rd->start + n == rd->raw_n;
            raw_upto = rd->start + n;
            map_window(rd, rd->start, raw_upto);
        }
        size_t taken = parse_chunk(rd, t, n, eof, raw_upto, f);
        rd->start += taken;
        if (!rd->gz) rd->text_bytes = rd->start;
        rd->next_index += f->n;
        rd->length_mismatches += f->length_mismatches;
        if (eof) rd->done = 1;
        if (taken || eof) return taken || f->n;
    }
}

size_t wet_reader_raw_done(const wet_reader *rd) { return rd->done ? rd->raw_n : rd->gz ? rd->got_pos : rd->start; }

void wet_reader_sha256(wet_reader *rd, char hex[65]) {
    uint8_t d[SHA256_DIGEST_SIZE];
    hash_raw(rd, rd->raw_n);
    sha256_digest(&rd->sha, sizeof d, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* ---- a whole file at once ------------------------------------------------------------------------------------- */

int wet_file_parse(const uint8_t *raw, size_t n, size_t chunk, wet_file *f) {
    wet_reader rd;
    memset(f, 0, sizeof *f);
    wet_reader_open_memory(&rd, raw, n, chunk, 0);
    wet_file all = {0}; /* every chunk's records, their spans into one arena */
    while (wet_reader_next(&rd, f) > 0) {
        size_t base = all.arena.len;
        lmc_buf_append(&all.arena, f->arena.p ? f->arena.p : "", f->arena.len);
        if (all.n + f->n > all.cap) all.recs = lmc_xrealloc(all.recs, (all.cap = all.n + f->n + 16) * sizeof *all.recs);
        for (size_t i = 0; i < f->n; i++) {
            wet_record r = f->recs[i];
            span *sp[] = {&r.url, &r.date, &r.digest, &r.record_id, &r.lang, &r.title, &r.content};
            for (size_t k = 0; k < sizeof sp / sizeof sp[0]; k++) sp[k]->off += base;
            all.recs[all.n++] = r;
        }
    }
    all.raw_bytes = n, all.text_bytes = rd.text_bytes, all.length_mismatches = rd.length_mismatches;
    memcpy(all.gzip_problem, rd.gzip_problem, sizeof all.gzip_problem);
    wet_reader_close(&rd);
    wet_file_free(f);
    *f = all;
    return 0;
}

void wet_file_free(wet_file *f) {
    lmc_buf_free(&f->arena);
    free(f->recs);
    memset(f, 0, sizeof *f);
}
