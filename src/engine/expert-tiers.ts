// The tiers below the slots of expert paging: a RAM cache of experts in the slots' form (for the
// GPU its word layout, so a GPU miss that hits RAM costs one writeBuffer, no store read and no
// repack; for the WASM backend's heap slots the GGUF bytes as read) under a byte budget, over the
// provider (the file, IndexedDB or the fs store, the network during a
// download). Experts being fetched are shared by whoever asks (a prefetch, then the layer that
// routes to it), and a prefetched expert waits in a small hand-over area until it is used, so a
// prefetch is never wasted on an expert that does not fit the RAM budget.
import { repack, regionWords, UnsupportedWeightError } from '../gpu/layout.ts';
import { concatRows } from '../gpu/weights.ts';
import { tensorBytes, typeName, type GGMLType } from '../gguf/types.ts';
import { expertTensors, type ExpertBytes, type ExpertProvider } from '../model/experts.ts';
import { ModelFormatError } from '../model/hparams.ts';
import type { ModelPlan } from '../model/plan.ts';
import { lru, type EvictionPolicy } from './eviction.ts';

/** What one expert of a layer is made of: types of its fused gate+up and down matrices. */
export interface ExpertShape {
  gateUpType: GGMLType;
  downType: GGMLType;
  d: number;
  width: number;
}

export const shapeKey = (s: ExpertShape) => `${s.gateUpType}/${s.downType}`;

/** An expert in the GPU's word layout (layout.ts): fused gate+up rows, then down. */
export interface RepackedExpert {
  gateUp: Uint32Array<ArrayBuffer>;
  down: Uint32Array<ArrayBuffer>;
}

export const repackedBytes = (r: RepackedExpert) => r.gateUp.byteLength + r.down.byteLength;

/** Words per expert of each region must add up: an expert's blocks follow the previous one's. */
function checkLinear(type: GGMLType, k: number, n: number, name: string): void {
  const one = regionWords(type, k, n, name), two = regionWords(type, k, 2 * n, name);
  if (two.some((w, i) => w !== 2 * one[i])) {
    throw new UnsupportedWeightError(`${name}: an expert of ${n} rows of ${k} ${typeName(type)} elements has an odd number of blocks; paging needs an even one`);
  }
}

/** The expert shape of each layer with routed experts (undefined for a dense layer). */
export function expertShapes(plan: ModelPlan): (ExpertShape | undefined)[] {
  return plan.layers.map((L, l) => {
    if (!L.moe) return undefined;
    const { gate, up, down } = expertTensors(plan, l);
    if (gate.type !== up.type) throw new UnsupportedWeightError(`${gate.name} and ${up.name} differ in type; the engine fuses them`);
    const shape: ExpertShape = { gateUpType: gate.type, downType: down.type, d: gate.shape[0], width: gate.shape[1] };
    checkLinear(shape.gateUpType, shape.d, 2 * shape.width, gate.name);
    checkLinear(shape.downType, shape.width, shape.d, down.name);
    return shape;
  });
}

/** Bytes one expert of this shape takes repacked (on the GPU and in the RAM tier). */
export function expertBytes(s: ExpertShape): number {
  const words = (type: GGMLType, k: number, n: number) => regionWords(type, k, n).reduce((a, b) => a + b, 0);
  return 4 * (words(s.gateUpType, s.d, 2 * s.width) + words(s.downType, s.width, s.d));
}

/** GGUF bytes of one expert → its GPU words (checked against the shape first). */
export function repackExpert(s: ExpertShape, bytes: ExpertBytes, where: string): RepackedExpert {
  const check = (part: string, got: Uint8Array, type: GGMLType, k: number, n: number) => {
    const want = tensorBytes(type, n * k);
    if (got.length !== want) throw new ModelFormatError(`${where}: ${part} has ${got.length} bytes, not ${want}`);
  };
  check('gate', bytes.gate, s.gateUpType, s.d, s.width);
  check('up', bytes.up, s.gateUpType, s.d, s.width);
  check('down', bytes.down, s.downType, s.width, s.d);
  return {
    gateUp: repack(s.gateUpType, concatRows([bytes.gate, bytes.up], 1), s.d, 2 * s.width),
    down: repack(s.downType, bytes.down, s.width, s.d),
  };
}

export interface TierStats {
  /** GPU misses found in the RAM tier. */
  ramHits: number;
  /** Experts read from the provider (the store, the network), and their GGUF bytes. */
  storeReads: number;
  storeBytes: number;
  /** Bytes of repacked experts held in RAM now, and the most ever held. */
  ramBytes: number;
  ramPeakBytes: number;
}

/** What the tiers hold of an expert, made from its GGUF bytes once per store read, and the bytes
 *  it counts against the RAM budget. */
export interface ExpertForm<T> {
  make(layer: number, expert: number, bytes: ExpertBytes): T;
  bytes(x: T): number;
}

/** The GPU's form: experts repacked into its word layout (the expert pool's slots). */
export function repackedForm(plan: ModelPlan): ExpertForm<RepackedExpert> {
  const shapes = expertShapes(plan);
  return { make: (l, e, b) => repackExpert(shapes[l]!, b, `expert ${e} of layer ${l}`), bytes: repackedBytes };
}

export class ExpertTiers<T = RepackedExpert> {
  readonly stats: TierStats = { ramHits: 0, storeReads: 0, storeBytes: 0, ramBytes: 0, ramPeakBytes: 0 };
  private readonly ram = new Map<string, T>();
  private readonly inflight = new Map<string, Promise<T>>();
  /** Prefetched experts of the layer last prefetched that did not go into RAM (budget too
   *  small), kept until asked for: at most one layer's guesses. */
  private readonly handover = new Map<string, T>();
  private handoverLayer = -1;
  private clock = 0;

  constructor(
    private readonly provider: ExpertProvider,
    /** Bytes of experts (in their form) the RAM tier may hold (0: no RAM tier). */
    readonly ramBudget: number,
    private readonly form: ExpertForm<T>,
    private readonly policy: EvictionPolicy = lru(),
  ) {}

  inRam(layer: number, expert: number): boolean {
    return this.ram.has(`${layer}/${expert}`) || this.handover.has(`${layer}/${expert}`);
  }

  /** The expert if it is in RAM (a RAM hit), else undefined. */
  peek(layer: number, expert: number): T | undefined {
    const key = `${layer}/${expert}`;
    const hit = this.ram.get(key) ?? this.handover.get(key);
    if (!hit) return undefined;
    this.stats.ramHits++;
    this.handover.delete(key);
    if (this.ram.has(key)) this.policy.touch(key, ++this.clock);
    return hit;
  }

  /** The expert: from RAM, from a fetch already under way, or read from the provider now (then
   *  kept in RAM when the budget allows). */
  async get(layer: number, expert: number): Promise<T> {
    return this.peek(layer, expert) ?? this.fetch(layer, expert, false);
  }

  /** Starts bringing experts of `layer` into RAM (or the hand-over area) without waiting; what
   *  the hand-over area held for another layer is dropped. */
  prefetch(layer: number, experts: readonly number[]): void {
    if (layer !== this.handoverLayer) this.handover.clear();
    this.handoverLayer = layer;
    for (const e of experts) {
      if (!this.inRam(layer, e)) this.fetch(layer, e, true).catch(() => {}); // a failure shows when get() asks again
    }
  }

  private fetch(layer: number, expert: number, prefetch: boolean): Promise<T> {
    const key = `${layer}/${expert}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = (async () => {
        const bytes = await this.provider(layer, expert);
        this.stats.storeReads++;
        this.stats.storeBytes += bytes.gate.length + bytes.up.length + bytes.down.length;
        const r = this.form.make(layer, expert, bytes);
        if (!this.keep(key, r) && prefetch && layer === this.handoverLayer) this.handover.set(key, r);
        return r;
      })().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    } else if (!prefetch) {
      // a prefetch already asked for it: the layer takes it from the hand-over area when it lands
      return p.then((r) => { this.handover.delete(key); return r; });
    }
    return p;
  }

  /** Puts r in RAM, evicting by the policy; false when it cannot fit at all. */
  private keep(key: string, r: T): boolean {
    const bytes = this.form.bytes(r);
    if (bytes > this.ramBudget) return false;
    while (this.stats.ramBytes + bytes > this.ramBudget) {
      const victim = this.policy.victim([...this.ram.keys()], this.clock);
      this.stats.ramBytes -= this.form.bytes(this.ram.get(victim)!);
      this.ram.delete(victim);
      this.policy.remove(victim);
    }
    this.ram.set(key, r);
    this.policy.touch(key, ++this.clock);
    this.stats.ramBytes += bytes;
    this.stats.ramPeakBytes = Math.max(this.stats.ramPeakBytes, this.stats.ramBytes);
    return true;
  }
}
