// <webmoe-chat>'s attributes as the library's options: pure functions, tested in Node.
import type { GenerateParams } from '../client/protocol.ts';
import { KERNEL_CHOICES, type KernelChoice } from '../gpu/variant.ts';
import { BACKEND_CHOICES, type BackendChoice } from '../wasm-backend/choose.ts';

/** Sampling attributes and the generate option each one sets. */
export const SAMPLING_ATTRIBUTES = [
  ['max-tokens', 'maxTokens'], ['temperature', 'temperature'], ['top-k', 'topK'], ['top-p', 'topP'], ['min-p', 'minP'],
  ['repeat-penalty', 'repeatPenalty'], ['seed', 'seed'],
] as const satisfies readonly (readonly [string, keyof GenerateParams])[];

const INTEGERS: ReadonlySet<string> = new Set(['max-tokens', 'top-k', 'seed']);

/** A number attribute: undefined when absent or empty; a RangeError that names it when it is not
 *  a number (not an integer, for counts and the seed), or negative. */
export function numberAttribute(name: string, value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = Number(value);
  const integer = INTEGERS.has(name);
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new RangeError(`<webmoe-chat ${name}="${value}">: give a${integer ? ' whole' : ''} number of 0 or more`);
  }
  return v;
}

/** Generate options from the element's attributes (those absent keep the library's defaults). */
export function samplingOptions(get: (name: string) => string | null): GenerateParams {
  const out: GenerateParams = {};
  for (const [attr, key] of SAMPLING_ATTRIBUTES) {
    const v = numberAttribute(attr, get(attr));
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** enable-thinking: "true" or "false" for the chat template's enable_thinking; absent or empty:
 *  the template's default (Qwen3 thinks); anything else a RangeError that names it. */
export function thinkingAttribute(value: string | null): boolean | undefined {
  const v = value?.trim();
  if (v === undefined || v === '') return undefined;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new RangeError(`<webmoe-chat enable-thinking="${value}">: give true or false (or leave it out: the model's default)`);
}

/** kernels: auto, software or hardware (src/gpu/variant.ts); absent or empty: auto (the library's
 *  default); anything else a RangeError that names it. */
export function kernelsAttribute(value: string | null): KernelChoice | undefined {
  const v = value?.trim();
  if (v === undefined || v === '') return undefined;
  if ((KERNEL_CHOICES as readonly string[]).includes(v)) return v as KernelChoice;
  throw new RangeError(`<webmoe-chat kernels="${value}">: give ${KERNEL_CHOICES.join(', ')} (or leave it out: auto)`);
}

/** backend: auto, webgpu or wasm (src/wasm-backend/choose.ts); absent or empty: auto (the
 *  library's default); anything else a RangeError that names it. */
export function backendAttribute(value: string | null): BackendChoice | undefined {
  const v = value?.trim();
  if (v === undefined || v === '') return undefined;
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  throw new RangeError(`<webmoe-chat backend="${value}">: give ${BACKEND_CHOICES.join(', ')} (or leave it out: auto)`);
}

/** A size in MB (expert-budget, ram-budget) as bytes, as the demo's fields take it. */
export function megabytes(name: string, value: string | null): number | undefined {
  const mb = numberAttribute(name, value);
  return mb === undefined ? undefined : Math.floor(mb * 1e6);
}
