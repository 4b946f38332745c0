// Peak memory of evaluation against the number of layers: a synthetic TinyLlama-shaped f16
// checkpoint with n layers, the windows protocol over random tokens, GPU path. Each layer count runs
// in its own process (RSS high-water marks do not reset). Last stdout line: JSON.
//   npm run build && node dist/bench/eval-memory.js --layers 2,4 --windows 8 --seq-len 128
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GpuBackend } from '../src/kernels/gpu/index.js';
import { sequencesPerplexity } from '../src/eval/perplexity.js';
import { openModel } from '../src/model/load.js';
import { isMain, provenance } from './common.js';
import { syntheticCalibration, writeSyntheticCheckpoint } from './synth.js';

async function child(dir: string, windows: number, seqLen: number): Promise<void> {
  const src = openModel(dir);
  const b = await GpuBackend.create();
  let peakRss = process.memoryUsage().rss;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const seqs = syntheticCalibration(src.config.vocabSize, windows, seqLen, 1);
  const r = await sequencesPerplexity(b, src, seqs, { onProgress: () => (peakRss = Math.max(peakRss, process.memoryUsage().rss)) });
  clearInterval(timer);
  const out = { layers: src.config.nLayers, tokens: r.tokens, nll: r.nll, peakRssMB: peakRss / 2 ** 20, peakGpuMB: b.deviceMemory().peakBytes / 2 ** 20 };
  b.dispose();
  src.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
  if (args[0] === '--child') return child(args[1], Number(args[2]), Number(args[3]));
  const layerCounts = get('--layers', '2,4').split(',').map(Number);
  const windows = Number(get('--windows', '8'));
  const seqLen = Number(get('--seq-len', '128'));
  const runs = [];
  for (const n of layerCounts) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-evalmem-'));
    try {
      writeSyntheticCheckpoint(path.join(dir, 'm'), { shape: 'tinyllama', layers: n, seed: 0 });
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', path.join(dir, 'm'), String(windows), String(seqLen)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      runs.push(JSON.parse(out.trim().split('\n').pop()!));
      process.stderr.write(`eval-memory: ${JSON.stringify(runs[runs.length - 1])}\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${JSON.stringify({ ...provenance(), shape: 'tinyllama', windows, seqLen, runs })}\n`);
}

if (isMain(import.meta.url)) await main();
