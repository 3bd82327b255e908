#!/usr/bin/env bash
# Set the machine up, then serve the demo with Vite's dev server on loopback (Ctrl-C stops it).
# PORT overrides the port (default 5173).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
port=${PORT:-5173}
echo "WebMoE demo: http://127.0.0.1:${port}/"
exec npx --no-install vite --host 127.0.0.1 --port "$port" --strictPort
