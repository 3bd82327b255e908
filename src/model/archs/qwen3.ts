// Qwen 3 dense: per-head RMSNorm on q and k before RoPE, no biases.
import { defineArch } from '../arch.ts';

export const qwen3 = defineArch({
  name: 'qwen3',
  rope: 'neox',
  attention: { qkNorm: 'head' },
});
