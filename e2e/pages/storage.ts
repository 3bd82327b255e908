// Downloads the model at ?url= into IndexedDB (resuming whatever an earlier load of this page
// stored) and publishes what happened on window.storageReport for e2e/storage.spec.ts to check; the
// page itself asserts nothing. ?chunk= sets the chunk size in bytes.
import { openModel } from '../../src/fetch/open.ts';
import { idbStore } from '../../src/storage/idb.ts';
import { listModels, type StoredModel } from '../../src/storage/models.ts';
import { Sha256, toHex } from '../../src/storage/sha256.ts';

export interface StorageReport {
  /** The page's own progress: opening, download, complete (verified and listed) or failed. */
  phase: string;
  /** The download's phase, from its progress events. */
  downloadPhase?: string;
  chunksDone: number;
  chunksTotal: number;
  /** Chunks found in IndexedDB when the page opened the model. */
  resumedChunks: number[];
  /** Every chunk's place in the file. */
  chunks: { offset: number; length: number }[];
  /** SHA-256 of the whole file as read back from IndexedDB, once complete. */
  sha256?: string;
  models?: StoredModel[];
  persisted?: boolean;
  error?: { name: string; message: string; code?: string };
}

declare global {
  interface Window {
    storageReport?: StorageReport;
  }
}

const q = new URLSearchParams(location.search);
const report: StorageReport = { phase: 'opening', chunksDone: 0, chunksTotal: 0, resumedChunks: [], chunks: [] };
window.storageReport = report;
const out = document.getElementById('out')!;

try {
  const store = idbStore({ name: 'webmoe-e2e' });
  const dl = await openModel({
    url: q.get('url')!,
    store,
    chunkBytes: Number(q.get('chunk') ?? 1 << 20),
    concurrency: 2,
    retry: { baseDelayMs: 50, maxDelayMs: 500 },
    onEvent: (e) => {
      if (e.type === 'progress') {
        report.downloadPhase = e.phase;
        out.textContent = `${e.phase}: ${e.chunksDone}/${e.chunksTotal} chunks, ${(e.rate / 1e6).toFixed(2)} MB/s`;
      }
      if (e.type === 'chunk' && e.status === 'stored') report.chunksDone++;
      if (e.type === 'notice' && (e.what === 'persisted' || e.what === 'not-persisted')) report.persisted = e.what === 'persisted';
    },
  });
  report.resumedChunks = dl.resumedChunks;
  report.chunks = dl.chunks.map((c) => ({ offset: c.offset, length: c.length }));
  report.chunksTotal = dl.chunks.length;
  report.chunksDone = dl.progress().chunksDone;
  report.phase = 'download';
  await dl.start();
  const h = new Sha256();
  for (const c of dl.chunks) h.update(await dl.ensureRange(c.offset, c.length));
  report.sha256 = toHex(h.digest());
  report.models = await listModels(store);
  report.phase = 'complete';
  out.textContent = `complete: ${report.sha256}`;
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  report.error = { name: err.name, message: err.message, code: (err as { code?: string }).code };
  report.phase = 'failed';
  out.textContent = `${err.name}: ${err.message}`;
}
