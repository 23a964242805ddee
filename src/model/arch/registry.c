/* registry.c — the architectures lmc knows, looked up by HF `architectures[0]`. */
#include "model/arch/arch.h"

extern const lmc_arch lmc_arch_llama, lmc_arch_mistral, lmc_arch_qwen2;
extern const lmc_arch lmc_arch_mixtral, lmc_arch_deepseek2, lmc_arch_falcon, lmc_arch_qwen1, lmc_arch_gpt2,
    lmc_arch_gptneox;

const lmc_arch *const lmc_archs[] = {
    &lmc_arch_llama,
    &lmc_arch_mistral,
    &lmc_arch_qwen2,
    &lmc_arch_mixtral,
    &lmc_arch_deepseek2,
    &lmc_arch_falcon,
    &lmc_arch_qwen1,
    &lmc_arch_gpt2,
    &lmc_arch_gptneox,
    NULL,
};
