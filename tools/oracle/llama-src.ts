// The llama.cpp source that node-llama-cpp's prebuilt binary was built from ships inside the
// package as a git bundle. Its gguf-py (Python + numpy) is an oracle nobody here wrote: it reads
// GGUF files and (de)quantizes every GGML type. Debian's /usr/bin/python3 has numpy.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
export const PYTHON = '/usr/bin/python3';

/** Path of a llama.cpp checkout matching node-llama-cpp's binary, cloned on first use. */
export function llamaCppSource(): string {
  const dir = join(ROOT, '.cache/llama.cpp');
  if (existsSync(join(dir, 'gguf-py/gguf/quants.py'))) return dir;
  const bundle = join(ROOT, 'node_modules/node-llama-cpp/llama/gitRelease.bundle');
  mkdirSync(dirname(dir), { recursive: true });
  execFileSync('git', ['clone', '-q', bundle, dir], { stdio: 'ignore' });
  return dir;
}

/** Runs a Python snippet with gguf-py importable; `input` goes to stdin, stdout comes back. */
export function ggufPy(script: string, input?: Uint8Array): Buffer {
  const src = llamaCppSource();
  return execFileSync(PYTHON, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(join(src, 'gguf-py'))})\n${script}`], {
    input, maxBuffer: 1 << 30,
  });
}
