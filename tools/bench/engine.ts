// Engine benchmark: prefill and decode tok/s of the WebGPU engine on a dense Q8_0 model and an
// 8-expert top-2 Q4_K MoE model of ~100 MB each (factory models, made once into .cache/bench/),
// and of llama.cpp (node-llama-cpp) on the same files in the same run, each in a child process:
//  - 'vulkan': node-llama-cpp's Vulkan build forced onto the SwiftShader device
//    (GGML_VK_VISIBLE_DEVICES=0; by default ggml-vulkan hides CPU-type devices). llama.cpp's Vulkan
//    backend requires VK_KHR_16bit_storage, which SwiftShader lacks, so it refuses the device:
//    reported as an error, not a number.
//  - 'vulkan-default': node-llama-cpp's { gpu: 'vulkan' } as it is: no usable device, so ggml runs
//    everything on its CPU backend (the variant shipped in the Vulkan package).
//  - 'vulkan-lavapipe': the same Vulkan build on Mesa's lavapipe (software Vulkan on the same CPU,
//    Debian mesa-vulkan-drivers), which has 16-bit storage: the only place llama.cpp's Vulkan
//    backend runs here. It is not our device: Dawn refuses lavapipe (Mesa 22.3 lacks
//    shaderUniform*ArrayDynamicIndexing), so no software device runs both.
//  - 'cpu': the CPU build with cpuMathCores threads.
// The decode kernels' achieved GB/s beside the adapter's copy bandwidth: gpu-kernels.ts (run by
// npm run bench next to this module).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileSource } from '../../src/gguf/source-node.ts';
import { GGMLType } from '../../src/gguf/types.ts';
import { WebGPUEngine } from '../../src/engine/engine.ts';
import { SWIFTSHADER_ICD } from '../../src/gpu/device.ts';
import { makeModel } from '../factory/make-model.ts';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const DIR = join(ROOT, '.cache/bench');
const PROMPT = Array.from({ length: 64 }, (_, i) => 10 + ((i * 37) % 1200));
const N_DECODE = 16;
/** Rounds per measurement, interleaved (ours, llama.cpp, ours, ...); the best of each is kept:
 *  the machine is shared, and a slower round measures the neighbours, not the code. */
const ROUNDS = 2;

const MODELS = [
  // 8 layers of d = 1024 (16 heads, 4 KV heads), FFN 2816: 98.7 MB
  { name: 'dense-q8_0', arch: 'llama', type: GGMLType.Q8_0, hp: { nLayer: 8, nEmbd: 1024, nHead: 16, nHeadKv: 4, nFf: 2816 } },
  // 8 layers, 8 experts of width 768, 2 used: 98.5 MB, ~34 MB read per token
  { name: 'moe-q4_k', arch: 'llama', type: GGMLType.Q4_K, hp: { nLayer: 8, nEmbd: 1024, nHead: 16, nHeadKv: 4, nFf: 768, nExpert: 8, nExpertUsed: 2 } },
];

interface Speed { prefillTokS?: number; decodeTokS?: number; error?: string; [k: string]: unknown }

function modelPath(m: (typeof MODELS)[number]): string {
  const path = join(DIR, `${m.name}.gguf`);
  if (!existsSync(path)) {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(path, makeModel({ arch: m.arch, type: m.type, seed: 1, hp: m.hp }));
  }
  return path;
}

const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json';

function llamaCpp(model: string, backend: 'cpu' | 'vulkan' | 'vulkan-default' | 'vulkan-lavapipe'): Promise<Speed> {
  const env: NodeJS.ProcessEnv = { ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD };
  if (backend === 'vulkan' || backend === 'vulkan-lavapipe') env.GGML_VK_VISIBLE_DEVICES = '0';
  if (backend === 'vulkan-lavapipe') env.VK_ICD_FILENAMES = LAVAPIPE_ICD;
  const args = JSON.stringify({ model, prompt: PROMPT, nDecode: N_DECODE, backend: backend === 'cpu' ? 'cpu' : 'vulkan' });
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'tools/bench/child/llamacpp-speed.ts'), args],
      { cwd: ROOT, env, timeout: 900_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          done({ ...JSON.parse(line), ...(backend === 'vulkan-default' ? { note: 'no Vulkan device usable: ggml CPU backend' } : {}) });
        } catch {
          // the child's own lines name the cause (e.g. "does not support 16-bit storage")
          const why = stderr.split('\n').filter((l) => /ggml_vulkan|error|failed/i.test(l)).slice(-3).join(' | ');
          done({ error: `llama.cpp exited (${err?.code ?? err?.signal ?? 'no result'}): ${why || stderr.slice(-300)}` });
        }
      });
  });
}

async function webgpu(path: string): Promise<Speed> {
  const t0 = performance.now();
  const source = fileSource(path);
  const engine = await WebGPUEngine.load(source, { nCtx: 256, maxBatch: 64 });
  const loadS = (performance.now() - t0) / 1000;
  await source.close?.();
  try {
    await engine.forward(PROMPT.slice(0, 4)); // compile and warm up
    engine.reset();
    let t = performance.now();
    let { next } = await engine.forward(PROMPT);
    const prefillMs = performance.now() - t;
    const ids = [next];
    t = performance.now();
    for (let i = 0; i < N_DECODE; i++) { ({ next } = await engine.forward([next])); ids.push(next); }
    const decodeMs = performance.now() - t;
    return {
      prefillTokS: (PROMPT.length / prefillMs) * 1000, decodeTokS: (N_DECODE / decodeMs) * 1000,
      launchesPerToken: engine.stats.launchesPerToken, loadS, gpuMB: engine.session.buffers.totalBytes / 1e6, ids,
    };
  } finally {
    engine.destroy();
  }
}

const round = (s: Speed) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? +v.toFixed(2) : v]));

export default async function bench() {
  const models: Record<string, unknown> = {};
  for (const m of MODELS) {
    const path = modelPath(m);
    process.stderr.write(`bench engine: ${m.name}\n`);
    let ours: Speed = {}, cpu: Speed = {}, vulkanDefault: Speed = {};
    const best = (a: Speed, b: Speed): Speed => (a.decodeTokS ?? 0) + (a.prefillTokS ?? 0) >= (b.decodeTokS ?? 0) + (b.prefillTokS ?? 0) ? a : b;
    for (let r = 0; r < ROUNDS; r++) {
      ours = best(ours, await webgpu(path));
      cpu = best(cpu, await llamaCpp(path, 'cpu'));
      vulkanDefault = best(vulkanDefault, await llamaCpp(path, 'vulkan-default'));
    }
    const vulkan = await llamaCpp(path, 'vulkan');
    const lavapipe = await llamaCpp(path, 'vulkan-lavapipe');
    const ratio = (a?: number, b?: number) => (a && b ? +(a / b).toFixed(3) : null);
    const { ids: ourIds, ...oursRest } = ours;
    const { ids: cpuIds, ...cpuRest } = cpu;
    const { ids: lvpIds, ...lavapipeRest } = lavapipe;
    models[m.name] = {
      model: { path, hp: m.hp, type: GGMLType[m.type], promptTokens: PROMPT.length, decodeTokens: N_DECODE },
      webgpu: round(oursRest),
      llamacpp: { cpu: round(cpuRest), vulkan: round(vulkan), 'vulkan-lavapipe': round(lavapipeRest), 'vulkan-default': round(vulkanDefault) },
      ratio: {
        decodeVsVulkan: ratio(ours.decodeTokS, vulkan.decodeTokS),
        prefillVsVulkan: ratio(ours.prefillTokS, vulkan.prefillTokS),
        decodeVsVulkanLavapipe: ratio(ours.decodeTokS, lavapipe.decodeTokS),
        prefillVsVulkanLavapipe: ratio(ours.prefillTokS, lavapipe.prefillTokS),
        decodeVsCpu: ratio(ours.decodeTokS, cpu.decodeTokS),
        prefillVsCpu: ratio(ours.prefillTokS, cpu.prefillTokS),
      },
      sameGreedyTokens: Array.isArray(ourIds) && Array.isArray(cpuIds) ? JSON.stringify(ourIds) === JSON.stringify(cpuIds) : null,
      sameGreedyTokensLavapipe: Array.isArray(ourIds) && Array.isArray(lvpIds) ? JSON.stringify(ourIds) === JSON.stringify(lvpIds) : null,
    };
  }
  return { models };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await bench(), null, 2));
}
