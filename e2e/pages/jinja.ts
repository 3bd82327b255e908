// Page of e2e/chat-template.spec.ts: exposes renderInWorker(), which renders chat templates with
// src/tokenizer/chat-template.ts in a module worker (where the engine renders them).
import type { JinjaJob, JinjaReply } from './jinja-worker.ts';

declare global {
  interface Window {
    renderInWorker: (jobs: JinjaJob[]) => Promise<JinjaReply>;
  }
}

window.renderInWorker = async (jobs) => {
  const worker = new Worker(new URL('./jinja-worker.ts', import.meta.url), { type: 'module' });
  try {
    return await new Promise((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage(jobs);
    });
  } finally {
    worker.terminate();
  }
};
document.getElementById('out')!.textContent = 'ready';
