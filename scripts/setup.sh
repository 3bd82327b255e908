#!/usr/bin/env bash
# Bring a machine up to what WebMoE's build, tests and demo need. Idempotent: when every
# Debian package is installed and node_modules matches package-lock.json it only checks
# (well under a second) and changes nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages, each with the reason it is here (see shared/ENVIRONMENT.md).
debs=(
  chromium        # headless browser for e2e; ships SwiftShader (software Vulkan) and its ICD json
  libvulkan1      # Vulkan loader: without libvulkan.so.1 Dawn in Node finds no adapter
  patchelf        # scripts/lavapipe.sh: a node that loads Debian 13's glibc for Mesa 25's lavapipe
  emscripten      # C -> standalone WASM (tokenizer, sampler)
  node-acorn      # emcc's JS optimizer needs it (with NODE_PATH=/usr/share/nodejs)
  python3-torch   # tools/train: tiny-model training (run with /usr/bin/python3)
  python3-numpy
  python3-jinja2  # oracle for chat templates: Jinja's own engine (tools/oracle/jinja2.ts)
  unicode-data    # Unicode tables for the tokenizer's pre-tokenizer
  fortunes        # text corpora to train tiny models on
  fortunes-min
  libopenblas0-openmp # fast BLAS for Debian's torch (tools/train switches to it: ~10x the reference BLAS)
)

missing=()
for pkg in "${debs[@]}"; do
  # `dpkg -s` exits 0 for removed-but-not-purged packages too, so read the status line.
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  # Only now refresh the package lists: an up-to-date machine never touches the network.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)); then
  echo "setup: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm writes node_modules/.package-lock.json after every install, so its age tells whether the
# installed tree predates the lock file (a fresh clone has no node_modules at all).
stamp=node_modules/.package-lock.json
if [[ -f package-lock.json ]]; then
  if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
    echo "setup: npm ci"
    mkdir -p .cache
    if ! npm ci --no-audit --no-fund >.cache/npm-ci.log 2>&1; then
      # npm ci refuses a lock that lacks any optional dependency, and this registry has no
      # copies of some of node-llama-cpp's platform packages (mac/win/riscv), so the lock cannot
      # list them. `npm install --no-save` installs the same locked versions, skips the
      # unavailable optional packages, and leaves package-lock.json untouched.
      grep -E '^npm error (code|Missing|`npm ci`)' .cache/npm-ci.log | head -5 || true
      if ! grep -q 'are in sync' .cache/npm-ci.log; then
        cat .cache/npm-ci.log >&2
        exit 1
      fi
      echo "setup: npm ci refused the lock file (full log: .cache/npm-ci.log); npm install --no-save"
      npm install --no-save --no-audit --no-fund
    fi
  fi
elif [[ ! -f $stamp || package.json -nt $stamp ]]; then
  echo "setup: npm install (no package-lock.json)"
  npm install --no-audit --no-fund
fi

# Hook for the WASM build (tokenizer, sampler). The script itself must be fast when its
# outputs are up to date, since setup runs before every test and demo run.
if node -e 'process.exit(require("./package.json").scripts?.["build:wasm"] ? 0 : 1)'; then
  npm run --silent build:wasm
fi

# A second software GPU (Mesa 25 lavapipe, private to .cache/lavapipe): the device on which the
# engine benchmark runs llama.cpp's Vulkan backend beside ours, and the shader-f16 tests run.
if ! bash scripts/lavapipe.sh; then
  echo "setup: warning: no lavapipe device (see above); its tests and benchmark will say so" >&2
fi

echo "setup: ok"
