/* convert.h — `lmc convert`: any checkpoint lmc reads → one self-describing .safetensors file.
 *
 * Sources:
 *   - a HF checkpoint directory: config.json (required) + model.safetensors or a sharded index, and the
 *     tokenizer files that are present (tokenizer.json[.gz], tokenizer_config.json[.gz], qwen.tiktoken[.gz]);
 *   - a llama2.c "version 0" checkpoint (.bin, or a directory holding exactly one non-tokenizer .bin), with its
 *     llama2.c tokenizer.bin;
 *   - a file written by `lmc convert` itself (to change its dtype);
 *   - a GGUF file (llama.cpp; architectures llama, qwen2, gpt2, gptneox, falcon): tensors under their HF names,
 *     q/k rows of Llama back in HF's layout, quantized types (Q8_0, Q4_0, Q4_K, Q6_K) dequantized as ggml does
 *     (F32 unless --dtype), the config synthesized from its metadata; its tokenizer from --tokenizer (a HF
 *     directory, a tokenizer.json or a llama2.c tokenizer.bin), none otherwise. GPT-2's Conv1D
 *     weights and Falcon's / GPT-NeoX's fused QKV stay in llama.cpp's layout, listed in "lmc.gguf_layout".
 *
 * Output: tensors under their HF names (lmc's canonical names), in source order, converted to `dtype`, and
 * __metadata__:
 *   "format": "pt", "lmc.format": "1", "lmc.source": src,
 *   "lmc.config": config.json text (llama2.c: a synthesized LlamaForCausalLM config with
 *                 "lmc_rope_interleaved": true; q/k are NOT permuted),
 *   "lmc.tokenizer": tokenizer.json text, "lmc.tokenizer_config": tokenizer_config.json text,
 *   "lmc.tiktoken": qwen.tiktoken text, "lmc.tokenizer_llama2c": base64 of the llama2.c tokenizer.bin
 *                 (each only when the source has it),
 *   "lmc.dropped": "name (I64), ..." — tensors of a dtype lmc cannot use (F64, integer, F8 buffers), left out,
 *   and every other __metadata__ entry of the source's first file (e.g. the torch alias
 *   "model.embed_tokens.weight" → "lm_head.weight" of TinyStories-656K-f32), unchanged.
 * The data is streamed (a 7B model converts in a few MB of memory beyond the page cache) and the file is
 * written atomically: on any error nothing appears at out_path. */
#ifndef LMC_CONVERT_H
#define LMC_CONVERT_H

#include "lmc.h"
#include "lmc_tools.h" /* lmc_convert, lmc_convert_dtype, LMC_CONVERT_KEEP_DTYPE */

/* lmc_convert's dtype is LMC_F32, LMC_BF16 or LMC_F16 (safetensors.h), or LMC_CONVERT_KEEP_DTYPE: each tensor
 * keeps its own. */

#endif
