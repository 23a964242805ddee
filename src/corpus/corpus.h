/* corpus.h — what the stages of `lmc corpus` share inside the library (the public API is include/lmc_corpus.h):
 * line rules (normalize.c), the WET reader (warc.c), the sets of hashes (dedup.c), language id (lid.c) and the
 * manifest's pieces (manifest.c). */
#ifndef LMC_CORPUS_INTERNAL_H
#define LMC_CORPUS_INTERNAL_H

#include "common/util.h"
#include "lmc_corpus.h"

#include <nettle/sha2.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* ---- normalize.c ------------------------------------------------------------------------------- */

/* [*b, *e) of s[0..len) without Python str.strip's white space at either end. */
void corpus_strip(const char *s, size_t len, size_t *b, size_t *e);
/* Python's str.isspace for one code point. */
int  corpus_py_space(int32_t c);
/* Appends normalize_for_dedup(line) to out. */
void corpus_normalize(const char *line, size_t len, lmc_buf *out);
/* First 8 bytes of SHA-1(data), little-endian. */
uint64_t corpus_hash_bytes(const void *data, size_t n);
/* lmc_corpus_line_hash with a caller's scratch buffer (no allocation per line). */
uint64_t corpus_line_hash(const char *line, size_t len, lmc_buf *scratch);

/* The hashes of content's lines (split on '\n'), malloc'ed, *n of them. */
uint64_t *corpus_line_hashes(const char *content, size_t len, size_t *n, lmc_buf *scratch);
/* Word 13-grams: the words (split on white space) of normalize_for_dedup of every line, each run of CORPUS_GRAM
 * hashed as the words joined by one space; malloc'ed, *n of them (0 for fewer words). */
#define CORPUS_GRAM 13
uint64_t *corpus_gram_hashes(const char *content, size_t len, size_t *n);

/* splitmix64's output function: the seeded, order-free random numbers of sampling (and the code pipeline's drops). */
static inline uint64_t corpus_splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A progress report to fn (NULL: none). */
static inline void corpus_report(lmc_corpus_progress_fn fn, void *user, const char *phase, const char *unit,
                                 uint64_t done, uint64_t total, uint64_t text_bytes) {
    lmc_corpus_progress p = {phase, unit, done, total, text_bytes};
    if (fn) fn(&p, user);
}

/* ---- warc.c: WET files, a chunk of records at a time ------------------------------------------------ */

/* A piece of wet_file.arena. */
typedef struct span {
    size_t off, len;
} span;

typedef enum wet_status {
    WET_OK,             /* a conversion record with a body */
    WET_NOT_CONVERSION, /* warcinfo, request, ...: skipped, as CCNet does */
    WET_BAD_HEADER,     /* no WARC-Type, a header line without ':' */
    WET_EMPTY,          /* no body line */
    WET_BAD_UTF8,       /* the body is not UTF-8 */
} wet_status;

typedef struct wet_record {
    span       url, date, digest, record_id, lang; /* header values ("" when absent) */
    span       title, content;                     /* first body line; the other lines joined with '\n' */
    size_t     index;                              /* the record's number in its file, from 0 */
    size_t     chars;                              /* code points of content */
    int        length_mismatch;                    /* Content-Length absent or wrong: resynchronised */
    wet_status status;
} wet_record;

/* Records: one chunk's (wet_reader_next) or a whole file's (wet_file_parse). */
typedef struct wet_file {
    lmc_buf     arena;          /* header values, titles and contents (a chunk's: as long as its text) */
    wet_record *recs;           /* (n) in file order */
    size_t      n, cap;
    size_t      raw_bytes;      /* wet_file_parse: as on disk */
    size_t      text_bytes;     /* wet_file_parse: after gunzip */
    size_t      length_mismatches; /* Content-Length that did not land on the next record: resynchronised */
    char        gzip_problem[200]; /* wet_file_parse: "" or what was wrong with the gzip stream */
} wet_file;

/* The piece of the arena a span names. */
static inline const char *wet_at(const wet_file *f, span s) { return f->arena.p + s.off; }
void wet_file_free(wet_file *f);

/* Text parsed at once by default: big enough for every thread to have many records, small enough to stay in
 * the caches' neighbourhood and to bound memory (a longer record gets a longer chunk). */
#define WET_CHUNK (16u << 20)

/* One WET file read a chunk at a time: mapped, gunzipped as it goes (gzip: members until damage; else plain). */
typedef struct wet_reader {
    lmc_map        map;        /* the file (zeroed for bytes in memory) */
    const uint8_t *raw;        /* (raw_n) the bytes as on disk */
    size_t         raw_n;
    int            gz;         /* raw starts with the gzip magic */
    z_stream       z;
    int            in_member, in_done; /* inside a gzip member; no more text (the inflating side's) */
    size_t         in_pos;     /* raw bytes inflated */
    struct wet_inflater *bg;   /* a thread inflating the next piece (a gzip file of more than two chunks), else NULL */
    size_t         got_pos;    /* raw bytes that the text taken so far covers */
    int            got_done;   /* that text ends the input */
    lmc_buf        text;       /* gzip: inflated text, [start, len) not parsed yet */
    size_t         start;      /* where parsing goes on: into text (gzip) or raw (plain) */
    size_t         chunk;      /* text parsed at once */
    int            done;
    size_t         next_index; /* the next record's number in the file */
    size_t         text_bytes; /* text read so far (after gunzip) */
    size_t         length_mismatches;
    char           gzip_problem[200]; /* "" or what was wrong with the gzip stream (the text before it is kept);
                                       * read it once wet_reader_next has returned 0 */
    int            want_sha;
    struct sha256_ctx sha;     /* of raw[0..sha_pos) */
    size_t         sha_pos;
    size_t         hash_upto;  /* raw bytes the chunks taken so far cover: to hash (wet_reader_hash_read) */
} wet_reader;

/* Opens path (chunk 0: WET_CHUNK); want_sha256: hash the bytes on disk as they are read (wet_reader_sha256). */
int  wet_reader_open(wet_reader *rd, const char *path, size_t chunk, int want_sha256, lmc_err *err);
/* The same over bytes in memory (kept by the caller). */
void wet_reader_open_memory(wet_reader *rd, const uint8_t *raw, size_t n, size_t chunk, int want_sha256);
/* The next chunk's records into f (reused from call to call; zeroed before the first): 1, or 0 at the end of the
 * file. The records are the same, numbered the same, at any chunk size and thread count. */
int  wet_reader_next(wet_reader *rd, wet_file *f);
/* Hashes (want_sha256) the raw bytes the last chunk covered: one thread may do it while others work on the
 * chunk; wet_reader_next does it when nobody has. */
void wet_reader_hash_read(wet_reader *rd);
/* Raw bytes (as on disk) read so far. */
size_t wet_reader_raw_done(const wet_reader *rd);
/* The sha256 of the whole file as 64 hex digits (want_sha256). */
void wet_reader_sha256(wet_reader *rd, char hex[65]);
void wet_reader_close(wet_reader *rd);
/* Every record of raw[0..n) at once (chunk 0: WET_CHUNK), f's spans into one arena. */
int  wet_file_parse(const uint8_t *raw, size_t n, size_t chunk, wet_file *f);

/* ---- dedup.c: the distinct line hashes of a dedup scope; a plain set of uint64 ----------------------------- */

typedef struct line_set {
    uint64_t *keys;      /* (n) sorted, distinct */
    uint64_t *multi;     /* ((n + 63) / 64) bit i: keys[i] is in two or more documents */
    uint64_t *claimed;   /* ((n + 63) / 64 + 1) bit i: a document has kept keys[i] (after line_set_seal) */
    size_t    n;
    uint64_t *batch;     /* (nb of batch_cap) documents' distinct hashes not merged yet */
    size_t    nb, batch_cap;
    size_t   *dir;       /* (2^dir_bits + 1) after line_set_seal: the first key of each top-bits bucket */
    int       dir_bits;
    size_t    peak;      /* the most bytes held (line_set_bytes, and a merge's scratch) */
} line_set;

/* Adds documents' hashes: each document's distinct ones (corpus_sort_unique), any number of documents at once,
 * in any order (the set does not depend on it). */
void   line_set_add(line_set *s, const uint64_t *h, size_t n);
/* Merges what is pending; the set is then read (line_set_find, _multi) and claimed (line_set_claim). */
void   line_set_seal(line_set *s);
/* keys' index of key, SIZE_MAX when absent. */
size_t line_set_find(const line_set *s, uint64_t key);
/* Starts the loads line_set_find(s, key) makes: stage 0 its directory entry, then stage 1 (the entry by then
 * cached) its keys, so that a document's lookups, prefetched line by line, wait on memory together. */
void   line_set_prefetch(const line_set *s, uint64_t key, int stage);
int    line_set_multi(const line_set *s, size_t i);
/* Marks keys[i] kept; 1 when it was not yet (atomic: threads may claim different keys at once). */
int    line_set_claim(line_set *s, size_t i);
/* Bytes the set holds now (keys, bits, batch, directory). */
size_t line_set_bytes(const line_set *s);
void   line_set_free(line_set *s);
/* Sorts h[0..n) and drops repeats; returns how many are left. */
size_t corpus_sort_unique(uint64_t *h, size_t n);

typedef struct hash_table {
    uint64_t *slots; /* (cap), cap a power of two, at most half full; 0 marks an empty slot (0 is stored as 1) */
    size_t    cap, n;
} hash_table;

void hash_table_free(hash_table *t);
/* Adds key if it is not there; returns 1 when it was added (the first time), 0 when it was already there. */
int  hash_table_insert(hash_table *t, uint64_t key);

/* ---- lid.c: fastText as a program --------------------------------------------------------------------- */

/* Runs `fasttext predict-prob model FILE 1` over texts (no '\n' in them, none empty) and fills labels[i]
 * (without "__label__", up to 15 bytes) and scores[i]. */
int corpus_lid(const char *program, const char *model, const char *const *texts, size_t n, char (*labels)[16],
               double *scores, lmc_err *err);
/* Whether the program can be run (found on PATH or as a path). */
int corpus_program_found(const char *program);

/* ---- texts.c: documents of any text file (JSON Lines, WET, plain) ------------------------------------------ */

typedef enum texts_kind { TEXTS_JSONL, TEXTS_WET, TEXTS_PLAIN } texts_kind;

typedef struct text_doc {
    span   content; /* in text_set.buf */
    span   line;    /* JSON Lines: the record's line in text_set.raw */
    size_t chars;   /* code points of content */
} text_doc;

typedef struct text_set {
    texts_kind kind;
    lmc_buf    buf;        /* the documents' contents */
    char      *raw;        /* JSON Lines: the file's text (gunzipped), NULL otherwise */
    size_t     raw_len;
    text_doc  *docs;       /* (n) in file order */
    size_t     n, cap;
    size_t     bad;        /* records skipped: not JSON, no "content" string, not UTF-8 */
    char       first_bad[300]; /* "FILE: line N: why" of the first, "" when none */
} text_set;

/* Reads path: ".jsonl" / ".json" (optionally ".gz") as JSON Lines (every record's "content"); a file whose text
 * starts with "WARC/" as WET (the conversion records' contents); anything else as one plain-text document. */
int  texts_read(const char *path, text_set *s, lmc_err *err);
/* Document i's content. */
static inline const char *text_content(const text_set *s, size_t i) {
    return s->buf.p ? s->buf.p + s->docs[i].content.off : "";
}
void texts_free(text_set *s);

/* ---- quality.c: the word 5-gram model (interpolated Witten–Bell) --------------------------------------------- */

typedef struct ngram_model ngram_model;
/* Trains on every document of path (JSON Lines, WET or plain text). */
int    ngram_train(const char *path, ngram_model **m, lmc_err *err);
/* Perplexity per word (line ends count as words) of text; 0 for a text without words. */
double ngram_perplexity(const ngram_model *m, const char *text, size_t len);
void   ngram_free(ngram_model *m);

/* ---- hashes.c ------------------------------------------------------------------------------------------------ */

/* A line-hashes file (lmc corpus hashes) as a sorted array (*h malloc'ed, *n). */
int corpus_hashes_load(const char *path, uint64_t **h, size_t *n, lmc_err *err);
int corpus_hashes_has(const uint64_t *h, size_t n, uint64_t key);

/* ---- sources.c: the files of repositories, directories and tarballs ---------------------------------------- */

typedef enum code_status {
    CODE_OK,
    CODE_TOO_BIG,   /* over 1 MiB */
    CODE_NOT_UTF8,
    CODE_UNREADABLE,
} code_status;

typedef struct code_file {
    size_t      repo;    /* index into code_set.repos */
    char       *path;    /* inside the repository */
    char       *text;    /* the bytes (NULL when not read: too big) */
    size_t      len, chars;
    code_status status;
} code_file;

typedef struct code_repo {
    char  name[256];     /* the directory's or tarball's base name */
    char  created[32];   /* YYYY-MM-DD... of its first commit (or the tarball's commit); "" unknown */
    char  date_source[32];
    char  commit[48];    /* the commit read ("" for a plain directory) */
    char  problem[300];  /* "" or why it could not be read whole (corrupt tar, ...) */
} code_repo;

typedef struct code_set {
    code_repo *repos;    /* (n_repos) in input order */
    size_t     n_repos;
    code_file *files;    /* (n) */
    size_t     n, cap;
    size_t     non_py;   /* files skipped for their extension */
} code_set;

/* Reads every input (a git repository, a directory, a .tar/.tar.gz/.tgz) into s; before (YYYY-MM-DD or NULL)
 * picks a git repository's last commit before that day. Fails only when an input cannot be opened at all.
 * Reports "reading" after every input. */
int  code_sources_read(const char *const *inputs, size_t n, const char *before, code_set *s,
                       lmc_corpus_progress_fn progress, void *user, lmc_err *err);
void code_set_free(code_set *s);
/* A tarball held in memory as the one repository of s (for the fuzz target; damage goes to repos[0].problem). */
void code_tar_read_memory(const void *data, size_t n, code_set *s);

/* ---- arxiv.c ------------------------------------------------------------------------------------------------ */

/* Scans a metadata snapshot held in memory as lmc corpus arxiv does: records kept for category, and bad ones. */
void corpus_arxiv_meta_scan(const char *data, size_t n, const char *category, size_t *kept, size_t *bad);

/* ---- minhash.c: CodeParrot's near-dedup -------------------------------------------------------------------- */

/* drop[i] = 1 for every file that is a near-duplicate (Jaccard of token sets >= threshold) of a kept file before
 * it in its cluster; files with fewer than 10 tokens are left alone. Returns the number dropped. Reports
 * "near-dedup" after every block of signatures. */
size_t code_near_dedup(const char *const *texts, const size_t *lens, size_t n, double threshold, unsigned char *drop,
                       size_t *clusters, lmc_corpus_progress_fn progress, void *user);

/* ---- manifest.c ------------------------------------------------------------------------------------ */

/* sha256 of a whole file as 64 hex digits. */
int corpus_sha256_file(const char *path, char hex[65], lmc_err *err);

/* The manifest of a one-step command (hashes, decontam, sample): inputs with their sha256, the step's counts. */
typedef struct step_manifest {
    const char        *command, *arguments; /* "corpus sample", the command line (may be NULL) */
    long long          seed;                /* -1: none */
    const char *const *inputs;              /* (n_inputs) */
    size_t             n_inputs;
    const char        *step, *params;       /* the step's name; its params as a JSON object's text */
    size_t             docs_in, docs_out, chars_in, chars_out, bytes_out;
    size_t             bad;                 /* input records skipped */
    const char        *first_bad;           /* the first one named ("" when none) */
    const char        *out_path;
} step_manifest;

/* Writes the manifest beside m->out_path (atomically), then out_path ← data[0..len) atomically; on failure
 * neither is left. */
int corpus_write_with_manifest(const step_manifest *m, const void *data, size_t len, lmc_err *err);

/* One step of a multi-step run, as its manifest lists it. */
typedef struct filter_row {
    const char *name;
    char        params[400]; /* a JSON object's text */
    size_t      docs_in, docs_out, chars_in, chars_out;
    int         skipped;     /* 1: did not run (reason says why); its counts are zero */
    char        reason[300];
} filter_row;

typedef struct run_manifest {
    const char        *command, *arguments, *subset;
    long long          seed;      /* -1: none */
    const char *const *inputs;    /* (n_inputs): files get their sha256, directories null */
    size_t             n_inputs;
    const char        *read_json; /* the "read" object's text */
    const filter_row  *rows;      /* (n_rows) in order */
    size_t             n_rows;
    const char        *out_path;
    size_t             docs, chars, bytes;
} run_manifest;

/* Writes the manifest of a multi-step run beside m->out_path, atomically. */
int corpus_manifest_write(const run_manifest *m, lmc_err *err);

#endif
