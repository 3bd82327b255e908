// The site build's service worker (vite.config.ts): once the site's bundle is known, src/pwa/sw.ts
// is bundled into dist/sw.js, a classic script, with its precache manifest written in: the
// bundle's files (index.html, the page's scripts and styles, the engine worker, the .wasm files)
// and public/'s (the model catalog, the web app manifest, icons), model files excepted, and a
// version hashed from all their bytes, so that any change of the shell is a new sw.js and the
// browser installs it as an update.
//
// Why not vite-plugin-pwa: it needs workbox-build, which brings Babel, Rollup and Terser (a few
// hundred packages) to write a worker that, for this site, is some 70 lines of sw.ts plus this file.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { build, type Plugin, type ResolvedConfig } from 'vite';
import { CACHE_PREFIX, type PrecacheManifest } from '../../src/pwa/routing.ts';

const SW_SOURCE = 'src/pwa/sw.ts';
const SW_FILE = 'sw.js';

/** Files of public/ that are not part of the app shell: model weights (downloaded by range into
 *  IndexedDB, never precached) and notes. */
const NOT_SHELL = [/\.gguf$/i, /(^|\/)README\.md$/];

/** public/'s files as URL paths relative to its root. */
function publicFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.filter((f) => !NOT_SHELL.some((re) => re.test(f)));
}

/** The shell's files, sorted, and a version that is a hash of their names and bytes. */
export function precacheManifest(files: ReadonlyMap<string, string | Uint8Array>): PrecacheManifest {
  const names = [...files.keys()].sort();
  const h = createHash('sha256');
  for (const n of names) h.update(n).update('\0').update(files.get(n)!).update('\0');
  return { version: h.digest('hex').slice(0, 16), files: names };
}

async function bundleWorker(config: ResolvedConfig, manifest: PrecacheManifest): Promise<string> {
  const result = await build({
    configFile: false,
    root: config.root,
    logLevel: 'warn',
    publicDir: false,
    define: { __WEBMOE_PRECACHE__: JSON.stringify(manifest) },
    build: {
      write: false,
      emptyOutDir: false, // dist/ is the site being built
      copyPublicDir: false,
      target: 'es2022',
      minify: true,
      lib: { entry: join(config.root, SW_SOURCE), formats: ['iife'], name: 'webmoeServiceWorker', fileName: () => SW_FILE },
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  for (const o of outputs) {
    if (!('output' in o)) continue;
    const chunk = o.output.find((c) => c.type === 'chunk');
    if (chunk) return chunk.code;
  }
  throw new Error(`bundling ${SW_SOURCE} gave no script`);
}

/** What the dev server answers for sw.js: a worker that removes itself. A built site served
 *  earlier at the same origin (`vite preview --port 5173`, then `vite`) left a service worker that
 *  would go on serving that build's shell; its next update check gets this one, which unregisters,
 *  drops the shell caches and reloads the pages into the dev server's. */
const SELF_DESTROYING_SW = `self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil((async () => {
  await self.registration.unregister();
  for (const k of await caches.keys()) if (k.startsWith('${CACHE_PREFIX}')) await caches.delete(k);
  for (const c of await self.clients.matchAll({ type: 'window' })) c.navigate(c.url);
})()));
`;

/** Adds dist/sw.js to the site build (and a self-removing one to the dev server). */
export function serviceWorker(): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'webmoe:service-worker',
    configResolved(c) {
      config = c;
    },
    configureServer(server) {
      server.middlewares.use(`${server.config.base}${SW_FILE}`, (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-cache' });
        res.end(SELF_DESTROYING_SW);
      });
    },
    generateBundle: {
      order: 'post',
      async handler(_, bundle) {
        const files = new Map<string, string | Uint8Array>();
        for (const [name, out] of Object.entries(bundle)) {
          if (!name.endsWith('.map')) files.set(name, out.type === 'chunk' ? out.code : out.source);
        }
        if (config.publicDir) {
          for (const name of publicFiles(config.publicDir)) files.set(name, readFileSync(join(config.publicDir, name)));
        }
        const manifest = precacheManifest(files);
        this.emitFile({ type: 'asset', fileName: SW_FILE, source: await bundleWorker(config, manifest) });
        config.logger.info(`webmoe: ${SW_FILE} precaches ${manifest.files.length} files (shell version ${manifest.version})`);
      },
    },
  };
}
