#!/usr/bin/env bash
# Installs the pinned llama.cpp client (node-llama-cpp 3.21.1 with its prebuilt Linux x64 CPU
# binaries, ~83 MB) into interop/node_modules for the interop tests. interop/ is a separate private
# package so that the main package never depends on it, and --omit=optional leaves out the GPU
# variants (~730 MB); --ignore-scripts: nothing is downloaded or built. Runs `npm ci` only when
# interop/node_modules is missing or older than interop/package-lock.json, so repeated
# `npm test` (whose pretest calls this) costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=interop/node_modules/.package-lock.json   # written by npm at the end of an install
if [ -f "$stamp" ] && [ "$stamp" -nt interop/package-lock.json ] && [ "$stamp" -nt interop/package.json ]; then
  exit 0
fi
echo "installing the pinned llama.cpp client into interop/ (npm ci)"
npm ci --prefix interop --omit=optional --ignore-scripts --no-audit --no-fund
