import { defineConfig } from 'vite';

// Dev server for the demo (scripts/demo.sh) and for the e2e pages (playwright.config.ts).
// Loopback only: nothing here is meant to be reachable from other machines.
export const DEMO_PORT = 5173;

export default defineConfig({
  server: {
    host: '127.0.0.1',
    port: DEMO_PORT,
    strictPort: true,
    watch: {
      // Model files and tool outputs can be hundreds of MB; watching them helps nobody.
      ignored: ['**/public/models/**', '**/.cache/**', '**/test-results/**', '**/playwright-report/**'],
    },
  },
  preview: { host: '127.0.0.1', strictPort: true },
  // Top-level await and module workers (the engine worker is an ES module).
  build: { target: 'es2022' },
  worker: { format: 'es' },
});
