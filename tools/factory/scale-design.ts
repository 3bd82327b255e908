// What the scale model's "random" weights are made of, and why they are not all plain noise.
//
// Two correct programs (llama.cpp, the CPU reference, the WebGPU engine) round each activation to
// Q8_K before a K-quant matmul, and now and then they round one value differently (it lies
// within a few ulps of a rounding boundary; seen once in 3 layers x 8 tokens between llama.cpp
// and the reference, and that one rounding moved the logits by 0.07). From there on their
// quantization noise parts ways and grows with depth. Measured with llama.cpp against itself
// (prompt in one batch vs one token per batch: other summation orders), logit std 4: max |Δlogit|
// over the vocabulary 0.2 after 4 layers, 0.33 after 8, 0.6 after 16, 1.2 after 32, 1.2-2.1
// after 48 (8 experts, all used: no routing choice); with 128 experts, whose 8th and 9th router
// logits are often closer than that, 2.3-7.4, and greedy runs parted after 2 and 8 tokens. On
// the mini with plain Gaussian weights, the reference's greedy token differed from llama.cpp's at
// 3 of 192 steps. Scales alone cannot fix that (gap and noise both scale with the logits), so the
// weights carry two structures that the noise cannot overturn:
//  - routing anchored on the token: each token's embedding holds 8 of nExpert unit directions
//    u_j (`anchor` times the embedding's noise std each), and router row e of layer l is
//    routerAnchor * u_π_l(e) plus noise (π_l: a per-layer permutation), so a token's 8 experts
//    lead the 9th by >= 2.4 router logits in every layer (full preset, 8 positions x 48 layers;
//    mini >= 1.3; the 8th weighs ~2%) while their weights still vary with the context; tokens
//    spread over all experts (8 tokens used 50 of 128 per layer), so paging still sees misses;
//  - a head with two favoured successors per token: row r of output.weight is noise plus
//    (pair / sqrt(nEmbd)) * (e_σ(r) + e_σ(r+1)) with e_t token t's embedding as a unit vector and
//    σ(r) = (A r + B) mod nVocab. After token t, successors(t) lead the other logits by about
//    pair * cos(final state, embedding of t) minus the noise rows' maximum; between the two, the
//    noise rows decide through the whole final state, so the layers still choose. That is the
//    trade: a whole layer's attn_output replaced by other random blocks changed llama.cpp's
//    greedy tokens in 3 of 6 prompts (32 tokens) on the mini and in 1 of 4 (24 tokens) on a
//    48-layer model with the full preset's embedding. Logits show more: one expert of 24 in
//    layer 2 replaced moved the mini's logits by 0.8-2 at tokens routed to it (rounding noise
//    between programs: 0.13-0.24).
// Everything else is random blocks (scale-blocks.ts).
import type { HParams } from '../../src/model/hparams.ts';
import { Xorshift128 } from './scale-blocks.ts';

/** Sizes of the random values, as standard deviations of what each matrix produces from an input
 *  of rms 1 (the matrices' element std is this / sqrt(fan-in)). */
export interface Scales {
  /** token_embd noise elements: the residual stream's rms before the first layer (about). */
  embedding: number;
  /** Weight of each of a token's 8 anchor directions in its embedding, per unit of `embedding`. */
  anchor: number;
  /** attn_output: rms of the attention block's output at the first position (later positions
   *  average several values and come out smaller). */
  attnOut: number;
  /** ffn_down_exps: rms of one expert's output per unit rms of its input silu(gate)*up (~0.6). */
  expertOut: number;
  /** ffn_gate_inp: router logit per unit of the normalized state along an anchor direction
   *  (~8 for a token's own anchors), and the std of the router's noise part. */
  routerAnchor: number;
  router: number;
  /** output.weight: std of the logits' noise part, and the successors' boost per unit cosine
   *  between the final state and the token's embedding. */
  logits: number;
  pair: number;
  /** Norm weights are 1 + this * N(0, 1). */
  normSpread: number;
}

/** Streams other than the tensors' own (which are numbered by tensor index). */
const EMBD_ROW_STREAM = 1 << 20; // + token: one stream per embedding row
const ANCHOR_STREAM = 1 << 24;

/** splitmix32's finalizer: a well-mixed 32-bit hash of (a, b). */
function hash(a: number, b: number): number {
  let z = (Math.imul(a | 0, 0x9e3779b1) + Math.imul(b | 0, 0x85ebca6b) + 0x6a09e667) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

function norm(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
const mod = (a: number, m: number) => ((a % m) + m) % m;

export class ScaleDesign {
  readonly nDir: number;
  /** The anchor directions, (nExpert, nEmbd), unit rows. */
  readonly u: Float32Array;
  private readonly units: number[];

  constructor(readonly seed: number, readonly hp: HParams, readonly s: Scales) {
    const d = hp.nEmbd;
    this.nDir = hp.nExpert;
    this.units = [...Array(this.nDir).keys()].filter((a) => gcd(a, this.nDir) === 1);
    this.u = new Float32Array(this.nDir * d);
    new Xorshift128(seed, ANCHOR_STREAM).gaussFill(this.u);
    for (let j = 0; j < this.nDir; j++) {
      const row = this.u.subarray(j * d, (j + 1) * d);
      const k = 1 / norm(row);
      for (let i = 0; i < d; i++) row[i] *= k;
    }
  }

  /** Token t's anchor directions: an arithmetic progression mod nExpert with a step coprime to
   *  it, so nExpertUsed distinct ones. */
  anchors(t: number): number[] {
    const h = hash(this.seed, t);
    const step = this.units[(h >>> 16) % this.units.length];
    return Array.from({ length: this.hp.nExpertUsed }, (_, k) => (h + k * step) % this.nDir);
  }

  /** π_l(e): the anchor direction of expert e in layer `layer`; the experts a token is routed to
   *  in that layer are those with π_l(e) in anchors(t). */
  direction(layer: number, e: number): number {
    const h = hash(this.seed, -1 - layer);
    return (this.units[h % this.units.length] * e + (h >>> 16)) % this.nDir;
  }

  /** The experts token t's anchors select in `layer` (ascending). */
  experts(layer: number, t: number): number[] {
    const a = new Set(this.anchors(t));
    return [...Array(this.nDir).keys()].filter((e) => a.has(this.direction(layer, e)));
  }

  /** token_embd row t as floats: noise of std `embedding` from its own stream, plus the anchors. */
  embdRow(t: number, out: Float32Array): void {
    const { nEmbd: d } = this.hp, a = this.s.anchor * this.s.embedding;
    new Xorshift128(this.seed, EMBD_ROW_STREAM + t).gaussFill(out, 0, this.s.embedding);
    for (const j of this.anchors(t)) for (let i = 0; i < d; i++) out[i] += a * this.u[j * d + i];
  }

  /** Layer `layer`'s router, (nExpert, nEmbd): noise from `rng` plus routerAnchor * u_π(e). */
  router(layer: number, rng: Xorshift128, out: Float32Array): void {
    const d = this.hp.nEmbd;
    rng.gaussFill(out, 0, this.s.router / Math.sqrt(d));
    for (let e = 0; e < this.nDir; e++) {
      const j = this.direction(layer, e);
      for (let i = 0; i < d; i++) out[e * d + i] += this.s.routerAnchor * this.u[j * d + i];
    }
  }

  /** Rows [r0, r0 + n) of output.weight as floats, noise from `rng` (called in row order). */
  headRows(r0: number, n: number, rng: Xorshift128, out: Float32Array): void {
    const { nEmbd: d, nVocab } = this.hp;
    const gamma = this.s.pair / Math.sqrt(d);
    rng.gaussFill(out.subarray(0, n * d), 0, this.s.logits / Math.sqrt(d));
    const e = new Float32Array(d);
    const unit = (t: number) => {
      this.embdRow(t, e);
      const k = gamma / norm(e);
      return Float32Array.from(e, (v) => v * k);
    };
    let prev = unit(headToken(r0, nVocab));
    for (let k = 0; k < n; k++) {
      const next = unit(headToken((r0 + k + 1) % nVocab, nVocab));
      for (let i = 0; i < d; i++) out[k * d + i] += prev[i] + next[i];
      prev = next;
    }
  }
}

const PERM_A = 65537, PERM_B = 12345;

/** σ(r): the token whose embedding row r of the head favours (with σ(r + 1)). */
export const headToken = (r: number, nVocab: number) => (PERM_A * r + PERM_B) % nVocab;

/** The two tokens the head favours after token t: σ⁻¹(t) and σ⁻¹(t) - 1 (mod nVocab). */
export function successors(t: number, nVocab: number): [number, number] {
  let [a, b, x, y] = [PERM_A % nVocab, nVocab, 1, 0]; // extended Euclid: x = A⁻¹ mod nVocab
  while (b) {
    const q = Math.floor(a / b);
    [a, b, x, y] = [b, a - q * b, y, x - q * y];
  }
  if (a !== 1) throw new Error(`vocabulary size ${nVocab} shares a factor with ${PERM_A}`);
  const r = mod(mod(x, nVocab) * mod(t - PERM_B, nVocab), nVocab);
  return [r, mod(r - 1, nVocab)];
}
