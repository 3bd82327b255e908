// Demo placeholder: shows which WebGPU adapter this browser offers and proves it computes.
// Everything the adapter reports is rendered with textContent, never as HTML.
import { describeAdapter, requestDevice } from '../gpu/device.ts';
import { runDoubleKernel, smokeInput } from '../gpu/smoke.ts';

const MiB = 1024 * 1024;

const status = document.getElementById('gpu-status') as HTMLElement;
const list = document.getElementById('gpu-info') as HTMLDListElement;

function row(term: string, value: string): void {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

async function show(): Promise<void> {
  const { adapter, device, info } = await requestDevice({ label: 'demo' });
  row('Adapter', describeAdapter(info));
  row('shader-f16', adapter.features.has('shader-f16') ? 'yes' : 'no (f32 kernels)');
  row('Max buffer', `${Math.floor(adapter.limits.maxBufferSize / MiB)} MiB`);
  row('Max storage binding', `${Math.floor(adapter.limits.maxStorageBufferBindingSize / MiB)} MiB`);
  row('Features', [...adapter.features].sort().join(', '));

  const input = smokeInput(256);
  const { output, errors } = await runDoubleKernel(device, input);
  const ok = errors.length === 0 && output.every((y, i) => y === 2 * input[i]);
  row('Compute check', ok ? 'ok (256 values doubled)' : `failed ${errors.join('; ')}`);
  device.destroy();
  status.textContent = ok ? 'WebGPU is ready.' : 'WebGPU answered, but the compute check failed.';
  status.dataset.state = ok ? 'ok' : 'error';
}

show().catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  status.textContent = `${e.name}: ${e.message}`;
  status.dataset.state = 'error';
});
