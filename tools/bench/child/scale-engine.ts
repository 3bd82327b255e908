// Child process of tools/bench/scale.ts: a model URL opened into an empty fs store, the WebGPU
// engine on it with paged experts (dense weights first, experts fetched as the router picks them,
// no background download), the prompt and nDecode greedy tokens. One JSON line out, with the
// process's peak RSS: a child so that the figure is the engine's alone.
//   argv[2]: JSON { url, store, prompt: number[], nDecode, expertBudget, ramBudget }
import { WebGPUEngine } from '../../../src/engine/engine.ts';
import { openModel } from '../../../src/fetch/open.ts';
import { fsStore } from '../../../src/storage/fs.ts';

const a = JSON.parse(process.argv[2]) as { url: string; store: string; prompt: number[]; nDecode: number; expertBudget: number; ramBudget: number };
const mb = (b: number) => +(b / 1e6).toFixed(1);
// memory over the run: the highest RSS seen (sampled), with the ArrayBuffer bytes and JS heap then
let peak = { rss: 0, arrayBuffers: 0, heapUsed: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > peak.rss) peak = { rss: m.rss, arrayBuffers: m.arrayBuffers, heapUsed: m.heapUsed };
}, 200);
try {
  const t0 = performance.now();
  const dl = await openModel({ url: a.url, store: fsStore(a.store) });
  await dl.ensureDense();
  const denseS = (performance.now() - t0) / 1000;
  const engine = await WebGPUEngine.load(dl.source(), {
    nCtx: a.prompt.length + a.nDecode + 8, maxBatch: 16, expertBudget: a.expertBudget, ramBudget: a.ramBudget,
    experts: (l, e) => dl.ensureExpert(l, e),
  });
  const loadS = (performance.now() - t0) / 1000;
  let { next } = await engine.forward(a.prompt);
  const firstTokenS = (performance.now() - t0) / 1000;
  const afterPrompt = engine.expertStats!;
  const fetchedAtFirst = dl.progress().bytesFetched;
  const ids = [next];
  const t1 = performance.now();
  for (let i = 1; i < a.nDecode; i++) { ({ next } = await engine.forward([next])); ids.push(next); }
  const decodeS = (performance.now() - t1) / 1000;
  const s = engine.expertStats!;
  const steps = a.nDecode - 1;
  const per = (x: number, y: number) => +((x - y) / steps).toFixed(2);
  process.stdout.write(JSON.stringify({
    adapter: engine.session.adapterName, ids,
    denseReadyS: +denseS.toFixed(1), loadS: +loadS.toFixed(1), firstTokenS: +firstTokenS.toFixed(1), fetchedAtFirstTokenMB: mb(fetchedAtFirst),
    decodeTokS: +(steps / decodeS).toFixed(3),
    gpu: { denseWeightsMB: mb(engine.stats.gpuBytes.weights - s.gpuBytes), expertSlotsMB: mb(s.gpuBytes), slots: s.slots, kvMB: mb(engine.stats.gpuBytes.kv), scratchMB: mb(engine.stats.gpuBytes.scratch + engine.stats.gpuBytes.io) },
    ramBudgetMB: mb(s.ramBudget), ramPeakMB: mb(s.ramPeakBytes),
    decodePerToken: {
      lookups: per(s.hits + s.misses, afterPrompt.hits + afterPrompt.misses), gpuHits: per(s.hits, afterPrompt.hits),
      ramHits: per(s.ramHits, afterPrompt.ramHits), storeReads: per(s.storeReads, afterPrompt.storeReads),
      uploadedMB: +((s.uploadedBytes - afterPrompt.uploadedBytes) / steps / 1e6).toFixed(2),
      storeReadMB: +((s.storeBytes - afterPrompt.storeBytes) / steps / 1e6).toFixed(2),
      readbackMs: per(s.readbackMs, afterPrompt.readbackMs), fetchMs: per(s.fetchMs, afterPrompt.fetchMs),
      prefetchHits: per(s.prefetchHits, afterPrompt.prefetchHits),
    },
    guessPrecision: s.guesses ? +(s.guessHits / s.guesses).toFixed(3) : null,
    guessRecall: s.guessedLookups ? +(s.guessHits / s.guessedLookups).toFixed(3) : null,
    bytesFetchedMB: mb(dl.progress().bytesFetched),
    peakRssMB: mb(process.resourceUsage().maxRSS * 1024),
    atPeakSample: { rssMB: mb(peak.rss), arrayBuffersMB: mb(peak.arrayBuffers), heapUsedMB: mb(peak.heapUsed) },
  }) + '\n');
  engine.destroy();
  await dl.close();
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e) }) + '\n');
}
clearInterval(sampler);
process.exit(0);
