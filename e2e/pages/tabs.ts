// One tab of e2e/tabs.spec.ts: loads the model at ?url= through the library API (its own engine
// worker; IndexedDB "webmoe", shared with the other tabs of the browser context) and publishes
// what happened on window.tabReport; window.tab runs greedy generations and reads stats. ?sha256=
// is checked once the file is complete. The page itself asserts nothing.
import { WebMoE, type WorkerStats } from '../../src/client/index.ts';
import type { StoredModel } from '../../src/storage/models.ts';

export interface TabReport {
  phase: 'loading' | 'ready' | 'failed';
  /** Notices' `what` in order ('shared': another tab downloads, this one waits for it). */
  notices: string[];
  /** The last download progress event. */
  progress?: { phase: string; bytesDone: number; bytesTotal: number; bytesFetched: number; chunksDone: number; chunksTotal: number };
  loadMs?: number;
  error?: { name: string; message: string; code?: string };
}

export interface TabApi {
  /** Greedy ids for a text prompt. */
  generate(prompt: string, maxTokens: number): Promise<{ ids: number[] }>;
  download(): Promise<WorkerStats['download']>;
  models(): Promise<StoredModel[]>;
}

declare global {
  interface Window {
    tabReport: TabReport;
    tab?: TabApi;
  }
}

const q = new URLSearchParams(location.search);
const report: TabReport = { phase: 'loading', notices: [] };
window.tabReport = report;
const out = document.getElementById('out')!;
const t0 = performance.now();

try {
  const llm = await WebMoE.load(q.get('url')!, {
    sha256: q.get('sha256') ?? undefined,
    onEvent: (e) => {
      if (e.type === 'notice') report.notices.push(e.what);
      if (e.type === 'progress') {
        const { phase, bytesDone, bytesTotal, bytesFetched, chunksDone, chunksTotal } = e;
        report.progress = { phase, bytesDone, bytesTotal, bytesFetched, chunksDone, chunksTotal };
        out.textContent = `${phase}: ${bytesDone}/${bytesTotal} bytes stored, ${bytesFetched} fetched by this tab`;
      }
    },
  });
  report.loadMs = performance.now() - t0;
  window.tab = {
    generate: async (prompt, maxTokens) => {
      const r = await llm.generate(prompt, { temperature: 0, maxTokens }).result;
      return { ids: r.ids };
    },
    download: async () => (await llm.stats()).download,
    models: () => WebMoE.listModels(),
  };
  report.phase = 'ready';
  out.textContent = `ready after ${Math.round(report.loadMs)} ms`;
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  report.error = { name: err.name, message: err.message, code: (err as { code?: string }).code };
  report.phase = 'failed';
  out.textContent = `${err.name}: ${err.message}`;
}
