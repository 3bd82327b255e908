// The demo site's service worker, built into dist/sw.js (a classic script) by tools/build/pwa.ts,
// which defines __WEBMOE_PRECACHE__: the app shell's files (index.html, the page's scripts and
// styles, the engine worker, the two .wasm files, the model catalog, the manifest and icons) and a
// version hashed from their bytes.
//
// - install: the shell's files go into the Cache Storage cache `webmoe-shell-<version>`;
// - activate: older shell caches are deleted and the open pages are claimed;
// - fetch: precached files and navigations to the app come from that cache (so the app opens
//   offline); everything else, model files and every Range request above all, goes to the network
//   untouched: models live in IndexedDB, which this worker never touches;
// - a new deployment is a new sw.js (its version changed): it installs beside the running one and
//   waits until the page asks it to take over (register.ts shows "update ready") or every tab of
//   the app has closed, so a page never runs a mix of two versions.
import { CACHE_PREFIX, route, type PageToWorker, type PrecacheManifest } from './routing.ts';

declare const __WEBMOE_PRECACHE__: PrecacheManifest;

const sw = globalThis as unknown as ServiceWorkerGlobalScope;
const { version, files } = __WEBMOE_PRECACHE__;
const CACHE = `${CACHE_PREFIX}${version}`;
const urls = files.map((f) => new URL(f, sw.location.href).href);
const precached = new Set(urls);
const SHELL = new URL('index.html', sw.location.href).href;

function isMessage(data: unknown): data is PageToWorker {
  return typeof data === 'object' && data !== null && 'type' in data && typeof data.type === 'string';
}

async function precache(): Promise<void> {
  const cache = await caches.open(CACHE);
  try {
    await Promise.all(urls.map(async (url) => {
      // 'reload': from the server, not the HTTP cache, which may hold the previous version.
      const res = await fetch(url, { cache: 'reload' });
      if (!res.ok) throw new Error(`precaching ${url}: the server answered ${res.status}`);
      // A redirected response cannot answer a navigation: store its body and headers only.
      await cache.put(url, res.redirected ? new Response(res.body, res) : res);
    }));
  } catch (e) {
    await caches.delete(CACHE); // the install failed; the running version stays
    throw e;
  }
}

async function cleanUp(): Promise<void> {
  for (const name of await caches.keys()) {
    if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
  }
  await sw.clients.claim();
}

async function fromCache(url: string, request: Request): Promise<Response> {
  const hit = await (await caches.open(CACHE)).match(url);
  // Not there (the browser evicted the cache): the network, as without a service worker.
  return hit ?? fetch(request);
}

sw.addEventListener('install', (ev) => ev.waitUntil(precache()));
sw.addEventListener('activate', (ev) => ev.waitUntil(cleanUp()));
sw.addEventListener('message', (ev) => {
  if (isMessage(ev.data) && ev.data.type === 'skip-waiting') void sw.skipWaiting();
});
sw.addEventListener('fetch', (ev) => {
  const r = route(ev.request, sw.registration.scope, precached);
  if (r === 'network') return;
  ev.respondWith(fromCache(r === 'shell' ? SHELL : ev.request.url, ev.request));
});
