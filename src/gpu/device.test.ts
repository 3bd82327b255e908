import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDevice, requestGPU, WebGPUUnavailableError, type GPUContext } from './device.ts';
import { runDoubleKernel, smokeInput } from './smoke.ts';

describe('WebGPU in Node (Dawn)', () => {
  let ctx: GPUContext;

  beforeAll(async () => {
    ctx = await requestDevice({ requiredLimits: { maxStorageBufferBindingSize: 'max' } });
  });

  afterAll(() => {
    // A live Dawn device keeps native handles; destroy it so the worker can exit cleanly.
    ctx?.device.destroy();
  });

  it('returns the same GPU object on every call', async () => {
    expect(await requestGPU()).toBe(await requestGPU());
  });

  it('gets an adapter with a name and the limits it was asked for', () => {
    expect(ctx.info.vendor.length + ctx.info.architecture.length).toBeGreaterThan(0);
    expect(ctx.device.limits.maxStorageBufferBindingSize).toBe(
      ctx.adapter.limits.maxStorageBufferBindingSize,
    );
  });

  it('doubles an array in a compute shader', async () => {
    // 1000 is not a multiple of the workgroup size, so the bounds check in the kernel matters.
    const input = smokeInput(1000);
    const { output, errors } = await runDoubleKernel(ctx.device, input);
    expect(errors).toEqual([]);
    expect(Array.from(output)).toEqual(Array.from(input, (x) => x * 2));
  });

  it('refuses a feature the adapter lacks, with a named error', async () => {
    // Any adapter lacks at least one feature; pick one this adapter does not have.
    const all: GPUFeatureName[] = ['shader-f16', 'texture-compression-bc', 'float32-filterable', 'texture-compression-astc', 'texture-compression-etc2'];
    const absent = all.find((f) => !ctx.adapter.features.has(f)) as GPUFeatureName;
    expect(absent, 'the adapter has every probed feature').toBeDefined();
    const err = await requestDevice({ requiredFeatures: [absent] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGPUUnavailableError);
    expect(err).toMatchObject({ name: 'WebGPUUnavailableError', code: 'missing-feature' });
    expect((err as Error).message).toContain(absent);
  });

  it('refuses a limit above the adapter and a limit name it does not know', async () => {
    const max = ctx.adapter.limits.maxBufferSize;
    await expect(requestDevice({ requiredLimits: { maxBufferSize: max * 2 } })).rejects.toMatchObject({
      code: 'limit-too-low',
    });
    await expect(requestDevice({ requiredLimits: { maxBufferSise: 1 } })).rejects.toMatchObject({
      code: 'unknown-limit',
    });
  });
});
