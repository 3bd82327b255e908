#!/usr/bin/env node
// Builds wasm/build/tokenizer.wasm, sampler.wasm and cpu.wasm (the WASM backend's kernels) with
// emscripten (standalone WebAssembly, no JS glue) and the Unicode tables they need.
// `npm run build:wasm` runs this; so does scripts/setup.sh. It rebuilds only what is older than
// its inputs, so an up-to-date tree costs a few stat calls. The outputs are not committed: every
// checkout builds them.
//
//   node wasm/build.mjs [--force]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const out = join(here, 'build');
const gen = join(out, 'gen');
const force = process.argv.includes('--force');
const UCD = '/usr/share/unicode';

// Standalone module that grows its memory on demand (malloc returns NULL past 4 GiB instead of
// aborting) and exports only what the C code marks with WM_EXPORT.
const FLAGS = [
  '-O3', '-msimd128', '-flto', '--no-entry', '-sSTANDALONE_WASM',
  '-sALLOW_MEMORY_GROWTH=1', '-sMAXIMUM_MEMORY=4GB', '-sINITIAL_MEMORY=16MB', '-sTOTAL_STACK=1MB',
  '-fno-exceptions', '-Wall', '-Wextra', '-Wno-unused-parameter', `-I${gen}`, `-I${src}`,
];

const TARGETS = [
  { name: 'tokenizer.wasm', sources: ['unicode.c', 'vocab.c', 'merge.c', 'pretok.c', 'bpe.c', 'spm.c', 'partition.c', 'detok.c', 'tok_api.c'], needsTables: true },
  { name: 'sampler.wasm', sources: ['vecmath.c', 'sampler.c', 'stop.c', 'smp_api.c'], needsTables: false },
  { name: 'cpu.wasm', sources: ['cpu/quant.c', 'cpu/ops.c', 'cpu/cpu_api.c'], needsTables: false },
];

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : -1);
const headers = ['', 'cpu'].flatMap((d) => readdirSync(join(src, d)).filter((f) => f.endsWith('.h')).map((f) => join(src, d, f)));

function run(cmd, args) {
  const r = spawnSync(cmd, args, {
    stdio: 'inherit',
    // emcc's JS optimizer needs Debian's node modules (node-acorn), which this node does not search.
    env: { ...process.env, NODE_PATH: [process.env.NODE_PATH, '/usr/share/nodejs'].filter(Boolean).join(':') },
  });
  if (r.error) {
    console.error(`build:wasm: cannot run ${cmd}: ${r.error.message}. Install emscripten and node-acorn (bash scripts/setup.sh).`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

mkdirSync(gen, { recursive: true });
const tables = join(gen, 'unicode_tables.h');
const genScript = join(here, 'gen-unicode.mjs');
if (force || mtime(tables) < Math.max(mtime(genScript), mtime(join(UCD, 'UnicodeData.txt')), mtime(join(UCD, 'PropList.txt')))) {
  run(process.execPath, [genScript, UCD, tables]);
}

for (const t of TARGETS) {
  const target = join(out, t.name);
  const inputs = [...t.sources.map((s) => join(src, s)), ...headers, fileURLToPath(import.meta.url), ...(t.needsTables ? [tables] : [])];
  if (!force && mtime(target) >= Math.max(...inputs.map(mtime))) continue;
  const missing = t.sources.filter((s) => !existsSync(join(src, s)));
  if (missing.length) {
    console.error(`build:wasm: missing sources for ${t.name}: ${missing.join(', ')}`);
    process.exit(1);
  }
  run('emcc', [...FLAGS, ...t.sources.map((s) => join(src, s)), '-o', target]);
  console.log(`build:wasm: ${t.name} (${statSync(target).size} bytes)`);
}
