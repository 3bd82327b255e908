// The forward pass as recorded kernel launches. Everything is built once for a maximum batch;
// a call for T tokens at positions pos0.. only updates a few parameters (positions, token counts)
// and encodes the launches into one compute pass. Architecture differences come from the
// ArchSpec options only.
//
// Per layer (d = nEmbd, q = nHead*headDim, kv = nHeadKv*headDim, T tokens):
//   quant(rmsnorm(x) * attn_norm)             → act        (T, d) as Wqkv's vec_dot_type
//   Wqkv act (+ bias)                         → qkv        (T, q + 2kv)
//   q/k norm, RoPE, K/V into the cache        → q          (T, q)   sliding layers: their RoPE table
//   attention over the cache                  → att        (T, q)   (sliding window, sinks: gpt-oss)
//   x += post(Wo quant(att) (+ bias))         → x          (T, d)   post: Grok norm, Granite scale
//   quant(rmsnorm(x) * ffn_norm)              → act
//   dense: h = act(Wg act) * (Wu act)         → h          (T, ff);  x += post(Wd quant(h))
//   MoE:   route(rmsnorm(x))                  → ids, wts   (T, k), (T, k+1)
//          h_s = glu(W_e[s] act (+ b_e[s]))   → h          (T, k, ffExp); y_s = W_e[s] quant(h_s) (+ b_e[s])
//          shared expert into slot k; x += post(sum_s w_s y_s)
// then logits = Wout quant(rmsnorm(x) * output_norm) for the last token (or all), scaled,
// soft-capped, and their argmax.
import { USAGE } from '../gpu/buffers.ts';
import { actKind, type ActKind } from '../gpu/layout.ts';
import { Op } from '../gpu/op.ts';
import { AttentionOp } from '../gpu/ops/attention.ts';
import { argmaxOp, logitsPostOp, residualOp } from '../gpu/ops/elementwise.ts';
import { embedOps } from '../gpu/ops/embed.ts';
import { MatmulOp } from '../gpu/ops/matmul.ts';
import { matvecOps, type MatvecMode } from '../gpu/ops/matvec.ts';
import { combineOp, routeOp, routerRows, slotMapGroups, slotMapOp, type MoeShape } from '../gpu/ops/moe.ts';
import { createAct, quantOp, type ActBuffers } from '../gpu/ops/quant.ts';
import { RopeOp, ropeTable } from '../gpu/ops/rope.ts';
import type { KvType } from '../gpu/shaders.ts';
import type { ExpertPool, SlotTable } from './expert-pool.ts';
import type { GPUSession } from '../gpu/session.ts';
import type { KernelShape } from '../gpu/variant.ts';
import type { GpuWeight } from '../gpu/weights.ts';
import type { ModelPlan } from '../model/plan.ts';
import type { ExpertBiases, GatedWeights, ModelWeights } from './weights.ts';

export interface GraphOptions {
  nCtx: number;
  maxBatch: number;
  numerics: 'ggml' | 'exact';
  kvType: KvType;
  /** Kernel shape (src/gpu/variant.ts), resolved for the adapter. */
  kernels: KernelShape;
  /** Decode attention's shape (resolveAttentionKernels; default `kernels`). */
  attnKernels?: KernelShape;
  /** Routed experts paged through these pools (by layer) instead of resident in `w`. */
  paging?: PagedExperts;
}

/** Expert paging as the graph runs it. */
export interface PagedExperts {
  pools: ExpertPool[];
  table: SlotTable;
  /** Run the resident experts of a layer before its routing is read back, the misses after
   *  (default true); false: read back first, then every expert. */
  overlap: boolean;
  /** Guess the next layer's experts (its router on this layer's input) and bring them up the
   *  tiers while this layer runs (default true). */
  prefetch: boolean;
  /** Experts guessed per next layer: the router's best round(k * prefetchWidth). */
  prefetchWidth: number;
  /** A layer whose experts are all resident runs without a readback (default true; false only
   *  to measure what that saves). */
  inline: boolean;
  stats: PagingStats;
  /** Forward batches run so far, and the last routing read back per layer (tokens x k) with the
   *  batch that read it. */
  batches: number;
  lastRoute: { ids: Uint32Array; batch: number }[];
  /** Sees each read-back routing: layer, the chosen experts (tokens x k). */
  onRoute?: (layer: number, ids: Uint32Array) => void;
}

export interface PagingStats {
  /** Routings read back (host steps), and MoE layers that ran without one because all their
   *  experts were resident. */
  readbacks: number;
  inlineLayers: number;
  /** Time waiting in host steps: for the readback, and for experts to come up the tiers (ms). */
  readbackMs: number;
  fetchMs: number;
  /** Guessed experts, how many the layer then chose, and the experts those layers chose (so
   *  guessHits / guesses is the guesses' precision, guessHits / guessedLookups their recall). */
  guesses: number;
  guessHits: number;
  guessedLookups: number;
}

export const emptyPagingStats = (): PagingStats => ({ readbacks: 0, inlineLayers: 0, readbackMs: 0, fetchMs: 0, guesses: 0, guessHits: 0, guessedLookups: 0 });

/** Work between launches, on the CPU: the engine submits what came before, then awaits `run`,
 *  which may submit launches of its own through `exec`. (Expert paging: read the router's
 *  choices back, make those experts resident, run the expert kernels on their slots.) */
export interface HostStep {
  label: string;
  /** When the step has nothing to do from the CPU this time: the ops to run in its place
   *  (checked when the engine reaches the step, after the earlier host steps ran). */
  inline?(T: number): Op[] | undefined;
  run(T: number, exec: (ops: Op[]) => void): Promise<void>;
}

/** One call's launches, in order; `set` updates them for T tokens at pos0 and returns them. */
type Stage = (T: number, pos0: number, allLogits: boolean) => (Op | HostStep)[];

export interface GraphIO {
  /** Token ids in (maxBatch u32). */
  tokens: GPUBuffer;
  /** Logits out: (maxBatch, nVocab) f32; the last token's row is row 0 unless all are asked. */
  logits: GPUBuffer;
  /** The greedy choice: u32 at word 0. */
  next: GPUBuffer;
}

export class ForwardGraph {
  readonly io: GraphIO;
  /** Launches of the last call (for stats). */
  lastOps = 0;

  private constructor(private readonly stages: Stage[], io: GraphIO, readonly kvType: KvType, private readonly fillRope: (freqFactors?: Float32Array) => void, readonly paging?: PagedExperts) {
    this.io = io;
  }

  /** Writes the cos/sin table of every position; call before the first run, with the model's
   *  rope_freqs when it has them (ModelWeights.ropeFreqs, read with the weights). */
  writeRopeTable(freqFactors?: Float32Array): void {
    this.fillRope(freqFactors);
  }

  ops(T: number, pos0: number, allLogits: boolean): (Op | HostStep)[] {
    if (this.paging) this.paging.batches++;
    const out = this.stages.flatMap((s) => s(T, pos0, allLogits));
    this.lastOps = out.filter((o) => o instanceof Op).length;
    return out;
  }

  static async build(session: GPUSession, plan: ModelPlan, w: ModelWeights, opts: GraphOptions): Promise<ForwardGraph> {
    const { hp, arch } = plan;
    const B = opts.maxBatch, d = hp.nEmbd, hd = hp.headDim;
    const qDim = hp.nHead * hd, kvDim = hp.nHeadKv * hd, qkvDim = qDim + 2 * kvDim;
    const num = opts.numerics;
    const buf = (bytes: number, label: string, cat: 'scratch' | 'kv' | 'io' = 'scratch') =>
      session.buffers.create(bytes, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label, cat);

    const io: GraphIO = {
      tokens: buf(4 * B, 'tokens', 'io'),
      logits: buf(4 * B * hp.nVocab, 'logits', 'io'),
      next: buf(16, 'next', 'io'),
    };
    const x = buf(4 * B * d, 'x');
    const qkv = buf(4 * B * qkvDim, 'qkv');
    const qBuf = buf(4 * B * qDim, 'q');
    const att = buf(4 * B * qDim, 'att');
    const tmp = buf(4 * B * d, 'tmp'); // matmul outputs that need post-processing before the add
    // cos/sin of every position; written by writeRopeTable once rope_freqs is read
    const table = buf(4 * opts.nCtx * hp.ropeDim, 'rope-table', 'io');
    // sliding-window layers' own table (gpt-oss: their RoPE base)
    const tableSwa = plan.consts.swaWindow ? buf(4 * opts.nCtx * hp.ropeDim, 'rope-table.swa', 'io') : undefined;

    // Converted activations, one buffer per (role, kind, width, rows): a role is one value of a
    // layer (its attention input, its FFN input, ...), so layers share the buffer of a role, while
    // two values alive at once never do (a paged layer runs its shared expert before its routed
    // experts, whose input must still be there).
    const acts = new Map<string, ActBuffers>();
    const act = (role: string, kind: ActKind, k: number, rows: number): ActBuffers => {
      const key = `${role}:${kind}:${k}:${rows}`;
      let a = acts.get(key);
      if (!a) { a = createAct(session, kind, k, rows, `act.${key}`); acts.set(key, a); }
      return a;
    };
    const kindOf = (wt: GpuWeight) => actKind(wt.type, num);

    const stages: Stage[] = [];
    const fixed = (ops: Op[], rowsFromT?: (o: Op, T: number) => void): Stage => (T) => {
      for (const o of ops) rowsFromT?.(o, T);
      return ops;
    };
    /** quant over T * perToken rows of src. */
    const quantT = async (src: GPUBuffer, a: ActBuffers, norm?: { w: GPUBuffer; eps: number }, perToken = 1) => {
      const op = await quantOp(session, { x: src, rows: a.rows, out: a, norm, kernels: opts.kernels });
      return fixed([op], (o, T) => { o.workgroups = [T * perToken, o.workgroups[1]]; });
    };
    /** A product over T tokens: matvec (one token, or stacked experts: workgroup z = token), or
     *  matmul for a dense weight and T > 1 (each dequantized block serves 4 or 32 tokens). */
    const mv = async (args: Parameters<typeof matvecOps>[1]): Promise<Stage> => {
      const ops = await matvecOps(session, { numerics: num, kernels: opts.kernels, ...args, tokens: B });
      const dense = args.weight.count === 1 && !args.ids && (args.slots ?? 1) === 1;
      const mm = dense ? await MatmulOp.create(session, { weight: args.weight, act: args.act, y: args.y, yOff: args.yOff, yTok: args.yTok, mode: args.mode, bias: args.bias, numerics: num, kernels: opts.kernels, label: args.label }) : undefined;
      return (T) => {
        if (mm && T > 1) return mm.set(T);
        for (const o of ops) o.workgroups = [o.workgroups[0], o.workgroups[1], T];
        return ops;
      };
    };

    // embedding
    const c = plan.consts;
    const emb = await embedOps(session, { weight: w.embd, tokens: io.tokens, count: B, y: x, scale: c.embeddingScale });
    stages.push(fixed(emb, (o, T) => { o.workgroups = [T]; }));

    const eps = hp.eps;
    const resScale = c.residualScale;
    const moeShape: MoeShape | undefined = plan.hasExperts ? {
      d, nExpert: hp.nExpert, k: hp.nExpertUsed, normTopK: arch.ffn.expertWeightsNorm, weightsScale: hp.expertWeightsScale,
      shexp: arch.ffn.shared === 'sigmoid-gated' ? 2 : w.layers.some((l) => l.moe?.shared) ? 1 : 0,
      softmaxTopK: arch.ffn.expertGating === 'softmax-topk',
    } : undefined;
    const kUsed = hp.nExpertUsed;
    const slotsOut = moeShape ? kUsed + (moeShape.shexp ? 1 : 0) : 0;
    const ySlots = moeShape ? buf(4 * B * slotsOut * d, 'moe.y') : undefined;
    const ids = moeShape ? buf(4 * B * kUsed, 'moe.ids') : undefined;
    const paging = moeShape ? opts.paging : undefined;
    // paged experts: the kernels read slot numbers from here; the router's ids (and the next
    // layer's guessed ids) are read back from idsRead
    const slotIds = paging ? buf(4 * B * kUsed, 'moe.slots') : undefined;
    const kGuess = Math.min(hp.nExpert, Math.max(1, Math.round(kUsed * (paging?.prefetchWidth ?? 1))));
    const guessIds = paging?.prefetch ? buf(4 * B * kGuess, 'moe.guess.ids') : undefined;
    const guessWts = paging?.prefetch ? buf(4 * B * (kGuess + 1), 'moe.guess.wts') : undefined;
    const guessAct = paging?.prefetch ? createAct(session, 'none', d, B, 'moe.guess.act') : undefined;
    const idsRead = paging
      ? session.device.createBuffer({ size: 4 * (B * kUsed + kGuess), usage: USAGE.MAP_READ | USAGE.COPY_DST, label: 'moe.ids.read' })
      : undefined;
    const wts = moeShape ? buf(4 * B * (kUsed + 1), 'moe.wts') : undefined;
    // the router's product: per token a logit per expert (+ the shared expert's gate logit)
    const logits = moeShape ? buf(4 * B * routerRows(moeShape), 'moe.logits') : undefined;
    const guessLogits = moeShape && paging?.prefetch ? buf(4 * routerRows(moeShape), 'moe.guess.logits') : undefined;
    const glu: MatvecMode = arch.ffn.act === 'gelu' ? 'glu_gelu' : arch.ffn.act === 'swiglu-oai' ? 'glu_oai' : 'glu_silu';

    /** A gated FFN (dense or one selected expert per slot) from `a` into its down output. */
    /** With `biases`, each product plus its expert's bias, found through the router's ids. */
    const gatedStages = async (role: 'ffn' | 'exps' | 'shexp', g: GatedWeights, aIn: ActBuffers, slots: number, useIds: GPUBuffer | undefined, out: { y: GPUBuffer; mode: 'add' | 'store'; yTok: number; yOff: number }, label: string, biases?: ExpertBiases) => {
      const width = g.gateUp.n / 2;
      const h = buf(4 * B * slots * width, `${label}.h`);
      const aH = act(`${role}.hidden`, kindOf(g.down), width, B * slots);
      const bias = (b?: GPUBuffer) => (b ? { bias: b, biasIds: ids } : {});
      return [
        await mv({ weight: g.gateUp, act: aIn, y: h, mode: glu, slots, ids: useIds, yStride: width, yTok: slots * width, idsTok: kUsed, label: `${label}.gate_up`, ...bias(biases?.gateUp) }),
        await quantT(h, aH, undefined, slots),
        await mv({ weight: g.down, act: aH, y: out.y, mode: out.mode, slots, perSlotInput: true, ids: useIds, yOff: out.yOff, yStride: d, yTok: out.yTok, idsTok: kUsed, label: `${label}.down`, ...bias(biases?.down) }),
      ];
    };
    /** The CPU's part of a paged layer. The router's choices (and the guess for the next layer)
     *  are read back; the experts the kernels did not find resident are brought up the tiers and
     *  run in rounds of at most `pool.slots`, the slots of the (token, choice) pairs outside the
     *  round set to pool.slots, which the kernels skip; then the guessed experts of the next layer
     *  start coming up. With overlap, the resident pairs already ran before the readback. */
    const pagedStep = (il: number, pool: ExpertPool, expertStages: Stage[], residentStages: Stage[], guess: boolean): HostStep => ({
      label: `blk.${il}.exps`,
      // every expert of the layer resident: the kernels find them all through the slot table,
      // no readback (with overlap they already ran)
      inline: (T) => {
        if (!paging!.inline || !pool.allResident(il)) return undefined;
        paging!.stats.inlineLayers++;
        // a guess for this layer cannot be scored without its routing: not counted
        paging!.stats.guesses -= guesses[il]?.size ?? 0;
        guesses[il] = undefined;
        return paging!.overlap ? [] : residentStages.flatMap((s) => s(T, 0, false)) as Op[];
      },
      run: async (T, exec) => {
        const n = T * kUsed;
        const st = paging!.stats;
        const t0 = performance.now();
        const enc = session.device.createCommandEncoder({ label: 'moe.ids.read' });
        enc.copyBufferToBuffer(ids!, 0, idsRead!, 0, 4 * n);
        const m = guess && T === 1 ? kGuess : 0;
        if (m) enc.copyBufferToBuffer(guessIds!, 0, idsRead!, 4 * n, 4 * m);
        session.device.queue.submit([enc.finish()]);
        await idsRead!.mapAsync(GPUMapMode.READ, 0, 4 * (n + m));
        const all = new Uint32Array(idsRead!.getMappedRange(0, 4 * (n + m)).slice(0));
        idsRead!.unmap();
        const t1 = performance.now();
        st.readbacks++;
        st.readbackMs += t1 - t0;
        const chosen = all.slice(0, n);
        paging!.lastRoute[il] = { ids: chosen, batch: paging!.batches };
        paging!.onRoute?.(il, chosen);
        const unique = [...new Set(chosen)];
        // with overlap the kernels already ran the resident ones: only the others remain
        const need = paging!.overlap ? unique.filter((e) => !pool.has(il, e))
          : unique.sort((a, b) => Number(pool.has(il, b)) - Number(pool.has(il, a))); // resident first, so a round that fits keeps them
        pool.count(il, unique);
        const ops = need.length ? expertStages.flatMap((s) => s(T, 0, false)) as Op[] : [];
        for (let r = 0; r < need.length; r += pool.slots) {
          const round = need.slice(r, r + pool.slots);
          const slots = await pool.ensure(il, round);
          const slotOf = new Map(round.map((e, i) => [e, slots[i]]));
          session.device.queue.writeBuffer(slotIds!, 0, Uint32Array.from(chosen, (e) => slotOf.get(e) ?? pool.slots));
          exec(ops);
          if (r > 0) pool.stats.extraRounds++;
        }
        st.fetchMs += performance.now() - t1;
        if (m) {
          const guessed = [...all.subarray(n, n + m)];
          // scored when the next layer's routing comes back
          guesses[il + 1] = new Set(guessed);
          st.guesses += guesses[il + 1]!.size;
          paging!.pools[il + 1].prefetch(il + 1, guessed.slice(0, paging!.pools[il + 1].slots));
        }
        const g = guesses[il];
        if (g && T === 1) {
          st.guessHits += unique.filter((e) => g.has(e)).length;
          st.guessedLookups += unique.length;
          guesses[il] = undefined;
        }
      },
    });
    const guesses: (Set<number> | undefined)[] = [];

    for (let il = 0; il < hp.nLayer; il++) {
      const L = w.layers[il];
      const name = `blk.${il}`;
      // attention
      for (let j = 0; j < L.qkv.length; j++) {
        const wq = L.qkv[j];
        const a = act('attn.in', kindOf(wq), d, B);
        if (j === 0 || kindOf(wq) !== kindOf(L.qkv[j - 1])) stages.push(await quantT(x, a, { w: L.attnNorm, eps }));
        const yOff = L.qkv.length === 1 ? 0 : [0, qDim, qDim + kvDim][j];
        stages.push(await mv({ weight: wq, act: a, y: qkv, yOff, yTok: qkvDim, bias: L.qkvBias?.[j], label: `${name}.qkv${L.qkv.length > 1 ? j : ''}` }));
      }
      const kvBytes = (opts.kvType === 'f16' ? 2 : 4) * opts.nCtx * kvDim;
      const kc = buf(kvBytes, `${name}.k`, 'kv'), vc = buf(kvBytes, `${name}.v`, 'kv');
      const rope = await RopeOp.create(session, {
        nHead: hp.nHead, nHeadKv: hp.nHeadKv, headDim: hd, ropeDim: hp.ropeDim, mode: arch.rope, qkNorm: arch.attention.qkNorm,
        eps, qNorm: L.qNorm, kNorm: L.kNorm, qkv, table: (c.swaLayers[il] && tableSwa) || table, qOut: qBuf, kCache: kc, vCache: vc, tokens: B, pos0: 0, kvType: opts.kvType, label: `${name}.rope`,
      });
      stages.push((T, pos0) => { rope.set(T, pos0); return [rope.op]; });
      const attn = await AttentionOp.create(session, {
        nHead: hp.nHead, nHeadKv: hp.nHeadKv, headDim: hd, nCtx: opts.nCtx, maxQueries: B, q: qBuf, kCache: kc, vCache: vc, out: att,
        scale: c.kqScale, softcap: c.attnSoftcap, capScale: c.attnCapScale, kvType: opts.kvType, kernels: opts.attnKernels ?? opts.kernels, label: `${name}.attn`,
        window: c.swaLayers[il] ? c.swaWindow : 0, sinks: L.sinks,
      });
      stages.push((T, pos0) => attn.set(T, pos0));
      const aO = act('attn.out', kindOf(L.wo), qDim, B);
      stages.push(await quantT(att, aO));
      const postAttn = L.attnOutNorm !== undefined || resScale !== 1 || L.oBias !== undefined;
      stages.push(await mv({ weight: L.wo, act: aO, y: postAttn ? tmp : x, mode: postAttn ? 'store' : 'add', yTok: d, bias: L.oBias, label: `${name}.wo` }));
      if (postAttn) {
        const r = await residualOp(session, { n: d, rows: B, a: tmp, x, norm: L.attnOutNorm ? { w: L.attnOutNorm, eps } : undefined, scale: resScale });
        stages.push(fixed([r], (o, T) => { o.workgroups = [T]; }));
      }

      // feed-forward
      if (L.ffn) {
        const aF = act('ffn.in', kindOf(L.ffn.gateUp), d, B);
        stages.push(await quantT(x, aF, { w: L.ffnNorm, eps }));
        const post = L.postNorm !== undefined || resScale !== 1;
        stages.push(...await gatedStages('ffn', L.ffn, aF, 1, undefined, { y: post ? tmp : x, mode: post ? 'store' : 'add', yTok: d, yOff: 0 }, `${name}.ffn`));
        if (post) {
          const r = await residualOp(session, { n: d, rows: B, a: tmp, x, norm: L.postNorm ? { w: L.postNorm, eps } : undefined, scale: resScale });
          stages.push(fixed([r], (o, T) => { o.workgroups = [T]; }));
        }
      } else if (L.moe && moeShape && ids && wts && ySlots && logits) {
        const m = L.moe;
        const aR = act('ffn.in', 'none', d, B);
        stages.push(await quantT(x, aR, { w: L.ffnNorm, eps }));
        const nR = routerRows(moeShape);
        stages.push(await mv({ weight: m.router, act: aR, y: logits, yTok: nR, label: `${name}.router` }));
        const route = await routeOp(session, { shape: moeShape, logits, routerBias: m.routerBias, selectionBias: m.selectionBias, ids, wts, tokens: B, label: `${name}.route` });
        stages.push(fixed([route], (o, T) => { o.workgroups = [T]; }));
        const pool = paging?.pools[il];
        const experts = pool ? { gateUp: pool.gateUp, down: pool.down } : m.experts;
        if (!experts) throw new Error(`blk.${il}: routed experts neither resident nor paged`);
        const kE = kindOf(experts.gateUp);
        const aE = kE === 'none' ? aR : act('ffn.in', kE, d, B);
        if (aE !== aR) stages.push(await quantT(x, aE, { w: L.ffnNorm, eps }));
        const nextM = w.layers[il + 1]?.moe;
        const guess = !!(pool && paging!.prefetch && nextM && paging!.pools[il + 1]);
        if (guess) {
          // the next layer's router on this layer's FFN input, normed with the next layer's norm
          stages.push(await quantT(x, guessAct!, { w: w.layers[il + 1].ffnNorm, eps }));
          // (decode only: T = 1)
          const gl = await matvecOps(session, { weight: nextM!.router, act: guessAct!, y: guessLogits!, yTok: nR, numerics: num, kernels: opts.kernels, label: `${name}.guess.router` });
          const g = await routeOp(session, { shape: { ...moeShape, k: kGuess }, logits: guessLogits!, routerBias: nextM!.routerBias, selectionBias: nextM!.selectionBias, ids: guessIds!, wts: guessWts!, tokens: B, label: `${name}.guess` });
          stages.push(fixed([...gl, g], (o, T) => { o.workgroups = o === g ? [T === 1 ? 1 : 0] : [o.workgroups[0], 1, T === 1 ? 1 : 0]; }));
        }
        const expertStages = await gatedStages('exps', experts, aE, kUsed, pool ? slotIds : ids, { y: ySlots, mode: 'store', yTok: slotsOut * d, yOff: 0 }, `${name}.exps`, m.expertBiases);
        // paged: the resident experts' slots from the GPU's slot table, then the expert kernels
        // (before the readback with overlap; in place of it when the whole layer is resident)
        let residentStages: Stage[] = [];
        if (pool) {
          const map = await slotMapOp(session, { ids, table: paging!.table.buffer, slots: slotIds!, k: kUsed, tableOff: il * hp.nExpert, tokens: B, label: `${name}.slots` });
          residentStages = [fixed([map], (o, T) => { o.setParams({ n: T * kUsed, table_off: il * hp.nExpert }); o.workgroups = [slotMapGroups(T, kUsed)]; }), ...expertStages];
          if (paging!.overlap) stages.push(...residentStages);
        } else stages.push(...expertStages);
        if (m.shared) {
          const kS = kindOf(m.shared.gateUp);
          const aS = kS === kE ? aE : kS === 'none' ? aR : act('ffn.in', kS, d, B);
          if (aS !== aE && aS !== aR) stages.push(await quantT(x, aS, { w: L.ffnNorm, eps }));
          stages.push(...await gatedStages('shexp', m.shared, aS, 1, undefined, { y: ySlots, mode: 'store', yTok: slotsOut * d, yOff: kUsed * d }, `${name}.shexp`));
        }
        if (pool) stages.push(() => [pagedStep(il, pool, expertStages, residentStages, guess)]);
        const comb = await combineOp(session, {
          shape: moeShape, y: ySlots, wts, ids, x, tokens: B, norm: L.postNorm ? { w: L.postNorm, eps } : undefined, resScale, label: `${name}.combine`,
        });
        stages.push(fixed([comb], (o, T) => { o.workgroups = [T]; }));
      }
    }

    // output head: the last token's row (or every row)
    const aOut = act('head.in', kindOf(w.output), d, B);
    const headQuant = await quantOp(session, { x, rows: B, out: aOut, norm: { w: w.outNorm, eps }, kernels: opts.kernels });
    const headMv = await matvecOps(session, { weight: w.output, act: aOut, y: io.logits, yTok: hp.nVocab, tokens: B, numerics: num, kernels: opts.kernels, label: 'output' });
    const headMm = await MatmulOp.create(session, { weight: w.output, act: aOut, y: io.logits, yTok: hp.nVocab, numerics: num, kernels: opts.kernels, label: 'output' });
    const scale = c.logitScale, softcap = c.finalSoftcap;
    const post = scale !== 1 || softcap !== 0 ? await logitsPostOp(session, io.logits, hp.nVocab, scale, softcap) : undefined;
    const amax = await argmaxOp(session, io.logits, hp.nVocab, io.next);
    const quantBase = { k: d, x_off: 0, x_stride: d, norm: 1, eps };
    stages.push((T, _pos0, all) => {
      const rows = all ? T : 1;
      headQuant.setParams({ ...quantBase, x_off: all ? 0 : (T - 1) * d });
      headQuant.workgroups = [rows, headQuant.workgroups[1]];
      for (const o of headMv) o.workgroups = [o.workgroups[0], 1, rows];
      const lastRow = (rows - 1) * hp.nVocab;
      const ops: Op[] = [headQuant, ...(rows > 1 ? headMm.set(rows) : headMv)];
      if (post) {
        post.setParams({ n: rows * hp.nVocab, a_off: 0, a_stride: 0, x_off: 0, x_stride: 0, norm: 0, eps: 0, scale, softcap, out_off: 0 });
        post.workgroups = [Math.ceil((rows * hp.nVocab) / 64)];
        ops.push(post);
      }
      amax.setParams({ n: hp.nVocab, a_off: 0, a_stride: 0, x_off: lastRow, x_stride: 0, norm: 0, eps: 0, scale: 1, softcap: 0, out_off: 0 });
      ops.push(amax);
      return ops;
    });
    const fillRope = (f?: Float32Array) => {
      session.device.queue.writeBuffer(table, 0, ropeTable(opts.nCtx, hp.ropeDim, plan.consts.rope, f, num));
      if (tableSwa) session.device.queue.writeBuffer(tableSwa, 0, ropeTable(opts.nCtx, hp.ropeDim, plan.consts.ropeSwa, f, num));
    };
    return new ForwardGraph(stages, io, opts.kvType, fillRope, opts.paging);
  }
}
