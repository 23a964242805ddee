/* dequant.h — ggml tensor types widened to f32, one row (or any run of whole blocks) at a time.
 *
 * Pure functions of the block bytes, the layouts of ggml's ggml-common.h (as GGUF files store them), so that
 * a GGUF tensor can be widened while it is packed for a GEMM without a dequantized copy of the model. Results
 * are bit-identical to ggml's reference dequantize_row_* (the same float operations in the same order). */
#ifndef LMC_DEQUANT_H
#define LMC_DEQUANT_H

#include <stdint.h>

/* ggml type ids (ggml.h enum ggml_type; part of the GGUF format) of the types below */
enum {
    LMC_GGML_F32 = 0, LMC_GGML_F16 = 1, LMC_GGML_Q4_0 = 2, LMC_GGML_Q5_0 = 6, LMC_GGML_Q8_0 = 8, LMC_GGML_Q4_K = 12,
    LMC_GGML_Q6_K = 14, LMC_GGML_BF16 = 30,
};

/* n elements: a multiple of the type's block (32 for Q8_0/Q4_0, 256 for Q4_K/Q6_K); src holds n / block
 * blocks, any alignment. */
void lmc_dequant_f16(const void *src, float *dst, int64_t n);
void lmc_dequant_bf16(const void *src, float *dst, int64_t n);
void lmc_dequant_q8_0(const void *src, float *dst, int64_t n); /* block 32: f16 d, i8 q[32]; x = d·q */
void lmc_dequant_q4_0(const void *src, float *dst, int64_t n); /* block 32: f16 d, u8 q[16]; x = d·(nibble − 8) */
void lmc_dequant_q5_0(const void *src, float *dst, int64_t n); /* block 32: f16 d, u32 qh, u8 q[16]; see dequant.c */
void lmc_dequant_q4_k(const void *src, float *dst, int64_t n); /* block 256: see dequant.c */
void lmc_dequant_q6_k(const void *src, float *dst, int64_t n); /* block 256: see dequant.c */

/* The same blocks as int8 values q (n), a scale dw per sub-block and, for Q4_K, an offset mw per sub-block
 * (w = dw·q + mw; sub-blocks of 32 values, 16 for Q6_K): the int8 GEMM's weight form (gemm_i8.h). */
void lmc_unpack_q8_0(const void *src, int8_t *q, float *dw, float *mw, int64_t n);
void lmc_unpack_q4_0(const void *src, int8_t *q, float *dw, float *mw, int64_t n);
void lmc_unpack_q5_0(const void *src, int8_t *q, float *dw, float *mw, int64_t n);
void lmc_unpack_q4_k(const void *src, int8_t *q, float *dw, float *mw, int64_t n);
void lmc_unpack_q6_k(const void *src, int8_t *q, float *dw, float *mw, int64_t n);

/* n f32 values (a multiple of 32) → Q8_0 blocks, as ggml's quantize_row_q8_0_ref (an F32/F16/BF16 weight is
 * stored so, once at load, for the int8 GEMM). */
void lmc_quantize_q8_0(const float *x, void *dst, int64_t n);
/* Q4_0 as ggml's quantize_row_q4_0_ref; Q4_K and Q6_K (n a multiple of 256) by plain rounding, not ggml's
 * scale search: for benchmarks' random weights (lmc bench --weights), where the layout and the speed matter. */
void lmc_quantize_q4_0(const float *x, void *dst, int64_t n);
void lmc_quantize_q4_k(const float *x, void *dst, int64_t n);
void lmc_quantize_q6_k(const float *x, void *dst, int64_t n);

/* Which type widens with which function, by lmc type or ggml id, is src/model/weights.h (one table). */

#endif
