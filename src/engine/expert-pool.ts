// Routed experts paged into GPU memory under a byte budget: the top tier of expert paging. A pool
// holds `slots` experts (each its fused gate+up matrix and its down matrix, repacked as weights.ts
// does) in stacked buffers that every MoE layer's expert kernels read. A slot table on the GPU
// (u32 per layer and expert: the slot holding it, or the pool's slot count when it is not
// resident) lets the kernels find resident experts without the CPU; `ensure` makes a layer's
// selected experts resident (from the RAM tier or the store, expert-tiers.ts), evicting others
// by the eviction policy, and `prefetch` uploads guessed experts ahead of their layer.
//
// Layers whose expert tensors differ in type (llama.cpp's Q4_K_M mixes Q4_K and Q6_K down
// projections) get a pool each, the budget shared in proportion to their layers.
import { allocWeight, type GpuWeight } from '../gpu/weights.ts';
import { regionWords, weightLayout } from '../gpu/layout.ts';
import { USAGE } from '../gpu/buffers.ts';
import type { GPUSession } from '../gpu/session.ts';
import { typeName } from '../gguf/types.ts';
import type { ModelPlan } from '../model/plan.ts';
import { lru, SlotOwners, type EvictionPolicy } from './eviction.ts';
import { expertBytes, expertShapes, shapeKey, type ExpertShape, type ExpertTiers, type RepackedExpert } from './expert-tiers.ts';

export class ExpertBudgetError extends Error {
  override name = 'ExpertBudgetError';
  readonly code = 'expert-budget';
}

export interface PoolStats {
  /** Lookups of a routed expert found resident / not resident, and bytes uploaded (repacked). */
  hits: number;
  misses: number;
  uploadedBytes: number;
  /** Expert launches made in more than one round because a batch needed more experts than slots. */
  extraRounds: number;
  /** Experts uploaded ahead of their layer by a prefetch, and lookups that found one of them
   *  (a miss the prefetch turned into a hit). */
  prefetchUploads: number;
  prefetchHits: number;
}

/** The slot of each (layer, expert) as the kernels read it: u32 per entry, `none` (the pool's slot
 *  count, which the expert kernels skip) when the expert is not resident. */
export class SlotTable {
  readonly buffer: GPUBuffer;
  private readonly cpu: Uint32Array<ArrayBuffer>;

  constructor(private readonly session: GPUSession, readonly nExpert: number, nLayer: number) {
    this.cpu = new Uint32Array(nLayer * nExpert);
    this.buffer = session.buffers.create(4 * this.cpu.length, USAGE.STORAGE | USAGE.COPY_DST, 'moe.slot-table', 'io');
  }

  /** Sets every entry of `layer` to `none`. */
  clear(layer: number, none: number): void {
    this.cpu.fill(none, layer * this.nExpert, (layer + 1) * this.nExpert);
    this.session.device.queue.writeBuffer(this.buffer, 4 * layer * this.nExpert, this.cpu, layer * this.nExpert, this.nExpert);
  }

  set(layer: number, expert: number, slot: number): void {
    const i = layer * this.nExpert + expert;
    this.cpu[i] = slot;
    this.session.device.queue.writeBuffer(this.buffer, 4 * i, this.cpu, i, 1);
  }
}

export class ExpertPool {
  readonly stats: PoolStats = { hits: 0, misses: 0, uploadedBytes: 0, extraRounds: 0, prefetchUploads: 0, prefetchHits: 0 };
  private readonly owners: SlotOwners;
  /** Keys uploaded by a prefetch and not looked up since. */
  private readonly prefetched = new Set<string>();
  private clock = 0;

  private constructor(
    private readonly session: GPUSession,
    readonly slots: number,
    readonly gateUp: GpuWeight,
    readonly down: GpuWeight,
    readonly layers: readonly number[],
    private readonly tiers: ExpertTiers,
    private readonly table: SlotTable,
    policy: EvictionPolicy,
    private readonly nExpert: number,
  ) {
    this.owners = new SlotOwners(slots, policy);
    for (const l of layers) table.clear(l, slots);
  }

  /** GPU bytes of one routed expert of the model (the largest, if layers differ). */
  static bytesPerExpert(plan: ModelPlan): number {
    return Math.max(...expertShapes(plan).flatMap((s) => (s ? [expertBytes(s)] : [])));
  }

  /** One pool per expert shape of the model's MoE layers, within `budget` bytes in all; each
   *  pool must hold at least one token's experts of a layer (nExpertUsed). */
  static createAll(session: GPUSession, plan: ModelPlan, budget: number, tiers: ExpertTiers, makePolicy: () => EvictionPolicy = lru): { pools: ExpertPool[]; table: SlotTable } {
    const groups = new Map<string, { shape: ExpertShape; layers: number[] }>();
    const shapes = expertShapes(plan);
    shapes.forEach((shape, l) => {
      if (!shape) return; // a dense layer
      const g = groups.get(shapeKey(shape)) ?? { shape, layers: [] };
      g.layers.push(l);
      groups.set(shapeKey(shape), g);
    });
    const { nExpert, nExpertUsed: k, nLayer } = plan.hp;
    const nMoe = shapes.filter(Boolean).length;
    // the smallest budget: k slots in every pool, the budget split in proportion to MoE layers
    const need = Math.max(...[...groups.values()].map((g) => Math.ceil((k * expertBytes(g.shape) * nMoe) / g.layers.length)));
    if (budget < need) {
      throw new ExpertBudgetError(`an expert budget of ${mb(budget)} cannot hold one token's ${k} experts of a layer ` +
        `(${mb(ExpertPool.bytesPerExpert(plan))} each on the GPU${groups.size > 1 ? `, the budget split over ${groups.size} expert types` : ''}): ` +
        `give at least ${mb(need)} (${need} bytes)`);
    }
    const table = new SlotTable(session, nExpert, nLayer);
    const byLayer: ExpertPool[] = [];
    const maxBind = session.limits.maxStorageBufferBindingSize;
    for (const { shape, layers } of groups.values()) {
      const share = Math.floor((budget * layers.length) / nMoe);
      const slots = Math.min(Math.floor(share / expertBytes(shape)), nExpert * layers.length);
      const gateUp = allocWeight(session.buffers, `experts.gate_up[${typeName(shape.gateUpType)}]`, shape.gateUpType, shape.d, 2 * shape.width, slots, maxBind);
      const down = allocWeight(session.buffers, `experts.down[${typeName(shape.downType)}]`, shape.downType, shape.width, shape.d, slots, maxBind);
      const pool = new ExpertPool(session, slots, gateUp, down, layers, tiers, table, makePolicy(), nExpert);
      for (const l of layers) byLayer[l] = pool;
    }
    return { pools: byLayer, table };
  }

  has(layer: number, expert: number): boolean {
    return this.owners.has(`${layer}/${expert}`);
  }

  /** Whether every expert of `layer` is resident (its kernels then need no help from the CPU). */
  allResident(layer: number): boolean {
    for (let e = 0; e < this.nExpert; e++) if (!this.owners.has(`${layer}/${e}`)) return false;
    return true;
  }

  /** Counts the lookups of `experts` of `layer` (one routing step), as hits or misses. */
  count(layer: number, experts: Iterable<number>): void {
    for (const e of experts) {
      const key = `${layer}/${e}`;
      if (!this.owners.has(key)) { this.stats.misses++; continue; }
      this.stats.hits++;
      if (this.prefetched.delete(key)) this.stats.prefetchHits++;
    }
  }

  /** Makes `experts` (at most `slots`) of `layer` resident, none of them evicting another;
   *  returns their slots in order. */
  async ensure(layer: number, experts: readonly number[]): Promise<number[]> {
    if (experts.length > this.slots) throw new RangeError(`${experts.length} experts at once in a pool of ${this.slots} slots`);
    const now = ++this.clock;
    const keys = experts.map((e) => `${layer}/${e}`);
    for (const k of keys) if (this.owners.has(k)) this.owners.touch(k, now);
    const missing = experts.filter((e) => !this.has(layer, e));
    const got = await Promise.all(missing.map((e) => this.tiers.get(layer, e)));
    const pinned = new Set(keys);
    missing.forEach((e, i) => this.place(layer, e, got[i], pinned, now));
    return experts.map((e) => this.owners.get(`${layer}/${e}`)!);
  }

  /** Guessed experts of an upcoming layer: those in RAM are uploaded now (evicting by the policy,
   *  never one of `pinned`), the others start coming from the store into RAM. */
  prefetch(layer: number, experts: readonly number[], pinned: ReadonlySet<string> = new Set()): void {
    const todo = experts.filter((e) => !this.has(layer, e));
    this.tiers.prefetch(layer, todo);
    const now = ++this.clock;
    for (const e of todo) {
      const r = this.tiers.peek(layer, e);
      if (!r) continue;
      this.place(layer, e, r, pinned, now);
      this.prefetched.add(`${layer}/${e}`);
      this.stats.prefetchUploads++;
    }
  }

  /** Writes r into a free slot, or one the policy gives up (not pinned). */
  private place(layer: number, expert: number, r: RepackedExpert, pinned: ReadonlySet<string>, now: number): void {
    const { slot: s, evicted } = this.owners.claim(`${layer}/${expert}`, pinned, now);
    if (evicted) {
      this.prefetched.delete(evicted);
      const [vl, ve] = evicted.split('/').map(Number);
      this.table.set(vl, ve, this.slots);
    }
    this.put(this.gateUp, s, r.gateUp);
    this.put(this.down, s, r.down);
    this.table.set(layer, expert, s);
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

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
