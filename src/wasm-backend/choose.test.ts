// The backend choice (choose.ts) on every kind of adapter a probe can report, given as fakes: the
// real probe on this machine's SwiftShader is exercised by workers/wasm-host.test.ts.
import { describe, expect, it } from 'vitest';
import { WebGPUUnavailableError } from '../gpu/device.ts';
import { WasmBackendError } from './kernels.ts';
import { chooseBackend, forModel, SOFTWARE_MEASURED, type AdapterProbe } from './choose.ts';

const hardware = async (): Promise<AdapterProbe> => ({ name: 'nvidia ampere', software: false });
const software = async (): Promise<AdapterProbe> => ({ name: 'google swiftshader', software: true });
const none = async (): Promise<AdapterProbe> => {
  throw new WebGPUUnavailableError('no-webgpu', 'This browser has no WebGPU (navigator.gpu is missing).');
};
const noProbe = async (): Promise<AdapterProbe> => {
  throw new Error('backend wasm must not ask for an adapter');
};

describe('chooseBackend', () => {
  it('auto: WebGPU on a hardware adapter, WASM on a software one (with the measured reason) or none', async () => {
    expect(await chooseBackend('auto', {}, hardware)).toEqual({ backend: 'webgpu', reason: 'nvidia ampere is a hardware adapter', adapter: 'nvidia ampere', ignored: [] });
    const sw = await chooseBackend(undefined, {}, software);
    expect(sw).toMatchObject({ backend: 'wasm', adapter: 'google swiftshader', ignored: [] });
    expect(sw.reason).toBe(`google swiftshader is a software adapter: the WASM CPU backend is faster here (${SOFTWARE_MEASURED})`);
    expect(SOFTWARE_MEASURED).toMatch(/decode \d+ vs \d+ tok\/s/);
    const gone = await chooseBackend('auto', {}, none);
    expect(gone).toMatchObject({ backend: 'wasm', ignored: [] });
    expect(gone.reason).toMatch(/^no usable WebGPU here \(no-webgpu: This browser has no WebGPU/);
  });

  it('auto: explicit kernels keep a software adapter on WebGPU, without an adapter they are ignored; expert paging both backends have', async () => {
    const k = await chooseBackend('auto', { kernels: 'hardware' }, software);
    expect(k).toMatchObject({ backend: 'webgpu', reason: "google swiftshader is a software adapter, but kernels: 'hardware' needs the WebGPU engine" });
    expect((await chooseBackend('auto', { kernels: 'auto' }, software)).backend).toBe('wasm');
    expect(await chooseBackend('auto', { kernels: 'software' }, none)).toMatchObject({ backend: 'wasm', ignored: ["kernels: 'software'"] });
    const paged = { expertBudget: 1e6, kernels: 'auto' }; // (the load's options, as the worker passes them)
    expect(await chooseBackend('auto', paged, software)).toMatchObject({ backend: 'wasm', ignored: [] });
    expect(await chooseBackend('auto', paged, none)).toMatchObject({ backend: 'wasm', ignored: [] });
    expect(await chooseBackend('wasm', paged, noProbe)).toMatchObject({ backend: 'wasm', ignored: [] });
  });

  it('a model the WASM backend cannot run: auto keeps a software adapter on WebGPU, else the named error', async () => {
    const cannot = new WasmBackendError('unsupported-model', "head dimension 1056 is above the WASM backend's 1024");
    const sw = await chooseBackend('auto', {}, software);
    expect(forModel(sw, undefined)).toBe(sw);
    expect(forModel(sw, cannot)).toMatchObject({ backend: 'webgpu', reason: `google swiftshader is a software adapter, but the WASM backend cannot run this model (${cannot.message})` });
    expect(() => forModel({ ...sw, softwareAdapter: undefined }, cannot)).toThrow(cannot); // asked for wasm, or no adapter
    expect(() => forModel({ backend: 'wasm', reason: 'no usable WebGPU here', ignored: [] }, cannot)).toThrow(cannot);
    const hw = await chooseBackend('auto', {}, hardware);
    expect(forModel(hw, cannot)).toBe(hw);
  });

  it("'webgpu' and 'wasm' as asked; what the WASM backend lacks, and bad choices, throw named errors", async () => {
    expect(await chooseBackend('wasm', {}, noProbe)).toEqual({ backend: 'wasm', reason: "backend 'wasm' was asked for", ignored: [] });
    expect(await chooseBackend('webgpu', {}, software)).toMatchObject({ backend: 'webgpu', adapter: 'google swiftshader' });
    await expect(chooseBackend('webgpu', {}, none)).rejects.toMatchObject({ name: 'WebGPUUnavailableError', code: 'no-webgpu' });
    await expect(chooseBackend('wasm', { kernels: 'hardware' }, noProbe)).rejects.toThrow("kernels: 'hardware': only the WebGPU engine has this");
    await expect(chooseBackend('cpu' as never, {}, software)).rejects.toMatchObject({ name: 'WasmBackendError', code: 'bad-argument' });
    // an unexpected failure of the probe is not taken for "no WebGPU"
    await expect(chooseBackend('auto', {}, async () => { throw new TypeError('bug'); })).rejects.toThrow('bug');
  });
});
