// ggml's SiLU in the gated products (glu_act.wgsl, 'ggml' numerics): v / (1 + ggml_v_expf(-v)) as
// llama.cpp's AVX-512 build takes it on full vectors, against the CPU reference's (ops.ts swiglu,
// numerics.ts vExpf, which follow ggml-cpu/vec.h) bit for bit: the function itself over a wide
// range of inputs, and Q2_K gated products in ggml's order (decode of 2 of 3 experts, a 6-token
// prefill; Q8_0's decode, in vec_dot's lanes) whose products the reference takes as llama.cpp does
// (ggml-dot.ts), so the whole gated output must match. WGSL's exp is not ggml's (on SwiftShader
// 13% of exps differed by an ulp or two, which turned a Q8 rounding of ernie4_5-moe Q2_K at step 3
// of the engine test). The kernels take ggml's SiLU where their products are ggml's (matvec.ts gluOverrides).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantize } from '../../gguf/quant.ts';
import { GGMLType, typeName } from '../../gguf/types.ts';
import { actKind } from '../layout.ts';
import { Op, runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { SHADERS } from '../shaders.ts';
import { readF32, rng, testSession, upload, zeros } from '../testing.ts';
import { uploadWeight } from '../weights.ts';
import { makeWeight, matvec as refMatvec } from '../../reference/matmul.ts';
import { numerics } from '../../reference/numerics.ts';
import { swiglu } from '../../reference/ops.ts';
import { MatmulOp } from './matmul.ts';
import { matvecOps } from './matvec.ts';
import { createAct, quantOp } from './quant.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

const num = numerics('ggml');
const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let differ = 0;
  for (let i = 0; i < b.length; i++) if (!Object.is(a[i], b[i]) && !(a[i] === 0 && b[i] === 0)) differ++;
  return differ;
};

describe('ggml\'s SiLU on the GPU', () => {
  it('silu(v) of 2^18 values in [-1e6, 1e6] (most within ±12) equals the reference\'s', async () => {
    const n = 1 << 18;
    const r = rng(5);
    const x = Float32Array.from(r.vec(n, 1), (v, i) => (i % 8 === 0 ? v * 100 : i % 8 === 1 ? v * 3000 : i % 8 === 2 ? v * 1e6 : v * 12));
    const test = { name: 'silu-test.wgsl', text: `
@group(0) @binding(0) var<storage, read> act: array<A32>;
@group(0) @binding(1) var<storage, read_write> buf: array<f32>;
struct Params { k: u32, row0: u32, row_end: u32 } // k: 1, for rt_zero (as matvec_common.wgsl)
@group(0) @binding(2) var<uniform> params: Params;
fn rt_zero() -> u32 { return select(0u, 1u, params.k == 0u); }
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < ${n}u) { buf[${n}u + id.x] = silu(buf[id.x]); }
}` };
    const kernel = await session.pipelines.get({ sources: [SHADERS.half, SHADERS.quantCommon, SHADERS.dot32, SHADERS.gluAct, test], entry: 'main', overrides: { GGML_SILU: 1 } });
    const all = new Float32Array(2 * n);
    all.set(x);
    const buf = upload(session, all, 'silu');
    runOps(session, [new Op(session, kernel, { act: zeros(session, 144), buf }, { k: 1, row0: 0, row_end: 0 }, [n / 64])]);
    const got = await readF32(session, buf, n, n);
    // swiglu with up = 1: silu of each element, every one in a full 16-lane vector
    const want = swiglu(num, x, new Float32Array(n).fill(1));
    expect(same(got, want)).toBe(0);
  });

  const k = 512, width = 16; // gate and up halves of 16 rows each: ggml's order (rows a multiple of 8)
  // Q8_0: vec_dot's lanes (any rows)
  it.each([GGMLType.Q2_K, GGMLType.Q8_0].map((type) => ({ type, name: typeName(type) })))('$name matvec_glu_silu of 2 of 3 experts equals the reference\'s SwiGLU of its products', async ({ type }) => {
    const count = 3, slots = 2;
    const r = rng(41);
    const bytes = quantize(type, r.vec(count * 2 * width * k, 1 / Math.sqrt(k)));
    const weight = uploadWeight(session.device, session.buffers, `w_${typeName(type)}_glu`, type, k, 2 * width, count, bytes, session.limits.maxStorageBufferBindingSize);
    const x = Float32Array.from(r.vec(k), (v) => 3 * v); // gates of a few units, both signs
    const act = createAct(session, actKind(type, 'ggml'), k, 1, 'act');
    const ids = Uint32Array.from([2, 0]);
    const yb = upload(session, new Float32Array(slots * width), 'y');
    runOps(session, [
      await quantOp(session, { x: upload(session, x, 'x'), rows: 1, out: act }),
      ...(await matvecOps(session, { weight, act, y: yb, mode: 'glu_silu', slots, ids: upload(session, ids, 'ids') })),
    ]);
    const got = await readF32(session, yb, slots * width);
    const ref = makeWeight('w', type, [k, 2 * width, count], bytes);
    const want = new Float32Array(slots * width);
    for (let s = 0; s < slots; s++) {
      const y = refMatvec(num, ref, x, ids[s]);
      want.set(swiglu(num, y.subarray(0, width), y.subarray(width)), s * width);
    }
    expect(same(got, want)).toBe(0);
  });

  it('Q2_K matmul_glu_silu of 6 tokens (a 4-token gemm, 2 by gemv) equals the reference\'s', async () => {
    const tokens = 6, type = GGMLType.Q2_K;
    const r = rng(43);
    const bytes = quantize(type, r.vec(2 * width * k, 1 / Math.sqrt(k)));
    const weight = uploadWeight(session.device, session.buffers, 'w_q2k_glu_mm', type, k, 2 * width, 1, bytes, session.limits.maxStorageBufferBindingSize);
    const x = Float32Array.from(r.vec(tokens * k), (v) => 3 * v);
    const act = createAct(session, actKind(type, 'ggml'), k, tokens, 'act');
    const yb = upload(session, new Float32Array(tokens * width), 'y');
    const op = await MatmulOp.create(session, { weight, act, y: yb, mode: 'glu_silu' });
    runOps(session, [await quantOp(session, { x: upload(session, x, 'x'), rows: tokens, out: act }), ...op.set(tokens)]);
    const got = await readF32(session, yb, tokens * width);
    const ref = makeWeight('w', type, [k, 2 * width], bytes);
    const want = new Float32Array(tokens * width);
    for (let t = 0; t < tokens; t++) {
      const y = refMatvec({ ...num, gemm: t < 4 }, ref, x.subarray(t * k, (t + 1) * k));
      want.set(swiglu(num, y.subarray(0, width), y.subarray(width)), t * width);
    }
    expect(same(got, want)).toBe(0);
  });
});
