// cpu.wasm's matrix product against the CPU reference's matvec ('ggml' numerics: the activation
// converted to the weight type's vec_dot_type as llama.cpp's CPU build converts it, then exact
// dot products of the dequantized values), every weight type, odd shapes, random data.
import { describe, expect, it } from 'vitest';
import { quantize } from '../gguf/quant.ts';
import { GGMLType, typeName } from '../gguf/types.ts';
import { makeWeight, matvec } from '../reference/matmul.ts';
import { numerics } from '../reference/numerics.ts';
import { seededRandom } from '../util/random.ts';
import { CpuKernels, WASM_TYPES, WasmBackendError } from './kernels.ts';

const num = numerics('ggml');

describe('cpu.wasm matmul vs the reference matvec', () => {
  it.each(WASM_TYPES.map((type) => ({ type, name: typeName(type) })))('$name', async ({ type }) => {
    const K = await CpuKernels.create();
    const rand = seededRandom(type + 1).uniform;
    const cols = 512, rows = 37, n = 3;
    // weights of ~0.1 and activations spanning several magnitudes (small ones too: f16 subnormals)
    const wf = Float32Array.from({ length: rows * cols }, () => (rand() - 0.5) * 0.2);
    const x = Float32Array.from({ length: n * cols }, (_, i) => (rand() - 0.5) * 10 ** (-(i % 7)));
    const bytes = quantize(type, wf);
    const w = makeWeight('w', type, [cols, rows], bytes);
    const pw = K.put(bytes, 'w'), px = K.alloc(n * cols * 4, 'x'), py = K.alloc(n * rows * 4, 'y');
    const scratch = K.alloc(K.scratchBytes(type, cols, n), 'scratch');
    K.f32(px, n * cols).set(x);
    K.matmul(type, pw, rows, cols, px, n, py, scratch);
    const y = K.f32(py, n * rows);
    for (let j = 0; j < n; j++) {
      const want = matvec(num, w, x.subarray(j * cols, (j + 1) * cols));
      for (let r = 0; r < rows; r++) {
        // f32 sums in another order: a few ulps of the terms' magnitude
        expect(Math.abs(y[j * rows + r] - want[r]), `input ${j} row ${r}`).toBeLessThan(1e-5 * (1 + Math.abs(want[r])));
      }
    }
  });

  it('refuses a type without kernels and rows that are not whole blocks', async () => {
    const K = await CpuKernels.create();
    expect(() => K.rowBytes(GGMLType.IQ2_XXS, 256, 'blk.0.ffn_up.weight')).toThrow(WasmBackendError);
    expect(() => K.rowBytes(GGMLType.Q4_K, 96, 'blk.0.ffn_up.weight')).toThrow(/not whole Q4_K blocks/);
  });
});
