// Page of e2e/wasm.spec.ts: exposes runWasm(), which fetches the vocabulary the spec serves and
// runs the tokenizer and sampler checks in a module worker.
import type { WasmReport } from './wasm-cases.ts';

declare global {
  interface Window {
    runWasm: (texts: string[]) => Promise<{ ok?: WasmReport; error?: { name: string; message: string; code?: string } }>;
  }
}

window.runWasm = async (texts) => {
  const vocab = new Uint8Array(await (await fetch('/e2e-data/vocab.gguf')).arrayBuffer());
  const worker = new Worker(new URL('./wasm-worker.ts', import.meta.url), { type: 'module' });
  try {
    return await new Promise((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage({ vocab, texts }, [vocab.buffer]);
    });
  } finally {
    worker.terminate();
  }
};
document.getElementById('out')!.textContent = 'ready';
