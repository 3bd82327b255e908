// A model's weights on the GPU, read tensor by tensor from a RangeSource through the ModelPlan.
// Matrices that read the same input are fused into one matrix when their types allow it (q, k, v
// → one QKV product; gate and up → one gated product per expert), so a layer needs few launches.
// Norms, biases and routers are small: they are dequantized to f32 on the CPU.
import { dequantize } from '../gguf/dequant.ts';
import type { RangeSource } from '../gguf/source.ts';
import { GGMLType, typeName } from '../gguf/types.ts';
import { USAGE } from '../gpu/buffers.ts';
import { UnsupportedWeightError } from '../gpu/layout.ts';
import type { GPUSession } from '../gpu/session.ts';
import { allocWeight, concatRows, fillWeight, type GpuWeight } from '../gpu/weights.ts';
import { ModelFormatError } from '../model/hparams.ts';
import type { GatedTensors } from '../model/arch.ts';
import type { ModelPlan, Tensor } from '../model/plan.ts';

/** A gate+up matrix (n = 2 * width rows per matrix, gate rows first) and its down matrix. */
export interface GatedWeights {
  gateUp: GpuWeight;
  down: GpuWeight;
}

/** Per-expert biases (gpt-oss), resident even when the experts are paged: gateUp (nExpert, 2 *
 *  width), each expert's gate bias then its up bias as the fused matrix's rows; down (nExpert, d). */
export interface ExpertBiases {
  gateUp: GPUBuffer;
  down: GPUBuffer;
}

export interface LayerWeights {
  attnNorm: GPUBuffer;
  /** One fused matrix (q rows, then k, then v), or the three apart when their types differ. */
  qkv: GpuWeight[];
  /** Biases matching `qkv` (concatenated when fused); absent when the model has none. */
  qkvBias?: GPUBuffer[];
  qNorm?: GPUBuffer;
  kNorm?: GPUBuffer;
  wo: GpuWeight;
  /** attn_output.bias and attn_sinks (gpt-oss). */
  oBias?: GPUBuffer;
  sinks?: GPUBuffer;
  attnOutNorm?: GPUBuffer;
  ffnNorm: GPUBuffer;
  ffn?: GatedWeights;
  /** experts: the routed experts, resident; absent when they are paged (expert-pool.ts). */
  /** router: (nExpert, d) F32, plus the shared expert's gate as row nExpert when the model has
   *  one (Qwen2-MoE): the router logits and the gate's come from one matrix product. */
  moe?: { router: GpuWeight; routerBias?: GPUBuffer; selectionBias?: GPUBuffer; experts?: GatedWeights; expertBiases?: ExpertBiases; shared?: GatedWeights };
  postNorm?: GPUBuffer;
}

export interface ModelWeights {
  embd: GpuWeight;
  outNorm: GPUBuffer;
  output: GpuWeight;
  /** rope_freqs (ropeDim/2) on the CPU, for the cos/sin table; set once `filled` resolves. */
  ropeFreqs?: Float32Array;
  layers: LayerWeights[];
  /** Bytes read from the source. */
  bytesRead: number;
}

export type LoadProgress = (done: number, total: number) => void;

/** The GPU buffers of every weight but, with `pagedExperts`, the routed experts (left to an
 *  ExpertPool), made at once; `filled` reads and writes their contents, tensor after tensor, so
 *  the caller can build the kernels meanwhile (they need the buffers, not what is in them). */
export function allocWeights(session: GPUSession, source: RangeSource, plan: ModelPlan, onProgress?: LoadProgress, pagedExperts = false): { weights: ModelWeights; filled: Promise<void> } {
  const maxBind = session.limits.maxStorageBufferBindingSize;
  let bytesRead = 0;
  const total = plan.tensors.filter((t) => !(pagedExperts && plan.expertTensors.has(t))).reduce((s, t) => s + t.nBytes, 0);

  let filled: Promise<void> = Promise.resolve();
  /** Runs after the fills before it (the first failure skips the rest and rejects `filled`). */
  const later = (fill: () => Promise<void>) => { filled = filled.then(fill); };
  const create = (bytes: number, name: string) => session.buffers.create(bytes, USAGE.STORAGE | USAGE.COPY_DST, name, 'weights');
  const write = (b: GPUBuffer, v: Float32Array) => session.device.queue.writeBuffer(b, 0, v.buffer as ArrayBuffer, v.byteOffset, v.byteLength);
  const read = async (t: Tensor): Promise<Uint8Array> => {
    const bytes = await source.read(plan.file.dataOffset + t.offset, t.nBytes);
    if (bytes.length < t.nBytes) throw new ModelFormatError(`${source.name}: tensor ${t.name} is cut short (${bytes.length} of ${t.nBytes} bytes)`);
    bytesRead += t.nBytes;
    onProgress?.(bytesRead, total);
    return bytes;
  };
  const readF32 = async (t: Tensor) => dequantize(t.type, await read(t), t.nElements, t.name);
  /** A small tensor as f32 on the GPU. */
  const f32 = (t: Tensor): GPUBuffer => {
    const b = create(4 * t.nElements, t.name);
    later(async () => write(b, await readF32(t)));
    return b;
  };
  const optF32 = (t?: Tensor) => (t ? f32(t) : undefined);
  const matrix = (t: Tensor): GpuWeight => {
    const [k, n, count = 1] = t.shape;
    const w = allocWeight(session.buffers, t.name, t.type, k, n, count, maxBind);
    later(async () => fillWeight(session.device, w, await read(t)));
    return w;
  };
  /** Same-type matrices row-concatenated per stacked matrix. */
  const fused = (label: string, ts: Tensor[]): GpuWeight => {
    const [k, , count = 1] = ts[0].shape;
    const n = ts.reduce((s, t) => s + t.shape[1], 0);
    const w = allocWeight(session.buffers, label, ts[0].type, k, n, count, maxBind);
    later(async () => fillWeight(session.device, w, concatRows(await Promise.all(ts.map(read)), count)));
    return w;
  };
  /** The router (F32, F16 or BF16 in the file) as an F32 matrix, the shared gate as its last row. */
  const routerWeight = (r: Tensor, gate?: Tensor): GpuWeight => {
    const [k, n] = r.shape;
    const w = allocWeight(session.buffers, r.name, GGMLType.F32, k, n + (gate ? 1 : 0), 1, maxBind);
    later(async () => {
      const rows = await readF32(r);
      const all = gate ? new Float32Array(k * (n + 1)) : rows;
      if (gate) { all.set(rows); all.set(await readF32(gate), k * n); }
      fillWeight(session.device, w, new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    });
    return w;
  };
  const gated = (g: GatedTensors<Tensor>, label: string): GatedWeights => {
    if (g.gate.type !== g.up.type) {
      throw new UnsupportedWeightError(`${g.gate.name} is ${typeName(g.gate.type)} and ${g.up.name} is ${typeName(g.up.type)}; ` +
        'the WebGPU engine fuses gate and up and needs them of one type');
    }
    return { gateUp: fused(label, [g.gate, g.up]), down: matrix(g.down) };
  };

  const expertBiases = (g: GatedTensors<Tensor>, label: string): ExpertBiases => {
    const [width, nExpert] = g.gate.shape;
    const gateUp = create(4 * 2 * width * nExpert, label);
    later(async () => {
      const [gate, up] = await Promise.all([readF32(g.gate), readF32(g.up)]);
      const all = new Float32Array(2 * width * nExpert);
      for (let e = 0; e < nExpert; e++) {
        all.set(gate.subarray(e * width, (e + 1) * width), 2 * e * width);
        all.set(up.subarray(e * width, (e + 1) * width), (2 * e + 1) * width);
      }
      write(gateUp, all);
    });
    return { gateUp, down: f32(g.down) };
  };

  const embd = matrix(plan.embd);
  const output = plan.tied ? embd : matrix(plan.output);
  const outNorm = f32(plan.outNorm);
  const layers = plan.layers.map((L, i): LayerWeights => {
    const b = `blk.${i}.`;
    const A = L.attn;
    const mats = [A.q, A.k, A.v];
    const sameType = mats.every((t) => t.type === A.q.type);
    const qkv = sameType ? [fused(`${b}attn_qkv`, mats)] : mats.map(matrix);
    let qkvBias: GPUBuffer[] | undefined;
    const biases = [A.qBias, A.kBias, A.vBias];
    if (biases.some((t) => t)) {
      const widths = mats.map((t) => t.shape[1]);
      qkvBias = sameType
        ? [create(4 * (widths[0] + widths[1] + widths[2]), `${b}attn_qkv.bias`)]
        : mats.map((t, j) => create(4 * widths[j], `${t.name}.bias`));
      const bias = qkvBias;
      later(async () => {
        // a missing bias adds zeros
        const parts = await Promise.all(biases.map((t, j) => (t ? readF32(t) : new Float32Array(widths[j]))));
        if (!sameType) { parts.forEach((p, j) => write(bias[j], p)); return; }
        const all = new Float32Array(widths[0] + widths[1] + widths[2]);
        let o = 0;
        for (const p of parts) { all.set(p, o); o += p.length; }
        write(bias[0], all);
      });
    }
    const layer: LayerWeights = {
      attnNorm: f32(A.norm), qkv, qkvBias, qNorm: optF32(A.qNorm), kNorm: optF32(A.kNorm), wo: matrix(A.o), oBias: optF32(A.oBias), sinks: optF32(A.sinks),
      attnOutNorm: optF32(A.postNorm), ffnNorm: f32(L.ffnNorm), postNorm: optF32(L.postNorm),
    };
    if (L.moe) {
      const m = L.moe;
      if (m.router.type !== GGMLType.F32 && m.router.type !== GGMLType.F16 && m.router.type !== GGMLType.BF16) {
        throw new UnsupportedWeightError(`${m.router.name} is ${typeName(m.router.type)}; the router must be F32, F16 or BF16`);
      }
      layer.moe = {
        router: routerWeight(m.router, m.sharedGate),
        routerBias: optF32(m.routerBias),
        expertBiases: m.expertBiases && expertBiases(m.expertBiases, `${b}ffn_gate_up_exps.bias`),
        selectionBias: optF32(m.selectionBias),
        experts: pagedExperts ? undefined : gated(m.experts, `${b}ffn_gate_up_exps`),
        shared: m.shared && gated(m.shared, `${b}ffn_gate_up_shexp`),
      };
    } else {
      layer.ffn = gated(L.ffn!, `${b}ffn_gate_up`);
    }
    return layer;
  });
  const weights: ModelWeights = { embd, outNorm, output, layers, bytesRead: 0 };
  const ropeFreqs = plan.ropeFreqs;
  if (ropeFreqs) later(async () => { weights.ropeFreqs = await readF32(ropeFreqs); });
  return { weights, filled: filled.then(() => { weights.bytesRead = bytesRead; }) };
}
