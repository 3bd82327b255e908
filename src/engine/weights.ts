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
import { concatRows, uploadWeight, type GpuWeight } from '../gpu/weights.ts';
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

/** Reads every weight but, with `pagedExperts`, the routed experts (left to an ExpertPool). */
export async function loadWeights(session: GPUSession, source: RangeSource, plan: ModelPlan, onProgress?: LoadProgress, pagedExperts = false): Promise<ModelWeights> {
  const { hp, arch } = plan;
  const maxBind = session.limits.maxStorageBufferBindingSize;
  let bytesRead = 0;
  const total = [...new Set([...plan.tensors].filter(([name]) => !(pagedExperts && isRoutedExpert(name))).map(([, t]) => t))].reduce((s, t) => s + t.nBytes, 0);

  const info = (name: string): GGUFTensorInfo => {
    const t = plan.tensors.get(name);
    if (!t) throw new ModelFormatError(`${arch.name} model lacks tensor ${name}`);
    return t;
  };
  const read = async (t: GGUFTensorInfo): Promise<Uint8Array> => {
    const bytes = await source.read(plan.file.dataOffset + t.offset, t.nBytes);
    if (bytes.length < t.nBytes) throw new ModelFormatError(`${source.name}: tensor ${t.name} is cut short (${bytes.length} of ${t.nBytes} bytes)`);
    bytesRead += t.nBytes;
    onProgress?.(bytesRead, total);
    return bytes;
  };
  /** A small tensor as f32 on the GPU. */
  const f32 = async (name: string): Promise<GPUBuffer> => {
    const t = info(name);
    const v = dequantize(t.type, await read(t), t.nElements, t.name);
    const b = session.buffers.create(v.byteLength, USAGE.STORAGE | USAGE.COPY_DST, name, 'weights');
    session.device.queue.writeBuffer(b, 0, v.buffer as ArrayBuffer, v.byteOffset, v.byteLength);
    return b;
  };
  const optF32 = (name: string) => (plan.tensors.has(name) ? f32(name) : Promise.resolve(undefined));
  const matrix = async (name: string): Promise<GpuWeight> => {
    const t = info(name);
    const [k, n, count = 1] = t.shape;
    return uploadWeight(session.device, session.buffers, name, t.type, k, n, count, await read(t), maxBind);
  };
  /** Same-type matrices row-concatenated per stacked matrix. */
  const fused = async (label: string, names: string[]): Promise<GpuWeight> => {
    const ts = names.map(info);
    const [k, , count = 1] = ts[0].shape;
    const n = ts.reduce((s, t) => s + t.shape[1], 0);
    const bytes = concatRows(await Promise.all(ts.map(read)), count);
    return uploadWeight(session.device, session.buffers, label, ts[0].type, k, n, count, bytes, maxBind);
  };
  const gated = async (b: string, suffix: string): Promise<GatedWeights> => {
    const gate = info(`${b}ffn_gate${suffix}.weight`), up = info(`${b}ffn_up${suffix}.weight`);
    if (gate.type !== up.type) {
      throw new UnsupportedWeightError(`${gate.name} is ${typeName(gate.type)} and ${up.name} is ${typeName(up.type)}; ` +
        'the WebGPU engine fuses gate and up and needs them of one type');
    }
    return { gateUp: await fused(`${b}ffn_gate_up${suffix}`, [gate.name, up.name]), down: await matrix(`${b}ffn_down${suffix}.weight`) };
  };

  const embd = await matrix('token_embd.weight');
  const output = plan.outputName === 'token_embd.weight' ? embd : await matrix(plan.outputName);
  const outNorm = await f32('output_norm.weight');
  const layers: LayerWeights[] = [];
  for (let i = 0; i < hp.nLayer; i++) {
    const b = `blk.${i}.`;
    const [tq, tk, tv] = ['attn_q', 'attn_k', 'attn_v'].map((s) => info(`${b}${s}.weight`));
    const sameType = tq.type === tk.type && tk.type === tv.type;
    const qkv = sameType
      ? [await fused(`${b}attn_qkv`, [tq.name, tk.name, tv.name])]
      : await Promise.all([tq, tk, tv].map((t) => matrix(t.name)));
    const biasNames = ['attn_q', 'attn_k', 'attn_v'].map((s) => `${b}${s}.bias`);
    let qkvBias: GPUBuffer[] | undefined;
    if (biasNames.some((n) => plan.tensors.has(n))) {
      const parts = await Promise.all(biasNames.map(async (n, j) => {
        if (plan.tensors.has(n)) { const t = info(n); return dequantize(t.type, await read(t), t.nElements, n); }
        return new Float32Array([tq, tk, tv][j].shape[1]); // a missing bias adds zeros
      }));
      const upload = (v: Float32Array, name: string) => {
        const buf = session.buffers.create(v.byteLength, USAGE.STORAGE | USAGE.COPY_DST, name, 'weights');
        session.device.queue.writeBuffer(buf, 0, v.buffer as ArrayBuffer, v.byteOffset, v.byteLength);
        return buf;
      };
      if (sameType) {
        const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
        let o = 0;
        for (const p of parts) { all.set(p, o); o += p.length; }
        qkvBias = [upload(all, `${b}attn_qkv.bias`)];
      } else {
        qkvBias = parts.map((p, j) => upload(p, biasNames[j]));
      }
    }
    const layer: LayerWeights = {
      attnNorm: await f32(`${b}attn_norm.weight`),
      qkv, qkvBias,
      qNorm: await optF32(`${b}attn_q_norm.weight`),
      kNorm: await optF32(`${b}attn_k_norm.weight`),
      wo: await matrix(`${b}attn_output.weight`),
      attnOutNorm: arch.attention.outNorm ? await f32(`${b}attn_output_norm.weight`) : undefined,
      ffnNorm: await f32(`${b}ffn_norm.weight`),
      postNorm: arch.ffn.postNorm ? await f32(`${b}layer_output_norm.weight`) : undefined,
    };
    if (plan.hasExperts) {
      const router = info(`${b}ffn_gate_inp.weight`);
      if (router.type !== GGMLType.F32 && router.type !== GGMLType.F16 && router.type !== GGMLType.BF16) {
        throw new UnsupportedWeightError(`${router.name} is ${typeName(router.type)}; the router must be F32, F16 or BF16`);
      }
      layer.moe = {
        router: await f32(router.name),
        experts: pagedExperts ? undefined : await gated(b, '_exps'),
        shared: plan.tensors.has(`${b}ffn_up_shexp.weight`) ? await gated(b, '_shexp') : undefined,
        sharedGate: arch.ffn.shared === 'sigmoid-gated' ? await f32(`${b}ffn_gate_inp_shexp.weight`) : undefined,
      };
    } else {
      layer.ffn = await gated(b, '');
    }
    layers.push(layer);
  }
  return { embd, outNorm, output, layers, bytesRead };
}
