// Runs the doubling kernel in the page and publishes what happened on window.smoke for
// e2e/webgpu.spec.ts to check; the page itself asserts nothing.
import { describeAdapter, requestDevice } from '../../src/gpu/device.ts';
import { runDoubleKernel, smokeInput } from '../../src/gpu/smoke.ts';

export interface SmokeReport {
  adapter: string;
  input: number[];
  output: number[];
  /** Error-scope errors of the kernel plus uncaptured device errors. */
  errors: string[];
  /** Set instead of the rest when the page could not get that far. */
  failure?: string;
}

declare global {
  interface Window {
    smoke?: SmokeReport;
  }
}

async function run(): Promise<SmokeReport> {
  const { device, info } = await requestDevice({ label: 'e2e-smoke' });
  const uncaptured: string[] = [];
  device.addEventListener('uncapturederror', (event) => {
    uncaptured.push((event as GPUUncapturedErrorEvent).error.message);
  });
  // 1000 values: not a multiple of the workgroup size, so the kernel's bounds check is exercised.
  const result = await runDoubleKernel(device, smokeInput(1000));
  device.destroy();
  return {
    adapter: describeAdapter(info),
    input: Array.from(result.input),
    output: Array.from(result.output),
    errors: [...result.errors, ...uncaptured],
  };
}

const out = document.getElementById('out') as HTMLElement;
run()
  .catch((err: unknown): SmokeReport => {
    const e = err instanceof Error ? err : new Error(String(err));
    return { adapter: '', input: [], output: [], errors: [], failure: `${e.name}: ${e.message}` };
  })
  .then((report) => {
    window.smoke = report;
    out.textContent = report.failure ?? `${report.adapter}: ${report.output.length} values`;
  });
