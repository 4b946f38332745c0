#!/usr/bin/env bash
# Prepares what a lent GPU machine needs to run bench/gpu-suite.sh on this checkout, within the
# device tool's 64 MiB carry limit: .devcarry/node_modules (the production dependencies only, with
# Dawn's linux-x64 binary alone) and the Vulkan loader packages in .gl/ (that machine has the
# NVIDIA driver but may lack libvulkan). Both folders are excluded from git locally. Run once,
# after `npm ci && npm run build`; docs/performance.md gives the device command that uses them.
set -euo pipefail
cd "$(dirname "$0")/.."
for d in /.devcarry/ /.gl/; do grep -qxF "$d" .git/info/exclude 2>/dev/null || echo "$d" >>.git/info/exclude; done
rm -rf .devcarry && mkdir -p .devcarry/node_modules
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
  rel=${dir#"$PWD/node_modules/"}
  mkdir -p ".devcarry/node_modules/$(dirname "$rel")"
  cp -r "$dir" ".devcarry/node_modules/$rel"
done
find .devcarry/node_modules/webgpu/dist -mindepth 1 -maxdepth 1 -type d ! -name linux-x64 -exec rm -rf {} +
mkdir -p .gl /tmp/amd64/partial
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
apt-get "${o[@]}" update -qq
(cd .gl && apt-get "${o[@]}" download libvulkan1 >/dev/null)
du -sh .devcarry .gl dist
