// Several tabs, one store, in headless Chromium: two pages of one browser context (one origin, so
// one IndexedDB and one lock manager) load the same model at the same time from a throttled
// loopback server (tools/faultserver, another origin: real cross-origin range requests from the
// engine workers). One tab downloads; the other waits for its Web Lock, showing its progress, and
// then loads the stored file (src/fetch/share.ts): the server sends the file once and both
// generate the CPU reference's greedy tokens. Closing the downloading tab mid-download leaves the other one finishing it from
// what was stored, complete and verified.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { startFaultServer, type FaultServer } from '../tools/faultserver/server.ts';
import type { TabReport } from './pages/tabs.ts';
import { E2EReference } from './reference.ts';

const bytes = new Uint8Array(readFileSync('public/models/webmoe-tiny-moe.q8_0.gguf'));
const sha256 = createHash('sha256').update(bytes).digest('hex');
const PROMPT = 'Once upon a time';
const N = 24;

let server: FaultServer;
let ref: E2EReference;
test.beforeAll(async () => {
  server = await startFaultServer();
  ref = await E2EReference.load(bytes);
});
test.afterAll(async () => {
  ref.dispose();
  await server.close();
});

const pageUrl = (url: string, extra = '') => `/e2e/pages/tabs.html?url=${encodeURIComponent(url)}&sha256=${sha256}${extra}`;
const report = (page: Page) => page.evaluate(() => window.tabReport);

async function ready(page: Page): Promise<TabReport> {
  const h = await page.waitForFunction(() => {
    const r = window.tabReport;
    return r && r.phase !== 'loading' ? r : undefined;
  }, null, { timeout: 150_000 });
  const r = (await h.jsonValue()) as TabReport;
  expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  return r;
}

async function twoTabs(context: BrowserContext, url: string, extra: [string, string] = ['', '']): Promise<[Page, Page]> {
  const pages = [await context.newPage(), await context.newPage()] as const;
  for (const p of pages) p.on('pageerror', (e) => console.log('page error:', e.message));
  await Promise.all(pages.map((p, i) => p.goto(pageUrl(url, extra[i]))));
  return [pages[0], pages[1]];
}

test('two tabs load one model at once: the server sends it once, both generate the reference', async ({ browser }) => {
  test.setTimeout(240_000);
  const path = '/tabs-together.gguf';
  server.serve(path, bytes, { rate: 600_000 }); // ~7 s for the 4.3 MB file
  const context = await browser.newContext();
  const t0 = Date.now();
  const [a, b] = await twoTabs(context, server.url(path));
  const [ra, rb] = await Promise.all([ready(a), ready(b)]);
  const loadMs = Date.now() - t0;
  // Exactly one of them waited for the other's download.
  const followers = [ra, rb].filter((r) => r.notices.includes('shared'));
  expect(followers.length).toBe(1);
  const want = ref.greedy(PROMPT, N);
  const ga = await a.evaluate(([p, n]) => window.tab!.generate(p, n), [PROMPT, N] as const);
  const gb = await b.evaluate(([p, n]) => window.tab!.generate(p, n), [PROMPT, N] as const);
  expect(ga.ids).toEqual(want);
  expect(gb.ids).toEqual(want);
  const [da, db] = await Promise.all([a.evaluate(() => window.tab!.download()), b.evaluate(() => window.tab!.download())]);
  const sent = server.bytesSent(path);
  const figures = {
    file: bytes.length, sent, ratio: +(sent / bytes.length).toFixed(3), loadMs,
    fetched: { a: da.bytesFetched, b: db.bytesFetched }, notices: { a: ra.notices, b: rb.notices }, roles: { a: ra.notices.includes('shared') ? 'follower' : 'leader', b: rb.notices.includes('shared') ? 'follower' : 'leader' },
    loadTabMs: { a: Math.round(ra.loadMs!), b: Math.round(rb.loadMs!) },
  };
  console.log('e2e tabs together:', JSON.stringify(figures));
  test.info().annotations.push({ type: 'tabs together', description: JSON.stringify(figures) });
  expect(sent).toBeLessThanOrEqual(1.1 * bytes.length);
  expect(da.complete && db.complete).toBe(true);
  expect(Math.min(da.bytesFetched, db.bytesFetched)).toBe(0); // the follower fetched nothing
  const models = await a.evaluate(() => window.tab!.models());
  expect(models).toEqual([expect.objectContaining({ url: server.url(path), complete: true, verified: true, storedBytes: bytes.length })]);
  await context.close();
});

test('closing the downloading tab mid-download: the other one finishes it, complete and verified', async ({ browser }) => {
  test.setTimeout(240_000);
  const path = '/tabs-close.gguf';
  server.serve(path, bytes, { rate: 300_000 }); // ~14 s for the file
  const context = await browser.newContext();
  const [a, b] = await twoTabs(context, server.url(path));
  // Wait until one tab waits for the other and hears its progress, and the server has sent a third.
  let leader: Page | undefined, follower: Page | undefined;
  for (let t = 0; !follower && t < 600; t++) {
    for (const [p, other] of [[a, b], [b, a]] as const) {
      if ((await report(p)).notices.includes('shared')) [follower, leader] = [p, other];
    }
    if (!follower) await a.waitForTimeout(100);
  }
  expect(follower, 'no tab waited for the other').toBeDefined();
  await follower!.waitForFunction(() => (window.tabReport.progress?.bytesDone ?? 0) > 0, null, { timeout: 60_000 });
  expect((await report(follower!)).progress).toMatchObject({ phase: 'download', bytesFetched: 0 });
  await expect.poll(() => server.bytesSent(path), { timeout: 60_000 }).toBeGreaterThanOrEqual(bytes.length / 3);
  const before = (await report(leader!)).progress!; // (stored at least this much)
  expect((await report(follower!)).phase).toBe('loading');
  const sentBeforeClose = server.bytesSent(path);
  const t0 = Date.now();
  await leader!.close();
  expect(sentBeforeClose).toBeLessThan(bytes.length); // mid-download
  const r = await ready(follower!);
  const afterCloseMs = Date.now() - t0;
  const d = await follower!.evaluate(() => window.tab!.download());
  expect(d).toMatchObject({ complete: true, bytesStored: bytes.length });
  // What the follower fetched: at most what was not stored when the leader went (+ the 1-byte check).
  expect(d.bytesFetched).toBeGreaterThan(0);
  expect(d.bytesFetched).toBeLessThanOrEqual(bytes.length - before.bytesDone + 1);
  const models = await follower!.evaluate(() => window.tab!.models());
  expect(models).toEqual([expect.objectContaining({ complete: true, verified: true, storedBytes: bytes.length })]);
  const g = await follower!.evaluate(([p, n]) => window.tab!.generate(p, n), [PROMPT, N] as const);
  expect(g.ids).toEqual(ref.greedy(PROMPT, N));
  const figures = {
    file: bytes.length, leaderReportedStored: before.bytesDone, sentBeforeClose, sentTotal: server.bytesSent(path),
    fetchedByFollower: d.bytesFetched, followerLoadMs: Math.round(r.loadMs!), readyAfterCloseMs: afterCloseMs,
  };
  console.log('e2e tabs close:', JSON.stringify(figures));
  test.info().annotations.push({ type: 'tabs close', description: JSON.stringify(figures) });
  await context.close();
});
