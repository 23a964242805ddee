/* test_decode.c — token ids back to text (lmc_token_bytes) and the streaming UTF-8 hold-back (lmc_utf8_ready).
 *
 * For each kind of tokenizer (byte-level BPE: the demo model and the Qwen2 fixture; SentencePiece-style BPE:
 * TinyStories-656K; llama2.c tok512.bin with byte fallback), decoding the ids of a text token by
 * token gives the text back byte for byte (SentencePiece-style tokenizers add their dummy-prefix space in
 * front, which HF's decoder strips: expected here), and the chunks a streaming writer emits, holding back
 * incomplete characters, are each valid UTF-8. The text mixes ASCII, Latin-1, CJK, an emoji and controls, so
 * some characters split across byte tokens. */
#include "test.h"
#include "tokenizer/tokenizer.h"
#include "common/util.h"

#include <stdint.h>

static const char TEXT[] = "Once upon a time, Lily said: «ünïcödé» — 日本語のテキスト 🙂🙃 x\n\ttabs  and  spaces.";
/* TinyStories-656K's 2048-token vocabulary has no byte tokens: other characters (tab too) become <unk>, so its
 * text is printable ASCII (a lossy tokenizer cannot round-trip, whatever the decoder). */
static const char ASCII_TEXT[] = "Once upon a time, Lily said: \"let's play!\" x\n  two  spaces.";

/* Whether s[0..n) is valid UTF-8 (no sequence cut). */
static int valid_utf8(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t l = s[i] < 0x80 ? 1 : s[i] >= 0xC2 && s[i] < 0xE0 ? 2 : s[i] >= 0xE0 && s[i] < 0xF0 ? 3
                 : s[i] >= 0xF0 && s[i] <= 0xF4 ? 4 : 0;
        if (!l || i + l > n) return 0;
        for (size_t j = 1; j < l; j++) if ((s[i + j] & 0xC0) != 0x80) return 0;
        i += l;
    }
    return 1;
}

static void round_trip(lmc_tokenizer *tok, const char *text, const char *prefix) {
    int32_t *ids;
    size_t n;
    lmc_err e;
    REQUIRE(lmc_tokenize(tok, text, strlen(text), 0, &ids, &n, &e) == 0, "%s", e.msg);
    lmc_buf all = {0}, pending = {0}, streamed = {0};
    int split_pieces = 0, bad_chunk = 0;
    for (size_t i = 0; i < n; i++) {
        char piece[256];
        long len = lmc_token_bytes(tok, ids[i], piece, sizeof piece);
        CHECK(len >= 0 && len < (long)sizeof piece, "id %d: %ld bytes", ids[i], len);
        if (len < 0 || len >= (long)sizeof piece) break;
        lmc_buf_append(&all, piece, (size_t)len);
        if (!valid_utf8(piece, (size_t)len)) split_pieces++;
        /* the streaming writer: append, write what is ready, keep the rest */
        lmc_buf_append(&pending, piece, (size_t)len);
        size_t ready = lmc_utf8_ready(pending.p, pending.len);
        if (!valid_utf8(pending.p, ready)) bad_chunk++;
        lmc_buf_append(&streamed, pending.p, ready);
        memmove(pending.p, pending.p + ready, pending.len - ready);
        pending.len -= ready;
    }
    lmc_buf_append(&streamed, pending.p, pending.len);
    lmc_buf want = {0};
    lmc_buf_printf(&want, "%s%s", prefix, text);
    CHECK(all.len == want.len && memcmp(all.p, want.p, want.len) == 0, "decoded '%.*s'", (int)all.len, all.p);
    CHECK(streamed.len == want.len && memcmp(streamed.p, want.p, want.len) == 0, "streamed differs");
    CHECK(bad_chunk == 0, "%d streamed chunks cut a character", bad_chunk);
    printf("  %zu tokens, %d of them not whole characters\n", n, split_pieces);
    char b[8];
    int bos = lmc_tokenizer_bos(tok);
    if (bos >= 0) CHECK(lmc_token_bytes(tok, bos, b, sizeof b) == 0, "BOS decodes to text");
    CHECK(lmc_token_bytes(tok, -1, b, sizeof b) == -1, "id -1 accepted");
    CHECK(lmc_token_bytes(tok, lmc_tokenizer_vocab_size(tok), b, sizeof b) == -1, "id = vocab size accepted");
    lmc_buf_free(&all); lmc_buf_free(&pending); lmc_buf_free(&streamed); lmc_buf_free(&want);
    free(ids);
}

static void with_dir(const char *dir, const char *text, const char *prefix) {
    lmc_tokenizer *tok;
    lmc_err e;
    REQUIRE(lmc_tokenizer_open(dir, &tok, &e) == 0, "%s", e.msg);
    round_trip(tok, text, prefix);
    lmc_tokenizer_free(tok);
}

static void test_decode_demo_bytelevel(void) {
    struct stat st;
    if (stat("demo-model/tokenizer.json", &st)) SKIP("demo-model/ not found (run from the repository root)");
    with_dir("demo-model", TEXT, "");
}

static void test_decode_qwen2_bytelevel(void) {
    SHARED_OR_SKIP(dir, "fixtures/arch/qwen2/model");
    with_dir(dir, TEXT, "");
}

static void test_decode_sentencepiece(void) {
    SHARED_OR_SKIP(dir, "models/TinyStories-656K-f32");
    with_dir(dir, ASCII_TEXT, " ");
}

static void test_decode_llama2c(void) {
    SHARED_OR_SKIP(path, "models/stories260K/tok512.bin");
    char *bin;
    size_t len;
    lmc_err e;
    REQUIRE(lmc_read_file(path, &bin, &len, &e) == 0, "%s", e.msg);
    lmc_tokenizer *tok;
    int rc = lmc_tokenizer_from_llama2c(bin, len, path, &tok, &e);
    free(bin);
    REQUIRE(rc == 0, "%s", e.msg);
    round_trip(tok, TEXT, " ");
    lmc_tokenizer_free(tok);
}

static void test_utf8_ready(void) {
    CHECK(lmc_utf8_ready("abc", 3) == 3, "ascii");
    CHECK(lmc_utf8_ready("a\xC3", 2) == 1, "2-byte lead held");
    CHECK(lmc_utf8_ready("a\xC3\xBC", 3) == 3, "2-byte complete");
    CHECK(lmc_utf8_ready("a\xE6\x97", 3) == 1, "3-byte, 2 of 3 held");
    CHECK(lmc_utf8_ready("\xF0\x9F\x99", 3) == 0, "4-byte, 3 of 4 held");
    CHECK(lmc_utf8_ready("\xF0\x9F\x99\x82", 4) == 4, "4-byte complete");
    CHECK(lmc_utf8_ready("a\xFF", 2) == 2, "invalid byte not held forever");
    CHECK(lmc_utf8_ready("a\x80\x80\x80", 4) == 4, "stray continuations not held");
    CHECK(lmc_utf8_ready("", 0) == 0, "empty");
}

int main(void) {
    RUN(test_decode_demo_bytelevel);
    RUN(test_decode_qwen2_bytelevel);
    RUN(test_decode_sentencepiece);
    RUN(test_decode_llama2c);
    RUN(test_utf8_ready);
    return test_summary();
}
