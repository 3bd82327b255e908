// gpt-oss (OpenAI's open-weight MoE; llama.cpp LLM_ARCH_OPENAI_MOE, src/models/openai-moe.cpp):
// q/k/v and output biases, a learned sink logit per head in the attention softmax, sliding-window
// attention on even layers, the FFN norm named post_attention_norm, a router with a bias whose top-k
// logits are softmaxed, experts with biases and the clamped SwiGLU. NeoX RoPE (YaRN in real files).
import { defineArch } from '../arch.ts';

export const gptOss = defineArch({
  name: 'gpt-oss',
  rope: 'neox',
  ffnNormTensor: 'post_attention_norm',
  attention: { qkvBias: true, outputBias: true, sinks: true, swaPattern: 2, headDimIsRopeDim: true },
  ffn: { act: 'swiglu-oai', expertGating: 'softmax-topk', routerBias: true, expertBiases: true },
  tiedOutputAllowed: false,
  experts: 'always',
});
