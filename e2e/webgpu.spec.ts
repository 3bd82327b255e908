import { expect, test, type Page } from '@playwright/test';
import type { SmokeReport } from './pages/webgpu-smoke.ts';

/** Console errors and uncaught exceptions of the page, collected from before it loads. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

test('a compute shader doubles 1000 floats on the page', async ({ page }) => {
  const pageErrors = watchErrors(page);
  await page.goto('/e2e/pages/webgpu-smoke.html');
  const handle = await page.waitForFunction(() => window.smoke);
  const report = (await handle.jsonValue()) as SmokeReport;

  expect(report.failure).toBeUndefined();
  expect(report.adapter).toContain('swiftshader');
  expect(report.errors).toEqual([]);
  expect(report.output).toHaveLength(1000);
  expect(report.output).toEqual(report.input.map((x) => x * 2));
  // Spot values, so an empty or mangled input cannot pass by doubling nothing.
  expect(report.output.slice(0, 4)).toEqual([0.5, -1.5, 4.5, -5.5]);
  expect(report.output[999]).toBe(2 * (-999 + 0.25));
  expect(pageErrors).toEqual([]);
});

// The demo (index.html) now loads the default model; e2e/demo.spec.ts checks what it generates.
test('the demo page shows WebMoE and the adapter', async ({ page }) => {
  const pageErrors = watchErrors(page);
  await page.goto('/?backend=webgpu'); // (auto takes the WASM backend on SwiftShader)
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('WebMoE');
  await expect(page.locator('#model-info')).toContainText('google swiftshader, f32 kernels', { timeout: 90_000 });
  await expect(page.locator('#error')).toBeHidden();
  expect(pageErrors).toEqual([]);
});
