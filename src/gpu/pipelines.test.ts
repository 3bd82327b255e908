// PipelineCache.concurrently: kernels handed out before their pipelines are compiled, all ready
// (and runnable) when it returns; a compile error still surfaces as a KernelCompileError.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelCompileError } from './kernel.ts';
import { Op, runOps } from './op.ts';
import type { GPUSession } from './session.ts';
import { readU32, testSession, zeros } from './testing.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

const fill = (name: string) => ({
  name,
  text: `struct Params { v: u32, n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < params.n) { out[g.x] = params.v + g.x; }
}`,
});

describe('PipelineCache.concurrently', () => {
  it('builds every pipeline asked for inside it before returning, and they run', async () => {
    const out = [zeros(session, 4 * 100), zeros(session, 4 * 100)];
    const ops = await session.pipelines.concurrently(async () => Promise.all(['a.wgsl', 'b.wgsl'].map(async (f, i) => {
      const kernel = await session.pipelines.get({ sources: [fill(f)], entry: 'main' });
      return new Op(session, kernel, { out: out[i] }, { v: 1000 * (i + 1), n: 100 }, [2], f);
    })));
    for (const o of ops) expect(o.kernel.pipeline).toBeDefined();
    runOps(session, ops);
    expect(Array.from(await readU32(session, out[1], 100))).toEqual(Array.from({ length: 100 }, (_, i) => 2000 + i));
  });

  it('rejects with a KernelCompileError naming the kernel when a pipeline fails', async () => {
    const broken = { name: 'broken.wgsl', text: 'struct Params { n: u32 }\n@compute @workgroup_size(1) fn main() { let x: u32 = undefined_fn(); }' };
    const s = (await testSession());
    try {
      await expect(s.pipelines.concurrently(() => s.pipelines.get({ sources: [broken], entry: 'main' }))).rejects.toThrow(KernelCompileError);
    } finally {
      s.destroy();
    }
  });
});
