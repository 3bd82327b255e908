// The WASM CPU backend: the whole forward pass on kernels compiled from C to WebAssembly with
// SIMD128 (wasm/src/cpu, wrapped by kernels.ts), driven from the model plan exactly as the CPU
// reference (src/reference/model.ts) walks it, with llama.cpp's CPU numerics (activations
// converted to each weight's vec_dot_type, see wasm/src/cpu/quant.c). Weights are copied into
// the WebAssembly heap in their GGUF block layout (norms and biases as f32); a batch of up to
// maxBatch tokens goes through each matrix at once (every weight row meets every token while it
// is in cache); attention runs token by token over an f32 KV cache in the heap.
//
// Per layer, for the batch's T tokens (d = nEmbd, q = nHead*headDim, kv = nHeadKv*headDim):
//   h = rmsnorm(x) * attn_norm                                   (T, d)
//   Q, K, V = Wq h (+bq), Wk h (+bk), Wv h (+bv), qk norm         (T, q), (T, kv), (T, kv)
//   per token: rope(Q), rope(K) at its position (scaled: rope_freqs, linear, YaRN); K, V into
//   the cache; attend → att (T, q)
//     (sliding layers: the last nSwa positions and their own RoPE base; sinks join the softmax)
//   a = Wo att (+bo) [rmsnorm * attn_output_norm] [* residual_scale];  x = a + x
//   hf = rmsnorm(x) * ffn_norm
//   f = down(act(gate hf) * up hf)      act: SiLU, GELU, swiglu_oai   dense, or
//   f = Σ_k w_k expert_k(hf) (+ shared(hf) [* sigmoid(g·hf)])     MoE: router (+bias) softmax, top-k
//       (or the top-k logits' softmax), expert biases after each expert matrix
//   [rmsnorm * layer_output_norm] [* residual_scale];  x = f + x
// then logits = Wout rmsnorm(x) * output_norm, scaled and soft-capped, for the tokens asked.
import { checkForwardInput } from '../generate/forward-input.ts';
import { dequantize } from '../gguf/dequant.ts';
import { readGGUF } from '../gguf/reader.ts';
import type { RangeSource } from '../gguf/source.ts';
import type { GatedTensors } from '../model/arch.ts';
import { ModelFormatError, type HParams } from '../model/hparams.ts';
import { planModel, type ModelPlan, type Tensor } from '../model/plan.ts';
import { argmax } from '../reference/ops.ts';
import type { WasmSource } from '../tokenizer/wasm.ts';
import { typeName } from '../gguf/types.ts';
import { CpuKernels, WASM_TYPES, WasmBackendError, type Ptr } from './kernels.ts';
import { makePolicy, type PolicyName } from '../engine/eviction.ts';
import { ExpertTiers } from '../engine/expert-tiers.ts';
import { expertProvider, type ExpertProvider } from '../model/experts.ts';
import { GGUF_FORM, HeapExperts, type HeapExpertStats } from './experts.ts';

export interface WasmModelOptions {
  /** KV cache length in positions (default: min(2048, the model's training context)). */
  nCtx?: number;
  /** Tokens per batch through the matrices (default 32). */
  maxBatch?: number;
  /** cpu.wasm itself, or where to find it (default: wasm/build/cpu.wasm next to the sources). */
  wasm?: WasmSource;
  /** Threads for the matrix products (default 1): above 1, cpu-mt.wasm on a shared heap with
   *  threads-1 workers; same results as one thread, bit for bit. Needs SharedArrayBuffer (in a
   *  browser: a cross-origin isolated page). */
  threads?: number;
  /** cpu-mt.wasm itself, or where to find it (default: wasm/build/cpu-mt.wasm). */
  wasmThreads?: WasmSource;
  /** Bytes of weights copied into the heap so far, of the total, after each tensor. */
  onProgress?: (done: number, total: number) => void;
  /** Paging (MoE models): heap bytes for routed experts. Set, the routed experts stay out of the
   *  heap at load and the ones the router picks are copied into slots within this many bytes (the
   *  least recently used make room), so a model larger than the heap still runs (experts.ts).
   *  Unset (default), every weight is resident. */
  expertBudget?: number;
  /** Paging: bytes of experts kept in memory outside the heap, below the slots (default 0). */
  ramBudget?: number;
  /** Paging: where expert bytes come from (default: read from the source). */
  experts?: ExpertProvider;
  /** Paging: eviction policy of the slots and the RAM tier (default 'lru'). */
  expertPolicy?: PolicyName;
  /** Paging: guess the next MoE layer's experts and start reading them (default true). */
  expertPrefetch?: boolean;
}

export interface ForwardOptions {
  /** Logits to return: none (default), the last token's, or every token's. */
  logits?: 'none' | 'last' | 'all';
}

export interface WasmForwardResult {
  /** The argmax of the last token's logits (greedy choice). */
  next: number;
  /** Logits of the last token, or of every token with logits: 'all'. */
  logits?: Float32Array[];
}

/** A matrix in the heap: (count, rows, cols) in GGUF blocks; matrix m starts at ptr + m*stride. */
interface Mat {
  ptr: Ptr;
  type: number;
  rows: number;
  cols: number;
  stride: number;
  name: string;
}

interface Gated { gate: Mat; up: Mat; down: Mat }

/** Biases (f32) added after each matrix of a gated FFN: one routed expert's rows of the
 *  ffn_{gate,up,down}_exps.bias stacks (ggml_add_id). */
interface GatedBias { gate: Ptr; up: Ptr; down: Ptr }

interface Layer {
  attnNorm: Ptr; q: Mat; k: Mat; v: Mat; o: Mat;
  bq?: Ptr; bk?: Ptr; bv?: Ptr; bo?: Ptr; qNorm?: Ptr; kNorm?: Ptr; attnOutNorm?: Ptr;
  /** Sink logits (nHead); sliding window (positions seen, itself included; 0 = all); whether the
   *  layer takes the sliding layers' RoPE. */
  sinks?: Ptr; window: number; swa: boolean;
  ffnNorm: Ptr; postNorm?: Ptr;
  ffn?: Gated;
  moe?: {
    router: Mat; routerBias?: Ptr; selectionBias?: Float32Array; experts: Gated;
    /** The stacks of expert biases (nExpert, width), f32. */
    expertBiases?: GatedBias; shared?: Gated; sharedGate?: Mat;
  };
}

export interface WasmModelStats {
  /** Heap bytes held by weights, KV cache and activations. */
  heapBytes: number;
  weightBytes: number;
  /** Wall time of the last forward(), ms, and its token count. */
  lastForwardMs: number;
  lastForwardTokens: number;
}

const ROPE_MODE = { norm: 0, neox: 2 } as const;

export class WasmModel {
  /** Positions in the KV cache. */
  nPast = 0;
  readonly hp: HParams;
  readonly nCtx: number;
  readonly maxBatch: number;
  readonly stats: WasmModelStats;
  private readonly layers: Layer[];
  /** Routed experts' heap slots, when paged (option expertBudget), and whether to prefetch. */
  private readonly paged?: HeapExperts;
  private readonly prefetch: boolean;
  private readonly embd: Mat;
  private readonly outNorm: Ptr;
  private readonly output: Mat;
  /** rope_freqs (ropeDim/2 f32) in the heap, or 0 (none). */
  private readonly ropeFreqs: Ptr;
  private readonly kCache: Ptr[];
  private readonly vCache: Ptr[];
  private readonly buf: Record<'x' | 'h' | 'q' | 'k' | 'v' | 'att' | 'a' | 'gate' | 'up' | 'hid' | 'f' | 'ex' | 'ey' | 'mix' | 'probs' | 'logits' | 'scratch' | 'attnScratch' | 'rope', Ptr>;

  private constructor(readonly kernels: CpuKernels, readonly plan: ModelPlan, w: Map<Tensor, Ptr>, opts: WasmModelOptions, paged?: HeapExperts) {
    const hp = (this.hp = plan.hp);
    const K = kernels;
    this.paged = paged;
    this.prefetch = opts.expertPrefetch ?? true;
    this.nCtx = opts.nCtx ?? Math.min(2048, hp.nCtxTrain);
    this.maxBatch = opts.maxBatch ?? 32;
    if (!(Number.isInteger(this.nCtx) && this.nCtx > 0)) throw new RangeError(`nCtx must be a positive integer, got ${this.nCtx}`);
    if (!(Number.isInteger(this.maxBatch) && this.maxBatch > 0)) throw new RangeError(`maxBatch must be a positive integer, got ${this.maxBatch}`);
    const mat = (t: Tensor): Mat => {
      const [cols, rows = 1] = t.shape;
      // (a paged expert stack is not in the heap: its experts come into slots, see moe())
      return { ptr: w.get(t) ?? -1, type: t.type, rows, cols, stride: rows * K.rowBytes(t.type, cols, t.name), name: t.name };
    };
    const vec = (t?: Tensor) => (t ? w.get(t)! : undefined);
    const gated = (g: GatedTensors<Tensor>): Gated => ({ gate: mat(g.gate), up: mat(g.up), down: mat(g.down) });
    this.embd = mat(plan.embd);
    this.output = mat(plan.output);
    this.outNorm = vec(plan.outNorm)!;
    this.ropeFreqs = vec(plan.ropeFreqs) ?? 0;
    this.layers = plan.layers.map((L, il): Layer => {
      const A = L.attn;
      const layer: Layer = {
        attnNorm: vec(A.norm)!, q: mat(A.q), k: mat(A.k), v: mat(A.v), o: mat(A.o),
        bq: vec(A.qBias), bk: vec(A.kBias), bv: vec(A.vBias), qNorm: vec(A.qNorm), kNorm: vec(A.kNorm),
        attnOutNorm: vec(A.postNorm), ffnNorm: vec(L.ffnNorm)!, postNorm: vec(L.postNorm),
        bo: vec(A.oBias), sinks: vec(A.sinks), swa: plan.consts.swaLayers[il], window: plan.consts.swaLayers[il] ? plan.consts.swaWindow : 0,
      };
      if (L.moe) {
        const m = L.moe;
        layer.moe = {
          router: mat(m.router), routerBias: vec(m.routerBias), experts: gated(m.experts),
          expertBiases: m.expertBiases && { gate: vec(m.expertBiases.gate)!, up: vec(m.expertBiases.up)!, down: vec(m.expertBiases.down)! },
          shared: m.shared && gated(m.shared), sharedGate: m.sharedGate && mat(m.sharedGate),
          selectionBias: m.selectionBias && K.f32(w.get(m.selectionBias)!, hp.nExpert).slice(),
        };
      } else {
        layer.ffn = gated(L.ffn!);
      }
      return layer;
    });
    const weightBytes = K.allocated - (paged?.stats.slotBytes ?? 0);

    // KV cache and activations, sized for maxBatch tokens
    const B = this.maxBatch, d = hp.nEmbd, qDim = hp.nHead * hp.headDim, kvDim = hp.nHeadKv * hp.headDim;
    this.kCache = this.layers.map((_, i) => K.alloc(this.nCtx * kvDim * 4, `layer ${i} K cache`));
    this.vCache = this.layers.map((_, i) => K.alloc(this.nCtx * kvDim * 4, `layer ${i} V cache`));
    const mats = this.layers.flatMap((l) => [l.q, l.k, l.v, l.o, ...(l.ffn ? [l.ffn.gate, l.ffn.up, l.ffn.down] : []),
      ...(l.moe ? [l.moe.router, l.moe.experts.gate, l.moe.experts.up, l.moe.experts.down, ...(l.moe.shared ? [l.moe.shared.gate, l.moe.shared.up, l.moe.shared.down] : []), ...(l.moe.sharedGate ? [l.moe.sharedGate] : [])] : [])]);
    mats.push(this.output);
    const ffns = this.layers.flatMap((l) => [l.ffn, l.moe?.experts, l.moe?.shared]).filter((g): g is Gated => !!g);
    const ff = Math.max(1, ...ffns.map((g) => g.gate.rows));
    const scratch = Math.max(...mats.map((m) => K.scratchBytes(m.type, m.cols, B)));
    const k = Math.max(1, hp.nExpertUsed);
    const f32 = (n: number, what: string) => K.alloc(Math.max(n, 4) * 4, what);
    this.buf = {
      x: f32(B * d, 'x'), h: f32(B * d, 'h'), q: f32(B * qDim, 'Q'), k: f32(B * kvDim, 'K'), v: f32(B * kvDim, 'V'), att: f32(B * qDim, 'attention out'),
      a: f32(B * d, 'a'), gate: f32(B * ff, 'gate'), up: f32(B * ff, 'up'), hid: f32(B * ff, 'hidden'), f: f32(B * d, 'f'),
      ex: f32(B * d, 'expert input'), ey: f32(B * d, 'expert output'), mix: f32(B * k * d, 'expert outputs'),
      probs: f32(B * Math.max(1, hp.nExpert), 'router'), logits: f32(B * hp.nVocab, 'logits'),
      scratch: K.alloc(scratch, 'converted activations'), attnScratch: f32(2 * (this.nCtx + 16), 'attention scores'),
      rope: f32(2 * B * hp.ropeDim, 'RoPE cos and sin'),
    };
    this.stats = { heapBytes: K.allocated, weightBytes, lastForwardMs: 0, lastForwardTokens: 0 };
  }

  /** Reads the GGUF header and every weight the plan names from `source` into a new heap (with
   *  expertBudget, all but the routed experts, and allocates their slots first). */
  static async load(source: RangeSource, opts: WasmModelOptions = {}): Promise<WasmModel> {
    const plan = planModel(await readGGUF(source));
    refuseUnsupported(plan);
    const kernels = await CpuKernels.create(opts.wasm, { threads: opts.threads, wasmThreads: opts.wasmThreads });
    try {
      let paged: HeapExperts | undefined;
      if (plan.hasExperts && opts.expertBudget !== undefined) {
        const policy = () => makePolicy(opts.expertPolicy ?? 'lru', plan.hp.nLayer);
        const tiers = new ExpertTiers(opts.experts ?? expertProvider(plan, (o, n) => source.read(o, n)), opts.ramBudget ?? 0, GGUF_FORM, policy());
        paged = HeapExperts.create(kernels, plan, opts.expertBudget, tiers, policy());
      }
      return new WasmModel(kernels, plan, await readWeights(source, plan, kernels, opts, !!paged), opts, paged);
    } catch (e) {
      kernels.close();
      throw e;
    }
  }

  /** Paged experts (option expertBudget): slots, lookups and the tiers' figures; null if every
   *  expert is resident. */
  get expertStats(): HeapExpertStats | null {
    return this.paged ? { ...this.paged.stats } : null;
  }

  /** Paged experts: where each routed expert is (HeapExperts.residency); null if resident. */
  expertResidency(): { layers: number[]; tier: Uint8Array; lastPicks: number[][] } | null {
    return this.paged?.residency(this.plan) ?? null;
  }

  /** Threads sharing the matrix products. */
  get threads(): number {
    return this.kernels.threads;
  }

  /** Stops the worker threads; the model must not be used after. */
  close(): void {
    this.kernels.close();
  }

  /** Forgets the KV cache: the next token is at position 0. */
  reset(): void {
    this.nPast = 0;
  }

  /** Keeps the first `n` positions of the KV cache: the next token goes at position n. */
  truncate(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.nPast)) throw new RangeError(`cannot keep ${n} of the ${this.nPast} positions in the KV cache`);
    this.nPast = n;
  }

  /** Runs tokens at positions nPast.. in batches of maxBatch; returns the greedy next token and,
   *  if asked, logits. A model with paged experts runs through forwardAsync instead. */
  forward(tokens: readonly number[], opts: ForwardOptions = {}): WasmForwardResult {
    if (this.paged) throw new WasmBackendError('unsupported-option', 'this model pages its experts (expertBudget), which are read as the router picks them: use forwardAsync');
    const r = this.steps(tokens, opts).next();
    if (!r.done) throw new Error('unreachable: a resident model waited for an expert');
    return r.value;
  }

  /** forward(), for a model with paged experts too: waits while routed experts come into the heap. */
  async forwardAsync(tokens: readonly number[], opts: ForwardOptions = {}): Promise<WasmForwardResult> {
    const g = this.steps(tokens, opts);
    let r = g.next();
    while (!r.done) r = g.next(await r.value);
    return r.value;
  }

  /** The forward pass; it yields where paged experts must come into the heap (the caller resumes
   *  it with their slots). */
  private *steps(tokens: readonly number[], opts: ForwardOptions): Generator<Promise<Ptr[]>, WasmForwardResult, Ptr[]> {
    const { nVocab } = this.hp;
    checkForwardInput(tokens, nVocab, this.nPast, this.nCtx);
    const t0 = performance.now();
    const want = opts.logits ?? 'none';
    const logits: Float32Array[] = [];
    let next = -1;
    for (let i = 0; i < tokens.length; i += this.maxBatch) {
      const chunk = tokens.slice(i, i + this.maxBatch);
      const last = i + this.maxBatch >= tokens.length;
      yield* this.layersOf(chunk);
      // the head for the tokens whose logits are wanted (the last one always: its argmax)
      const rows = want === 'all' ? chunk.map((_, j) => j) : last ? [chunk.length - 1] : [];
      for (const j of rows) {
        const l = this.head(j);
        if (want !== 'none') logits.push(l.slice());
        if (last && j === chunk.length - 1) next = argmax(l);
      }
      this.nPast += chunk.length;
    }
    this.stats.lastForwardMs = performance.now() - t0;
    this.stats.lastForwardTokens = tokens.length;
    return want === 'none' ? { next } : { next, logits };
  }

  /** Every layer for the T tokens of `chunk` at positions nPast..; leaves x (T, d). */
  private *layersOf(chunk: readonly number[]): Generator<Promise<Ptr[]>, void, Ptr[]> {
    const K = this.kernels, X = K.x, { hp, plan, buf } = this;
    const c = plan.consts, T = chunk.length, d = hp.nEmbd;
    const qDim = hp.nHead * hp.headDim, kvDim = hp.nHeadKv * hp.headDim;
    // token embeddings (ggml_get_rows dequantizes the row), scaled when the arch says so
    const E = this.embd, rb = E.stride / E.rows;
    chunk.forEach((t, j) => {
      const row = dequantize(E.type, K.mem.u8.subarray(E.ptr + t * rb, E.ptr + (t + 1) * rb), d, E.name);
      if (c.embeddingScale !== 1) for (let i = 0; i < d; i++) row[i] = row[i] * c.embeddingScale;
      K.f32(buf.x + j * d * 4, d).set(row);
    });
    // cos and sin (ropeDim each) of every token's position: rows 0..T-1, and B.. for sliding layers
    const cs = (j: number, swa: boolean) => buf.rope + ((swa ? this.maxBatch : 0) + j) * hp.ropeDim * 4;
    for (let j = 0; j < T; j++) {
      for (const swa of c.swaWindow ? [false, true] : [false]) {
        const r = swa ? c.ropeSwa : c.rope;
        X.cpu_rope_cache(cs(j, swa), this.nPast + j, hp.ropeDim, r.base, r.freqScale, r.extFactor, r.attnFactor, r.corrDims[0], r.corrDims[1], this.ropeFreqs);
      }
    }
    const arch = plan.arch;
    for (let il = 0; il < this.layers.length; il++) {
      const L = this.layers[il];
      X.cpu_rms_norm(buf.x, L.attnNorm, buf.h, T * d, d, hp.eps);
      this.matmul(L.q, buf.h, T, buf.q);
      this.matmul(L.k, buf.h, T, buf.k);
      this.matmul(L.v, buf.h, T, buf.v);
      if (L.bq) this.addRows(buf.q, L.bq, T, qDim);
      if (L.bk) this.addRows(buf.k, L.bk, T, kvDim);
      if (L.bv) this.addRows(buf.v, L.bv, T, kvDim);
      if (L.qNorm && L.kNorm) {
        // 'head': weight (headDim), a norm per head; 'full': weight (q) / (kv), over all heads
        const full = arch.attention.qkNorm === 'full';
        X.cpu_rms_norm(buf.q, L.qNorm, buf.q, T * qDim, full ? qDim : hp.headDim, hp.eps);
        X.cpu_rms_norm(buf.k, L.kNorm, buf.k, T * kvDim, full ? kvDim : hp.headDim, hp.eps);
      }
      const mode = ROPE_MODE[arch.rope];
      for (let j = 0; j < T; j++) {
        const pos = this.nPast + j;
        const q = buf.q + j * qDim * 4, k = buf.k + j * kvDim * 4, v = buf.v + j * kvDim * 4;
        X.cpu_rope(q, hp.nHead, hp.headDim, hp.ropeDim, cs(j, L.swa), mode);
        X.cpu_rope(k, hp.nHeadKv, hp.headDim, hp.ropeDim, cs(j, L.swa), mode);
        K.mem.u8.copyWithin(this.kCache[il] + pos * kvDim * 4, k, k + kvDim * 4);
        K.mem.u8.copyWithin(this.vCache[il] + pos * kvDim * 4, v, v + kvDim * 4);
        // a sliding layer masks keys `window` or more positions back (llama_hparams::is_masked_swa)
        const first = L.window ? Math.max(0, pos - L.window + 1) : 0;
        X.cpu_attend(q, this.kCache[il], this.vCache[il], pos + 1, first, hp.nHead, hp.nHeadKv, hp.headDim,
          c.kqScale, c.attnSoftcap, c.attnCapScale, L.sinks ?? 0, buf.att + j * qDim * 4, buf.attnScratch);
      }
      this.matmul(L.o, buf.att, T, buf.a);
      if (L.bo) this.addRows(buf.a, L.bo, T, d);
      if (L.attnOutNorm) X.cpu_rms_norm(buf.a, L.attnOutNorm, buf.a, T * d, d, hp.eps);
      if (c.residualScale !== 1) X.cpu_scale(buf.a, c.residualScale, buf.a, T * d);
      X.cpu_add(buf.a, buf.x, buf.x, T * d);

      X.cpu_rms_norm(buf.x, L.ffnNorm, buf.h, T * d, d, hp.eps);
      if (L.moe) yield* this.moe(L.moe, T, il);
      else this.gated(L.ffn!, buf.h, T, buf.f);
      if (L.postNorm) X.cpu_rms_norm(buf.f, L.postNorm, buf.f, T * d, d, hp.eps);
      if (c.residualScale !== 1) X.cpu_scale(buf.f, c.residualScale, buf.f, T * d);
      X.cpu_add(buf.f, buf.x, buf.x, T * d);
    }
  }

  /** y (T, rows) = W[m] · x (T, cols). */
  private matmul(w: Mat, x: Ptr, T: number, y: Ptr, m = 0): void {
    this.kernels.matmul(w.type, w.ptr + m * w.stride, w.rows, w.cols, x, T, y, this.buf.scratch);
  }

  /** y (T, len) += b (len), every row. */
  private addRows(y: Ptr, b: Ptr, T: number, len: number): void {
    for (let j = 0; j < T; j++) this.kernels.x.cpu_add(y + j * len * 4, b, y + j * len * 4, len);
  }

  /** y (T, d) = down · act(gate · x) * (up · x), matrix m of each (the expert index); with `bias`,
   *  each product plus its bias. */
  private gated(g: Gated, x: Ptr, T: number, y: Ptr, m = 0, bias?: GatedBias): void {
    const { buf, kernels: K } = this;
    const ff = g.gate.rows, act = this.plan.arch.ffn.act;
    this.matmul(g.up, x, T, buf.up, m);
    this.matmul(g.gate, x, T, buf.gate, m);
    if (bias) {
      this.addRows(buf.up, bias.up, T, ff);
      this.addRows(buf.gate, bias.gate, T, ff);
    }
    if (act === 'silu') K.x.cpu_swiglu(buf.gate, buf.up, buf.hid, T * ff, ff);
    else if (act === 'swiglu-oai') K.x.cpu_swiglu_oai(buf.gate, buf.up, buf.hid, T * ff);
    else if (K.x.cpu_geglu(buf.gate, buf.up, buf.hid, T * ff)) throw new WasmBackendError('out-of-memory', 'cannot allocate the GELU table');
    this.matmul(g.down, buf.hid, T, y, m);
    if (bias) this.addRows(y, bias.down, T, g.down.rows);
  }

  /** MoE FFN of the T rows of h into f: per token, the router's softmax, the top-k experts (the
   *  choice by probabilities plus the selection bias, if any), their outputs weighted and summed
   *  in routing order, plus the shared expert. Tokens routed to one expert go through it together.
   *  Paged, the experts of layer `il` are made resident in heap slots first, as many at a time as
   *  there are slots. */
  private *moe(m: NonNullable<Layer['moe']>, T: number, il: number): Generator<Promise<Ptr[]>, void, Ptr[]> {
    const { buf, hp, kernels: K } = this, X = K.x;
    const d = hp.nEmbd, nE = hp.nExpert, k = hp.nExpertUsed, fr = Math.fround;
    const opts = this.plan.arch.ffn;
    this.matmul(m.router, buf.h, T, buf.probs);
    if (m.routerBias) this.addRows(buf.probs, m.routerBias, T, nE);
    // 'softmax-topk' gating (gpt-oss): the choice by the logits, the softmax over the chosen ones
    const topk = opts.expertGating === 'softmax-topk';
    if (!topk) for (let j = 0; j < T; j++) X.cpu_softmax(buf.probs + j * nE * 4, buf.probs + j * nE * 4, nE, 1);
    const probs = K.f32(buf.probs, T * nE).slice();
    // routing: per token, k experts and their weights (route() in src/reference/ffn.ts)
    const byExpert = new Map<number, { token: number; slot: number; weight: number }[]>();
    for (let j = 0; j < T; j++) {
      const p = probs.subarray(j * nE, (j + 1) * nE);
      const sel = m.selectionBias ? Array.from(p, (v, i) => fr(v + m.selectionBias![i])) : p;
      const order = Array.from(p.keys()).sort((a, b) => sel[b] - sel[a] || a - b).slice(0, k);
      let weights = order.map((e) => p[e]);
      if (topk) {
        // (the logits are copied out of buf.probs above)
        K.f32(buf.probs, k).set(weights);
        X.cpu_softmax(buf.probs, buf.probs, k, 1);
        weights = Array.from(K.f32(buf.probs, k));
      }
      if (opts.expertWeightsNorm) {
        const sum = Math.max(fr(weights.reduce((s, x) => s + x, 0)), 6.103515625e-5);
        weights = weights.map((x) => fr(x / sum));
      }
      const ws = hp.expertWeightsScale;
      if (ws !== 0 && ws !== 1) weights = weights.map((x) => fr(x * fr(ws)));
      if (this.paged && j === T - 1) this.paged.lastPicks[il] = order;
      order.forEach((e, slot) => {
        let list = byExpert.get(e);
        if (!list) byExpert.set(e, (list = []));
        list.push({ token: j, slot, weight: weights[slot] });
      });
    }
    // each expert over its tokens; its weighted output into slot (token, slot) of mix (T, k, d)
    const used = [...byExpert], round = this.paged?.slots ?? used.length;
    for (let i0 = 0; i0 < used.length; i0 += round) {
      const part = used.slice(i0, i0 + round);
      const at = this.paged ? yield this.paged.ensure(il, part.map(([e]) => e)) : undefined;
      if (at && i0 + round >= used.length && this.prefetch) this.prefetchAfter(il, T);
      part.forEach(([e, list], n) => {
        const bias = m.expertBiases && expertBias(m.expertBiases, e, m.experts.gate.rows, d);
        list.forEach((r, i) => K.mem.u8.copyWithin(buf.ex + i * d * 4, buf.h + r.token * d * 4, buf.h + (r.token + 1) * d * 4));
        if (at) this.gated(inSlot(m.experts, at[n]), buf.ex, list.length, buf.ey, 0, bias);
        else this.gated(m.experts, buf.ex, list.length, buf.ey, e, bias);
        list.forEach((r, i) => X.cpu_scale(buf.ey + i * d * 4, r.weight, buf.mix + (r.token * k + r.slot) * d * 4, d));
      });
    }
    // f = ((e0 + e1) + e2) ... per token, as ggml sums the weighted experts
    for (let j = 0; j < T; j++) {
      const f = buf.f + j * d * 4, mix = buf.mix + j * k * d * 4;
      K.mem.u8.copyWithin(f, mix, mix + d * 4);
      for (let s = 1; s < k; s++) X.cpu_add(f, mix + s * d * 4, f, d);
    }
    if (m.shared) {
      this.gated(m.shared, buf.h, T, buf.a);
      if (m.sharedGate) {
        // Qwen2-MoE: sigmoid(g) computed as silu(g) / g, g = gate_inp_shexp · h (one value)
        this.matmul(m.sharedGate, buf.h, T, buf.probs);
        X.cpu_silu(buf.probs, buf.probs + T * 4, T); // a row of 1 per token: the scalar path
        const g = K.f32(buf.probs, 2 * T);
        for (let j = 0; j < T; j++) X.cpu_scale(buf.a + j * d * 4, fr(g[T + j] / g[j]), buf.a + j * d * 4, d);
      }
      X.cpu_add(buf.f, buf.a, buf.f, T * d);
    }
  }

  /** Paged: guesses the next MoE layer's experts, round(1.5 k) per token by its router on this
   *  layer's FFN input (h), and starts reading them up the tiers, so that they arrive while this
   *  layer's experts compute. (After this layer's own reads: a prefetch drops the tiers'
   *  hand-over area of the layer before.) */
  private prefetchAfter(il: number, T: number): void {
    const next = this.layers.findIndex((L, i) => i > il && L.moe);
    if (next < 0) return;
    const nE = this.hp.nExpert, width = Math.min(nE, Math.round(1.5 * this.hp.nExpertUsed));
    this.matmul(this.layers[next].moe!.router, this.buf.h, T, this.buf.probs);
    const logits = this.kernels.f32(this.buf.probs, T * nE), guess = new Set<number>();
    for (let j = 0; j < T; j++) {
      const p = logits.subarray(j * nE, (j + 1) * nE);
      for (const e of Array.from(p.keys()).sort((a, b) => p[b] - p[a]).slice(0, width)) guess.add(e);
    }
    this.paged!.prefetch(next, [...guess]);
  }

  /** Logits (nVocab, a view into the heap) of row j of x. */
  private head(j: number): Float32Array {
    const { buf, hp, plan, kernels: K } = this, X = K.x, d = hp.nEmbd, c = plan.consts;
    X.cpu_rms_norm(buf.x + j * d * 4, this.outNorm, buf.h, d, d, hp.eps);
    this.matmul(this.output, buf.h, 1, buf.logits);
    if (c.logitScale !== 1) X.cpu_scale(buf.logits, c.logitScale, buf.logits, hp.nVocab);
    const l = K.f32(buf.logits, hp.nVocab);
    if (c.finalSoftcap) {
      const cap = c.finalSoftcap, inv = Math.fround(1 / cap);
      for (let i = 0; i < l.length; i++) l[i] = Math.fround(Math.tanh(Math.fround(l[i] * inv))) * cap;
    }
    return l;
  }
}

/** One expert's matrices in a heap slot at p: gate, then up, then down (HeapExperts' layout). */
function inSlot(g: Gated, p: Ptr): Gated {
  return { gate: { ...g.gate, ptr: p }, up: { ...g.up, ptr: p + g.gate.stride }, down: { ...g.down, ptr: p + g.gate.stride + g.up.stride } };
}

/** Expert e's rows of the stacked expert biases (gate and up: ff wide, down: d wide). */
function expertBias(b: GatedBias, e: number, ff: number, d: number): GatedBias {
  return { gate: b.gate + e * ff * 4, up: b.up + e * ff * 4, down: b.down + e * d * 4 };
}

/** Copies every weight the plan names from `source` into the heap (vectors dequantized to f32),
 *  but the routed experts' stacks when they are paged. */
async function readWeights(source: RangeSource, plan: ModelPlan, kernels: CpuKernels, opts: WasmModelOptions, paged: boolean): Promise<Map<Tensor, Ptr>> {
  const vectors = vectorTensors(plan);
  const routed = new Set(paged ? plan.layers.flatMap((L) => (L.moe ? [L.moe.experts.gate, L.moe.experts.up, L.moe.experts.down] : [])) : []);
  const w = new Map<Tensor, Ptr>();
  const tensors = plan.tensors.filter((t) => !routed.has(t));
  const total = tensors.reduce((n, t) => n + t.nBytes, 0);
  let done = 0;
  for (const t of tensors) {
    const bytes = await source.read(plan.file.dataOffset + t.offset, t.nBytes);
    if (bytes.length < t.nBytes) throw new ModelFormatError(`${source.name}: tensor ${t.name} is cut short (${bytes.length} of ${t.nBytes} bytes)`);
    if (vectors.has(t)) {
      const v = dequantize(t.type, bytes, t.shape.reduce((a, b) => a * b, 1), t.name);
      w.set(t, kernels.put(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), t.name));
    } else {
      kernels.rowBytes(t.type, t.shape[0], t.name); // refuses a type without kernels before copying
      w.set(t, kernels.put(bytes, t.name));
    }
    opts.onProgress?.((done += t.nBytes), total);
  }
  return w;
}

/** Tensors used as f32 vectors (norms, biases, sinks, the selection bias): dequantized at load. */
function vectorTensors(plan: ModelPlan): Set<Tensor> {
  const out = new Set<Tensor>([plan.outNorm, ...(plan.ropeFreqs ? [plan.ropeFreqs] : [])]);
  for (const L of plan.layers) {
    const A = L.attn;
    const m = L.moe;
    for (const t of [A.norm, A.qBias, A.kBias, A.vBias, A.oBias, A.sinks, A.qNorm, A.kNorm, A.postNorm, L.ffnNorm, L.postNorm,
      m?.routerBias, m?.selectionBias, m?.expertBiases?.gate, m?.expertBiases?.up, m?.expertBiases?.down]) if (t) out.add(t);
  }
  return out;
}

/** What the backend does not run yet, as the error that refuses it (before any weight is read), or
 *  undefined when it runs the model. The engine host asks before the download, so that backend
 *  'auto' can keep such a model on WebGPU. */
export function wasmUnsupported(plan: ModelPlan): WasmBackendError | undefined {
  if (plan.hp.headDim > 1024) return new WasmBackendError('unsupported-model', `head dimension ${plan.hp.headDim} is above the WASM backend's 1024`);
  const vectors = vectorTensors(plan);
  const t = plan.tensors.find((x) => !vectors.has(x) && !WASM_TYPES.includes(x.type));
  if (t) return new WasmBackendError('unsupported-type', `${t.name} is ${typeName(t.type)}; the WASM backend runs ${WASM_TYPES.map(typeName).join(', ')}`);
  return undefined;
}

function refuseUnsupported(plan: ModelPlan): void {
  const e = wasmUnsupported(plan);
  if (e) throw e;
}
