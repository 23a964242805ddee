/* registry.c — the architectures lmc knows, looked up by HF `architectures[0]`. */
#include "arch.h"

extern const lmc_arch lmc_arch_llama, lmc_arch_mistral, lmc_arch_qwen2;

const lmc_arch *const lmc_archs[] = {
    &lmc_arch_llama,
    &lmc_arch_mistral,
    &lmc_arch_qwen2,
    NULL,
};
