// OLMoE: RMSNorm over the whole q and k projections (not per head), 64 experts top-8 without
// renormalization, untied output head.
import { defineArch } from '../arch.ts';

export const olmoe = defineArch({
  name: 'olmoe',
  rope: 'neox',
  attention: { qkNorm: 'full' },
  tiedOutputAllowed: false,
  experts: 'always',
});
