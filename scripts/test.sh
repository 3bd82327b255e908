#!/usr/bin/env bash
# Everything CI checks, in order: setup, typecheck, unit tests (vitest, Node + Dawn on
# SwiftShader), the GPU tests again on lavapipe (the second software device, which has
# shader-f16: scripts/lavapipe.sh), e2e tests (Playwright, headless Chromium + SwiftShader). Every step runs even if an earlier one failed, so
# one run shows all failures; the exit status is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh || exit 1

reports=.cache/reports
rm -rf "$reports" && mkdir -p "$reports"
failed=()

echo "== typecheck (tsc --noEmit)"
npx --no-install tsc --noEmit || failed+=(typecheck)

echo "== unit tests (vitest)"
npx --no-install vitest run --reporter=default --reporter=json \
  --outputFile.json="$reports/vitest.json" || failed+=(unit)

echo "== GPU unit tests on lavapipe (shader-f16 path)"
[[ -x .cache/lavapipe/env ]] || echo "test.sh: no .cache/lavapipe (scripts/lavapipe.sh failed during setup: see above)"
WEBMOE_REQUIRE_F16=1 .cache/lavapipe/env npx --no-install vitest run src/gpu src/engine/engine-f16.test.ts src/engine/engine-hw.test.ts \
  --reporter=default --reporter=json --outputFile.json="$reports/vitest-lavapipe.json" || failed+=(unit-lavapipe)

echo "== e2e tests (playwright)"
npx --no-install playwright test || failed+=(e2e)

node scripts/summarize-tests.mjs "$reports" || failed+=(summary)
if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all steps passed"
