// What the service worker (sw.ts) does with a request: answer it from the precached app shell, or
// leave it to the network untouched. Model weights never go through the precache: GGUF files and
// every Range request (how the engine worker downloads models) reach the network as the page sent
// them, and IndexedDB holds what they return. A pure function, so Node tests it (routing.test.ts).

export type Route =
  /** The precached copy of this URL. */
  | 'precache'
  /** A navigation to the app: the precached index.html, whatever the query (`?model=URL`). */
  | 'shell'
  /** Not the service worker's business: no respondWith, the browser fetches as without it. */
  | 'network';

/** What routing needs of a Request (a real one, or a plain object in tests). */
export interface RouteRequest {
  method: string;
  url: string;
  mode: string;
  headers: { has(name: string): boolean };
}

/** Model files: downloaded by range into IndexedDB, never cached here. */
const MODEL_FILE = /\.gguf$/i;

/** `scope` is the service worker's scope URL (ends with '/'); `precached` holds absolute URLs
 *  without query or fragment. */
export function route(req: RouteRequest, scope: string, precached: ReadonlySet<string>): Route {
  if (req.method !== 'GET' || req.headers.has('range')) return 'network';
  const url = new URL(req.url);
  const base = new URL(scope);
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return 'network';
  if (MODEL_FILE.test(url.pathname)) return 'network';
  if (req.mode === 'navigate' && (url.pathname === base.pathname || url.pathname === `${base.pathname}index.html`)) return 'shell';
  // A precached file asked for with a query string is another URL: the network answers it.
  return url.search === '' && precached.has(`${url.origin}${url.pathname}`) ? 'precache' : 'network';
}

/** The Cache Storage name of one shell version; older `webmoe-shell-*` caches are deleted when a
 *  new version activates. */
export const CACHE_PREFIX = 'webmoe-shell-';

/** What the build (tools/build/pwa.ts) writes into sw.js: the shell's files, relative to sw.js,
 *  and a version that changes whenever one of them does (so a new deployment is a new sw.js). */
export interface PrecacheManifest {
  version: string;
  files: string[];
}

/** Messages from the page (register.ts) to the service worker. */
export type PageToWorker = { type: 'skip-waiting' };
