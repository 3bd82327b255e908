// The WebGPU engine: a GGUF model from any RangeSource, every layer on the GPU, greedy decoding
// with the argmax on the GPU (4 bytes read back per token), logits on request. The same code runs
// in Node (npm `webgpu`) and in a browser worker.
import { checkForwardInput } from '../generate/forward-input.ts';
import { readGGUF } from '../gguf/reader.ts';
import type { RangeSource } from '../gguf/source.ts';
import { USAGE } from '../gpu/buffers.ts';
import { Op, runOps } from '../gpu/op.ts';
import { WebGPUUnavailableError } from '../gpu/device.ts';
import { GPUEngineError, GPUSession, type SessionOptions } from '../gpu/session.ts';
import type { KvType } from '../gpu/shaders.ts';
import { resolveAttentionKernels, resolveKernels, type KernelChoice, type KernelShape } from '../gpu/variant.ts';
import type { HParams } from '../model/hparams.ts';
import { expertProvider, type ExpertProvider } from '../model/experts.ts';
import { planModel, type ModelPlan } from '../model/plan.ts';
import { makePolicy, type PolicyName } from './eviction.ts';
import { ExpertPool, type PoolStats } from './expert-pool.ts';
import { ExpertTiers, repackedForm, type TierStats } from './expert-tiers.ts';
import { emptyPagingStats, ForwardGraph, type PagedExperts, type PagingStats } from './graph.ts';
import { allocWeights, type LoadProgress, type ModelWeights } from './weights.ts';

export { ContextFullError } from '../generate/forward-input.ts';

export interface EngineOptions {
  /** KV cache length in positions (default: min(2048, the model's training context)). */
  nCtx?: number;
  /** Tokens per prefill step (default 64): activation buffers are sized for it. */
  maxBatch?: number;
  /** 'ggml' (default): convert matmul inputs as llama.cpp's CPU backend does (Q8_0/Q8_1/Q8_K,
   *  f16, bf16) and read GELU from an f16 table; 'exact': f32 activations throughout. */
  numerics?: 'ggml' | 'exact';
  /** KV cache element type. 'auto' (default): 'f16' when the adapter has shader-f16 (half the
   *  memory; llama.cpp's default cache type and its numerics), else 'f32'. */
  kvType?: 'auto' | KvType;
  /** Kernel shapes (src/gpu/variant.ts): 'auto' (default) the software shapes on CPU-backed and
   *  fallback adapters (SwiftShader, llvmpipe), the hardware shapes on every other adapter;
   *  'software' or 'hardware' forces one (tests, benchmarks). */
  kernels?: KernelChoice;
  /** Paging: GPU bytes for routed experts. Set, only the experts the router picks are brought
   *  into GPU memory, at most this many bytes of them (the least recently used make room), so a
   *  model larger than the GPU allows still runs; each MoE layer then reads the router's choice
   *  back before its experts run. Unset (default), every expert is resident. */
  expertBudget?: number;
  /** Paging: bytes of repacked experts kept in CPU memory below the GPU slots (a GPU miss that
   *  finds its expert there costs one upload, no store read). Default 0; the worker and the CLI
   *  default it from the machine's memory (memory.ts). */
  ramBudget?: number;
  /** Paging: where expert bytes come from (e.g. `(l, e) => download.ensureExpert(l, e)`, which
   *  waits for a download); default: read from the source. */
  experts?: ExpertProvider;
  /** Paging: how it runs. overlap: run a layer's resident experts before its routing is read
   *  back, the misses after (default: on hardware adapters; off on software ones, SwiftShader and
   *  llvmpipe, where the GPU is the CPU and there is nothing to overlap: measured slower there);
   *  prefetch: guess the next layer's experts and bring them up the tiers (default on);
   *  prefetchWidth: guess round(k * width) experts per layer (default 1.5: on natural routing it
   *  turned 59% of misses into hits against 44% for 1, for half again the prefetch uploads); policy:
   *  eviction (default 'lru'); inline: a layer whose experts are all resident skips its readback
   *  (default on); onRoute sees every routing read back (layer, chosen experts). */
  paging?: { overlap?: boolean; prefetch?: boolean; prefetchWidth?: number; inline?: boolean; policy?: PolicyName; onRoute?: PagedExperts['onRoute'] };
  /** A device to share (its pipeline cache too); the engine's buffers live in a child session
   *  that destroy() frees. By default the engine makes and owns a device. */
  session?: GPUSession;
  sessionOptions?: SessionOptions;
  onProgress?: LoadProgress;
}

export interface EngineStats {
  prefillTokens: number;
  prefillMs: number;
  decodeTokens: number;
  decodeMs: number;
  /** Kernel launches of the last one-token step. */
  launchesPerToken: number;
  gpuBytes: { weights: number; kv: number; scratch: number; io: number };
  bytesRead: number;
}

/** Paged experts' figures: GPU slots and their lookups (pool), the RAM and store tiers, and the
 *  host steps (readbacks, waits, prefetch guesses). */
export type ExpertStats = PoolStats & PagingStats & TierStats & {
  slots: number;
  /** GPU bytes of the slots. */
  gpuBytes: number;
  ramBudget: number;
};

export interface ForwardResult {
  /** The argmax of the last token's logits (greedy choice). */
  next: number;
  /** Logits of the last token, or of every token with logits: 'all'. */
  logits?: Float32Array[];
}

export class WebGPUEngine {
  /** Positions in the KV cache. */
  nPast = 0;
  readonly stats: EngineStats;
  private readonly nextRead: GPUBuffer;
  private logitsRead?: GPUBuffer;

  private constructor(
    readonly session: GPUSession,
    readonly plan: ModelPlan,
    weights: ModelWeights,
    private readonly graph: ForwardGraph,
    readonly nCtx: number,
    readonly maxBatch: number,
    private readonly source: RangeSource,
    private readonly opts: EngineOptions,
    private readonly tiers?: ExpertTiers,
  ) {
    this.nextRead = session.device.createBuffer({ size: 16, usage: USAGE.MAP_READ | USAGE.COPY_DST, label: 'next.read' });
    const b = session.buffers.stats.bytes;
    this.stats = {
      prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0, launchesPerToken: 0,
      gpuBytes: { ...b }, bytesRead: weights.bytesRead,
    };
  }

  get hp(): HParams {
    return this.plan.hp;
  }

  /** Paged experts (option expertBudget): the tiers' figures; null if every expert is resident. */
  get expertStats(): ExpertStats | null {
    const p = this.graph.paging;
    if (!p || !this.tiers) return null;
    const pools = [...new Set(p.pools.filter(Boolean))];
    const sum = (f: (p: ExpertPool) => number) => pools.reduce((s, x) => s + f(x), 0);
    const pool = Object.fromEntries((Object.keys(pools[0].stats) as (keyof PoolStats)[]).map((k) => [k, sum((x) => x.stats[k])])) as unknown as PoolStats;
    return {
      slots: sum((x) => x.slots), gpuBytes: sum((x) => x.gateUp.bytes + x.down.bytes), ...pool, ...p.stats,
      ...this.tiers.stats, ramBudget: this.tiers.ramBudget,
    };
  }

  /** Paged experts: the layers with routed experts, and where each of their experts is (layers x
   *  nExpert): 2 on the GPU, 1 in the RAM tier, 0 neither; and the experts each layer chose last
   *  (read-back routings only: a layer whose experts were all resident ran without telling).
   *  Null if resident. */
  expertResidency(): { layers: number[]; tier: Uint8Array; lastPicks: number[][] } | null {
    const p = this.graph.paging;
    if (!p || !this.tiers) return null;
    const { nExpert } = this.hp;
    const layers = p.pools.flatMap((pool, l) => (pool ? [l] : [])); // the layers with routed experts
    const tier = new Uint8Array(layers.length * nExpert);
    layers.forEach((l, i) => {
      for (let e = 0; e < nExpert; e++) tier[i * nExpert + e] = p.pools[l].has(l, e) ? 2 : this.tiers!.inRam(l, e) ? 1 : 0;
    });
    // the last token's picks, where its batch read them back
    const lastPicks = layers.map((l) => {
      const r = p.lastRoute[l];
      return r && r.batch === p.batches ? [...r.ids.subarray(r.ids.length - this.hp.nExpertUsed)] : [];
    });
    return { layers, tier, lastPicks };
  }

  /** The kernel shape in use (option kernels). */
  get kernels(): KernelShape {
    return resolveKernels(this.session, this.opts.kernels);
  }

  /** The KV cache's element type (option kvType). */
  get kvType(): KvType {
    return this.graph.kvType;
  }

  /** Reads the header and every weight from `source` onto a GPU device. */
  static async load(source: RangeSource, opts: EngineOptions = {}): Promise<WebGPUEngine> {
    const plan = planModel(await readGGUF(source));
    const session = opts.session ? opts.session.child() : await GPUSession.create(opts.sessionOptions);
    try {
      const nCtx = opts.nCtx ?? Math.min(2048, plan.hp.nCtxTrain);
      const maxBatch = Math.max(1, Math.min(opts.maxBatch ?? 64, nCtx));
      // auto: f16 where the adapter has it, but f32 for attention with sinks (gpt-oss): on the
      // factory gpt-oss, single f16 roundings of K and V decide the tokens, so an f16 cache meets
      // llama.cpp's only with K and V bit-identical to its own, which ours are not (README, gpt-oss)
      const kvType = opts.kvType && opts.kvType !== 'auto' ? opts.kvType : session.features.f16 && !plan.arch.attention.sinks ? 'f16' : 'f32';
      if (kvType === 'f16' && !session.features.f16) {
        throw new WebGPUUnavailableError('missing-feature', `an f16 KV cache needs the shader-f16 feature, which ${session.adapterName} lacks: use kvType 'f32' or 'auto'`);
      }
      const kernels = resolveKernels(session, opts.kernels);
      const paged = plan.hasExperts && opts.expertBudget !== undefined;
      let paging: PagedExperts | undefined, tiers: ExpertTiers | undefined;
      if (paged) {
        const po = opts.paging ?? {};
        const policy = () => makePolicy(po.policy ?? 'lru', plan.hp.nLayer);
        tiers = new ExpertTiers(opts.experts ?? expertProvider(plan, (o, n) => source.read(o, n)), opts.ramBudget ?? 0, repackedForm(plan), policy());
        const { pools, table } = ExpertPool.createAll(session, plan, opts.expertBudget!, tiers, policy);
        paging = { pools, table, overlap: po.overlap ?? !session.software, prefetch: po.prefetch ?? true, prefetchWidth: po.prefetchWidth ?? 1.5, inline: po.inline ?? true, stats: emptyPagingStats(), batches: 0, lastRoute: [], onRoute: po.onRoute };
      }
      // the kernels are built while the weights are read and uploaded into their buffers, all
      // their pipelines compiling at once
      const { weights, filled } = allocWeights(session, source, plan, opts.onProgress, paged);
      const [graph] = await Promise.all([
        session.pipelines.concurrently(() => ForwardGraph.build(session, plan, weights, { nCtx, maxBatch, numerics: opts.numerics ?? 'ggml', kvType, kernels, attnKernels: resolveAttentionKernels(session, opts.kernels), paging })),
        filled,
      ]);
      graph.writeRopeTable(weights.ropeFreqs);
      session.check();
      return new WebGPUEngine(session, plan, weights, graph, nCtx, maxBatch, source, opts, tiers);
    } catch (e) {
      session.destroy();
      throw e;
    }
  }

  /** A fresh engine on a new device (after a GPUEngineError 'device-lost'); this one is destroyed. */
  async recreate(): Promise<WebGPUEngine> {
    this.destroy();
    return WebGPUEngine.load(this.source, this.opts);
  }

  /** Forgets the KV cache: the next token is at position 0. */
  reset(): void {
    this.nPast = 0;
  }

  /** Keeps the first `n` positions of the KV cache (a conversation's shared prefix): the next
   *  token goes at position n. The kernels write at nPast and attend only below it, so what lay
   *  beyond is overwritten before anything reads it. */
  truncate(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.nPast)) throw new RangeError(`cannot keep ${n} of the ${this.nPast} positions in the KV cache`);
    this.nPast = n;
  }

  /** Runs tokens at positions nPast.. in batches of maxBatch; returns the greedy next token and,
   *  if asked, logits. */
  async forward(tokens: readonly number[], opts: { logits?: 'none' | 'last' | 'all' } = {}): Promise<ForwardResult> {
    this.session.check();
    const { nVocab } = this.hp;
    checkForwardInput(tokens, nVocab, this.nPast, this.nCtx);
    const t0 = performance.now();
    const want = opts.logits ?? 'none';
    const logits: Float32Array[] = [];
    let next = -1;
    for (let i = 0; i < tokens.length; i += this.maxBatch) {
      const chunk = tokens.slice(i, i + this.maxBatch);
      const last = i + this.maxBatch >= tokens.length;
      const T = chunk.length;
      this.session.device.queue.writeBuffer(this.graph.io.tokens, 0, Uint32Array.from(chunk));
      const all = want === 'all';
      const label = `forward ${T}@${this.nPast}`;
      // one compute pass, or one per stretch between host steps (paged experts)
      let pass: Op[] = [];
      for (const item of this.graph.ops(T, this.nPast, all)) {
        if (item instanceof Op) { pass.push(item); continue; }
        const inline = item.inline?.(T);
        if (inline) { pass.push(...inline); continue; }
        if (pass.length) runOps(this.session, pass, label);
        pass = [];
        await item.run(T, (ops) => runOps(this.session, ops, `${label} ${item.label}`));
        this.session.check();
      }
      if (pass.length) runOps(this.session, pass, label);
      this.nPast += T;
      const rows = all ? T : 1;
      if (last || all) {
        const enc = this.session.device.createCommandEncoder({ label: 'readback' });
        enc.copyBufferToBuffer(this.graph.io.next, 0, this.nextRead, 0, 16);
        const logitBytes = 4 * rows * nVocab;
        if (want !== 'none' && (last || all)) {
          if (!this.logitsRead || this.logitsRead.size < logitBytes) {
            this.logitsRead?.destroy();
            this.logitsRead = this.session.device.createBuffer({ size: 4 * this.maxBatch * nVocab, usage: USAGE.MAP_READ | USAGE.COPY_DST, label: 'logits.read' });
          }
          enc.copyBufferToBuffer(this.graph.io.logits, 0, this.logitsRead, 0, logitBytes);
        }
        this.session.device.queue.submit([enc.finish()]);
        if (want !== 'none' && (last || all) && this.logitsRead) {
          await this.logitsRead.mapAsync(GPUMapMode.READ, 0, logitBytes);
          const all32 = new Float32Array(this.logitsRead.getMappedRange(0, logitBytes).slice(0));
          this.logitsRead.unmap();
          for (let r = 0; r < rows; r++) logits.push(all32.subarray(r * nVocab, (r + 1) * nVocab));
        }
        if (last) {
          await this.nextRead.mapAsync(GPUMapMode.READ);
          next = new Uint32Array(this.nextRead.getMappedRange().slice(0))[0];
          this.nextRead.unmap();
        }
      }
      this.session.check();
    }
    const ms = performance.now() - t0;
    if (tokens.length === 1) {
      this.stats.decodeTokens++;
      this.stats.decodeMs += ms;
      this.stats.launchesPerToken = this.graph.lastOps;
    } else {
      this.stats.prefillTokens += tokens.length;
      this.stats.prefillMs += ms;
    }
    if (next < 0 || next >= nVocab) throw new GPUEngineError('internal', `the GPU argmax returned ${next} for a vocabulary of ${nVocab}`);
    return { next, logits: want === 'none' ? undefined : logits };
  }

  /** Greedy generation: resets, runs the prompt, then nTokens argmax choices. */
  async generate(prompt: readonly number[], nTokens: number, onToken?: (id: number) => void): Promise<number[]> {
    this.reset();
    const ids: number[] = [];
    let { next } = await this.forward(prompt);
    for (let i = 0; i < nTokens; i++) {
      ids.push(next);
      onToken?.(next);
      if (i + 1 < nTokens) ({ next } = await this.forward([next]));
    }
    return ids;
  }

  destroy(): void {
    this.nextRead.destroy();
    this.logitsRead?.destroy();
    this.session.destroy(); // a child session frees its buffers and leaves the shared device
  }
}
