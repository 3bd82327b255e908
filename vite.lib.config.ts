import { fileURLToPath } from 'node:url';
import { defineConfig, type UserConfig } from 'vite';
import { packageUrls } from './tools/build/package.ts';

// The package's build, into dist/ beside the site (vite.config.ts), in three passes because each
// output is its own bundle; `npm run build:lib` (tools/build/lib.ts) runs them in this order:
//
//   --mode worker      dist/lib/engine.worker.js (the engine worker, everything it imports
//                      inlined) and dist/lib/{tokenizer,sampler,cpu}.wasm
//   --mode lib         dist/lib/index.js (`webmoe`: the WebMoE API) and dist/lib/chat.js
//                      (`webmoe/chat`: defines <webmoe-chat>), ES modules that share their code;
//                      dist/lib/models/<default model>.gguf
//   --mode standalone  dist/webmoe-chat.js: <webmoe-chat> in one file for a plain
//                      <script type="module">, using lib/ beside it
//
// Every file refers to the next by `new URL("./file", import.meta.url)` (tools/build/package.ts),
// so an app's bundler picks them up and a plain page finds them. Nothing is external: the package
// has no runtime dependencies. The `.d.ts` files come from tsc (tsconfig.lib.json).
const root = fileURLToPath(new URL('.', import.meta.url));

const ENTRIES: Record<string, { input: Record<string, string>; fileName: string; minify: boolean }> = {
  // Not minified: an app's bundler minifies, and minifying would drop the comments that keep
  // bundlers off the sources' Node-only imports (tools/build/package.ts).
  worker: { input: { 'engine.worker': 'workers/engine.worker.ts' }, fileName: 'lib/[name].js', minify: false },
  lib: { input: { index: 'src/client/index.ts', chat: 'src/chat/index.ts' }, fileName: 'lib/[name].js', minify: false },
  // For pages as they are: minified.
  standalone: { input: { 'webmoe-chat': 'src/chat/index.ts' }, fileName: '[name].js', minify: true },
};

export default defineConfig(({ mode }): UserConfig => {
  const entry = ENTRIES[mode];
  if (!entry) throw new Error(`vite.lib.config.ts: --mode ${mode}? One of: ${Object.keys(ENTRIES).join(', ')}`);
  return {
    root,
    publicDir: false,
    plugins: [packageUrls(root)],
    build: {
      outDir: 'dist',
      emptyOutDir: false,
      target: 'es2022',
      minify: entry.minify,
      modulePreload: false,
      rollupOptions: {
        input: entry.input,
        preserveEntrySignatures: 'strict',
        output: {
          format: 'es',
          entryFileNames: entry.fileName,
          chunkFileNames: 'lib/chunks/[name]-[hash].js',
          // The worker and the standalone script are one file each, to be copied as they are.
          ...(Object.keys(entry.input).length === 1 && { codeSplitting: false }),
        },
      },
    },
  };
});
