// The engine in a module worker, as the product runs it: the GGUF fetched from a URL, every layer
// on WebGPU, greedy ids and the prompt's logits sent back.
import { WebGPUEngine } from '../../src/engine/engine.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import type { RunRequest, WorkerReply } from './engine-protocol.ts';

const post = (m: WorkerReply) => (self as unknown as Worker).postMessage(m);

self.onmessage = async (ev: MessageEvent<RunRequest>) => {
  const req = ev.data;
  try {
    const res = await fetch(req.url);
    if (!res.ok) throw new Error(`${req.url}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const engine = await WebGPUEngine.load(bytesSource(bytes, req.url), { nCtx: 64, maxBatch: 8, numerics: req.numerics, kernels: req.kernels });
    try {
      const { logits } = await engine.forward(req.prompt, { logits: 'last' });
      const ids = await engine.generate(req.prompt, req.nTokens);
      post({
        type: 'result', adapter: engine.session.adapterName, ids, logits: Array.from(logits![0]),
        decodeTokS: (engine.stats.decodeTokens / engine.stats.decodeMs) * 1000, launchesPerToken: engine.stats.launchesPerToken,
        kernels: engine.kernels, subgroups: engine.session.features.subgroups,
      });
    } finally {
      engine.destroy();
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    post({ type: 'error', name: err.name, message: err.message, code: err.code });
  }
};
