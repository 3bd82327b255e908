// A model's weights on the GPU, read tensor by tensor from a RangeSource through the ModelPlan.
// Matrices that read the same input are fused into one matrix when their types allow it (q, k, v
// → one QKV product; gate and up → one gated product per expert), so a layer needs few launches.
// Norms, biases and routers are small: they are dequantized to f32 on the CPU.
import { dequantize } from '../gguf/dequant.ts';
import type { RangeSource } from '../gguf/source.ts';
import { GGMLType, typeName, type GGUFTensorInfo } from '../gguf/types.ts';
import { USAGE } from '../gpu/buffers.ts';
import { UnsupportedWeightError } from '../gpu/layout.ts';
import type { GPUSession } from '../gpu/session.ts';
import { allocWeight, concatRows, fillWeight, type GpuWeight } from '../gpu/weights.ts';
import { ModelFormatError } from '../model/hparams.ts';
import type { ModelPlan } from '../model/plan.ts';
import { isRoutedExpert } from '../reference/experts.ts';

/** A gate+up matrix (n = 2 * width rows per matrix, gate rows first) and its down matrix. */
export interface GatedWeights {
  gateUp: GpuWeight;
  down: GpuWeight;
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
  attnOutNorm?: GPUBuffer;
  ffnNorm: GPUBuffer;
  ffn?: GatedWeights;
  /** experts: the routed experts, resident; absent when they are paged (expert-pool.ts). */
  moe?: { router: GPUBuffer; experts?: GatedWeights; shared?: GatedWeights; sharedGate?: GPUBuffer };
  postNorm?: GPUBuffer;
}

export interface ModelWeights {
  embd: GpuWeight;
  outNorm: GPUBuffer;
  output: GpuWeight;
  layers: LayerWeights[];
  /** Bytes read from the source. */
  bytesRead: number;
}

export type LoadProgress = (done: number, total: number) => void;

/** The GPU buffers of every weight but, with `pagedExperts`, the routed experts (left to an
 *  ExpertPool), made at once; `filled` reads and writes their contents, tensor after tensor, so
 *  the caller can build the kernels meanwhile (they need the buffers, not what is in them). */
export function allocWeights(session: GPUSession, source: RangeSource, plan: ModelPlan, onProgress?: LoadProgress, pagedExperts = false): { weights: ModelWeights; filled: Promise<void> } {
  const { hp, arch } = plan;
  const maxBind = session.limits.maxStorageBufferBindingSize;
  let bytesRead = 0;
  const total = [...new Set([...plan.tensors].filter(([name]) => !(pagedExperts && isRoutedExpert(name))).map(([, t]) => t))].reduce((s, t) => s + t.nBytes, 0);

  const info = (name: string): GGUFTensorInfo => {
    const t = plan.tensors.get(name);
    if (!t) throw new ModelFormatError(`${arch.name} model lacks tensor ${name}`);
    return t;
  };
  let filled: Promise<void> = Promise.resolve();
  /** Runs after the fills before it (the first failure skips the rest and rejects `filled`). */
  const later = (fill: () => Promise<void>) => { filled = filled.then(fill); };
  const create = (bytes: number, name: string) => session.buffers.create(bytes, USAGE.STORAGE | USAGE.COPY_DST, name, 'weights');
  const write = (b: GPUBuffer, v: Float32Array) => session.device.queue.writeBuffer(b, 0, v.buffer as ArrayBuffer, v.byteOffset, v.byteLength);
  const read = async (t: GGUFTensorInfo): Promise<Uint8Array> => {
    const bytes = await source.read(plan.file.dataOffset + t.offset, t.nBytes);
    if (bytes.length < t.nBytes) throw new ModelFormatError(`${source.name}: tensor ${t.name} is cut short (${bytes.length} of ${t.nBytes} bytes)`);
    bytesRead += t.nBytes;
    onProgress?.(bytesRead, total);
    return bytes;
  };
  /** A small tensor as f32 on the GPU. */
  const f32 = (name: string): GPUBuffer => {
    const t = info(name);
    const b = create(4 * t.nElements, name);
    later(async () => write(b, dequantize(t.type, await read(t), t.nElements, t.name)));
    return b;
  };
  const optF32 = (name: string) => (plan.tensors.has(name) ? f32(name) : undefined);
  const matrix = (name: string): GpuWeight => {
    const t = info(name);
    const [k, n, count = 1] = t.shape;
    const w = allocWeight(session.buffers, name, t.type, k, n, count, maxBind);
    later(async () => fillWeight(session.device, w, await read(t)));
    return w;
  };
  /** Same-type matrices row-concatenated per stacked matrix. */
  const fused = (label: string, names: string[]): GpuWeight => {
    const ts = names.map(info);
    const [k, , count = 1] = ts[0].shape;
    const n = ts.reduce((s, t) => s + t.shape[1], 0);
    const w = allocWeight(session.buffers, label, ts[0].type, k, n, count, maxBind);
    later(async () => fillWeight(session.device, w, concatRows(await Promise.all(ts.map(read)), count)));
    return w;
  };
  const gated = (b: string, suffix: string): GatedWeights => {
    const gate = info(`${b}ffn_gate${suffix}.weight`), up = info(`${b}ffn_up${suffix}.weight`);
    if (gate.type !== up.type) {
      throw new UnsupportedWeightError(`${gate.name} is ${typeName(gate.type)} and ${up.name} is ${typeName(up.type)}; ` +
        'the WebGPU engine fuses gate and up and needs them of one type');
    }
    return { gateUp: fused(`${b}ffn_gate_up${suffix}`, [gate.name, up.name]), down: matrix(`${b}ffn_down${suffix}.weight`) };
  };

  const embd = matrix('token_embd.weight');
  const output = plan.outputName === 'token_embd.weight' ? embd : matrix(plan.outputName);
  const outNorm = f32('output_norm.weight');
  const layers: LayerWeights[] = [];
  for (let i = 0; i < hp.nLayer; i++) {
    const b = `blk.${i}.`;
    const [tq, tk, tv] = ['attn_q', 'attn_k', 'attn_v'].map((s) => info(`${b}${s}.weight`));
    const sameType = tq.type === tk.type && tk.type === tv.type;
    const qkv = sameType ? [fused(`${b}attn_qkv`, [tq.name, tk.name, tv.name])] : [tq, tk, tv].map((t) => matrix(t.name));
    const biasNames = ['attn_q', 'attn_k', 'attn_v'].map((s) => `${b}${s}.bias`);
    let qkvBias: GPUBuffer[] | undefined;
    if (biasNames.some((n) => plan.tensors.has(n))) {
      const widths = [tq, tk, tv].map((t) => t.shape[1]);
      qkvBias = sameType
        ? [create(4 * (widths[0] + widths[1] + widths[2]), `${b}attn_qkv.bias`)]
        : biasNames.map((n, j) => create(4 * widths[j], n));
      const bias = qkvBias;
      later(async () => {
        const parts = await Promise.all(biasNames.map(async (n, j) => {
          if (plan.tensors.has(n)) { const t = info(n); return dequantize(t.type, await read(t), t.nElements, n); }
          return new Float32Array(widths[j]); // a missing bias adds zeros
        }));
        if (!sameType) { parts.forEach((p, j) => write(bias[j], p)); return; }
        const all = new Float32Array(widths[0] + widths[1] + widths[2]);
        let o = 0;
        for (const p of parts) { all.set(p, o); o += p.length; }
        write(bias[0], all);
      });
    }
    const layer: LayerWeights = {
      attnNorm: f32(`${b}attn_norm.weight`),
      qkv, qkvBias,
      qNorm: optF32(`${b}attn_q_norm.weight`),
      kNorm: optF32(`${b}attn_k_norm.weight`),
      wo: matrix(`${b}attn_output.weight`),
      attnOutNorm: arch.attention.outNorm ? f32(`${b}attn_output_norm.weight`) : undefined,
      ffnNorm: f32(`${b}ffn_norm.weight`),
      postNorm: arch.ffn.postNorm ? f32(`${b}layer_output_norm.weight`) : undefined,
    };
    if (plan.hasExperts) {
      const router = info(`${b}ffn_gate_inp.weight`);
      if (router.type !== GGMLType.F32 && router.type !== GGMLType.F16 && router.type !== GGMLType.BF16) {
        throw new UnsupportedWeightError(`${router.name} is ${typeName(router.type)}; the router must be F32, F16 or BF16`);
      }
      layer.moe = {
        router: f32(router.name),
        experts: pagedExperts ? undefined : gated(b, '_exps'),
        shared: plan.tensors.has(`${b}ffn_up_shexp.weight`) ? gated(b, '_shexp') : undefined,
        sharedGate: arch.ffn.shared === 'sigmoid-gated' ? f32(`${b}ffn_gate_inp_shexp.weight`) : undefined,
      };
    } else {
      layer.ffn = gated(b, '');
    }
    layers.push(layer);
  }
  const weights: ModelWeights = { embd, outNorm, output, layers, bytesRead: 0 };
  return { weights, filled: filled.then(() => { weights.bytesRead = bytesRead; }) };
}
