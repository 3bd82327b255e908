// Qwen 2 / 2.5 dense: q/k/v biases, NeoX RoPE.
import { defineArch } from '../arch.ts';

export const qwen2 = defineArch({
  name: 'qwen2',
  rope: 'neox',
  attention: { qkvBias: true },
});
