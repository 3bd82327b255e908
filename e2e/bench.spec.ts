// The site's benchmark page (bench.html, src/bench-page/main.ts) in headless Chromium on
// SwiftShader: a quick run (?quick=1) measures copy bandwidth and every kernel shape this adapter
// can run (Chromium has subgroups here, so software, hardware-sg and hardware-wg), fills the table
// and the JSON block, and the JSON parses with the adapter and a positive GB/s for each; then the
// demo's default model loads through the library API (kernels 'auto') and its prefill and 8
// decode tokens have a speed. Speed only: the kernels' results are tested in src/gpu/ops/*.test.ts
// and e2e/engine.spec.ts.
import { expect, test } from '@playwright/test';

interface Report {
  quick: boolean;
  seconds: number;
  adapter: { name: string; software: boolean; subgroups: boolean; kernelsAuto: string };
  copyGBs: number;
  kernels: { kernel: string; shape: string; ms: number; bytes: number; gbs: number; ofCopy: number }[];
  model?: { id: string; bytes: number; runs: { kernels: string; ran: string; loadMs: number; promptTokens: number; prefillTokS: number; decodeTokens: number; decodeTokS: number | null }[] };
}

test('bench.html measures copy bandwidth and each kernel shape, and gives its JSON', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));

  // the demo links to it
  await page.goto('/');
  await expect(page.locator('a[href="./bench.html"]')).toBeVisible();

  await page.goto('/bench.html?quick=1');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('WebMoE kernel benchmark');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-state', /done|error/, { timeout: 90_000 });
  await expect(page.locator('#error')).toBeHidden();

  const report = JSON.parse((await page.locator('#json').textContent()) ?? '') as Report;
  console.log('e2e bench: quick run', JSON.stringify({ seconds: report.seconds, adapter: report.adapter, copyGBs: report.copyGBs,
    kernels: report.kernels.map((k) => `${k.kernel} ${k.shape}: ${k.gbs} GB/s`), model: report.model }));
  expect(report.quick).toBe(true);
  expect(report.adapter.name).toContain('swiftshader');
  expect(report.adapter.software).toBe(true);
  expect(report.adapter.kernelsAuto).toBe('software');
  expect(report.copyGBs).toBeGreaterThan(0);

  const variants = ['software', 'hardware-wg', ...(report.adapter.subgroups ? ['hardware-sg'] : [])];
  const matvecs = report.kernels.filter((k) => k.kernel.startsWith('matvec_'));
  // Q4_K at 2048x2048 and one decode shape, in every variant
  expect(matvecs).toHaveLength(2 * variants.length);
  for (const v of variants) {
    const runs = matvecs.filter((k) => k.kernel.endsWith(` ${v}`));
    expect(runs.map((k) => k.shape)).toEqual(['2048x2048', 'Qwen3-30B-A3B expert down 2048x768']);
    for (const k of runs) {
      expect(k.ms).toBeGreaterThan(0);
      expect(k.gbs).toBeGreaterThan(0);
      expect(k.bytes).toBeGreaterThan(0);
    }
  }
  // the input conversion in each shape
  expect(report.kernels.filter((k) => k.kernel.startsWith('quant_')).map((k) => k.kernel)).toEqual(['quant_q8_k.pos1 software', 'quant_q8_k.pos1 hardware']);
  // the table shows a row per result plus the copy row
  await expect(page.locator('#results tr')).toHaveCount(report.kernels.length + 1);

  // the model, once with the kernels auto chooses on SwiftShader
  expect(report.model?.id).toBe('webmoe-tiny-moe.q8_0');
  expect(report.model?.runs).toHaveLength(1);
  const run = report.model!.runs[0]!;
  expect(run).toMatchObject({ kernels: 'auto', ran: 'software', decodeTokens: 8 });
  expect(run.promptTokens).toBeGreaterThan(20);
  expect(run.loadMs).toBeGreaterThan(0);
  expect(run.prefillTokS).toBeGreaterThan(0);
  expect(run.decodeTokS).toBeGreaterThan(0);
  await expect(page.locator('#model-results tr')).toHaveCount(1);
  await expect(page.getByRole('button', { name: 'Copy' })).toBeEnabled();
  expect(errors).toEqual([]);
});
