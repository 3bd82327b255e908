// Kernel infrastructure without a device: Params field lists parsed from WGSL, the packer's
// checks, derived pipeline keys, bindings read from declarations, buffer size classes.
import { describe, expect, it } from 'vitest';
import { sizeClass } from './buffers.ts';
import { kernelKey, parseBindings } from './kernel.ts';
import { KernelParamsError, ParamsLayout, parseStruct } from './params.ts';
import { SHADERS } from './shaders.ts';

describe('Params from WGSL', () => {
  const wgsl = `
    // a comment with struct Params { fake: u32 }
    struct Params {
      k: u32,        // columns
      eps: f32,
      /* block */ off: i32,
    }`;

  it('reads the fields in order, ignoring comments', () => {
    expect(parseStruct(wgsl)).toEqual([{ name: 'k', type: 'u32' }, { name: 'eps', type: 'f32' }, { name: 'off', type: 'i32' }]);
  });

  it('packs one word per field, little-endian, with the struct size rounded to 16', () => {
    const p = ParamsLayout.fromWGSL(wgsl);
    expect(p.byteSize).toBe(16);
    const buf = p.pack({ k: 7, eps: 0.5, off: -3 });
    const dv = new DataView(buf);
    expect([dv.getUint32(0, true), dv.getFloat32(4, true), dv.getInt32(8, true)]).toEqual([7, 0.5, -3]);
  });

  it('refuses missing, unknown and out-of-range values with a named error', () => {
    const p = ParamsLayout.fromWGSL(wgsl, 'test');
    expect(() => p.pack({ k: 1, eps: 0 })).toThrow(/missing off/);
    expect(() => p.pack({ k: 1, eps: 0, off: 0, n: 1 })).toThrow(/unknown n/);
    expect(() => p.pack({ k: -1, eps: 0, off: 0 })).toThrow(KernelParamsError);
    expect(() => p.pack({ k: 1.5, eps: 0, off: 0 })).toThrow(/not a u32/);
    expect(() => p.pack({ k: 1, eps: NaN, off: 0 })).toThrow(/finite/);
  });

  it('refuses fields that are not one word', () => {
    expect(() => parseStruct('struct Params { v: vec4<f32> }')).toThrow(/must be u32, i32 or f32/);
  });

  it('parses the Params of every shader that declares one', () => {
    for (const s of Object.values(SHADERS)) {
      if (/struct\s+Params/.test(s.text)) expect(parseStruct(s.text).length, s.name).toBeGreaterThan(0);
    }
  });
});

describe('kernel keys and bindings', () => {
  const a = { name: 'half.wgsl', text: '' }, b = { name: 'matvec.wgsl', text: '' };

  it('derives the key from files, entry and overrides in a fixed order', () => {
    const k1 = kernelKey({ sources: [a, b], entry: 'matvec', overrides: { WG: 16, A: 1 } });
    const k2 = kernelKey({ sources: [a, b], entry: 'matvec', overrides: { A: 1, WG: 16 } });
    expect(k1).toBe('half+matvec:matvec{A=1,WG=16}');
    expect(k2).toBe(k1);
    expect(kernelKey({ sources: [a, b], entry: 'matvec', overrides: { A: 1, WG: 32 } })).not.toBe(k1);
    expect(kernelKey({ sources: [b], entry: 'matvec' })).toBe('matvec:matvec');
  });

  it('reads group-0 bindings with their kinds', () => {
    expect(parseBindings(`
      @group(0) @binding(0) var<uniform> params: Params;
      @group(0) @binding(2) var<storage, read_write> y: array<f32>;
      @group(0) @binding(1) var<storage, read> w: array<u32>;
      @group(0) @binding(3) var<storage> z: array<u32>;`)).toEqual([
      { binding: 0, name: 'params', kind: 'uniform' },
      { binding: 1, name: 'w', kind: 'read-only-storage' },
      { binding: 2, name: 'y', kind: 'storage' },
      { binding: 3, name: 'z', kind: 'read-only-storage' },
    ]);
  });
});

describe('buffer size classes', () => {
  it('rounds to powers of two up to 1 MiB, then to whole MiB', () => {
    expect([1, 256, 257, 1000, 4096, 1048576].map(sizeClass)).toEqual([256, 256, 512, 1024, 4096, 1048576]);
    expect(sizeClass(1048577)).toBe(2 * 1048576);
    expect(sizeClass(5.5 * 1048576)).toBe(6 * 1048576);
  });
});
