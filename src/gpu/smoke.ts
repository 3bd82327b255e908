// The smallest end-to-end proof that a device computes: upload n floats, double them in a
// compute shader, read them back. Used by the Node unit test, the e2e smoke page and the demo.

const WORKGROUP_SIZE = 64; // invocations per workgroup; n need not be a multiple of it

const DOUBLE_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&data)) {
    data[id.x] = data[id.x] * 2.0;
  }
}
`;

export interface SmokeResult {
  input: Float32Array<ArrayBuffer>;
  output: Float32Array<ArrayBuffer>;
  /** Validation or out-of-memory errors raised while the kernel was built and run. */
  errors: string[];
}

/** Doubles `input` on the GPU. Values are returned as read back, unchecked: callers compare. */
export async function runDoubleKernel(
  device: GPUDevice,
  input: Float32Array<ArrayBuffer>,
): Promise<SmokeResult> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');

  const bytes = input.byteLength;
  const data = device.createBuffer({
    label: 'smoke.data',
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const readback = device.createBuffer({
    label: 'smoke.readback',
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(data, 0, input);

  const pipeline = device.createComputePipeline({
    label: 'smoke.double',
    layout: 'auto',
    compute: { module: device.createShaderModule({ label: 'smoke.double', code: DOUBLE_WGSL }) },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: data } }],
  });

  const encoder = device.createCommandEncoder({ label: 'smoke' });
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(input.length / WORKGROUP_SIZE));
  pass.end();
  encoder.copyBufferToBuffer(data, 0, readback, 0, bytes);
  device.queue.submit([encoder.finish()]);

  const errors: string[] = [];
  for (const scope of ['validation', 'out-of-memory']) {
    const error = await device.popErrorScope();
    if (error) errors.push(`${scope}: ${error.message}`);
  }

  await readback.mapAsync(GPUMapMode.READ);
  const output = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  data.destroy();
  readback.destroy();
  return { input, output, errors };
}

/** `n` distinct values with fractions and signs, so a no-op or a wrong index shows. */
export function smokeInput(n: number): Float32Array<ArrayBuffer> {
  return Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i : -i) + 0.25);
}
