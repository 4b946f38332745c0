// The matrix function of the FFN score's eigen term on the GPU: spectralSigmoid of one n × n
// positive semi-definite matrix shaped like C_Y (a wide spread of eigenvalues), wall time from the
// call to the device being idle.
//
//   npm run build && node dist/bench/matfun.js [--n 2048] [--reps 5] [--spread 1e4]
//
// The matrix is A = G·Gᵀ with G an n × n seeded Gaussian whose column j is scaled by
// spread^(j/(n−1) − 1/2): its eigenvalues spread over about spread² (C_Y of TinyLlama's layers is
// 2048 × 2048). One untimed call compiles the pipelines; each timed call includes the matrix
// function's read of A's trace and norm (one round trip), as a pruning run pays it.
//
// Progress goes to stderr; the last stdout line is JSON: provenance, the adapter, n, spread, the
// runs (ms) and their median.
import { GpuBackend } from '../src/kernels/gpu/index.js';
import { intFlag, isMain, log, median, normalSampler, numFlag, parseFlags, provenance } from './common.js';

/** G·Gᵀ on the device, G's columns scaled across `spread`. */
function spreadMatrix(b: GpuBackend, n: number, spread: number) {
  const next = normalSampler(7);
  const g = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) g[i * n + j] = next() * spread ** (n > 1 ? j / (n - 1) - 0.5 : 0);
  }
  const gt = b.upload(g, [n, n]);
  const a = b.symmetricLinear(gt, gt);
  b.free(gt);
  return a;
}

async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, { n: 'string', reps: 'string', spread: 'string' });
  const n = intFlag(f.n, 'n', 2048);
  const reps = intFlag(f.reps, 'reps', 5);
  const spread = numFlag(f.spread, 'spread', 1e4);
  if (!(spread >= 1)) throw new Error(`--spread must be ≥ 1, got ${spread}`);
  const b = await GpuBackend.create();
  try {
    const a = spreadMatrix(b, n, spread);
    b.free(await b.spectralSigmoid(a)); // compiles the pipelines
    await b.sync();
    const runs: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const z = await b.spectralSigmoid(a);
      await b.sync();
      runs.push(Number((performance.now() - t0).toFixed(1)));
      b.free(z);
      log(`rep ${r + 1}/${reps}: ${runs[r]} ms`);
    }
    b.free(a);
    process.stdout.write(`${JSON.stringify({ ...provenance(), device: b.deviceName, n, spread, runs, median: Number(median(runs).toFixed(1)) })}\n`);
  } finally {
    b.dispose();
  }
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    log(`bench:matfun: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
