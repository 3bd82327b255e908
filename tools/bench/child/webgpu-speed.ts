// Child process of tools/bench/engine.ts: our WebGPU engine's prefill and decode speed on one
// GGUF, printed as one JSON line. A child process so that the parent can pick the device by
// environment (VK_ICD_FILENAMES, and the patched node of scripts/lavapipe.sh for lavapipe).
//   argv[2]: JSON { model, prompt: number[], nDecode, kvType: 'f32' | 'f16', opts?: engine options }
import { fileSource } from '../../../src/gguf/source-node.ts';
import { WebGPUEngine, type EngineOptions } from '../../../src/engine/engine.ts';

const args = JSON.parse(process.argv[2]) as { model: string; prompt: number[]; nDecode: number; kvType: 'f32' | 'f16'; opts?: EngineOptions };
try {
  const t0 = performance.now();
  const source = fileSource(args.model);
  const engine = await WebGPUEngine.load(source, { nCtx: 256, maxBatch: args.prompt.length, kvType: args.kvType, ...args.opts });
  const loadS = (performance.now() - t0) / 1000;
  await source.close?.();
  await engine.forward(args.prompt.slice(0, 4)); // compile and warm up
  engine.reset();
  let t = performance.now();
  let { next } = await engine.forward(args.prompt);
  const prefillMs = performance.now() - t;
  const ids = [next];
  t = performance.now();
  for (let i = 0; i < args.nDecode; i++) { ({ next } = await engine.forward([next])); ids.push(next); }
  const decodeMs = performance.now() - t;
  process.stdout.write(JSON.stringify({
    adapter: engine.session.adapterName, kvType: engine.kvType,
    prefillTokS: (args.prompt.length / prefillMs) * 1000, decodeTokS: (args.nDecode / decodeMs) * 1000,
    launchesPerToken: engine.stats.launchesPerToken, loadS, gpuMB: engine.session.buffers.totalBytes / 1e6, ids,
  }) + '\n');
  engine.destroy();
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }) + '\n');
}
process.exit(0);
