// Adds up the JSON reports of vitest and Playwright into one closing line,
// "webmoe: N passed, N failed, N skipped", so a CI log states what ran in a form any reader
// (person or tool) recognizes. A runner that left no report counts as one failure.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.cache/reports';
let passed = 0;
let failed = 0;
let skipped = 0;

function read(name) {
  const path = join(dir, name);
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  console.log(`summary: ${path} is missing (the runner did not finish); counted as 1 failure`);
  failed += 1;
  return undefined;
}

for (const [name, what] of [['vitest.json', 'unit'], ['vitest-lavapipe.json', 'unit on lavapipe (shader-f16)']]) {
  const unit = read(name); // Jest-style counts
  if (!unit) continue;
  passed += unit.numPassedTests;
  failed += unit.numFailedTests;
  skipped += unit.numPendingTests + unit.numTodoTests;
  console.log(`${what}: ${unit.numPassedTests} passed, ${unit.numFailedTests} failed`);
}
const e2e = read('playwright.json'); // stats: expected = passed, unexpected = failed
if (e2e) {
  const s = e2e.stats;
  passed += s.expected + s.flaky;
  failed += s.unexpected;
  skipped += s.skipped;
  console.log(`e2e: ${s.expected + s.flaky} passed, ${s.unexpected} failed`);
}
if (e2e && e2e.errors?.length) {
  // Errors outside any test (web server did not start, config error) leave stats at zero.
  console.log(`summary: Playwright reported ${e2e.errors.length} error(s) outside tests`);
  failed += e2e.errors.length;
}
console.log(`webmoe: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
