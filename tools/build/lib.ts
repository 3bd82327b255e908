// `npm run build:lib` (also the second half of `npm run build`, and `prepack`): the package's files
// in dist/ beside the site. Clears what an earlier run left (dist/lib/, dist/webmoe-chat.js), runs
// the three passes of vite.lib.config.ts in order (the worker first: the others refer to it), then
// tsc for the `.d.ts` files (tsconfig.lib.json).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = new URL('../../dist/', import.meta.url);

rmSync(new URL('lib/', dist), { recursive: true, force: true });
rmSync(new URL('webmoe-chat.js', dist), { force: true });
for (const wasm of ['tokenizer', 'sampler', 'cpu', 'cpu-mt']) {
  if (!existsSync(new URL(`../../wasm/build/${wasm}.wasm`, import.meta.url))) {
    console.error(`build:lib: wasm/build/${wasm}.wasm is missing: run \`npm run build:wasm\` (or scripts/setup.sh) first`);
    process.exit(1);
  }
}
for (const mode of ['worker', 'lib', 'standalone']) {
  await build({ root, configFile: `${root}vite.lib.config.ts`, mode });
}
const tscBin = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const tsc = spawnSync(process.execPath, [tscBin, '-p', 'tsconfig.lib.json'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// tsc keeps the sources' `./x.ts` specifiers in the declarations; the files they name are `x.d.ts`,
// which every moduleResolution finds as `./x.js`.
const types = new URL('lib/types/', dist);
for (const f of readdirSync(types, { recursive: true, encoding: 'utf8' })) {
  if (!f.endsWith('.d.ts')) continue;
  const file = new URL(f, types);
  const text = readFileSync(file, 'utf8');
  const out = text.replace(/((?:from|import\()\s*['"]\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1.js$2');
  if (out !== text) writeFileSync(file, out);
}
console.log('build:lib: dist/lib/ (webmoe, webmoe/chat, worker, wasm, default model, types) and dist/webmoe-chat.js');
