#!/usr/bin/env node
// The CLI runs from the compiled package (npm install / npm run build produce dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('slimllm: dist/ is missing; run `npm run build` in the package folder first.');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
