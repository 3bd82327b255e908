// Test page: runs the WebGPU engine in a module worker on a model URL and publishes the result
// on window.engineRun for e2e/engine.spec.ts; the page itself asserts nothing.
import type { RunRequest, WorkerReply } from './engine-protocol.ts';

declare global {
  interface Window {
    runEngine?: (req: Omit<RunRequest, 'type'>) => Promise<WorkerReply>;
  }
}

window.runEngine = (req) => new Promise((resolve) => {
  const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<WorkerReply>) => {
    resolve(ev.data);
    worker.terminate();
  };
  worker.onerror = (ev) => resolve({ type: 'error', name: 'WorkerError', message: ev.message });
  worker.postMessage({ type: 'run', ...req } satisfies RunRequest);
});
document.getElementById('out')!.textContent = 'engine page loaded';
