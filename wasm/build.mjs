#!/usr/bin/env node
// Builds wasm/build/tokenizer.wasm, sampler.wasm and cpu.wasm (the WASM backend's kernels) with
// emscripten (standalone WebAssembly, no JS glue) and the Unicode tables they need, and
// cpu-mt.wasm: the same kernels for threads (see MT below).
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

// cpu-mt.wasm: the kernels on a shared memory that every thread's instance imports
// (src/wasm-backend/threads.ts). emscripten 3.1.6 refuses -pthread with STANDALONE_WASM, so emcc
// only compiles (with atomics) and wasm-ld links against emscripten's own thread-safe libc,
// malloc and compiler-rt; the few functions they import are given by threads.ts. Each instance
// has its own __stack_pointer (exported: workers set theirs to a stack of their own).
const MT = {
  name: 'cpu-mt.wasm',
  sources: ['cpu/quant.c', 'cpu/ops.c', 'cpu/cpu_api.c'],
  cflags: ['-O3', '-msimd128', '-matomics', '-mbulk-memory', '-fno-exceptions', '-Wall', '-Wextra', '-Wno-unused-parameter', `-I${src}`],
  libs: ['libc-mt.a', 'libdlmalloc-mt.a', 'libcompiler_rt-mt.a'],
  ldflags: [
    '--no-entry', '--shared-memory', '--import-memory', '--initial-memory=16777216', '--max-memory=4294967296',
    '-z', 'stack-size=1048576', '--gc-sections', '-O2', '--allow-undefined',
    '--export=__wasm_call_ctors', '--export=__stack_pointer', '--export-if-defined=__wasm_init_tls',
    '--export-if-defined=__tls_size', '--export-if-defined=_emscripten_thread_init',
  ],
};

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

// wasm-ld and emscripten's prebuilt libraries: where emcc itself finds them.
function emConfig(key) {
  const r = spawnSync('em-config', [key], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`build:wasm: em-config ${key} failed. Install emscripten (bash scripts/setup.sh).`);
    process.exit(1);
  }
  return r.stdout.trim();
}

const mtTarget = join(out, MT.name);
const mtInputs = [...MT.sources.map((s) => join(src, s)), ...headers, fileURLToPath(import.meta.url)];
if (force || mtime(mtTarget) < Math.max(...mtInputs.map(mtime))) {
  const libDir = join(emConfig('CACHE'), 'sysroot', 'lib', 'wasm32-emscripten');
  const llvm = emConfig('LLVM_ROOT');
  // Debian's lld-14 installs wasm-ld as /usr/bin/wasm-ld-14 (emcc finds it under llvm-14/bin)
  const ld = ['wasm-ld', '../lib/llvm-14/bin/wasm-ld', 'wasm-ld-14'].map((n) => join(llvm, n)).find(existsSync);
  if (!ld) {
    console.error(`build:wasm: no wasm-ld next to ${llvm}. Install lld (emscripten depends on it).`);
    process.exit(1);
  }
  const objDir = join(out, 'obj-mt');
  mkdirSync(objDir, { recursive: true });
  const objs = MT.sources.map((s) => {
    const o = join(objDir, s.replace(/[/]/g, '_').replace(/\.c$/, '.o'));
    run('emcc', ['-c', ...MT.cflags, join(src, s), '-o', o]);
    return o;
  });
  run(ld, [...MT.ldflags, ...objs, ...MT.libs.map((l) => join(libDir, l)), '-o', mtTarget]);
  console.log(`build:wasm: ${MT.name} (${statSync(mtTarget).size} bytes)`);
}
