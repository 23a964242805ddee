/* util.h — small shared helpers: errors, files (plain or gzip), SHA-256, base64; the growable buffer, reading
 * and writing whole files, lmc_now and the x-allocators are public (include/lmc_tools.h). */
#ifndef LMC_UTIL_H
#define LMC_UTIL_H

#include "lmc.h"
#include "lmc_tools.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Like lmc_read_file, but tries `path` and then `path.gz`; *found_path (may be NULL) receives the one read. */
int lmc_read_file_or_gz(const char *path, char **data, size_t *len, char *found_path, size_t found_cap,
                        lmc_err *err);

/* The pid of another process holding a flock on fd's file (from /proc/locks); 0 when unknown. */
int lmc_lock_holder(int fd);

/* A whole file mapped read-only (PROT_READ, MAP_PRIVATE): model weights, WET files. An empty file has data NULL
 * and size 0. */
typedef struct lmc_map {
    const uint8_t *data;
    size_t         size;
} lmc_map;

/* Maps the regular file at path; errors name it ("cannot open: ...", "not a regular file", "cannot mmap"). */
int  lmc_map_file(const char *path, lmc_map *m, lmc_err *err);
void lmc_unmap(lmc_map *m); /* and zeroes m; no-op on a zeroed one */

bool lmc_file_exists(const char *path);
bool lmc_is_dir(const char *path);

/* snprintf into a fixed buffer joining dir + "/" + name. Returns buf. */
char *lmc_path_join(char *buf, size_t cap, const char *dir, const char *name);

/* malloc/realloc/calloc for small bookkeeping allocations: on out-of-memory they call lmc_oom (the program's
 * handler, then abort; lmc.h) with what the bytes were for. Large buffers are allocated with plain malloc and a
 * reported error. */
void  lmc_oom(size_t bytes, const char *what) __attribute__((noreturn));
/* lmc_xmalloc, lmc_xcalloc, lmc_xrealloc, lmc_xstrdup: lmc_tools.h */

/* Writes all n bytes to fd, continuing after a short write or EINTR: 0, or -1 with errno set. */
int lmc_write_all(int fd, const void *p, size_t n);

/* SHA-256 */
typedef struct lmc_sha256 {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t  block[64];
    size_t   fill;
} lmc_sha256;
void lmc_sha256_init(lmc_sha256 *s);
void lmc_sha256_update(lmc_sha256 *s, const void *data, size_t n);
void lmc_sha256_final(lmc_sha256 *s, uint8_t out[32]);
void lmc_sha256_hex(const void *data, size_t n, char hex[65]);
/* Finishes s and writes its digest as 64 lowercase hex digits + NUL. */
void lmc_sha256_final_hex(lmc_sha256 *s, char hex[65]);

/* The n hex digits at s as a number (n <= 16): 0, or -1 on any other character. Uppercase digits count only when
 * upper_ok (JSON \u escapes); lmc's own formats write lowercase and accept nothing else. */
int lmc_hex_value(const char *s, size_t n, int upper_ok, uint64_t *out);

/* Base64 (standard alphabet, padded). Encode returns a malloc'ed NUL-terminated string. Decode returns
 * -1 on malformed input. */
char *lmc_base64_encode(const void *data, size_t n);
int   lmc_base64_decode(const char *s, size_t slen, uint8_t **out, size_t *out_len);

/* UTF-8: returns the number of bytes of the first invalid sequence's offset in *bad_off and false when
 * s[0..n) is not valid UTF-8 (no surrogates, no overlongs, max U+10FFFF). *chars gets the code points. */
bool lmc_utf8_validate(const char *s, size_t n, size_t *chars, size_t *bad_off);

/* v as the shortest decimal (15 to 17 significant digits) that reads back as exactly the same double. */
void lmc_fmt_double_exact(char out[40], double v);

/* CPU time of the whole process in seconds (all threads). */
double lmc_cpu_now(void);

/* MemAvailable + SwapFree from /proc/meminfo, in bytes (0 when unknown). */
size_t lmc_memory_available(void);

/* The shared reference directory for tests and tools: $LMC_SHARED, default "../shared". */
const char *lmc_shared_dir(void);

#endif
