// Child process of tools/bench/engine.ts: the WASM CPU backend's prefill and decode speed on one
// GGUF (threads: 1 unless given), printed as one JSON line.
//   argv[2]: JSON { model, prompt: number[], nDecode, threads? }
import { fileSource } from '../../../src/gguf/source-node.ts';
import { WasmModel } from '../../../src/wasm-backend/model.ts';

const args = JSON.parse(process.argv[2]) as { model: string; prompt: number[]; nDecode: number; threads?: number };
try {
  const t0 = performance.now();
  const source = fileSource(args.model);
  const model = await WasmModel.load(source, { nCtx: 256, maxBatch: 32, threads: args.threads ?? 1 });
  const loadS = (performance.now() - t0) / 1000;
  await source.close?.();
  model.forward(args.prompt.slice(0, 4)); // warm up (the JIT's tiers)
  model.reset();
  let t = performance.now();
  let { next } = model.forward(args.prompt);
  const prefillMs = performance.now() - t;
  const ids = [next];
  t = performance.now();
  for (let i = 0; i < args.nDecode; i++) { ({ next } = model.forward([next])); ids.push(next); }
  const decodeMs = performance.now() - t;
  process.stdout.write(JSON.stringify({
    threads: model.threads, prefillTokS: (args.prompt.length / prefillMs) * 1000, decodeTokS: (args.nDecode / decodeMs) * 1000,
    loadS, heapMB: model.stats.heapBytes / 1e6, ids,
  }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }) + '\n');
}
process.exit(0);
