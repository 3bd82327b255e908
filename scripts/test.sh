#!/usr/bin/env bash
# Everything CI checks, in order: setup, typecheck, unit tests (vitest, Node + Dawn), e2e tests
# (Playwright, headless Chromium + SwiftShader). Every step runs even if an earlier one failed, so
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

echo "== e2e tests (playwright)"
npx --no-install playwright test || failed+=(e2e)

node scripts/summarize-tests.mjs "$reports" || failed+=(summary)
if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all steps passed"
