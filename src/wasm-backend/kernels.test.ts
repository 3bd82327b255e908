// cpu.wasm's matrix product against the CPU reference's matvec ('ggml' numerics: the activation
// converted to the weight type's vec_dot_type as llama.cpp's CPU build converts it, then exact
// dot products of the dequantized values, or, for Q2_K, IQ4_NL and MXFP4, llama.cpp's own order:
// src/reference/ggml-dot.ts), every weight type, odd shapes, random data. Both of llama.cpp's
// paths: 37 rows (vec_dot; an odd number of 32-blocks) and 40 (repacked, gemv).
import { describe, expect, it } from 'vitest';
import { quantize } from '../gguf/quant.ts';
import { GGMLType, TYPE_TRAITS, typeName } from '../gguf/types.ts';
import { makeWeight, matvec } from '../reference/matmul.ts';
import { numerics } from '../reference/numerics.ts';
import { seededRandom } from '../util/random.ts';
import { CpuKernels, WASM_TYPES, WasmBackendError } from './kernels.ts';

const num = numerics('ggml');
/** The types whose products cpu.wasm forms in llama.cpp's order, as the reference does. */
const GGML_ORDER = [GGMLType.Q2_K, GGMLType.IQ4_NL, GGMLType.MXFP4];

describe('cpu.wasm matmul vs the reference matvec', () => {
  it.each(WASM_TYPES.flatMap((type) => [37, 40].map((rows) => ({ type, rows, name: typeName(type) }))))('$name, $rows rows', async ({ type, rows }) => {
    const K = await CpuKernels.create();
    const rand = seededRandom(type + rows).uniform;
    const cols = TYPE_TRAITS[type]!.blockSize === 32 ? 544 : 512, n = 3;
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
        // llama.cpp's order on both sides: the same f32 bit for bit
        if (GGML_ORDER.includes(type)) expect(y[j * rows + r], `input ${j} row ${r}`).toBe(want[r]);
        // f32 sums in another order: a few ulps of the terms' magnitude
        else expect(Math.abs(y[j * rows + r] - want[r]), `input ${j} row ${r}`).toBeLessThan(1e-5 * (1 + Math.abs(want[r])));
      }
    }
  });

  it('refuses a type without kernels and rows that are not whole blocks', async () => {
    const K = await CpuKernels.create();
    expect(() => K.rowBytes(GGMLType.IQ2_XXS, 256, 'blk.0.ffn_up.weight')).toThrow(WasmBackendError);
    expect(() => K.rowBytes(GGMLType.Q4_K, 96, 'blk.0.ffn_up.weight')).toThrow(/not whole Q4_K blocks/);
  });
});
