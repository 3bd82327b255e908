// Decode kernels on their own (src/gpu/bench.ts): each one timed over many launches in one submit,
// with napkin math (bytes it must read, achieved GB/s, fraction of the adapter's measured
// buffer-copy bandwidth); matvec in each kernel shape (software, hardware with and without
// subgroups); the prefill matmul in each shape (software, hardware) on PREFILL_SHAPES x 64 tokens,
// in GB/s of weights and GFLOP/s. The site's bench.html runs the same measurement on a visitor's
// adapter.
// Run: node bin/run-ts.mjs tools/bench/gpu-kernels.ts [filter] (this device), or npm run bench
// (SwiftShader here and lavapipe in a child process).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { typeName, type GGMLType } from '../../src/gguf/types.ts';
import { measureKernels, PREFILL_SHAPES, type KernelBenchResult } from '../../src/gpu/bench.ts';
import { GPU_TYPES } from '../../src/gpu/layout.ts';
import { GPUSession } from '../../src/gpu/session.ts';

export type { KernelResult } from '../../src/gpu/bench.ts';

/** The kernels on this process's device (the measuring is src/gpu/bench.ts, shared with the
 *  site's bench.html); `filter` keeps the matvec types whose kernel name contains it, 'shapes'
 *  the decode shapes, 'prefill' the prefill matmuls, 'attention' the attention kernels. */
export async function measure(filter = ''): Promise<KernelBenchResult> {
  const session = await GPUSession.create();
  try {
    const types = (Object.keys(GPU_TYPES).map(Number) as GGMLType[])
      .filter((t) => !filter || `matvec_${typeName(t).toLowerCase()}`.includes(filter));
    return await measureKernels(session, {
      types,
      shapes: !filter || 'shapes'.includes(filter) ? undefined : [],
      prefill: !filter || 'prefill'.includes(filter) ? PREFILL_SHAPES : [],
      attention: !filter || 'attention'.includes(filter),
    });
  } finally {
    session.destroy();
  }
}

/** On SwiftShader (this process) and on lavapipe (a child under .cache/lavapipe/env, the device
 *  of the engine benchmark's comparison with llama.cpp). */
export default async function bench(filter = '') {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const env = join(root, '.cache/lavapipe/env');
  let lavapipe: unknown = { error: 'no .cache/lavapipe: run scripts/lavapipe.sh' };
  if (existsSync(env)) {
    try {
      const out = execFileSync(env, ['node', join(root, 'bin/run-ts.mjs'), fileURLToPath(import.meta.url), filter], { cwd: root, maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'ignore'] });
      lavapipe = JSON.parse(out.toString());
    } catch (e) {
      lavapipe = { error: String(e) };
    }
  }
  return { swiftshader: await measure(filter), lavapipe };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measure(process.argv[2] ?? '')));
}
