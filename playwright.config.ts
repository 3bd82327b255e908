import { defineConfig } from '@playwright/test';

// E2E tests run in Debian's Chromium (never `npx playwright install`: browser downloads fail
// here) with WebGPU on SwiftShader, a software Vulkan, so they need no GPU.
const port = Number(process.env.WEBMOE_E2E_PORT ?? 5174); // not the demo's 5173, so both can run
const baseURL = `http://127.0.0.1:${port}`;
const ci = Boolean(process.env.CI);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  // Two cores, and SwiftShader is a CPU renderer: one browser at a time is faster than two.
  workers: 1,
  timeout: 120_000,
  forbidOnly: ci,
  retries: 0,
  outputDir: 'test-results',
  reporter: [['list'], ['json', { outputFile: '.cache/reports/playwright.json' }]],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.WEBMOE_CHROMIUM ?? '/usr/bin/chromium',
      // Playwright gives every launch a fresh temporary profile (--user-data-dir).
      args: [
        '--headless=new',
        '--no-sandbox',
        '--enable-unsafe-webgpu',
        '--enable-features=Vulkan',
        '--use-vulkan=swiftshader',
        '--use-webgpu-adapter=swiftshader',
        '--use-angle=swiftshader',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium-swiftshader' }],
  webServer: {
    // The dev server, not a build: pages under e2e/pages/ are served as they are.
    command: `npx vite --host 127.0.0.1 --port ${port} --strictPort`,
    url: `${baseURL}/e2e/pages/webgpu-smoke.html`,
    reuseExistingServer: !ci,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
