/* lmc_corpus.h — building fresh evaluation corpora offline (`lmc corpus`, docs/corpus.md): Common Crawl WET files
 * → the `cc` subset the way CCNet builds it (records, length, paragraph dedup, language id), written as the JSON
 * Lines `lmc eval` reads, with a manifest beside the output that says what was kept and why.
 *
 * Conventions are lmc.h's: 0 / -1 and an lmc_err naming the file and the problem; the library never prints. */
#ifndef LMC_CORPUS_H
#define LMC_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "lmc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- paragraph hashes (CCNet's dedup) --------------------------------------------------------- */

/* CCNet's normalize_for_dedup of one line: strip (Unicode white space), lowercase (per code point: utf8proc's
 * simple mapping), every decimal digit (Unicode Nd) → '0', delete U+0000–001F, U+007F–009F and CCNet's 34
 * Unicode punctuation characters. ASCII punctuation is kept. Invalid UTF-8 bytes are kept as they are.
 * Returns a malloc'ed, NUL-terminated string; *out_len its length in bytes. */
char *lmc_corpus_normalize_for_dedup(const char *line, size_t len, size_t *out_len);

/* The line's hash: the first 8 bytes of SHA-1 of the UTF-8 of normalize_for_dedup(line), read little-endian
 * (CCNet's str_hash). */
uint64_t lmc_corpus_line_hash(const char *line, size_t len);

/* ---- lmc corpus wet --------------------------------------------------------------------------- */

typedef enum lmc_dedup_mode {
    LMC_DEDUP_TWO_PASS,   /* a line in two or more documents of the scope is dropped from all of them (CCNet) */
    LMC_DEDUP_KEEP_FIRST, /* the first document that has the line keeps it */
    LMC_DEDUP_OFF,
} lmc_dedup_mode;

/* Where a long run stands: wet reports after every chunk of every pass ("hashing": dedup's first pass, then
 * "writing"; unit "bytes": the inputs as on disk, over all passes), code after every input ("reading", unit
 * "inputs") and block of files ("features", "near-dedup", unit "files"), arxiv after every paper ("papers",
 * unit "bytes" of the source tars). */
typedef struct lmc_corpus_progress {
    const char *phase;
    const char *unit;
    uint64_t    done, total; /* of the unit: the run's (wet, arxiv) or the phase's (code) */
    uint64_t    text_bytes;  /* text read so far: uncompressed WET text, Python source, TeX papers' gzip */
} lmc_corpus_progress;
typedef void (*lmc_corpus_progress_fn)(const lmc_corpus_progress *p, void *user);

typedef struct lmc_wet_opts {
    long           min_len;      /* drop content of fewer code points (before dedup); CCNet: 300 */
    lmc_dedup_mode dedup;
    long           dedup_group;  /* dedup scope: groups of this many input files (the paper: 18); 0: all input */
    int            lid;          /* 1: fastText language id (needs lid_model and the fasttext program) */
    const char    *lid_model;    /* lid.176.bin / .ftz */
    const char    *fasttext;     /* the fasttext program; NULL: "fasttext" on PATH */
    const char    *lang;         /* the label kept: "en" */
    double         lid_min_score;/* kept when the score, rounded to 2 decimals, is at least this (0.5) */
    int            quality;      /* 1: keep the "head" bucket of a word 5-gram model trained on quality_ref */
    const char    *quality_ref;  /* the reference text (JSON Lines, WET or plain) */
    const char    *exclude_hashes; /* a line-hashes file (lmc corpus hashes): its lines are dropped; NULL: none */
    const char    *crawl_after;  /* YYYY-MM-DD: keep WARC-Date >= this day; NULL: no bound */
    const char    *crawl_before; /* YYYY-MM-DD: keep WARC-Date < this day; NULL: no bound */
    int            threads;      /* OpenMP threads (0: the default); the output does not depend on it */
    size_t         chunk_bytes;  /* WET text parsed at once (0: 16 MiB); nor does it depend on this */
    const char    *arguments;    /* the command line, recorded in the manifest (may be NULL) */
    lmc_corpus_progress_fn progress; /* NULL: no reports */
    void          *progress_user;
} lmc_wet_opts;

/* CCNet's defaults: min_len 300, two-pass dedup over all input, no language id, lang "en", score 0.5. */
void lmc_wet_opts_default(lmc_wet_opts *o);

/* What a run kept (the manifest has the details). */
typedef struct lmc_corpus_summary {
    size_t records;  /* WARC records read */
    size_t docs;     /* documents written */
    size_t chars;    /* their code points */
    size_t bytes;    /* their UTF-8 bytes */
    size_t problems; /* bad input counted (truncated gzip, malformed headers, length mismatches, bad UTF-8) */
    int    lid_skipped; /* 1: language id was asked for but could not run (reason in the manifest) */
} lmc_corpus_summary;

/* Reads the WET files (gzip, one member per record or not, or plain), runs the steps and writes out_path
 * (JSON Lines {"content", "subset": "cc", "meta"}) and out_path's ".manifest.json" (out_path without its
 * ".jsonl"), both atomically. The output is the same bytes at any OpenMP thread count. Bad records are counted
 * in the manifest and skipped; an input that cannot be read at all fails the run (nothing is written). */
int lmc_corpus_wet(const lmc_wet_opts *o, const char *const *inputs, size_t n_inputs, const char *out_path,
                   lmc_corpus_summary *sum, lmc_err *err);

/* The manifest's path for an output path: "X.jsonl" → "X.manifest.json", else path + ".manifest.json".
 * Written into buf (cap bytes); returns buf. */
char *lmc_corpus_manifest_path(const char *out_path, char *buf, size_t cap);

/* ---- lmc corpus code ------------------------------------------------------------------------------- */

typedef struct lmc_code_opts {
    const char *created_after;   /* YYYY-MM-DD: keep repositories created on or after this day; NULL: no bound */
    const char *created_before;  /* keep repositories created before this day; a git repository's tree is its
                                  * last commit before it */
    const char *repo_meta;       /* repos.jsonl: {repo, created_at, stars, license} per repository; NULL: none */
    const char *ratio_tokenizer; /* a tokenizer lmc loads, for the char/token ratio filter; NULL: step skipped */
    uint64_t    seed;            /* the seeded drops (config-or-test, no keywords) */
    int         near_dedup;      /* 1: MinHash near-dedup (CodeParrot's) */
    double      near_threshold;  /* 0.85 */
    long        segment_files;   /* files per segment (meta.segment) */
    int         threads;
    const char *arguments;
    lmc_corpus_progress_fn progress; /* NULL: no reports */
    void       *progress_user;
} lmc_code_opts;

/* seed 1, near-dedup at 0.85, segments of 8 files. */
void lmc_code_opts_default(lmc_code_opts *o);

/* `lmc corpus code`: Python files of git repositories (libgit2), plain directories or tarballs (libarchive) →
 * the `python` subset with CodeParrot's filters (docs/corpus.md), written atomically with a manifest. */
int lmc_corpus_code(const lmc_code_opts *o, const char *const *inputs, size_t n_inputs, const char *out_path,
                    lmc_corpus_summary *sum, lmc_err *err);

/* ---- lmc corpus arxiv ------------------------------------------------------------------------------ */

typedef struct lmc_arxiv_opts {
    const char *meta;             /* the metadata snapshot, JSON Lines (arxiv-metadata-oai-snapshot.json) */
    const char *category;         /* kept when the primary category's prefix before '.' equals it: "math" */
    const char *submitted_after;  /* YYYY-MM-DD on the first version's date; NULL: no bound */
    const char *submitted_before;
    const char *pandoc;           /* the program; NULL: "pandoc" on PATH */
    double      pandoc_timeout;   /* seconds of wall clock per paper (10) */
    int         latex;            /* 1: keep the LaTeX source, no pandoc */
    const char *arguments;
    lmc_corpus_progress_fn progress; /* NULL: no reports */
    void       *progress_user;
} lmc_arxiv_opts;

void lmc_arxiv_opts_default(lmc_arxiv_opts *o);

/* `lmc corpus arxiv`: arXiv bulk source tars (members YYMM/<id>.gz: a gzipped tar or a gzipped .tex; .pdf
 * skipped) → the `arxiv_math` subset, written atomically with a manifest. */
int lmc_corpus_arxiv(const lmc_arxiv_opts *o, const char *const *tars, size_t n_tars, const char *out_path,
                     lmc_corpus_summary *sum, lmc_err *err);

/* ---- freshness: hashes of older text, and decontamination against them ------------------------------- */

typedef enum lmc_overlap_unit {
    LMC_UNIT_LINE,   /* a line's hash (lmc_corpus_line_hash) */
    LMC_UNIT_13GRAM, /* word 13-grams of normalize_for_dedup(line) words, joined by one space, hashed alike */
} lmc_overlap_unit;

/* `lmc corpus hashes`: the distinct unit hashes of every document of the inputs (JSON Lines, WET or plain text)
 * into out_path: "LMCHASH1", the unit ("line" or "13gram", 8 bytes NUL-padded), the count (u64 LE), the sorted
 * hashes (u64 LE). A manifest is written beside it. *n_hashes: how many. */
int lmc_corpus_hashes(const char *const *inputs, size_t n_inputs, lmc_overlap_unit unit, const char *arguments,
                      const char *out_path, size_t *n_hashes, lmc_err *err);

typedef struct lmc_decontam_opts {
    const char      *in;          /* JSON Lines to filter */
    const char      *against;     /* a hashes file, or any text file (its units are hashed here) */
    lmc_overlap_unit unit;        /* must match a hashes file's */
    double           max_overlap; /* drop a document whose share of units found in `against` exceeds this */
    const char      *arguments;   /* for the manifest */
} lmc_decontam_opts;

/* `lmc corpus decontam`: writes the records of o->in whose overlap is at most max_overlap, each with
 * meta.overlap_frac added (records are otherwise rewritten as they were, keys in their order). */
int lmc_corpus_decontam(const lmc_decontam_opts *o, const char *out_path, lmc_corpus_summary *sum, lmc_err *err);

/* ---- sampling and statistics ------------------------------------------------------------------------ */

typedef struct lmc_sample_opts {
    const char *in;         /* JSON Lines */
    uint64_t    chars;      /* stop once at least this many code points are taken */
    uint64_t    seed;
    int         by_segment; /* 1: take whole segments (records with the same meta.repo and meta.segment) */
    const char *arguments;
} lmc_sample_opts;

/* `lmc corpus sample`: units (documents or segments) in the order of splitmix64(seed ^ hash(unit)), taken until
 * the characters reach o->chars, written in file order. The choice does not depend on the file's order. */
int lmc_corpus_sample(const lmc_sample_opts *o, const char *out_path, lmc_corpus_summary *sum, lmc_err *err);

typedef struct lmc_corpus_stats {
    size_t docs, chars, bytes;
    size_t bad;               /* records skipped */
    double gzip_bpc, xz_bpc;  /* gzip -9 / xz -9 bits of the contents joined by '\n', per content character */
    size_t n_months;          /* the date histogram: */
    char (*months)[8];        /* (n_months) "YYYY-MM", sorted; from meta.date_download, created or created_at */
    size_t *month_docs;       /* (n_months) */
    size_t undated;
} lmc_corpus_stats;

/* `lmc corpus stats`. */
int  lmc_corpus_stats_read(const char *path, lmc_corpus_stats *st, lmc_err *err);
void lmc_corpus_stats_free(lmc_corpus_stats *st);

#ifdef __cplusplus
}
#endif

#endif
