// Which backend runs a model: the WebGPU engine or the WASM CPU backend, and why (the reason is
// shown to people: the demo prints it, ModelInfo.backendReason carries it).
//   'webgpu': the engine; no usable adapter throws WebGPUUnavailableError as before.
//   'wasm':   the CPU backend, without asking for an adapter at all.
//   'auto':   WebGPU on a hardware adapter; WASM where there is no usable adapter, or only a
//             fallback/software one (SwiftShader, llvmpipe: isSoftwareAdapter, as the kernel
//             shapes are chosen), because there the CPU backend was measured faster (SOFTWARE_MEASURED).
//             An option only the engine has (kernel shapes), or a model the WASM backend cannot
//             run (forModel), keeps a software adapter on WebGPU; with no adapter at all such an
//             option is ignored (a notice says so) and such a model refused. Expert paging
//             (expertBudget) both backends have (the WASM backend pages into its heap).
import { describeAdapter, isSoftwareAdapter, requestDevice, WebGPUUnavailableError } from '../gpu/device.ts';
import { WasmBackendError } from './kernels.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm';
export type BackendKind = 'webgpu' | 'wasm';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm'];

/** What was measured on SwiftShader (2026-12-05, one interleaved run, 64-token prompt, 64 greedy
 *  tokens, library API in a worker), quoted in the reason auto gives for the CPU backend
 *  (README, WASM CPU backend in the browser). */
export const SOFTWARE_MEASURED = 'measured in Chromium on SwiftShader: decode 1233 vs 52 tok/s on the default model, 34 vs 5.1 tok/s on a 98.5 MB MoE Q4_K';

export interface BackendDecision {
  backend: BackendKind;
  /** Why, in a sentence. */
  reason: string;
  /** The WebGPU adapter seen ("google swiftshader"), when one was asked for and found. */
  adapter?: string;
  /** Options given that the chosen backend ignores (auto fell back to WASM without an adapter). */
  ignored: string[];
  /** auto chose WASM over a software adapter: WebGPU remains, for a model WASM cannot run. */
  softwareAdapter?: boolean;
}

/** The adapter a probe saw: its description and whether it is CPU-backed. */
export interface AdapterProbe {
  name: string;
  software: boolean;
}

/** Opens and closes a device, so that a browser without a usable WebGPU learns so before any
 *  byte is downloaded. */
export async function probeAdapter(): Promise<AdapterProbe> {
  const ctx = await requestDevice({ label: 'webmoe-probe' });
  ctx.device.destroy();
  return { name: describeAdapter(ctx.info), software: isSoftwareAdapter(ctx.info) };
}

/** Options of the load that only the WebGPU engine honours, by name, when given. */
export interface EngineOnlyOptions {
  kernels?: string;
}

function engineOnly(o: EngineOnlyOptions): string[] {
  return o.kernels !== undefined && o.kernels !== 'auto' ? [`kernels: '${o.kernels}'`] : [];
}

export async function chooseBackend(choice: BackendChoice | undefined, opts: EngineOnlyOptions = {}, probe = probeAdapter): Promise<BackendDecision> {
  const asked = choice ?? 'auto';
  if (!BACKEND_CHOICES.includes(asked)) throw new WasmBackendError('bad-argument', `backend must be ${BACKEND_CHOICES.join(', ')}; got ${JSON.stringify(choice)}`);
  const only = engineOnly(opts);
  if (asked === 'wasm') {
    if (only.length) throw new WasmBackendError('unsupported-option', `${only.join(' and ')}: only the WebGPU engine has this; leave it out with backend 'wasm', or use backend 'webgpu' or 'auto'`);
    return { backend: 'wasm', reason: "backend 'wasm' was asked for", ignored: [] };
  }
  if (asked === 'webgpu') {
    const a = await probe();
    return { backend: 'webgpu', reason: "backend 'webgpu' was asked for", adapter: a.name, ignored: [] };
  }
  let a: AdapterProbe;
  try {
    a = await probe();
  } catch (e) {
    if (!(e instanceof WebGPUUnavailableError)) throw e;
    return { backend: 'wasm', reason: `no usable WebGPU here (${e.code}: ${e.message}); the WASM CPU backend runs instead`, ignored: only };
  }
  if (!a.software) return { backend: 'webgpu', reason: `${a.name} is a hardware adapter`, adapter: a.name, ignored: [] };
  if (only.length) return { backend: 'webgpu', reason: `${a.name} is a software adapter, but ${only.join(' and ')} needs the WebGPU engine`, adapter: a.name, ignored: [] };
  return { backend: 'wasm', reason: `${a.name} is a software adapter: the WASM CPU backend is faster here (${SOFTWARE_MEASURED})`, adapter: a.name, ignored: [], softwareAdapter: true };
}

/** The decision once the model's plan is known: `unsupported` is why the WASM backend cannot run
 *  it (wasmUnsupported in model.ts), if so. auto over a software adapter then takes WebGPU; WASM
 *  asked for, or without an adapter, throws that error before the download. */
export function forModel(choice: BackendDecision, unsupported: Error | undefined): BackendDecision {
  if (choice.backend !== 'wasm' || !unsupported) return choice;
  if (!choice.softwareAdapter) throw unsupported;
  return { backend: 'webgpu', reason: `${choice.adapter} is a software adapter, but the WASM backend cannot run this model (${unsupported.message})`, adapter: choice.adapter, ignored: [] };
}
