// Qwen3-30B-A3B at its real size, with random weights: a GGUF of the exact shapes, tensor types
// and metadata of a Q4_K_M conversion (~18.5 GB), streamed to disk in a couple of minutes, and a
// ~300 MB sibling of the same widths for tests. The factory (make-model.ts) builds files in
// memory and quantizes floats; this computes the header first (layoutGGUF) and streams the data
// in file order, most of it as random blocks written directly (scale-blocks.ts), so memory stays
// at a few tens of MB whatever the size (full preset: 248 MB resident, mostly Qwen3's vocabulary).
//
//   node bin/run-ts.mjs tools/factory/scale-model.ts --preset qwen3-30b-a3b --out FILE [--seed N]
//
// Tensor types: llama.cpp's Q4_K_M rule, src/llama-quant.cpp (llama_tensor_get_type_impl) of the
// llama.cpp that node-llama-cpp ships (commit de3ff815):
//  - output.weight: Q6_K (OUTPUT category: ne[0] % 256 == 0 and the default type is not Q8_0);
//  - token_embd.weight: Q4_K (untied, so the TOKEN_EMBD branch, which changes nothing for Q4_K_M);
//  - attn_v.weight: Q6_K where use_more_bits(i_attention_wv, n_attention_wv), else Q4_K;
//  - ffn_down_exps.weight: Q6_K where use_more_bits(layer, n_layer), else Q4_K (FFN_DOWN branch;
//    the n_expert == 8 special cases do not apply to 128 or 24 experts);
//  - attn_q, attn_k, attn_output, ffn_gate_exps, ffn_up_exps: Q4_K (the default);
//  - norms (1-D) and ffn_gate_inp (the router, excluded by name): F32, never quantized
//    (tensor_allows_quantization).
// use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2: for 48 layers, layers 0-5,
// 8, 11, ..., 41 and 42-47 (24 of 48); for the 4-layer mini, layers 2 and 3.
//
// Values (SCALES, PRESETS): pre-norm blocks see a normalized input, so each block adds a vector
// of about fixed size (~1 rms) to the residual stream, which starts at the embedding's size and
// grows as sqrt(embedding^2 + sum of blocks^2): measured (float64 forward, 8-10 positions), mini
// 4.7 -> 5.1 with each block 13-20% of the residual; full preset 19.0 -> 20.5 over 48 layers,
// each block 3.3-5.5%. Plain Gaussian weights are
// not enough for greedy runs two programs agree on: the embedding and routing carry structure
// (scale-design.ts, with the measurements), and the 48-layer preset a larger embedding, whose
// part of the final state is free of rounding noise.
import { open } from 'node:fs/promises';
import { quantize } from '../../src/gguf/quant.ts';
import { readGGUF } from '../../src/gguf/reader.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import { GGMLType, tensorBytes, typeName, type GGUFEntry } from '../../src/gguf/types.ts';
import { gv, layoutGGUF, type GGUFLayout, type TensorHeader } from '../../src/gguf/writer.ts';
import { tensorSpecs, type TensorSpec } from '../../src/model/arch.ts';
import { ARCHS } from '../../src/model/archs/index.ts';
import { hparamsMetadata, type HParams } from '../../src/model/hparams.ts';
import { vocabGGUF } from '../vocab/gguf.ts';
import { qwen3 } from '../vocab/real.ts';
import { defaultHParams } from './make-model.ts';
import { randomBlocks, Xorshift128 } from './scale-blocks.ts';
import { ScaleDesign, type Scales } from './scale-design.ts';
import { gpt2Vocab, vocabMetadata } from './vocab.ts';

export { successors, type Scales } from './scale-design.ts';

export type Preset = 'qwen3-30b-a3b' | 'qwen3-30b-a3b-mini';

/** Qwen3-30B-A3B's config.json, as its GGUF conversion writes it. */
const QWEN3_30B_A3B: Partial<HParams> = {
  nLayer: 48, nEmbd: 2048, nHead: 32, nHeadKv: 4, headDim: 128, ropeDim: 128,
  nFf: 6144, // intermediate_size: in the real file's metadata, unused by qwen3moe's graph
  nFfExp: 768, nExpert: 128, nExpertUsed: 8,
  nCtxTrain: 40960, ropeBase: 1e6, eps: 1e-6,
};

export const PRESETS: Record<Preset, { hp: Partial<HParams>; gpt2Merges?: number; scales?: Partial<Scales>; uniformExperts?: boolean }> = {
  // Embedding 16: 96 blocks of rounding noise add up; with 8, llama.cpp against itself (batch vs
  // one-by-one prompt) gave top-2 gaps down to 0.04 against a median noise of 0.06 on that gap.
  'qwen3-30b-a3b': { hp: QWEN3_30B_A3B, scales: { embedding: 16 } },
  // Same widths and top-8; 4 layers x 24 experts (0.1 * 4 * 24 = 9.6 experts' worth of routing
  // choices >= 8) and GPT-2's first 4000 merges (4257 tokens) instead of Qwen3's 151,936, so the
  // experts, not the embedding and head, make up the ~330 MB. Embedding 4: with 4 layers the
  // noise is small and the layers can weigh more. Its experts are all Q4_K (the rule would give
  // layers 2-3 Q6_K down projections): the engine pages each expert type through a pool of its
  // own, each needing one token's 8 experts, so two types would need 16 slots, 17% of its 96
  // experts, and the paging tests run it at 10%. The full preset keeps the mix.
  'qwen3-30b-a3b-mini': { hp: { ...QWEN3_30B_A3B, nLayer: 4, nExpert: 24 }, gpt2Merges: 4000, scales: { embedding: 4 }, uniformExperts: true },
};

/** Values shared by the presets (meanings in scale-design.ts). */
export const SCALES: Scales = {
  embedding: 4, anchor: 10, attnOut: 1, expertOut: 3, routerAnchor: 1, router: 0.5, logits: 4, pair: 40, normSpread: 0.1,
};

/** llama.cpp's use_more_bits (llama-quant.cpp). */
export const useMoreBits = (i: number, n: number) => i < Math.trunc(n / 8) || i >= Math.trunc(7 * n / 8) || (i - Math.trunc(n / 8)) % 3 === 2;

/** The type llama.cpp's Q4_K_M quantizer gives the tensor (rule in the header). */
export function q4kmType(spec: TensorSpec, nLayer: number, uniformExperts = false): GGMLType {
  if (spec.role === 'norm' || spec.role === 'router' || spec.role === 'bias') return GGMLType.F32;
  if (uniformExperts && spec.role === 'experts') return GGMLType.Q4_K;
  if (spec.name === 'output.weight') return GGMLType.Q6_K;
  const layer = /^blk\.(\d+)\.(attn_v|ffn_down)/.exec(spec.name);
  return layer && useMoreBits(Number(layer[1]), nLayer) ? GGMLType.Q6_K : GGMLType.Q4_K;
}

/** Element std (and mean, for norms) of a tensor under `s` (token_embd and the router: their
 *  noise part; scale-design.ts adds the structure). */
function elementStats(spec: TensorSpec, s: Scales): { std: number; mean: number } {
  const fanIn = spec.shape[0];
  const unit = 1 / Math.sqrt(fanIn);
  const name = spec.name.replace(/^blk\.\d+\./, '');
  if (spec.role === 'norm') return { mean: 1, std: s.normSpread };
  const std = spec.role === 'embedding' ? s.embedding
    : spec.role === 'router' ? s.router * unit
    : name === 'output.weight' ? s.logits * unit
    : name === 'attn_output.weight' ? s.attnOut * unit
    : name === 'ffn_down_exps.weight' ? s.expertOut * unit
    : unit; // q, k, v, gate, up: unit-rms outputs
  return { std, mean: 0 };
}

export interface ScaleTensor extends TensorHeader {
  /** Element standard deviation and mean (mean 1 for norms, else 0). */
  std: number;
  mean: number;
  nBytes: number;
}

export interface ScaleModelHeader {
  hp: HParams;
  scales: Scales;
  metadata: [string, GGUFEntry][];
  tensors: ScaleTensor[];
  layout: GGUFLayout;
}

/** The tokenizer.ggml.* entries of Qwen3's vocabulary exactly as tools/vocab/gguf.ts writes them
 *  (read back from its vocabulary-only file rather than spelled a second time). */
async function qwen3VocabMetadata(): Promise<[string, GGUFEntry][]> {
  const file = await readGGUF(bytesSource(vocabGGUF(qwen3().data)));
  return [...file.metadata].filter(([k]) => k.startsWith('tokenizer.'));
}

/** Hyperparameters, metadata, tensor infos and layout of a preset: everything but the data. */
export async function scaleModelHeader(preset: Preset, scales: Partial<Scales> = {}, hpOver: Partial<HParams> = {}): Promise<ScaleModelHeader> {
  const p = PRESETS[preset];
  if (!p) throw new Error(`unknown preset "${preset}"; known: ${Object.keys(PRESETS).join(', ')}`);
  const s = { ...SCALES, ...p.scales, ...scales };
  const vocab = p.gpt2Merges === undefined ? await qwen3VocabMetadata() : vocabMetadata(gpt2Vocab(p.gpt2Merges));
  const nVocab = (vocab.find(([k]) => k === 'tokenizer.ggml.tokens')![1].value as string[]).length;
  const hp = defaultHParams('qwen3moe', nVocab, { ...p.hp, ...hpOver });
  const metadata: [string, GGUFEntry][] = [
    ['general.architecture', gv.str('qwen3moe')],
    ['general.name', gv.str(`webmoe-scale-${preset}`)],
    ['general.file_type', gv.u32(15)], // LLAMA_FTYPE_MOSTLY_Q4_K_M
    ['general.quantization_version', gv.u32(2)],
    ...hparamsMetadata(hp),
    ...vocab,
  ];
  const tensors = tensorSpecs(ARCHS.qwen3moe, hp)
    .filter((t) => t.required || t.name === 'output.weight')
    .map((t): ScaleTensor => {
      const type = q4kmType(t, hp.nLayer, p.uniformExperts);
      const nBytes = tensorBytes(type, t.shape.reduce((a, b) => a * b, 1))!;
      return { name: t.name, shape: t.shape, type, nBytes, ...elementStats(t, s) };
    });
  return { hp, scales: s, metadata, tensors, layout: layoutGGUF(metadata, tensors) };
}

export interface ScaleModelOptions {
  preset: Preset;
  seed?: number;
  /** Other values than the preset's (experiments). */
  scales?: Partial<Scales>;
  /** Other hyperparameters than the preset's (experiments: e.g. more layers, fewer experts). */
  hp?: Partial<HParams>;
  /** Bytes written so far and the file's total, after every chunk. */
  onProgress?: (done: number, total: number) => void;
}

export interface ScaleModelResult {
  path: string;
  bytes: number;
  tensors: ScaleTensor[];
  hp: HParams;
}

const CHUNK_BYTES = 16 << 20;

/** Fills `out` with the next whole rows (F32: the whole tensor) of a tensor; 0 when done. */
type TensorWriter = (out: Uint8Array) => number;

function tensorWriter(i: number, t: ScaleTensor, seed: number, design: ScaleDesign): TensorWriter {
  const rng = new Xorshift128(seed, i);
  const [cols] = t.shape;
  const rows = t.shape.reduce((a, b) => a * b, 1) / cols;
  const rowBytes = t.nBytes / rows;
  let row = 0;
  // Designed rows (floats, then quantized): ROWS at a time.
  const designed = (fill: (r0: number, n: number, x: Float32Array) => void, ROWS = 1024): TensorWriter => {
    const x = new Float32Array(ROWS * cols);
    return (out) => {
      const n = Math.min(ROWS, rows - row);
      if (!n) return 0;
      fill(row, n, x);
      row += n;
      const q = t.type === GGMLType.F32 ? new Uint8Array(x.buffer, 0, 4 * n * cols) : quantize(t.type, x.subarray(0, n * cols));
      out.set(q);
      return q.length;
    };
  };
  const layer = Number(/^blk\.(\d+)\./.exec(t.name)?.[1]);
  if (t.name === 'token_embd.weight') return designed((r0, n, x) => {
    for (let k = 0; k < n; k++) design.embdRow(r0 + k, x.subarray(k * cols, (k + 1) * cols));
  });
  if (t.name === 'output.weight') return designed((r0, n, x) => design.headRows(r0, n, rng, x));
  if (t.name.endsWith('ffn_gate_inp.weight')) return designed((_r0, _n, x) => design.router(layer, rng, x), rows);
  if (t.type === GGMLType.F32) return designed((_r0, n, x) => rng.gaussFill(x.subarray(0, n * cols), t.mean, t.std), rows);
  const perChunk = Math.floor(CHUNK_BYTES / rowBytes);
  return (out) => {
    const n = Math.min(perChunk, rows - row);
    row += n;
    return n ? randomBlocks(t.type, t.std, rng, out, n * cols / 256) : 0;
  };
}

/** Streams the preset's GGUF to `path`: header, then each tensor's data in file order at its
 *  aligned offset (the gaps are zeros). Tensor i's bytes come from stream (seed, i) (token_embd:
 *  one stream per row), so the same seed gives the same file. Filling one 16 MiB buffer overlaps
 *  writing the other. */
export async function writeScaleModel(path: string, opts: ScaleModelOptions): Promise<ScaleModelResult> {
  const { hp, scales, tensors, layout } = await scaleModelHeader(opts.preset, opts.scales, opts.hp);
  const seed = opts.seed ?? 1;
  const fh = await open(path, 'w');
  try {
    await fh.write(layout.header, 0, layout.header.length, 0);
    const bufs = [new Uint8Array(CHUNK_BYTES), new Uint8Array(CHUNK_BYTES)];
    const writes: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
    let k = 0, done = layout.header.length;
    const design = new ScaleDesign(seed, hp, scales);
    for (let i = 0; i < tensors.length; i++) {
      const next = tensorWriter(i, tensors[i], seed, design);
      let pos = layout.header.length + layout.offsets[i];
      for (;;) {
        const slot = k % 2;
        await writes[slot];
        const len = next(bufs[slot]);
        if (!len) break;
        k++;
        writes[slot] = fh.write(bufs[slot], 0, len, pos);
        pos += len;
        done += len;
        opts.onProgress?.(done, layout.totalBytes);
      }
    }
    await Promise.all(writes);
    await fh.truncate(layout.totalBytes); // the last tensor's padding
  } finally {
    await fh.close();
  }
  return { path, bytes: layout.totalBytes, tensors, hp };
}

/** Tensor count and bytes per type. */
export function typeCounts(tensors: ScaleTensor[]): Record<string, { tensors: number; bytes: number }> {
  const out: Record<string, { tensors: number; bytes: number }> = {};
  for (const t of tensors) {
    const e = (out[typeName(t.type)] ??= { tensors: 0, bytes: 0 });
    e.tensors++;
    e.bytes += t.nBytes;
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ args: argv, options: { preset: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } } });
  const preset = values.preset as Preset;
  if (!values.out || !PRESETS[preset]) {
    console.error(`usage: node bin/run-ts.mjs tools/factory/scale-model.ts --preset ${Object.keys(PRESETS).join('|')} --out FILE [--seed N]`);
    process.exit(2);
  }
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const t0 = performance.now();
  let shown = 0;
  const r = await writeScaleModel(values.out, {
    preset, seed,
    onProgress: (done, total) => {
      if (done - shown < 1 << 30 && done < total) return;
      shown = done;
      process.stderr.write(`${(done / 1e9).toFixed(1)} / ${(total / 1e9).toFixed(1)} GB\n`);
    },
  });
  console.log(JSON.stringify({
    path: r.path, bytes: r.bytes, seconds: +((performance.now() - t0) / 1000).toFixed(1), seed,
    tensors: typeCounts(r.tensors),
  }, null, 2));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
