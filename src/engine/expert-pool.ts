// Routed experts paged into GPU memory under a byte budget. A pool holds `slots` experts (each its
// fused gate+up matrix and its down matrix, repacked as weights.ts does) in stacked buffers that
// every MoE layer's expert kernels read; `ensure` makes a layer's selected experts resident,
// evicting the least recently used others, and says which slot holds each. The graph then hands
// the kernels slot numbers where the resident engine hands them expert numbers.
//
// Layers whose expert tensors differ in type (llama.cpp's Q4_K_M mixes Q4_K and Q6_K down
// projections) get a pool each, the budget shared in proportion to their layers.
import { allocWeight, concatRows, type GpuWeight } from '../gpu/weights.ts';
import { regionWords, repack, UnsupportedWeightError, weightLayout } from '../gpu/layout.ts';
import type { GPUSession } from '../gpu/session.ts';
import { tensorBytes, typeName, type GGMLType } from '../gguf/types.ts';
import { ModelFormatError } from '../model/hparams.ts';
import type { ModelPlan } from '../model/plan.ts';
import { expertTensors, type ExpertBytes, type ExpertProvider } from '../model/experts.ts';

export class ExpertBudgetError extends Error {
  override name = 'ExpertBudgetError';
}

export interface PoolStats {
  /** Experts found resident / uploaded, and bytes uploaded (repacked). */
  hits: number;
  misses: number;
  uploadedBytes: number;
  /** Expert launches made in more than one round because a batch needed more experts than slots. */
  extraRounds: number;
}

/** A paged engine's expert figures: its pools' stats, summed, and their slots. */
export type ExpertStats = PoolStats & { slots: number };

interface Shape {
  gateUpType: GGMLType;
  downType: GGMLType;
  d: number;
  width: number;
}

const key = (s: Shape) => `${s.gateUpType}/${s.downType}`;

/** Words per slot of each region must add up: a slot's blocks follow the previous slot's. */
function checkLinear(type: GGMLType, k: number, n: number, name: string): void {
  const one = regionWords(type, k, n, name), two = regionWords(type, k, 2 * n, name);
  if (two.some((w, i) => w !== 2 * one[i])) {
    throw new UnsupportedWeightError(`${name}: an expert of ${n} rows of ${k} ${typeName(type)} elements has an odd number of blocks; paging needs an even one`);
  }
}

/** The expert signatures of the model's MoE layers, and the layers of each. */
function shapesOf(plan: ModelPlan): Map<string, { shape: Shape; layers: number[] }> {
  const shapes = new Map<string, { shape: Shape; layers: number[] }>();
  for (let l = 0; l < plan.hp.nLayer; l++) {
    const { gate, up, down } = expertTensors(plan, l);
    const shape: Shape = { gateUpType: gate.type, downType: down.type, d: gate.shape[0], width: gate.shape[1] };
    checkLinear(shape.gateUpType, shape.d, 2 * shape.width, gate.name);
    checkLinear(shape.downType, shape.width, shape.d, down.name);
    const entry = shapes.get(key(shape)) ?? { shape, layers: [] };
    entry.layers.push(l);
    shapes.set(key(shape), entry);
  }
  return shapes;
}

export class ExpertPool {
  readonly stats: PoolStats = { hits: 0, misses: 0, uploadedBytes: 0, extraRounds: 0 };
  private readonly slotOf = new Map<string, number>();
  private readonly owner: (string | undefined)[];
  private readonly lastUse: number[];
  private clock = 0;

  private constructor(
    private readonly session: GPUSession,
    readonly slots: number,
    readonly gateUp: GpuWeight,
    readonly down: GpuWeight,
    private readonly shape: Shape,
    private readonly provider: ExpertProvider,
  ) {
    this.owner = new Array<string | undefined>(slots);
    this.lastUse = new Array<number>(slots).fill(-1);
  }

  /** Bytes one expert takes on the GPU (gate+up and down, repacked). */
  static expertBytes(s: Shape): number {
    const words = (type: GGMLType, k: number, n: number) => regionWords(type, k, n).reduce((a, b) => a + b, 0);
    return 4 * (words(s.gateUpType, s.d, 2 * s.width) + words(s.downType, s.width, s.d));
  }

  /** GPU bytes of one routed expert of the model (the largest, if layers differ). */
  static bytesPerExpert(plan: ModelPlan): number {
    return Math.max(...[...shapesOf(plan).values()].map((x) => ExpertPool.expertBytes(x.shape)));
  }

  /** One pool per expert signature of the model's MoE layers, within `budget` bytes in all. */
  static createAll(session: GPUSession, plan: ModelPlan, budget: number, provider: ExpertProvider): ExpertPool[] {
    const shapes = shapesOf(plan);
    const byLayer: ExpertPool[] = [];
    for (const { shape, layers } of shapes.values()) {
      const share = Math.floor((budget * layers.length) / plan.hp.nLayer);
      const per = ExpertPool.expertBytes(shape);
      const slots = Math.min(Math.floor(share / per), plan.hp.nExpert * layers.length);
      if (slots < 1) {
        throw new ExpertBudgetError(`an expert budget of ${budget} bytes leaves ${share} for the experts of layers ${layers.join(', ')}, ` +
          `less than one expert (${per} bytes on the GPU); give at least ${Math.ceil((per * plan.hp.nLayer) / layers.length)} bytes`);
      }
      const maxBind = session.limits.maxStorageBufferBindingSize;
      const gateUp = allocWeight(session.buffers, `experts.gate_up[${typeName(shape.gateUpType)}]`, shape.gateUpType, shape.d, 2 * shape.width, slots, maxBind);
      const down = allocWeight(session.buffers, `experts.down[${typeName(shape.downType)}]`, shape.downType, shape.width, shape.d, slots, maxBind);
      const pool = new ExpertPool(session, slots, gateUp, down, shape, provider);
      for (const l of layers) byLayer[l] = pool;
    }
    return byLayer;
  }

  has(layer: number, expert: number): boolean {
    return this.slotOf.has(`${layer}/${expert}`);
  }

  /** Makes `experts` (at most `slots`) of `layer` resident; returns their slots in order. */
  async ensure(layer: number, experts: readonly number[]): Promise<number[]> {
    if (experts.length > this.slots) throw new RangeError(`${experts.length} experts at once in a pool of ${this.slots} slots`);
    const now = ++this.clock;
    const keep = new Set<number>();
    const missing: number[] = [];
    for (const e of experts) {
      const s = this.slotOf.get(`${layer}/${e}`);
      if (s === undefined) missing.push(e);
      else { keep.add(s); this.lastUse[s] = now; this.stats.hits++; }
    }
    // slots for the missing ones: free first, then least recently used, never one in use now
    const free = [...this.lastUse.keys()].filter((s) => !keep.has(s)).sort((a, b) => this.lastUse[a] - this.lastUse[b]);
    const fetched = await Promise.all(missing.map((e) => this.provider(layer, e)));
    missing.forEach((e, i) => {
      const s = free[i];
      const old = this.owner[s];
      if (old !== undefined) this.slotOf.delete(old);
      this.write(s, layer, e, fetched[i]);
      this.owner[s] = `${layer}/${e}`;
      this.slotOf.set(`${layer}/${e}`, s);
      this.lastUse[s] = now;
      keep.add(s);
      this.stats.misses++;
    });
    return experts.map((e) => this.slotOf.get(`${layer}/${e}`)!);
  }

  private write(slot: number, layer: number, expert: number, bytes: ExpertBytes): void {
    const { d, width, gateUpType, downType } = this.shape;
    const check = (part: string, got: Uint8Array, type: GGMLType, k: number, n: number) => {
      const want = tensorBytes(type, n * k);
      if (got.length !== want) throw new ModelFormatError(`expert ${expert} of layer ${layer}: ${part} has ${got.length} bytes, not ${want}`);
    };
    check('gate', bytes.gate, gateUpType, d, width);
    check('up', bytes.up, gateUpType, d, width);
    check('down', bytes.down, downType, width, d);
    this.put(this.gateUp, slot, repack(gateUpType, concatRows([bytes.gate, bytes.up], 1), d, 2 * width));
    this.put(this.down, slot, repack(downType, bytes.down, width, d));
  }

  /** Copies one matrix's repacked regions to its slot in the stack's part. */
  private put(w: GpuWeight, slot: number, words: Uint32Array<ArrayBuffer>): void {
    const row = slot * w.n;
    const part = w.parts.find((p) => row >= p.row0 && row < p.rowEnd)!;
    const j = (row - part.row0) / w.n; // the slot's index within the part
    const [q, h, m] = regionWords(w.type, w.k, w.n, w.name);
    const one = weightLayout(w.type, w.k, w.n, w.name); // repack's layout of the one matrix
    const queue = this.session.device.queue;
    for (const [dst, src, n] of [[part.layout.qOff, one.qOff, q], [part.layout.hOff, one.hOff, h], [part.layout.mOff, one.mOff, m]]) {
      if (n) queue.writeBuffer(part.buffer, 4 * (dst + j * n), words.buffer, 4 * src, 4 * n);
    }
    this.stats.uploadedBytes += 4 * (q + h + m);
  }
}

