// The built demo site as an offline app, in headless Chromium on SwiftShader. The site is built
// twice here (Vite's build API, vite.config.ts): v1, and v2 whose shell differs (index.html gets a
// marker); a plain static server (static-server.ts) serves one at a time at the same origin and logs
// every request. One visit to v1 loads the default model into IndexedDB and lets the service worker
// precache the shell; then, with the network gone (context.setOffline, and the server dropping
// every connection; no request of the page may reach it), a reload opens the app, loads the stored
// model and generates the same greedy text as online, equal to the CPU reference's. Then v2 is deployed: the next visit says an update is
// ready, Reload brings the v2 shell, and the model is still stored (nothing downloaded). On the way,
// what Chromium's install check needs: manifest fields, icons that load and have their sizes, a
// service worker controlling the page, and Chromium's own verdict (Page.getInstallabilityErrors).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { build, type Plugin } from 'vite';
import type { GenerationResult } from '../src/client/protocol.ts';
import { E2EReference } from './reference.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL = 'webmoe-tiny-moe.q8_0.gguf';
const bytes = new Uint8Array(readFileSync(join(ROOT, 'public/models', MODEL)));
const PROMPT = 'Once upon a time';
const MAX_TOKENS = 24;

let tmp: string;
let v1: string;
let v2: string;
let server: StaticServer;
let ref: E2EReference;
/** A browser profile on disk (in tmp), closed before tmp is removed. */
let persistent: BrowserContext | undefined;

/** The second deployment's shell: index.html carries a marker the test can see. */
const markV2: Plugin = {
  name: 'e2e-shell-v2',
  transformIndexHtml: () => [{ tag: 'meta', attrs: { name: 'webmoe-e2e-build', content: 'v2' }, injectTo: 'head' }],
};

async function buildSite(outDir: string, plugins: Plugin[] = []): Promise<number> {
  const t0 = Date.now();
  await build({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', plugins, build: { outDir, emptyOutDir: true } });
  return Date.now() - t0;
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  tmp = mkdtempSync(join(tmpdir(), 'webmoe-pwa-'));
  v1 = join(tmp, 'v1');
  v2 = join(tmp, 'v2');
  const buildMs = [await buildSite(v1), await buildSite(v2, [markV2])];
  console.log('e2e pwa: site builds (ms):', JSON.stringify(buildMs));
  server = await startStaticServer(v1);
  ref = await E2EReference.load(bytes);
});

test.afterAll(async () => {
  await persistent?.close();
  ref?.dispose();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
});

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => window.webmoe?.state === 'ready', null, { timeout: 90_000 });
}

/** Greedy, repeat penalty off, then one generation through the page's form. */
async function generate(page: Page, prompt: string): Promise<GenerationResult> {
  if (!(await page.locator('details').evaluate((d) => (d as HTMLDetailsElement).open))) await page.click('summary');
  await page.fill('#temperature', '0');
  await page.fill('#repeat-penalty', '1');
  await page.fill('#max-tokens', String(MAX_TOKENS));
  const before = await page.evaluate(() => window.webmoe.generations);
  await page.fill('#prompt', prompt);
  await page.click('#generate');
  await page.waitForFunction((n) => window.webmoe.generations > n, before, { timeout: 60_000 });
  const last = await page.evaluate(() => window.webmoe.last);
  if (!last) throw new Error(`no result; the page says: ${await page.locator('#error').textContent()}`);
  return last;
}

/** Width and height from a PNG's IHDR. */
function pngSize(b: Buffer): [number, number] {
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

interface ManifestIcon { src: string; sizes: string; type?: string; purpose?: string }

/** The install checks: manifest fields, icons, a service worker in control, Chromium's verdict. */
async function checkInstallable(page: Page): Promise<void> {
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  const manifestUrl = new URL(href!, page.url());
  const res = await page.request.get(manifestUrl.href);
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toContain('application/manifest+json');
  const m: { name?: string; short_name?: string; start_url?: string; scope?: string; display?: string; theme_color?: string; background_color?: string; icons?: ManifestIcon[] } = await res.json();
  expect(m.name).toBe('WebMoE');
  expect(m.short_name).toBeTruthy();
  expect(['standalone', 'fullscreen', 'minimal-ui']).toContain(m.display);
  expect(m.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  expect(m.background_color).toMatch(/^#[0-9a-f]{6}$/i);
  const start = new URL(m.start_url!, manifestUrl);
  expect(start.href).toBe(`${server.origin}/`);
  expect(start.href.startsWith(new URL(m.scope ?? './', manifestUrl).href)).toBe(true);
  const icons = m.icons ?? [];
  for (const [size, purpose] of [[192, 'any'], [512, 'any'], [512, 'maskable']] as const) {
    const icon = icons.find((i) => i.sizes === `${size}x${size}` && (i.purpose ?? 'any').split(' ').includes(purpose) && i.type === 'image/png');
    expect(icon, `a ${size}x${size} PNG icon for "${purpose}"`).toBeDefined();
    const r = await page.request.get(new URL(icon!.src, manifestUrl).href);
    expect(r.status()).toBe(200);
    expect(r.headers()['content-type']).toBe('image/png');
    expect(pngSize(await r.body())).toEqual([size, size]);
  }
  // A service worker controls the page, with a fetch handler (it answers the shell from its cache).
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
  const sw = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return { controller: navigator.serviceWorker.controller?.scriptURL, active: reg.active?.state, scope: reg.scope };
  });
  expect(sw).toEqual({ controller: `${server.origin}/sw.js`, active: 'activated', scope: `${server.origin}/` });
  // Chromium's own checks, the ones behind its install prompt (the context has a profile on disk:
  // Chromium never offers to install from an off-the-record one).
  const cdp = await page.context().newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  expect(installabilityErrors).toEqual([]);
  const parsed = await cdp.send('Page.getAppManifest');
  expect(parsed.errors).toEqual([]);
  await cdp.detach();
}

test('the built site installs, works offline after one visit, and updates its shell keeping the stored model', async ({ playwright, launchOptions }) => {
  test.setTimeout(300_000);
  const context = await playwright.chromium.launchPersistentContext(join(tmp, 'profile'), { ...launchOptions, baseURL: server.origin });
  persistent = context;
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const want = ref.greedy(PROMPT, MAX_TOKENS);
  const times: Record<string, number> = {};
  const since = (t0: number) => Date.now() - t0;
  const modelBytes = (from: number) => server.log.slice(from).filter((l) => l.path.endsWith('.gguf')).reduce((n, l) => n + l.bytes, 0);

  // First visit, online: the model is downloaded into IndexedDB, the shell precached.
  let t0 = Date.now();
  await page.goto('/');
  await ready(page);
  times.firstVisitMs = since(t0);
  expect(modelBytes(0)).toBeGreaterThanOrEqual(bytes.length);
  await checkInstallable(page);
  const online = await generate(page, PROMPT);
  expect(online.ids).toEqual(want);
  // What the service worker holds: the shell, not the model.
  const precached = await page.evaluate(async () => {
    const names = (await caches.keys()).filter((n) => n.startsWith('webmoe-shell-'));
    const cache = await caches.open(names[0]!);
    return { names, files: (await cache.keys()).map((r) => new URL(r.url).pathname.slice(1)) };
  });
  expect(precached.names).toHaveLength(1);
  expect(precached.files).toEqual(expect.arrayContaining(['index.html', 'models/models.json', 'manifest.webmanifest', 'icons/icon-512.png']));
  expect(precached.files.filter((f) => f.endsWith('.wasm'))).toHaveLength(4); // tokenizer, sampler, the WASM backend's cpu and cpu-mt
  expect(precached.files.some((f) => /engine\.worker.*\.js$/.test(f))).toBe(true);
  expect(precached.files.filter((f) => f.endsWith('.gguf'))).toEqual([]); // models live in IndexedDB

  // Offline: the network is gone (the page's, and the server's too: setOffline does not cover the
  // browser's service worker update check), yet the app opens, loads the model and generates.
  await context.setOffline(true);
  server.down = true;
  let from = server.log.length;
  t0 = Date.now();
  await page.reload();
  await ready(page);
  times.offlineReloadMs = since(t0);
  await expect(page.locator('#progress-text')).toHaveText(/^Loaded from this browser's storage/);
  await expect(page.locator('#error')).toBeHidden();
  const offline = await generate(page, PROMPT);
  expect(offline.ids).toEqual(online.ids);
  expect(await page.locator('#output').textContent()).toBe(ref.decode(online.ids));
  // Only the browser's own update check of sw.js tried the network (and got no answer).
  expect(server.log.slice(from).filter((l) => l.path !== '/sw.js')).toEqual([]);
  server.down = false;
  await context.setOffline(false);

  // A new deployment: the next visit runs the cached v1 shell and finds the new sw.js; once it is
  // installed the page says so; Reload switches to the v2 shell. The model stays stored.
  server.root = v2;
  from = server.log.length;
  t0 = Date.now();
  await page.reload();
  await expect(page.locator('#update')).toBeVisible({ timeout: 60_000 });
  times.updateNoticeMs = since(t0);
  await expect(page.locator('#update')).toContainText('A new version of WebMoE is ready');
  await expect(page.locator('meta[name="webmoe-e2e-build"]')).toHaveCount(0); // still v1 meanwhile
  await ready(page);
  t0 = Date.now();
  await page.click('#update-reload');
  await expect(page.locator('meta[name="webmoe-e2e-build"]')).toHaveAttribute('content', 'v2', { timeout: 30_000 });
  await ready(page);
  times.updatedReloadMs = since(t0);
  await expect(page.locator('#update')).toBeHidden();
  await expect(page.locator('#progress-text')).toHaveText(/^Loaded from this browser's storage/);
  await expect(page.locator('#stored li')).toContainText('complete');
  const updated = await generate(page, PROMPT);
  expect(updated.ids).toEqual(online.ids);
  expect(modelBytes(from)).toBe(0);
  const shells = await page.evaluate(async () => (await caches.keys()).filter((c) => c.startsWith('webmoe-shell-')));
  expect(shells).toHaveLength(1); // v1's cache deleted
  expect(shells).not.toEqual(precached.names);
  expect(server.log.slice(from).some((l) => l.path === '/sw.js')).toBe(true);

  console.log('e2e pwa:', JSON.stringify(times));
  test.info().annotations.push({ type: 'pwa', description: JSON.stringify(times) });
  expect(errors).toEqual([]);
});

test('a missing model file is a 404 from the dev server, and the demo says so', async ({ page }) => {
  // Vite's dev server (appType 'mpa' in vite.config.ts) used to answer index.html with a 200.
  const res = await page.request.get('/models/no-such-model.gguf');
  expect(res.status()).toBe(404);
  await page.goto('/?model=/models/no-such-model.gguf');
  await expect(page.locator('#error')).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('#error')).toContainText('404');
});
