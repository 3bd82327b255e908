// The CPU reference model: weights read from a RangeSource through the ModelPlan, then a plain
// forward pass (one token at a time; a batch is the same computation token by token, since each
// token only sees the keys and values of earlier ones). Every ArchSpec option is honoured here;
// nothing switches on architecture names.
//
// Per layer (shapes in elements, d = nEmbd, q = nHead*headDim, kv = nHeadKv*headDim):
//   h  = rmsnorm(x) * attn_norm                              (d)
//   Q, K, V = Wq h (+bq), Wk h (+bk), Wv h (+bv)             (q), (kv), (kv)
//   qk norm: per head (headDim) or over the whole Q / K      [qwen3*, olmoe]
//   rope(Q), rope(K) at pos (scaled: rope_freqs, linear, YaRN); K, V into the cache
//   a  = Wo · attend(Q, cache) (+bo)                         (d)
//        (sliding layers see the last nSwa positions; sinks join the softmax)   [gpt-oss]
//   a  = rmsnorm(a) * attn_output_norm                       [grok]
//   x  = x + a * residual_scale                              [granite scale]
//   h  = rmsnorm(x) * ffn_norm
//   f  = FFN(h) | MoE(h) (+ shared expert)
//   f  = rmsnorm(f) * layer_output_norm                      [grok]
//   x  = x + f * residual_scale
// then logits = Wout · rmsnorm(x) * output_norm, scaled and soft-capped as the arch says.
//
// Routed experts are read at load, or (option `experts`, a provider) on demand: the first time the
// router picks an expert, its bytes are requested, dequantized and kept. The forward pass is one
// generator per token that yields at a MoE layer whose routed experts are not loaded yet;
// forwardAsync() loads them and resumes, forward() (synchronous) throws ExpertsNotLoadedError.
import { readGGUF } from '../gguf/reader.ts';
import type { RangeSource } from '../gguf/source.ts';
import { ModelFormatError, type HParams } from '../model/hparams.ts';
import type { GatedTensors } from '../model/arch.ts';
import { planModel, type ModelPlan, type Tensor } from '../model/plan.ts';
import { attend, storeKV, type AttentionLayer, type AttentionShape, type KvType, type LayerCache } from './attention.ts';
import type { ExpertProvider } from '../model/experts.ts';
import { ExpertCache, ExpertsNotLoadedError } from './experts.ts';
import { gatedFfn, moeFfn, route, type GatedFfn, type MoeParams, type MoeWeights } from './ffn.ts';
import { makeWeight, matvec, weightRow, type Weight } from './matmul.ts';
import { numerics, type Num, type Numerics, type RoundingProbe, type Vec } from './numerics.ts';
import { add, rmsNorm, rope, ropeCosSin, scale, tanh } from './ops.ts';

export interface ReferenceOptions {
  /** 'ggml' (default): reproduce llama.cpp's CPU numerics; 'exact': float64 math. */
  numerics?: Numerics;
  /** KV cache length in positions (default: min(2048, the model's training context)). */
  nCtx?: number;
  /** 'ggml' numerics: sees (and may overturn) roundings near a boundary; for diagnosis. */
  probe?: RoundingProbe;
  /** Routed experts on demand from this provider (e.g. a download's ensureExpert), not read at
   *  load; run the model with forwardAsync(). Default: every expert read at load. */
  experts?: ExpertProvider;
  /** KV cache type: 'f32' (default) or 'f16' (llama.cpp's default; see attention.ts). */
  kvType?: KvType;
}

/** What a step waits for: routed experts of one layer that are not loaded yet. */
interface ExpertNeed {
  layer: number;
  experts: number[];
}

interface Layer {
  attnNorm: Weight;
  wq: Weight; wk: Weight; wv: Weight; wo: Weight;
  bq?: Weight; bk?: Weight; bv?: Weight; bo?: Weight;
  qNorm?: Weight; kNorm?: Weight;
  /** Sliding window and sinks (attention.ts AttentionLayer); `swa` picks the RoPE of sliding layers. */
  attn: AttentionLayer;
  swa: boolean;
  attnOutNorm?: Weight;
  ffnNorm: Weight;
  ffn?: GatedFfn;
  moe?: MoeWeights;
  postNorm?: Weight;
}

/** Reads and dequantizes every tensor the plan uses (but routed experts when `lazy`), once. */
async function loadWeights(source: RangeSource, plan: ModelPlan, lazy: boolean): Promise<Map<Tensor, Weight>> {
  const out = new Map<Tensor, Weight>();
  for (const t of plan.tensors) {
    if (lazy && plan.expertTensors.has(t)) continue;
    const bytes = await source.read(plan.file.dataOffset + t.offset, t.nBytes);
    if (bytes.length < t.nBytes) throw new ModelFormatError(`${source.name}: tensor ${t.name} is cut short (${bytes.length} of ${t.nBytes} bytes)`);
    out.set(t, makeWeight(t.name, t.type, t.shape, bytes));
  }
  return out;
}

/** Whether token i of a batch of n is in a full group of 4 (llama.cpp's repacked matrices take
 *  those through a 4-row gemm, the rest one by one: repack.cpp forward_mul_mat). */
const inGemm = (i: number, n: number) => i < n - (n % 4);

export class ReferenceModel {
  readonly num: Num;
  readonly hp: HParams;
  readonly nCtx: number;
  /** Positions already in the KV cache. */
  nPast = 0;
  private readonly layers: Layer[];
  private readonly cache: LayerCache[];
  private readonly embd: Weight;
  private readonly outNorm: Weight;
  private readonly output: Weight;
  /** rope_freqs (ropeDim/2), when the model has it. */
  private readonly ropeFreqs?: Float32Array;
  private readonly attn: AttentionShape;
  private readonly moeParams: MoeParams;
  /** Routed experts loaded on demand (option `experts`); undefined when all are read at load. */
  readonly experts?: ExpertCache;

  private constructor(readonly plan: ModelPlan, w: Map<Tensor, Weight>, opts: ReferenceOptions) {
    this.num = numerics(opts.numerics ?? 'ggml', opts.probe);
    const hp = (this.hp = plan.hp);
    this.nCtx = opts.nCtx ?? Math.min(2048, hp.nCtxTrain);
    if (opts.experts && plan.hasExperts) this.experts = new ExpertCache(plan, opts.experts);
    const get = (t: Tensor) => w.get(t)!;
    const opt = (t?: Tensor) => (t ? get(t) : undefined);
    const gated = (g: GatedTensors<Tensor>): GatedFfn => ({ gate: get(g.gate), up: get(g.up), down: get(g.down) });
    this.embd = get(plan.embd);
    this.outNorm = get(plan.outNorm);
    this.output = get(plan.output);
    this.ropeFreqs = opt(plan.ropeFreqs)?.data;
    this.layers = plan.layers.map((L, il): Layer => {
      const A = L.attn;
      const swa = plan.consts.swaLayers[il];
      const layer: Layer = {
        attnNorm: get(A.norm), wq: get(A.q), wk: get(A.k), wv: get(A.v), wo: get(A.o),
        bq: opt(A.qBias), bk: opt(A.kBias), bv: opt(A.vBias), bo: opt(A.oBias), qNorm: opt(A.qNorm), kNorm: opt(A.kNorm),
        attn: { window: swa ? plan.consts.swaWindow : 0, sinks: opt(A.sinks)?.data }, swa,
        attnOutNorm: opt(A.postNorm), ffnNorm: get(L.ffnNorm), postNorm: opt(L.postNorm),
      };
      if (L.moe) {
        const m = L.moe;
        layer.moe = {
          router: get(m.router), routerBias: opt(m.routerBias), selectionBias: opt(m.selectionBias),
          experts: this.experts ? undefined : gated(m.experts), expertBiases: m.expertBiases && gated(m.expertBiases),
          shared: m.shared && gated(m.shared), sharedGate: opt(m.sharedGate),
        };
      } else {
        layer.ffn = gated(L.ffn!);
      }
      return layer;
    });
    const kvDim = hp.nHeadKv * hp.headDim;
    this.cache = this.layers.map(() => ({ k: this.num.vec(this.nCtx * kvDim), v: this.num.vec(this.nCtx * kvDim) }));
    const c = plan.consts;
    this.attn = {
      nHead: hp.nHead, nHeadKv: hp.nHeadKv, headDim: hp.headDim, kqScale: c.kqScale,
      softcap: c.attnSoftcap, capScale: c.attnCapScale, kvType: opts.kvType ?? 'f32',
    };
    this.moeParams = { nExpertUsed: hp.nExpertUsed, opts: plan.arch.ffn, weightsScale: hp.expertWeightsScale };
  }

  /** Reads the GGUF header and every weight from `source` (each byte range once); with option
   *  `experts`, every weight but the routed experts. */
  static async load(source: RangeSource, opts: ReferenceOptions = {}): Promise<ReferenceModel> {
    const plan = planModel(await readGGUF(source));
    return new ReferenceModel(plan, await loadWeights(source, plan, !!opts.experts && plan.hasExperts), opts);
  }

  /** Forgets the KV cache: the next token is at position 0. */
  reset(): void {
    this.nPast = 0;
  }

  /** Runs tokens at positions nPast, nPast+1, ...; returns the logits (nVocab) after the last
   *  token, or after every token when `all` is set. With experts on demand, throws
   *  ExpertsNotLoadedError (and leaves nPast as it was) if the router picks one not loaded yet. */
  forward(tokens: readonly number[], all = false): Vec[] {
    const start = this.nPast;
    const out: Vec[] = [];
    tokens.forEach((t, i) => {
      const r = this.step(t, inGemm(i, tokens.length), tokens.length > 1).next();
      if (!r.done) {
        this.nPast = start; // the cache entries past it are overwritten by the next run
        throw new ExpertsNotLoadedError(r.value.layer, r.value.experts);
      }
      if (all || i === tokens.length - 1) out.push(r.value);
    });
    return out;
  }

  /** forward(), loading routed experts from the provider when the router first picks them. The
   *  same computation in the same order, so the same logits as with every expert read at load.
   *  If loading fails, nPast is left as it was and the error is thrown: the call can be retried. */
  async forwardAsync(tokens: readonly number[], all = false): Promise<Vec[]> {
    const start = this.nPast;
    const out: Vec[] = [];
    try {
      for (let i = 0; i < tokens.length; i++) {
        const s = this.step(tokens[i], inGemm(i, tokens.length), tokens.length > 1);
        let r = s.next();
        while (!r.done) {
          await this.experts!.load(r.value.layer, r.value.experts);
          r = s.next();
        }
        if (all || i === tokens.length - 1) out.push(r.value);
      }
    } catch (e) {
      this.nPast = start;
      throw e;
    }
    return out;
  }

  /** One token of a batch (`batch`: of 2 or more) through the whole model at position nPast;
   *  returns its logits (nVocab). Yields (once per MoE layer at most) the routed experts it needs
   *  that are not loaded yet. */
  private *step(token: number, gemm: boolean, batch: boolean): Generator<ExpertNeed, Vec, void> {
    const { hp, plan } = this;
    const num = (gemm || batch) && this.num.mode === 'ggml' ? { ...this.num, gemm, batch } : this.num;
    const { arch } = plan;
    if (!Number.isInteger(token) || token < 0 || token >= hp.nVocab) throw new RangeError(`token id ${token} is outside the vocabulary (0..${hp.nVocab - 1})`);
    if (this.nPast >= this.nCtx) throw new RangeError(`context full: ${this.nCtx} positions`);
    const pos = this.nPast++;
    const c = plan.consts;
    let x = weightRow(num, this.embd, token); // (d)
    if (c.embeddingScale !== 1) x = scale(num, x, c.embeddingScale);
    const resScale = c.residualScale;
    const cs = ropeCosSin(num, pos, hp.ropeDim, c.rope, this.ropeFreqs); // (ropeDim/2) each
    const csSwa = c.swaWindow ? ropeCosSin(num, pos, hp.ropeDim, c.ropeSwa, this.ropeFreqs) : cs;
    for (let il = 0; il < this.layers.length; il++) {
      const L = this.layers[il];
      const h = rmsNorm(num, x, L.attnNorm.data, hp.eps); // (d)
      let q = matvec(num, L.wq, h), k = matvec(num, L.wk, h); // (q), (kv)
      let v = matvec(num, L.wv, h); // (kv)
      if (L.bq) q = add(num, q, L.bq.data);
      if (L.bk) k = add(num, k, L.bk.data);
      if (L.bv) v = add(num, v, L.bv.data);
      if (L.qNorm && L.kNorm) {
        // 'head': weight (headDim), norm per head; 'full': weight (q) / (kv), norm over all heads
        const full = arch.attention.qkNorm === 'full';
        q = rmsNorm(num, q, L.qNorm.data, hp.eps, full ? q.length : hp.headDim);
        k = rmsNorm(num, k, L.kNorm.data, hp.eps, full ? k.length : hp.headDim);
      }
      rope(num, q, hp.nHead, hp.headDim, hp.ropeDim, L.swa ? csSwa : cs, arch.rope);
      rope(num, k, hp.nHeadKv, hp.headDim, hp.ropeDim, L.swa ? csSwa : cs, arch.rope);
      storeKV(num, this.cache[il], k, v, pos, this.attn.kvType);
      let a = matvec(num, L.wo, attend(num, q, this.cache[il], pos, this.attn, L.attn)); // (d)
      if (L.bo) a = add(num, a, L.bo.data);
      if (L.attnOutNorm) a = rmsNorm(num, a, L.attnOutNorm.data, hp.eps);
      if (resScale !== 1) a = scale(num, a, resScale);
      x = add(num, a, x);

      const hf = rmsNorm(num, x, L.ffnNorm.data, hp.eps);
      let f: Vec;
      if (L.moe && this.experts) {
        const routing = route(num, L.moe.router, hf, this.moeParams, L.moe.selectionBias, L.moe.routerBias);
        const missing = this.experts.missing(il, routing.experts);
        if (missing.length) yield { layer: il, experts: missing };
        const cache = this.experts;
        f = moeFfn(num, L.moe, hf, this.moeParams, routing, (e) => ({ ffn: cache.get(il, e), mat: 0 }));
      } else {
        f = L.moe ? moeFfn(num, L.moe, hf, this.moeParams) : gatedFfn(num, L.ffn!, hf, arch.ffn.act);
      }
      if (L.postNorm) f = rmsNorm(num, f, L.postNorm.data, hp.eps);
      if (resScale !== 1) f = scale(num, f, resScale);
      x = add(num, f, x);
    }
    // only the rows whose logits are wanted reach the output matrix: one, never a gemm
    let logits = matvec(this.num, this.output, rmsNorm(num, x, this.outNorm.data, hp.eps)); // (nVocab)
    if (c.logitScale !== 1) logits = scale(num, logits, c.logitScale);
    if (c.finalSoftcap) {
      const cap = c.finalSoftcap, inv = num.r(1 / cap);
      for (let i = 0; i < logits.length; i++) logits[i] = tanh(num, num.r(logits[i] * inv)) * cap;
    }
    return logits;
  }
}
