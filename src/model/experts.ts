// Where one routed expert's bytes are: a stacked expert tensor (in, out, nExpert) keeps the expert
// index outermost, so expert e of a layer is one contiguous byte range per projection. Whatever
// reads experts on demand (the reference, the expert pool, a download) goes through these.
import type { GatedTensors } from './arch.ts';
import { ModelFormatError } from './hparams.ts';
import type { ModelPlan } from './plan.ts';

export type ExpertPart = keyof GatedTensors<unknown>;
export const EXPERT_PARTS: readonly ExpertPart[] = ['gate', 'up', 'down'];

/** One expert's three projections, each in GGUF block layout (the expert's slice of the stack). */
export type ExpertBytes = Record<ExpertPart, Uint8Array>;

/** Gives the bytes of expert `expert` of layer `layer`. The bytes must be the file's own (verified
 *  by the provider, e.g. a download's checked chunks). */
export type ExpertProvider = (layer: number, expert: number) => Promise<ExpertBytes>;

export interface ByteRange {
  /** Absolute byte offset in the file. */
  offset: number;
  length: number;
}

/** The stacked expert tensors of `layer`; throws if the layer has no routed experts. */
export function expertTensors(plan: ModelPlan, layer: number): GatedTensors<ModelPlan['embd']> {
  const m = plan.layers[layer]?.moe;
  if (!m) throw new RangeError(`layer ${layer} of this ${plan.arch.name} model has no routed experts (layers 0..${plan.hp.nLayer - 1})`);
  return m.experts;
}

/** File byte ranges of expert `expert` of layer `layer`: one contiguous range per projection. */
export function expertRanges(plan: ModelPlan, layer: number, expert: number): Record<ExpertPart, ByteRange> {
  const stack = expertTensors(plan, layer);
  const n = plan.hp.nExpert;
  if (!(Number.isInteger(expert) && expert >= 0 && expert < n)) throw new RangeError(`layer ${layer} has experts 0..${n - 1}, not ${expert}`);
  const range = (part: ExpertPart): ByteRange => {
    const t = stack[part];
    if (t.nBytes % n !== 0) throw new ModelFormatError(`${t.name}: ${t.nBytes} bytes do not split into ${n} experts`);
    const per = t.nBytes / n;
    return { offset: plan.file.dataOffset + t.offset + expert * per, length: per };
  };
  return { gate: range('gate'), up: range('up'), down: range('down') };
}

/** An ExpertProvider over a byte reader (a RangeSource's read, a download's ensureRange). */
export function expertProvider(plan: ModelPlan, read: (offset: number, length: number) => Promise<Uint8Array>): ExpertProvider {
  return async (layer, expert) => {
    const r = expertRanges(plan, layer, expert);
    const [gate, up, down] = await Promise.all(EXPERT_PARTS.map((p) => read(r[p].offset, r[p].length)));
    for (const [part, bytes] of [['gate', gate], ['up', up], ['down', down]] as const) {
      if (bytes.length !== r[part].length) {
        throw new ModelFormatError(`expert ${expert} of layer ${layer}: ${part} is cut short (${bytes.length} of ${r[part].length} bytes)`);
      }
    }
    return { gate, up, down };
  };
}
