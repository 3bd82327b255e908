// Feed-forward blocks (llama-graph.cpp build_ffn, build_moe_ffn): a gated FFN (SwiGLU or GeGLU,
// gate and up in parallel), and a routed mixture of experts with an optional shared expert.
import type { FfnOptions } from '../model/arch.ts';
import { convertActivation, matvec, type Weight } from './matmul.ts';
import { ulpF32, type Num, type Vec } from './numerics.ts';
import { add, geglu, silu, softmax, swiglu, swigluOai } from './ops.ts';

export interface GatedFfn {
  gate: Weight; // (nFf, nEmbd) per matrix; stacked experts for routed experts
  up: Weight;
  down: Weight; // (nEmbd, nFf)
}

/** Biases added after each matrix of a gated FFN (one routed expert's rows of the _exps.bias). */
export interface GatedBias {
  gate: ArrayLike<number>;
  up: ArrayLike<number>;
  down: ArrayLike<number>;
}

/** down · act(gate · x) * (up · x), using matrix `mat` of each weight (the expert index); with
 *  `bias`, each product plus its bias (ggml_add_id). */
export function gatedFfn(num: Num, f: GatedFfn, x: Vec, act: FfnOptions['act'], mat = 0, bias?: GatedBias): Vec {
  // gate and up read the same activation; ggml converts it once per matmul, with equal results.
  const a = convertActivation(num, f.up.type, x);
  let up = matvec(num, f.up, x, mat, a);
  let gate = matvec(num, f.gate, x, mat, f.gate.type === f.up.type ? a : undefined);
  if (bias) {
    up = add(num, up, bias.up);
    gate = add(num, gate, bias.gate);
  }
  const h = act === 'silu' ? swiglu(num, gate, up) : act === 'gelu' ? geglu(num, gate, up) : swigluOai(num, gate, up);
  const y = matvec(num, f.down, h, mat);
  return bias ? add(num, y, bias.down) : y;
}

export interface MoeWeights {
  router: Weight; // ffn_gate_inp: (nExpert, nEmbd)
  routerBias?: Weight; // ffn_gate_inp.bias: (nExpert), added to the logits
  selectionBias?: Weight; // exp_probs_b: (nExpert), added to choose only
  experts?: GatedFfn; // ffn_{gate,up,down}_exps: (nExpert, ...) stacked; absent when loaded on demand
  expertBiases?: GatedFfn; // ffn_{gate,up,down}_exps.bias: (nExpert, width) and (nExpert, nEmbd)
  shared?: GatedFfn;
  sharedGate?: Weight; // ffn_gate_inp_shexp: (1, nEmbd), Qwen2-MoE
}

export interface MoeParams {
  nExpertUsed: number;
  opts: FfnOptions;
  /** expert_weights_scale: applied when neither 0 nor 1, as build_moe_ffn does. */
  weightsScale: number;
}

/** The experts routing picks for x, best first, with their mixing weights. */
export interface Routing {
  experts: number[];
  weights: number[];
}

/** Softmax over the router logits (plus the router bias), the nExpertUsed largest probabilities
 *  (ggml_argsort_top_k, descending), optionally renormalized to sum 1 (sum clamped at 2^-14 as
 *  build_moe_ffn does) and scaled. 'softmax-topk' gating: the largest logits, their softmax. */
export function route(num: Num, router: Weight, x: Vec, p: MoeParams, selectionBias?: Weight, routerBias?: Weight): Routing {
  let logits = matvec(num, router, x);
  if (routerBias) logits = add(num, logits, routerBias.data);
  const topk = p.opts.expertGating === 'softmax-topk';
  const probs = topk ? logits : softmax(num, logits);
  // the choice may see biased probabilities (ggml_add, f32); the weights are the unbiased ones
  const sel = selectionBias ? probs.map((v, i) => num.r(v + selectionBias.data[i])) : probs;
  const order = Array.from(probs.keys()).sort((a, b) => sel[b] - sel[a] || a - b);
  const k = p.nExpertUsed;
  if (num.probe && k < order.length) {
    // The last expert picked and the first left out are an ambiguous choice when their
    // probabilities are within the probe's window (in f32 ulps): llama.cpp may pick the other.
    const [a, b] = [order[k - 1], order[k]];
    const dist = (sel[a] - sel[b]) / ulpF32(sel[a]);
    if (dist <= num.probe.window && num.probe.ambiguous(dist, 'route')) [order[k - 1], order[k]] = [b, a];
  }
  const experts = order.slice(0, k);
  let weights = experts.map((e) => probs[e]);
  if (topk) weights = Array.from(softmax(num, Float64Array.from(weights)));
  if (p.opts.expertWeightsNorm) {
    // ggml_sum_rows (double sum, stored f32), ggml_clamp, ggml_div
    const sum = Math.max(num.r(weights.reduce((s, w) => s + w, 0)), 6.103515625e-5);
    weights = weights.map((w) => num.r(w / sum));
  }
  const ws = p.weightsScale;
  if (ws !== 0 && ws !== 1) weights = weights.map((w) => num.r(w * num.r(ws)));
  return { experts, weights };
}

/** Where routed expert e's matrices are: a GatedFfn and the matrix index in it (e itself in the
 *  stacked _exps weights; 0 for an expert loaded on its own, see experts.ts). */
export type ExpertLookup = (e: number) => { ffn: GatedFfn; mat: number };

/** Expert e's rows of the stacked biases. */
function expertBias(b: GatedFfn, e: number): GatedBias {
  const row = (w: Weight) => w.data.subarray(e * w.cols, (e + 1) * w.cols);
  return { gate: row(b.gate), up: row(b.up), down: row(b.down) };
}

function stacked(m: MoeWeights): ExpertLookup {
  return (e) => {
    if (!m.experts) throw new Error('MoE layer without stacked experts needs an expert lookup');
    return { ffn: m.experts, mat: e };
  };
}

/** Routed experts (weighted, summed in routing order) plus the shared expert, if any. `r` is the
 *  routing when already computed; `expert` finds each routed expert's weights. */
export function moeFfn(num: Num, m: MoeWeights, x: Vec, p: MoeParams, r: Routing = route(num, m.router, x, p, m.selectionBias, m.routerBias), expert: ExpertLookup = stacked(m)): Vec {
  const { experts, weights } = r;
  let out: Vec | undefined;
  for (let i = 0; i < experts.length; i++) {
    const { ffn, mat } = expert(experts[i]);
    const y = gatedFfn(num, ffn, x, p.opts.act, mat, m.expertBiases && expertBias(m.expertBiases, experts[i]));
    for (let j = 0; j < y.length; j++) y[j] = y[j] * weights[i]; // ggml_mul(experts, weights)
    out = out ? add(num, out, y) : y; // ((e0 + e1) + e2) ...
  }
  if (!out) throw new Error('MoE layer routed to no expert');
  if (m.shared) {
    const s = gatedFfn(num, m.shared, x, p.opts.act);
    if (m.sharedGate) {
      // Qwen2-MoE: sigmoid(g) computed as silu(g) / g (qwen2moe.cpp), g = gate_inp_shexp · x.
      const g = matvec(num, m.sharedGate, x);
      const gate = num.r(silu(num, g)[0] / g[0]);
      for (let j = 0; j < s.length; j++) s[j] = s[j] * gate;
    }
    out = add(num, out, s);
  }
  return out;
}
