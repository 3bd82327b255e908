// Page of e2e/wasm-models.spec.ts: window.greedyWasm loads a model URL through the library API on
// the WASM backend, generates greedy ids from token ids (end of text ignored), then unloads and
// deletes the stored copy. The page itself asserts nothing.
import { WebMoE } from '../../src/client/index.ts';

export interface WasmRun {
  ids: number[];
  promptIds: number[];
  backend: string;
  threads?: number;
}

declare global {
  interface Window {
    greedyWasm: (url: string, prompt: number[], maxTokens: number) => Promise<WasmRun>;
  }
}

window.greedyWasm = async (url, prompt, maxTokens) => {
  url = new URL(url, location.href).href;
  const llm = await WebMoE.load(url, { backend: 'wasm', nCtx: 64 });
  try {
    const r = await llm.generate(prompt, { temperature: 0, maxTokens, ignoreEos: true }).result;
    return { ids: r.ids, promptIds: r.promptIds, backend: llm.model.backend, threads: llm.model.threads };
  } finally {
    await llm.unload();
    await WebMoE.deleteModel(url);
  }
};
document.getElementById('out')!.textContent = 'ready';
