// One recorded kernel launch: a pipeline, its bind group, its own small uniform buffer for
// `struct Params` (rewritten only when the values change), and a workgroup count. The engine
// builds its ops once and encodes them into one compute pass per step.
import { USAGE } from './buffers.ts';
import { bindGroup, type Kernel } from './kernel.ts';
import type { GPUSession } from './session.ts';

export type Workgroups = [number, number?, number?];

export class Op {
  readonly label: string;
  private readonly group: GPUBindGroup;
  private readonly uniform?: GPUBuffer;
  private last?: string;
  workgroups: Workgroups;

  constructor(
    private readonly session: GPUSession,
    readonly kernel: Kernel,
    buffers: Readonly<Record<string, GPUBuffer>>,
    params: Readonly<Record<string, number>> | undefined,
    workgroups: Workgroups,
    label = kernel.key,
  ) {
    this.label = label;
    this.workgroups = workgroups;
    const all: Record<string, GPUBuffer> = { ...buffers };
    if (kernel.params) {
      this.uniform = session.buffers.create(kernel.params.byteSize, USAGE.UNIFORM | USAGE.COPY_DST, `${label}.params`, 'io');
      all.params = this.uniform;
      this.setParams(params ?? {});
    }
    this.group = bindGroup(session.device, kernel, all, label);
  }

  /** Writes new Params values (all fields) if they differ from the last ones written. */
  setParams(values: Readonly<Record<string, number>>): void {
    const layout = this.kernel.params;
    if (!layout || !this.uniform) throw new Error(`${this.label} has no Params`);
    const key = JSON.stringify(values);
    if (key === this.last) return;
    this.session.device.queue.writeBuffer(this.uniform, 0, layout.pack(values));
    this.last = key;
  }

  encode(pass: GPUComputePassEncoder): void {
    const [x, y = 1, z = 1] = this.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    pass.setPipeline(this.kernel.pipeline);
    pass.setBindGroup(0, this.group);
    pass.dispatchWorkgroups(x, y, z);
  }
}

/** Encodes ops into one compute pass of a new command encoder and submits it. */
export function runOps(session: GPUSession, ops: readonly Op[], label = 'webmoe'): void {
  const enc = session.device.createCommandEncoder({ label });
  const pass = enc.beginComputePass({ label });
  for (const op of ops) op.encode(pass);
  pass.end();
  session.device.queue.submit([enc.finish()]);
}
