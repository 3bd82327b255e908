// One way to get WebGPU in the browser and in Node, and a device whose features and limits are
// checked by name up front, so a missing capability fails at start with a message that says
// what to do instead of as a validation error deep inside a kernel.

/** Default Vulkan driver for Dawn in Node: SwiftShader, shipped by Debian's `chromium` package. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export type WebGPUUnavailableCode =
  | 'no-webgpu' // no WebGPU API at all (old browser, or the `webgpu` npm package failed to load)
  | 'no-adapter' // the API exists but offers no adapter
  | 'missing-feature' // the adapter lacks a required feature
  | 'limit-too-low' // an adapter limit is below what is required
  | 'unknown-limit' // the caller named a limit that the adapter does not have
  | 'device-failed'; // requestDevice() itself rejected

/** WebGPU cannot give what WebMoE needs here. `code` is stable for programs; `message` is for people. */
export class WebGPUUnavailableError extends Error {
  override readonly name = 'WebGPUUnavailableError';
  readonly code: WebGPUUnavailableCode;

  constructor(code: WebGPUUnavailableCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

let nodeGPU: Promise<GPU> | undefined;

/**
 * The `GPU` object: `navigator.gpu` in a browser or worker; in Node, Dawn from the npm package
 * `webgpu` (created once per process, its constants such as `GPUBufferUsage` put on globalThis).
 */
export async function requestGPU(): Promise<GPU> {
  if (typeof navigator !== 'undefined' && navigator.gpu) return navigator.gpu;
  if (isNode) return (nodeGPU ??= createNodeGPU());
  throw new WebGPUUnavailableError(
    'no-webgpu',
    'This browser has no WebGPU (navigator.gpu is missing). Use a current Chrome or Edge (113+), ' +
      'or a Firefox/Safari with WebGPU enabled, and serve the page over https or from localhost.',
  );
}

async function createNodeGPU(): Promise<GPU> {
  // Dawn reads these with getenv() when it loads its Vulkan backend, so they must be set before
  // the import. Without a Vulkan ICD Dawn may pick Mesa's lavapipe, which it rejects: the
  // adapter is null. In a worker thread process.env is a private copy and this has no effect.
  process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
  // Unset, the Vulkan loader prints "XDG_RUNTIME_DIR is invalid" on every adapter request.
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  // The specifier is hidden from bundlers: the browser build must never try to bundle dawn.node.
  const specifier = 'webgpu';
  let mod: typeof import('webgpu');
  try {
    mod = (await import(/* @vite-ignore */ specifier)) as typeof import('webgpu');
  } catch (cause) {
    throw new WebGPUUnavailableError(
      'no-webgpu',
      `The npm package "webgpu" (Dawn for Node) failed to load: ${String(cause)}. ` +
        'Run ./scripts/setup.sh (or npm ci) in the WebMoE checkout.',
      { cause },
    );
  }
  Object.assign(globalThis, mod.globals);
  // Dawn options, space-separated, e.g. "enable-dawn-features=dump_shaders" (for measurements:
  // "enable-dawn-features=disable_robustness" drops the bounds checks browsers always keep).
  const flags = process.env.WEBMOE_DAWN_FLAGS?.split(' ').filter(Boolean) ?? [];
  return mod.create(flags);
}

/** A limit value, or 'max' for the adapter's own value (e.g. to allow the largest buffers it can). */
export type LimitRequest = number | 'max';

export interface DeviceRequest {
  /** Features the caller cannot work without. */
  requiredFeatures?: readonly GPUFeatureName[];
  /** Features enabled when the adapter has them (e.g. 'shader-f16'); check `device.features`. */
  optionalFeatures?: readonly GPUFeatureName[];
  /** Limits by WebGPU name, e.g. `{ maxStorageBufferBindingSize: 'max' }` (sizes in bytes). */
  requiredLimits?: Readonly<Record<string, LimitRequest>>;
  powerPreference?: GPUPowerPreference;
  label?: string;
  /** Called when the device is lost for any reason but `destroy()`; default: console.error. */
  onLost?: (info: GPUDeviceLostInfo) => void;
}

export interface GPUContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  info: GPUAdapterInfo;
  /** The WGSL language features of the implementation (GPU.wgslLanguageFeatures), if known. */
  wgslFeatures?: ReadonlySet<string>;
}

/** An adapter and a device with every required feature and limit, or a WebGPUUnavailableError. */
export async function requestDevice(request: DeviceRequest = {}): Promise<GPUContext> {
  const gpu = await requestGPU();
  const adapter = await gpu.requestAdapter(
    request.powerPreference ? { powerPreference: request.powerPreference } : undefined,
  );
  if (!adapter) {
    throw new WebGPUUnavailableError('no-adapter', noAdapterMessage());
  }
  const info = adapter.info;
  const who = describeAdapter(info);

  const missing = (request.requiredFeatures ?? []).filter((f) => !adapter.features.has(f));
  if (missing.length > 0) {
    throw new WebGPUUnavailableError(
      'missing-feature',
      `The WebGPU adapter (${who}) lacks the required feature(s) ${missing.join(', ')}. ` +
        'Try another browser or GPU, or a model and settings that do not need them.',
    );
  }
  const optional = (request.optionalFeatures ?? []).filter((f) => adapter.features.has(f));

  const requiredLimits: Record<string, number> = {};
  for (const [name, wanted] of Object.entries(request.requiredLimits ?? {})) {
    const have = (adapter.limits as unknown as Record<string, unknown>)[name];
    if (typeof have !== 'number') {
      throw new WebGPUUnavailableError(
        'unknown-limit',
        `"${name}" is not a WebGPU limit of this adapter (${who}); check the spelling ` +
          '(names as in GPUSupportedLimits, e.g. maxStorageBufferBindingSize).',
      );
    }
    const value = wanted === 'max' ? have : wanted;
    // "min…" limits are alignments (smaller is better); every other limit is a maximum.
    const isAlignment = name.startsWith('min');
    if (isAlignment ? value < have : value > have) {
      throw new WebGPUUnavailableError(
        'limit-too-low',
        `The WebGPU adapter (${who}) has ${name} = ${have}, but ${value} is required. ` +
          'Choose a smaller model or a smaller GPU budget, or use a device with more GPU memory.',
      );
    }
    requiredLimits[name] = value;
  }

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: request.label ?? 'webmoe',
      requiredFeatures: [...(request.requiredFeatures ?? []), ...optional],
      requiredLimits,
    });
  } catch (cause) {
    throw new WebGPUUnavailableError(
      'device-failed',
      `The WebGPU adapter (${who}) refused to create a device: ${String(cause)}. ` +
        'Close other GPU-heavy tabs or reload the page; if it persists, ask for fewer limits.',
      { cause },
    );
  }
  const onLost =
    request.onLost ??
    ((lost: GPUDeviceLostInfo) => console.error(`WebGPU device lost (${lost.reason}): ${lost.message}`));
  void device.lost.then((lost) => {
    if (lost.reason !== 'destroyed') onLost(lost);
  });
  return { adapter, device, info, wgslFeatures: gpu.wgslLanguageFeatures };
}

/** Whether the adapter is a CPU pretending (SwiftShader, llvmpipe/lavapipe, a fallback adapter):
 *  choices that depend on the hardware (kernel shapes, paging overlap) take the CPU's side there. */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return fallback || /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/** "vendor architecture (description)", skipping empty fields; e.g. "google swiftshader". */
export function describeAdapter(info: GPUAdapterInfo): string {
  const main = [info.vendor, info.architecture].filter(Boolean).join(' ');
  const text = info.description ? `${main} (${info.description})`.trim() : main;
  return text || 'unknown adapter';
}

function noAdapterMessage(): string {
  if (isNode) {
    const icd = process.env.VK_ICD_FILENAMES;
    return (
      `Dawn found no WebGPU adapter (VK_ICD_FILENAMES=${icd ?? '(unset)'}). It needs the Vulkan ` +
      `loader (Debian libvulkan1) and a Vulkan driver Dawn accepts, such as SwiftShader from ` +
      `Debian chromium (${SWIFTSHADER_ICD}); ./scripts/setup.sh installs both. ` +
      'VK_ICD_FILENAMES must be set before the first WebGPU call, and in a worker thread it ' +
      'must be set before Node starts (a thread\'s process.env does not reach Dawn).'
    );
  }
  return (
    'navigator.gpu.requestAdapter() returned no adapter: WebGPU is disabled or this GPU is ' +
    'blocklisted (see chrome://gpu). Headless Chromium needs --enable-unsafe-webgpu and, ' +
    'without a GPU, --use-webgpu-adapter=swiftshader.'
  );
}
