/* test_compress.c — lmc compress's parts: the range coder on synthetic tables (round trip, size against
 * Σ -log2(f/total), carries, truncation), the libm-free exp and the frequency tables, the model's step logits
 * bit for bit under 1 and 2 threads (what lets a file decode under another --threads), and lmcz_compress /
 * lmcz_decompress on the demo model: odd bytes round-trip, damaged and foreign files are refused. */
#include "compress/compress.h"
#include "compress/rangecoder.h"
#include "model/sample.h"
#include "test.h"
#include "common/threads.h"

#include <stdint.h>
#include <zlib.h>

/* ---- range coder ------------------------------------------------------------------------------- */

/* Codes n symbols drawn from freq (k symbols, total = Σ freq), decodes them back; returns the coded bytes, or
 * -1 on a mismatch. *ideal: Σ -log2(f/total) in bytes. */
static long coder_roundtrip(const uint32_t *freq, int k, size_t n, uint64_t seed, double *ideal) {
    uint32_t *cum = malloc(sizeof *cum * (size_t)(k + 1));
    cum[0] = 0;
    for (int i = 0; i < k; i++) cum[i + 1] = cum[i] + freq[i];
    uint32_t total = cum[k];
    int *sym = malloc(sizeof *sym * n);
    *ideal = 0;
    for (size_t i = 0; i < n; i++) { /* draw by frequency, so the ideal size is the entropy's */
        uint32_t r = (uint32_t)(lmc_rng_next(&seed) % total);
        int s = 0;
        while (cum[s + 1] <= r) s++;
        sym[i] = s;
        *ideal += -log2((double)freq[s] / total) / 8;
    }
    lmc_buf out = {0};
    rc_enc e;
    rc_enc_init(&e, &out);
    for (size_t i = 0; i < n; i++) rc_encode(&e, cum[sym[i]], freq[sym[i]], total);
    rc_enc_finish(&e);
    rc_dec d;
    rc_dec_init(&d, (const uint8_t *)out.p, out.len);
    long bytes = (long)out.len;
    for (size_t i = 0; i < n && bytes >= 0; i++) {
        int64_t t = rc_decode_target(&d, total);
        int s = 0;
        if (t < 0) { bytes = -1; break; }
        while (cum[s + 1] <= (uint32_t)t) s++;
        if (s != sym[i]) bytes = -1;
        rc_decode_update(&d, cum[s], freq[s]);
    }
    if (d.pos != d.n) bytes = -1; /* the decoder reads all the encoder wrote */
    lmc_buf_free(&out);
    free(sym);
    free(cum);
    return bytes;
}

static void test_rangecoder_roundtrip(void) {
    uint64_t seed = 42;
    for (int trial = 0; trial < 20; trial++) {
        int k = 2 + (int)(lmc_rng_next(&seed) % 300);
        uint32_t *freq = malloc(sizeof *freq * (size_t)k);
        /* totals from a few hundred to 2^30, some symbols at the floor of 1 */
        uint32_t scale = trial % 2 ? (1u << 30) / (uint32_t)k / 4 : 1000;
        for (int i = 0; i < k; i++) freq[i] = 1 + (uint32_t)(lmc_rng_next(&seed) % scale) * (i % 3 != 0);
        double ideal;
        long bytes = coder_roundtrip(freq, k, 5000, seed + (uint64_t)trial, &ideal);
        free(freq);
        REQUIRE(bytes >= 0, "trial %d (%d symbols): decoded symbols differ from the coded ones", trial, k);
        CHECK(bytes <= ideal * 1.001 + 2, "trial %d: %ld bytes for an ideal %.1f", trial, bytes, ideal);
    }
}

/* One symbol at 2^30 - 1 of 2^30 and one at 1: long runs of the likely one push 0xFF bytes and carries
 * through the cache, the rare one costs 30 bits exactly. */
static void test_rangecoder_skewed(void) {
    uint32_t freq[2] = {(1u << 30) - 1, 1};
    double ideal;
    long bytes = coder_roundtrip(freq, 2, 200000, 7, &ideal);
    REQUIRE(bytes >= 0, "skewed table: round trip failed");
    CHECK(bytes <= ideal * 1.001 + 2, "%ld bytes for an ideal %.2f", bytes, ideal);
    uint32_t half[2] = {1, 1}; /* one bit per symbol: 80000 symbols are 10000 bytes + the flush */
    bytes = coder_roundtrip(half, 2, 80000, 9, &ideal);
    REQUIRE(bytes >= 0, "fair coin: round trip failed");
    CHECK(bytes >= 9999 && bytes <= 10001, "fair coin: %ld bytes for 80000 bits", bytes);
}

/* The stream ends with the fewest bytes the decoder needs: 1000 bytes at 1/256 each take 1000 or 1001. */
static void test_rangecoder_flush(void) {
    lmc_buf out = {0};
    rc_enc e;
    rc_enc_init(&e, &out);
    for (int i = 0; i < 1000; i++) rc_encode(&e, (uint32_t)(i * 37 % 256), 1, 256);
    rc_enc_finish(&e);
    CHECK(out.len >= 999 && out.len <= 1001, "1000 bytes at 1/256 coded into %zu bytes", out.len);
    rc_dec d;
    rc_dec_init(&d, (const uint8_t *)out.p, out.len);
    int same = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t t = rc_decode_target(&d, 256);
        same &= t == i * 37 % 256;
        rc_decode_update(&d, (uint32_t)(t < 0 ? 0 : t), 1);
    }
    CHECK(same, "decoded bytes differ");
    lmc_buf_free(&out);
}

/* ---- probability path --------------------------------------------------------------------------- */

static void test_exp(void) {
    double worst = 0;
    for (double x = -740; x <= 0; x += 0.0137) {
        double a = lmcz_exp(x), b = exp(x), rel = fabs(a - b) / b;
        if (b > 1e-300 && rel > worst) worst = rel;
    }
    CHECK(worst < 1e-14, "largest relative error %.3g", worst);
    CHECK(lmcz_exp(0) == 1.0, "exp(0) = %.17g", lmcz_exp(0));
    CHECK(lmcz_exp(-INFINITY) == 0 && lmcz_exp(-800) == 0, "exp of -inf / -800 not 0");
}

static void test_table(void) {
    enum { N = 5000 };
    float *logits = malloc(sizeof(float) * N);
    uint64_t seed = 3;
    for (int i = 0; i < N; i++) logits[i] = 20.0f * (lmc_rng_float(&seed) - 0.5f);
    logits[1234] = 40.0f;  /* a clear favourite */
    logits[77] = -1e30f;   /* and tokens the model rules out: they keep the floor */
    lmcz_table t;
    lmcz_table_init(&t, N);
    lmc_err err;
    REQUIRE(lmcz_table_logits(&t, logits, 1, &err) == 0, "%s", err.msg);
    CHECK(t.cum[0] == 0 && t.cum[N + 1] == 1u << LMCZ_TOTAL_BITS, "total %u", t.cum[N + 1]);
    int mono = 1, top = 0;
    for (int i = 0; i <= N; i++) {
        mono &= t.cum[i + 1] > t.cum[i];
        if (i < N && t.cum[i + 1] - t.cum[i] > t.cum[top + 1] - t.cum[top]) top = i;
    }
    CHECK(mono, "a symbol with frequency 0");
    CHECK(top == 1234, "most likely symbol %d", top);
    CHECK(t.cum[78] - t.cum[77] == 1 && t.cum[N + 1] - t.cum[N] == 1, "floor / escape frequency wrong");
    /* the table's probabilities are the softmax's to ~n/2^30 */
    double lse = 0, mx = 40;
    for (int i = 0; i < N; i++) lse += exp((double)logits[i] - mx);
    double p = exp((double)logits[5] - mx) / lse, q = (double)(t.cum[6] - t.cum[5]) / (1u << LMCZ_TOTAL_BITS);
    CHECK(fabs(p - q) < 1e-8 + N / 1073741824.0, "p %.3g, table %.3g", p, q);
    for (int s = 0; s <= N; s += 997) /* every symbol's interval decodes to it, at both ends */
        CHECK(lmcz_table_find(&t, t.cum[s]) == s && lmcz_table_find(&t, t.cum[s + 1] - 1) == s, "find(%d)", s);
    logits[9] = NAN;
    CHECK(lmcz_table_logits(&t, logits, 1, &err) != 0 && strstr(err.msg, "non-finite"), "NaN logit accepted");
    lmcz_table_flat(&t);
    CHECK(t.cum[N + 1] == N + 1 && lmcz_table_find(&t, 17) == 17, "flat table");
    lmcz_table_free(&t);
    free(logits);
}

/* ---- the demo model ------------------------------------------------------------------------------ */

static lmc_model *open_demo(lmc_tokenizer **tok) {
    lmc_model_opts mo = {.compute = LMC_COMPUTE_F32};
    lmc_model *m;
    lmc_err err;
    if (lmc_model_open("demo-model", &mo, &m, &err)) return NULL;
    if (lmc_tokenizer_open("demo-model", tok, &err)) { lmc_model_close(m); return NULL; }
    return m;
}

/* The decoder may run with another thread count than the encoder: the step's logits must not depend on it. */
static void test_step_threads(void) {
    lmc_tokenizer *tok;
    lmc_model *m = open_demo(&tok);
    if (!m) SKIP("demo-model/ not found (run from the repository root)");
    enum { STEPS = 40, V = 4096 };
    float *lg[2];
    int32_t ids[STEPS];
    uint64_t seed = 5;
    for (int i = 0; i < STEPS; i++) ids[i] = (int32_t)(lmc_rng_next(&seed) % V);
    ids[0] = 0; /* BOS */
    lmc_err err = {{0}};
    int rc = 0;
    for (int r = 0; r < 2; r++) {
        lmc_threads_init(r + 1);
        lg[r] = malloc(sizeof(float) * V * STEPS);
        lmc_kv *kv;
        rc |= lmc_kv_open(m, STEPS, &kv, &err);
        for (int i = 0; i < STEPS && rc == 0; i++) rc |= lmc_model_step(m, kv, &ids[i], 1, lg[r] + (size_t)i * V, &err);
        lmc_kv_free(kv);
    }
    lmc_threads_init(0);
    CHECK(rc == 0, "%s", err.msg);
    if (rc == 0) {
        size_t diff = 0;
        for (size_t i = 0; i < (size_t)V * STEPS; i++) diff += memcmp(&lg[0][i], &lg[1][i], sizeof(float)) != 0;
        CHECK(diff == 0, "%zu of %d logits differ between 1 and 2 threads", diff, V * STEPS);
    }
    free(lg[0]);
    free(lg[1]);
    lmc_tokenizer_free(tok);
    lmc_model_close(m);
}

/* Compresses and decompresses in[0..n); returns the compressed size (-1 on a failure, reported). */
static long lib_roundtrip(lmc_model *m, lmc_tokenizer *tok, const uint8_t *in, size_t n, const char *what,
                          lmcz_stats *st, lmc_buf *file) {
    lmc_err err = {{0}};
    lmcz_opts o = {.window = 64}; /* small: contexts restart inside these inputs */
    file->len = 0;
    if (lmcz_compress(m, tok, in, n, what, &o, file, st, &err)) { t_note_fail(__FILE__, __LINE__, "%s: %s", what, err.msg); return -1; }
    uint8_t *out;
    size_t len;
    lmcz_stats ds;
    if (lmcz_decompress(m, tok, (const uint8_t *)file->p, file->len, what, NULL, &out, &len, &ds, &err)) {
        t_note_fail(__FILE__, __LINE__, "%s: %s", what, err.msg);
        return -1;
    }
    int same = len == n && memcmp(out, in, n) == 0;
    free(out);
    if (!same) { t_note_fail(__FILE__, __LINE__, "%s: round trip changed the bytes", what); return -1; }
    /* the whole file, header included, within 1% + 64 bytes of the ideal size of the run's own probabilities */
    double ideal = (st->model_bits + st->other_bits) / 8;
    if ((double)file->len > ideal * 1.01 + 64)
        t_note_fail(__FILE__, __LINE__, "%s: %zu bytes for an ideal %.1f", what, file->len, ideal);
    return (long)file->len;
}

static void test_lib_roundtrip(void) {
    lmc_tokenizer *tok;
    lmc_model *m = open_demo(&tok);
    if (!m) SKIP("demo-model/ not found (run from the repository root)");
    lmc_threads_init(1);
    static const char text[] = "Debian is a free operating system.\r\nIt comes with over 59000 packages.\n";
    static const uint8_t odd[] = {'a', 0, 'b', 0xff, 0xfe, 0xc3, '\n', 0xe2, 0x82, ' ', 0xed, 0xa0, 0x80, 0xf4,
                                  0x90, 0x80, 0x80, 0xc0, 0xaf, '\r', '\r', '\n', 0x80, 0xc3, 0xa9};
    uint8_t rnd[300], one = 0xC3;
    uint64_t seed = 11;
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)lmc_rng_next(&seed);
    lmcz_stats st;
    lmc_buf file = {0};
    long b = lib_roundtrip(m, tok, (const uint8_t *)text, sizeof text - 1, "text", &st, &file);
    if (b > 0) {
        double ideal = (st.model_bits + st.other_bits) / 8, stream = (double)(b - LMCZ_HEADER_BYTES);
        CHECK(stream <= ideal + 2, "coded stream %.0f bytes, ideal %.1f", stream, ideal);
        CHECK(st.model_tokens == st.tokens && st.escaped_bytes == 0, "a byte-level BPE needed escapes");
    }
    lib_roundtrip(m, tok, odd, sizeof odd, "odd bytes", &st, &file);
    lib_roundtrip(m, tok, rnd, sizeof rnd, "random bytes", &st, &file);
    CHECK(st.contexts >= 4, "300 random bytes in windows of 64: %zu contexts", st.contexts);
    lib_roundtrip(m, tok, &one, 1, "one byte", &st, &file);
    lmc_err err;
    CHECK(lmcz_compress(m, tok, &one, 0, "empty", NULL, &file, &st, &err) != 0 && strstr(err.msg, "empty"),
          "empty input accepted");
    lmc_buf_free(&file);
    lmc_threads_init(0);
    lmc_tokenizer_free(tok);
    lmc_model_close(m);
}

/* A tokenizer with more tokens than the model's embedding (another model's): refused by both sides before any
 * token is coded, naming both files and both sizes (it used to fail mid-stream naming no file). */
static void test_lib_tokenizer_mismatch(void) {
    SHARED_OR_SKIP(gpt2, "models/selftrained-gpt2-tiny/tokenizer.json");
    lmc_tokenizer *tok, *other;
    lmc_model *m = open_demo(&tok);
    if (!m) SKIP("demo-model/ not found (run from the repository root)");
    lmc_err err = {{0}};
    REQUIRE(lmc_tokenizer_open(gpt2, &other, &err) == 0, "%s", err.msg);
    CHECK(lmc_check_tokenizer_fits(m, tok, NULL, &err) == 0, "the demo model's own tokenizer: %s", err.msg);
    static const uint8_t text[] = "Once upon a time";
    lmcz_stats st;
    lmc_buf file = {0};
    CHECK(lmcz_compress(m, other, text, sizeof text - 1, "text", NULL, &file, &st, &err) == -1 &&
              strstr(err.msg, gpt2) && strstr(err.msg, "demo-model") && strstr(err.msg, "50257") &&
              strstr(err.msg, "4096"), "compress: %s", err.msg);
    CHECK(file.len == 0, "compress wrote %zu bytes", file.len);
    REQUIRE(lmcz_compress(m, tok, text, sizeof text - 1, "text", NULL, &file, &st, &err) == 0, "%s", err.msg);
    uint8_t *out = NULL;
    size_t n = 0;
    CHECK(lmcz_decompress(m, other, (uint8_t *)file.p, file.len, "f.lmcz", NULL, &out, &n, &st, &err) == -1 &&
              strstr(err.msg, "50257 tokens but model demo-model has 4096"), "decompress: %s", err.msg);
    CHECK(lmc_check_tokenizer_fits(m, other, "TOK", &err) == -1 && strstr(err.msg, "tokenizer TOK has"), "%s", err.msg);
    free(out);
    lmc_buf_free(&file);
    lmc_tokenizer_free(other);
    lmc_tokenizer_free(tok);
    lmc_model_close(m);
}

/* Recomputes the stream's and the header's CRC-32 of a compressed file with an sn-byte stream. */
static void set_crcs(uint8_t *c, size_t sn) {
    uLong crc = crc32(crc32(0L, Z_NULL, 0), c + LMCZ_HEADER_BYTES, (uInt)sn);
    for (int i = 0; i < 4; i++) c[LMCZ_H_STREAM_CRC + i] = (uint8_t)(crc >> (8 * i));
    crc = crc32(crc32(0L, Z_NULL, 0), c, LMCZ_H_HEADER_CRC);
    for (int i = 0; i < 4; i++) c[LMCZ_H_HEADER_CRC + i] = (uint8_t)(crc >> (8 * i));
}

/* Decompressing `f` must fail with an error containing `needle` (and produce nothing). */
static void expect_refused(lmc_model *m, lmc_tokenizer *tok, const uint8_t *f, size_t n, const char *what,
                           const char *needle) {
    uint8_t *out = NULL;
    size_t len = 0;
    lmcz_stats st;
    lmc_err err = {{0}};
    int rc = lmcz_decompress(m, tok, f, n, what, NULL, &out, &len, &st, &err);
    CHECK(rc != 0 && out == NULL, "%s: decompressed (%zu bytes)", what, len);
    CHECK(rc == 0 || strstr(err.msg, needle), "%s: error '%s' lacks '%s'", what, err.msg, needle);
    free(out);
}

static void test_lib_refuses(void) {
    lmc_tokenizer *tok;
    lmc_model *m = open_demo(&tok);
    if (!m) SKIP("demo-model/ not found (run from the repository root)");
    lmc_threads_init(1);
    static const char text[] = "The quick brown fox jumps over the lazy dog, again and again.\n";
    lmc_buf f = {0};
    lmcz_stats st;
    lmc_err err;
    REQUIRE(lmcz_compress(m, tok, (const uint8_t *)text, sizeof text - 1, "t", NULL, &f, &st, &err) == 0, "%s", err.msg);
    uint8_t *c = malloc(f.len + 1);
    memcpy(c, f.p, f.len);
    expect_refused(m, tok, c, 0, "empty", "empty file");
    expect_refused(m, tok, c, 1, "one byte", "not an lmc compressed file");
    expect_refused(m, tok, c, f.len - 1, "truncated", "truncated: the coded stream has");
    expect_refused(m, tok, c, 30, "cut header", "truncated");
    c[f.len] = 0;
    expect_refused(m, tok, c, f.len + 1, "trailing byte", "after the end of the coded stream");
    c[0] = 'X';
    expect_refused(m, tok, c, f.len, "magic", "no LMCZ magic");
    c[0] = 'L';
    c[LMCZ_H_LENGTH + 1] ^= 1; /* the length: the header's CRC notices */
    expect_refused(m, tok, c, f.len, "header bit", "damaged header");
    c[LMCZ_H_LENGTH + 1] ^= 1;
    for (size_t at = LMCZ_HEADER_BYTES; at < f.len; at += 5) { /* any byte of the coded stream */
        c[at] ^= 0x10;
        expect_refused(m, tok, c, f.len, "stream bit", "damaged");
        c[at] ^= 0x10;
    }
    /* Damage the stream's CRC does not see (recomputed, as a forger or a CRC collision would): decoding itself
     * must then fail, or give back exactly the original (a flip in low bits the last symbol does not need) */
    size_t sn = f.len - LMCZ_HEADER_BYTES, wrong = 0, refused = 0;
    for (size_t at = LMCZ_HEADER_BYTES; at < f.len; at += 2) {
        c[at] ^= 0x04;
        set_crcs(c, sn);
        uint8_t *out = NULL;
        size_t len = 0;
        if (lmcz_decompress(m, tok, c, f.len, "forged", NULL, &out, &len, &st, &err)) refused++;
        else wrong += len != sizeof text - 1 || memcmp(out, text, len) != 0;
        free(out);
        c[at] ^= 0x04;
    }
    set_crcs(c, sn);
    CHECK(wrong == 0, "%zu forged streams decoded to other bytes", wrong);
    CHECK(refused > sn / 4, "only %zu of %zu forged streams refused", refused, (sn + 1) / 2);
    c[LMCZ_H_MODEL + 2] ^= 1; /* the model fingerprint, header CRC recomputed: a file made with another model */
    set_crcs(c, sn);
    expect_refused(m, tok, c, f.len, "other model", "another model");
    free(c);
    lmc_buf_free(&f);
    lmc_threads_init(0);
    lmc_tokenizer_free(tok);
    lmc_model_close(m);
}

int main(void) {
    RUN(test_rangecoder_roundtrip);
    RUN(test_rangecoder_skewed);
    RUN(test_rangecoder_flush);
    RUN(test_exp);
    RUN(test_table);
    RUN(test_step_threads);
    RUN(test_lib_roundtrip);
    RUN(test_lib_refuses);
    RUN(test_lib_tokenizer_mismatch);
    return test_summary();
}
