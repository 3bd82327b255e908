// Streamed weights in Chromium: a reload mid-download resumes from IndexedDB without fetching a
// stored chunk again (counted at the server), and a server that refuses CORS gets a named error.
// The fault server runs in this test process on loopback: another origin than the page's, so
// the requests are real cross-origin ones.
import { createHash } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { testModel } from '../tools/faultserver/fixtures.ts';
import { startFaultServer, type FaultServer } from '../tools/faultserver/server.ts';
import type { StorageReport } from './pages/storage.ts';

let server: FaultServer;
test.beforeAll(async () => {
  server = await startFaultServer();
});
test.afterAll(() => server.close());

const pageUrl = (url: string, chunk: number) => `/e2e/pages/storage.html?url=${encodeURIComponent(url)}&chunk=${chunk}`;

async function finished(page: import('@playwright/test').Page): Promise<StorageReport> {
  const h = await page.waitForFunction(() => {
    const r = window.storageReport;
    return r && (r.phase === 'complete' || r.phase === 'failed') ? r : undefined;
  }, null, { timeout: 90_000 });
  return (await h.jsonValue()) as StorageReport;
}

test('a reload mid-download resumes without fetching finished chunks again', async ({ page }) => {
  const model = testModel(1); // 2.4 MB
  const chunk = 64 << 10;
  server.serve('/resume.gguf', model, { rate: 800_000 }); // ~3 s for the whole file
  const url = server.url('/resume.gguf');

  await page.goto(pageUrl(url, chunk));
  await page.waitForFunction(() => (window.storageReport?.chunksDone ?? 0) >= 20, null, { timeout: 60_000 });
  const reloadAt = server.log.length;
  const sentBeforeReload = server.bytesSent('/resume.gguf');
  await page.reload();
  const report = await finished(page);

  expect(report.error).toBeUndefined();
  expect(report.sha256).toBe(createHash('sha256').update(model).digest('hex'));
  expect(report.resumedChunks.length).toBeGreaterThanOrEqual(20);
  expect(report.resumedChunks.length).toBeLessThan(report.chunks.length);
  expect(report.models).toEqual([expect.objectContaining({ url, complete: true, size: model.length, storedBytes: model.length })]);

  // Body bytes sent after the reload that fall inside chunks the second page found stored.
  const stored = report.resumedChunks.map((i) => report.chunks[i]);
  let resent = 0;
  for (const e of server.log.slice(reloadAt).filter((x) => x.path === '/resume.gguf' && x.range)) {
    const a = Number(e.range!.slice(6).split('-')[0]);
    for (const c of stored) resent += Math.max(0, Math.min(a + e.bytes, c.offset + c.length) - Math.max(a, c.offset));
  }
  const total = server.bytesSent('/resume.gguf');
  const figures = {
    fileBytes: model.length, chunks: report.chunks.length, resumedChunks: report.resumedChunks.length,
    sentBeforeReload, sentAfterReload: total - sentBeforeReload, sentTotal: total,
    resentOfStoredChunks: resent, wasted: total - model.length,
  };
  console.log('e2e resume:', JSON.stringify(figures));
  test.info().annotations.push({ type: 'resume bytes', description: JSON.stringify(figures) });
  expect(resent).toBeLessThanOrEqual(1); // the one-byte identity check of the reopened file
  // What the reload cost: at most the chunks in flight when the page went away (2 + 2 urgent).
  expect(total - model.length).toBeLessThanOrEqual(4 * chunk + 1);
});

test('a server that refuses cross-origin requests gets a CorsError that says so', async ({ page }) => {
  server.serve('/nocors.gguf', testModel(1), { cors: false });
  await page.goto(pageUrl(server.url('/nocors.gguf'), 1 << 20));
  const report = await finished(page);
  expect(report.error?.name).toBe('CorsError');
  expect(report.error?.message).toMatch(/Access-Control-Allow-Origin/);
  expect(report.error?.code).toBe('cors-or-network');
});

test('a cross-origin server that hides Content-Range gets a HeadersNotExposedError', async ({ page }) => {
  server.serve('/hidden.gguf', testModel(1), { expose: false });
  await page.goto(pageUrl(server.url('/hidden.gguf'), 1 << 20));
  const report = await finished(page);
  expect(report.error?.name).toBe('HeadersNotExposedError');
  expect(report.error?.message).toMatch(/Access-Control-Expose-Headers/);
});
