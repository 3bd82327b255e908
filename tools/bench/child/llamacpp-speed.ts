// Child process of tools/bench/engine.ts: llama.cpp (node-llama-cpp, prebuilt binaries) prefill and
// decode speed on one GGUF, printed as one JSON line. A child process because llama.cpp aborts
// the whole process on a failed assertion, and because the Vulkan variant must see
// GGML_VK_VISIBLE_DEVICES before it loads.
//   argv[2]: JSON { model, prompt: number[], nDecode, backend: 'cpu' | 'vulkan', kvType: 'f32' | 'f16', threads? }
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';

interface Args { model: string; prompt: number[]; nDecode: number; backend: 'cpu' | 'vulkan'; kvType?: 'f32' | 'f16'; threads?: number }

const args = JSON.parse(process.argv[2]) as Args;
const kv = args.kvType === 'f16' ? 'F16' : 'F32';
const log: string[] = [];
try {
  const llama = await getLlama({
    gpu: args.backend === 'cpu' ? false : 'vulkan',
    build: 'never',
    logLevel: LlamaLogLevel.warn,
    logger: (_level, message) => { log.push(message.trim()); },
  });
  const devices = await llama.getGpuDeviceNames();
  const model = await llama.loadModel({ modelPath: args.model, gpuLayers: args.backend === 'cpu' ? 0 : 'max' });
  const context = await model.createContext({
    contextSize: 512, batchSize: 512, threads: args.threads ?? llama.cpuMathCores,
    flashAttention: false, experimentalKvCacheKeyType: kv, experimentalKvCacheValueType: kv,
  });
  const seq = context.getSequence();
  const t0 = performance.now();
  let tPrefill = 0, n = 0;
  const ids: number[] = [];
  for await (const tok of seq.evaluate(args.prompt as Token[], { temperature: 0 })) {
    if (n === 0) tPrefill = performance.now() - t0;
    ids.push(tok);
    if (++n > args.nDecode) break;
  }
  const tDecode = performance.now() - t0 - tPrefill;
  process.stdout.write(JSON.stringify({
    backend: args.backend, kvType: kv, threads: args.threads ?? llama.cpuMathCores, gpu: llama.gpu, devices, gpuLayers: model.gpuLayers,
    prefillTokS: (args.prompt.length / tPrefill) * 1000, decodeTokS: (args.nDecode / tDecode) * 1000, ids,
  }) + '\n');
  await context.dispose();
  await model.dispose();
  await llama.dispose();
} catch (e) {
  process.stdout.write(JSON.stringify({ backend: args.backend, error: e instanceof Error ? e.message : String(e), log: log.slice(-5) }) + '\n');
}
