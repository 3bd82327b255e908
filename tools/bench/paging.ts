// Routed experts paged into GPU memory (WebGPUEngine option expertBudget) against all experts
// resident, on the default model (public/models: 4 layers x 8 experts, top-2, trained on English,
// so its routing is the natural one) over an English prompt, and on a 64-expert factory model
// (random weights: routing close to uniform, the hard case for a cache). For budgets of 1/4, 1/2
// and all of the experts: decode and prefill tok/s, the share of expert lookups that found the
// expert resident, bytes uploaded per decoded token, and GPU weight bytes. Each in one process,
// side by side; on this machine's SwiftShader.
//   npm run bench -- paging
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { WebGPUEngine } from '../../src/engine/engine.ts';
import { ExpertPool } from '../../src/engine/expert-pool.ts';
import { readGGUF } from '../../src/gguf/reader.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import { GGMLType } from '../../src/gguf/types.ts';
import { planModel } from '../../src/model/plan.ts';
import { Tokenizer } from '../../src/tokenizer/tokenizer.ts';
import { makeModel } from '../factory/make-model.ts';

const N_DECODE = 32;
const TEXT = 'The house stood at the end of the road, and the old man walked slowly toward it in the evening light.';

function factoryModel(): Uint8Array {
  const hp = { nLayer: 4, nEmbd: 256, nExpert: 64, nExpertUsed: 4, nFfExp: 256, nFf: 256 };
  const path = `.cache/bench/paging-qwen3moe-${Object.values(hp).join('-')}.gguf`;
  if (existsSync(path)) return new Uint8Array(readFileSync(path));
  mkdirSync('.cache/bench', { recursive: true });
  const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q4_K, seed: 3, hp });
  writeFileSync(path, bytes);
  return bytes;
}

async function measure(bytes: Uint8Array, prompt: number[], expertBudget?: number) {
  const engine = await WebGPUEngine.load(bytesSource(bytes), { nCtx: 256, maxBatch: 64, expertBudget });
  try {
    let t = performance.now();
    let { next } = await engine.forward(prompt);
    const prefillMs = performance.now() - t;
    const before = engine.expertStats;
    t = performance.now();
    for (let i = 0; i < N_DECODE; i++) ({ next } = await engine.forward([next]));
    const decodeMs = performance.now() - t;
    const s = engine.expertStats;
    const r = (x: number, d = 2) => +x.toFixed(d);
    return {
      prefillTokS: r((prompt.length / prefillMs) * 1000), decodeTokS: r((N_DECODE / decodeMs) * 1000),
      gpuWeightsMB: r(engine.stats.gpuBytes.weights / 1e6, 3),
      ...(s && before ? {
        slots: s.slots,
        decodeHitRate: r((s.hits - before.hits) / (s.hits - before.hits + s.misses - before.misses), 3),
        uploadedKBPerToken: r((s.uploadedBytes - before.uploadedBytes) / N_DECODE / 1e3, 1),
      } : {}),
    };
  } finally {
    engine.destroy();
  }
}

async function compare(bytes: Uint8Array, prompt: number[]) {
  const plan = planModel(await readGGUF(bytesSource(bytes)));
  const per = ExpertPool.bytesPerExpert(plan);
  const all = plan.hp.nExpert * plan.hp.nLayer;
  return {
    model: { arch: plan.hp.arch, layers: plan.hp.nLayer, experts: plan.hp.nExpert, used: plan.hp.nExpertUsed, expertBytes: per, promptTokens: prompt.length, decodeTokens: N_DECODE },
    resident: await measure(bytes, prompt),
    quarter: await measure(bytes, prompt, Math.ceil(all / 4) * per),
    half: await measure(bytes, prompt, Math.ceil(all / 2) * per),
    all: await measure(bytes, prompt, all * per),
  };
}

export default async function bench() {
  const dflt = new Uint8Array(readFileSync('public/models/webmoe-tiny-moe.q8_0.gguf'));
  const tok = await Tokenizer.fromGGUF(await readGGUF(bytesSource(dflt)));
  const prompt = [...tok.encode(TEXT, { addSpecial: true })];
  tok.dispose();
  return {
    defaultModel: await compare(dflt, prompt),
    factory64: await compare(factoryModel(), Array.from({ length: 24 }, (_, i) => 5 + ((i * 37) % 1000))),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await bench(), null, 2));
}
