// The kernel-shape rule: auto follows the adapter (software on CPU-backed and fallback adapters,
// hardware otherwise), a forced choice is kept, anything else is a named error.
import { describe, expect, it } from 'vitest';
import { describeAdapter, isSoftwareAdapter } from './device.ts';
import type { GPUSession } from './session.ts';
import { hardwareLanes, KernelChoiceError, resolveAttentionKernels, resolveKernels, type KernelChoice } from './variant.ts';

const on = (info: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }) => {
  const full = { vendor: '', architecture: '', device: '', description: '', ...info } as GPUAdapterInfo;
  return { software: isSoftwareAdapter(full), adapterName: describeAdapter(full) } as GPUSession;
};

describe('resolveKernels', () => {
  it('auto: software on SwiftShader, llvmpipe and fallback adapters, hardware on GPUs', () => {
    expect(resolveKernels(on({ vendor: 'google', architecture: 'swiftshader' }))).toBe('software');
    expect(resolveKernels(on({ vendor: 'mesa', description: 'llvmpipe (LLVM 19.1.7)' }), 'auto')).toBe('software');
    expect(resolveKernels(on({ vendor: 'intel', isFallbackAdapter: true }))).toBe('software');
    expect(resolveKernels(on({ vendor: 'nvidia', architecture: 'ampere' }))).toBe('hardware');
    expect(resolveKernels(on({ vendor: 'apple', architecture: 'metal-3' }))).toBe('hardware');
  });

  it('keeps a forced choice and refuses other values', () => {
    expect(resolveKernels(on({ architecture: 'swiftshader' }), 'hardware')).toBe('hardware');
    expect(resolveKernels(on({ vendor: 'amd' }), 'software')).toBe('software');
    expect(() => resolveKernels(on({}), 'gpu' as KernelChoice)).toThrow(KernelChoiceError);
  });

  it('decode attention: auto takes the hardware shape on llvmpipe and GPUs, the software one on SwiftShader and fallbacks', () => {
    expect(resolveAttentionKernels(on({ vendor: 'mesa', description: 'llvmpipe (LLVM 19.1.7, 256 bits)' }))).toBe('hardware');
    expect(resolveAttentionKernels(on({ vendor: 'nvidia', architecture: 'ampere' }))).toBe('hardware');
    expect(resolveAttentionKernels(on({ vendor: 'google', architecture: 'swiftshader' }))).toBe('software');
    expect(resolveAttentionKernels(on({ vendor: 'intel', isFallbackAdapter: true }))).toBe('software');
    expect(resolveAttentionKernels(on({ vendor: 'mesa', description: 'llvmpipe' }), 'software')).toBe('software');
    expect(() => resolveAttentionKernels(on({}), 'gpu' as KernelChoice)).toThrow(KernelChoiceError);
  });

  it('gives hardware kernels 64 lanes, 128 for rows of more than 64 blocks', () => {
    expect([1, 64, 65, 128, 4096].map(hardwareLanes)).toEqual([64, 64, 128, 128, 128]);
  });
});
