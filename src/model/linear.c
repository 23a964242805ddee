/* linear.c — weights of any dtype behind one call (see linear.h). */
#include "model/linear.h"
#include "dequant.h"
#include "kernels.h"
#include "common/util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lmc_shape_str(const lmc_tensor *t, char *buf, size_t cap) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < t->ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

static int check_dtype(const lmc_tensor *t, const char *origin, lmc_err *err) {
    if (lmc_type_traits_of(t->dtype)) return 0;
    return lmc_fail(err, "%s: tensor %s has dtype %s, which lmc cannot compute with", origin, t->name,
                    lmc_dtype_name(t->dtype));
}

float *lmc_tensor_f32(const lmc_tensor *t, int64_t numel, const char *origin, lmc_err *err) {
    char sb[96];
    if (check_dtype(t, origin, err)) return NULL;
    if (t->numel != numel) {
        lmc_fail(err, "%s: tensor %s has shape %s, expected %lld elements", origin, t->name,
                 lmc_shape_str(t, sb, sizeof sb), (long long)numel);
        return NULL;
    }
    float *v = malloc(sizeof(float) * (size_t)(numel ? numel : 1));
    if (!v) { lmc_fail(err, "%s: out of memory for tensor %s", origin, t->name); return NULL; }
    lmc_dtype_to_f32(t->dtype, t->data, v, numel); /* a quantized tensor holds whole blocks (gguf.c checks) */
    return v;
}

size_t lmc_linear_packed_bytes(int N, int K) { return (size_t)((N + 15) / 16 * 16) * (size_t)((K + 1) / 2 * 2) * 2; }

/* Bytes of one weight row. */
static size_t row_bytes(const lmc_linear *l) { return lmc_dtype_bytes(l->dtype, l->K); }

/* Packs rows [n0, n0 + n) of l's weight for vdpbf16ps into `out`. bf16 and f32 are packed directly; other
 * dtypes (f16, the GGUF quantized types) are widened to f32 ROWS rows at a time, so a temporary is at most
 * ROWS × K floats per thread, never the whole matrix: each ROWS-row piece packs into whole 16-row panels, which
 * are contiguous in the packed layout (gemm_bf16.h), so the pieces are laid end to end, in parallel. Rounding
 * is per element, so the result is the same bits as packing the whole widened matrix at once. 0, or -1 when
 * out of memory. */
static int pack_rows(const lmc_linear *l, int n0, int n, gemm_bf16_w *out) {
    enum { ROWS = 256 }; /* a multiple of the 16-row panel */
    const char *src = (const char *)l->w + (size_t)n0 * row_bytes(l);
    if (l->dtype == LMC_BF16) return gemm_bf16_pack(out, (const uint16_t *)src, n, l->K);
    if (l->dtype == LMC_F32) return gemm_bf16_pack_f32(out, (const float *)src, n, l->K);
    memset(out, 0, sizeof *out);
    const int Kp = l->K + (l->K & 1), pieces = (n + ROWS - 1) / ROWS;
    const size_t bytes = lmc_linear_packed_bytes(n, l->K);
    uint16_t *packed = aligned_alloc(64, bytes ? bytes : 64);
    if (!packed) return -1;
    int failed = 0;
#pragma omp parallel for schedule(dynamic) reduction(| : failed)
    for (int p = 0; p < pieces; p++) {
        int r0 = p * ROWS, r = n - r0 < ROWS ? n - r0 : ROWS;
        float *tmp = malloc(sizeof(float) * (size_t)r * l->K + 1);
        gemm_bf16_w piece;
        if (!tmp) { failed = 1; continue; }
        lmc_dtype_to_f32(l->dtype, src + (size_t)r0 * row_bytes(l), tmp, (int64_t)r * l->K);
        if (gemm_bf16_pack_f32(&piece, tmp, r, l->K)) failed = 1;
        else {
            memcpy(packed + (size_t)r0 * Kp, piece.packed, lmc_linear_packed_bytes(r, l->K));
            gemm_bf16_free(&piece);
        }
        free(tmp);
    }
    if (failed) { free(packed); return -1; }
    *out = (gemm_bf16_w){.N = n, .K = l->K, .Kp = Kp, .packed = packed};
    return 0;
}

/* pack_rows into *chunk, whose buffer (a first call's: chunk zeroed, or that of a chunk at least as large) is
 * reused: the streamed path packs chunk after chunk of rows into one buffer. bf16 and f32 weights only (others
 * through pack_rows). */
static int pack_rows_into(const lmc_linear *l, int n0, int n, gemm_bf16_w *chunk) {
    const char *src = (const char *)l->w + (size_t)n0 * row_bytes(l);
    if (l->dtype == LMC_BF16) return gemm_bf16_repack(chunk, (const uint16_t *)src, NULL, n, l->K);
    if (l->dtype == LMC_F32) return gemm_bf16_repack(chunk, NULL, (const float *)src, n, l->K);
    gemm_bf16_free(chunk);
    return pack_rows(l, n0, n, chunk);
}

int lmc_linear_prepack(lmc_linear *l, lmc_err *err) {
    if (l->mode != LMC_LINEAR_BF16_STREAMED) return 0;
    if (pack_rows(l, 0, l->N, &l->packed))
        return lmc_fail(err, "out of memory packing a %dx%d weight for bf16", l->N, l->K);
    l->mode = LMC_LINEAR_BF16_PACKED;
    return 0;
}

/* The int8 GEMM's view of l's weight (its type has an int8 form). */
static void i8_view(lmc_linear *l) {
    const lmc_type_traits *tr = lmc_type_traits_of(l->dtype);
    l->i8 = (gemm_i8_w){l->N, l->K, l->w, row_bytes(l), tr->to_i8, tr->i8_sub, tr->i8_min};
    l->mode = LMC_LINEAR_INT8;
}

/* Replaces l's weight by an owned copy of type `to` for the int8 GEMM: each of its N rows (K values of type
 * `from`, src_rb bytes apart from src) widened to f32, padded with zeros to Kp values and quantized, rows in
 * parallel; any earlier owned copy is freed. */
static int own_quantized(lmc_linear *l, lmc_dtype from, const void *src, size_t src_rb, int K, int Kp, lmc_dtype to,
                         void (*quantize)(const float *, void *, int64_t), lmc_err *err) {
    const lmc_type_traits *tr = lmc_type_traits_of(to);
    const size_t rb = lmc_dtype_bytes(to, Kp);
    uint8_t *q = malloc(rb * (size_t)l->N + 1);
    float *tmp = calloc((size_t)Kp * (size_t)omp_get_max_threads(), sizeof(float));
    if (!q || !tmp) {
        free(q), free(tmp);
        return lmc_fail(err, "out of memory quantizing a %dx%d weight to %s for int8", l->N, l->K, tr->name);
    }
#pragma omp parallel for schedule(static)
    for (int n = 0; n < l->N; n++) {
        float *row = tmp + (size_t)Kp * omp_get_thread_num(); /* row[K..Kp) stay 0 */
        lmc_dtype_to_f32(from, (const char *)src + (size_t)n * src_rb, row, K);
        quantize(row, q + (size_t)n * rb, Kp);
    }
    free(tmp);
    free(l->owned);
    l->owned = q;
    l->w = q;
    l->dtype = to;
    l->i8 = (gemm_i8_w){l->N, Kp, q, rb, tr->to_i8, tr->i8_sub, tr->i8_min};
    l->mode = LMC_LINEAR_INT8;
    return 0;
}

/* LMC_LINEAR_INT8: a quantized weight is used as stored; a float one becomes an owned Q8_0 copy, each row padded
 * with zeros to a multiple of 32 values, as the quantized x is (rows widened to f32 first: the same bits as
 * quantizing the f32 matrix). */
static int prepare_int8(lmc_linear *l, const char *origin, lmc_err *err) {
    if (lmc_type_traits_of(l->dtype)->to_i8) { i8_view(l); return 0; }
    lmc_err e;
    if (own_quantized(l, l->dtype, l->w, row_bytes(l), l->K, (l->K + 31) / 32 * 32, LMC_Q8_0, lmc_quantize_q8_0, &e))
        return lmc_fail(err, "%s: %s", origin, e.msg);
    return 0;
}

int lmc_linear_requant(lmc_linear *l, lmc_dtype to, lmc_err *err) {
    static const struct { lmc_dtype dt; void (*quantize)(const float *, void *, int64_t); } Q[] = {
        {LMC_Q4_0, lmc_quantize_q4_0}, {LMC_Q4_K, lmc_quantize_q4_k}, {LMC_Q6_K, lmc_quantize_q6_k}};
    if (l->mode != LMC_LINEAR_INT8 || !l->owned || l->dtype != LMC_Q8_0) return 0;
    for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++)
        if (Q[i].dt == to && l->i8.K % lmc_type_traits_of(to)->block == 0) /* else it stays Q8_0 */
            return own_quantized(l, LMC_Q8_0, l->owned, l->i8.row_bytes, l->i8.K, l->i8.K, to, Q[i].quantize, err);
    return 0;
}

static int prepare(lmc_linear *l, lmc_linear_mode mode, const char *origin, lmc_err *err) {
    if (mode == LMC_LINEAR_INT8) { l->mode = LMC_LINEAR_F32; return prepare_int8(l, origin, err); }
    l->mode = mode == LMC_LINEAR_BF16_PACKED ? LMC_LINEAR_F32 : mode; /* packed only once packing succeeded */
    if (mode != LMC_LINEAR_BF16_PACKED) return 0;
    if (pack_rows(l, 0, l->N, &l->packed))
        return lmc_fail(err, "%s: out of memory packing a %dx%d weight for bf16", origin, l->N, l->K);
    l->mode = LMC_LINEAR_BF16_PACKED;
    return 0;
}

size_t lmc_linear_resident_bytes(const lmc_linear *l) {
    size_t b = l->bias ? sizeof(float) * (size_t)l->N : 0;
    if (l->mode == LMC_LINEAR_BF16_PACKED) b += lmc_linear_packed_bytes(l->N, l->K);
    if (l->owned) b += (size_t)l->N * (l->mode == LMC_LINEAR_INT8 ? l->i8.row_bytes : row_bytes(l));
    return b;
}

int lmc_linear_init_rows(lmc_linear *l, const lmc_tensor *w, const lmc_tensor *bias, int row0, int N, int K,
                         lmc_linear_mode mode, const char *origin, lmc_err *err) {
    char sb[96];
    memset(l, 0, sizeof *l);
    if (check_dtype(w, origin, err)) return -1;
    if (w->ndim != 2 || w->shape[1] != K || w->shape[0] < (int64_t)row0 + N)
        return lmc_fail(err, "%s: tensor %s has shape %s, expected [%d, %d]", origin, w->name,
                        lmc_shape_str(w, sb, sizeof sb), row0 == 0 ? N : (int)w->shape[0], K);
    l->N = N;
    l->K = K;
    l->dtype = w->dtype;
    l->w = (const char *)w->data + (size_t)row0 * lmc_dtype_bytes(w->dtype, K);
    if (bias) {
        if (bias->numel < (int64_t)row0 + N || bias->ndim != 1)
            return lmc_fail(err, "%s: bias %s has shape %s, expected [%d]", origin, bias->name,
                            lmc_shape_str(bias, sb, sizeof sb), N);
        float *all = lmc_tensor_f32(bias, bias->numel, origin, err);
        if (!all) return -1;
        l->bias = malloc(sizeof(float) * (size_t)N);
        if (!l->bias) { free(all); return lmc_fail(err, "%s: out of memory for bias %s", origin, bias->name); }
        memcpy(l->bias, all + row0, sizeof(float) * (size_t)N);
        free(all);
    }
    if (prepare(l, mode, origin, err)) { lmc_linear_free(l); return -1; }
    return 0;
}

int lmc_linear_init(lmc_linear *l, const lmc_tensor *w, const lmc_tensor *bias, int N, int K,
                    lmc_linear_mode mode, const char *origin, lmc_err *err) {
    char sb[96];
    if (w->ndim != 2 || w->shape[0] != N || w->shape[1] != K)
        return lmc_fail(err, "%s: tensor %s has shape %s, expected [%d, %d]", origin, w->name,
                        lmc_shape_str(w, sb, sizeof sb), N, K);
    if (bias && (bias->ndim != 1 || bias->shape[0] != N))
        return lmc_fail(err, "%s: bias %s has shape %s, expected [%d]", origin, bias->name,
                        lmc_shape_str(bias, sb, sizeof sb), N);
    return lmc_linear_init_rows(l, w, bias, 0, N, K, mode, origin, err);
}

/* bf16 GEMM with the weight packed chunk by chunk: each chunk of rows is packed into one buffer (reused from chunk
 * to chunk) and multiplied straight into its columns of y (row stride N); x is rounded to bf16 by the first chunk's
 * call only. The packing is the only extra work (one pass over the weight); the bits are the packed path's. */
static void apply_bf16_streamed(const lmc_linear *l, const float *x, float *y, int T) {
    /* chunks of about CHUNK_BYTES packed (whole 16-row panels): fewer calls, each over enough rows to keep both
     * threads busy to its end, at a buffer that stays small beside the activations */
    const size_t CHUNK_BYTES = (size_t)16 << 20;
    int rows = (int)(CHUNK_BYTES / lmc_linear_packed_bytes(16, l->K)) * 16;
    if (rows < 256) rows = 256;
    if (rows > l->N) rows = l->N;
    void *scratch = malloc(gemm_bf16_scratch_bytes(T, l->K));
    /* O(T·K) + CHUNK_BYTES: the model's memory check covers it; out of memory anyway → the program's handler (lmc.h) */
    if (!scratch) lmc_oom(gemm_bf16_scratch_bytes(T, l->K), "a bf16 GEMM's scratch");
    gemm_bf16_w chunk = {0};
    for (int n0 = 0; n0 < l->N; n0 += rows) {
        int n = l->N - n0 < rows ? l->N - n0 : rows;
        if (pack_rows_into(l, n0, n, &chunk))
            lmc_oom(lmc_linear_packed_bytes(rows, l->K), "a chunk of packed bf16 weight rows");
        const gemm_bf16_out o = {&chunk, l->bias ? l->bias + n0 : NULL, y + n0, GEMM_BF16_STORE, NULL, l->N};
        gemm_bf16_multi(x, T, &o, 1, scratch, n0 == 0 ? GEMM_BF16_AUTO : GEMM_BF16_AUTO | GEMM_BF16_X_ROUNDED);
    }
    gemm_bf16_free(&chunk);
    free(scratch);
}

/* The int8 GEMM over x already quantized (xq); out of memory for its panels → the program's handler. */
static void apply_int8_q(const lmc_linear *l, const gemm_i8_x *xq, float *y) {
    if (gemm_i8(y, xq, &l->i8, l->bias)) lmc_oom(GEMM_I8_PANEL_BYTES * (size_t)omp_get_max_threads(), "int8 weight panels");
}

/* x (T, K) quantized once into scratch (lmc_linear_scratch_bytes), then each of the n int8 linears applied. */
static void apply_int8_n(const lmc_linear *const *ls, int n, const float *x, float *const *ys, int T, void *scratch) {
    void *own = scratch ? NULL : malloc(gemm_i8_x_bytes(T, ls[0]->K));
    if (!scratch && !own) lmc_oom(gemm_i8_x_bytes(T, ls[0]->K), "int8 activations");
    gemm_i8_x xq;
    gemm_i8_quantize(&xq, x, T, ls[0]->K, GEMM_I8_AUTO, scratch ? scratch : own);
    for (int i = 0; i < n; i++) apply_int8_q(ls[i], &xq, ys[i]);
    free(own);
}

static void apply(const lmc_linear *l, const float *x, float *y, int T) {
    if (l->mode == LMC_LINEAR_INT8) { apply_int8_n(&l, 1, x, &y, T, NULL); return; }
    if (l->mode == LMC_LINEAR_BF16_STREAMED) { apply_bf16_streamed(l, x, y, T); return; }
    if (l->mode == LMC_LINEAR_BF16_PACKED) {
        /* x rounded to bf16 once per call; a few MB at most (T × K × 2 bytes) */
        void *scratch = malloc(gemm_bf16_scratch_bytes(T, l->K));
        if (!scratch) lmc_oom(gemm_bf16_scratch_bytes(T, l->K), "a bf16 GEMM's scratch");
        gemm_bf16(y, x, &l->packed, l->bias, T, scratch);
        free(scratch);
        return;
    }
    /* the type's own f32 GEMM, or its rows widened chunk by chunk (16-bit and GGUF's quantized weights, as ggml
     * does) into the same f32 sgemm */
    const lmc_type_traits *tr = lmc_type_traits_of(l->dtype);
    if (tr->matmul) tr->matmul(y, x, l->w, l->bias, T, l->N, l->K);
    else if (matmul_rows_w(y, x, l->w, row_bytes(l), tr->to_f32, l->bias, T, l->N, l->K))
        lmc_oom(matmul_tiles_bytes(l->K), "the f32 tiles that widen weight rows in a GEMM");
}

void lmc_linear_apply(const lmc_linear *l, const float *x, float *y, int T) {
    double t0 = l->prof ? lmc_now() : 0;
    apply(l, x, y, T);
    if (l->prof) l->prof->seconds[PROF_MATMUL] += lmc_now() - t0;
}

size_t lmc_linear_scratch_bytes(int T, int K) {
    const size_t b = gemm_bf16_scratch_bytes(T, K), i = gemm_i8_x_bytes(T, K);
    return b > i ? b : i;
}

/* Whether n linears all run int8 on the same K (their input can be quantized once). */
static int all_int8(const lmc_linear *const *ls, int n) {
    for (int i = 0; i < n; i++)
        if (ls[i]->mode != LMC_LINEAR_INT8 || ls[i]->K != ls[0]->K) return 0;
    return 1;
}

/* apply_int8_n timed into the first linear's profiler. */
static void apply_int8_timed(const lmc_linear *const *ls, int n, const float *x, float *const *ys, int T,
                             void *scratch) {
    double t0 = ls[0]->prof ? lmc_now() : 0;
    apply_int8_n(ls, n, x, ys, T, scratch);
    if (ls[0]->prof) ls[0]->prof->seconds[PROF_MATMUL] += lmc_now() - t0;
}

void lmc_swiglu(const lmc_linear *l, float *d, const float *u, size_t n) {
    if (l->mode == LMC_LINEAR_F32) silu_mul(d, d, u, n);
    else swiglu_poly(d, u, n);
}

/* One gemm_bf16_multi call, timed into the first output's profiler. */
static void apply_multi(const lmc_linear *l0, const gemm_bf16_out *outs, int n, const float *x, int T, void *scratch) {
    double t0 = l0->prof ? lmc_now() : 0;
    gemm_bf16_multi(x, T, outs, n, scratch, GEMM_BF16_AUTO);
    if (l0->prof) l0->prof->seconds[PROF_MATMUL] += lmc_now() - t0;
}

void lmc_linear_apply_n(const lmc_linear *const *ls, int n, const float *x, float *const *ys, int T, void *scratch) {
    if (n > 0 && all_int8(ls, n)) { apply_int8_timed(ls, n, x, ys, T, scratch); return; }
    int fused = scratch && n <= GEMM_BF16_MAX_OUTS;
    for (int i = 0; i < n && fused; i++) fused = ls[i]->mode == LMC_LINEAR_BF16_PACKED && ls[i]->K == ls[0]->K;
    if (!fused) {
        for (int i = 0; i < n; i++) lmc_linear_apply(ls[i], x, ys[i], T);
        return;
    }
    gemm_bf16_out outs[GEMM_BF16_MAX_OUTS];
    for (int i = 0; i < n; i++) outs[i] = (gemm_bf16_out){&ls[i]->packed, ls[i]->bias, ys[i], GEMM_BF16_STORE, NULL, 0};
    apply_multi(ls[0], outs, n, x, T, scratch);
}

void lmc_linear_apply_swiglu(const lmc_linear *gate, const lmc_linear *up, const float *x, float *h, float *tmp,
                             int T, void *scratch) {
    const lmc_linear *gu[2] = {gate, up};
    if (all_int8(gu, 2)) {
        float *const ys[2] = {h, tmp};
        apply_int8_timed(gu, 2, x, ys, T, scratch);
        lmc_swiglu(gate, h, tmp, (size_t)T * gate->N);
        return;
    }
    if (!scratch || gate->mode != LMC_LINEAR_BF16_PACKED || up->mode != LMC_LINEAR_BF16_PACKED || gate->N != up->N ||
        gate->K != up->K) {
        lmc_linear_apply(gate, x, h, T);
        lmc_linear_apply(up, x, tmp, T);
        lmc_swiglu(gate, h, tmp, (size_t)T * gate->N);
        return;
    }
    const gemm_bf16_out outs[2] = {{&gate->packed, gate->bias, h, GEMM_BF16_STORE, NULL, 0},
                                   {&up->packed, up->bias, tmp, GEMM_BF16_SILU_MUL_TO, h, 0}};
    apply_multi(gate, outs, 2, x, T, scratch);
}

void lmc_linear_apply_add(const lmc_linear *l, const float *x, float *res, float *tmp, int T, void *scratch) {
    if (l->mode == LMC_LINEAR_INT8) { /* x quantized into the forward's scratch, not a buffer of its own */
        apply_int8_timed(&l, 1, x, &tmp, T, scratch);
        add_inplace(res, tmp, (size_t)T * l->N);
        return;
    }
    if (!scratch || l->mode != LMC_LINEAR_BF16_PACKED) {
        lmc_linear_apply(l, x, tmp, T);
        add_inplace(res, tmp, (size_t)T * l->N);
        return;
    }
    const gemm_bf16_out o = {&l->packed, l->bias, tmp, GEMM_BF16_ADD_TO, res, 0};
    apply_multi(l, &o, 1, x, T, scratch);
}

void lmc_linear_free(lmc_linear *l) {
    if (l->mode == LMC_LINEAR_BF16_PACKED) gemm_bf16_free(&l->packed);
    free(l->bias);
    free(l->owned);
    memset(l, 0, sizeof *l);
}

int lmc_embed_rows(const lmc_tensor *emb, const int32_t *ids, int n, float *out, lmc_err *err) {
    int64_t rows = emb->shape[0], dim = emb->shape[1];
    size_t rb = lmc_dtype_bytes(emb->dtype, dim);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= rows)
            return lmc_fail(err, "token id %d is outside the embedding table (%lld rows)", ids[i], (long long)rows);
        const void *src = (const char *)emb->data + (size_t)ids[i] * rb;
        lmc_dtype_to_f32(emb->dtype, src, out + (size_t)i * dim, dim);
    }
    return 0;
}
