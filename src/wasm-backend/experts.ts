// Routed experts paged into the WebAssembly heap under a byte budget (WasmModelOptions.expertBudget):
// the WASM backend's top tier of expert paging, as the GPU slot pool (src/engine/expert-pool.ts)
// is the engine's. The wasm32 heap holds 4 GiB at most, so a model whose experts do not fit keeps
// only its other weights resident and a fixed set of heap slots for routed experts, each slot as
// large as the model's largest expert (gate, up and down matrices in GGUF blocks, one after the
// other). The experts used most recently stay (the eviction policy, LRU by default, picks who
// makes room). Below the slots are the tiers the engine uses (src/engine/expert-tiers.ts): a RAM
// cache of experts as read, over the provider (the file, IndexedDB, the network during a
// download). The matrix products read a slot as they read an expert of the resident stack, the
// same bytes, so paged logits equal resident ones bit for bit.
import { lru, SlotOwners, type EvictionPolicy } from '../engine/eviction.ts';
import { ExpertBudgetError } from '../engine/expert-pool.ts';
import type { ExpertForm, ExpertTiers, TierStats } from '../engine/expert-tiers.ts';
import type { ExpertBytes } from '../model/experts.ts';
import type { ModelPlan } from '../model/plan.ts';
import type { CpuKernels, Ptr } from './kernels.ts';

/** The tiers' form for heap slots: the GGUF bytes as read. */
export const GGUF_FORM: ExpertForm<ExpertBytes> = {
  make: (_l, _e, b) => b,
  bytes: (b) => b.gate.length + b.up.length + b.down.length,
};

export interface HeapExpertStats extends TierStats {
  /** Heap slots for routed experts, and their heap bytes. */
  slots: number;
  slotBytes: number;
  /** Lookups of a routed expert found in a slot / not, and bytes copied into the slots. */
  hits: number;
  misses: number;
  copiedBytes: number;
  /** Time the forward pass waited for experts to come up the tiers, ms. */
  fetchMs: number;
  /** Experts guessed for a layer and not in a slot (read ahead), and misses they turned into
   *  waits for a read already under way or done. */
  guesses: number;
  guessHits: number;
  ramBudget: number;
}

/** Heap bytes one expert of each MoE layer takes (gate, up, down): the largest of the model. */
function expertHeapBytes(plan: ModelPlan): number {
  const n = plan.hp.nExpert;
  const per = plan.layers.flatMap((L) => (L.moe ? [L.moe.experts.gate, L.moe.experts.up, L.moe.experts.down].reduce((s, t) => s + t.nBytes / n, 0) : []));
  return Math.max(...per);
}

export class HeapExperts {
  readonly stats: HeapExpertStats;
  /** The experts the last token chose, per layer (set by the forward pass). */
  readonly lastPicks: number[][] = [];
  private readonly owners: SlotOwners;
  /** Keys of the last prefetch not looked up since. */
  private guessed = new Set<string>();
  private clock = 0;

  private constructor(
    private readonly kernels: CpuKernels,
    /** Where each run of `perRun` slots starts. */
    private readonly runs: Ptr[],
    private readonly perRun: number,
    /** Bytes between slots (an expert's bytes rounded up to 64). */
    private readonly pitch: number,
    readonly slots: number,
    private readonly tiers: ExpertTiers<ExpertBytes>,
    policy: EvictionPolicy,
  ) {
    this.owners = new SlotOwners(slots, policy);
    this.stats = { ...tiers.stats, slots, slotBytes: slots * pitch, hits: 0, misses: 0, copiedBytes: 0, fetchMs: 0, guesses: 0, guessHits: 0, ramBudget: tiers.ramBudget };
  }

  /** The heap bytes `budget` must at least be: one token's experts of a layer (nExpertUsed slots). */
  static minBudget(plan: ModelPlan): number {
    return Math.max(1, plan.hp.nExpertUsed) * pitchOf(plan);
  }

  /** Throws ExpertBudgetError if `budget` is below minBudget (the engine host asks before the
   *  download). */
  static check(plan: ModelPlan, budget: number): void {
    const need = HeapExperts.minBudget(plan);
    if (budget >= need) return;
    throw new ExpertBudgetError(`an expert budget of ${mb(budget)} cannot hold one token's ${plan.hp.nExpertUsed} experts of a layer ` +
      `(${mb(expertHeapBytes(plan))} each in the WebAssembly heap): give at least ${mb(need)} (${need} bytes)`);
  }

  /** Slots within `budget` heap bytes (at most one per expert of the model), allocated now;
   *  a budget below one token's experts of a layer throws ExpertBudgetError. */
  static create(kernels: CpuKernels, plan: ModelPlan, budget: number, tiers: ExpertTiers<ExpertBytes>, policy: EvictionPolicy = lru(), runBytes = RUN_BYTES): HeapExperts {
    HeapExperts.check(plan, budget);
    const pitch = pitchOf(plan);
    const nMoe = plan.layers.filter((L) => L.moe).length;
    const slots = Math.min(Math.floor(budget / pitch), plan.hp.nExpert * nMoe);
    // in runs of at most RUN_BYTES: malloc grows the heap by a signed 32-bit amount at a time
    const perRun = Math.max(1, Math.floor(runBytes / pitch)), runs: Ptr[] = [];
    for (let s = 0; s < slots; s += perRun) {
      const n = Math.min(perRun, slots - s);
      runs.push(kernels.alloc(n * pitch, `expert slots ${s}..${s + n - 1} of ${slots}`));
    }
    return new HeapExperts(kernels, runs, perRun, pitch, slots, tiers, policy);
  }

  /** Makes `experts` (at most `slots`) of `layer` resident, none of them evicting another; returns
   *  the heap address of each (its gate matrix, then up, then down). */
  async ensure(layer: number, experts: readonly number[]): Promise<Ptr[]> {
    if (experts.length > this.slots) throw new RangeError(`${experts.length} experts at once in ${this.slots} heap slots`);
    const now = ++this.clock;
    const keys = experts.map((e) => `${layer}/${e}`);
    for (const k of keys) {
      if (this.owners.has(k)) { this.stats.hits++; this.owners.touch(k, now); } else this.stats.misses++;
      if (this.guessed.delete(k) && !this.owners.has(k)) this.stats.guessHits++;
    }
    const missing = experts.filter((_, i) => !this.owners.has(keys[i]));
    if (missing.length) {
      const t0 = performance.now();
      const got = await Promise.all(missing.map((e) => this.tiers.get(layer, e)));
      this.stats.fetchMs += performance.now() - t0;
      const pinned = new Set(keys);
      missing.forEach((e, i) => this.place(`${layer}/${e}`, got[i], pinned, now));
    }
    Object.assign(this.stats, this.tiers.stats);
    return keys.map((k) => this.at(this.owners.get(k)!));
  }

  /** Starts reading guessed experts of `layer` that are not in a slot up the tiers (into RAM, or
   *  the tiers' hand-over area when the RAM budget cannot hold them). */
  prefetch(layer: number, experts: readonly number[]): void {
    const todo = experts.filter((e) => !this.owners.has(`${layer}/${e}`));
    this.guessed = new Set(todo.map((e) => `${layer}/${e}`));
    this.stats.guesses += todo.length;
    this.tiers.prefetch(layer, todo);
  }

  /** The layers with routed experts, and where each of their experts is (layers x nExpert): 2 in
   *  a heap slot, 1 in the RAM tier, 0 neither; and the experts each layer chose last. */
  residency(plan: ModelPlan): { layers: number[]; tier: Uint8Array; lastPicks: number[][] } {
    const layers = plan.layers.flatMap((L, l) => (L.moe ? [l] : []));
    const n = plan.hp.nExpert, tier = new Uint8Array(layers.length * n);
    layers.forEach((l, i) => {
      for (let e = 0; e < n; e++) tier[i * n + e] = this.owners.has(`${l}/${e}`) ? 2 : this.tiers.inRam(l, e) ? 1 : 0;
    });
    return { layers, tier, lastPicks: layers.map((l) => this.lastPicks[l] ?? []) };
  }

  /** The heap address of slot s. */
  private at(s: number): Ptr {
    return this.runs[Math.floor(s / this.perRun)] + (s % this.perRun) * this.pitch;
  }

  /** Copies the expert into a free slot, or one the policy gives up (not pinned). */
  private place(key: string, b: ExpertBytes, pinned: ReadonlySet<string>, now: number): void {
    const p = this.at(this.owners.claim(key, pinned, now).slot), u8 = this.kernels.mem.u8;
    u8.set(b.gate, p);
    u8.set(b.up, p + b.gate.length);
    u8.set(b.down, p + b.gate.length + b.up.length);
    this.stats.copiedBytes += GGUF_FORM.bytes(b);
  }
}

const RUN_BYTES = 1 << 30;
const pitchOf = (plan: ModelPlan) => Math.ceil(expertHeapBytes(plan) / 64) * 64;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
