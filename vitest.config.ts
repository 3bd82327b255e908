import { defineConfig, mergeConfig } from 'vitest/config';
import viteConfig from './vite.config.ts';
import { SWIFTSHADER_ICD } from './src/gpu/device.ts';

// Dawn reads these with getenv(). requestGPU() sets them in its own process, which reaches Dawn
// in a forked test process but not in a worker thread (a thread's process.env is a copy), so
// set them here too, in the runner process that every test worker inherits from.
process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
process.env.XDG_RUNTIME_DIR ??= '/tmp';

// Unit tests run in Node, beside the code they test. Vite's own transform serves `*.wgsl?raw`
// imports here; bin/raw-loader.mjs does the same for code run through bin/*.mjs.
export default mergeConfig(
  viteConfig,
  defineConfig({
    test: {
      include: ['src/**/*.test.ts', 'tools/**/*.test.ts', 'workers/**/*.test.ts'],
      exclude: ['e2e/**', '**/node_modules/**', 'dist/**'],
      environment: 'node',
      // Child processes, not worker threads: each test file gets its own Dawn instance and a
      // native crash takes down one fork, not the runner.
      pool: 'forks',
      // Kernels run on SwiftShader (a CPU) and some tests build small models first; engine cases
      // take 60-145 s when the machine's two cores are shared, so the margin is wide.
      testTimeout: 300_000,
      hookTimeout: 300_000,
    },
  }),
);
