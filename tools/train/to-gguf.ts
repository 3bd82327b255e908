// Converts the trainer's export (.cache/train/export: tensors.json, weights.bin, config.json) to a
// GGUF of arch `llama` with experts, and records it in public/models/models.json.
//   npx tsx tools/train/to-gguf.ts [--export .cache/train/export] [--type q8_0|f32]
//                                  [--out public/models/webmoe-tiny-moe.q8_0.gguf] [--no-catalog]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { GGMLType, type GGUFEntry } from '../../src/gguf/types.ts';
import { quantize } from '../../src/gguf/quant.ts';
import { gv, writeGGUF, type TensorInput } from '../../src/gguf/writer.ts';
import { gpt2Vocab, vocabMetadata } from '../factory/vocab.ts';

const { values: args } = parseArgs({
  options: {
    export: { type: 'string', default: '.cache/train/export' },
    type: { type: 'string', default: 'q8_0' },
    out: { type: 'string', default: 'public/models/webmoe-tiny-moe.q8_0.gguf' },
    'no-catalog': { type: 'boolean', default: false },
  },
});

/** Hyperparameters as train_moe.py writes them to config.json. */
interface TrainConfig {
  n_vocab: number; n_ctx: number; n_embd: number; n_layer: number; n_head: number; n_head_kv: number;
  n_ff: number; n_expert: number; n_expert_used: number; rms_eps: number; rope_base: number;
  n_merges: number; params: number;
  train: { steps: number; tokens: number; minutes: number; train_loss: number; val_loss: number };
}
interface ExportedTensor { name: string; shape: number[]; offset: number }

const weightType = ({ q8_0: GGMLType.Q8_0, f32: GGMLType.F32 } as const)[args.type as 'q8_0' | 'f32'];
if (weightType === undefined) throw new Error(`--type must be q8_0 or f32, got "${args.type}"`);

const cfg: TrainConfig = JSON.parse(readFileSync(join(args.export, 'config.json'), 'utf8'));
const index: ExportedTensor[] = JSON.parse(readFileSync(join(args.export, 'tensors.json'), 'utf8'));
const raw = readFileSync(join(args.export, 'weights.bin'));
const weights = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4); // little-endian f32

const vocab = gpt2Vocab(cfg.n_merges);
if (vocab.tokens.length !== cfg.n_vocab) {
  throw new Error(`export has n_vocab ${cfg.n_vocab} but gpt2Vocab(${cfg.n_merges}) has ${vocab.tokens.length} tokens`);
}

// Norms and routers stay F32 (as llama.cpp's own quantizer keeps *_norm.weight and
// ffn_gate_inp.weight): they are tiny, and an exact router keeps the expert choices of training.
const keepF32 = (name: string) => name.endsWith('_norm.weight') || name.includes('ffn_gate_inp');
const tensors: TensorInput[] = index.map((t) => {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const x = weights.subarray(t.offset / 4, t.offset / 4 + n);
  const type = keepF32(t.name) ? GGMLType.F32 : weightType;
  return { name: t.name, shape: t.shape, type, data: quantize(type, x) };
});

const headDim = cfg.n_embd / cfg.n_head;
const L = (k: string) => `llama.${k}`;
const metadata: [string, GGUFEntry][] = [
  ['general.architecture', gv.str('llama')],
  ['general.name', gv.str('WebMoE tiny MoE')],
  ['general.description', gv.str(`8-expert top-2 llama MoE trained on the Brown corpus and fortunes, val loss ${cfg.train.val_loss} nats/token`)],
  ['general.file_type', gv.u32(weightType === GGMLType.Q8_0 ? 7 : 0)], // llama_ftype: 7 = MOSTLY_Q8_0, 0 = ALL_F32
  [L('context_length'), gv.u32(cfg.n_ctx)],
  [L('embedding_length'), gv.u32(cfg.n_embd)],
  [L('block_count'), gv.u32(cfg.n_layer)],
  [L('feed_forward_length'), gv.u32(cfg.n_ff)],   // llama reads the expert width from here
  [L('attention.head_count'), gv.u32(cfg.n_head)],
  [L('attention.head_count_kv'), gv.u32(cfg.n_head_kv)],
  [L('attention.layer_norm_rms_epsilon'), gv.f32(cfg.rms_eps)],
  [L('rope.freq_base'), gv.f32(cfg.rope_base)],
  [L('rope.dimension_count'), gv.u32(headDim)],
  [L('expert_count'), gv.u32(cfg.n_expert)],
  [L('expert_used_count'), gv.u32(cfg.n_expert_used)],
  [L('vocab_size'), gv.u32(cfg.n_vocab)],
  ...vocabMetadata(vocab),
];

const bytes = writeGGUF(metadata, tensors);
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, bytes);
const sha256 = createHash('sha256').update(bytes).digest('hex');
console.log(`${args.out}: ${bytes.length} bytes, ${tensors.length} tensors, sha256 ${sha256}`);

if (!args['no-catalog']) {
  // One entry per file in public/models/models.json (the demo's catalog), replaced when re-made.
  const catalogPath = join(dirname(args.out), 'models.json');
  const catalog: { models: Record<string, unknown>[] } = existsSync(catalogPath)
    ? JSON.parse(readFileSync(catalogPath, 'utf8'))
    : { models: [] };
  const file = basename(args.out);
  const entry = {
    id: file.replace(/\.gguf$/, ''),
    file,
    size: bytes.length,
    sha256,
    architecture: 'llama',
    experts: { count: cfg.n_expert, used: cfg.n_expert_used },
    quantization: weightType === GGMLType.Q8_0 ? 'Q8_0 (norms and routers F32)' : 'F32',
    parameters: cfg.params,
    contextLength: cfg.n_ctx,
    description: `Tiny Mixture-of-Experts demo model (${cfg.n_layer} layers, n_embd ${cfg.n_embd}, ` +
      `${cfg.n_expert} experts top-${cfg.n_expert_used}, GPT-2 BPE cut to ${cfg.n_vocab} tokens), trained in ` +
      `${Math.round(cfg.train.minutes)} min on 2 CPU cores on the Brown corpus and Debian fortunes. ` +
      `Writes English-looking text, not sense.`,
  };
  catalog.models = [...catalog.models.filter((m) => m.file !== file), entry];
  writeFileSync(catalogPath, JSON.stringify(catalog, null, 2) + '\n');
  console.log(`catalog entry "${entry.id}" -> ${catalogPath}`);
}
