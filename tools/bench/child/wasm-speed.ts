// Child process of tools/bench/engine.ts and wasm-paging.ts: the WASM CPU backend's prefill and
// decode speed on one GGUF (threads: 1 unless given; expertBudget/ramBudget in bytes: routed
// experts paged into heap slots, the slots' figures over the decode steps reported), printed as
// one JSON line.
//   argv[2]: JSON { model, prompt: number[], nDecode, threads?, expertBudget?, ramBudget?, prefetch? }
import { fileSource } from '../../../src/gguf/source-node.ts';
import { WasmModel } from '../../../src/wasm-backend/model.ts';

const args = JSON.parse(process.argv[2]) as { model: string; prompt: number[]; nDecode: number; threads?: number; expertBudget?: number; ramBudget?: number; prefetch?: boolean };
try {
  const t0 = performance.now();
  const source = fileSource(args.model);
  const paged = args.expertBudget !== undefined;
  const model = await WasmModel.load(source, { nCtx: 256, maxBatch: 32, threads: args.threads ?? 1, expertBudget: args.expertBudget, ramBudget: args.ramBudget, expertPrefetch: args.prefetch });
  const loadS = (performance.now() - t0) / 1000;
  if (!paged) await source.close?.(); // (paged experts are read from the file as they are picked)
  await model.forwardAsync(args.prompt.slice(0, 4)); // warm up (the JIT's tiers)
  model.reset();
  let t = performance.now();
  let { next } = await model.forwardAsync(args.prompt);
  const prefillMs = performance.now() - t;
  const ids = [next];
  const before = model.expertStats;
  t = performance.now();
  for (let i = 0; i < args.nDecode; i++) { ({ next } = await model.forwardAsync([next])); ids.push(next); }
  const decodeMs = performance.now() - t;
  const s = model.expertStats;
  const decodeExperts = s && before && {
    slots: s.slots, slotMB: s.slotBytes / 1e6, hitRate: (s.hits - before.hits) / (s.hits + s.misses - before.hits - before.misses),
    ramHits: s.ramHits - before.ramHits, storeReads: s.storeReads - before.storeReads,
    storeMBPerToken: (s.storeBytes - before.storeBytes) / 1e6 / args.nDecode, copiedMBPerToken: (s.copiedBytes - before.copiedBytes) / 1e6 / args.nDecode,
    fetchMsPerToken: (s.fetchMs - before.fetchMs) / args.nDecode,
    guesses: s.guesses - before.guesses, guessHits: s.guessHits - before.guessHits,
  };
  process.stdout.write(JSON.stringify({
    threads: model.threads, prefillTokS: (args.prompt.length / prefillMs) * 1000, decodeTokS: (args.nDecode / decodeMs) * 1000,
    loadS, heapMB: model.stats.heapBytes / 1e6, weightMB: model.stats.weightBytes / 1e6, ids, ...(decodeExperts && { experts: decodeExperts }),
  }) + '\n');
  if (paged) await source.close?.();
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }) + '\n');
}
process.exit(0);
