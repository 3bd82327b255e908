// Kernel shapes and the choice between them. 'software': the shapes tuned on CPU-backed adapters
// (SwiftShader, llvmpipe/lavapipe), where every lane is a CPU loop and a buffer read is a
// per-lane gather: one lane streams whole rows, workgroups are small, nothing is reduced across
// lanes. 'hardware': the shapes of GPU code (llama.cpp's ggml-webgpu, TVM's GEMV rule): a
// workgroup of 64-256 lanes shares a few rows, adjacent lanes read adjacent bytes, and the lanes'
// partials are reduced through subgroups (where the adapter has them) or workgroup memory.
// 'auto' picks by the adapter: software on CPU-backed and fallback adapters, hardware otherwise.
import type { GPUSession } from './session.ts';

export type KernelChoice = 'auto' | 'software' | 'hardware';
export type KernelShape = 'software' | 'hardware';

export const KERNEL_CHOICES: readonly KernelChoice[] = ['auto', 'software', 'hardware'];

export class KernelChoiceError extends Error {
  override name = 'KernelChoiceError';
}

/** The shape `choice` means on this session's adapter. */
export function resolveKernels(session: GPUSession, choice: KernelChoice = 'auto'): KernelShape {
  if (!KERNEL_CHOICES.includes(choice)) throw new KernelChoiceError(`kernels must be ${KERNEL_CHOICES.join(', ')}; got ${JSON.stringify(choice)}`);
  if (choice !== 'auto') return choice;
  return session.software ? 'software' : 'hardware';
}

/** The shape of decode attention (one query), which `choice` 'auto' picks apart from the rest:
 *  attention_hw.wgsl reads each K and V row once per KV head where attn reads it once per query
 *  head, and on llvmpipe (lavapipe) that is faster at every length measured (f16 cache, 32/4 heads
 *  of 128: 0.66 vs 1.4 ms at 64 positions, 9.8 vs 39 ms at 1024), so auto gives it to every adapter
 *  but SwiftShader and other fallback adapters, where it is not faster below ~1024 positions. */
export function resolveAttentionKernels(session: GPUSession, choice: KernelChoice = 'auto'): KernelShape {
  if (choice !== 'auto') return resolveKernels(session, choice);
  return session.software && !/llvmpipe|lavapipe/i.test(session.adapterName) ? 'software' : 'hardware';
}

/** Workgroup size of a hardware kernel whose lanes walk `blocks` units of a row: 64, or 128
 *  when there are more blocks than that (workgroup memory for the reduction of 8 rows without
 *  subgroups: 64 bytes a lane, 8 KiB at 128, half the smallest limit). */
export function hardwareLanes(blocks: number): number {
  return blocks <= 64 ? 64 : 128;
}
