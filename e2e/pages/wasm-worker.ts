// Module worker of e2e/pages/wasm.html: runs the checks where the engine runs them, in a worker.
import { runWasmChecks, type WasmInput } from './wasm-cases.ts';

self.onmessage = async (e: MessageEvent<WasmInput>) => {
  try {
    self.postMessage({ ok: await runWasmChecks(e.data) });
  } catch (err) {
    const x = err as Error & { code?: string };
    self.postMessage({ error: { name: x.name, message: x.message, code: x.code } });
  }
};
