import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { serviceWorker } from './tools/build/pwa.ts';

// Dev server for the demo (scripts/demo.sh) and for the e2e pages (playwright.config.ts), and the
// demo site's build (dist/; the library's is vite.lib.config.ts).
// Loopback only: nothing here is meant to be reachable from other machines.
export const DEMO_PORT = 5173;

// Cross-origin isolation (README: Threads): with these the page gets SharedArrayBuffer, and the
// WASM CPU backend runs its matrix products on threads. require-corp: resources from other
// origins must come by CORS (models do: range requests with Access-Control-Allow-Origin).
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  // Pages are files (index.html, e2e/pages/*.html): a path that names no file answers 404, not
  // index.html, so a missing model file is a clear "not found" instead of 200 and a web page.
  appType: 'mpa',
  server: {
    host: '127.0.0.1',
    port: DEMO_PORT,
    strictPort: true,
    headers: ISOLATION_HEADERS,
    watch: {
      // Model files and tool outputs can be hundreds of MB; watching them helps nobody.
      ignored: ['**/public/models/**', '**/.cache/**', '**/test-results/**', '**/playwright-report/**'],
    },
  },
  preview: { host: '127.0.0.1', strictPort: true, headers: ISOLATION_HEADERS },
  // Top-level await and module workers (the engine worker is an ES module).
  // Two pages: the demo and the kernel benchmark (README: Benchmark page).
  build: { target: 'es2022', rollupOptions: { input: { main: fileURLToPath(new URL('index.html', import.meta.url)), bench: fileURLToPath(new URL('bench.html', import.meta.url)) } } },
  worker: { format: 'es' },
  // The built site is an offline app: dist/sw.js precaches its shell (README: Offline PWA).
  plugins: [serviceWorker()],
});
